//! Errors read as sentences with a next step, never libgit2's internals,
//! and under `--json` they are one JSON document on stdout
//! (`{"error", "hint", "exit", "causes"}`). Counts agree with their noun.
//! Real repositories, the real binary.

mod common;

use common::{write, Env};
use serde_json::Value;

const ONE_DOMAIN: &str = "project: solo\ndomains:\n  api:\n    scope: [\"api/**\"]\n";

/// The JSON error a `--json` command printed, checked for its shape.
#[track_caller]
fn json_error(run: &common::Run, exit: i32) -> Value {
    assert_eq!(run.code, exit, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stderr, "", "the error is on stdout only");
    let error: Value = serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    assert!(
        error["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{error}"
    );
    assert!(
        error["hint"].is_string() || error["hint"].is_null(),
        "{error}"
    );
    assert_eq!(error["exit"], exit, "{error}");
    assert!(error["causes"].is_array(), "{error}");
    error
}

#[test]
fn outside_a_repository_the_error_says_so_without_libgit2_internals() {
    let env = Env::new();
    let dir = env.path("plain");
    std::fs::create_dir_all(&dir).unwrap();
    for args in [
        &["status"][..],
        &["inbox"],
        &["queue", "status"],
        &["sync"],
        &["check", "--staged"],
    ] {
        let run = env.cn(&dir, args).expect(2);
        assert!(
            run.stderr.starts_with(&format!(
                "error: not inside a git repository: {}",
                dir.display()
            )),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run
            .stderr
            .contains("hint: run comm-node inside a git repository"));
        for internal in ["class=", "code=", "(-3)"] {
            assert!(!run.stderr.contains(internal), "{args:?}: {}", run.stderr);
        }
    }
}

#[test]
fn a_missing_comm_yaml_is_named_as_missing_not_as_a_mistake() {
    let env = Env::new();
    let root = env.repo("bare-project", &[("README.md", "hi\n")]);
    for args in [&["status"][..], &["init"], &["queue", "run", "--once"]] {
        let run = env.cn(&root, args).expect(2);
        assert_eq!(
            run.stderr.lines().next().unwrap(),
            format!(
                "error: no comm.yaml in {} (nor committed on main)",
                root.display()
            ),
            "{args:?}"
        );
        assert!(run
            .stderr
            .contains("`comm-node init --help` prints a complete example"));
        assert!(!run.stderr.contains("mistake"), "{}", run.stderr);
    }
}

#[test]
fn a_repository_on_master_is_told_to_set_main_to_master() {
    let env = Env::new();
    let root = env.repo_on("old", "master", &[("comm.yaml", ONE_DOMAIN)]);
    let run = env.cn(&root, &["init"]).expect(2);
    assert!(
        run.stderr
            .contains("branch `main` does not exist; this repository's branch is `master`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: set `main: master` in comm.yaml"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("1 mistake"), "{}", run.stderr);
    write(
        &root.join("comm.yaml"),
        &format!("main: master\n{ONE_DOMAIN}"),
    );
    env.cn(&root, &["init"]).expect(0);
}

#[test]
fn json_errors_are_one_document_on_stdout_for_every_command() {
    let env = Env::new();
    let plain = env.path("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let error = json_error(&env.cn(&plain, &["--json", "status"]), 2);
    assert!(error["error"]
        .as_str()
        .unwrap()
        .starts_with("not inside a git repository"));
    assert!(error["hint"].as_str().unwrap().contains("pass -C DIR"));

    let root = env.app(&[("comm.yaml", ONE_DOMAIN)]);
    // A usage error clap itself finds.
    let error = json_error(&env.cn(&root, &["--json", "queue", "frobnicate"]), 2);
    assert!(
        error["error"].as_str().unwrap().contains("frobnicate"),
        "{error}"
    );
    // A bad value.
    let run = env.cn(
        &root,
        &["--json", "queue", "run", "--once", "--timeout", "soon"],
    );
    let error = json_error(&run, 2);
    assert!(
        error["error"].as_str().unwrap().contains("not a duration"),
        "{error}"
    );
    // A refusal.
    let error = json_error(&env.cn(&root, &["--json", "--as", "api", "submit"]), 1);
    assert_eq!(
        error["error"],
        "domain/api has nothing that main does not have"
    );
    // A task nobody added.
    let run = env.cn(&root, &["--json", "--as", "api", "task", "claim", "T-0000"]);
    let error = json_error(&run, 2);
    assert!(
        error["error"].as_str().unwrap().contains("T-0000"),
        "{error}"
    );
    // A missing remote.
    let error = json_error(&env.cn(&root, &["--json", "sync", "nowhere"]), 2);
    assert_eq!(error["error"], "no remote named `nowhere`");
    assert!(error["hint"].as_str().unwrap().contains("git remote add"));
    // Help and version stay text, and exit 0.
    let help = env.cn(&root, &["--json", "queue", "--help"]).expect(0);
    assert!(help.stdout.contains("Usage:"), "{}", help.stdout);
}

#[test]
fn counts_agree_with_their_noun() {
    let env = Env::new();
    let root = env.repo("solo", &[("comm.yaml", ONE_DOMAIN)]);
    let init = env.cn(&root, &["init"]).expect(0);
    assert!(init.stdout.contains("(1 domain)"), "{}", init.stdout);
    let status = env.cn(&root, &["status"]).expect(0);
    assert!(
        status.stdout.starts_with("solo: 1 domain, "),
        "{}",
        status.stdout
    );
    let queue = env.cn(&root, &["queue", "status"]).expect(0);
    assert!(
        queue.stdout.starts_with("merge queue onto main: 0 entries"),
        "{}",
        queue.stdout
    );
    let kickoff = env.git(&root, &["log", "-1", "--format=%s", "comm"]);
    assert_eq!(kickoff, "kickoff solo: 1 domain (api)");
}
