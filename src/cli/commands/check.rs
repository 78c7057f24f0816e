//! `comm-node check`: the boundary check of a change, a range or the tree.

use comm_node::boundary::check::{Report, Request};
use comm_node::boundary::commits::Checker;
use comm_node::boundary::reserved::check_reserved;
use comm_node::boundary::rules::Violation;
use comm_node::boundary::sarif;
use comm_node::comm::{self, reservation};
use comm_node::config::Loaded;
use comm_node::git::{FileSnapshot, Repo};

use crate::cli::{ui, CliError, Ctx, Kind};

/// Check declared boundaries: changed files must lie in the acting domain's
/// scope (or `shared`); an import of another domain's file needs
/// `may_import` and must hit that domain's `exports`; `rules.forbid` edges
/// and `deny_external` packages are refused; with --staged, so are files
/// under another domain's live exclusive reservation (rule `reservation`).
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
        ui::print(&render(&report))?;
    }
    if report.has_errors() {
        return Err(CliError::new(Kind::Refused, "boundary check failed").quiet());
    }
    Ok(())
}

/// Runs the boundary check in `mode` for `actor`.
pub fn run_check(
    repo: &Repo,
    loaded: &Loaded,
    mode: &Mode,
    actor: Option<&str>,
) -> Result<Report, CliError> {
    // Every staged path, deletions included (for the reservation rule).
    let staged: Vec<String>;
    let (snapshot, changes) = match mode {
        Mode::Staged { .. } => {
            let (snapshot, all) = repo.snapshot_staged()?;
            let written: Vec<String> = all
                .iter()
                .filter(|(_, blob)| blob.is_some())
                .map(|(path, _)| path.clone())
                .collect();
            staged = all.into_iter().map(|(path, _)| path).collect();
            (snapshot, written)
        }
        Mode::Range(range) => {
            let (a, b) = range.split_once("..").ok_or_else(|| {
                CliError::new(Kind::Usage, format!("`{range}` is not a range"))
                    .hint("write A..B, e.g. main..domain/web")
            })?;
            let a = repo
                .resolve_commit(a)
                .map_err(|e| CliError::new(Kind::Usage, e))?;
            let b = repo
                .resolve_commit(b)
                .map_err(|e| CliError::new(Kind::Usage, e))?;
            return Ok(Checker::new(&loaded.config).check_range(repo, a, b, actor)?);
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
                changes: Vec::new(),
                actor: None,
            };
            return checked(repo, loaded, &snapshot, &request);
        }
    };
    let scope_actor = match mode {
        Mode::Staged { with_scope: false } => None,
        _ => actor,
    };
    let request = Request {
        files: changes.clone(),
        changes,
        actor: scope_actor,
    };
    let mut report = checked(repo, loaded, &snapshot, &request)?;
    if let Mode::Staged { with_scope: true } = mode {
        report.violations.extend(reserved(repo, actor, &staged)?);
    }
    Ok(report)
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

/// Runs the check with the repository's import cache.
fn checked(
    repo: &Repo,
    loaded: &Loaded,
    snapshot: &FileSnapshot,
    request: &Request,
) -> Result<Report, CliError> {
    Ok(Checker::new(&loaded.config).check_cached(repo, snapshot, request)?)
}

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
        "{errors} violation{} in {} file{} checked",
        if errors == 1 { "" } else { "s" },
        report.files_checked,
        if report.files_checked == 1 { "" } else { "s" }
    ));
    if !report.unresolved.is_empty() {
        out.push_str(&format!(
            "; {} unresolved local imports (see --json)",
            report.unresolved.len()
        ));
    }
    out.push('\n');
    out
}
