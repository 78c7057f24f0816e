//! `comm-node uninstall`: the repository after it is the repository before
//! init, and nothing holding work is removed without --force.

mod common;

use std::path::{Path, PathBuf};

use common::{read, write, Env};

const CONFIG: &str = "project: app
domains:
  api:
    scope: [\"api/**\"]
  web:
    scope: [\"web/**\"]
    may_import: [api]
";

fn repo_with_hook(env: &Env) -> PathBuf {
    let root = env.repo(
        "app",
        &[
            ("comm.yaml", CONFIG),
            ("api/a.ts", "export const a = 1;\n"),
            ("web/w.ts", "export {};\n"),
        ],
    );
    write(&root.join(".git/hooks/pre-commit"), "#!/bin/sh\nexit 0\n");
    root
}

/// What a user looks at to see whether init left anything behind.
fn footprint(env: &Env, root: &Path) -> String {
    let hooks: Vec<String> = std::fs::read_dir(root.join(".git/hooks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".sample"))
        .collect();
    format!(
        "status:\n{}\nworktrees:\n{}\nexclude:\n{}\nhooks: {hooks:?}\npre-commit:\n{}\nstate: {}",
        env.git(root, &["status", "--porcelain", "--untracked-files=all"]),
        // Which worktrees, on which branches (main itself moves when work lands).
        env.git(root, &["worktree", "list", "--porcelain"])
            .lines()
            .filter(|l| !l.starts_with("HEAD "))
            .collect::<Vec<_>>()
            .join("\n"),
        read(&root.join(".git/info/exclude")),
        read(&root.join(".git/hooks/pre-commit")),
        root.join(".git/comm-node").exists(),
    )
}

/// Uses comm-node a little, so its state exists: a message, and a landing
/// through the queue (which makes its scratch worktree).
fn use_it(env: &Env, root: &Path) {
    let api = env.worktree("api");
    env.cn(&env.worktree("web"), &["send", "--to", "api", "hi"])
        .expect(0);
    write(&api.join("api/b.ts"), "export const b = 2;\n");
    env.git(&api, &["add", "api/b.ts"]);
    env.git(&api, &["commit", "-qm", "b"]);
    env.cn(&api, &["submit"]).expect(0);
    env.cn(root, &["--as", "human", "queue", "run", "--once"])
        .expect(0);
    assert!(root.join(".git/comm-node/queue/worktree").exists());
}

#[test]
fn uninstall_leaves_the_repository_as_it_was_before_init() {
    let env = Env::new();
    let root = repo_with_hook(&env);
    let before = footprint(&env, &root);
    env.cn(&root, &["init"]).expect(0);
    use_it(&env, &root);
    assert_ne!(footprint(&env, &root), before);

    let out = env.cn(&root, &["uninstall"]).expect(0);
    assert!(out.stdout.contains("remove worktree"), "{}", out.stdout);
    assert!(
        out.stdout.contains("put"),
        "the foreign hook is put back: {}",
        out.stdout
    );
    assert_eq!(footprint(&env, &root), before);
    assert!(!env.worktree("web").exists());
    // Branches are kept unless asked.
    assert!(env.refs(&root).contains("refs/heads/domain/web"));
    assert!(env.refs(&root).contains("refs/heads/comm"));
    // A second run has nothing to do.
    let again = env.cn(&root, &["uninstall"]).expect(0);
    assert!(
        again.stdout.contains("nothing to remove"),
        "{}",
        again.stdout
    );
}

#[test]
fn uninstall_dry_run_changes_nothing() {
    let env = Env::new();
    let root = repo_with_hook(&env);
    env.cn(&root, &["init"]).expect(0);
    use_it(&env, &root);
    let (before, refs) = (footprint(&env, &root), env.refs(&root));
    let out = env
        .cn(&root, &["--json", "uninstall", "--dry-run", "--branches"])
        .expect(0);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(plan["changed"], false);
    let actions: Vec<&str> = plan["removals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for kind in [
        "remove_worktree",
        "remove_hook",
        "drop_exclude_block",
        "remove_state",
        "delete_branch",
    ] {
        assert!(actions.contains(&kind), "{kind} missing from {actions:?}");
    }
    assert_eq!(footprint(&env, &root), before);
    assert_eq!(env.refs(&root), refs);
}

#[test]
fn uninstall_never_removes_uncommitted_work_without_force() {
    let env = Env::new();
    let root = repo_with_hook(&env);
    env.cn(&root, &["init"]).expect(0);
    let web = env.worktree("web");
    write(&web.join("web/draft.ts"), "export const draft = 1;\n");
    let (before, refs) = (footprint(&env, &root), env.refs(&root));

    let out = env.cn(&root, &["uninstall"]).expect(1);
    assert!(out.stdout.contains("uncommitted changes"), "{}", out.stdout);
    assert!(out.stdout.contains("nothing was changed"), "{}", out.stdout);
    assert_eq!(footprint(&env, &root), before);
    assert_eq!(env.refs(&root), refs);
    assert!(web.join("web/draft.ts").exists());

    env.cn(&root, &["uninstall", "--force"]).expect(0);
    assert!(!web.exists());
}

#[test]
fn uninstall_branches_keeps_unlanded_work_unless_forced() {
    let env = Env::new();
    let root = repo_with_hook(&env);
    env.cn(&root, &["init"]).expect(0);
    let web = env.worktree("web");
    write(&web.join("web/page.ts"), "export const page = 1;\n");
    env.git(&web, &["add", "web/page.ts"]);
    env.git(&web, &["commit", "-qm", "page"]);

    let out = env.cn(&root, &["uninstall", "--branches"]).expect(1);
    assert!(
        out.stdout
            .contains("branch domain/web has commits main does not contain"),
        "{}",
        out.stdout
    );
    assert!(web.exists(), "a refused uninstall removes nothing");

    env.cn(&root, &["uninstall", "--branches", "--force"])
        .expect(0);
    let refs = env.refs(&root);
    assert!(!refs.contains("domain/"), "{refs}");
    assert!(!refs.contains("refs/heads/comm"), "{refs}");
    assert!(refs.contains("refs/heads/main"), "{refs}");
}

#[test]
fn uninstall_inside_a_domain_worktree_is_refused() {
    let env = Env::new();
    let root = repo_with_hook(&env);
    env.cn(&root, &["init"]).expect(0);
    let out = env.cn(&env.worktree("api"), &["uninstall"]).expect(2);
    assert!(out.stderr.contains("main checkout"), "{}", out.stderr);
    assert!(env.worktree("api").exists());
}
