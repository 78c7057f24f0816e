//! `comm-node check`: the boundary check of a change, a range or the tree.

use comm_node::boundary::catchup;
use comm_node::boundary::changes::Changes;
use comm_node::boundary::check::{Report, Request};
use comm_node::boundary::commits::{domain_of_rev, Checker};
use comm_node::boundary::coverage::coverage;
use comm_node::boundary::reserved::check_reserved;
use comm_node::boundary::rules::Violation;
use comm_node::boundary::sarif;
use comm_node::comm::{self, reservation};
use comm_node::config::Loaded;
use comm_node::git::{Repo, StagedChange};

use crate::cli::{ui, CliError, Ctx, Kind};

/// Check declared boundaries: changed paths (deleted and renamed-away ones
/// too) must lie in the acting domain's scope (or `shared`), and a
/// committed symlink must not lead out of it; an import of another
/// domain's file (through a symlink too) needs `may_import` and must hit
/// that domain's `exports`; `rules.forbid` edges and `deny_external`
/// packages are refused; with --staged, so are files under another
/// domain's live exclusive reservation (rule `reservation`).
///
/// The acting domain is the worktree's, or --as; for --range A..B with
/// neither, B's domain when B is a `domain/<name>` branch, else each commit
/// acts for the domain owning its files (one commit changing the files of
/// two domains is refused). The report names the rules that ran.
///
/// With --staged during a merge of main (a catch-up stopped on
/// conflicts), the scope and reservation rules see only the paths whose
/// staged content differs from both parents; a merge commit in a --range
/// is likewise judged only by what it changes relative to all its parents.
///
/// Reads what git records (the index, or commits), never the work tree.
/// Exit 1 when a rule is broken. The pre-commit hook runs `check --staged`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check the staged change (the default).
    #[arg(long, conflicts_with_all = ["range", "all"])]
    staged: bool,
    /// Check the files changed in a commit range, e.g. main..domain/web.
    #[arg(long, value_name = "A..B", conflicts_with = "all")]
    range: Option<String>,
    /// Check every file at HEAD.
    #[arg(long)]
    all: bool,
    /// Print SARIF 2.1.0 (for GitHub code scanning).
    #[arg(long, conflicts_with = "json")]
    sarif: bool,
}

/// Which files a check looks at.
pub enum Mode<'a> {
    Staged { with_scope: bool },
    Range(&'a str),
    All,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let actor = ctx.optional_actor(&repo, &loaded)?;
    let mode = match (&args.range, args.all) {
        (Some(range), _) => Mode::Range(range),
        (None, true) => Mode::All,
        (None, false) => Mode::Staged { with_scope: true },
    };
    let report = run_check(&repo, &loaded, &mode, actor.as_deref())?;
    if args.sarif {
        ui::print_json(&sarif::to_sarif(&report))?;
    } else if ctx.json {
        ui::print_json(&report)?;
    } else {
        let mut text = render(&report);
        if let Some(coverage) = &report.coverage {
            text.push_str(&coverage.render(&loaded.file.display().to_string()));
        }
        ui::print(&text)?;
    }
    if report.has_errors() {
        return Err(CliError::new(Kind::Refused, "boundary check failed").quiet());
    }
    Ok(())
}

/// Why pre-merge-commit checks no change rule: the merged commits are each
/// domain's own, checked by their hooks and again by the queue.
const MERGE_REASON: &str = "pre-merge-commit checks the imports a merge brings in";

/// Runs the boundary check in `mode` for `actor`.
pub fn run_check(
    repo: &Repo,
    loaded: &Loaded,
    mode: &Mode,
    actor: Option<&str>,
) -> Result<Report, CliError> {
    // The rules compile their globs: only the mode that runs builds them.
    let checker = || Checker::new(&loaded.config);
    match mode {
        Mode::Staged { with_scope } => Ok(run_staged_check(repo, loaded, *with_scope, actor)?.0),
        Mode::Range(range) => {
            let (a, b) = range.split_once("..").ok_or_else(|| {
                CliError::new(Kind::Usage, format!("`{range}` is not a range")).hint(format!(
                    "write A..B, e.g. {}..domain/web",
                    loaded.config.main
                ))
            })?;
            let a = repo
                .resolve_commit(a)
                .map_err(|e| CliError::new(Kind::Usage, e))?;
            let b_rev = b;
            let b = repo
                .resolve_commit(b)
                .map_err(|e| CliError::new(Kind::Usage, e))?;
            let actor = actor.or_else(|| domain_of_rev(&loaded.config, b_rev));
            let mut report = checker().check_range(repo, a, b, actor)?;
            report.skipped("reservation", "checked for --staged only");
            Ok(report)
        }
        Mode::All => {
            let head = repo.head_commit().ok_or_else(|| {
                CliError::new(Kind::Usage, "HEAD has no commit yet")
                    .hint("commit first, or use --staged")
            })?;
            let snapshot = repo.snapshot_commit(head)?;
            let files = snapshot.paths().iter().cloned().collect();
            let request = Request {
                files,
                changes: Changes::Unchecked("--all checks the tree, not a change"),
            };
            let mut report = checker().check_cached(repo, &snapshot, &request, None)?;
            report.skipped("reservation", "checked for --staged only");
            report.coverage = Some(coverage(loaded, snapshot.paths()));
            Ok(report)
        }
    }
}

