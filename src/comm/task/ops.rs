//! Task changes. Each builds its event and edits inside [`append`], so every
//! rule is checked against the exact state the change lands on; the same
//! builders re-validate replayed events during `sync`.

use super::board::order;
use super::cache::Stamp;
use super::{
    get, require, validate_id, Board, Entry, Status, Task, DEFAULT_PRIORITY, KIND, LOWEST_PRIORITY,
};
use crate::comm::artifact::validate_artifact_name;
use crate::comm::{append, Appended, Change, CommError, Event, Snapshot, HUMAN};
use crate::comm::{limits, reservation};
use crate::git::{Repo, TreeEdit};

/// Longest task title, in characters.
const MAX_TITLE: usize = limits::TASK_TITLE.max;

/// What `task add` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub title: String,
    pub domain: Option<String>,
    pub deps: Vec<String>,
    pub priority: Option<u8>,
    pub needs_artifacts: Vec<String>,
    pub parent: Option<String>,
    pub done_when: Vec<String>,
    pub skills: Vec<String>,
    pub description: String,
}

/// A task change that landed: the event and the task as it now is.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub appended: Appended,
    pub task: Task,
}

/// Adds a task.
pub fn add(repo: &Repo, by: &str, new: &NewTask, now: i64) -> Result<Outcome, CommError> {
    check_new(new)?;
    let mut added = None;
    let appended = append(repo, |snapshot| {
        let task = build_new(snapshot, by, new, now)?;
        let mut event = task_event(by, &task, "add", added_subject(&task));
        event.to = task.domain.iter().filter(|d| *d != by).cloned().collect();
        if let Some(parent) = &task.parent {
            event.fields.push(("Parent".into(), parent.clone()));
        }
        let edits = vec![put(&task)];
        added = Some(task);
        Ok(Some(Change { event, edits }))
    })?;
    finish(appended, added)
}

fn added_subject(task: &Task) -> String {
    match &task.domain {
        Some(d) => format!("task {} added for {d}: {}", task.id, task.title),
        None => format!("task {} added: {}", task.id, task.title),
    }
}

/// The input checks that do not depend on the bus state.
fn check_new(new: &NewTask) -> Result<(), CommError> {
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE || title.contains(char::is_control) {
        return Err(CommError::invalid(
            format!("a task title is one line of 1 to {MAX_TITLE} characters"),
            "put details in --description",
        ));
    }
    if new.priority.is_some_and(|p| p > LOWEST_PRIORITY) {
        return Err(CommError::invalid(
            format!("priority must be 0 (most urgent) to {LOWEST_PRIORITY}"),
            "the default is 2",
        ));
    }
    limits::check(&limits::TASK_DESCRIPTION, new.description.len())?;
    let lists = [&new.deps, &new.done_when, &new.skills, &new.needs_artifacts];
    lists
        .iter()
        .try_for_each(|l| limits::check(&limits::TASK_LIST, l.len()))?;
    for id in new.deps.iter().chain(new.parent.iter()) {
        validate_id(id)?;
    }
    for item in &new.done_when {
        limits::check(&limits::TASK_LINE, item.len())?;
        if item.trim().is_empty() || item.contains(['\n', '\r']) {
            return Err(CommError::invalid(
                "each --done-when is one non-empty line",
                "repeat --done-when for several criteria",
            ));
        }
    }
    for skill in &new.skills {
        check_word(skill, "skill")?;
    }
    for name in &new.needs_artifacts {
        let (_, artifact) = name.split_once('/').ok_or_else(|| {
            CommError::invalid(
                format!("`{name}` does not name a domain's artifact"),
                "write DOMAIN/NAME, e.g. api/openapi.yaml",
            )
        })?;
        validate_artifact_name(artifact)?;
    }
    Ok(())
}

fn check_word(word: &str, what: &str) -> Result<(), CommError> {
    limits::check(&limits::NAME, word.len())?;
    if word.is_empty()
        || !word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(CommError::invalid(
            format!("`{word}` is not a valid {what}"),
            format!("a {what} is letters, digits, `-`, `_` and `.`"),
        ));
    }
    Ok(())
}

