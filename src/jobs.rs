//! The processes one job started (an agent's turn, a queue test command):
//! the process group its leader leads, and every process carrying the
//! job's mark, an environment variable each child inherits.
//!
//! The group alone misses processes: Claude Code runs its Bash tool's
//! commands in process groups of their own, a command may `setsid`, and a
//! process whose parent exited is reparented to init, so it is no longer a
//! descendant anyone can follow. The mark survives all three. It is lost
//! only by a process that clears its environment on purpose.

/// The environment variable holding a job's mark.
pub const MARK_VAR: &str = "COMM_NODE_JOB";

/// One job: a process group and a mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pgid: i32,
    mark: String,
}

impl Job {
    /// The job led by `pgid` (0 when its leader never started), whose
    /// processes carry `mark`.
    pub fn new(pgid: i32, mark: impl Into<String>) -> Job {
        Job {
            pgid,
            mark: mark.into(),
        }
    }

    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// Sends `signal` to the job's group and to every process carrying its
    /// mark (none of them still alive is fine).
    pub fn signal(&self, signal: i32) {
        signal_group(self.pgid, signal);
        // A process in the middle of an exec reads an empty environment: a
        // second scan, a moment later, finds one the first missed.
        let mut sent = Vec::new();
        for pass in 0..2 {
            if pass > 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            for pid in marked(&self.mark) {
                if !sent.contains(&pid) {
                    // SAFETY: kill(2) on a process that carries this job's mark.
                    unsafe { libc::kill(pid, signal) };
                    sent.push(pid);
                }
            }
        }
    }
}

/// Sends `signal` to process group `pgid` (nothing for 0 or less; a group
/// already gone is fine).
pub fn signal_group(pgid: i32, signal: i32) {
    if pgid > 0 {
        // SAFETY: kill(2) with a negative pid addresses the group.
        unsafe { libc::kill(-pgid, signal) };
    }
}

/// The living processes (other than this one) whose environment holds
/// `MARK_VAR=mark`. An empty mark marks nothing.
pub fn marked(mark: &str) -> Vec<i32> {
    if mark.is_empty() {
        return Vec::new();
    }
    let wanted = format!("{MARK_VAR}={mark}");
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var == wanted.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn a_marked_process_outside_the_group_is_found_and_signalled() {
        let mark = format!("jobs-test-{}", std::process::id());
        // The child leaves the group at once (setsid) and outlives its
        // parent shell, reparented: only the mark can find it.
        let mut shell = Command::new("sh")
            .args(["-c", "setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $!"])
            .env(MARK_VAR, &mark)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = std::io::read_to_string(shell.stdout.take().unwrap()).unwrap();
        shell.wait().unwrap();
        let orphan: i32 = out.trim().parse().unwrap();
        // Its environment reads empty while it is in the middle of an exec.
        let until = |found: bool| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while marked(&mark).contains(&orphan) != found {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{orphan}: not {found}"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        };
        until(true);
        assert!(marked("").is_empty());
        Job::new(0, &mark).signal(libc::SIGKILL);
        until(false);
    }
}
