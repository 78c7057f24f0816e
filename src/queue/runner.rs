//! Running the project's commands on a candidate merge: each command in its
//! own process group under `sh -c`, output appended to one log file, a
//! per-command timeout that kills the whole group, and the log's tail for
//! the rejection. After each command the group is killed as well, so no
//! test leaves processes behind in the scratch worktree. A queue that is
//! itself killed with SIGKILL cannot do that, so the running command's
//! group is recorded in a file while it runs, and the next run kills it
//! (see [`super::leftovers`]). The command starts only once its group is
//! recorded: a gate shell waits for one line on a pipe the run writes after
//! the record, and exits without running the command if the run died
//! first (the pipe then closes), so no group ever runs unrecorded.
//! Each command's duration is measured for the decision it leads to, and
//! the run's step file names it while it runs (see [`super::current`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use serde::Serialize;

use super::current::{Stage, StepFile};
use super::leftovers;
use super::progress::{Observer, Step};
use crate::jobs::{self, Job};

/// Lines of the log a rejection carries.
const TAIL_LINES: usize = 80;
/// Bytes of the log a rejection carries, at most.
const TAIL_BYTES: u64 = 16 * 1024;

/// Why a command did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The command as written in comm.yaml.
    pub command: String,
    /// `exited with 1`, `killed by signal 9`, `timed out after 30m`...
    pub reason: String,
}

/// Whether a command prepares the worktree or tests it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Setup,
    Test,
}

impl Phase {
    /// `setup` or `test`, as comm.yaml names them.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Test => "test",
        }
    }
}

/// How long one command ran (failed or not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timing {
    pub phase: Phase,
    /// The command as written in comm.yaml.
    pub command: String,
    pub millis: u64,
}

/// The commands of one phase: the failure that stopped them (`None` when
/// all passed) and the duration of each that ran.
#[derive(Debug, Default)]
pub struct Ran {
    pub failure: Option<Failure>,
    pub timings: Vec<Timing>,
}

/// Where the commands run and what records them.
pub struct Place<'a> {
    /// The scratch worktree.
    pub dir: &'a Path,
    /// The log their output is appended to.
    pub log: &'a Path,
    /// The record of the running command's process group.
    pub group_file: &'a Path,
    /// The queue run's step file, naming the running command.
    pub steps: Option<&'a StepFile>,
}

/// Runs `commands` one after the other in `dir`, appending their output to
/// `log` and recording the running command's process group in
/// `group_file`; stops at the first that fails. `Ok(None)` when all passed.
/// `observe` hears each command start and end. For callers outside a
/// queue run (no step file, no timings).
pub fn run_commands(
    dir: &Path,
    commands: &[String],
    timeout: Duration,
    log: &Path,
    group_file: &Path,
    observe: Observer,
) -> std::io::Result<Option<Failure>> {
    let place = Place {
        dir,
        log,
        group_file,
        steps: None,
    };
    Ok(run_phase(&place, Phase::Setup, commands, timeout, observe)?.failure)
}

/// Runs the `phase`'s `commands` one after the other at `place`, each with
/// `timeout`, naming each in the step file while it runs and recording its
/// process group; stops at the first that fails. `observe` hears each
/// command start and end.
pub fn run_phase(
    place: &Place,
    phase: Phase,
    commands: &[String],
    timeout: Duration,
    observe: Observer,
) -> std::io::Result<Ran> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(place.log)?;
    let mut ran = Ran::default();
    for command in commands {
        writeln!(file, "$ {command}")?;
        if let Some(steps) = place.steps {
            steps.enter(&Stage::Command(phase, command));
        }
        observe(&Step::Command { command });
        let started = std::time::Instant::now();
        let failure =
            run_one(place.dir, command, timeout, &file, place.group_file)?.map(|reason| Failure {
                command: command.clone(),
                reason,
            });
        let took = started.elapsed();
        ran.timings.push(Timing {
            phase,
            command: command.clone(),
            millis: took.as_millis() as u64,
        });
        observe(&Step::CommandDone {
            command,
            failure: failure.as_ref(),
            took,
        });
        if let Some(failure) = failure {
            writeln!(file, "-- comm-node: `{command}` {}", failure.reason)?;
            ran.failure = Some(failure);
            break;
        }
    }
    Ok(ran)
}

/// Runs `$1` once a line arrives on stdin, with stdin from /dev/null; exits
/// 125 without running it when stdin closes first.
const GATE: &str = r#"read -r _ || exit 125; exec sh -c "$1" </dev/null"#;

/// Lets the gated command start (its group is recorded). A gate that is
/// already gone has nothing to start; its exit status says so.
fn open_gate(child: &mut std::process::Child) {
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"\n");
    }
}

