//! What a queue run says about itself: the step it is at, in the file
//! `watch` reads, while it runs; the duration of each command on the
//! decisions it makes; and a killed run's step file, never taken for a run
//! in progress. Real repositories, the real binary; no timed assertions.

mod common;

use std::path::{Path, PathBuf};

use comm_node::cockpit::Model;
use comm_node::git::Repo;
use comm_node::project;
use comm_node::queue::current;
use common::queue::{
    commit, kill, project, queue_run, spawn_run_with, submit, Hold, CONFIG, HOLDING_COMMAND,
    HOLDING_TEST, TEST,
};
use common::Env;

fn repo(root: &Path) -> Repo {
    Repo::discover(root).unwrap()
}

/// Where the run keeps its step.
fn step_file(root: &Path) -> PathBuf {
    repo(root).state_path("queue").join(current::FILE)
}

/// The queue as `watch` sees it: a run in progress, and its step.
fn watched(root: &Path) -> (bool, Option<String>) {
    let repo = repo(root);
    let loaded = project::load_config_if_any(&repo).unwrap().unwrap();
    let queue = Model::gather(&repo, &loaded, comm_node::clock::now())
        .unwrap()
        .queue;
    (queue.running, queue.step.map(|s| s.step))
}

/// A project whose test holds the run, with `api` submitted.
fn holding_project(env: &Env) -> PathBuf {
    let root = project(env, &CONFIG.replace(TEST, HOLDING_TEST));
    commit(env, "api", &[("api/a.txt", "a\n")], "api: a");
    submit(env, "api");
    root
}

#[test]
fn the_step_names_the_running_test_command_until_the_run_ends() {
    let env = Env::new();
    let root = holding_project(&env);
    let hold = Hold::new(&env);
    let mut child = spawn_run_with(&env, &root, &[], &hold.vars());
    hold.wait_started();

    let step = current::current(&repo(&root)).expect("the run's step");
    assert_eq!(step.step, format!("test {HOLDING_COMMAND}"));
    assert_eq!(step.pid, child.id());
    let shown = env.cn(&root, &["queue", "status"]).expect(0).stdout;
    assert!(
        shown.contains(&format!("(a run is active: test {HOLDING_COMMAND} for ")),
        "{shown}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &env.cn(&root, &["queue", "status", "--json"])
            .expect(0)
            .stdout,
    )
    .unwrap();
    assert_eq!(json["step"]["step"], step.step.as_str());
    assert_eq!(watched(&root), (true, Some(step.step)));

    drop(hold);
    assert!(child.wait().unwrap().success());
    assert!(!step_file(&root).exists(), "the step goes with the run");
    assert_eq!(watched(&root), (false, None));
}

#[test]
fn a_killed_runs_step_file_is_not_a_run_in_progress() {
    let env = Env::new();
    let root = holding_project(&env);
    let hold = Hold::new(&env);
    let child = spawn_run_with(&env, &root, &[], &hold.vars());
    hold.wait_started();
    kill(child);

    assert!(step_file(&root).exists(), "SIGKILL leaves the step behind");
    assert!(current::current(&repo(&root)).is_none());
    assert_eq!(watched(&root), (false, None));

    // The next run kills the held test command, lands, and leaves no step.
    let report = queue_run(&env, &root, &[]);
    drop(hold);
    assert!(report["killed_leftover"].is_i64(), "{report}");
    assert_eq!(report["decisions"][0]["outcome"], "landed");
    assert!(!step_file(&root).exists());
}

#[test]
fn each_decision_carries_the_durations_of_the_run_that_decided_it() {
    let env = Env::new();
    let grep = "! grep -rqx --exclude=.git BROKEN .";
    let config = CONFIG.replace(
        TEST,
        &format!("setup: [\"true\"]\ntest: [\"true\", \"{grep}\"]"),
    );
    let root = project(&env, &config);
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    submit(&env, "api");
    commit(&env, "web", &[("web/b.txt", "BROKEN\n")], "web: broken");
    submit(&env, "web");
    let report = queue_run(&env, &root, &[]);
    let phases: Vec<&str> = report["runs"][0]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["setup", "test", "test"]);

    // As git itself reads the trailers, durations stood in for.
    let log = env.git(
        &root,
        &[
            "log",
            "--reverse",
            "comm",
            "--format=%(trailers:key=Comm-Kind,valueonly,separator=)|%(trailers:key=Comm-Setup-Time,valueonly,separator=;)|%(trailers:key=Comm-Test-Time,valueonly,separator=;)",
        ],
    );
    let mut decided: Vec<String> = log
        .lines()
        .filter(|l| l.starts_with("landed|") || l.starts_with("rejected|"))
        .map(without_numbers)
        .collect();
    decided.sort();
    assert_eq!(
        decided,
        [
            format!("landed|Nms true|Nms true;Nms {grep}"),
            format!("rejected|Nms true|Nms true;Nms {grep}"),
        ]
    );
    env.cn(&root, &["verify"]).expect(0);
}

/// `line` with every run of digits followed by `ms` replaced by `Nms`.
fn without_numbers(line: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    for c in line.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            out.push_str(if c == 'm' { "N" } else { &digits });
            digits.clear();
        }
        out.push(c);
    }
    out + &digits
}
