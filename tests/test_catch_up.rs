//! Catching a domain branch up with main, end to end: the real binary, its
//! installed hooks and git itself on temporary repositories. A conflicted
//! catch-up merge is committed through the hook; `comm-node update` does
//! it for the agent; `status` and the landing notice say when to; a repo
//! whose main branch is `master` hears `master` in every hint.

mod common;

use std::path::{Path, PathBuf};

use common::{read, write, Env, BACKEND_INFRA};
use serde_json::Value;

/// An initialised repository whose main branch is `branch`.
fn project_on(env: &Env, branch: &str) -> PathBuf {
    let config = format!("main: {branch}\n{BACKEND_INFRA}");
    let root = env.repo_on(
        "app",
        branch,
        &[
            ("comm.yaml", &config),
            ("README.md", "# app\nstatus: new\n"),
            ("backend/api.txt", "v1\n"),
            ("infra/deploy.txt", "v1\n"),
        ],
    );
    env.cn(&root, &["init"]).expect(0);
    root
}

fn project(env: &Env) -> PathBuf {
    project_on(env, "main")
}

/// Commits `files` in `domain`'s worktree through its hooks.
fn commit(env: &Env, domain: &str, files: &[(&str, &str)], message: &str) {
    env.commit_in(domain, files, message);
}

/// Submits `domain`'s branch and runs the queue once.
fn land(env: &Env, root: &Path, domain: &str) -> Value {
    env.cn(&env.worktree(domain), &["submit"]).expect(0);
    common::queue::queue_run(env, root, &[])
}

