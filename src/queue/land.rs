//! Moving `main` to a tested commit: a compare-and-swap from the tip the
//! batch was built on (never before the tested commit exists, never over a
//! tip someone else wrote), then the checkouts of `main` follow: a clean
//! one is updated like `git read-tree -m -u OLD NEW`, a dirty one is left
//! alone and reported, so no index silently goes stale.

use std::path::PathBuf;

use git2::Oid;
use serde::Serialize;

use super::QueueError;
use crate::comm::CommError;
use crate::git::{CasOutcome, Follow, Repo};

/// The reflog message of a landing, followed by the landed commit.
const LAND_LOG: &str = "comm-node queue: land ";

/// What happened to one checkout of `main` after it moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckoutNote {
    pub path: PathBuf,
    /// `updated`, `dirty` (left alone) or `failed` (left alone, git said why).
    pub state: &'static str,
    pub detail: String,
}

/// Moves `refs/heads/<branch>` from `old` to `new`. False when the branch
/// no longer points at `old` (someone else moved it: nothing changed).
pub fn move_branch(repo: &Repo, branch: &str, old: Oid, new: Oid) -> Result<bool, QueueError> {
    let name = format!("refs/heads/{branch}");
    let log = format!("{LAND_LOG}{new}");
    match repo.cas_ref(&name, Some(old), new, &log)? {
        CasOutcome::Updated => Ok(true),
        CasOutcome::Lost if repo.ref_tip(&name)? != Some(old) => Ok(false),
        CasOutcome::Lost => Err(CommError::Contention(1).into()),
    }
}

/// Brings every checkout of `branch` from `old` to `new` where that is safe.
pub fn follow_checkouts(
    repo: &Repo,
    branch: &str,
    old: Oid,
    new: Oid,
) -> Result<Vec<CheckoutNote>, QueueError> {
    let mut notes = Vec::new();
    for path in repo.checkouts_of(branch)? {
        let (state, detail) = match Repo::follow_move(&path, old, new)? {
            Follow::Current => continue,
            Follow::Updated => ("updated", format!("files and index now match {new}")),
            Follow::Dirty => (
                "dirty",
                format!(
                    "left alone: it has uncommitted changes, and its HEAD ({branch}) now \
                     points at {new}; run `git read-tree -m -u {old} {new}` there to catch up \
                     (it keeps your changes, or refuses if they touch landed files)"
                ),
            ),
            Follow::Failed(why) => ("failed", format!("left alone: {why}")),
        };
        notes.push(CheckoutNote {
            path,
            state,
            detail,
        });
    }
    Ok(notes)
}

/// Finishes the checkout updates of a landing that a killed run did not
/// get to: when the latest move of `branch` is a queue landing (per its
/// reflog) and it is still the tip, clean checkouts still at the old tip
/// are brought to it.
pub fn repair_checkouts(repo: &Repo, branch: &str) -> Result<Vec<CheckoutNote>, QueueError> {
    let name = format!("refs/heads/{branch}");
    let Some((old, new, message)) = repo.last_ref_move(&name)? else {
        return Ok(Vec::new());
    };
    if !message.starts_with(LAND_LOG) || old.is_zero() || repo.ref_tip(&name)? != Some(new) {
        return Ok(Vec::new());
    }
    let mut notes = follow_checkouts(repo, branch, old, new)?;
    notes.retain(|n| n.state == "updated");
    Ok(notes)
}
