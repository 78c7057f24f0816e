//! Task benchmarks: `task ready` with 10,000 tasks on `comm`, `task ready`
//! right after another agent changed a task, and claim latency, all as
//! whole CLI processes.
//!
//! Run with `cargo bench --bench tasks` (add `-- --tasks N` for another
//! size). The tasks are imported as beads JSONL, 2,000 per domain, with a
//! realistic graph: a third done, 0-3 dependencies on earlier tasks, some
//! convoys, priorities 0-4. `-- --keep DIR` leaves the repository in DIR.

use std::path::Path;
use std::time::Instant;

mod common;

use common::{report, Hermetic};

const DOMAINS: [&str; 5] = ["api", "web", "shared", "pricing", "engine"];

fn main() {
    let tasks: usize = common::arg("tasks", 10_000);
    // `-- --keep DIR` builds the repository in DIR and leaves it there (for profiling).
    let keep: String = common::arg("keep", String::new());
    let temp = tempfile::tempdir().unwrap();
    let scratch = match keep.as_str() {
        "" => temp.path().to_owned(),
        dir => std::path::PathBuf::from(dir),
    };
    let root = scratch.join("repo");
    let env = Hermetic::in_dir(&scratch);

    let t = Instant::now();
    setup(&env, &root, &scratch, tasks);
    println!(
        "setup: {tasks} tasks on comm in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let (cold, out) = env.time(&root, &["--as", "web", "task", "ready"]);
    let ready_count = String::from_utf8_lossy(&out.stdout).lines().count();
    println!(
        "task ready, cold cache (every task file parsed once): {:.1} ms, {ready_count} ready for web",
        cold.as_secs_f64() * 1000.0
    );

    let mut times: Vec<_> = (0..100)
        .map(|_| {
            let (d, out) = env.time(&root, &["--as", "web", "task", "ready"]);
            assert!(out.status.success());
            d
        })
        .collect();
    report(
        &format!("task ready ({tasks} tasks, CLI process)"),
        &mut times,
    );

    let mut json_times: Vec<_> = (0..50)
        .map(|_| {
            env.time(&root, &["--as", "web", "--json", "task", "ready"])
                .0
        })
        .collect();
    report(
        &format!("task ready --json ({tasks} tasks)"),
        &mut json_times,
    );

    // Claims: each takes the best ready task of a domain, then `task ready`
    // sees a comm that moved by one task file.
    let mut claim_times = Vec::new();
    let mut after_change = Vec::new();
    for i in 0..60 {
        let domain = DOMAINS[i % DOMAINS.len()];
        let (d, out) = env.time(&root, &["--as", domain, "task", "next"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        claim_times.push(d);
        after_change.push(env.time(&root, &["--as", "web", "task", "ready"]).0);
    }
    report(
        &format!("task next: claim ({tasks} tasks, CLI process)"),
        &mut claim_times,
    );
    report(
        "task ready right after a claim (cache catches up by one file)",
        &mut after_change,
    );
}

fn setup(env: &Hermetic, root: &Path, scratch: &Path, tasks: usize) {
    std::fs::create_dir_all(root).unwrap();
    env.git(root, &["init", "-q", "-b", "main"]);
    let mut config = String::from("project: bench\ndomains:\n");
    for d in DOMAINS {
        config.push_str(&format!("  {d}: {{scope: [\"{d}/**\"]}}\n"));
    }
    std::fs::write(root.join("comm.yaml"), config).unwrap();
    env.git(root, &["add", "-A"]);
    env.git(root, &["commit", "-qm", "bench"]);
    let (_, out) = env.time(root, &["init"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let domains: Vec<String> = DOMAINS.iter().map(|d| d.to_string()).collect();
    common::import_beads_board(env, root, scratch, &domains, tasks);
}
