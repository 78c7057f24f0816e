//! Helpers for merge queue tests: a project with four domains, commits on
//! a domain's branch (hooks skipped: the queue must not rely on them),
//! submissions and runs through the real binary.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Env;

/// The project test line of [`CONFIG`], which tests swap for their own:
/// it fails when any file says BROKEN.
pub const TEST: &str = r#"test: ["! grep -rqx --exclude=.git BROKEN ."]"#;
/// Four domains; the project test fails when any file says BROKEN.
pub const CONFIG: &str = r#"project: app
test: ["! grep -rqx --exclude=.git BROKEN ."]
domains:
  api:
    scope: ["api/**"]
  web:
    scope: ["web/**"]
  db:
    scope: ["db/**"]
  docs:
    scope: ["docs/**"]
"#;

/// An initialised repository with `config` and a file per domain.
pub fn project(env: &Env, config: &str) -> PathBuf {
    env.app(&[
        ("comm.yaml", config),
        ("api/config.txt", "port = 80\n"),
        ("web/index.txt", "hello\n"),
        ("db/schema.txt", "table a\n"),
        ("docs/intro.txt", "intro\n"),
    ])
}

/// Commits `files` on `domain`'s branch in its worktree, skipping hooks
/// (the queue must not rely on them).
pub fn commit(env: &Env, domain: &str, files: &[(&str, &str)], message: &str) -> String {
    env.commit_with(
        domain,
        files,
        &["commit", "-q", "--no-verify", "-m", message],
    )
}

/// `comm-node submit` in `domain`'s worktree; its JSON answer.
pub fn submit(env: &Env, domain: &str) -> Value {
    let run = env
        .cn(&env.worktree(domain), &["--json", "submit"])
        .expect(0);
    serde_json::from_str(&run.stdout).unwrap()
}

/// `comm-node --json queue run --once EXTRA` in `root`; its report.
pub fn queue_run(env: &Env, root: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "queue", "run", "--once"];
    args.extend_from_slice(extra);
    let run = env.cn(root, &args).expect(0);
    serde_json::from_str(&run.stdout).unwrap()
}

/// Starts `comm-node queue run --once ARGS` in `root` without waiting, with
/// extra environment `vars`, in a process group of its own (so the test
/// can kill the run and whatever it started).
pub fn spawn_run_with(
    env: &Env,
    root: &Path,
    args: &[&str],
    vars: &[(&str, &str)],
) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(super::BIN);
    cmd.args(["queue", "run", "--once"])
        .args(args)
        .envs(vars.iter().copied())
        .process_group(0)
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    env.hermetic(&mut cmd);
    cmd.spawn().unwrap()
}

/// [`spawn_run_with`] without extra variables.
pub fn spawn_run(env: &Env, root: &Path, args: &[&str]) -> std::process::Child {
    spawn_run_with(env, root, args, &[])
}

/// The commit `rev` names.
pub fn tip(env: &Env, root: &Path, rev: &str) -> String {
    env.git(root, &["rev-parse", rev])
}