/// The check of the staged change (with the change rules when
/// `with_scope`, i.e. for a commit, not a merge), and every staged change
/// it read, deletions included: the pre-commit hook looks at them again
/// without a second read of the index.
pub fn run_staged_check(
    repo: &Repo,
    loaded: &Loaded,
    with_scope: bool,
    actor: Option<&str>,
) -> Result<(Report, Vec<StagedChange>), CliError> {
    let checker = Checker::new(&loaded.config);
    // The resolver's scan of the snapshot runs during the diff.
    let (snapshot, all, layout) = repo.snapshot_staged(|s| checker.layout(s))?;
    let written: Vec<String> = all
        .iter()
        .filter(|(_, blob)| blob.is_some())
        .map(|(path, _)| path.clone())
        .collect();
    // During a catch-up merge, what main brought in is not the domain's
    // change: only its own edits meet the change rules.
    let own = match with_scope {
        true => catchup::own_changes(repo, &loaded.config.main, &all)?,
        false => None,
    };
    // Every staged path, deletions included (for the scope and reservation rules).
    let staged: Vec<String> = own
        .as_ref()
        .unwrap_or(&all)
        .iter()
        .map(|(path, _)| path.clone())
        .collect();
    let changes = match actor {
        Some(actor) if with_scope => Changes::By {
            actor,
            paths: staged.clone(),
        },
        Some(_) => Changes::Unchecked(MERGE_REASON),
        None => Changes::Unchecked("no domain is acting (use --as DOMAIN)"),
    };
    let request = Request {
        files: written,
        changes,
    };
    let mut report = checker.check_cached(repo, &snapshot, &request, Some(layout))?;
    if with_scope {
        report.violations.extend(reserved(repo, actor, &staged)?);
        report.ran("reservation");
    } else {
        report.skipped("reservation", MERGE_REASON);
    }
    Ok((report, all))
}

/// The `staged` paths under another domain's live exclusive reservation.
fn reserved(
    repo: &Repo,
    actor: Option<&str>,
    staged: &[String],
) -> Result<Vec<Violation>, CliError> {
    let now = comm_node::clock::now();
    let live = reservation::live(&comm::Snapshot::take(repo)?, now)?;
    Ok(check_reserved(&live, actor, staged, now))
}

/// How many unresolved imports the text report shows.
const UNRESOLVED_SHOWN: usize = 5;

/// Violations as `path:line:col: rule: message` with a hint each.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for v in &report.violations {
        let level = if v.severity == "error" {
            ""
        } else {
            "warning: "
        };
        out.push_str(&format!(
            "{}:{}:{}: {level}{}: {}\n",
            v.file, v.line, v.column, v.rule, v.message
        ));
        out.push_str(&format!("    hint: {}\n", v.hint));
    }
    let errors = report
        .violations
        .iter()
        .filter(|v| v.severity == "error")
        .count();
    out.push_str(&format!(
        "{} in {} checked",
        comm_node::text::count(errors, "violation"),
        comm_node::text::count(report.files_checked, "file")
    ));
    if !report.unresolved.is_empty() {
        out.push_str(&format!(
            "; {}",
            comm_node::text::count(report.unresolved.len(), "unresolved local import")
        ));
    }
    for u in report.unresolved.iter().take(UNRESOLVED_SHOWN) {
        out.push_str(&format!(
            "\n{}:{}:{}: unresolved: `{}` leads to nothing in the repository",
            u.file, u.line, u.column, u.import
        ));
        if let Some(hint) = &u.hint {
            out.push_str(&format!("\n    hint: {hint}"));
        }
    }
    if report.unresolved.len() > UNRESOLVED_SHOWN {
        out.push_str(&format!(
            "\n... and {} more (--json lists them all)",
            report.unresolved.len() - UNRESOLVED_SHOWN
        ));
    }
    for file in &report.imports_may_be_missing {
        out.push_str(&format!(
            "\nwarning: {file} could not be fully parsed: imports may be missing"
        ));
    }
    out.push_str(&format!("\nrules checked: {}\n", report.rules.join(", ")));
    let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
    for n in &report.not_checked {
        match reasons.iter_mut().find(|(r, _)| *r == n.reason) {
            Some((_, rules)) => rules.push(n.rule),
            None => reasons.push((&n.reason, vec![n.rule])),
        }
    }
    for (reason, rules) in reasons {
        out.push_str(&format!("not checked: {} ({reason})\n", rules.join(", ")));
    }
    out
}
