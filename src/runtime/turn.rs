//! The process of one turn: spawned as the leader of its own process
//! group in the domain's worktree, its stdout read as the stream (kept in
//! `stream.jsonl`) and its stderr kept in `stderr.log`, watched for stalls
//! (no stream output for `stall_after`, not counting the time its process
//! is stopped by a halt) and for running past `max_turns` model calls.
//! When the leader exits, whatever it left is killed (its group, and every
//! process carrying the domain's mark, see [`crate::jobs`]), so no tool
//! process outlives its turn.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use super::agent::Invocation;
use super::stream::TurnStream;
use crate::jobs::{self, Job};

/// Lines of a crashed agent's stderr kept for the human.
const STDERR_TAIL: usize = 20;
/// A domain's stream log is rotated (to `stream.jsonl.1`) past this size.
const ROTATE_BYTES: u64 = 16 * 1024 * 1024;
/// How long a turn gets to end after SIGTERM before SIGKILL.
pub(super) const GRACE: Duration = Duration::from_secs(5);

/// Why comm-node cut a turn short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cut {
    /// No stream output for `stall_after`.
    Stalled,
    /// More model calls than `max_turns`.
    MaxTurns,
}

/// The limits a turn runs under.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub stall_after: Duration,
    pub max_calls: Option<u32>,
}

/// What a turn's driver sends back when its process has ended.
pub(super) struct Ended {
    pub slot: usize,
    pub stream: TurnStream,
    /// Exit code, or the negated signal number; `None` when it never started.
    pub code: Option<i32>,
    pub stderr_tail: Vec<String>,
    pub elapsed: Duration,
    /// Set when comm-node ended the turn itself.
    pub cut: Option<Cut>,
}

/// The job of a turn of the domain whose runtime folder is `dir`, led by
/// `pgid`: every process of the domain's turns carries the folder as its
/// mark (one turn runs per domain at a time, under the domain's lock).
pub(super) fn turn_job(dir: &Path, pgid: i32) -> Job {
    Job::new(pgid, dir.display().to_string())
}

/// Starts `inv` as the leader of a new process group, stdin closed,
/// marked as a turn of the domain whose runtime folder is `dir`. The child
/// writes its pid (its group id) to `agent.pid` there itself, before it
/// runs the agent: an `up` killed at any moment after the fork leaves the
/// record the next `up` reaps by.
pub(super) fn spawn(inv: &Invocation, dir: &Path) -> std::io::Result<tokio::process::Child> {
    use std::os::unix::io::AsRawFd;
    let record = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("agent.pid"))?;
    let fd = record.as_raw_fd();
    let mut cmd = tokio::process::Command::new(&inv.program);
    cmd.args(&inv.args)
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .env(jobs::MARK_VAR, dir.display().to_string())
        .current_dir(&inv.cwd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    if let Some(path) = path_with_self() {
        cmd.env("PATH", path);
    }
    // SAFETY: only async-signal-safe calls between fork and exec: prctl
    // sets the parent-death signal (the agent dies with a supervisor killed
    // -9), getpid and write record the pid in a stack buffer; the record's
    // descriptor is close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            let mut buf = [0u8; 24];
            let mut at = buf.len() - 1;
            buf[at] = b'\n';
            let mut pid = libc::getpid() as u32;
            loop {
                at -= 1;
                buf[at] = b'0' + (pid % 10) as u8;
                pid /= 10;
                if pid == 0 {
                    break;
                }
            }
            libc::write(fd, buf[at..].as_ptr().cast(), buf.len() - at);
            Ok(())
        });
    }
    let child = cmd.spawn();
    drop(record);
    child
}

/// PATH with this binary's folder first, so agents find `comm-node`.
fn path_with_self() -> Option<std::ffi::OsString> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let mut parts = vec![dir.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        parts.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(parts).ok()
}

