//! `comm-node update` (alias `catch-up`): bring main into this domain's
//! branch, with git's own merge or rebase, stopping on conflicts.

use std::path::PathBuf;

use comm_node::comm::HUMAN;
use comm_node::config::Config;
use comm_node::git::{self, CatchUp, InProgress, Method, Repo};
use serde::Serialize;

use crate::cli::{ui, CliError, Ctx, Kind};

/// Catch this domain's branch up with main before the next change.
///
/// `comm-node catch-up` is the same command. Run it in the domain's worktree (or pass --as DOMAIN) whenever main has
/// moved: `status` shows the branch behind, and every landing tells the
/// other domains to. It runs `git merge --no-edit MAIN` in the worktree (a
/// fast-forward when the branch has nothing of its own), or with --rebase
/// `git rebase MAIN`. The worktree must be clean and no merge or rebase
/// may be in progress there.
///
/// On conflicts it stops, lists the files and exits 1, leaving the merge
/// (or rebase) in progress for you to finish: edit each file, `git add`
/// it, then `git commit` (`git rebase --continue`). The pre-commit hook
/// checks only what you changed relative to both sides, not the files main
/// brought in. `git merge --abort` (`git rebase --abort`) goes back. With
/// --abort-on-conflict nothing is left half-done: the conflicts are listed
/// and the branch and files are exactly as before.
///
/// Exit codes: 0 up to date or caught up; 1 stopped on conflicts, or
/// refused (uncommitted changes, an operation in progress); 2 not acting
/// for a domain.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Typical use, after `queue: rejected ...: conflicts in README.md`:
  comm-node update               # merge main into this domain's branch
  ... edit the files listed, git add them ...
  git commit --no-edit           # finishes the merge
  comm-node submit               # queue the caught-up branch again"
)]
pub struct Args {
    /// Rebase the branch's own commits onto main instead of merging main
    /// (rewrites them: do not use on commits other domains merged).
    #[arg(long)]
    rebase: bool,
    /// On conflicts, abort the merge or rebase after listing the files,
    /// leaving the branch and the worktree as they were.
    #[arg(long)]
    abort_on_conflict: bool,
}

/// `update --json`.
#[derive(Debug, Serialize)]
struct Output {
    domain: String,
    branch: String,
    main: String,
    method: &'static str,
    /// Commits of main the branch lacked before the update.
    behind: usize,
    /// `up-to-date`, `caught-up`, `conflicts` (left in progress) or
    /// `aborted` (conflicts, undone).
    outcome: &'static str,
    /// The branch head afterwards.
    head: String,
    /// The branch had nothing of its own: it now points at main's tip.
    fast_forward: bool,
    /// Files with unresolved conflicts.
    conflicts: Vec<String>,
    /// What git said when it stopped.
    #[serde(skip_serializing_if = "String::is_empty")]
    git_said: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let domain = ctx.actor(&repo)?;
    if domain == HUMAN || !loaded.config.domains.contains_key(&domain) {
        return Err(
            CliError::new(Kind::Usage, "update catches a domain's branch up")
                .hint("run it in a domain worktree, or pass --as DOMAIN"),
        );
    }
    let main = loaded.config.main.clone();
    let branch = Config::domain_branch(&domain);
    let worktree = worktree_of(&repo, &domain)?;
    let here = Repo::open(&worktree)?;
    refuse_unfinished(&here, &worktree)?;
    if Repo::is_dirty(&worktree)? {
        return Err(CliError::new(
            Kind::Refused,
            format!("{} has uncommitted changes", worktree.display()),
        )
        .hint("commit them (or git stash), then run comm-node update again"));
    }
    let tip = existing_tip(
        &repo,
        &branch,
        "run comm-node init in the main checkout to create it",
    )?;
    let main_tip = existing_tip(&repo, &main, &format!("commit once on {main} first"))?;
    let behind = repo.ahead_behind(tip, main_tip)?.behind;
    let method = if args.rebase {
        Method::Rebase
    } else {
        Method::Merge
    };
    let mut out = Output {
        domain,
        branch,
        main,
        method: if args.rebase { "rebase" } else { "merge" },
        behind,
        outcome: "up-to-date",
        head: tip.to_string(),
        fast_forward: false,
        conflicts: Vec::new(),
        git_said: String::new(),
    };
    if behind == 0 {
        return report(ctx, &out);
    }
    match git::catch_up(&worktree, &out.main, method)? {
        CatchUp::Done { head } => {
            out.outcome = "caught-up";
            out.head = head.to_string();
            out.fast_forward = head == main_tip;
            report(ctx, &out)
        }
        CatchUp::Stopped { conflicts, said } => {
            out.conflicts = conflicts;
            out.git_said = said;
            out.outcome = "conflicts";
            if args.abort_on_conflict {
                let op = here.in_progress().unwrap_or(InProgress::Merge);
                git::abort_operation(&worktree, op)?;
                out.outcome = "aborted";
            }
            stopped(ctx, &out)
        }
    }
}

