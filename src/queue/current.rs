//! The step a queue run is at, for `watch`: `step.yaml` beside the run
//! lock names it (`fetch`, `check api`, `merge api`, `checkout`, `setup npm ci`,
//! `test cargo test`, `land`, `push`, `record`) with the time it started
//! and the run's pid. Each step replaces the file atomically; the run
//! removes it when it ends, however it ends, short of SIGKILL. Writing it
//! is best effort, like `up`'s `now.json`: a step file that cannot be
//! written costs the display, never the run. A killed
//! run leaves it behind, so a reader believes it only while the run lock
//! is held and the process it names is alive: a stale file is never shown
//! as a run in progress.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::runner::Phase;
use super::workspace;
use crate::git::Repo;

/// The file's name in the queue's directory.
pub const FILE: &str = "step.yaml";

/// One step of a run, as the step file names it.
#[derive(Debug, Clone, Copy)]
pub enum Stage<'a> {
    /// With `--push`: comm synced, `main` and the heads fetched.
    Fetch,
    /// The boundary check of a domain's candidate.
    Check(&'a str),
    /// The trial merge of a domain's candidate onto the stack.
    Merge(&'a str),
    /// The scratch worktree checked out at the commit to test.
    Checkout,
    /// A setup or test command in the scratch worktree.
    Command(Phase, &'a str),
    /// The compare-and-swap of `main` and the checkouts that follow it.
    Land,
    /// With `--push`: the atomic push of `main` and `comm`.
    Push,
    /// The decisions written on `comm`.
    Record,
}

impl fmt::Display for Stage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Fetch => f.write_str("fetch"),
            Stage::Check(domain) => write!(f, "check {domain}"),
            Stage::Merge(domain) => write!(f, "merge {domain}"),
            Stage::Checkout => f.write_str("checkout"),
            Stage::Command(phase, command) => write!(f, "{} {command}", phase.name()),
            Stage::Land => f.write_str("land"),
            Stage::Push => f.write_str("push"),
            Stage::Record => f.write_str("record"),
        }
    }
}

/// What the step file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentStep {
    /// The [`Stage`] as text, e.g. `test cargo test`.
    pub step: String,
    /// When it started (unix seconds).
    pub since: i64,
    /// The run's process.
    pub pid: u32,
}

/// The step file of the run holding the lock; removed when dropped.
#[derive(Debug)]
pub struct StepFile {
    path: PathBuf,
}

impl StepFile {
    /// The step file at `path`, removing what a killed run left there.
    pub fn new(path: PathBuf) -> StepFile {
        let file = StepFile { path };
        file.remove();
        file
    }

    /// Names `stage` as the step the run is at, from now on.
    pub fn enter(&self, stage: &Stage) {
        let current = CurrentStep {
            step: stage.to_string(),
            since: crate::clock::now(),
            pid: std::process::id(),
        };
        let text = serde_yaml::to_string(&current).expect("a step serialises");
        let _ = crate::cachefile::write_atomic(&self.path, &text);
    }

    fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for StepFile {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The step of the queue run in progress in `repo`; `None` when no run
/// is, or when the step file is a killed run's (the lock is free, or the
/// process it names is gone).
pub fn current(repo: &Repo) -> Option<CurrentStep> {
    let text = std::fs::read_to_string(workspace::dir(repo).join(FILE)).ok()?;
    let step: CurrentStep = serde_yaml::from_str(&text).ok()?;
    (alive(step.pid) && workspace::is_running(repo)).then_some(step)
}

/// Whether process `pid` exists.
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only asks whether the process exists.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_replaces_the_last_and_the_file_goes_with_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, "step: left by a killed run\n").unwrap();
        let steps = StepFile::new(path.clone());
        assert!(!path.exists(), "a killed run's step is not taken over");
        steps.enter(&Stage::Merge("api"));
        steps.enter(&Stage::Command(Phase::Test, "cargo test"));
        let read: CurrentStep =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(read.step, "test cargo test");
        assert_eq!(read.pid, std::process::id());
        drop(steps);
        assert!(!path.exists());
    }
}
