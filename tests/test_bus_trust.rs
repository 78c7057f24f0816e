//! What an exit code of the bus promises, under stalls and foreign commits:
//! a writer stopped while it holds the ref lock, a writer killed holding it,
//! and a `git merge` on comm.
//!
//! Stalls are deterministic: the writer stops itself (SIGSTOP) inside its
//! ref update through the test-only hook `COMM_NODE_TEST_STALL_REF_UPDATE`,
//! the test waits until the kernel reports it stopped, and resumes it
//! (SIGCONT) or kills it (SIGKILL) when it chooses.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Env, API_WEB, BIN};

fn bus(env: &Env) -> PathBuf {
    env.api_web_app(API_WEB, &[])
}

/// A comm-node or shell process in a group of its own, stopped, resumed and
/// finally killed as a group, so none outlives its test.
struct Proc {
    child: Option<Child>,
    pid: i32,
}

impl Proc {
    fn spawn(env: &Env, dir: &Path, program: &str, args: &[&str], vars: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        env.hermetic(&mut cmd);
        for (key, value) in vars {
            cmd.env(key, value);
        }
        let child = cmd.spawn().unwrap();
        Proc {
            pid: child.id() as i32,
            child: Some(child),
        }
    }

    /// `comm-node ARGS` with the stall hook set to stop it in its ref update.
    fn stopping(env: &Env, dir: &Path, args: &[&str]) -> Proc {
        let p = Proc::spawn(
            env,
            dir,
            BIN,
            args,
            &[("COMM_NODE_TEST_STALL_REF_UPDATE", "stop")],
        );
        p.wait_stopped();
        p
    }

    /// Waits until the kernel reports the process stopped.
    fn wait_stopped(&self) {
        let start = Instant::now();
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap();
            let state = stat.rsplit_once(") ").unwrap().1.chars().next();
            if state == Some('T') {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{} never stopped (state {state:?})",
                self.pid
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("/usr/bin/kill")
            .args([sig, "--", &format!("-{}", self.pid)])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn running(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }

    /// Waits for the exit: (code, stdout, stderr).
    fn finish(mut self) -> (i32, String, String) {
        let out = self.child.take().unwrap().wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signals to a process group this test started.
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
                libc::kill(-self.pid, libc::SIGCONT);
            }
            let _ = child.wait();
        }
    }
}

/// How many commits on comm carry each subject.
fn subjects_on_comm(env: &Env, root: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in env.git(root, &["log", "--format=%s", "comm"]).lines() {
        *out.entry(line.to_owned()).or_default() += 1;
    }
    out
}

/// Comm-Seq of every commit on comm, oldest first.
fn seqs(env: &Env, root: &Path) -> Vec<String> {
    let text = env.git(
        root,
        &[
            "log",
            "--reverse",
            "--format=%(trailers:key=Comm-Seq,valueonly,separator=%x2C)",
            "comm",
        ],
    );
    text.lines().map(str::to_owned).collect()
}

/// Asserts comm is linear with Comm-Seq 1..=N, and the repository sound.
#[track_caller]
fn assert_sound(env: &Env, root: &Path) {
    assert_eq!(env.git(root, &["rev-list", "--merges", "comm"]), "");
    let expected: Vec<String> = (1..=seqs(env, root).len()).map(|n| n.to_string()).collect();
    assert_eq!(seqs(env, root), expected, "Comm-Seq is not 1..=N");
    env.git(root, &["fsck", "--strict"]);
}

fn lock_file(root: &Path) -> PathBuf {
    root.join(".git/refs/heads/comm.lock")
}

/// Longer than any age at which a ref lock counts as stale.
const PAST_STALE: Duration = Duration::from_secs(3);

#[test]
fn a_writer_stalled_holding_the_ref_lock_never_loses_its_event() {
    let env = Env::new();
    let root = bus(&env);
    let stalled = Proc::stopping(
        &env,
        &root,
        &["--as", "api", "send", "--to", "web", "stalled"],
    );
    assert!(lock_file(&root).exists(), "stopped inside its ref update");
    let mut live = Proc::spawn(
        &env,
        &root,
        BIN,
        &["--as", "web", "send", "--to", "api", "live"],
        &[],
    );
    std::thread::sleep(PAST_STALE);
    // The live writer waits for the stalled one instead of breaking its lock.
    assert!(lock_file(&root).exists());
    assert!(live.running(), "the live writer did not wait");
    stalled.signal("-CONT");
    let (code, _, err) = stalled.finish();
    assert_eq!(code, 0, "stalled writer: {err}");
    let (code, _, err) = live.finish();
    assert_eq!(code, 0, "live writer: {err}");
    let on_comm = subjects_on_comm(&env, &root);
    assert_eq!(on_comm.get("api → web: stalled"), Some(&1));
    assert_eq!(on_comm.get("web → api: live"), Some(&1));
    assert_sound(&env, &root);
}

