//! Running the `git` executable, for what comm-node leaves to git itself:
//! fetch and push (the user's transports and credentials), `merge-tree`
//! (git's own merge), and checkouts of the queue's scratch worktree.

use std::process::{Command, Output};

use super::{GitError, Result};

/// Variables a hook's environment may carry that would point a nested git
/// at the wrong repository, worktree or index.
const INHERITED: [&str; 4] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
];

/// A `git` command that does not inherit [`INHERITED`]; the caller adds
/// `--git-dir` or `-C` and the arguments.
pub(super) fn git() -> Command {
    let mut cmd = Command::new("git");
    for var in INHERITED {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `cmd` and collects its output; only failing to start is an error.
pub(super) fn run(cmd: &mut Command) -> Result<Output> {
    cmd.output().map_err(|e| GitError {
        context: "cannot run git (is it installed and on PATH?)".into(),
        source: git2::Error::from_str(&e.to_string()),
    })
}

/// The error for a git command that ran and failed: `what` it was, and
/// what it said on stderr.
pub(super) fn failed(what: &str, stderr: &[u8]) -> GitError {
    GitError {
        context: format!("{what} failed"),
        source: git2::Error::from_str(String::from_utf8_lossy(stderr).trim()),
    }
}