/// The new task as it would land on `snapshot`.
fn build_new(snapshot: &Snapshot, by: &str, new: &NewTask, now: i64) -> Result<Task, CommError> {
    let domains = snapshot.domains()?;
    if let Some(d) = &new.domain {
        known_domain(&domains, d)?;
    }
    for name in &new.needs_artifacts {
        let (d, _) = name.split_once('/').expect("checked by check_new");
        known_domain(&domains, d)?;
    }
    for dep in &new.deps {
        require(snapshot, dep)?;
    }
    if let Some(parent) = &new.parent {
        match require(snapshot, parent)? {
            p if p.status == Status::Done => {
                return Err(CommError::invalid(
                    format!("convoy {parent} is already done"),
                    format!("reopen it first: comm-node task reopen {parent}"),
                ))
            }
            _ => {}
        }
    }
    let mut deps = new.deps.clone();
    deps.sort();
    deps.dedup();
    Ok(Task {
        id: super::ids::fresh_id(snapshot)?,
        title: new.title.trim().to_owned(),
        domain: new.domain.clone(),
        status: Status::Open,
        priority: new.priority.unwrap_or(DEFAULT_PRIORITY),
        deps,
        needs_artifacts: new.needs_artifacts.clone(),
        parent: new.parent.clone(),
        assignee: None,
        done_when: new.done_when.iter().map(|s| s.trim().to_owned()).collect(),
        skills: new.skills.clone(),
        created: now,
        updated: now,
        created_by: by.to_owned(),
        claimed_at: None,
        reason: None,
        description: new.description.clone(),
        links: Vec::new(),
        beads: Default::default(),
    })
}

fn known_domain(domains: &[String], name: &str) -> Result<(), CommError> {
    if domains.iter().any(|d| d == name) {
        return Ok(());
    }
    Err(CommError::invalid(
        format!("unknown domain `{name}`"),
        format!("domains are: {}", domains.join(", ")),
    ))
}

/// Claims task `id` for domain `by`. `skills` are the domain's, checked
/// against a task that no domain owns (`None` skips the check).
pub fn claim(
    repo: &Repo,
    by: &str,
    id: &str,
    skills: Option<&[String]>,
    now: i64,
) -> Result<Outcome, CommError> {
    validate_id(id)?;
    let mut claimed = None;
    let appended = append(repo, |snapshot| {
        let stamp = Stamp::of(snapshot)?;
        let claim = claim_change(snapshot, stamp, by, id, skills, now, None)?;
        claimed = Some((stamp, claim.task, claim.entry));
        Ok(Some(claim.change))
    })?;
    after_claim(repo, appended, claimed)
}

/// Finishes a claim: brings the task cache along from the trees the claim
/// was made on (one line changes, its new entry given) so the next reader
/// does not recompute the graph, and returns the outcome.
fn after_claim(
    repo: &Repo,
    appended: Option<Appended>,
    claimed: Option<(Stamp, Task, Entry)>,
) -> Result<Outcome, CommError> {
    let Some((base, task, entry)) = claimed else {
        return finish(appended, None);
    };
    if let Some(a) = &appended {
        super::cache::record_claim(repo, base, a.commit, &entry);
    }
    finish(appended, Some(task))
}

/// Claims the best ready task for domain `by`: its own work and unowned
/// work it has the skills for, by priority, then own work first, then age.
/// Convoys (tasks with children) are finished by their children, not claimed.
pub fn claim_next(
    repo: &Repo,
    by: &str,
    skills: &[String],
    now: i64,
) -> Result<Outcome, CommError> {
    let mut claimed = None;
    let appended = append(repo, |snapshot| {
        crate::comm::steer::refuse_if_halted(snapshot, by)?;
        let stamp = Stamp::of(snapshot)?;
        let best = super::cache::next_for(snapshot, stamp, by, skills)?.ok_or_else(|| {
            CommError::Refused {
                message: format!("no task is ready for {by}"),
                hint: format!(
                    "comm-node task list --domain {by} shows what is blocked and on what"
                ),
            }
        })?;
        let id = best.task.id.clone();
        let claim = claim_change(snapshot, stamp, by, &id, Some(skills), now, Some(best))?;
        claimed = Some((stamp, claim.task, claim.entry));
        Ok(Some(claim.change))
    })?;
    after_claim(repo, appended, claimed)
}

