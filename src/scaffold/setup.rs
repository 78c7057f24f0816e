//! `setup` in each domain worktree at `init`, so an agent can run its own
//! tests there (`node_modules`, a virtualenv, a build cache...).
//!
//! The commands are comm.yaml's `setup`, run like the merge queue runs them
//! (`sh -c`, in order, each in its own process group under the queue's
//! timeout, output to a log). A worktree whose setup succeeded records the
//! commands in its private git dir (`comm-node-setup`), so a rerun of init
//! skips it until `setup` changes, and retries one that failed. `init`
//! runs setups last, after everything else is in place, so a failing setup
//! never leaves the rest of init half done.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::git::Repo;
use crate::queue::runner;

/// The record of the setup commands that last succeeded in a worktree.
const RECORD: &str = "comm-node-setup";
/// The output of the last setup run in a worktree.
const LOG: &str = "comm-node-setup.log";
/// The process group of a setup command while it runs.
const GROUP: &str = "comm-node-setup.group";
/// Limit on each command when comm.yaml sets no `queue.timeout`.
const DEFAULT_TIMEOUT: u64 = 30 * 60;

/// A setup that did not pass in one worktree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupFailure {
    pub domain: String,
    /// The command as written in comm.yaml.
    pub command: String,
    /// `exited with 1`, `timed out after 30m`...
    pub reason: String,
    /// The whole output of the run.
    pub log: PathBuf,
    /// Its last lines.
    pub tail: String,
}

impl std::fmt::Display for SetupFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "setup of `{}`: `{}` {} (log: {})",
            self.domain,
            self.command,
            self.reason,
            self.log.display()
        )
    }
}

/// What the record holds for the current `setup` commands.
fn record_text(config: &Config) -> String {
    config.setup.join("\n") + "\n"
}

/// Whether `domain`'s worktree still needs the current `setup` run.
pub fn needed(repo: &Repo, config: &Config, domain: &str) -> bool {
    if config.setup.is_empty() {
        return false;
    }
    let record = repo.worktree_git_dir(domain).join(RECORD);
    std::fs::read_to_string(record).ok() != Some(record_text(config))
}

/// Runs `setup` in `domain`'s worktree at `path`; records it on success.
pub fn run(
    repo: &Repo,
    config: &Config,
    domain: &str,
    path: &Path,
) -> Result<Option<SetupFailure>, std::io::Error> {
    let private = repo.worktree_git_dir(domain);
    let log = private.join(LOG);
    let record = private.join(RECORD);
    let group = private.join(GROUP);
    // A setup a killed init left running is stopped first.
    let _ = crate::queue::leftovers::reap_group(&group);
    let _ = std::fs::remove_file(&record);
    let _ = std::fs::remove_file(&log);
    let failure = runner::run_commands(
        path,
        &config.setup,
        timeout(config),
        &log,
        &group,
        &crate::queue::progress::silent,
    )?;
    let Some(failure) = failure else {
        std::fs::write(&record, record_text(config))?;
        return Ok(None);
    };
    Ok(Some(SetupFailure {
        domain: domain.to_owned(),
        command: failure.command,
        reason: failure.reason,
        tail: runner::tail(&log).unwrap_or_default(),
        log,
    }))
}

/// The limit on each command: comm.yaml's `queue.timeout`, else 30 minutes.
fn timeout(config: &Config) -> Duration {
    let secs = config
        .queue
        .timeout
        .as_deref()
        .and_then(|t| crate::clock::parse_duration(t).ok())
        .unwrap_or(DEFAULT_TIMEOUT);
    Duration::from_secs(secs)
}
