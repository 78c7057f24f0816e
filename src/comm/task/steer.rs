//! The human's task changes: `reassign` (move open or claimed work to
//! another domain, dropping the claim and the task's reservations),
//! `edit` (title, priority, domain, acceptance criteria, description) and
//! `cancel` (drop the work; a convoy no longer waits for it, dependents
//! stay blocked on it and are told). Each is refused to anyone but the
//! human, inside the compare-and-swap, and replayed at sync by intent: the
//! same command again on the task as it now is.

use git2::Oid;

use super::ops::{finish, put, task_event};
use super::{board, get, require, validate_id, Outcome, Status, Task, LOWEST_PRIORITY};
use crate::comm::steer::{known_domain, require_human};
use crate::comm::{append, limits, reservation, Change, CommError, Event, Snapshot, HUMAN};
use crate::git::{Repo, TreeEdit};

/// What `task edit` changes (`None`: left as it is).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskEdit {
    pub title: Option<String>,
    pub priority: Option<u8>,
    pub domain: Option<String>,
    /// Replaces every acceptance criterion.
    pub done_when: Option<Vec<String>>,
    pub description: Option<String>,
}

impl TaskEdit {
    fn is_empty(&self) -> bool {
        *self == TaskEdit::default()
    }

    /// What changed between two versions of a task (for replays).
    fn between(before: &Task, after: &Task) -> TaskEdit {
        fn changed<T: PartialEq + Clone>(b: &T, a: &T) -> Option<T> {
            (b != a).then(|| a.clone())
        }
        TaskEdit {
            title: changed(&before.title, &after.title),
            priority: changed(&before.priority, &after.priority),
            domain: changed(&before.domain, &after.domain).flatten(),
            done_when: changed(&before.done_when, &after.done_when),
            description: changed(&before.description, &after.description),
        }
    }

    /// The input checks that do not depend on the bus state.
    fn check(&self) -> Result<(), CommError> {
        if self.is_empty() {
            return Err(CommError::invalid(
                "nothing to edit",
                "pass --title, --priority, --domain, --done-when or --description",
            ));
        }
        if let Some(title) = &self.title {
            let t = title.trim();
            let max = limits::TASK_TITLE.max;
            if t.is_empty() || t.chars().count() > max || t.contains(char::is_control) {
                return Err(CommError::invalid(
                    format!("a task title is one line of 1 to {max} characters"),
                    "put details in --description",
                ));
            }
        }
        if self.priority.is_some_and(|p| p > LOWEST_PRIORITY) {
            return Err(CommError::invalid(
                format!("priority must be 0 (most urgent) to {LOWEST_PRIORITY}"),
                "the default is 2",
            ));
        }
        if let Some(items) = &self.done_when {
            limits::check(&limits::TASK_LIST, items.len())?;
            for item in items {
                limits::check(&limits::TASK_LINE, item.len())?;
                if item.trim().is_empty() || item.contains(['\n', '\r']) {
                    return Err(CommError::invalid(
                        "each --done-when is one non-empty line",
                        "repeat --done-when for several criteria",
                    ));
                }
            }
        }
        if let Some(d) = &self.description {
            limits::check(&limits::TASK_DESCRIPTION, d.len())?;
        }
        Ok(())
    }

    fn fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut note = |set: bool, name| {
            if set {
                out.push(name);
            }
        };
        note(self.title.is_some(), "title");
        note(self.priority.is_some(), "priority");
        note(self.domain.is_some(), "domain");
        note(self.done_when.is_some(), "done-when");
        note(self.description.is_some(), "description");
        out
    }
}

/// Runs one change of task `id` in the compare-and-swap loop.
fn change_task(
    repo: &Repo,
    id: &str,
    mut build: impl FnMut(&Snapshot) -> Result<(Change, Task), CommError>,
) -> Result<Outcome, CommError> {
    validate_id(id)?;
    let mut changed = None;
    let appended = append(repo, |snapshot| {
        let (change, task) = build(snapshot)?;
        changed = Some(task);
        Ok(Some(change))
    })?;
    finish(appended, changed)
}