/// The ready tasks domain `by` may take, in the order `task next` takes them.
pub fn candidates<'e>(ready: &'e [Entry], by: &str, skills: &[String]) -> Vec<&'e Entry> {
    let mut out: Vec<&Entry> = ready
        .iter()
        .filter(|e| may_take(&e.task, by, Some(skills)))
        .collect();
    out.sort_by(|a, b| {
        let other = |t: &Task| t.domain.as_deref() != Some(by);
        (a.task.priority, other(&a.task))
            .cmp(&(b.task.priority, other(&b.task)))
            .then_with(|| order(&a.task, &b.task))
    });
    out
}

/// Whether domain `by` may take `task`: its own, or no domain's when it
/// has the skills (`None` skips the skill check).
pub(super) fn may_take(task: &Task, by: &str, skills: Option<&[String]>) -> bool {
    match (&task.domain, skills) {
        (Some(d), _) => d == by,
        (None, None) => true,
        (None, Some(have)) => task.skills.iter().all(|s| have.contains(s)),
    }
}

/// A claim as it lands on a snapshot.
pub(super) struct Claim {
    pub change: Change,
    /// The task as claimed.
    pub task: Task,
    /// Its task cache entry after the claim.
    entry: Entry,
}

/// The claim of task `id` by `by` on `snapshot` (whose trees are `stamp`).
/// `ready` is the task's entry among the ready tasks of this very snapshot
/// when the caller found it there (`task next` did).
pub(super) fn claim_change(
    snapshot: &Snapshot,
    stamp: Stamp,
    by: &str,
    id: &str,
    skills: Option<&[String]>,
    now: i64,
    ready: Option<Entry>,
) -> Result<Claim, CommError> {
    if by == HUMAN {
        return Err(CommError::invalid(
            "tasks are claimed by domains",
            "claim from the domain's worktree, or pass --as DOMAIN",
        ));
    }
    crate::comm::steer::refuse_if_halted(snapshot, by)?;
    let mut task = require(snapshot, id)?;
    if task.status != Status::Open {
        let holder = match (&task.assignee, task.status) {
            (Some(a), Status::Claimed) => format!(" by {a}"),
            _ => String::new(),
        };
        return Err(CommError::Refused {
            message: format!("task {id} is already {}{holder}", task.status.as_str()),
            hint: "comm-node task next claims the best ready task instead".into(),
        });
    }
    if !may_take(&task, by, skills) {
        let why = match &task.domain {
            Some(d) => format!("task {id} belongs to {d}"),
            None => format!(
                "{by} lacks the skills task {id} needs ({})",
                task.skills.join(", ")
            ),
        };
        return Err(CommError::Refused {
            message: why,
            hint: "comm-node task ready lists the tasks this domain can take".into(),
        });
    }
    // Past that refusal the task is `by`'s or no domain's (`may_take`),
    // which is what `ready_for` looks among.
    let ready = match ready {
        Some(entry) => Some(entry),
        None => super::cache::ready_for(snapshot, stamp, by, id)?,
    };
    let Some(ready) = ready else {
        let blockers = super::board(snapshot)?.blockers(&task);
        let list: Vec<String> = blockers.iter().map(ToString::to_string).collect();
        return Err(CommError::Refused {
            message: format!("task {id} is not ready: waiting for {}", list.join(", ")),
            hint: "comm-node task ready lists the tasks that can start now".into(),
        });
    };
    task.status = Status::Claimed;
    task.assignee = Some(by.to_owned());
    task.claimed_at = Some(now);
    task.reason = None;
    task.updated = now;
    let event = task_event(
        by,
        &task,
        "claim",
        format!("task {id} claimed by {by}: {}", task.title),
    );
    let bytes = task.to_yaml();
    let blob = crate::git::blob_id(&bytes)?;
    let path = Task::path_of(&task.id);
    Ok(Claim {
        entry: ready.claimed(&task, blob),
        change: Change {
            event,
            edits: vec![TreeEdit::Put { path, bytes }],
        },
        task,
    })
}

/// Marks a claimed task done (its assignee, or the human for any task).
/// Completes its convoy when it was the last child, and tells the domains
/// whose tasks it unblocks.
pub fn done(repo: &Repo, by: &str, id: &str, now: i64) -> Result<Outcome, CommError> {
    finish_with(repo, by, id, now, Status::Done, None)
}

