//! What comm-node keeps under `.git/comm-node/`, how much room it takes,
//! and taking away what the queue can rebuild: its scratch worktree (with
//! the ignored build caches `setup` made there, `node_modules/` or
//! `target/`, which can grow to hundreds of megabytes) and its test logs.
//!
//! Pruning holds the run lock, so it never runs while a queue run is live,
//! and first kills the test command a killed run left running in the
//! worktree. The next run recreates the worktree (and `setup` its caches).
//! The records a killed run leaves for the next one (`test.group`,
//! `checkout-updates/`) are never pruned.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::workspace::Workspace;
use super::{leftovers, QueueError};
use crate::git::Repo;
use crate::scaffold::uninstall::dir_size;

/// The parts of the queue's directory that pruning removes.
const PRUNABLE: [&str; 3] = ["worktree", "logs", "test.log"];

/// The room `.git/comm-node/` takes.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub dir: PathBuf,
    pub bytes: u64,
    /// Its parts, largest first (the queue's split into its own parts).
    pub parts: Vec<Part>,
}

/// One file or folder under `.git/comm-node/`.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    /// Its path under `.git/comm-node/` (`queue/worktree`).
    pub name: String,
    pub bytes: u64,
    /// Whether `comm-node queue prune` removes it.
    pub prunable: bool,
}

/// Measures `.git/comm-node/` (nothing is written).
pub fn usage(repo: &Repo) -> Usage {
    let dir = repo.state_path("");
    let mut parts = Vec::new();
    for name in children(&dir) {
        if name == "queue" {
            for inner in children(&dir.join("queue")) {
                let name = format!("queue/{inner}");
                let prunable = PRUNABLE.contains(&inner.as_str());
                parts.push(part(&dir, name, prunable));
            }
        } else {
            parts.push(part(&dir, name, false));
        }
    }
    parts.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    Usage {
        bytes: parts.iter().map(|p| p.bytes).sum(),
        dir,
        parts,
    }
}

fn part(dir: &Path, name: String, prunable: bool) -> Part {
    let path = dir.join(&name);
    let bytes = match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_dir() => dir_size(&path),
        Ok(m) => m.len(),
        Err(_) => 0,
    };
    Part {
        name,
        bytes,
        prunable,
    }
}

/// The names in `dir`, sorted (none when it does not exist).
fn children(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// What [`prune`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pruned {
    /// What was removed, with its size.
    pub removed: Vec<Part>,
    pub freed: u64,
    /// The process group of a killed run's test command, killed first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub killed_leftover: Option<i32>,
}

/// Removes the queue's scratch worktree and test logs;
/// [`QueueError::Busy`] while a queue run is live.
pub fn prune(repo: &Repo) -> Result<Pruned, QueueError> {
    let workspace = Workspace::lock(repo)?;
    let mut pruned = Pruned {
        killed_leftover: leftovers::reap_group(&workspace.test_group())?.map(|g| g.pgid),
        ..Pruned::default()
    };
    let state = repo.state_path("");
    for name in PRUNABLE {
        let path = repo.state_path("queue").join(name);
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        let found = part(&state, format!("queue/{name}"), true);
        if name == "worktree" && repo.is_our_worktree(&path) {
            repo.remove_worktree(&path, true)?;
        }
        remove(&path)?;
        pruned.freed += found.bytes;
        pruned.removed.push(found);
    }
    Ok(pruned)
}

/// Removes a file or a folder with everything in it (gone already is fine).
fn remove(path: &Path) -> Result<(), QueueError> {
    let removed = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(QueueError::io(path, e)),
        _ => Ok(()),
    }
}
