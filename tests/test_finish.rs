//! The one finishing rule and the submit guards, end to end: work that
//! changes code is done when it lands; `task done` with unlanded or queued
//! work is refused; `submit --task` of a done task says so; a submit in
//! the middle of a merge is refused; a head the queue just rejected is
//! queued again only with the reason in a warning.

mod common;

use std::path::{Path, PathBuf};

use common::{Env, BACKEND_INFRA};
use serde_json::Value;

/// backend and infra; the project test fails when any file says BROKEN.
fn project(env: &Env) -> PathBuf {
    let config = BACKEND_INFRA.replace(r#"test: ["true"]"#, common::queue::TEST);
    env.app(&[
        ("comm.yaml", &config),
        ("README.md", "# app\n"),
        ("backend/api.txt", "v1\n"),
        ("infra/deploy.txt", "v1\n"),
    ])
}

/// Commits `files` in `domain`'s worktree through its hooks.
fn commit(env: &Env, domain: &str, files: &[(&str, &str)]) {
    env.commit_in(domain, files, "work");
}

/// A task for backend, claimed by backend; its id.
fn claimed_task(env: &Env, root: &Path) -> String {
    let run = env
        .cn(
            root,
            &["--as", "human", "task", "add", "v2", "--domain", "backend"],
        )
        .expect(0);
    let id = run.stdout.lines().next().unwrap().to_owned();
    env.cn(&env.worktree("backend"), &["task", "claim", &id])
        .expect(0);
    id
}

fn task_status(env: &Env, root: &Path, id: &str) -> String {
    let run = env.cn(root, &["--json", "task", "show", id]).expect(0);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    v["status"].as_str().unwrap().to_owned()
}

fn queue_once(env: &Env, root: &Path) -> Value {
    common::queue::queue_run(env, root, &[])
}

#[test]
fn task_done_is_refused_while_its_domain_has_unlanded_commits() {
    let env = Env::new();
    let root = project(&env);
    let id = claimed_task(&env, &root);
    commit(&env, "backend", &[("backend/api.txt", "v2\n")]);
    let backend = env.worktree("backend");
    let run = env.cn(&backend, &["task", "done", &id]).expect(1);
    assert!(
        run.stderr
            .contains("domain/backend has 1 commit that main does not")
            && run.stderr.contains("done when it lands")
            && run
                .stderr
                .contains(&format!("comm-node submit --task {id}")),
        "{}",
        run.stderr
    );
    assert_eq!(task_status(&env, &root, &id), "claimed");
    // Other work on the branch, and this task changed no code: --force.
    let run = env
        .cn(&backend, &["task", "done", &id, "--force"])
        .expect(0);
    assert!(
        run.stderr.contains("warning: domain/backend has 1 commit"),
        "{}",
        run.stderr
    );
    assert_eq!(task_status(&env, &root, &id), "done");
}

#[test]
fn task_done_is_refused_while_the_task_is_queued_and_lands_done() {
    let env = Env::new();
    let root = project(&env);
    let id = claimed_task(&env, &root);
    commit(&env, "backend", &[("backend/api.txt", "v2\n")]);
    let backend = env.worktree("backend");
    env.cn(&backend, &["submit", "--task", &id]).expect(0);
    let run = env
        .cn(&backend, &["task", "done", &id, "--force"])
        .expect(1);
    assert!(
        run.stderr
            .contains(&format!("task {id} is in the merge queue"))
            && run.stderr.contains("becomes done when that lands"),
        "{}",
        run.stderr
    );
    assert_eq!(task_status(&env, &root, &id), "claimed");
    queue_once(&env, &root);
    assert_eq!(task_status(&env, &root, &id), "done");
}

#[test]
fn task_done_for_work_that_changed_no_code_is_accepted() {
    let env = Env::new();
    let root = project(&env);
    let id = claimed_task(&env, &root);
    env.cn(&env.worktree("backend"), &["task", "done", &id])
        .expect(0);
    assert_eq!(task_status(&env, &root, &id), "done");
}

#[test]
fn submit_task_of_a_task_already_done_is_refused() {
    let env = Env::new();
    let root = project(&env);
    let id = claimed_task(&env, &root);
    let backend = env.worktree("backend");
    env.cn(&backend, &["task", "done", &id]).expect(0);
    commit(&env, "backend", &[("backend/api.txt", "v2\n")]);
    let run = env.cn(&backend, &["submit", "--task", &id]).expect(1);
    assert!(
        run.stderr.contains(&format!("task {id} is already done"))
            && run.stderr.contains("submit without --task"),
        "{}",
        run.stderr
    );
    assert_eq!(
        env.git(&root, &["ls-tree", "--name-only", "comm", "queue/"]),
        ""
    );
    env.cn(&backend, &["submit"]).expect(0);
}

#[test]
fn submit_during_an_unfinished_merge_is_refused() {
    let env = Env::new();
    let root = project(&env);
    commit(&env, "backend", &[("README.md", "# backend\n")]);
    env.cn(&env.worktree("backend"), &["submit"]).expect(0);
    queue_once(&env, &root);
    commit(&env, "infra", &[("README.md", "# infra\n")]);
    let infra = env.worktree("infra");
    assert_eq!(env.git_run(&infra, &["merge", "main"]).code, 1);
    let run = env.cn(&infra, &["submit"]).expect(1);
    assert!(
        run.stderr.contains("a merge is in progress") && run.stderr.contains("git merge --abort"),
        "{}",
        run.stderr
    );
    assert_eq!(
        env.git(&root, &["ls-tree", "--name-only", "comm", "queue/"]),
        ""
    );
    // From outside the worktree too.
    env.cn(&root, &["--as", "infra", "submit"]).expect(1);
}

#[test]
fn submit_of_a_head_the_queue_just_rejected_warns_with_the_reason() {
    let env = Env::new();
    let root = project(&env);
    commit(&env, "backend", &[("backend/api.txt", "BROKEN\n")]);
    let backend = env.worktree("backend");
    env.cn(&backend, &["submit"]).expect(0);
    let report = queue_once(&env, &root);
    assert_eq!(report["decisions"][0]["outcome"], "rejected", "{report}");
    let run = env.cn(&backend, &["--json", "submit"]).expect(0);
    assert!(
        run.stderr
            .contains("warning: the queue rejected this very head: queue: rejected backend")
            && run.stderr.contains("(tests)"),
        "{}",
        run.stderr
    );
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["rejected_before"]["reason"], "tests", "{out}");
    // A new head is a new attempt: no warning.
    commit(&env, "backend", &[("backend/api.txt", "v2\n")]);
    let run = env.cn(&backend, &["submit"]).expect(0);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
}

#[test]
fn task_help_teaches_the_one_finishing_rule() {
    let env = Env::new();
    let run = env.cn(&env.path(""), &["task", "--help"]).expect(0);
    assert!(
        run.stdout.contains("submit --task") && run.stdout.contains("done when it lands"),
        "{}",
        run.stdout
    );
    let run = env.cn(&env.path(""), &["task", "done", "--help"]).expect(0);
    assert!(
        run.stdout
            .contains("Work that changes code is done when it lands")
            && run.stdout.contains("--force"),
        "{}",
        run.stdout
    );
}
