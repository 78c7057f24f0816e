//! What `comm-node queue run` tells while it works and what it keeps: one
//! line per step (in order, the bisection included), the whole log of
//! every test run, the merge commit of each landed entry, and what a
//! watching run says when it is idle. Real repositories, the real binary.

mod common;

use std::path::Path;
use std::time::Duration;

use common::queue::{commit, project, queue_run, submit, tip, CONFIG, TEST};
use common::{read, Env};
use serde_json::Value;

/// What kind of progress line `line` is, for comparing sequences.
fn kind(line: &str) -> &'static str {
    let kinds = [
        ("batch ", "batch"),
        ("bisecting: testing ", "bisect-test"),
        ("testing ", "test"),
        ("  $ ", "command"),
        ("  passed in ", "passed"),
        ("  FAILED in ", "FAILED"),
        ("tests passed on ", "tests-passed"),
        ("tests failed on ", "tests-failed"),
        ("bisecting ", "bisecting"),
        ("main moved from ", "main-moved"),
        ("queue: landed ", "landed"),
        ("queue: rejected ", "rejected"),
        ("    log tail: ", "log-tail"),
    ];
    kinds
        .iter()
        .find(|(prefix, _)| line.starts_with(prefix))
        .map_or("other", |(_, kind)| kind)
}

