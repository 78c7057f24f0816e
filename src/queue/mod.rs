//! The merge queue: domains submit their branch head; a run merges the
//! candidates in memory onto `main` (priority, then arrival), re-checks
//! boundaries, tests the exact merge commit in a scratch worktree, and
//! lands it with a compare-and-swap (the tested commit is the landed
//! commit, bit for bit). A failing batch is bisected: the passing prefix
//! lands, the culprit is rejected with its test log tail, the rest is
//! rebuilt on the new `main`. Every decision is an event on `comm`.
//!
//! - [`entry`]: `queue/<domain>.yaml` on `comm`, submit and ordering.
//! - [`stack`]: trial merges and boundary checks, in memory.
//! - [`bisect`]: the search for the first failing layer.
//! - [`runner`]: setup and test commands, timeouts, log tails.
//! - [`workspace`]: the run lock, the scratch worktree and the test logs
//!   under `.git/`.
//! - [`current`]: the step a run is at, in a file `watch` reads.
//! - [`land`]: the compare-and-swap of `main` and its checkouts.
//! - [`leftovers`]: what a killed run leaves (process groups, a half-done
//!   checkout update) and how the next run disposes of it.
//! - [`decision`]: `landed` / `rejected` events on `comm`.
//! - [`held`]: the entries of halted domains, which wait instead of landing.
//! - [`finish`]: the one finishing rule (done when it lands) and the
//!   last rejection of a head.
//! - [`progress`]: the steps a run reports to its caller as it goes.
//! - [`prune`]: the room `.git/comm-node/` takes, and removing the scratch
//!   worktree and logs (never during a run).
//! - [`push`]: fetch, atomic push of `main` and `comm`, retries.
//! - [`untested`]: commits on `main` the queue did not land, reported once.
//! - [`mod@run`]: one run, batch after batch; why it is crash safe.
//!
//! Nothing here prints: a run reports its steps to an observer.

pub mod bisect;
pub mod current;
pub mod decision;
pub mod entry;
pub mod finish;
pub mod held;
pub mod land;
pub mod leftovers;
pub mod progress;
pub mod prune;
pub mod push;
pub mod report;
pub mod run;
pub mod runner;
pub mod stack;
pub mod untested;
pub mod workspace;

use std::path::PathBuf;

use git2::Oid;

use crate::comm::CommError;
use crate::git::GitError;

pub use current::CurrentStep;
pub use decision::{Decision, Verdict, LANDED_KIND, REJECTED_KIND};
pub use entry::{pending, submit, Entry, SubmitRequest, Submitted, SUBMIT_KIND};
pub use land::CheckoutNote;
pub use progress::Step;
pub use report::{DecisionView, RunReport, TestRun};
pub use run::{run, Options};
pub use runner::Failure;
pub use untested::{Untested, UNTESTED_KIND};
pub use workspace::is_running;

/// Why a queue run or submission could not go on.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Comm(#[from] CommError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Another run holds the lock.
    #[error("another queue run is active in this repository (it holds {})", path.display())]
    Busy { path: PathBuf },
    #[error("branch {0} does not exist")]
    NoMain(String),
    /// The local `main` has commits the remote lacks: never pushed untested.
    #[error("local {branch} ({local}) has commits that {remote} does not have")]
    LocalMain {
        branch: String,
        local: Oid,
        remote: String,
    },
}
