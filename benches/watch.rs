//! `comm-node watch`: the cost of one redraw (reading the model, drawing
//! it) with 16 domains, 10,000 tasks and 100,000 events on comm, cold and
//! on the cache `watch` keeps after a message, a task claim and a task
//! done written by another process; the
//! resident memory of the `watch` process; and the time from a comm
//! event written by another process to the redraw that shows it.
//!
//! Run with `cargo bench --bench watch` (add `-- --events N --tasks N
//! --iterations N`). The history is written with git fast-import and
//! packed (like `benches/bus.rs`), the tasks imported as beads JSONL with
//! dependencies and convoys (like `benches/tasks.rs`). The live part runs
//! `watch` under tmux (skipped when tmux is missing): memory is VmRSS
//! from /proc once the screen is up; latency is measured from the moment
//! the posting `comm-node send` process exits (the ref has moved) to the
//! first `tmux capture-pane` that shows the event's subject (polled every
//! 2 ms, so it is an upper bound by up to the cost of one capture).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use comm_node::cockpit::{panels, App, Focus, Model};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

mod common;

use common::{fast_import, initialised, report, Hermetic, BIN};

const DOMAINS: usize = 16;

fn main() {
    let events: u64 = common::arg("events", 100_000);
    let tasks: usize = common::arg("tasks", 10_000);
    let iterations: usize = common::arg("iterations", 50);
    // `-- --unread true`: nobody ever read anything (every cursor at the
    // start of the history): the worst case of the unread counts.
    let unread: bool = common::arg("unread", false);
    // `-- --keep DIR` builds the repository in DIR, or reuses it.
    let keep: String = common::arg("keep", String::new());
    let temp = tempfile::tempdir().unwrap();
    let scratch = match keep.as_str() {
        "" => temp.path().to_owned(),
        dir => std::path::PathBuf::from(dir),
    };
    let root = scratch.join("app");
    let env = Hermetic::in_dir(&scratch);
    let t = Instant::now();
    if !root.join(".git").exists() {
        setup(&env, &root, &scratch, events, tasks, unread);
    }
    println!(
        "setup: {DOMAINS} domains, {tasks} tasks, {events} events in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // One redraw: the model, then drawing it.
    let repo = comm_node::git::Repo::discover(&root).unwrap();
    let loaded = comm_node::project::load_config_if_any(&repo)
        .unwrap()
        .unwrap();
    let now = comm_node::clock::now();
    let mut gather = Vec::new();
    let mut model = Model::gather(&repo, &loaded, now).unwrap();
    for _ in 0..iterations {
        let t = Instant::now();
        model = Model::gather(&repo, &loaded, now).unwrap();
        gather.push(t.elapsed());
    }
    assert_eq!(model.domains.len(), DOMAINS);
    // What a redraw after an event that leaves `tasks/` alone costs (a
    // message, a turn, a halt): the task graph's part is kept.
    let mut cache = comm_node::cockpit::model::Cache::default();
    Model::gather_cached(&repo, &loaded, now, &mut cache).unwrap();
    let mut cached = Vec::new();
    for i in 0..iterations {
        let out = env
            .cmd(BIN, &root)
            .args(["--as", "d01", "send", "--to", "d02", &format!("cached {i}")])
            .output()
            .unwrap();
        assert!(out.status.success());
        let t = Instant::now();
        model = Model::gather_cached(&repo, &loaded, now, &mut cache).unwrap();
        cached.push(t.elapsed());
    }
    let gather_cached = report(
        "model after a message (task graph kept: tasks/ unchanged)",
        &mut cached,
    );
    // What a redraw after a task change costs, on the same cache as
    // `watch` keeps: a domain claims its next task, then marks it done.
    let (mut claims, mut dones) = (Vec::new(), Vec::new());
    for i in 0..iterations {
        let domain = format!("d{:02}", i % DOMAINS);
        let out = env
            .cmd(BIN, &root)
            .args(["--as", &domain, "task", "next"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let id = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap()
            .to_owned();
        let t = Instant::now();
        Model::gather_cached(&repo, &loaded, now, &mut cache).unwrap();
        claims.push(t.elapsed());
        let out = env
            .cmd(BIN, &root)
            .args(["--as", &domain, "task", "done", &id])
            .output()
            .unwrap();
        assert!(out.status.success());
        let t = Instant::now();
        model = Model::gather_cached(&repo, &loaded, now, &mut cache).unwrap();
        dones.push(t.elapsed());
    }
    let claim = report("model after a task claim (tasks/ changed)", &mut claims);
    let done = report("model after a task done (tasks/ changed)", &mut dones);
    if common::arg("parts", false) {
        parts(&repo, &loaded, now);
    }
    let gather = report("model (read comm and up's state)", &mut gather);
    let mut total = gather;
    for (w, h) in [(80, 24), (200, 50)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        let mut draws = Vec::new();
        for focus in Focus::ALL.iter().cycle().take(iterations.max(4)) {
            let mut app = App::new(false, None, true);
            app.focus = *focus;
            let t = Instant::now();
            terminal.draw(|f| panels::draw(f, &model, &app)).unwrap();
            draws.push(t.elapsed());
        }
        let d = report(&format!("draw {w}x{h} (every panel in turn)"), &mut draws);
        if w == 200 {
            total += d;
        }
    }
    let redraw = |model: Duration| (total - gather + model).as_secs_f64() * 1000.0;
    println!(
        "redraw at 200x50 (model + draw, p50): {:.2} ms cold, {:.2} ms after a message, \
         {:.2} ms after a claim, {:.2} ms after a done",
        redraw(gather),
        redraw(gather_cached),
        redraw(claim),
        redraw(done)
    );

    if Command::new("tmux").arg("-V").output().is_err() {
        println!("tmux missing: the live part (memory, event to redraw) is skipped");
        return;
    }
    live(&env, &root, iterations.min(30));
}

/// `watch` in tmux: its memory, and event-to-redraw latency.
fn live(env: &Hermetic, root: &Path, iterations: usize) {
    let socket = format!("cn-watch-bench-{}", std::process::id());
    let tmux = |args: &[&str]| {
        let mut cmd = env.cmd("tmux", root);
        cmd.args(["-L", &socket, "-f", "/dev/null"]).args(args);
        cmd.env_remove("TMUX")
            .env("TERM", "xterm-256color")
            .env("TMUX_TMPDIR", root.parent().unwrap());
        cmd.output().unwrap()
    };
    let out = tmux(&[
        "new-session",
        "-d",
        "-x",
        "200",
        "-y",
        "50",
        &format!("exec {BIN} watch"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let screen = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
    let wait = |text: &str| -> Duration {
        let start = Instant::now();
        while !screen().contains(text) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{text} not shown"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        start.elapsed()
    };
    wait("Feed");
    let pid = String::from_utf8_lossy(&tmux(&["list-panes", "-F", "#{pane_pid}"]).stdout)
        .trim()
        .to_owned();
    let rss = |pid: &str| -> String {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kb = |key: &str| -> f64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        format!(
            "{:.1} MB (anonymous {:.1} MB, mapped files {:.1} MB)",
            kb("VmRSS:"),
            kb("RssAnon:"),
            kb("RssFile:")
        )
    };
    println!("watch RSS once drawn: {}", rss(&pid));
    let mut latency = Vec::new();
    for i in 0..iterations {
        let subject = format!("bench-ping-{i:04}");
        let out = env
            .cmd(BIN, root)
            .args(["send", "--to", "d00", &subject])
            .output()
            .unwrap();
        assert!(out.status.success());
        latency.push(wait(&subject));
    }
    report("event to redraw (send exits → on screen)", &mut latency);
    println!("watch RSS after {iterations} events: {}", rss(&pid));
    tmux(&["kill-server"]);
}

fn setup(env: &Hermetic, root: &Path, scratch: &Path, events: u64, tasks: usize, unread: bool) {
    let mut config = String::from("project: bench\nbudget:\n  per_domain: { usd: 10 }\ndomains:\n");
    for d in 0..DOMAINS {
        config.push_str(&format!("  d{d:02}: {{scope: [\"d{d:02}/**\"]}}\n"));
    }
    let kickoff = initialised(env, root, &config);
    let mut child = fast_import(env, root);
    let mut stdin = std::io::BufWriter::new(child.stdin.take().unwrap());
    let start = comm_node::clock::now() - events as i64;
    for i in 0..events {
        let seq = kickoff.seq + i + 1;
        let from = format!("d{:02}", i % DOMAINS as u64);
        let to = format!("d{:02}", (i + 3) % DOMAINS as u64);
        let id = format!("bench-{i:08}");
        let msg = format!(
            "{from} → {to}: history message {i}\n\nBody of message {i}.\n\nComm-Kind: msg\nComm-From: {from}\nComm-To: {to}\nComm-Id: {id}\nComm-Seq: {seq}\nComm-Thread: {id}\nComm-Tokens: 12\n"
        );
        writeln!(stdin, "commit refs/heads/comm").unwrap();
        writeln!(
            stdin,
            "committer bench <bench@bench.invalid> {} +0000",
            start + i as i64
        )
        .unwrap();
        writeln!(stdin, "data {}\n{msg}", msg.len()).unwrap();
        if i == 0 {
            writeln!(stdin, "from {}", kickoff.commit).unwrap();
        }
        if i + 1 == events && !unread {
            // Every reader has read everything so far (agents ack what
            // they read): the cursors sit at the tip.
            let readers: Vec<String> = (0..DOMAINS).map(|d| format!("d{d:02}")).collect();
            let readers = readers.iter().map(String::as_str).chain(["human"]);
            common::write_cursors(&mut stdin, readers, seq);
        }
        writeln!(stdin).unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    env.git(root, &["repack", "-adq"]);

    let domains: Vec<String> = (0..DOMAINS).map(|d| format!("d{d:02}")).collect();
    common::import_beads_board(env, root, scratch, &domains, tasks);
}

/// Where a model's time goes (`-- --parts true`).
fn parts(repo: &comm_node::git::Repo, loaded: &comm_node::config::Loaded, now: i64) {
    use comm_node::comm;
    let time = |what: &str, f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        println!("  {what}: {:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
    };
    let snapshot = comm::Snapshot::take(repo).unwrap();
    time("liveness", &mut || {
        comm_node::health::liveness(repo, &loaded.config, now).unwrap();
    });
    time("status::gather", &mut || {
        comm_node::status::gather(repo, loaded, now, Default::default()).unwrap();
    });
    time("task board", &mut || {
        comm::task::board(&snapshot).unwrap();
    });
    time("history 500", &mut || {
        comm::history(repo, 500).unwrap();
    });
    time("inbox human", &mut || {
        comm::inbox(repo, comm::HUMAN).unwrap();
    });
    let names: Vec<String> = loaded.config.domains.keys().cloned().collect();
    time("16 worktrees: dirty?", &mut || {
        for n in &names {
            if let Some(w) = repo.find_worktree(n).unwrap() {
                comm_node::git::Repo::is_dirty(&w.path).unwrap();
            }
        }
    });
    time("16 branches: ahead/behind main", &mut || {
        let main = repo.branch_tip("main").unwrap().unwrap();
        for n in &names {
            let tip = repo.branch_tip(&format!("domain/{n}")).unwrap().unwrap();
            repo.ahead_behind(tip, main).unwrap();
        }
    });
    time("unread counts", &mut || {
        comm::unread_counts(&snapshot, &names).unwrap();
    });
    time("spend report", &mut || {
        comm::budget::spend_report(&snapshot, &loaded.config.budget, &names, None).unwrap();
    });
}