/// Marks a claimed task failed with a reason.
pub fn fail(repo: &Repo, by: &str, id: &str, reason: &str, now: i64) -> Result<Outcome, CommError> {
    if reason.trim().is_empty() {
        return Err(CommError::invalid(
            "a failure needs a reason",
            "pass --reason TEXT: what went wrong, what would unblock it",
        ));
    }
    limits::check(&limits::TASK_REASON, reason.len())?;
    finish_with(repo, by, id, now, Status::Failed, Some(reason.trim()))
}

fn finish_with(
    repo: &Repo,
    by: &str,
    id: &str,
    now: i64,
    status: Status,
    reason: Option<&str>,
) -> Result<Outcome, CommError> {
    validate_id(id)?;
    let mut finished = None;
    let appended = append(repo, |snapshot| {
        let change = finish_change(snapshot, by, id, now, status, reason)?;
        finished = Some(change.1);
        Ok(Some(change.0))
    })?;
    finish(appended, finished)
}

pub(super) fn finish_change(
    snapshot: &Snapshot,
    by: &str,
    id: &str,
    now: i64,
    status: Status,
    reason: Option<&str>,
) -> Result<(Change, Task), CommError> {
    let task = require(snapshot, id)?;
    let allowed = match task.status {
        Status::Claimed => by == HUMAN || task.assignee.as_deref() == Some(by),
        Status::Open => by == HUMAN,
        Status::Done | Status::Failed | Status::Cancelled => false,
    };
    if !allowed {
        let state = match (&task.assignee, task.status) {
            (Some(a), Status::Claimed) => format!("claimed by {a}"),
            (_, s) => s.as_str().to_owned(),
        };
        return Err(CommError::Refused {
            message: format!(
                "task {id} is {state}; only its assignee (or the human) can finish it"
            ),
            hint: format!("claim it first (comm-node task claim {id}), or reopen it"),
        });
    }
    apply_finish(snapshot, task, by, now, status, reason)
}

/// Marks a task done because its work landed (the merge queue's call):
/// whatever its state, unless it is already done. `None` when there is no
/// such task or nothing to change. The event carries the convoy and
/// unblocking fields for the caller to merge into its own.
pub fn done_by_landing(
    snapshot: &Snapshot,
    id: &str,
    by: &str,
    now: i64,
) -> Result<Option<Change>, CommError> {
    match get(snapshot, id)? {
        Some(task) if task.status != Status::Done => {
            apply_finish(snapshot, task, by, now, Status::Done, None)
                .map(|(change, _)| Some(change))
        }
        _ => Ok(None),
    }
}

/// The change finishing `task` (done or failed): its file, its released
/// reservations, a completed convoy, and who to tell.
fn apply_finish(
    snapshot: &Snapshot,
    mut task: Task,
    by: &str,
    now: i64,
    status: Status,
    reason: Option<&str>,
) -> Result<(Change, Task), CommError> {
    let id = task.id.clone();
    let mut board = super::board(snapshot)?;
    let before: Vec<String> = board.ready().iter().map(|t| t.id.clone()).collect();
    task.status = status;
    task.updated = now;
    task.reason = reason.map(str::to_owned);
    task.assignee = task.assignee.or_else(|| Some(by.to_owned()));
    board.put(task.clone());
    let mut edits = vec![put(&task)];
    let verb = if status == Status::Done {
        "done"
    } else {
        "failed"
    };
    let mut subject = format!("task {id} {verb} by {by}: {}", task.title);
    if let Some(r) = reason {
        subject.push_str(&format!(" ({r})"));
    }
    let mut event_fields = Vec::new();
    let mut to: Vec<String> = Vec::new();
    let released: Vec<String> = reservation::all(snapshot)?
        .into_iter()
        .filter(|r| r.task.as_deref() == Some(id.as_str()))
        .map(|r| {
            edits.push(TreeEdit::Remove { path: r.path() });
            r.id
        })
        .collect();
    if !released.is_empty() {
        subject.push_str(&format!("; released {}", released.join(", ")));
        event_fields.push(("Released".to_owned(), released.join(" ")));
    }
    if status == Status::Done {
        if let Some(convoy) = complete_convoy(snapshot, &board, &task, now)? {
            let progress = board.progress(&convoy.id).expect("a convoy has children");
            subject.push_str(&format!(
                "; convoy {} complete ({}/{})",
                convoy.id, progress.done, progress.total
            ));
            event_fields.push(("Convoy-Done".to_owned(), convoy.id.clone()));
            to.push(convoy.created_by.clone());
            to.extend(convoy.domain.clone());
            board.put(convoy.clone());
            edits.push(put(&convoy));
        }
        let unblocked: Vec<&Task> = board
            .ready()
            .into_iter()
            .filter(|t| !before.contains(&t.id))
            .collect();
        if !unblocked.is_empty() {
            let ids: Vec<&str> = unblocked.iter().map(|t| t.id.as_str()).collect();
            subject.push_str(&format!("; unblocks {}", ids.join(", ")));
            event_fields.push(("Unblocks".to_owned(), ids.join(" ")));
            to.extend(unblocked.iter().filter_map(|t| t.domain.clone()));
        }
    }
    to.push(task.created_by.clone());
    to.retain(|d| d != by);
    to.sort();
    to.dedup();
    let mut event = task_event(by, &task, verb, subject);
    event.to = to;
    event.fields.extend(event_fields);
    if let Some(r) = reason {
        event.body = format!("{r}\n");
    }
    Ok((Change { event, edits }, task))
}

