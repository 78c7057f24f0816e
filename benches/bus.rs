//! Bus benchmarks: `send` and `inbox` as whole CLI processes on a `comm`
//! branch with 100k events, `status` and `inbox` for 16 domains that never
//! read a message (the history is addressed to them), and 8 processes
//! sending at once.
//!
//! Run with `cargo bench --bench bus` (add `-- --events N` for another
//! history size). Results go to stdout as a table; BENCHMARKS.md records them.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::{fast_import, initialised, report, Hermetic, BIN};

/// The domains that never read: the history's senders and recipients.
const NEVER_READ: [&str; 16] = [
    "api", "shared", "pricing", "engine", "billing", "search", "auth", "mobile", "admin", "infra",
    "data", "ml", "docs", "ops", "qa", "design",
];

/// `web` (which has read the whole history) and the [`NEVER_READ`] domains.
fn config() -> String {
    let mut text = String::from("project: bench\ndomains:\n  web: {scope: [\"web/**\"]}\n");
    for name in NEVER_READ {
        text.push_str(&format!("  {name}: {{scope: [\"{name}/**\"]}}\n"));
    }
    text
}

fn main() {
    let events: u64 = common::arg("events", 100_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let env = Hermetic::in_dir(dir.path());

    let t = Instant::now();
    setup(&env, &root, events);
    println!(
        "setup: {events} events on comm in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // send: 50 messages to web (they become its unread), 150 elsewhere,
    // each beside a `--version`: the cost of starting the process at all,
    // measured under the same load.
    let mut send_times = Vec::new();
    let mut floor_times = Vec::new();
    for i in 0..200 {
        let (d, out) = env.time(&root, &["--version"]);
        assert!(out.status.success());
        floor_times.push(d);
        let to = if i < 50 { "web" } else { "shared" };
        let subject = format!("bench message {i}");
        let body =
            "A short markdown body: the contract for /orders is published as api/openapi.yaml.";
        let (d, out) = env.time(&root, &["--as", "api", "send", "--to", to, &subject, body]);
        assert!(
            out.status.success(),
            "send failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        send_times.push(d);
    }
    let floor = report("comm-node --version (the process floor)", &mut floor_times);
    let send = report("send (CLI process, 100k-event history)", &mut send_times);

    let mut inbox_times = Vec::new();
    for _ in 0..50 {
        let (d, out) = env.time(&root, &["--as", "web", "inbox", "--json"]);
        assert!(out.status.success());
        let unread: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(unread.as_array().unwrap().len(), 50);
        inbox_times.push(d);
    }
    let inbox = report(
        "inbox, 50 unread (CLI process, 100k-event history)",
        &mut inbox_times,
    );
    let ratio = |d: Duration| d.as_secs_f64() / floor.as_secs_f64();
    println!(
        "against the floor (p50): send {:.2}x, inbox {:.2}x",
        ratio(send),
        ratio(inbox)
    );

    never_read(&env, &root);
    concurrent(&env, &root, 8, 200);
}

/// `status` (unread counts of 17 domains, 16 of which never read) and the
/// inbox of a domain that never read, with the unread cache current, one
/// event behind, and deleted (the walk of the whole history it saves).
fn never_read(env: &Hermetic, root: &Path) {
    let cache = root.join(".git/comm-node/unread-v1");
    let status = |env: &Hermetic| {
        let (d, out) = env.time(root, &["status", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let engine = status["domains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "engine")
            .unwrap()["unread"]
            .as_u64()
            .unwrap();
        (d, engine)
    };
    let mut cold_times = Vec::new();
    for _ in 0..3 {
        std::fs::remove_file(&cache).unwrap();
        cold_times.push(status(env).0);
    }
    let (mut floor_times, mut behind_times, mut current_times) = (vec![], vec![], vec![]);
    let mut unread = 0;
    for i in 0..30 {
        let (d, out) = env.time(root, &["--version"]);
        assert!(out.status.success());
        floor_times.push(d);
        let subject = format!("status bench {i}");
        let out = env
            .cmd(BIN, root)
            .args(["--as", "api", "send", "--to", "shared", &subject])
            .output()
            .unwrap();
        assert!(out.status.success());
        behind_times.push(status(env).0);
        let (d, engine) = status(env);
        current_times.push(d);
        unread = engine;
    }
    let mut inbox_times = Vec::new();
    for _ in 0..10 {
        let (d, out) = env.time(root, &["--as", "engine", "inbox", "--json"]);
        assert!(out.status.success());
        let inbox: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(inbox.as_array().unwrap().len() as u64, unread);
        inbox_times.push(d);
    }
    println!("16 domains never read; engine has {unread} unread:");
    let floor = report("comm-node --version (the process floor)", &mut floor_times);
    let cold = report(
        "status, unread cache deleted (walks the history)",
        &mut cold_times,
    );
    let behind = report("status, unread cache one event behind", &mut behind_times);
    let current = report("status, unread cache current", &mut current_times);
    let inbox = report(
        &format!("inbox of a domain that never read ({unread} unread)"),
        &mut inbox_times,
    );
    let ratio = |d: Duration| d.as_secs_f64() / floor.as_secs_f64();
    println!(
        "against the floor (p50): status {:.2}x (one event behind {:.2}x, no cache {:.2}x), inbox {:.2}x",
        ratio(current),
        ratio(behind),
        ratio(cold),
        ratio(inbox)
    );
}

/// A repository with `events` message events on comm (written with git
/// fast-import and packed, like a long-lived repository after `git gc`).
fn setup(env: &Hermetic, root: &Path, events: u64) {
    let kickoff = initialised(env, root, &config());
    let mut child = fast_import(env, root);
    let mut stdin = std::io::BufWriter::new(child.stdin.take().unwrap());
    for i in 0..events {
        let seq = kickoff.seq + i + 1;
        let from = NEVER_READ[(i % 16) as usize];
        let to = NEVER_READ[((i + 2) % 16) as usize];
        let id = format!("bench-{i:08}");
        let msg = format!(
            "{from} → {to}: history message {i}\n\nBody of message {i}.\n\nComm-Kind: msg\nComm-From: {from}\nComm-To: {to}\nComm-Id: {id}\nComm-Seq: {seq}\nComm-Thread: {id}\nComm-Tokens: 12\n"
        );
        writeln!(stdin, "commit refs/heads/comm").unwrap();
        writeln!(
            stdin,
            "committer bench <bench@bench.invalid> {} +0000",
            1_700_000_000 + i
        )
        .unwrap();
        writeln!(stdin, "data {}\n{msg}", msg.len()).unwrap();
        if i == 0 {
            writeln!(stdin, "from {}", kickoff.commit).unwrap();
        }
        if i + 1 == events {
            // web has read everything so far: its cursor sits at the tip.
            common::write_cursors(&mut stdin, ["web"], seq);
        }
        writeln!(stdin).unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    env.git(root, &["repack", "-adq"]);
}

/// `processes` processes each sending `each` messages at once.
fn concurrent(env: &Hermetic, root: &Path, processes: usize, each: usize) {
    let before: u64 = env
        .git(root, &["rev-list", "--count", "comm"])
        .parse()
        .unwrap();
    let t = Instant::now();
    std::thread::scope(|s| {
        for p in 0..processes {
            s.spawn(move || {
                let me = if p % 2 == 0 { "api" } else { "web" };
                for i in 0..each {
                    let subject = format!("p{p} m{i}");
                    let out = env
                        .cmd(BIN, root)
                        .args(["--as", me, "send", "--to", "all", &subject])
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            });
        }
    });
    let elapsed = t.elapsed();
    let total = processes * each;
    let after: u64 = env
        .git(root, &["rev-list", "--count", "comm"])
        .parse()
        .unwrap();
    assert_eq!(after - before, total as u64, "lost or duplicated events");
    let ids = env.git(
        root,
        &[
            "log",
            &format!("-{total}"),
            "comm",
            "--format=%(trailers:key=Comm-Id,valueonly,separator=)",
        ],
    );
    let distinct: HashSet<&str> = ids.lines().collect();
    assert_eq!(distinct.len(), total);
    println!(
        "{processes} processes x {each} sends at once: {total} messages in {:.2} s = {:.0} msg/s (0 lost, 0 duplicated)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
}
