//! The one-screen picture of a coordinated repository: each domain's
//! branch, worktree, distance from `main` and cleanliness, its agent, the
//! task it holds, its unread messages, its last activity and whether it has
//! stalled; the task graph's counts; and how well comm.yaml covers the
//! files of `main`.
//!
//! Gathering only reads; `comm-node status` renders the result.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::boundary::coverage::{coverage, Coverage};
use crate::comm::task::{self, Status as TaskStatus};
use crate::comm::{self, reservation, CommError, Presence, Snapshot};
use crate::config::{Config, Health, Loaded};
use crate::git::{AheadBehind, GitError, Repo};
use crate::health::{self, Activity};
use crate::scaffold;

/// The status of every declared domain.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub project: String,
    pub main: String,
    /// Whether `comm` exists (init has run).
    pub comm: bool,
    pub domains: Vec<DomainStatus>,
    pub tasks: TaskCounts,
    /// The liveness thresholds in effect, in seconds.
    pub health: Health,
    /// Files of `main` no domain owns, and globs that match none of them.
    pub coverage: Option<Coverage>,
    /// The room `.git/comm-node/` takes (`status --verbose`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<crate::queue::prune::Usage>,
}

/// How many tasks are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TaskCounts {
    pub open: usize,
    /// Open and ready to start (included in `open`).
    pub ready: usize,
    pub claimed: usize,
    pub done: usize,
    pub failed: usize,
    pub cancelled: usize,
}

/// One domain's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct DomainStatus {
    pub name: String,
    pub branch: String,
    /// False until `init` has created the branch.
    pub branch_exists: bool,
    /// Commits ahead of and behind `main`.
    pub main: Option<AheadBehind>,
    pub worktree: PathBuf,
    pub worktree_exists: bool,
    /// Uncommitted changes in the worktree (`None` when it does not exist,
    /// or was not looked at: [`gather_counted`]).
    pub dirty: Option<bool>,
    /// Registered on the `comm` branch.
    pub registered: bool,
    /// The agent that said `hello` here last.
    pub agent: Option<Presence>,
    /// Tasks this domain holds.
    pub claimed: Vec<String>,
    /// Messages and notices it has not acknowledged.
    pub unread: usize,
    /// Its newest commit on its branch or event on comm (within the lease window).
    pub last_activity: Option<Activity>,
    /// Holds a task and has been quiet longer than `health.stall_after`.
    pub stalled: bool,
    /// Its live reservations: id and globs, `(shared)` marked.
    pub reservations: Vec<String>,
    /// Its entry in the merge queue: the submitted commit.
    pub queued: Option<String>,
    /// Its agent as `comm-node up` on this machine last left it.
    pub runtime: Option<crate::runtime::Local>,
    /// Its agents' running totals (`usage/<domain>.yaml` on comm).
    pub usage: Option<crate::runtime::Usage>,
    /// For a domain no `up` runs here: the summary of its last `turn`
    /// event on comm (what its agent elsewhere did last).
    pub last_turn: Option<String>,
    /// The human's halt, while the domain is halted (`comm-node halt`).
    pub halted: Option<crate::comm::steer::Halt>,
}

/// Why status could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Comm(#[from] CommError),
}

/// Reads the status of every domain declared in `loaded` as of `now`, with
/// the domains' `liveness` (from [`health::liveness`]; empty before init).
pub fn gather(
    repo: &Repo,
    loaded: &Loaded,
    now: i64,
    liveness: BTreeMap<String, health::Liveness>,
) -> Result<Status, StatusError> {
    gather_counted(repo, loaded, now, liveness, None, true)
}

