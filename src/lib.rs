//! comm-node: git-native coordination for several coding agents on one repository.
//!
//! - [`config`] reads and validates `comm.yaml` (domains, scopes, rules);
//!   [`project`] finds it from any checkout.
//! - [`git`] is the only module that calls git2: refs with compare-and-swap,
//!   trees, worktrees.
//! - [`comm`] is the bus: one commit per event on the `comm` branch, state in
//!   its tip tree, appends by compare-and-swap.
//! - [`scaffold`] plans and applies `comm-node init`: branches, worktrees,
//!   role instructions, hooks, domain registration.
//! - [`boundary`] extracts imports with tree-sitter, resolves them to files
//!   and checks them against the declared domains.
//! - [`hooks`] installs the git hook shims and answers them.
//! - [`status`] gathers the one-screen report; [`health`] tells active,
//!   stalled and lapsed domains apart without heartbeat commits.
//! - [`conflicts`] trial-merges live domain branches with `main` and each other.
//! - [`queue`] the merge queue: submit, stack, test, bisect, land.
//! - [`report`] `comm-node report`: the history as one self-contained HTML page.
//! - [`pathglob`] decides exactly whether two path globs share a file.
//! - [`runtime`] `comm-node up`: runs an agent CLI per domain, feeds it
//!   work from comm, records turns and usage.
//! - [`retry`] jittered backoff for contended refs.
//! - [`cockpit`] `comm-node watch`: the live dashboard and its keys.
//! - [`clock`] the time leases and expiries are measured with.
//! - [`text`] counts with their noun in the right number, and sizes.
//! - [`cachefile`] escaping and atomic writes for the caches under `.git/comm-node/`.
//!
//! The library never prints; the binary's `cli` module decides what users see.

pub mod boundary;
pub mod cachefile;
pub mod clock;
pub mod cockpit;
pub mod comm;
pub mod config;
pub mod conflicts;
pub mod fixture;
pub mod git;
pub mod health;
pub mod hooks;
pub mod jobs;
pub mod pathglob;
pub mod project;
pub mod queue;
pub mod report;
pub mod retry;
pub mod runtime;
pub mod scaffold;
pub mod spend;
pub mod status;
pub mod text;