/// Stops this process (SIGSTOP) between starting a command and recording
/// its group when `COMM_NODE_TEST_STOP_BEFORE_GROUP_RECORD` is set: how
/// the tests kill a run at exactly that point.
fn test_stop_before_record() {
    if std::env::var_os("COMM_NODE_TEST_STOP_BEFORE_GROUP_RECORD").is_some() {
        // SAFETY: raise(3) sends a signal to this process; no memory involved.
        unsafe { libc::raise(libc::SIGSTOP) };
    }
}

/// Runs one command; the reason it failed, if it did.
fn run_one(
    dir: &Path,
    command: &str,
    timeout: Duration,
    log: &File,
    group_file: &Path,
) -> std::io::Result<Option<String>> {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", GATE, "comm-node-gate", command])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?)
        .env(jobs::MARK_VAR, test_mark(group_file))
        .process_group(0);
    for var in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"] {
        cmd.env_remove(var);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Ok(Some(format!("could not start: {e}"))),
    };
    let job = Job::new(child.id() as i32, test_mark(group_file));
    test_stop_before_record();
    if let Err(e) = leftovers::record_group(group_file, leftovers::Group::led_by(child.id())) {
        job.signal(libc::SIGKILL);
        let _ = child.wait();
        return Err(e);
    }
    open_gate(&mut child);
    let timed_out = AtomicBool::new(false);
    let (done, finished) = mpsc::channel::<()>();
    let status = std::thread::scope(|s| {
        let timed_out = &timed_out;
        let job = &job;
        s.spawn(move || {
            if finished.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
                timed_out.store(true, Ordering::SeqCst);
                job.signal(libc::SIGKILL);
            }
        });
        let status = child.wait();
        let _ = done.send(());
        status
    })?;
    job.signal(libc::SIGKILL);
    match std::fs::remove_file(group_file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    if timed_out.load(Ordering::SeqCst) {
        let limit = crate::clock::format_duration(timeout.as_secs());
        return Ok(Some(format!(
            "timed out after {limit} (its process group was killed)"
        )));
    }
    Ok(match (status.code(), status.signal()) {
        (Some(0), _) => None,
        (Some(code), _) => Some(format!("exited with {code}")),
        (None, Some(signal)) => Some(format!("was killed by signal {signal}")),
        (None, None) => Some("ended abnormally".to_owned()),
    })
}

/// The mark of the processes of the test command whose group is recorded
/// in `group_file` (one runs at a time, under the run lock).
pub(super) fn test_mark(group_file: &Path) -> String {
    group_file.display().to_string()
}

/// The last lines of a log (at most 80 lines and 16 KiB).
pub fn tail(log: &Path) -> std::io::Result<String> {
    let mut file = File::open(log)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(TAIL_LINES);
    let mut out = lines[start..].join("\n");
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(commands: &[&str], timeout: Duration) -> (Option<Failure>, String) {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let commands: Vec<String> = commands.iter().map(|c| c.to_string()).collect();
        let group = dir.path().join("group");
        let steps = StepFile::new(dir.path().join("step.yaml"));
        let place = Place {
            dir: dir.path(),
            log: &log,
            group_file: &group,
            steps: Some(&steps),
        };
        let ran = run_phase(
            &place,
            Phase::Test,
            &commands,
            timeout,
            &crate::queue::progress::silent,
        )
        .unwrap();
        assert!(!group.exists(), "the record goes with the group");
        // Every command that ran is timed, the failing one too, none after.
        let timed: Vec<&String> = ran.timings.iter().map(|t| &t.command).collect();
        let last = ran.failure.as_ref().map_or(commands.len(), |f| {
            commands.iter().position(|c| *c == f.command).unwrap() + 1
        });
        assert_eq!(timed, commands[..last].iter().collect::<Vec<_>>());
        (ran.failure, tail(&log).unwrap())
    }

    #[test]
    fn stops_at_the_first_failure_and_logs_it() {
        let (failure, log) = run(
            &["echo one", "echo two >&2; exit 3", "echo never"],
            Duration::from_secs(30),
        );
        let failure = failure.unwrap();
        assert_eq!(failure.command, "echo two >&2; exit 3");
        assert_eq!(failure.reason, "exited with 3");
        assert!(log.contains("one\n") && log.contains("two\n"), "{log}");
        assert!(!log.contains("never"), "{log}");
    }

    #[test]
    fn a_timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let command = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let (failure, log) = run(&[&command], Duration::from_millis(300));
        assert!(failure.unwrap().reason.starts_with("timed out"));
        assert!(log.contains("timed out"), "{log}");
        std::thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "a background child outlived the timeout");
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let (failure, log) = run(&["seq 1 500"], Duration::from_secs(30));
        assert!(failure.is_none());
        assert!(log.ends_with("500\n") && !log.contains("\n400\n"), "{log}");
    }
}
