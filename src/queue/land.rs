//! Moving `main` to a tested commit: a compare-and-swap from the tip the
//! batch was built on (never before the tested commit exists, never over a
//! tip someone else wrote), then the checkouts of `main` follow: a clean
//! one is updated like `git read-tree -m -u OLD NEW`, a dirty one is left
//! alone and reported, so no index silently goes stale. Each update is
//! recorded while it runs, so that the next run finishes one a killed run
//! left half done (see [`super::leftovers`]).

use std::path::{Path, PathBuf};

use git2::Oid;
use serde::Serialize;

use super::leftovers::{self, CheckoutUpdate, Group};
use super::workspace::Workspace;
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
    workspace: &Workspace,
    branch: &str,
    old: Oid,
    new: Oid,
) -> Result<Vec<CheckoutNote>, QueueError> {
    let mut notes = Vec::new();
    for path in repo.checkouts_of(branch)? {
        let follow = follow_one(workspace, &path, old, new)?;
        notes.extend(note_of(follow, path, branch, old, new));
    }
    Ok(notes)
}

/// Updates one checkout, with the update recorded (and the `git
/// read-tree` doing it) while it runs, for the next run to finish if this
/// one is killed.
fn follow_one(
    workspace: &Workspace,
    path: &Path,
    old: Oid,
    new: Oid,
) -> Result<Follow, QueueError> {
    let file = workspace.checkout_update(path);
    if file.exists() {
        return Ok(Follow::Failed(
            "a killed run's update of it is not finished (see its note); run \
             `comm-node queue run` again"
                .into(),
        ));
    }
    let dir = workspace.checkout_updates();
    std::fs::create_dir_all(&dir).map_err(|e| QueueError::io(&dir, e))?;
    let mut update = CheckoutUpdate::new(path, old, new);
    update.record(&file)?;
    let mut recorded = Ok(());
    let follow = Repo::follow_move(path, old, new, &mut |pid| {
        update.group = Some(Group::led_by(pid));
        recorded = update.record(&file);
    })?;
    recorded?;
    leftovers::remove(&file)?;
    Ok(follow)
}

/// What to tell about a checkout that followed (or not); nothing when it
/// was already current.
fn note_of(
    follow: Follow,
    path: PathBuf,
    branch: &str,
    old: Oid,
    new: Oid,
) -> Option<CheckoutNote> {
    let (state, detail) = match follow {
        Follow::Current => return None,
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
    Some(CheckoutNote {
        path,
        state,
        detail,
    })
}

/// Finishes what a killed run left undone in the checkouts of `branch`:
/// first a checkout update it was in the middle of (see `finish_interrupted`);
/// then, when the latest move of `branch` is a queue landing (per its
/// reflog) and it is still the tip, clean checkouts still at the old tip
/// are brought to it.
pub fn repair_checkouts(
    repo: &Repo,
    workspace: &Workspace,
    branch: &str,
) -> Result<Vec<CheckoutNote>, QueueError> {
    let mut notes = Vec::new();
    for file in leftovers::records(&workspace.checkout_updates())? {
        notes.extend(finish_interrupted(repo, workspace, &file, branch)?);
    }
    let name = format!("refs/heads/{branch}");
    let Some((old, new, message)) = repo.last_ref_move(&name)? else {
        return Ok(notes);
    };
    if !message.starts_with(LAND_LOG) || old.is_zero() || repo.ref_tip(&name)? != Some(new) {
        return Ok(notes);
    }
    let caught_up = follow_checkouts(repo, workspace, branch, old, new)?;
    notes.extend(caught_up.into_iter().filter(|n| n.state == "updated"));
    Ok(notes)
}

/// Finishes the checkout update a killed run recorded: its `git
/// read-tree` is killed if it still runs; the `index.lock` it left is
/// removed unless a live process holds it or a git process works in that
/// checkout (then nothing is touched and the record stays for the next
/// run); the files it had already changed go back to the old tip, and the
/// update is done again.
fn finish_interrupted(
    repo: &Repo,
    workspace: &Workspace,
    file: &Path,
    branch: &str,
) -> Result<Option<CheckoutNote>, QueueError> {
    let Some(update) = CheckoutUpdate::left_in(file)? else {
        leftovers::remove(file)?;
        return Ok(None);
    };
    let path = update.path.clone();
    let commits = update.commits();
    let Some((old, new)) =
        commits.filter(|_| repo.checkouts_of(branch).is_ok_and(|c| c.contains(&path)))
    else {
        leftovers::remove(file)?;
        return Ok(None);
    };
    let killed = format!("a killed queue run left its update from {old} to {new} half done");
    let lock = Repo::index_lock(&path)?;
    let had_lock = lock.exists();
    if had_lock {
        let holders = leftovers::holders(&lock, &path);
        if !holders.is_empty() {
            let pids: Vec<String> = holders.iter().map(u32::to_string).collect();
            return Ok(Some(CheckoutNote {
                path,
                state: "failed",
                detail: format!(
                    "left alone: {killed}, with {}, but process {} is working there; \
                     run `comm-node queue run` again once it is done",
                    lock.display(),
                    pids.join(", ")
                ),
            }));
        }
        std::fs::remove_file(&lock).map_err(|e| QueueError::io(&lock, e))?;
    }
    if let Err(why) = Repo::rewind_move(&path, old, new)? {
        leftovers::remove(file)?;
        return Ok(Some(CheckoutNote {
            path,
            state: "failed",
            detail: format!(
                "left alone: {killed}, and {why}; check `git status` there, then run \
                 `git read-tree -m -u {old} {new}` (or `git reset --keep {new}`)"
            ),
        }));
    }
    leftovers::remove(file)?;
    let follow = match follow_one(workspace, &path, old, new)? {
        Follow::Current if had_lock => Follow::Updated,
        follow => follow,
    };
    Ok(note_of(follow, path, branch, old, new).map(|mut note| {
        if note.state == "updated" {
            note.detail = format!(
                "finished the update that a killed queue run left half done: {}",
                note.detail
            );
        }
        note
    }))
}
