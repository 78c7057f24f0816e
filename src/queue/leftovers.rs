//! What a killed run leaves behind, and how the next run disposes of it.
//!
//! A run records, under `.git/comm-node/queue/`, every process group it
//! starts that could outlive it (`test.group`: the setup or test command
//! running now; the `git read-tree` updating a checkout of `main`), and
//! the checkout update it is in the middle of (`checkout-updates/`, one
//! file per checkout).
//! A run that ends removes its records. The next run holds the run lock,
//! so the run that wrote a record it finds is dead: it kills the recorded
//! group (when that group still exists and its leader is the process that
//! was recorded, not a reuse of its pid) and finishes the update.
//!
//! It never removes a `.git/index.lock` that a live process holds open,
//! and never one it has no record of writing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::Oid;
use serde::{Deserialize, Serialize};

use super::QueueError;

/// How long a killed group may take to disappear.
const REAP_WAIT: Duration = Duration::from_secs(10);

/// A process group, as recorded when its leader started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub pgid: i32,
    /// The leader's start time (`/proc/<pid>/stat`), to tell it from a
    /// later process given the same pid; `None` where there is no `/proc`.
    pub start: Option<u64>,
}

impl Group {
    /// The group led by `pid`, which was just started.
    pub fn led_by(pid: u32) -> Group {
        let pgid = pid as i32;
        Group {
            pgid,
            start: start_time(pgid),
        }
    }

    /// Whether processes of this very group still exist.
    pub fn alive(&self) -> bool {
        // SAFETY: signal 0 only asks whether the process group exists.
        if unsafe { libc::kill(-self.pgid, 0) } != 0 {
            return false;
        }
        // A leader that is gone leaves its pid reserved while its group
        // lives; a leader with another start time is someone else.
        match (self.start, start_time(self.pgid)) {
            (Some(recorded), Some(now)) => recorded == now,
            _ => true,
        }
    }

    /// Kills the group with SIGKILL and waits (a bounded time) until it is
    /// gone; a group that is no longer this one is left alone. False when
    /// there was nothing to kill.
    pub fn kill(&self) -> bool {
        if !self.alive() {
            return false;
        }
        // SAFETY: kill(2) on a process group; it touches no memory of ours.
        unsafe {
            libc::kill(-self.pgid, libc::SIGKILL);
        }
        let deadline = std::time::Instant::now() + REAP_WAIT;
        while self.alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

/// Records `group` in `file` (written whole, then renamed into place).
pub fn record_group(file: &Path, group: Group) -> std::io::Result<()> {
    write_atomic(
        file,
        format!("{} {}\n", group.pgid, group.start.unwrap_or(0)).as_bytes(),
    )
}

/// Kills the group recorded in `file` by a dead run, if it is still alive,
/// and every process its test left outside the group (they carry its
/// mark), and removes the record; the group, when it was alive.
pub fn reap_group(file: &Path) -> Result<Option<Group>, QueueError> {
    crate::jobs::Job::new(0, super::runner::test_mark(file)).signal(libc::SIGKILL);
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(QueueError::io(file, e)),
    };
    let mut fields = text.split_whitespace().map(str::parse::<i64>);
    let group = match (fields.next(), fields.next()) {
        (Some(Ok(pgid)), Some(Ok(start))) if pgid > 1 && pgid <= i64::from(i32::MAX) => {
            Some(Group {
                pgid: pgid as i32,
                start: (start > 0).then_some(start as u64),
            })
        }
        // A record cut short by the kill names no group to kill.
        _ => None,
    };
    let killed = group.filter(Group::kill);
    remove(file)?;
    Ok(killed)
}

/// A checkout of `main` being brought from `old` to `new`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutUpdate {
    pub path: PathBuf,
    pub old: String,
    pub new: String,
    /// The `git read-tree` doing it, once started.
    #[serde(default)]
    pub group: Option<Group>,
}

