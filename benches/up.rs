//! `comm-node up`: time from a comm event (a task becoming ready for a
//! domain) to the dispatch of the turn that works on it, and what the
//! supervisor costs while it waits.
//!
//! Run with `cargo bench --bench up` (add `-- --iterations N`). The domain's
//! agent is a `command:` agent, `bash -c 'echo $EPOCHREALTIME >> FILE'`, so
//! "dispatch" is measured when the agent process runs its first
//! instruction (process start included). Each iteration adds a task for
//! the domain as the human (`comm-node task add`, a whole CLI process) and
//! waits for the agent's timestamp; the latency is reported from before
//! that process started (an upper bound: it includes writing the event)
//! and from after it exited (a lower bound: the ref moved before).
//!
//! Then 16 domains under one `up`: its CPU and memory while idle, and its
//! own CPU per turn when every domain gets a task at once (the agents are
//! `sleep 0.2`; a process's CPU time excludes its children, so this is
//! the supervisor's overhead per turn: deciding, spawning, reading the
//! stream, recording the `turn` event).

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::{report, Hermetic, BIN};

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn main() {
    let iterations: usize = common::arg("iterations", 50);
    let temp = tempfile::tempdir().unwrap();
    let env = Hermetic::in_dir(temp.path());
    let root = temp.path().join("app");
    let stamps = temp.path().join("stamps");
    std::fs::create_dir_all(&root).unwrap();
    let config = format!(
        "project: app\ndomains:\n  api:\n    scope: [\"api/**\"]\n  web:\n    scope: [\"web/**\"]\nagents:\n  web:\n    cli: command\n    command: [bash, -c, \"echo $EPOCHREALTIME >> {}\"]\n",
        stamps.display()
    );
    std::fs::write(root.join("comm.yaml"), config).unwrap();
    env.git(&root, &["init", "-q", "-b", "main"]);
    common::commit_and_init(&env, &root);

    let mut up: Child = env
        .cmd(BIN, &root)
        .args(["up", "web"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let cpu_idle_before = cpu_of(up.id());
    std::thread::sleep(Duration::from_secs(5));
    let idle_cpu = cpu_of(up.id()) - cpu_idle_before;

    let mut upper = Vec::new();
    let mut lower = Vec::new();
    for i in 0..iterations {
        let before = now_secs();
        let add = env
            .cmd(BIN, &root)
            .args([
                "--as",
                "human",
                "task",
                "add",
                "--domain",
                "web",
                &format!("task {i}"),
            ])
            .output()
            .unwrap();
        let after = now_secs();
        assert!(add.status.success());
        let stamp = wait_for_line(&stamps, i);
        upper.push(Duration::from_secs_f64((stamp - before).max(0.0)));
        lower.push(Duration::from_secs_f64((stamp - after).max(0.0)));
        // Let the turn end and its event land before the next task.
        std::thread::sleep(Duration::from_millis(300));
    }
    let rss = rss_kib(up.id());
    // SAFETY: signals the `up` process this bench started.
    unsafe { libc::kill(up.id() as i32, libc::SIGTERM) };
    let _ = up.wait();

    report(
        "event → dispatch, from before `task add` started",
        &mut upper,
    );
    report("event → dispatch, from after `task add` exited", &mut lower);
    println!(
        "supervisor idle for 5 s: {:.0} ms CPU; resident memory after {iterations} turns: {rss} KiB",
        idle_cpu * 1000.0
    );
    sixteen(&env, &temp.path().join("sixteen"));
}

/// One `up` over 16 domains: idle, then every domain given a task at once.
fn sixteen(env: &Hermetic, root: &Path) {
    const DOMAINS: usize = 16;
    const ROUNDS: usize = 5;
    std::fs::create_dir_all(root).unwrap();
    let mut config = String::from("project: sixteen\ndomains:\n");
    for d in 0..DOMAINS {
        config.push_str(&format!("  d{d}:\n    scope: [\"d{d}/**\"]\n"));
    }
    config.push_str("agents:\n  default:\n    cli: command\n    command: [sleep, \"0.2\"]\n");
    std::fs::write(root.join("comm.yaml"), config).unwrap();
    env.git(root, &["init", "-q", "-b", "main"]);
    common::commit_and_init(env, root);
    let mut up = env
        .cmd(BIN, root)
        .arg("up")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_of(up.id());
    std::thread::sleep(Duration::from_secs(5));
    let idle = cpu_of(up.id()) - before;
    let idle_rss = rss_kib(up.id());

    let before = cpu_of(up.id());
    let t = Instant::now();
    for round in 0..ROUNDS {
        for d in 0..DOMAINS {
            let (domain, title) = (format!("d{d}"), format!("r{round}"));
            let add = env
                .cmd(BIN, root)
                .args(["--as", "human", "task", "add", "--domain", &domain, &title])
                .output()
                .unwrap();
            assert!(add.status.success());
        }
        wait_for_turns(env, root, (round + 1) * DOMAINS);
    }
    let busy = cpu_of(up.id()) - before;
    let wall = t.elapsed();
    let busy_rss = rss_kib(up.id());
    // SAFETY: signals the `up` process this bench started.
    unsafe { libc::kill(up.id() as i32, libc::SIGTERM) };
    let _ = up.wait();
    let turns = ROUNDS * DOMAINS;
    println!(
        "16 domains idle for 5 s: {:.0} ms CPU, {idle_rss} KiB resident",
        idle * 1000.0
    );
    println!(
        "16 domains busy: {turns} turns in {:.1} s, supervisor CPU {:.0} ms = {:.2} ms per turn, {busy_rss} KiB resident",
        wall.as_secs_f64(),
        busy * 1000.0,
        busy * 1000.0 / turns as f64
    );
}

/// Waits until `n` turn events are on comm.
fn wait_for_turns(env: &Hermetic, root: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let log = env.git(root, &["log", "--format=%s", "comm", "--grep=^turn "]);
        if log.lines().count() >= n {
            return;
        }
        assert!(Instant::now() < deadline, "only some of {n} turns happened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for line `i` (0-based) of the agent's timestamps.
fn wait_for_line(path: &Path, i: usize) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().nth(i) {
            return line.trim().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "no dispatch for task {i}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// User + system CPU seconds of process `pid`.
fn cpu_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}