/// backend has landed `backend/api.txt` v2: infra's branch is behind main.
fn backend_landed(env: &Env) -> PathBuf {
    let root = project(env);
    commit(
        env,
        "backend",
        &[("backend/api.txt", "v2\n")],
        "backend: v2",
    );
    land(env, &root, "backend");
    root
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

/// `comm-node update ARGS` in `domain`'s worktree.
fn update(env: &Env, domain: &str, args: &[&str]) -> common::Run {
    update_with(env, domain, &[], args)
}

/// `comm-node --json update ARGS` in `domain`'s worktree.
fn update_json(env: &Env, domain: &str, args: &[&str]) -> common::Run {
    update_with(env, domain, &["--json"], args)
}

/// `comm-node GLOBAL update ARGS` in `domain`'s worktree.
fn update_with(env: &Env, domain: &str, global: &[&str], args: &[&str]) -> common::Run {
    let mut all = global.to_vec();
    all.push("update");
    all.extend_from_slice(args);
    env.cn(&env.worktree(domain), &all)
}

fn json(run: &common::Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

#[test]
fn update_merges_main_cleanly_and_then_has_nothing_to_do() {
    let env = Env::new();
    let root = backend_landed(&env);
    commit(&env, "infra", &[("infra/deploy.txt", "v2\n")], "infra: v2");
    let run = update(&env, "infra", &[]).expect(0);
    assert!(
        run.stdout
            .contains("caught domain/infra up with main by merge"),
        "{}",
        run.stdout
    );
    let wt = env.worktree("infra");
    assert_eq!(read(&wt.join("backend/api.txt")), "v2\n");
    let main = env.git(&root, &["rev-parse", "main"]);
    env.git(&wt, &["merge-base", "--is-ancestor", &main, "HEAD"]);
    let again = json(&env.cn(&wt, &["--json", "update"]).expect(0));
    assert_eq!(again["outcome"], "up-to-date");
    assert_eq!(again["behind"], 0);
    // The caught-up branch lands: the queue does not see main's files as infra's.
    let report = land(&env, &root, "infra");
    assert_eq!(report["decisions"][0]["outcome"], "landed", "{report}");
}

#[test]
fn update_stops_on_conflicts_listing_the_files_and_leaves_the_merge_to_finish() {
    let env = Env::new();
    let root = diverged(&env);
    let wt = env.worktree("infra");
    let run = env.cn(&wt, &["--json", "catch-up"]).expect(1);
    let out = json(&run);
    assert_eq!(out["outcome"], "conflicts");
    assert_eq!(out["conflicts"], serde_json::json!(["README.md"]));
    assert_eq!(out["behind"], 2);
    assert!(wt.join(".git").exists());
    env.git(&wt, &["rev-parse", "-q", "--verify", "MERGE_HEAD"]);
    let text = update(&env, "infra", &[]).expect(1);
    assert!(
        text.stderr.contains("a merge is in progress"),
        "a second update is refused: {}",
        text.stderr
    );
    write(
        &wt.join("README.md"),
        "# app\nstatus: backend v2, infra v2\n",
    );
    env.git(&wt, &["add", "README.md"]);
    env.git(&wt, &["commit", "-q", "--no-edit"]);
    let report = land(&env, &root, "infra");
    assert_eq!(report["decisions"][0]["outcome"], "landed", "{report}");
}

#[test]
fn update_text_lists_conflicts_and_says_how_to_finish_or_go_back() {
    let env = Env::new();
    diverged(&env);
    let run = update(&env, "infra", &[]).expect(1);
    assert!(
        run.stderr
            .contains("catching domain/infra up with main stopped on conflicts in 1 file"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("conflict: README.md"), "{}", run.stderr);
    assert!(
        run.stderr.contains("git commit --no-edit"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("git merge --abort"), "{}", run.stderr);
}

#[test]
fn update_with_abort_on_conflict_leaves_nothing_half_done() {
    let env = Env::new();
    diverged(&env);
    let wt = env.worktree("infra");
    let before = env.git(&wt, &["rev-parse", "HEAD"]);
    let out = json(
        &env.cn(&wt, &["--json", "update", "--abort-on-conflict"])
            .expect(1),
    );
    assert_eq!(out["outcome"], "aborted");
    assert_eq!(out["conflicts"], serde_json::json!(["README.md"]));
    assert_eq!(env.git(&wt, &["rev-parse", "HEAD"]), before);
    assert_eq!(
        env.git_run(&wt, &["rev-parse", "-q", "--verify", "MERGE_HEAD"])
            .code,
        1
    );
    assert_eq!(env.git(&wt, &["status", "--porcelain"]), "");
    assert_eq!(read(&wt.join("README.md")), "# app\nstatus: infra v2\n");
}

#[test]
fn update_with_rebase_replays_the_branch_on_main() {
    let env = Env::new();
    let root = backend_landed(&env);
    commit(&env, "infra", &[("infra/deploy.txt", "v2\n")], "infra: v2");
    let out = json(&update_json(&env, "infra", &["--rebase"]).expect(0));
    assert_eq!(out["outcome"], "caught-up");
    assert_eq!(out["method"], "rebase");
    let wt = env.worktree("infra");
    assert_eq!(
        env.git(&wt, &["rev-parse", "HEAD~1"]),
        env.git(&root, &["rev-parse", "main"])
    );
}

#[test]
fn update_with_rebase_stops_on_conflicts_and_can_abort_cleanly() {
    let env = Env::new();
    diverged(&env);
    let wt = env.worktree("infra");
    let before = env.git(&wt, &["rev-parse", "HEAD"]);
    let out = json(&update_json(&env, "infra", &["--rebase"]).expect(1));
    assert_eq!(out["outcome"], "conflicts");
    assert_eq!(out["conflicts"], serde_json::json!(["README.md"]));
    let text = update(&env, "infra", &[]).expect(1);
    assert!(
        text.stderr.contains("a rebase is in progress"),
        "{}",
        text.stderr
    );
    env.git(&wt, &["rebase", "--abort"]);
    let out = json(&update_json(&env, "infra", &["--rebase", "--abort-on-conflict"]).expect(1));
    assert_eq!(out["outcome"], "aborted");
    assert_eq!(env.git(&wt, &["rev-parse", "HEAD"]), before);
    assert_eq!(env.git(&wt, &["status", "--porcelain"]), "");
}

#[test]
fn update_refuses_a_worktree_with_uncommitted_changes() {
    let env = Env::new();
    backend_landed(&env);
    write(&env.worktree("infra").join("infra/deploy.txt"), "wip\n");
    let run = update(&env, "infra", &[]).expect(1);
    assert!(run.stderr.contains("uncommitted changes"), "{}", run.stderr);
    assert_eq!(
        read(&env.worktree("infra").join("infra/deploy.txt")),
        "wip\n"
    );
}

#[test]
fn update_help_teaches_the_catch_up_and_how_to_finish_it() {
    let env = Env::new();
    let run = env.cn(&env.path(""), &["update", "--help"]).expect(0);
    for needle in [
        "catch-up",
        "git commit",
        "--abort-on-conflict",
        "--rebase",
        "Exit codes",
    ] {
        assert!(run.stdout.contains(needle), "{needle}: {}", run.stdout);
    }
}

#[test]
fn status_tells_a_domain_behind_main_to_catch_up() {
    let env = Env::new();
    let root = backend_landed(&env);
    let run = env.cn(&root, &["status"]).expect(0);
    assert!(
        run.stdout.contains(
            "hint: domain/infra is 2 commits behind main: catch up before your next change (comm-node update in"
        ),
        "{}",
        run.stdout
    );
    update(&env, "infra", &[]).expect(0);
    let run = env.cn(&root, &["status"]).expect(0);
    assert!(!run.stdout.contains("domain/infra is"), "{}", run.stdout);
}

#[test]
fn the_landing_notice_tells_other_domains_to_catch_up() {
    let env = Env::new();
    backend_landed(&env);
    let run = env.cn(&env.worktree("infra"), &["inbox"]).expect(0);
    assert!(
        run.stdout.contains("queue: landed backend"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("catch up before your next change. `comm-node update`"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_conflict_rejection_names_the_one_catch_up_method() {
    let env = Env::new();
    let root = diverged(&env);
    let report = land(&env, &root, "infra");
    assert_eq!(report["decisions"][0]["outcome"], "rejected", "{report}");
    let run = env.cn(&env.worktree("infra"), &["inbox"]).expect(0);
    assert!(
        run.stdout
            .contains("Catch up: run `comm-node update` in the worktree of domain/infra"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_repo_whose_main_branch_is_master_hears_master_in_every_hint() {
    let env = Env::new();
    let root = project_on(&env, "master");
    commit(
        &env,
        "backend",
        &[("backend/api.txt", "v2\n"), ("README.md", "# b\n")],
        "backend: v2",
    );
    land(&env, &root, "backend");
    commit(&env, "infra", &[("README.md", "# i\n")], "infra: readme");
    let runs = [
        env.cn(&root, &["status"]).expect(0).stdout,
        env.cn(&env.worktree("infra"), &["inbox"]).expect(0).stdout,
        env.cn(&root, &["conflicts"]).stdout,
        env.cn(&root, &["check", "--range", "nonsense"])
            .expect(2)
            .stderr,
        update(&env, "infra", &[]).expect(1).stderr,
    ];
    for text in runs {
        assert!(text.contains("master"), "{text}");
        // status's header names the role: "main is `master`".
        let text = text.replace("main is `master`", "");
        assert!(!names_main(&text), "`main` named in: {text}");
    }
}

/// Whether `text` holds the word `main` (not `domain`, not `maintain`).
fn names_main(text: &str) -> bool {
    text.match_indices("main").any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + 4..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}
