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
    cmd.output().map_err(not_started)
}

fn not_started(e: std::io::Error) -> GitError {
    GitError {
        context: "cannot run git (is it installed and on PATH?)".into(),
        source: git2::Error::from_str(&e.to_string()),
    }
}

/// Runs `cmd` as the leader of a process group of its own, tells
/// `started` its pid (the group's id) as soon as it runs, and collects its
/// output; only failing to start is an error.
pub(super) fn run_in_group(cmd: &mut Command, started: &mut dyn FnMut(u32)) -> Result<Output> {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(not_started)?;
    started(child.id());
    child.wait_with_output().map_err(|e| GitError {
        context: "cannot wait for git".into(),
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