#[test]
fn a_writer_stuck_holding_the_ref_lock_makes_others_fail_naming_it_and_writing_nothing() {
    let env = Env::new();
    let root = bus(&env);
    let stuck = Proc::stopping(
        &env,
        &root,
        &["--as", "api", "send", "--to", "web", "stuck"],
    );
    let before = env.git(&root, &["rev-parse", "comm"]);
    let (code, _, err) = Proc::spawn(
        &env,
        &root,
        BIN,
        &["--as", "web", "send", "--to", "api", "gave up"],
        &[("COMM_NODE_TEST_REF_LOCK_WAIT_MS", "1500")],
    )
    .finish();
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(&format!("process {}", stuck.pid)), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(env.git(&root, &["rev-parse", "comm"]), before);
    stuck.signal("-CONT");
    let (code, _, err) = stuck.finish();
    assert_eq!(code, 0, "{err}");
    let on_comm = subjects_on_comm(&env, &root);
    assert_eq!(on_comm.get("api → web: stuck"), Some(&1));
    assert_eq!(on_comm.get("web → api: gave up"), None);
    assert_sound(&env, &root);
}

#[test]
fn a_stalled_writer_among_eight_live_ones_loses_nothing() {
    const PROCS: usize = 8;
    const EACH: usize = 10;
    let env = Env::new();
    let root = bus(&env);
    let stalled = Proc::stopping(
        &env,
        &root,
        &["--as", "api", "send", "--to", "all", "stalled"],
    );
    let senders: Vec<Proc> = (0..PROCS)
        .map(|p| {
            let who = if p % 2 == 0 { "api" } else { "web" };
            let script = format!(
                "for i in $(seq 1 {EACH}); do \
                   if \"$0\" --as {who} send --to all \"m $i from {p}\" >/dev/null; \
                   then echo \"ok m $i from {p}\"; else echo \"failed m $i from {p}\"; fi; \
                 done"
            );
            Proc::spawn(&env, &root, "sh", &["-c", &script, BIN], &[])
        })
        .collect();
    std::thread::sleep(PAST_STALE);
    assert!(lock_file(&root).exists());
    stalled.signal("-CONT");
    let (code, _, err) = stalled.finish();
    assert_eq!(code, 0, "stalled writer: {err}");

    let on_comm = subjects_on_comm(&env, &root);
    assert_eq!(on_comm.get("api → all: stalled"), Some(&1));
    let mut landed = 1;
    for (p, sender) in senders.into_iter().enumerate() {
        let who = if p % 2 == 0 { "api" } else { "web" };
        let (code, out, err) = sender.finish();
        assert_eq!(code, 0, "sender {p}: {err}");
        let on_comm = subjects_on_comm(&env, &root);
        for line in out.lines() {
            let (outcome, text) = line.split_once(' ').unwrap();
            let count = on_comm.get(&format!("{who} → all: {text}")).copied();
            match outcome {
                "ok" => assert_eq!(count, Some(1), "{text} reported sent"),
                _ => assert_eq!(count, None, "{text} reported failed: {err}"),
            }
            landed += usize::from(outcome == "ok");
        }
    }
    // The kickoff and every event reported sent, nothing else.
    assert_eq!(seqs(&env, &root).len(), landed + 1);
    assert_sound(&env, &root);
}

#[test]
fn a_lock_left_by_a_writer_killed_while_holding_it_is_broken() {
    let env = Env::new();
    let root = bus(&env);
    let killed = Proc::stopping(
        &env,
        &root,
        &["--as", "api", "send", "--to", "web", "killed"],
    );
    killed.signal("-KILL");
    let (code, _, _) = killed.finish();
    assert_eq!(code, -1, "ended by the signal");
    assert!(lock_file(&root).exists(), "the killed writer left its lock");
    let before = env.git(&root, &["rev-parse", "comm"]);
    env.cn(&root, &["--as", "web", "send", "--to", "api", "after"])
        .expect(0);
    assert!(!lock_file(&root).exists());
    assert_eq!(env.git(&root, &["rev-parse", "comm~1"]), before);
    let on_comm = subjects_on_comm(&env, &root);
    assert_eq!(on_comm.get("web → api: after"), Some(&1));
    assert_eq!(on_comm.get("api → web: killed"), None);
    assert_sound(&env, &root);
}

