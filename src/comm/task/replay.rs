//! Replaying a local task event on another clone's state (`comm sync`,
//! `comm repair`): each action is built again from what it meant, on the
//! state it now lands on, never by writing back the task files it wrote
//! where it was made (which would undo whatever the other clone did to
//! those tasks meanwhile).
//!
//! - `claim`, `done`, `failed`, `reopen`: the same command again (a claim
//!   keeps the time it started); a claim another clone won, or a task
//!   finished meanwhile, is an error.
//! - `add`: the task as written, unless its id was taken meanwhile.
//! - `dep`: the edges it added, added to the task as it now is.
//! - `lapse`: only while the claim that ran out still holds the task, and
//!   its holder did nothing on the other clone (activity the lapsing clone
//!   could not see; a later `status` lapses it again if it stays quiet).
//! - `reassign`, `edit`, `cancel` (the human's): the same command again
//!   on the task as it now is (an edit: the fields it changed).
//! - `import`: the imported tasks that no other clone changed since the
//!   clones parted; the others are kept as that clone left them, and the
//!   event says so.

use std::collections::BTreeSet;

use git2::Oid;

use super::cache::Stamp;
use super::deps::dep_change;
use super::lapse::replay_lapse;
use super::ops::{claim_change, finish_change, reopen_change};
use super::{board, get, Status, Task};
use crate::comm::replay::{OtherSide, Redone};
use crate::comm::{CommError, Event, Snapshot};
use crate::git::TreeEdit;

/// Re-derives a replayed task event (written by `commit` at `time`) on a
/// new state; `other` is what the other clone did since the clones parted.
/// `None` when it has become a no-op; an error when it no longer holds.
pub fn revalidate(
    snapshot: &Snapshot,
    event: &Event,
    commit: Oid,
    time: i64,
    other: &OtherSide,
) -> Result<Option<Redone>, CommError> {
    let id = event.field("Task").unwrap_or_default();
    let by = event.from.as_str();
    let rebuilt = match event.field("Action").unwrap_or_default() {
        "claim" => {
            // The claim started when it was made, not when it is replayed.
            let at = written(snapshot, commit, id)?.and_then(|t| t.claimed_at);
            let stamp = Stamp::of(snapshot)?;
            let at = at.unwrap_or(time);
            Some(claim_change(snapshot, stamp, by, id, None, at, None)?.change)
        }
        "done" => Some(finish_change(snapshot, by, id, time, Status::Done, None)?.0),
        "failed" => {
            let reason = event.body.trim();
            Some(finish_change(snapshot, by, id, time, Status::Failed, Some(reason))?.0)
        }
        "reopen" => Some(reopen_change(snapshot, by, id, time)?.0),
        "dep" => {
            let added = added_deps(snapshot, id, commit)?;
            let at = written(snapshot, commit, id)?.map_or(time, |t| t.updated);
            dep_change(snapshot, by, id, &added, at)?.map(|(change, _)| change)
        }
        "lapse" => replay_lapse(snapshot, event, commit, other)?,
        "reassign" | "edit" | "cancel" => {
            Some(super::steer::replay(snapshot, event, commit, time)?)
        }
        "add" => return replay_add(snapshot, event, commit, id).map(Some),
        "import" => return replay_import(snapshot, event, commit, &other.contested),
        other => {
            return Err(CommError::invalid(
                format!("`{other}` is no task action comm-node writes"),
                "comm-node verify names the commit; the human removes it",
            ))
        }
    };
    Ok(rebuilt.map(|change| {
        let mut replayed = change.event;
        replayed.id = event.id.clone();
        Redone::whole(replayed, change.edits)
    }))
}

/// Task `id` as `commit` wrote it.
fn written(snapshot: &Snapshot, commit: Oid, id: &str) -> Result<Option<Task>, CommError> {
    get(&Snapshot::at(snapshot.repo(), Some(commit))?, id)
}

/// The dependencies the `dep` event of `commit` added to task `id`.
fn added_deps(snapshot: &Snapshot, id: &str, commit: Oid) -> Result<Vec<String>, CommError> {
    let repo = snapshot.repo();
    let parent = repo.parent_ids(commit)?.first().copied();
    let before = get(&Snapshot::at(repo, parent)?, id)?.map(|t| t.deps);
    let before = before.unwrap_or_default();
    let after = written(snapshot, commit, id)?.map(|t| t.deps);
    Ok(after
        .unwrap_or_default()
        .into_iter()
        .filter(|d| !before.contains(d))
        .collect())
}

/// A new task lands as written, unless a task took its id meanwhile.
fn replay_add(
    snapshot: &Snapshot,
    event: &Event,
    commit: Oid,
    id: &str,
) -> Result<Redone, CommError> {
    if get(snapshot, id)?.is_some() {
        return Err(CommError::Refused {
            message: format!("task id {id} was taken by another clone"),
            hint: "add the task again (new ids are long enough not to collide)".into(),
        });
    }
    let edits = crate::comm::shard::edits_of(snapshot.repo(), commit)?;
    Ok(Redone::whole(event.clone(), edits))
}

/// An import lands for the tasks no other clone changed since the clones
/// parted; the others keep that clone's version and are named.
fn replay_import(
    snapshot: &Snapshot,
    event: &Event,
    commit: Oid,
    contested: &BTreeSet<String>,
) -> Result<Option<Redone>, CommError> {
    let mut board = board(snapshot)?;
    let (mut edits, mut kept) = (Vec::new(), Vec::new());
    for edit in crate::comm::shard::edits_of(snapshot.repo(), commit)? {
        let TreeEdit::Put { path, bytes } = &edit else {
            continue;
        };
        let task = Task::from_yaml(path, bytes)?;
        if contested.contains(path) {
            kept.push(task.id);
        } else if snapshot.read(path)?.as_deref() != Some(bytes.as_slice()) {
            board.put(task);
            edits.push(edit);
        }
    }
    if let Some(cycle) = board.find_cycle() {
        return Err(CommError::invalid(
            format!(
                "on the tasks as another clone left them, the import makes a dependency cycle: {}",
                cycle.join(" → ")
            ),
            "import the file again once it has no cycle with the tasks on comm",
        ));
    }
    let left_out = (!kept.is_empty()).then(|| {
        format!(
            "tasks {} changed on another clone since this import, so they were kept as that clone left them (import them again to overwrite)",
            kept.join(", ")
        )
    });
    if edits.is_empty() {
        return match left_out {
            Some(why) => Err(CommError::Refused {
                message: why,
                hint: "comm-node task show ID shows each task as it now is".into(),
            }),
            None => Ok(None),
        };
    }
    let mut replayed = event.clone();
    if left_out.is_some() {
        replayed.subject = format!(
            "{} ({} kept as another clone left them)",
            event.subject,
            kept.join(", ")
        );
    }
    Ok(Some(Redone {
        event: replayed,
        edits,
        left_out,
    }))
}