impl CheckoutUpdate {
    pub fn new(path: &Path, old: Oid, new: Oid) -> CheckoutUpdate {
        CheckoutUpdate {
            path: path.to_path_buf(),
            old: old.to_string(),
            new: new.to_string(),
            group: None,
        }
    }

    /// The commits, as ids.
    pub fn commits(&self) -> Option<(Oid, Oid)> {
        Some((
            Oid::from_str(&self.old).ok()?,
            Oid::from_str(&self.new).ok()?,
        ))
    }

    /// Writes the record to `file`.
    pub fn record(&self, file: &Path) -> Result<(), QueueError> {
        let yaml = serde_yaml::to_string(self).expect("a checkout update serializes");
        write_atomic(file, yaml.as_bytes()).map_err(|e| QueueError::io(file, e))
    }

    /// The update a dead run recorded in `file`, with its `git read-tree`
    /// killed if it still ran; `None` without a (readable) record.
    pub fn left_in(file: &Path) -> Result<Option<CheckoutUpdate>, QueueError> {
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(QueueError::io(file, e)),
        };
        // The record is renamed into place whole: one that does not parse
        // was not written by a run.
        let Ok(update) = serde_yaml::from_slice::<CheckoutUpdate>(&bytes) else {
            return Ok(None);
        };
        if let Some(group) = update.group {
            group.kill();
        }
        Ok(Some(update))
    }
}

/// The records in `dir` (none when it does not exist).
pub fn records(dir: &Path) -> Result<Vec<PathBuf>, QueueError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(QueueError::io(dir, e)),
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    out.sort();
    Ok(out)
}

/// Removes a record (already gone is fine).
pub fn remove(file: &Path) -> Result<(), QueueError> {
    match std::fs::remove_file(file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(QueueError::io(file, e)),
        _ => Ok(()),
    }
}

/// The live processes that may hold the index lock `lock` of the checkout
/// at `checkout`: those that have it open, and git processes working in
/// that checkout (a `git commit` waiting for its editor holds the lock
/// with the file closed). Read from `/proc`, for this user's processes;
/// empty where there is no `/proc`.
pub fn holders(lock: &Path, checkout: &Path) -> Vec<u32> {
    let (Ok(lock), Ok(checkout)) = (lock.canonicalize(), checkout.canonicalize()) else {
        return Vec::new();
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut out = Vec::new();
    for proc in procs.flatten() {
        let Some(pid) = proc
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = proc.path();
        let is_git = std::fs::read_to_string(dir.join("comm")).is_ok_and(|c| c.trim() == "git");
        let in_checkout = is_git
            && std::fs::read_link(dir.join("cwd")).is_ok_and(|cwd| cwd.starts_with(&checkout));
        let has_open = || {
            std::fs::read_dir(dir.join("fd")).is_ok_and(|fds| {
                fds.flatten()
                    .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == lock))
            })
        };
        if pid != me && (in_checkout || has_open()) {
            out.push(pid);
        }
    }
    out
}

/// The start time of process `pid` in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`); `None` when it does not exist or there is no `/proc`.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn write_atomic(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_group_of_a_dead_run_is_killed() {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("group");
        // A group whose leader is gone and whose member is nobody's child
        // here, as a killed run leaves it.
        let leader = std::process::Command::new("sh")
            .args(["-c", "sleep 30 >/dev/null 2>&1 & echo $!"])
            .process_group(0)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pgid = leader.id() as i32;
        leader.wait_with_output().unwrap();
        let group = Group { pgid, start: None };
        record_group(&file, group).unwrap();
        assert!(group.alive());
        assert_eq!(reap_group(&file).unwrap(), Some(group));
        assert!(!group.alive());
        assert!(!file.exists());
        assert_eq!(reap_group(&file).unwrap(), None, "nothing left to reap");
    }

    #[test]
    fn a_group_whose_leader_started_later_is_not_ours() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let mut group = Group::led_by(child.id());
        let ours = group.alive();
        group.start = group.start.map(|s| s + 1);
        let other = group.start.is_none() || !group.alive();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(ours && other);
    }
}