/// `comm-node --as DOMAIN send --to web SUBJECT` in `dir`, which must land.
fn send(env: &Env, dir: &Path, from: &str, subject: &str) {
    env.cn(dir, &["--as", from, "send", "--to", "web", subject])
        .expect(0);
}

/// The subjects of web's unread messages, oldest first.
fn web_inbox(env: &Env, root: &Path) -> Vec<String> {
    let run = env.cn(root, &["--as", "web", "inbox", "--json"]).expect(0);
    let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_owned())
        .collect()
}

/// A checkout of comm itself, where the test commits with plain git.
fn comm_checkout(env: &Env, root: &Path) -> PathBuf {
    let dir = env.path("comm-checkout");
    env.git(
        root,
        &["worktree", "add", "-q", dir.to_str().unwrap(), "comm"],
    );
    dir
}

/// Asserts every commit on comm is an event with Comm-Seq 1..=N, oldest first.
#[track_caller]
fn assert_seq_runs_on(env: &Env, root: &Path) {
    let seqs: Vec<u64> = seqs(env, root)
        .iter()
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| panic!("a commit without Comm-Seq: {s:?}"))
        })
        .collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected);
}

#[test]
fn a_git_merge_on_comm_is_refused_then_repaired_without_hiding_any_message() {
    let env = Env::new();
    let root = bus(&env);
    send(&env, &root, "api", "one");
    env.cn(&root, &["--as", "web", "ack", "--all"]).expect(0);
    // A second clone writes its own event; this clone pulls it in with git.
    let clone = env.path("clone");
    env.git(
        &env.path(""),
        &["clone", "-q", root.to_str().unwrap(), "clone"],
    );
    env.git(&clone, &["branch", "-q", "comm", "origin/comm"]);
    send(&env, &clone, "api", "from the clone");
    send(&env, &root, "api", "two");
    env.git(
        &root,
        &["fetch", "-q", "../clone", "comm:refs/remotes/clone/comm"],
    );
    let checkout = comm_checkout(&env, &root);
    env.git(
        &checkout,
        &["merge", "-q", "--no-edit", "refs/remotes/clone/comm"],
    );
    let merged = env.git(&root, &["rev-parse", "comm"]);

    let refused = env
        .cn(&root, &["--as", "api", "send", "--to", "web", "lost?"])
        .expect_repair();
    assert!(refused.stderr.contains("merge"), "{}", refused.stderr);
    assert_eq!(env.git(&root, &["rev-parse", "comm"]), merged);
    // Nor is the merge pushed on to other clones.
    env.git(&root, &["remote", "add", "origin", "../clone"]);
    env.cn(&root, &["sync"]).expect_repair();
    assert_eq!(env.git(&root, &["rev-parse", "comm"]), merged);

    let report = env.cn(&root, &["repair", "--json"]).expect(0);
    let report: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(report["repaired"], true, "{report}");
    assert_eq!(report["replayed"], 1, "{report}");
    assert_eq!(report["dropped"].as_array().unwrap().len(), 1, "{report}");
    send(&env, &root, "api", "three");

    assert_eq!(env.git(&root, &["rev-list", "--merges", "comm"]), "");
    assert_seq_runs_on(&env, &root);
    assert_eq!(
        web_inbox(&env, &root),
        ["two", "from the clone", "three"],
        "every message since web's last ack is unread"
    );
    let again = env.cn(&root, &["repair"]).expect(0);
    assert!(
        again.stdout.contains("nothing to repair"),
        "{}",
        again.stdout
    );
    env.git(&root, &["fsck", "--strict"]);
}

#[test]
fn a_plain_commit_on_comm_is_refused_then_dropped_with_its_changes() {
    let env = Env::new();
    let root = bus(&env);
    send(&env, &root, "api", "one");
    let checkout = comm_checkout(&env, &root);
    common::write(&checkout.join("junk.txt"), "not an event\n");
    env.git(&checkout, &["add", "junk.txt"]);
    env.git(&checkout, &["commit", "-qm", "oops"]);

    let refused = env
        .cn(&root, &["--as", "api", "send", "--to", "web", "two"])
        .expect_repair();
    assert!(refused.stderr.contains("oops"), "{}", refused.stderr);

    let report = env.cn(&root, &["repair"]).expect(0);
    assert!(report.stdout.contains("dropped"), "{}", report.stdout);
    assert!(report.stdout.contains("oops"), "{}", report.stdout);
    send(&env, &root, "api", "two");
    assert_seq_runs_on(&env, &root);
    assert_ne!(
        env.git_run(&root, &["cat-file", "-e", "comm:junk.txt"])
            .code,
        0
    );
    assert_eq!(web_inbox(&env, &root), ["one", "two"]);
    env.git(&root, &["fsck", "--strict"]);
}
