//! Helpers for merge queue tests: a project with four domains, commits on
//! a domain's branch (hooks skipped: the queue must not rely on them),
//! submissions and runs through the real binary, and what the tests read
//! back (decisions on comm, queued entries), kill and wait for.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Env;

/// The project test line of [`CONFIG`], which tests swap for their own:
/// it fails when any file says BROKEN.
pub const TEST: &str = r#"test: ["! grep -rqx --exclude=.git BROKEN ."]"#;
/// A test line whose command says it started (touches `$STARTED`) and then
/// holds the run while `$HOLD` exists: see [`Hold`].
pub const HOLDING_TEST: &str =
    r#"test: ["touch \"$STARTED\"; while [ -e \"$HOLD\" ]; do sleep 0.05; done"]"#;
/// The command of [`HOLDING_TEST`], as the queue names it.
pub const HOLDING_COMMAND: &str = r#"touch "$STARTED"; while [ -e "$HOLD" ]; do sleep 0.05; done"#;
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

/// `kind|Comm-Domain|Comm-Reason|subject` for each queue decision on comm, oldest first.
pub fn decisions(env: &Env, root: &Path) -> Vec<String> {
    let out = env.git(
        root,
        &[
            "log",
            "--reverse",
            "comm",
            "--format=%(trailers:key=Comm-Kind,valueonly,separator=)|%(trailers:key=Comm-Domain,valueonly,separator=)|%(trailers:key=Comm-Reason,valueonly,separator=)|%s",
        ],
    );
    out.lines()
        .filter(|l| l.starts_with("landed|") || l.starts_with("rejected|"))
        .map(str::to_owned)
        .collect()
}

/// The entries queued on comm (`queue/<domain>.yaml`).
pub fn queued(env: &Env, root: &Path) -> Vec<String> {
    let out = env.git(root, &["ls-tree", "--name-only", "comm", "queue/"]);
    out.lines().map(str::to_owned).collect()
}

/// Kills the run with SIGKILL, then waits until the git processes it had
/// started (which live on, as after any crash) are done too, so that what
/// is checked next is the state the crash left.
pub fn kill(mut child: std::process::Child) {
    let _ = child.kill();
    child.wait().unwrap();
    super::wait_group_gone(
        child.id() as i32,
        "the killed run's git processes did not finish",
    );
}

/// Waits (up to 30 s) for a file the test command creates.
#[track_caller]
pub fn wait_for(path: &Path) {
    for _ in 0..600 {
        if path.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{} never appeared", path.display());
}

/// Whether `a` is an ancestor of `b` in `root`.
pub fn is_ancestor(env: &Env, root: &Path, a: &str, b: &str) -> bool {
    env.git_run(root, &["merge-base", "--is-ancestor", a, b])
        .code
        == 0
}

/// Holds the test command of [`HOLDING_TEST`] running while it lives: the
/// variables a run is spawned with, the file the command waits on.
/// Dropping it lets the command end, so no test command outlives its
/// test, however the test ends.
pub struct Hold {
    started: PathBuf,
    hold: PathBuf,
}

impl Hold {
    pub fn new(env: &Env) -> Hold {
        let hold = Hold {
            started: env.path("started"),
            hold: env.path("hold"),
        };
        super::write(&hold.hold, "");
        hold
    }

    /// The variables to spawn the run with ([`spawn_run_with`]).
    pub fn vars(&self) -> [(&'static str, &str); 2] {
        [
            ("STARTED", self.started.to_str().unwrap()),
            ("HOLD", self.hold.to_str().unwrap()),
        ]
    }

    /// Waits until the test command runs.
    pub fn wait_started(&self) {
        wait_for(&self.started);
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.hold);
    }
}