/// The present worktree of `domain`.
fn worktree_of(repo: &Repo, domain: &str) -> Result<PathBuf, CliError> {
    repo.find_worktree(domain)?
        .filter(|w| w.present)
        .map(|w| w.path)
        .ok_or_else(|| {
            CliError::new(
                Kind::Usage,
                format!("domain {domain} has no worktree in this repository"),
            )
            .hint("run comm-node init in the main checkout to create it")
        })
}

/// Refuses when the worktree is in the middle of a merge, rebase or the
/// like (shared with `submit`).
pub(crate) fn refuse_unfinished(here: &Repo, worktree: &std::path::Path) -> Result<(), CliError> {
    let Some(op) = here.in_progress() else {
        return Ok(());
    };
    let name = op.name();
    Err(CliError::new(
        Kind::Refused,
        format!("a {name} is in progress in {}", worktree.display()),
    )
    .hint(format!(
        "finish it (resolve, git add, then git commit or git {name} --continue) or undo it (git {name} --abort) first"
    )))
}

/// The tip of `branch`, which must exist (`hint` says how to make it).
fn existing_tip(repo: &Repo, branch: &str, hint: &str) -> Result<git2::Oid, CliError> {
    repo.branch_tip(branch)?.ok_or_else(|| {
        CliError::new(Kind::Usage, format!("branch {branch} does not exist")).hint(hint)
    })
}

fn report(ctx: &Ctx, out: &Output) -> Result<(), CliError> {
    if ctx.json {
        return Ok(ui::print_json(out)?);
    }
    let short = &out.head[..7];
    let text = match out.outcome {
        "up-to-date" => format!(
            "{} already contains {}: nothing to catch up (at {short})\n",
            out.branch, out.main
        ),
        _ => format!(
            "caught {} up with {} by {} ({} commit{} of {}), now at {short}\nnext: run your tests; submit when your work is ready\n",
            out.branch,
            out.main,
            match (out.fast_forward, out.method) {
                (true, _) => "fast-forward",
                (false, "rebase") => "rebase",
                (false, _) => "merge",
            },
            out.behind,
            if out.behind == 1 { "" } else { "s" },
            out.main
        ),
    };
    Ok(ui::print(&text)?)
}

/// Conflicts: listed, exit 1, with how to finish or undo.
fn stopped(ctx: &Ctx, out: &Output) -> Result<(), CliError> {
    let (what, cont) = match out.method {
        "rebase" => ("rebase", "git rebase --continue"),
        _ => ("merge", "git commit --no-edit"),
    };
    if ctx.json {
        ui::print_json(out)?;
        return Err(CliError::new(Kind::Refused, "conflicts").quiet());
    }
    let mut err = CliError::new(
        Kind::Refused,
        format!(
            "catching {} up with {} stopped on conflicts in {} file{}",
            out.branch,
            out.main,
            out.conflicts.len(),
            if out.conflicts.len() == 1 { "" } else { "s" }
        ),
    );
    err.causes = out
        .conflicts
        .iter()
        .map(|p| format!("conflict: {p}"))
        .collect();
    if out.conflicts.is_empty() && !out.git_said.is_empty() {
        err.causes.push(out.git_said.clone());
    }
    if out.outcome == "aborted" {
        return Err(err.hint(format!(
            "the {what} was aborted: nothing changed; run comm-node update without --abort-on-conflict to resolve them"
        )));
    }
    Err(err
        .hint(format!(
            "the {what} is left in progress: edit each file listed, git add it, then {cont} (the hook checks only your own changes)"
        ))
        .hint(format!("to go back instead: git {what} --abort"))
        .hint("then comm-node submit"))
}
