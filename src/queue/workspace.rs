//! The queue's private place under `.git/comm-node/queue/`: the run lock,
//! the scratch worktree and the test log.
//!
//! - `lock`: held with `flock(2)` for the whole run, so two queue runs on
//!   one repository never share the scratch worktree. The kernel drops it
//!   when the process dies, even by `kill -9`: no stale lock to clean.
//! - `worktree/`: a detached linked worktree, reused between runs. Before
//!   each test run it is checked out with `--force` and cleaned of
//!   untracked files, but ignored files (`target/`, `node_modules/`) stay,
//!   so `setup` caches survive between runs.
//! - `logs/`: the whole output of every test run, passing or not, one
//!   file each (`<unix time>-<commit>.log`); the newest [`KEPT_LOGS`] are
//!   kept.
//! - `test.group`, `checkout-updates/`: what a run that is killed
//!   leaves for the next one to clean up (see [`super::leftovers`]).
//! - `step.yaml`: the step the run is at, for `watch` (see
//!   [`super::current`]).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use git2::Oid;

use super::current::{self, StepFile};
use super::QueueError;
use crate::git::Repo;

/// Test run logs kept in `logs/` (older ones are removed as runs add more).
pub const KEPT_LOGS: usize = 200;

/// The queue's directory, locked for this run.
pub struct Workspace {
    dir: PathBuf,
    /// Declared before the lock: the step file goes while the run still
    /// holds it.
    steps: StepFile,
    _lock: File,
}

impl Workspace {
    /// Takes the run lock; [`QueueError::Busy`] when another run holds it.
    pub fn lock(repo: &Repo) -> Result<Workspace, QueueError> {
        let dir = dir(repo);
        std::fs::create_dir_all(&dir).map_err(|e| QueueError::io(&dir, e))?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| QueueError::io(&path, e))?;
        if !try_flock(&file) {
            return Err(QueueError::Busy { path });
        }
        let steps = StepFile::new(dir.join(current::FILE));
        Ok(Workspace {
            dir,
            steps,
            _lock: file,
        })
    }

    /// The run's step file.
    pub fn steps(&self) -> &StepFile {
        &self.steps
    }

    /// The scratch worktree.
    pub fn worktree(&self) -> PathBuf {
        self.dir.join("worktree")
    }

    /// A new, empty log for a test run on `commit`; the oldest logs beyond
    /// [`KEPT_LOGS`] go.
    pub fn new_log(&self, commit: Oid) -> Result<PathBuf, QueueError> {
        let dir = logs_dir(&self.dir);
        std::fs::create_dir_all(&dir).map_err(|e| QueueError::io(&dir, e))?;
        let mut names = log_names(&dir).map_err(|e| QueueError::io(&dir, e))?;
        let excess = (names.len() + 1).saturating_sub(KEPT_LOGS);
        for name in names.drain(..excess) {
            let old = dir.join(name);
            std::fs::remove_file(&old).map_err(|e| QueueError::io(&old, e))?;
        }
        let stem = format!(
            "{:010}-{}",
            crate::clock::now().max(0),
            &commit.to_string()[..12]
        );
        let mut path = dir.join(format!("{stem}.log"));
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = dir.join(format!("{stem}-{n}.log"));
        }
        Ok(path)
    }

    /// The record of the running setup or test command's process group.
    pub fn test_group(&self) -> PathBuf {
        self.dir.join("test.group")
    }

    /// Where the checkout updates in progress are recorded, one file each.
    pub fn checkout_updates(&self) -> PathBuf {
        self.dir.join("checkout-updates")
    }

    /// The record of an update of the checkout at `path`.
    pub fn checkout_update(&self, path: &Path) -> PathBuf {
        let name =
            crate::git::blob_id(path.as_os_str().as_bytes()).expect("hashing bytes cannot fail");
        self.checkout_updates().join(format!("{name}.yaml"))
    }
}

/// Whether a queue run holds the lock of this repository right now.
pub fn is_running(repo: &Repo) -> bool {
    let path = dir(repo).join("lock");
    match File::open(&path) {
        Ok(file) => !try_flock(&file),
        Err(_) => false,
    }
}

/// The queue's directory under `.git/comm-node/`.
pub(super) fn dir(repo: &Repo) -> PathBuf {
    repo.state_path("queue")
}

fn logs_dir(queue: &Path) -> PathBuf {
    queue.join("logs")
}

/// The logs in `dir`, oldest first.
fn log_names(dir: &Path) -> std::io::Result<Vec<std::ffi::OsString>> {
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .filter(|n| n.to_string_lossy().ends_with(".log"))
        .collect();
    names.sort();
    Ok(names)
}

/// Takes an exclusive, non-blocking `flock` on `file`; false if held.
fn try_flock(file: &File) -> bool {
    // SAFETY: flock(2) on a descriptor we own; it touches no memory.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

impl QueueError {
    pub(super) fn io(path: &Path, source: std::io::Error) -> QueueError {
        QueueError::Io {
            what: path.display().to_string(),
            source,
        }
    }
}
