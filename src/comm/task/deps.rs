//! `task dep`: making a task wait for others. The change is built from the
//! state it lands on (the task as it is there, the new edges added to it),
//! so a replayed dependency never undoes what another clone did to the task.

use super::ops::{finish, put, task_event};
use super::{require, validate_id, Outcome, Task};
use crate::comm::{append, Change, CommError, Snapshot};
use crate::git::Repo;

/// Adds dependencies to an existing task; refuses an edge that would close a cycle.
pub fn dep_add(
    repo: &Repo,
    by: &str,
    id: &str,
    deps: &[String],
    now: i64,
) -> Result<Outcome, CommError> {
    validate_id(id)?;
    for dep in deps {
        validate_id(dep)?;
    }
    let mut changed = None;
    let appended = append(repo, |snapshot| {
        Ok(
            dep_change(snapshot, by, id, deps, now)?.map(|(change, task)| {
                changed = Some(task);
                change
            }),
        )
    })?;
    match appended {
        Some(a) => finish(Some(a), changed),
        None => Err(CommError::Refused {
            message: format!("task {id} already waits for {}", deps.join(", ")),
            hint: format!("comm-node task show {id} lists what it waits for"),
        }),
    }
}

/// The change making task `id` wait for `deps` on `snapshot`: the task as
/// it is there with the edges added; `None` when it already waits for all.
pub(super) fn dep_change(
    snapshot: &Snapshot,
    by: &str,
    id: &str,
    deps: &[String],
    now: i64,
) -> Result<Option<(Change, Task)>, CommError> {
    let mut task = require(snapshot, id)?;
    let board = super::board(snapshot)?;
    for dep in deps {
        require(snapshot, dep)?;
        if let Some(path) = board.path(dep, id) {
            return Err(cycle_error(id, &path));
        }
    }
    let before = task.deps.len();
    task.deps.extend(deps.iter().cloned());
    task.deps.sort();
    task.deps.dedup();
    if task.deps.len() == before {
        return Ok(None);
    }
    task.updated = now;
    let event = task_event(
        by,
        &task,
        "dep",
        format!("task {id} now waits for {}", deps.join(", ")),
    );
    let edits = vec![put(&task)];
    Ok(Some((Change { event, edits }, task)))
}

/// The error for an edge `id → path[0]` that would close the cycle `path`.
fn cycle_error(id: &str, path: &[String]) -> CommError {
    let mut cycle = vec![id.to_owned()];
    cycle.extend(path.iter().cloned());
    CommError::invalid(
        format!("that would make a dependency cycle: {}", cycle.join(" → ")),
        "a task cannot wait for itself, directly or through others",
    )
}
