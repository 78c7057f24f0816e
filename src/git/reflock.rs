//! comm-node's own lock around each ref update, so a stale `<ref>.lock` can
//! be told from one a live writer holds.
//!
//! git guards a ref with `<ref>.lock`, created and renamed away within
//! microseconds; a writer killed in between leaves it behind and every later
//! update fails until someone removes it. Removing it is safe only when no
//! live writer holds it: a writer stalled inside its update (stopped, frozen,
//! swapped out) would resume and rename another writer's lock into place, or
//! find its own gone. So every comm-node ref update first takes an `flock`
//! on `.git/comm-node/locks/<ref>.flock`, which the kernel releases when the
//! process dies, and writes its pid there. Holding it, a `<ref>.lock` older
//! than a few seconds was left by a dead comm-node (or by a foreign git
//! stalled that long) and may be broken; a live, stalled comm-node still
//! holds the flock, so the others wait for it, up to [`WAIT`], then fail
//! naming its pid, having written nothing.
//!
//! Test-only hooks, read only here and never set outside the tests:
//! `COMM_NODE_TEST_STALL_REF_UPDATE` (`<ms>` to sleep, or `stop` to SIGSTOP
//! itself) stalls this process's first ref update while it holds both locks;
//! `COMM_NODE_TEST_REF_LOCK_WAIT_MS` shortens [`WAIT`].

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use git2::{ErrorClass, ErrorCode};

use crate::retry::backoff;

/// How long to wait for another comm-node's update of the same ref: far
/// longer than any update takes, short enough to report a stuck one.
const WAIT: Duration = Duration::from_secs(30);

/// The advisory lock of one ref, held until dropped.
pub(super) struct RefLock {
    _file: File,
}

impl RefLock {
    /// Takes the lock of ref `name` of the repository whose common git dir is
    /// `common`, waiting up to [`WAIT`] for another comm-node holding it.
    pub(super) fn acquire(common: &Path, name: &str) -> Result<RefLock, git2::Error> {
        let path = lock_path(common, name);
        let mut file = open(&path).map_err(|e| os_error(&path, &e))?;
        let wait = wait_limit();
        let start = Instant::now();
        let mut attempt = 0;
        while !try_flock(&file) {
            if start.elapsed() >= wait {
                return Err(held_error(name, &path, &mut file, wait));
            }
            std::thread::sleep(backoff(attempt));
            attempt += 1;
        }
        // Who holds it, for the error another writer may report: written
        // over the previous holder's in place, at a fixed width (a pid has
        // at most 10 digits), since truncating the file first cost a
        // metadata update that took longer than the rest of the lock.
        let pid = format!("{:<10}\n", std::process::id());
        file.rewind()
            .and_then(|()| file.write_all(pid.as_bytes()))
            .map_err(|e| os_error(&path, &e))?;
        Ok(RefLock { _file: file })
    }
}

/// Stalls the first ref update of a test process (see the module doc).
pub(super) fn test_stall() {
    static DONE: AtomicBool = AtomicBool::new(false);
    let Ok(value) = std::env::var("COMM_NODE_TEST_STALL_REF_UPDATE") else {
        return;
    };
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    if value == "stop" {
        // SAFETY: raise(3) sends a signal to this process; no memory involved.
        unsafe { libc::raise(libc::SIGSTOP) };
    } else if let Ok(ms) = value.parse() {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

fn wait_limit() -> Duration {
    std::env::var("COMM_NODE_TEST_REF_LOCK_WAIT_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(WAIT, Duration::from_millis)
}

fn lock_path(common: &Path, name: &str) -> PathBuf {
    common
        .join("comm-node")
        .join("locks")
        .join(format!("{name}.flock"))
}

fn open(path: &Path) -> std::io::Result<File> {
    let open = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            open()
        }
        other => other,
    }
}

/// Takes an exclusive, non-blocking `flock` on `file`; false if held.
fn try_flock(file: &File) -> bool {
    // SAFETY: flock(2) on a descriptor we own; it touches no memory.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// The error for a lock another comm-node kept past the wait. Not a
/// `Locked` code: callers retry those, and this one should stop them.
fn held_error(name: &str, path: &Path, file: &mut File, wait: Duration) -> git2::Error {
    let mut holder = String::new();
    let _ = file.rewind().and_then(|_| file.read_to_string(&mut holder));
    let holder = holder.trim();
    let (who, resume) = if holder.is_empty() {
        ("another comm-node process".to_owned(), String::new())
    } else {
        (
            format!("comm-node process {holder}"),
            format!(" (kill -CONT {holder})"),
        )
    };
    git2::Error::new(
        ErrorCode::GenericError,
        ErrorClass::Os,
        format!(
            "{who} has held the update lock of {name} ({}) for over {} s; nothing was written. \
             It is stopped or stuck: resume it{resume} or end it, then retry",
            path.display(),
            wait.as_secs_f64()
        ),
    )
}

fn os_error(path: &Path, e: &std::io::Error) -> git2::Error {
    git2::Error::new(
        ErrorCode::GenericError,
        ErrorClass::Os,
        format!("cannot use the lock file {}: {e}", path.display()),
    )
}