/// The parent of `task` marked done, when `task` was its last open child.
fn complete_convoy(
    snapshot: &Snapshot,
    board: &Board,
    task: &Task,
    now: i64,
) -> Result<Option<Task>, CommError> {
    let Some(parent_id) = &task.parent else {
        return Ok(None);
    };
    let progress = board.progress(parent_id);
    if progress.is_none_or(|p| p.done < p.total) {
        return Ok(None);
    }
    let Some(mut parent) = get(snapshot, parent_id)? else {
        return Ok(None);
    };
    if parent.status == Status::Done {
        return Ok(None);
    }
    parent.status = Status::Done;
    parent.updated = now;
    Ok(Some(parent))
}

/// Returns a task to `open` (unclaims it, or reopens finished work):
/// the human, its assignee or its creator may.
pub fn reopen(repo: &Repo, by: &str, id: &str, now: i64) -> Result<Outcome, CommError> {
    validate_id(id)?;
    let mut reopened = None;
    let appended = append(repo, |snapshot| {
        let change = reopen_change(snapshot, by, id, now)?;
        reopened = Some(change.1);
        Ok(Some(change.0))
    })?;
    finish(appended, reopened)
}

pub(super) fn reopen_change(
    snapshot: &Snapshot,
    by: &str,
    id: &str,
    now: i64,
) -> Result<(Change, Task), CommError> {
    let mut task = require(snapshot, id)?;
    if task.status == Status::Open {
        return Err(CommError::Refused {
            message: format!("task {id} is already open"),
            hint: format!("comm-node task claim {id} takes it; task show {id} shows it"),
        });
    }
    if task.status == Status::Cancelled {
        crate::comm::steer::require_human(by, "reopen a cancelled task")?;
    }
    if by != HUMAN && task.assignee.as_deref() != Some(by) && task.created_by != by {
        return Err(CommError::Refused {
            message: format!("only the human, its assignee or its creator can reopen task {id}"),
            hint: format!("ask them: comm-node send --to {} ...", task.created_by),
        });
    }
    let previous = task.assignee.take();
    task.status = Status::Open;
    task.claimed_at = None;
    task.reason = None;
    task.updated = now;
    let mut event = task_event(
        by,
        &task,
        "reopen",
        format!("task {id} reopened by {by}: {}", task.title),
    );
    event.to = previous.into_iter().filter(|a| a != by).collect();
    Ok((
        Change {
            event,
            edits: vec![put(&task)],
        },
        task,
    ))
}

pub(super) fn task_event(by: &str, task: &Task, action: &str, subject: String) -> Event {
    let mut event = Event::new(KIND, by, subject);
    event.fields.push(("Task".into(), task.id.clone()));
    event.fields.push(("Action".into(), action.into()));
    event
}

pub(super) fn put(task: &Task) -> TreeEdit {
    TreeEdit::Put {
        path: Task::path_of(&task.id),
        bytes: task.to_yaml(),
    }
}

pub(super) fn finish(appended: Option<Appended>, task: Option<Task>) -> Result<Outcome, CommError> {
    match (appended, task) {
        (Some(appended), Some(task)) => Ok(Outcome { appended, task }),
        _ => Err(CommError::invalid(
            "nothing changed",
            "comm-node task show ID shows the task",
        )),
    }
}
