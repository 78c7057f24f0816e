//! What a queue run tells its caller while it works: one [`Step`] per
//! thing worth a line (a batch and its candidates, a candidate left out,
//! each test run and each command in it with its outcome, the bisection,
//! the landing, each decision). The library never prints; the command
//! line passes an observer that renders the steps as they come (on stderr
//! under `--json`, so stdout stays one JSON document).

use std::path::Path;
use std::time::Duration;

use git2::Oid;

use super::{Entry, Failure};

/// One step of a run, as it happens.
#[derive(Debug)]
pub enum Step<'a> {
    /// A batch starts: these candidates, in order, on `base`.
    Batch {
        number: usize,
        base: Oid,
        candidates: &'a [Entry],
    },
    /// With `--push`: comm is synced and `main` fetched from `remote`.
    Fetching { remote: &'a str },
    /// Entries whose head `base` already contains are recorded as landed
    /// (a killed run had moved `main`, or they were merged by hand).
    Recovering { entries: usize },
    /// A test run starts on `commit`, the merge of `domains` on `base`:
    /// the first `layer` of the batch's `of` stacked candidates.
    Testing {
        commit: Oid,
        domains: Vec<&'a str>,
        layer: usize,
        of: usize,
        /// Part of the search for the culprit of a failed batch.
        bisecting: bool,
    },
    /// A setup or test command starts in the scratch worktree.
    Command { command: &'a str },
    /// A command ended after `took`: passed when `failure` is `None`.
    CommandDone {
        command: &'a str,
        failure: Option<&'a Failure>,
        took: Duration,
    },
    /// A test run ended; its whole output is kept in `log`.
    Tested {
        commit: Oid,
        passed: bool,
        log: &'a Path,
    },
    /// The batch failed: its `candidates` are bisected, in at most `runs`
    /// more test runs.
    Bisecting { candidates: usize, runs: usize },
    /// `main` moved from `from` to `to` (locally, or on the remote).
    Landed { from: Oid, to: Oid },
    /// With `--push`: `main` and the decisions went to `remote` in one
    /// atomic push.
    Pushed { remote: &'a str },
    /// `main` moved under the run: the batch is redone on the new `main`.
    Restarting,
    /// An entry stays queued without being tried: its domain is halted.
    Waiting { entry: &'a Entry, why: &'a str },
    /// A decision, as its one-line summary, with the comm artifact holding
    /// its test log tail (a test failure).
    Decided {
        summary: &'a str,
        artifact: Option<&'a str>,
    },
}

/// Receives the steps of a run.
pub type Observer<'a> = &'a dyn Fn(&Step<'_>);

/// An observer that ignores everything.
pub fn silent(_: &Step<'_>) {}

/// Test runs a bisection of `n` layers needs at most (⌈log2 n⌉).
pub fn bisect_runs(n: usize) -> usize {
    let mut runs = 0;
    while (1usize << runs) < n {
        runs += 1;
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::bisect_runs;

    #[test]
    fn bisecting_sixteen_takes_at_most_four_runs() {
        assert_eq!(bisect_runs(1), 0);
        assert_eq!(bisect_runs(2), 1);
        assert_eq!(bisect_runs(3), 2);
        assert_eq!(bisect_runs(16), 4);
        assert_eq!(bisect_runs(17), 5);
    }
}