/// Reads a turn's output into the domain's logs until the process ends,
/// then kills what is left of its group and reports.
pub(super) async fn drive(
    slot: usize,
    mut child: tokio::process::Child,
    dir: PathBuf,
    started: Instant,
    limits: Limits,
    tx: mpsc::UnboundedSender<Ended>,
) {
    let pgid = child.id().map_or(0, |p| p as i32);
    let job = turn_job(&dir, pgid);
    let turn = job.clone();
    let over = Arc::new(AtomicBool::new(false));
    let watch = over.clone();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_log = dir.join("stream.jsonl");
    let now_file = dir.join(super::NOW);
    let now_path = now_file.clone();
    let slot_dir = dir.clone();
    // What an `up` killed outright left there is not this turn's.
    let _ = fs::remove_file(&now_file);
    let err_log = dir.join("stderr.log");
    for log in [&out_log, &err_log] {
        if fs::metadata(log).is_ok_and(|m| m.len() > ROTATE_BYTES) {
            let mut old = log.as_os_str().to_owned();
            old.push(".1");
            let _ = fs::rename(log, old);
        }
    }
    let reader = tokio::spawn(async move {
        let mut stream = TurnStream::default();
        let mut cut = None;
        let mut log = append_file(&out_log);
        let Some(out) = stdout else {
            return (stream, cut);
        };
        let mut lines = BufReader::new(out).lines();
        let mut shown = super::Now::default();
        let quiet_for = || tokio::time::Instant::now() + limits.stall_after;
        let mut deadline = quiet_for();
        // The turn was seen stopped (a halt): its silence until then and
        // for one more `stall_after` is no stall.
        let mut was_stopped = false;
        loop {
            match tokio::time::timeout_at(deadline, lines.next_line()).await {
                Ok(Ok(Some(line))) => {
                    deadline = quiet_for();
                    if let Some(f) = log.as_mut() {
                        let _ = writeln!(f, "{line}");
                    }
                    stream.feed(&line);
                    super::budget_gate::observe(&slot_dir, &line);
                    let now = super::Now {
                        session: stream.session.clone(),
                        tool: stream.current_tool().map(str::to_owned),
                    };
                    if now != shown {
                        // One small file, rewritten only when it changes.
                        let text = serde_json::to_string(&now).unwrap_or_default();
                        let _ = crate::cachefile::write_atomic(&now_path, &text);
                        shown = now;
                    }
                    let calls = stream.responses.len() as u64;
                    if cut.is_none() && limits.max_calls.is_some_and(|m| calls > u64::from(m)) {
                        cut = Some(Cut::MaxTurns);
                        stop(turn.clone(), watch.clone());
                    }
                }
                Ok(_) => break,
                Err(_) => {
                    deadline = quiet_for();
                    if super::control::is_stopped(pgid) {
                        was_stopped = true;
                    } else if std::mem::take(&mut was_stopped) {
                        // Continued since: the silence is counted afresh.
                    } else if cut.is_none() {
                        cut = Some(Cut::Stalled);
                        stop(turn.clone(), watch.clone());
                    }
                }
            }
        }
        (stream, cut)
    });
    let errors = tokio::spawn(async move {
        let mut tail: Vec<String> = Vec::new();
        let mut log = append_file(&err_log);
        if let Some(err) = stderr {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(f) = log.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                if tail.len() == STDERR_TAIL {
                    tail.remove(0);
                }
                tail.push(line);
            }
        }
        tail
    });
    let status = child.wait().await;
    job.signal(libc::SIGKILL);
    over.store(true, Ordering::SeqCst);
    let (stream, cut) = reader.await.unwrap_or_default();
    let _ = fs::remove_file(&now_file);
    let stderr_tail = errors.await.unwrap_or_default();
    let code = status.ok().map(|s| {
        use std::os::unix::process::ExitStatusExt;
        s.code().unwrap_or_else(|| -s.signal().unwrap_or(0))
    });
    let _ = tx.send(Ended {
        slot,
        stream,
        code: Some(code.unwrap_or(-1)),
        stderr_tail,
        elapsed: started.elapsed(),
        cut,
    });
}

/// Ends a turn comm-node cut short: SIGTERM to its job now, SIGKILL
/// after the grace period unless the turn is `over` by then (its group id
/// may then belong to someone else).
fn stop(job: Job, over: Arc<AtomicBool>) {
    job.signal(libc::SIGTERM);
    tokio::spawn(async move {
        tokio::time::sleep(GRACE).await;
        if !over.load(Ordering::SeqCst) {
            job.signal(libc::SIGKILL);
        }
    });
}

fn append_file(path: &Path) -> Option<fs::File> {
    OpenOptions::new().create(true).append(true).open(path).ok()
}

/// Kills what a previous `up` that died without cleaning up (kill -9, a
/// crash) left of a domain's turn: every process carrying the domain's
/// mark. Returns their pids. Called with the domain's lock held, so no
/// live `up` owns them.
pub(super) fn reap_leftovers(dir: &Path) -> Vec<i32> {
    let record = dir.join("agent.pid");
    let reaped = jobs::marked(&dir.display().to_string());
    turn_job(dir, 0).signal(libc::SIGKILL);
    let _ = fs::remove_file(record);
    reaped
}
