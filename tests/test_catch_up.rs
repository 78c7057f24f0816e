//! Catching a domain branch up with main, end to end: the real binary, its
//! installed hooks and git itself on temporary repositories. A conflicted
//! catch-up merge is committed through the hook; `comm-node update` does
//! it for the agent; `status` and the landing notice say when to; a repo
//! whose main branch is `master` hears `master` in every hint.

mod common;

use std::path::{Path, PathBuf};

use common::{read, write, Env};
use serde_json::Value;

const CONFIG: &str = r#"project: app
main: BRANCH
shared: ["README.md"]
test: ["true"]
domains:
  backend:
    scope: ["backend/**"]
  infra:
    scope: ["infra/**"]
"#;

/// An initialised repository whose main branch is `branch`.
fn project_on(env: &Env, branch: &str) -> PathBuf {
    let root = env.path("app");
    std::fs::create_dir_all(&root).unwrap();
    env.git(&root, &["init", "-q", "-b", branch]);
    env.git(&root, &["config", "user.name", "Test Human"]);
    env.git(&root, &["config", "user.email", "human@test.invalid"]);
    for (path, text) in [
        ("comm.yaml", CONFIG.replace("BRANCH", branch)),
        ("README.md", "# app\nstatus: new\n".into()),
        ("backend/api.txt", "v1\n".into()),
        ("infra/deploy.txt", "v1\n".into()),
    ] {
        write(&root.join(path), &text);
    }
    env.git(&root, &["add", "-A"]);
    env.git(&root, &["commit", "-qm", "initial"]);
    env.cn(&root, &["init"]).expect(0);
    root
}

fn project(env: &Env) -> PathBuf {
    project_on(env, "main")
}

/// Commits `files` in `domain`'s worktree through its hooks.
fn commit(env: &Env, domain: &str, files: &[(&str, &str)], message: &str) {
    let wt = env.worktree(domain);
    for (path, text) in files {
        write(&wt.join(path), text);
    }
    env.git(&wt, &["add", "-A"]);
    env.git(&wt, &["commit", "-qm", message]);
}

/// Submits `domain`'s branch and runs the queue once.
fn land(env: &Env, root: &Path, domain: &str) -> Value {
    env.cn(&env.worktree(domain), &["submit"]).expect(0);
    let run = env
        .cn(root, &["--json", "queue", "run", "--once"])
        .expect(0);
    serde_json::from_str(&run.stdout).unwrap()
}

/// backend lands a README change on main while infra changes the same line:
/// infra's branch now conflicts with main in README.md.
fn diverged(env: &Env) -> PathBuf {
    let root = project(env);
    commit(
        env,
        "backend",
        &[
            ("backend/api.txt", "v2\n"),
            ("README.md", "# app\nstatus: backend v2\n"),
        ],
        "backend: v2",
    );
    land(env, &root, "backend");
    commit(
        env,
        "infra",
        &[
            ("infra/deploy.txt", "v2\n"),
            ("README.md", "# app\nstatus: infra v2\n"),
        ],
        "infra: v2",
    );
    root
}

#[test]
fn a_conflicted_catch_up_merge_resolved_and_committed_passes_the_hook() {
    let env = Env::new();
    diverged(&env);
    let wt = env.worktree("infra");
    let merge = env.git_run(&wt, &["merge", "main"]);
    assert_eq!(merge.code, 1, "the merge conflicts: {}", merge.stdout);
    write(
        &wt.join("README.md"),
        "# app\nstatus: backend v2, infra v2\n",
    );
    env.git(&wt, &["add", "README.md"]);
    let run = env.git_run(&wt, &["commit", "--no-edit"]);
    assert_eq!(run.code, 0, "the hook refused the catch-up: {}", run.stderr);
    assert_eq!(read(&wt.join("backend/api.txt")), "v2\n");
    // The queue judges the merge commit the same way.
    env.cn(&wt, &["check", "--range", "main..domain/infra"])
        .expect(0);
    env.cn(
        &env.path("app"),
        &["check", "--range", "main..domain/infra"],
    )
    .expect(0);
}

#[test]
fn a_catch_up_merge_that_also_edits_another_domains_file_is_refused() {
    let env = Env::new();
    diverged(&env);
    let wt = env.worktree("infra");
    assert_eq!(env.git_run(&wt, &["merge", "main"]).code, 1);
    write(&wt.join("README.md"), "# app\nstatus: both\n");
    write(&wt.join("backend/api.txt"), "infra was here\n");
    env.git(&wt, &["add", "-A"]);
    let run = env.git_run(&wt, &["commit", "--no-edit"]);
    assert_eq!(run.code, 1, "the sneaked edit passed: {}", run.stdout);
    assert!(
        run.stderr.contains("backend/api.txt") && run.stderr.contains("scope"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("README.md"),
        "a shared file is not refused: {}",
        run.stderr
    );
}

#[test]
fn a_merge_of_another_domains_unlanded_branch_gets_no_catch_up_allowance() {
    let env = Env::new();
    let _root = project(&env);
    commit(
        &env,
        "backend",
        &[("backend/api.txt", "v2\n"), ("README.md", "# b\n")],
        "backend: v2",
    );
    commit(&env, "infra", &[("README.md", "# i\n")], "infra: readme");
    let wt = env.worktree("infra");
    assert_eq!(env.git_run(&wt, &["merge", "domain/backend"]).code, 1);
    write(&wt.join("README.md"), "# both\n");
    env.git(&wt, &["add", "-A"]);
    let run = env.git_run(&wt, &["commit", "--no-edit"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("backend/api.txt"), "{}", run.stderr);
}
