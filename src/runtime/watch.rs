//! Waking when comm moves, without polling: inotify on the folders where
//! git writes refs (`refs/heads/`, and the git dir for `packed-refs`).
//!
//! Git updates a ref by renaming `comm.lock` over `comm`, so a rename into
//! either folder is the signal; anything else there (another branch moving)
//! only costs one cheap re-read of the tip. A thread blocks on the inotify
//! descriptor and wakes the supervisor through a [`Notify`]; nothing is
//! read on a timer.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
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
/// not exist yet is watched from when it is made: its nearest existing
/// ancestor is watched for new folders, which wake nobody by themselves.
pub fn watch_dirs(
    dirs: &[(std::path::PathBuf, u32)],
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<()> {
    // SAFETY: plain system calls on a descriptor this function owns.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut watcher = Watcher {
        fd,
        watched: HashSet::new(),
        pending: Vec::new(),
    };
    for (dir, mask) in dirs {
        if dir.is_dir() {
            if let Err(e) = watcher.add(dir, *mask, true) {
                // SAFETY: closing the descriptor opened above.
                unsafe { libc::close(fd) };
                return Err(e);
            }
        } else {
            watcher.pending.push((dir.clone(), *mask));
        }
    }
    watcher.adopt();
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
                if n <= 0 {
                    continue;
                }
                let seen = watcher.concerns(&buf[..n as usize]);
                if watcher.adopt() || seen {
                    wake();
                }
            }
        })?;
    Ok(())
}

/// The inotify descriptor of [`watch_dirs`] and what it watches.
struct Watcher {
    fd: i32,
    /// The watches of the folders asked for.
    watched: HashSet<i32>,
    /// Folders asked for that do not exist yet, with their masks.
    pending: Vec<(PathBuf, u32)>,
}

/// What an ancestor of a pending folder is watched for: a folder made in it
/// (`IN_ONLYDIR` only refuses a watch on a non-folder: events for files made
/// there arrive too, and only cost a look at the pending folders).
const MADE: u32 = libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_ONLYDIR;

impl Watcher {
    /// Watches `dir` for `mask` (added to what it is watched for already);
    /// `asked`: one of the folders asked for.
    fn add(&mut self, dir: &Path, mask: u32, asked: bool) -> std::io::Result<()> {
        let path = CString::new(dir.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        // SAFETY: `path` is a valid C string for the duration of the call.
        let wd =
            unsafe { libc::inotify_add_watch(self.fd, path.as_ptr(), mask | libc::IN_MASK_ADD) };
        if wd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if asked {
            self.watched.insert(wd);
        }
        Ok(())
    }

    /// Watches the pending folders that exist now, and the nearest existing
    /// ancestor of the others; whether a folder was adopted.
    fn adopt(&mut self) -> bool {
        let mut adopted = false;
        for (dir, mask) in std::mem::take(&mut self.pending) {
            loop {
                if dir.is_dir() {
                    if self.add(&dir, mask, true).is_ok() {
                        adopted = true;
                    } else {
                        self.pending.push((dir, mask));
                    }
                    break;
                }
                let nearest = |d: &Path| {
                    d.ancestors()
                        .skip(1)
                        .find(|a| a.is_dir())
                        .map(Path::to_path_buf)
                };
                let Some(ancestor) = nearest(&dir) else {
                    self.pending.push((dir, mask));
                    break;
                };
                let _ = self.add(&ancestor, MADE, false);
                // Made before the ancestor was watched: look again.
                if !dir.is_dir() && nearest(&dir).as_ref() == Some(&ancestor) {
                    self.pending.push((dir, mask));
                    break;
                }
            }
        }
        adopted
    }

    /// Whether `events` (what one read returned) touch a folder asked for.
    fn concerns(&self, mut events: &[u8]) -> bool {
        // struct inotify_event: wd (i32), mask, cookie, len (u32), name[len].
        const HEADER: usize = 16;
        while events.len() >= HEADER {
            let wd = i32::from_ne_bytes(events[0..4].try_into().expect("4 bytes"));
            let len = u32::from_ne_bytes(events[12..16].try_into().expect("4 bytes")) as usize;
            // A queue overflow (wd -1) may have hidden anything.
            if wd == -1 || self.watched.contains(&wd) {
                return true;
            }
            events = events.get(HEADER + len..).unwrap_or_default();
        }
        false
    }
}