/// [`gather`], with the task counts when the caller has them already
/// (the cockpit keeps them while `tasks/` on comm is unchanged): on a
/// board of 10,000 tasks, counting is most of the cost. Without `scan`
/// the worktrees are not scanned for changes (`dirty` stays `None`) nor
/// main's files for coverage (`coverage` stays `None`): the cockpit shows
/// neither, and 16 scans are half of what is left.
pub fn gather_counted(
    repo: &Repo,
    loaded: &Loaded,
    now: i64,
    mut liveness: BTreeMap<String, health::Liveness>,
    tasks: Option<TaskCounts>,
    scan: bool,
) -> Result<Status, StatusError> {
    let config = &loaded.config;
    let snapshot = Snapshot::take(repo)?;
    let comm_exists = snapshot.tip().is_some();
    let presence = comm::presence(&snapshot)?;
    let reservations = reservation::live(&snapshot, now)?;
    let queue = crate::queue::pending(&snapshot)?;
    let root = repo
        .main_workdir()
        .unwrap_or_else(|| repo.common_dir().to_path_buf());
    let main_tip = repo.branch_tip(&config.main)?;
    let registered = comm::registrations_at(&snapshot)?;
    let readers: Vec<String> = registered.keys().cloned().collect();
    let unread = comm::unread_counts(&snapshot, &readers)?;
    let mut halts = comm::steer::halts(&snapshot)?;
    // Listed once: looking each domain's worktree up lists them all.
    let worktrees = repo.linked_worktrees()?;
    let mut domains = Vec::new();
    for name in config.domains.keys() {
        let branch = Config::domain_branch(name);
        let tip = repo.branch_tip(&branch)?;
        let main = match (tip, main_tip) {
            (Some(t), Some(m)) => Some(repo.ahead_behind(t, m)?),
            _ => None,
        };
        let known = worktrees.iter().find(|w| &w.name == name && w.present);
        let worktree = known.map_or_else(
            || scaffold::default_worktree_path(&root, config, name),
            |w| w.path.clone(),
        );
        let runtime = crate::runtime::local(repo, name);
        let usage: Option<crate::runtime::Usage> =
            snapshot.read_yaml(&crate::runtime::Usage::path_of(name))?;
        let live = liveness.remove(name).unwrap_or(health::Liveness {
            last: None,
            claimed: Vec::new(),
            stalled: false,
            lapsed: false,
        });
        let dirty = match known {
            Some(w) if scan => Some(Repo::is_dirty(&w.path)?),
            _ => None,
        };
        domains.push(DomainStatus {
            name: name.clone(),
            branch,
            branch_exists: tip.is_some(),
            main,
            worktree,
            worktree_exists: known.is_some(),
            dirty,
            registered: registered.contains_key(name),
            agent: presence.get(name).cloned(),
            unread: unread.get(name).copied().unwrap_or(0),
            claimed: live.claimed,
            last_activity: live.last,
            stalled: live.stalled,
            reservations: reservations
                .iter()
                .filter(|r| &r.domain == name)
                .map(|r| {
                    let shared = if r.mode == reservation::Mode::Shared {
                        " (shared)"
                    } else {
                        ""
                    };
                    format!("{} {}{shared}", r.id, r.globs.join(" "))
                })
                .collect(),
            queued: queue
                .iter()
                .find(|e| &e.domain == name)
                .map(|e| e.short().to_owned()),
            last_turn: usage
                .as_ref()
                .filter(|_| !runtime.as_ref().is_some_and(|r| r.running))
                .and_then(|u| u.last_turn.clone()),
            runtime,
            usage,
            halted: halts.remove(name),
        });
    }
    Ok(Status {
        project: config.project.clone(),
        main: config.main.clone(),
        comm: comm_exists,
        domains,
        tasks: match tasks {
            Some(counts) => counts,
            None => count_tasks(&task::board(&snapshot)?),
        },
        health: config.health,
        coverage: match main_tip {
            Some(tip) if scan => Some(coverage(loaded, repo.snapshot_commit(tip)?.paths())),
            _ => None,
        },
        disk: None,
    })
}

/// How many tasks of `board` are in each state.
pub fn count_tasks(board: &task::Board) -> TaskCounts {
    let mut counts = count_statuses(board);
    counts.ready = board.tasks().filter(|t| board.is_ready(t)).count();
    counts
}

/// The board's tasks by status (`ready` left at 0).
pub fn count_statuses(board: &task::Board) -> TaskCounts {
    let mut counts = TaskCounts::default();
    for t in board.tasks() {
        match t.status {
            TaskStatus::Open => counts.open += 1,
            TaskStatus::Claimed => counts.claimed += 1,
            TaskStatus::Done => counts.done += 1,
            TaskStatus::Failed => counts.failed += 1,
            TaskStatus::Cancelled => counts.cancelled += 1,
        }
    }
    counts
}