/// Moves task `id` to domain `to` (the human only): open again, its claim
/// and its reservations dropped; the old and the new domain are told.
pub fn reassign(
    repo: &Repo,
    by: &str,
    id: &str,
    to: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<Outcome, CommError> {
    require_human(by, "reassign a task")?;
    change_task(repo, id, |s| reassign_change(s, by, id, to, reason, now))
}

pub(super) fn reassign_change(
    snapshot: &Snapshot,
    by: &str,
    id: &str,
    to: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<(Change, Task), CommError> {
    require_human(by, "reassign a task")?;
    known_domain(&snapshot.domains()?, to)?;
    let mut task = require(snapshot, id)?;
    if !matches!(task.status, Status::Open | Status::Claimed) {
        return Err(CommError::Refused {
            message: format!(
                "task {id} is {}; only open or claimed work is reassigned",
                task.status.as_str()
            ),
            hint: format!("reopen it first: comm-node task reopen {id}"),
        });
    }
    if task.status == Status::Open && task.domain.as_deref() == Some(to) {
        return Err(CommError::Refused {
            message: format!("task {id} already belongs to {to} and nobody holds it"),
            hint: format!("comm-node task show {id} shows it"),
        });
    }
    let (was_domain, was_holder) = (task.domain.take(), task.assignee.take());
    task.domain = Some(to.to_owned());
    task.status = Status::Open;
    task.claimed_at = None;
    task.reason = None;
    task.updated = now;
    let from_text = match (&was_holder, &was_domain) {
        (Some(h), _) => format!("from {h} (claim dropped) "),
        (None, Some(d)) => format!("from {d} "),
        (None, None) => String::new(),
    };
    let mut subject = format!("task {id} reassigned {from_text}to {to}: {}", task.title);
    let mut edits = vec![put(&task)];
    let released = release_reservations(snapshot, id, &mut edits)?;
    let mut event = task_event(by, &task, "reassign", String::new());
    if !released.is_empty() {
        subject.push_str(&format!("; released {}", released.join(", ")));
        event.fields.push(("Released".into(), released.join(" ")));
    }
    event.subject = subject;
    event.to = told([was_domain, was_holder, Some(to.to_owned())]);
    event.body = reason
        .map(|r| format!("{}\n", r.trim()))
        .unwrap_or_default();
    Ok((Change { event, edits }, task))
}

/// Changes fields of task `id` (the human only); its domain and holder
/// are told.
pub fn edit(
    repo: &Repo,
    by: &str,
    id: &str,
    edit: &TaskEdit,
    now: i64,
) -> Result<Outcome, CommError> {
    require_human(by, "edit a task")?;
    edit.check()?;
    change_task(repo, id, |s| edit_change(s, by, id, edit, now))
}

pub(super) fn edit_change(
    snapshot: &Snapshot,
    by: &str,
    id: &str,
    edit: &TaskEdit,
    now: i64,
) -> Result<(Change, Task), CommError> {
    require_human(by, "edit a task")?;
    let mut task = require(snapshot, id)?;
    if let Some(d) = &edit.domain {
        known_domain(&snapshot.domains()?, d)?;
        if task.status == Status::Claimed && task.domain.as_ref() != Some(d) {
            return Err(CommError::Refused {
                message: format!(
                    "task {id} is claimed by {}; moving it is a reassign",
                    task.assignee.as_deref().unwrap_or("someone")
                ),
                hint: format!("comm-node task reassign {id} --to {d} drops the claim and moves it"),
            });
        }
    }
    let was_domain = task.domain.clone();
    if let Some(t) = &edit.title {
        task.title = t.trim().to_owned();
    }
    if let Some(p) = edit.priority {
        task.priority = p;
    }
    if let Some(d) = &edit.domain {
        task.domain = Some(d.clone());
    }
    if let Some(items) = &edit.done_when {
        task.done_when = items.iter().map(|s| s.trim().to_owned()).collect();
    }
    if let Some(d) = &edit.description {
        task.description.clone_from(d);
    }
    task.updated = now;
    let fields = edit.fields();
    let mut event = task_event(
        by,
        &task,
        "edit",
        format!(
            "task {id} edited by {by} ({}): {}",
            fields.join(", "),
            task.title
        ),
    );
    event.fields.push(("Edited".into(), fields.join(" ")));
    event.to = told([was_domain, task.domain.clone(), task.assignee.clone()]);
    Ok((
        Change {
            event,
            edits: vec![put(&task)],
        },
        task,
    ))
}

/// Cancels task `id` with a reason (the human only): its claim and
/// reservations go, a convoy it was the last unfinished child of is done,
/// and the domains of the tasks that wait on it are told.
pub fn cancel(
    repo: &Repo,
    by: &str,
    id: &str,
    reason: &str,
    now: i64,
) -> Result<Outcome, CommError> {
    require_human(by, "cancel a task")?;
    if reason.trim().is_empty() {
        return Err(CommError::invalid(
            "a cancellation needs a reason",
            "pass --reason TEXT: why the work is dropped",
        ));
    }
    limits::check(&limits::TASK_REASON, reason.len())?;
    change_task(repo, id, |s| cancel_change(s, by, id, reason.trim(), now))
}

pub(super) fn cancel_change(
    snapshot: &Snapshot,
    by: &str,
    id: &str,
    reason: &str,
    now: i64,
) -> Result<(Change, Task), CommError> {
    require_human(by, "cancel a task")?;
    let mut task = require(snapshot, id)?;
    if matches!(task.status, Status::Done | Status::Cancelled) {
        return Err(CommError::Refused {
            message: format!("task {id} is already {}", task.status.as_str()),
            hint: format!("comm-node task reopen {id} brings it back first"),
        });
    }
    let mut board = board(snapshot)?;
    let unfinished: Vec<String> = board
        .children(id)
        .iter()
        .filter(|c| {
            board
                .get(c)
                .is_some_and(|t| !matches!(t.status, Status::Done | Status::Cancelled))
        })
        .cloned()
        .collect();
    if !unfinished.is_empty() {
        return Err(CommError::Refused {
            message: format!(
                "task {id} is a convoy with unfinished children: {}",
                unfinished.join(", ")
            ),
            hint: "cancel (or finish) its children first".into(),
        });
    }
    let holder = task.assignee.take();
    task.status = Status::Cancelled;
    task.claimed_at = None;
    task.reason = Some(reason.to_owned());
    task.updated = now;
    board.put(task.clone());
    let mut edits = vec![put(&task)];
    let mut subject = format!("task {id} cancelled by {by}: {} ({reason})", task.title);
    let mut event = task_event(by, &task, "cancel", String::new());
    let released = release_reservations(snapshot, id, &mut edits)?;
    if !released.is_empty() {
        subject.push_str(&format!("; released {}", released.join(", ")));
        event.fields.push(("Released".into(), released.join(" ")));
    }
    let mut to = vec![task.domain.clone(), holder, Some(task.created_by.clone())];
    if let Some(parent) = completed_convoy(snapshot, &board, &task, now)? {
        subject.push_str(&format!("; convoy {} complete", parent.id));
        event.fields.push(("Convoy-Done".into(), parent.id.clone()));
        to.push(parent.domain.clone());
        edits.push(put(&parent));
    }
    let dependents: Vec<&Task> = board
        .tasks()
        .filter(|t| t.deps.iter().any(|d| d == id))
        .filter(|t| matches!(t.status, Status::Open | Status::Claimed))
        .collect();
    if !dependents.is_empty() {
        let ids: Vec<&str> = dependents.iter().map(|t| t.id.as_str()).collect();
        subject.push_str(&format!(
            "; {} now wait on a cancelled task",
            ids.join(", ")
        ));
        event.fields.push(("Blocks".into(), ids.join(" ")));
        for t in &dependents {
            to.push(Some(
                t.domain.clone().unwrap_or_else(|| t.created_by.clone()),
            ));
        }
    }
    event.subject = subject;
    event.to = told(to);
    event.body = format!("{reason}\n");
    Ok((Change { event, edits }, task))
}

/// The parent of `task` marked done when its other children are all done.
fn completed_convoy(
    snapshot: &Snapshot,
    board: &super::Board,
    task: &Task,
    now: i64,
) -> Result<Option<Task>, CommError> {
    let Some(parent_id) = &task.parent else {
        return Ok(None);
    };
    let complete = board
        .progress(parent_id)
        .is_some_and(|p| p.total > 0 && p.done == p.total);
    match get(snapshot, parent_id)? {
        Some(mut parent) if complete && parent.status != Status::Done => {
            parent.status = Status::Done;
            parent.updated = now;
            Ok(Some(parent))
        }
        _ => Ok(None),
    }
}

/// Adds the removal of task `id`'s reservations to `edits`; their ids.
fn release_reservations(
    snapshot: &Snapshot,
    id: &str,
    edits: &mut Vec<TreeEdit>,
) -> Result<Vec<String>, CommError> {
    Ok(reservation::all(snapshot)?
        .into_iter()
        .filter(|r| r.task.as_deref() == Some(id))
        .map(|r| {
            edits.push(TreeEdit::Remove { path: r.path() });
            r.id
        })
        .collect())
}

/// The domains to tell, each once, never the human who acts.
fn told(names: impl IntoIterator<Item = Option<String>>) -> Vec<String> {
    let mut out: Vec<String> = names.into_iter().flatten().filter(|n| n != HUMAN).collect();
    out.sort();
    out.dedup();
    out
}

/// Re-derives a replayed `reassign`, `edit` or `cancel` (written by
/// `commit`) on the task as it now is.
pub(super) fn replay(
    snapshot: &Snapshot,
    event: &Event,
    commit: Oid,
    time: i64,
) -> Result<Change, CommError> {
    let id = event.field("Task").unwrap_or_default();
    let by = event.from.as_str();
    let repo = snapshot.repo();
    let written = get(&Snapshot::at(repo, Some(commit))?, id)?;
    let reason = event.body.trim();
    let change = match event.field("Action").unwrap_or_default() {
        "reassign" => {
            let to = written.and_then(|t| t.domain).unwrap_or_default();
            let reason = (!reason.is_empty()).then_some(reason);
            reassign_change(snapshot, by, id, &to, reason, time)?.0
        }
        "cancel" => cancel_change(snapshot, by, id, reason, time)?.0,
        _ => {
            let parent = repo.parent_ids(commit)?.first().copied();
            let before = get(&Snapshot::at(repo, parent)?, id)?;
            let (Some(before), Some(after)) = (before, written) else {
                return Err(CommError::invalid(
                    format!("the edit {} names no task", event.id),
                    "comm-node verify names the commit; the human removes it",
                ));
            };
            let edit = TaskEdit::between(&before, &after);
            if edit.is_empty() {
                return Err(CommError::invalid(
                    format!("the edit {} changes nothing", event.id),
                    "comm-node task show ID shows the task",
                ));
            }
            edit_change(snapshot, by, id, &edit, time)?.0
        }
    };
    Ok(change)
}
