//! Tasks: the shared work graph, one file per task on `comm`
//! (`tasks/<2 letters>/<id>.yaml`, so `git show comm:tasks/4k/T-4k7qm2x9ta.yaml`
//! works; see [`crate::comm::shard`]).
//!
//! A task is `open` until a domain claims it, then `claimed` until it is
//! `done` or `failed`. It is *ready* when it is open, every dependency is
//! done, every needed artifact is published, and its parent is not blocked
//! (the rule `bd ready` applies: blocking flows down parent-child links).
//! Every change goes through [`crate::comm::append`], so the checks run
//! again on the exact state a change lands on: two agents racing for one
//! task cannot both win.

mod beads;
mod board;
mod cache;
mod delta;
mod deps;
mod ids;
mod lapse;
mod ops;
mod replay;
mod steer;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CommError, Snapshot};

pub use beads::{export_beads, import_beads, ImportReport};
pub use board::{order, Blocker, Board, Progress};
pub use cache::Entry;
pub use delta::{LiveBoard, Update};
pub use deps::dep_add;
pub use lapse::lapse;
pub use ops::{
    add, candidates, claim, claim_next, done, done_by_landing, fail, reopen, NewTask, Outcome,
};
pub use replay::revalidate;
pub use steer::{cancel, edit, reassign, TaskEdit};

/// Event kind of every task change (`Comm-Action` says which).
pub const KIND: &str = "task";
/// Directory of the task files on `comm`.
pub const DIR: &str = "tasks";
/// Highest (least urgent) priority; 0 is the most urgent, as in beads.
pub const LOWEST_PRIORITY: u8 = 4;
/// Priority of a task added without one.
pub const DEFAULT_PRIORITY: u8 = 2;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Claimed,
    Done,
    Failed,
    /// Dropped by the human (`task cancel`): never ready, never claimed;
    /// a convoy does not wait for it, a dependent stays blocked on it.
    Cancelled,
}

impl Status {
    /// The lowercase name used in files, output and `--status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Claimed => "claimed",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Every status, in the order a task goes through them.
    pub const ALL: [Status; 5] = [
        Status::Open,
        Status::Claimed,
        Status::Done,
        Status::Failed,
        Status::Cancelled,
    ];

    /// The status named `text` (as files and `--status` write it).
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A non-blocking link to another task (beads' `related`, `discovered-from`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// One task as stored in `tasks/<shard>/<id>.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub id: String,
    pub title: String,
    /// The domain that owns the work; `None`: any domain with the skills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub status: Status,
    /// 0 (most urgent) to 4.
    pub priority: u8,
    /// Tasks that must be done first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
    /// Artifacts (`domain/name`) that must be published first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs_artifacts: Vec<String>,
    /// The convoy this task belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The domain working on it (while claimed, and who finished it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Acceptance criteria.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done_when: Vec<String>,
    /// Capabilities a domain needs to take it (see `skills` in comm.yaml).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
    /// Seconds since the epoch.
    pub created: i64,
    pub updated: i64,
    /// Who added it (a domain or `human`).
    #[serde(default)]
    pub created_by: String,
    /// When the current claim started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<i64>,
    /// Why it failed, or why its claim lapsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Non-blocking links to other tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Fields of an imported beads issue that comm-node does not model,
    /// kept so `task export --beads` gives them back.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub beads: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
impl Task {
    /// An open task of no domain waiting on `deps`, for unit tests.
    pub(crate) fn sample(id: &str, deps: &[&str]) -> Task {
        Task {
            id: id.into(),
            title: id.into(),
            domain: None,
            status: Status::Open,
            priority: 2,
            deps: deps.iter().map(|d| (*d).into()).collect(),
            needs_artifacts: Vec::new(),
            parent: None,
            assignee: None,
            done_when: Vec::new(),
            skills: Vec::new(),
            created: 0,
            updated: 0,
            created_by: "human".into(),
            claimed_at: None,
            reason: None,
            description: String::new(),
            links: Vec::new(),
            beads: Default::default(),
        }
    }
}

impl Task {
    /// The file of task `id` on `comm` (older states hold it directly in
    /// `tasks/`, where [`Snapshot::read`] finds it too).
    pub fn path_of(id: &str) -> String {
        crate::comm::shard::path(DIR, id)
    }

    /// The YAML stored on `comm`.
    pub fn to_yaml(&self) -> Vec<u8> {
        serde_yaml::to_string(self)
            .expect("a task always serializes")
            .into_bytes()
    }

    fn from_yaml(path: &str, bytes: &[u8]) -> Result<Task, CommError> {
        serde_yaml::from_slice(bytes).map_err(|e| CommError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }
}

/// Reads one task at the snapshot.
pub fn get(snapshot: &Snapshot, id: &str) -> Result<Option<Task>, CommError> {
    snapshot.read_yaml(&Task::path_of(id))
}

/// Task `id` at the snapshot, or a clear error naming it.
pub fn require(snapshot: &Snapshot, id: &str) -> Result<Task, CommError> {
    validate_id(id)?;
    get(snapshot, id)?.ok_or_else(|| {
        CommError::invalid(
            format!("no task `{id}`"),
            "comm-node task list shows the tasks",
        )
    })
}

/// Every task at the snapshot, with what readiness needs (through the
/// cache under `.git/comm-node/`, so only changed task files are parsed).
pub fn board(snapshot: &Snapshot) -> Result<Board, CommError> {
    let tasks = cache::load(snapshot, cache::Only::All)?
        .into_iter()
        .map(|e| (e.task.id.clone(), e.task))
        .collect();
    board_of(snapshot, tasks)
}

/// The ready tasks at the snapshot with their convoy progress, without
/// building the whole graph when the cache is current.
pub fn ready_entries(snapshot: &Snapshot) -> Result<Vec<Entry>, CommError> {
    cache::load(snapshot, cache::Only::Ready)
}

/// The claimed tasks at the snapshot (cheap when the cache is current).
pub fn claimed_entries(snapshot: &Snapshot) -> Result<Vec<Entry>, CommError> {
    cache::load(snapshot, cache::Only::Claimed)
}

/// A board over `tasks`, with the artifacts they need looked up at the snapshot.
fn board_of(snapshot: &Snapshot, tasks: BTreeMap<String, Task>) -> Result<Board, CommError> {
    let needed = Board::needed_artifacts(&tasks);
    let artifacts = super::artifact::published(snapshot, needed.iter().map(String::as_str))?;
    Ok(Board::new(tasks, artifacts))
}

/// Checks a task id: letters, digits, `.`, `_` and `-`, at most 64 characters.
pub fn validate_id(id: &str) -> Result<(), CommError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(CommError::invalid(
            format!("`{id}` is not a task id"),
            "task ids are letters, digits, `.`, `_` and `-` (like T-4k7qm2x9ta, or T-3f9a from older versions); comm-node task list shows them",
        ))
    }
}
