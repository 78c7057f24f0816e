//! Merge queue overhead: `comm-node queue run --once` as a whole CLI
//! process over 16 submitted candidates whose test command is `true`, so
//! what is timed is the queue itself (reading the queue, boundary checks,
//! trial merges, scratch checkouts, the ref update, the checkout update,
//! the decisions), not the tests. A second scenario puts one failing
//! candidate among the 16 and reports the test runs bisection needed.
//!
//! Run with `cargo bench --bench queue` (add `-- --reps N`). BENCHMARKS.md
//! records the results.

use std::path::Path;
use std::time::Duration;

mod common;

use common::{report, Hermetic, BIN};

const CANDIDATES: usize = 16;

fn main() {
    let reps: usize = common::arg("reps", 10);
    let dir = tempfile::tempdir().unwrap();
    let env = Hermetic::in_dir(dir.path());

    let root = dir.path().join("app");
    let runs = dir.path().join("runs.log");
    setup(&env, &root, &runs);
    let mut totals = Vec::new();
    let mut per_candidate = Vec::new();
    for rep in 0..reps {
        submit_all(&env, &root, rep, None);
        let (d, out) = env.time(&root, &["--json", "queue", "run", "--once"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["decisions"].as_array().unwrap().len(), CANDIDATES);
        assert_eq!(report["test_runs"], 1);
        totals.push(d);
        per_candidate.push(d / CANDIDATES as u32);
    }
    report(
        "queue run, 16 good candidates, test `true` (whole CLI)",
        &mut totals,
    );
    report("  per candidate", &mut per_candidate);

    let mut totals = Vec::new();
    let mut test_runs = Vec::new();
    for rep in reps..2 * reps {
        std::fs::write(&runs, "").unwrap();
        submit_all(&env, &root, rep, Some(rep % CANDIDATES));
        let (d, out) = env.time(&root, &["--json", "queue", "run", "--once"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let landed = report["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["outcome"] == "landed")
            .count();
        assert_eq!(landed, CANDIDATES - 1);
        let counted = std::fs::read_to_string(&runs).unwrap().lines().count();
        assert_eq!(report["test_runs"], counted);
        test_runs.push(counted);
        totals.push(d);
    }
    report(
        "queue run, 16 candidates with 1 bad (whole CLI)",
        &mut totals,
    );
    test_runs.sort();
    println!(
        "  test runs: min {} max {} (bad candidate at every position 0..{})",
        test_runs[0],
        test_runs[test_runs.len() - 1],
        reps.min(CANDIDATES)
    );
}

fn domain(i: usize) -> String {
    format!("d{i:02}")
}

/// A repository with 16 domains; the test counts its runs in `runs` and
/// fails when a file says BAD.
fn setup(env: &Hermetic, root: &Path, runs: &Path) {
    std::fs::create_dir_all(root).unwrap();
    env.git(root, &["init", "-q", "-b", "main"]);
    env.git(root, &["config", "user.name", "bench"]);
    env.git(root, &["config", "user.email", "bench@bench.invalid"]);
    let mut config = format!(
        "project: app\ntest: [\"echo run >> {} && ! grep -rqx --exclude=.git BAD .\"]\ndomains:\n",
        runs.display()
    );
    for i in 0..CANDIDATES {
        let d = domain(i);
        config.push_str(&format!("  {d}:\n    scope: [\"{d}/**\"]\n"));
        std::fs::create_dir_all(root.join(&d)).unwrap();
        std::fs::write(root.join(&d).join("mod.py"), "import os\n").unwrap();
    }
    std::fs::write(root.join("comm.yaml"), config).unwrap();
    common::commit_and_init(env, root);
}

/// One new commit on every domain branch, each submitted; `bad` breaks one.
fn submit_all(env: &Hermetic, root: &Path, rep: usize, bad: Option<usize>) {
    let worktrees = root.parent().unwrap().join("app.worktrees");
    for i in 0..CANDIDATES {
        let d = domain(i);
        let wt = worktrees.join(&d);
        env.git(&wt, &["reset", "-q", "--hard", "main"]);
        let text = if bad == Some(i) {
            "BAD\n".to_owned()
        } else {
            format!("x = {rep}\n")
        };
        std::fs::write(wt.join(&d).join(format!("f{rep}.py")), text).unwrap();
        env.git(&wt, &["add", "-A"]);
        env.git(
            &wt,
            &["commit", "-q", "--no-verify", "-m", &format!("{d} {rep}")],
        );
        let out = env.cmd(BIN, &wt).arg("submit").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::thread::sleep(Duration::from_millis(10));
}
