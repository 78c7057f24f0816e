//! Waking when comm moves, without polling: inotify on the folders where
//! git writes refs (`refs/heads/`, and the git dir for `packed-refs`).
//!
//! Git updates a ref by renaming `comm.lock` over `comm`, so a rename into
//! either folder is the signal; anything else there (another branch moving)
//! only costs one cheap re-read of the tip. A thread blocks on the inotify
//! descriptor and wakes the supervisor through a [`Notify`]; nothing is
//! read on a timer.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::Notify;

/// Starts watching the ref folders of the repository whose shared git dir
/// is `common_dir`, and file removals in `agent_dirs` (an `attach` ending
/// removes its `paused` file); `notify` is woken on every change there.
pub fn watch_refs(
    common_dir: &Path,
    agent_dirs: &[std::path::PathBuf],
    notify: Arc<Notify>,
) -> std::io::Result<()> {
    let dirs = [common_dir.join("refs/heads"), common_dir.to_owned()]
        .into_iter()
        .map(|d| (d, REF_MASK))
        .chain(agent_dirs.iter().map(|d| (d.clone(), libc::IN_DELETE)))
        .collect::<Vec<_>>();
    watch_dirs(&dirs, move || notify.notify_one())
}

/// What a ref folder is watched for: a ref renamed into place, a file
/// written or created or removed there.
pub const REF_MASK: u32 =
    libc::IN_MOVED_TO | libc::IN_CREATE | libc::IN_CLOSE_WRITE | libc::IN_DELETE;

/// Watches each folder of `dirs` for its inotify mask and calls `wake` on
/// every change there, from a thread that blocks on the descriptor (the
/// cockpit's redraw trigger; [`watch_refs`] for `up`). A folder that does
/// not exist is an error.
pub fn watch_dirs(
    dirs: &[(std::path::PathBuf, u32)],
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<()> {
    // SAFETY: plain system calls on a descriptor this function owns.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    for (dir, mask) in dirs {
        let path = CString::new(dir.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        // SAFETY: `path` is a valid C string for the duration of the call.
        if unsafe { libc::inotify_add_watch(fd, path.as_ptr(), *mask) } < 0 {
            let e = std::io::Error::last_os_error();
            // SAFETY: closing the descriptor opened above.
            unsafe { libc::close(fd) };
            return Err(e);
        }
    }
    std::thread::Builder::new()
        .name("comm-node-watch".into())
        .spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                // SAFETY: reads into a buffer this thread owns.
                let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0
                    && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                {
                    return;
                }
                if n > 0 {
                    wake();
                }
            }
        })?;
    Ok(())
}
