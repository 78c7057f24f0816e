//! Bus benchmarks: `send` and `inbox` as whole CLI processes on a `comm`
//! branch with 100k events, and 8 processes sending at once.
//!
//! Run with `cargo bench --bench bus` (add `-- --events N` for another
//! history size). Results go to stdout as a table; BENCHMARKS.md records them.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::{fast_import, initialised, report, Hermetic, BIN};

const CONFIG: &str = "project: bench
domains:
  api: {scope: [\"api/**\"]}
  web: {scope: [\"web/**\"]}
  shared: {scope: [\"shared/**\"]}
  pricing: {scope: [\"pricing/**\"]}
  engine: {scope: [\"engine/**\"]}
";

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

    concurrent(&env, &root, 8, 200);
}

/// A repository with `events` message events on comm (written with git
/// fast-import and packed, like a long-lived repository after `git gc`).
fn setup(env: &Hermetic, root: &Path, events: u64) {
    let kickoff = initialised(env, root, CONFIG);
    let mut child = fast_import(env, root);
    let mut stdin = std::io::BufWriter::new(child.stdin.take().unwrap());
    let domains = ["api", "web", "shared", "pricing", "engine"];
    for i in 0..events {
        let seq = kickoff.seq + i + 1;
        let from = domains[(i % 5) as usize];
        let to = domains[((i + 2) % 5) as usize];
        let to = if to == "web" { "pricing" } else { to };
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
            let cursor = format!("seq: {seq}\nacked: []\n");
            writeln!(
                stdin,
                "M 100644 inline cursors/web.yaml\ndata {}\n{cursor}",
                cursor.len()
            )
            .unwrap();
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
