//! The queue against a remote (`queue run --push REMOTE`, e.g. on CI).
//!
//! Before a batch: `comm` is synced (local submissions published), the
//! remote `main` is fetched and becomes the base (a local `main` behind it
//! fast-forwards; one with commits the remote lacks is an error, never
//! pushed untested), and missing candidate heads are fetched from their
//! domain branches. After it: the new `main` and the decisions (built on
//! the remote `comm` tip) go in one `git push --atomic`, never forced. A
//! rejected push is retried after a fetch: when only `comm` moved the
//! decisions are rebuilt on its new tip; when `main` moved the batch is
//! redone, since its tested commit no longer sits on the real `main`. The
//! local refs follow only once the push succeeded.

use git2::Oid;

use super::decision::{record_chain, Decision};
use super::land::{follow_checkouts, move_branch};
use super::report::RunReport;
use super::workspace::Workspace;
use super::{Entry, QueueError};
use crate::comm::{self, CommError, COMM_REF};
use crate::config::Config;
use crate::git::{CasOutcome, PushOutcome, Repo};
use crate::retry::backoff;

/// Rejected pushes before giving up on a remote that keeps moving.
const MAX_ROUNDS: usize = 50;

fn comm_branch() -> &'static str {
    COMM_REF.trim_start_matches("refs/heads/")
}

/// Syncs `comm`, fetches `main` and brings the local `main` to it; returns
/// the base to build on (the remote's `main`).
pub fn prepare(
    repo: &Repo,
    config: &Config,
    workspace: &Workspace,
    remote: &str,
    report: &mut RunReport,
) -> Result<Oid, QueueError> {
    comm::sync(repo, remote)?;
    let main = &config.main;
    let theirs = repo
        .fetch_branch(remote, main)?
        .ok_or_else(|| QueueError::NoMain(format!("{remote}/{main}")))?;
    match repo.branch_tip(main)? {
        None => {
            repo.cas_ref(
                &format!("refs/heads/{main}"),
                None,
                theirs,
                "comm-node queue: fetch",
            )?;
        }
        Some(ours) if ours == theirs => {}
        Some(ours) if repo.is_ancestor(ours, theirs)? => {
            if move_branch(repo, main, ours, theirs)? {
                report
                    .checkouts
                    .extend(follow_checkouts(repo, workspace, main, ours, theirs)?);
            }
        }
        Some(ours) => {
            return Err(QueueError::LocalMain {
                branch: main.clone(),
                local: ours,
                remote: format!("{remote}/{main}"),
            })
        }
    }
    Ok(theirs)
}

/// Fetches the domain branch of every entry whose head is not here yet.
pub fn fetch_heads(repo: &Repo, remote: &str, entries: &[Entry]) -> Result<(), QueueError> {
    for entry in entries {
        if !repo.has_commit(entry.head_oid()?) {
            repo.fetch_branch(remote, &entry.branch)?;
        }
    }
    Ok(())
}

/// Pushes `land` to `main` and `decisions` to `comm` atomically, then
/// updates the local refs: whether the local `main` moved from `base` to
/// `land` (its checkouts are to follow). `None` when the remote `main`
/// moved away from `base` (the batch must be redone).
pub fn publish(
    repo: &Repo,
    remote: &str,
    main: &str,
    base: Oid,
    land: Option<Oid>,
    decisions: &[Decision],
    report: &mut RunReport,
) -> Result<Option<bool>, QueueError> {
    let tracking = format!("refs/remotes/{remote}/{}", comm_branch());
    for round in 0..MAX_ROUNDS {
        let theirs = repo.ref_tip(&tracking)?;
        let chain = record_chain(repo, theirs, decisions, main)?;
        let mut updates = Vec::new();
        if let Some(new) = land {
            updates.push((new, main));
        }
        if let Some(chain) = chain.filter(|c| Some(*c) != theirs) {
            updates.push((chain, comm_branch()));
        }
        if updates.is_empty() {
            return Ok(Some(false));
        }
        match repo.push_atomic(remote, &updates)? {
            PushOutcome::Pushed => {
                let moved = match land {
                    Some(new) => move_branch(repo, main, base, new)?,
                    None => false,
                };
                follow_comm(repo, remote, theirs, chain)?;
                return Ok(Some(moved));
            }
            PushOutcome::Rejected => {
                report.push_retries += 1;
                repo.fetch_branch(remote, comm_branch())?;
                if repo.fetch_branch(remote, main)? != Some(base) {
                    return Ok(None);
                }
                std::thread::sleep(backoff(round));
            }
        }
    }
    Err(CommError::Contention(MAX_ROUNDS).into())
}

/// Brings the local `comm` to the pushed tip: a fast-forward when it had
/// not moved since `was`, else a sync (which replays local events on top).
fn follow_comm(
    repo: &Repo,
    remote: &str,
    was: Option<Oid>,
    pushed: Option<Oid>,
) -> Result<(), QueueError> {
    let Some(pushed) = pushed else {
        return Ok(());
    };
    let local = repo.ref_tip(COMM_REF)?;
    if local == was
        && repo.cas_ref(COMM_REF, local, pushed, "comm-node queue: push")? == CasOutcome::Updated
    {
        return Ok(());
    }
    comm::sync(repo, remote)?;
    Ok(())
}