#[test]
fn queue_run_prints_one_line_per_step_in_order_including_the_bisection() {
    let env = Env::new();
    let root = project(&env, CONFIG);
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    commit(&env, "web", &[("web/page.txt", "BROKEN\n")], "web: page");
    commit(&env, "docs", &[("docs/d.txt", "d\n")], "docs: d");
    for domain in ["api", "web", "docs"] {
        submit(&env, domain);
    }

    let run = env
        .cn(&root, &["--json", "queue", "run", "--once"])
        .expect(0);

    // stdout stays one JSON document; the steps went to stderr.
    let report: Value = serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    assert_eq!(report["test_runs"], 4, "{report}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    let kinds: Vec<&str> = lines.iter().map(|l| kind(l)).collect();
    let test_run = |first: &'static str, outcome: &'static str, tests: &'static str| {
        [first, "command", outcome, tests]
    };
    let mut expected = vec!["batch"];
    expected.extend(test_run("test", "FAILED", "tests-failed"));
    expected.push("bisecting");
    expected.extend(test_run("bisect-test", "passed", "tests-passed"));
    expected.extend(test_run("bisect-test", "FAILED", "tests-failed"));
    expected.extend(["main-moved", "rejected", "log-tail", "landed", "batch"]);
    expected.extend(test_run("test", "passed", "tests-passed"));
    expected.extend(["main-moved", "landed"]);
    assert_eq!(kinds, expected, "{}", run.stderr);
    // The lines say which candidates, which command, and where the log is.
    assert!(
        lines[0].starts_with("batch 1: 3 candidates on main (")
            && lines[0].contains("api ")
            && lines[0].contains("web ")
            && lines[0].contains("docs "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("testing api+web+docs at ") && lines[1].ends_with("(3 of 3 stacked)"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "  $ ! grep -rqx --exclude=.git BROKEN .");
    assert!(lines[3].contains("(exited with 1)"), "{}", lines[3]);
    assert!(lines[4].contains("; log: "), "{}", lines[4]);
    assert_eq!(
        lines[5],
        "bisecting 3 candidates to find the culprit (at most 2 more test runs)"
    );
    assert!(lines[6].contains("testing api at "), "{}", lines[6]);
    assert!(lines[10].contains("testing api+web at "), "{}", lines[10]);
    assert!(
        lines[15].starts_with("queue: rejected web "),
        "{}",
        lines[16]
    );
    assert!(
        lines[18].starts_with("batch 2: 1 candidate on main ("),
        "{}",
        lines[19]
    );
    // Every test run's log is kept and named in the report.
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    let bisecting: Vec<bool> = runs.iter().map(|r| r["bisecting"] == true).collect();
    assert_eq!(bisecting, [false, true, true, false]);
    for r in runs {
        let log = Path::new(r["log"].as_str().unwrap());
        assert!(
            read(log).contains("$ ! grep"),
            "{} lacks its commands",
            log.display()
        );
    }
}

#[test]
fn the_whole_log_of_a_passing_run_is_kept_and_pointed_to() {
    let env = Env::new();
    let config = CONFIG.replace(
        TEST,
        "setup: [\"echo setting-up\"]\ntest: [\"echo first-line; seq 1 300\"]",
    );
    let root = project(&env, &config);
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    submit(&env, "api");

    let report = queue_run(&env, &root, &[]);

    let run = &report["runs"][0];
    assert_eq!(run["passed"], true);
    let log = run["log"].as_str().unwrap();
    assert!(
        log.contains(".git/comm-node/queue/logs/"),
        "kept under .git: {log}"
    );
    assert_eq!(report["decisions"][0]["log"].as_str(), Some(log));
    let text = read(Path::new(log));
    for expected in [
        "$ echo setting-up",
        "setting-up\n",
        "first-line\n1\n",
        "\n300\n",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }

    // A second passing run keeps its own log next to the first, and the
    // text output points to where they are.
    commit(&env, "web", &[("web/b.txt", "b\n")], "web: b");
    submit(&env, "web");
    let out = env.cn(&root, &["queue", "run", "--once"]).expect(0);
    assert!(
        out.stdout
            .contains("the whole log of every test run is kept in "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("tests passed on "), "{}", out.stdout);
    let logs = root.join(".git/comm-node/queue/logs");
    assert_eq!(std::fs::read_dir(&logs).unwrap().count(), 2);
    assert!(Path::new(log).exists(), "the first log is still there");
}

#[test]
fn a_batch_landing_names_each_entrys_own_merge_and_the_tip_separately() {
    let env = Env::new();
    let root = project(&env, CONFIG);
    let api = commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    let web = commit(&env, "web", &[("web/b.txt", "b\n")], "web: b");
    submit(&env, "api");
    submit(&env, "web");

    let report = queue_run(&env, &root, &[]);

    let main = tip(&env, &root, "main");
    let api_merge = tip(&env, &root, "main^1");
    assert_eq!(tip(&env, &root, "main^1^2"), api, "api's own merge");
    assert_eq!(tip(&env, &root, "main^2"), web);
    let decisions = report["decisions"].as_array().unwrap();
    let of = |domain: &str| decisions.iter().find(|d| d["domain"] == domain).unwrap();
    assert_eq!(of("api")["merge"], api_merge.as_str());
    assert_eq!(of("web")["merge"], main.as_str());
    assert_eq!(of("api")["main"], main.as_str(), "the tip, separately");
    assert_eq!(of("web")["main"], main.as_str());
    let subjects = env.git(
        &root,
        &["log", "--format=%s", "--grep=^queue: landed", "comm"],
    );
    assert!(
        subjects.contains(&format!(
            "queue: landed api {} on main as {} (main at {})",
            &api[..7],
            &api_merge[..7],
            &main[..7]
        )),
        "{subjects}"
    );
    assert!(
        subjects.contains(&format!(
            "queue: landed web {} on main as {}",
            &web[..7],
            &main[..7]
        )),
        "{subjects}"
    );
    let trailer = env.git(
        &root,
        &[
            "log",
            "-1",
            "--grep=^queue: landed api",
            "--format=%(trailers:key=Comm-Merge,valueonly,separator=)",
            "comm",
        ],
    );
    assert_eq!(trailer, api_merge);
}

#[test]
fn a_watching_run_says_once_that_it_is_idle_and_what_it_watches() {
    let env = Env::new();
    let root = project(&env, CONFIG);
    let out = env.path("watch.out");
    let file = std::fs::File::create(&out).unwrap();
    let mut child = env.spawn_loop(
        &root,
        "exec \"$0\" queue run --interval 1s",
        file.into(),
        std::process::Stdio::null(),
    );
    for _ in 0..300 {
        if read(&out).contains("idle:") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Three more rounds find nothing either: said once, not every round.
    std::thread::sleep(Duration::from_millis(3200));
    let text = read(&out);
    common::kill_group(&child);
    child.wait().unwrap();
    assert_eq!(
        text,
        "idle: nothing queued; watching comm for submissions every 1s (Ctrl-C stops)\n"
    );
}

#[test]
fn a_run_that_pushes_says_when_it_fetches_and_when_it_pushed() {
    let env = Env::new();
    let root = project(&env, CONFIG);
    let bare = env.empty_origin(&root);
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    env.git(&root, &["push", "-q", "origin", "main", "domain/api"]);
    submit(&env, "api");
    env.cn(&root, &["sync", "origin"]).expect(0);

    let run = env
        .cn(&root, &["queue", "run", "--once", "--push", "origin"])
        .expect(0);

    let lines: Vec<&str> = run.stdout.lines().collect();
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in\n{}", run.stdout))
    };
    assert_eq!(lines[0], "syncing comm with origin and fetching its main");
    assert!(at("batch 1: 1 candidate") < at("tests passed on "));
    assert!(at("tests passed on ") < at("pushed main and comm to origin (one atomic push)"));
    assert!(at("pushed main and comm") < at("queue: landed api "));
    assert_eq!(
        tip(&env, &root, "main"),
        env.git(&bare, &["rev-parse", "main"])
    );
}
