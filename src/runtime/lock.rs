//! One `up` per domain per repository: an exclusive `flock` on
//! `.git/comm-node/agents/<domain>/lock`, held for the life of the process
//! and released by the kernel when it dies, however it dies.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use super::RuntimeError;

/// A held domain lock; dropping it releases the lock.
#[derive(Debug)]
pub struct DomainLock {
    _file: File,
}

/// Takes the lock at `path` for `domain`, or says which process holds it.
pub fn lock_domain(path: &Path, domain: &str) -> Result<DomainLock, RuntimeError> {
    let io = |e: std::io::Error| RuntimeError::Io(format!("{}: {e}", path.display()));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    // SAFETY: flock on a descriptor owned by `file`.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        return Err(RuntimeError::Busy {
            domain: domain.to_owned(),
            pid: holder.trim().to_owned(),
        });
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(DomainLock { _file: file })
}

/// Whether a live process holds the lock at `path` (an `up` runs the domain).
pub fn is_held(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    // SAFETY: flock on a descriptor owned by `file`; released when it drops.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) != 0 }
}
