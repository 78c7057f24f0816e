//! The cockpit behind `comm-node watch`: one screen over every domain, the
//! task graph, the merge queue and the event stream, and a remote control
//! over the same library calls as the commands (DESIGN §11: it never has
//! state of its own).
//!
//! - [`model`] gathers what the screen shows from comm and `up`'s state
//!   files, reusing [`crate::status::gather`]; it only reads.
//! - [`panels`] draws the model into a ratatui buffer: pure functions of
//!   the model and the view state, so every screen is a snapshot test.
//! - [`keys`] is the view state and a pure state machine over key presses
//!   that returns [`keys::Action`]s; the binary executes them through the
//!   library (halt, resume, task reassign and edit, budget grant, send,
//!   attach) and redraws.
//!
//! Nothing here touches the terminal: the binary owns it.

mod chains;
pub mod keys;
pub mod model;
pub mod panels;
mod tasks;

pub use keys::{Action, App, Focus, Mode};
pub use model::Model;

use std::path::PathBuf;

use crate::config::Config;
use crate::git::Repo;
use crate::runtime::watch::{watch_dirs, REF_MASK};

/// The folders whose changes call for a redraw: where git writes refs
/// (comm, main and the domain branches, packed-refs), `up`'s runtime
/// folder of each domain (`state`, `now.json`, the lock) and the queue's
/// folder (its lock and logs). Those that do not exist yet (a domain's
/// folder before its first `up`) are watched from when they are made.
pub fn triggers(repo: &Repo, config: &Config) -> Vec<(PathBuf, u32)> {
    let common = repo.common_dir();
    let files = libc::IN_MOVED_TO | libc::IN_CREATE | libc::IN_CLOSE_WRITE | libc::IN_DELETE;
    let mut dirs = vec![
        (common.join("refs/heads"), REF_MASK),
        (common.join("refs/heads/domain"), REF_MASK),
        (common.to_path_buf(), REF_MASK),
        (repo.state_path("agents"), files),
        (repo.state_path("queue"), files),
        (repo.state_path("queue").join("logs"), files),
    ];
    for name in config.domains.keys() {
        dirs.push((crate::runtime::agent_dir(repo, name), files));
    }
    dirs
}

/// Calls `wake` whenever one of [`triggers`] changes (inotify; nothing on
/// a timer).
pub fn watch(
    repo: &Repo,
    config: &Config,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<()> {
    watch_dirs(&triggers(repo, config), wake)
}
