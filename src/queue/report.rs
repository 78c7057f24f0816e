//! What a queue run reports: its decisions as users and scripts see them,
//! its test runs and what it found on the way. [`mod@super::run`] fills it in;
//! [`super::push`] adds its retries, so both depend on this module and not
//! on each other.

use std::path::PathBuf;

use serde::Serialize;

use super::decision::{self, Decision, Verdict};
use super::held;
use super::land::CheckoutNote;
use super::runner::Timing;
use super::Untested;

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// `main` when the run ended.
    pub main: Option<String>,
    pub batches: usize,
    /// Test runs (each: setup, then the test commands, on one merge commit).
    pub test_runs: usize,
    pub decisions: Vec<DecisionView>,
    /// Checkouts of `main` and what happened to them when it moved.
    pub checkouts: Vec<CheckoutNote>,
    /// Batches redone because `main` moved while they were tested.
    pub restarts: usize,
    /// Atomic pushes the remote rejected (and that were retried).
    pub push_retries: usize,
    /// The process group of a killed run's setup or test command, still
    /// running in the scratch worktree, that this run killed first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub killed_leftover: Option<i32>,
    /// Commits on `main` the queue did not land, reported by this run to
    /// `human` (it builds on them all the same).
    pub untested: Vec<Untested>,
    /// Every test run, in order, with where its whole log is kept.
    pub runs: Vec<TestRun>,
    /// Entries left queued because their domain is halted.
    pub waiting: Vec<held::Waiting>,
}

/// One test run: setup and the test commands on one merge commit.
#[derive(Debug, Clone, Serialize)]
pub struct TestRun {
    pub commit: String,
    /// The domains merged into it, in stack order.
    pub domains: Vec<String>,
    pub passed: bool,
    /// Part of the search for a failed batch's culprit.
    pub bisecting: bool,
    /// The whole output of its commands (`.git/comm-node/queue/logs/`).
    pub log: PathBuf,
    pub seconds: u64,
    /// Each command that ran, setup first, with its duration.
    pub commands: Vec<Timing>,
}

/// A decision as shown to users and scripts.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionView {
    pub entry: String,
    pub domain: String,
    pub head: String,
    pub task: Option<String>,
    /// `landed` or `rejected`.
    pub outcome: &'static str,
    /// `conflict`, `boundary`, `tests`, `timeout` or `missing` for a rejection.
    pub reason: Option<&'static str>,
    pub summary: String,
    /// The commit `main` moved to, for a landing (the batch tip).
    pub main: Option<String>,
    /// This entry's own merge commit, for a landing (equal to `main` for
    /// the last entry of its batch; absent when recorded after a crash).
    pub merge: Option<String>,
    /// The test log tail on comm (`artifacts/...`), for a test failure.
    pub artifact: Option<String>,
    /// The whole log of the test run that decided it (kept locally).
    pub log: Option<PathBuf>,
}

impl DecisionView {
    pub(super) fn of(d: &Decision, main_branch: &str, log: Option<PathBuf>) -> DecisionView {
        let (main, merge) = match &d.verdict {
            Verdict::Landed { main, merge, .. } => {
                (Some(main.to_string()), merge.map(|m| m.to_string()))
            }
            _ => (None, None),
        };
        DecisionView {
            entry: d.entry.id.clone(),
            domain: d.entry.domain.clone(),
            head: d.entry.head.clone(),
            task: d.entry.task.clone(),
            outcome: if main.is_some() {
                decision::LANDED_KIND
            } else {
                decision::REJECTED_KIND
            },
            reason: d.reason(),
            summary: d.summary(main_branch),
            main,
            merge,
            artifact: d.artifact().map(|a| format!("artifacts/{a}")),
            log,
        }
    }
}
