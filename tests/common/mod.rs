//! The hermetic test environment: a temp dir with its own HOME (no global
//! git config), fixed identities and dates, the real `git` and the real
//! `comm-node` binary.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod bus;
pub mod control;
pub mod daemon;
pub mod queue;
pub mod reserve;
pub mod tasks;
pub mod up;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_comm-node");

/// comm.yaml of the project `app` with the domains api and web.
pub const API_WEB: &str = "project: app
domains:
  api:
    scope: [\"api/**\"]
  web:
    scope: [\"web/**\"]
";

/// [`API_WEB`] with health: a domain stalls after 10m, a lease lasts 1h.
pub const API_WEB_HEALTH: &str = "project: app
health:
  stall_after: 10m
  lease: 1h
domains:
  api:
    scope: [\"api/**\"]
  web:
    scope: [\"web/**\"]
";

/// comm.yaml of the project `app` with the domains backend and infra, a
/// shared README.md and a project test that always passes.
pub const BACKEND_INFRA: &str = r#"project: app
shared: ["README.md"]
test: ["true"]
domains:
  backend:
    scope: ["backend/**"]
  infra:
    scope: ["infra/**"]
"#;

/// `config` (whose domains come last) with one more domain per name, each
/// owning the folder of its name.
pub fn with_domains(config: &str, names: &[&str]) -> String {
    let mut text = config.to_owned();
    for name in names {
        text.push_str(&format!("  {name}:\n    scope: [\"{name}/**\"]\n"));
    }
    text
}

/// A scratch world holding one or more repositories.
pub struct Env {
    pub dir: tempfile::TempDir,
}

/// The result of running a command, with its text decoded.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics unless the command was refused (exit 2) with a pointer to
    /// `comm-node repair` on stderr.
    #[track_caller]
    pub fn expect_repair(self) -> Run {
        let run = self.expect(2);
        assert!(
            run.stderr.contains("comm-node repair"),
            "no pointer to repair: {}",
            run.stderr
        );
        run
    }
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("comm-node-test")
            .tempdir()
            .unwrap();
        fs::create_dir_all(dir.path().join("home")).unwrap();
        Env { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Gives `cmd` the hermetic environment (for commands the harness
    /// cannot build itself: stdin, spawned loops).
    pub fn hermetic(&self, cmd: &mut Command) {
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_CONFIG_GLOBAL",
            "COMM_NODE_AS",
            // init registers comm-node mcp there: never the real one.
            "CLAUDE_CONFIG_DIR",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("home"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test Human")
            .env("GIT_AUTHOR_EMAIL", "human@test.invalid")
            .env("GIT_COMMITTER_NAME", "Test Human")
            .env("GIT_COMMITTER_EMAIL", "human@test.invalid")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z");
    }

    /// Runs `git ARGS` in `dir` and returns its stdout; panics on failure.
    #[track_caller]
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let run = self.git_run(dir, args);
        assert_eq!(run.code, 0, "git {args:?} failed: {}", run.stderr);
        run.stdout.trim_end().to_owned()
    }

    /// Runs `git ARGS` in `dir`, whatever the outcome.
    pub fn git_run(&self, dir: &Path, args: &[&str]) -> Run {
        let mut cmd = Command::new("git");
        cmd.args(args).current_dir(dir);
        self.hermetic(&mut cmd);
        Run::from(cmd.output().unwrap())
    }

    /// Runs `comm-node ARGS` in `dir`.
    pub fn cn(&self, dir: &Path, args: &[&str]) -> Run {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(dir);
        self.hermetic(&mut cmd);
        Run::from(cmd.output().unwrap())
    }

    /// Runs `comm-node ARGS` in `dir` with extra environment variables.
    pub fn cn_env(&self, dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Run {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(dir);
        self.hermetic(&mut cmd);
        cmd.envs(vars.iter().copied());
        Run::from(cmd.output().unwrap())
    }

    /// Runs `program ARGS` in `dir` with comm-node's clock at `now`
    /// (`COMM_NODE_NOW`; git passes it on to the hooks).
    pub fn run_at(&self, program: &str, dir: &Path, now: i64, args: &[&str]) -> Run {
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(dir);
        self.hermetic(&mut cmd);
        cmd.env("COMM_NODE_NOW", now.to_string());
        Run::from(cmd.output().unwrap())
    }

    /// Runs `comm-node ARGS` in `dir` with its clock at `now`.
    pub fn cn_at(&self, dir: &Path, now: i64, args: &[&str]) -> Run {
        self.run_at(BIN, dir, now, args)
    }

    /// The repository `app` holding `files`, after `comm-node init`.
    pub fn app(&self, files: &[(&str, &str)]) -> PathBuf {
        let root = self.repo("app", files);
        self.cn(&root, &["init"]).expect(0);
        root
    }

    /// The repository `app` after `comm-node init`, with `config` as its
    /// comm.yaml, a source file each in api/ and web/, and `more` files.
    pub fn api_web_app(&self, config: &str, more: &[(&str, &str)]) -> PathBuf {
        let mut files = vec![
            ("comm.yaml", config),
            ("api/a.ts", "export const a = 1;\n"),
            ("web/w.ts", "export {};\n"),
        ];
        files.extend_from_slice(more);
        self.app(&files)
    }

    /// The sender (`Comm-From`) of the newest event on comm.
    pub fn last_sender(&self, root: &Path) -> String {
        self.git(
            root,
            &[
                "log",
                "-1",
                "--format=%(trailers:key=Comm-From,valueonly)",
                "comm",
            ],
        )
    }

    /// The worktree `init` made for `domain` of the repository `app`.
    pub fn worktree(&self, domain: &str) -> PathBuf {
        self.path(&format!("app.worktrees/{domain}"))
    }

    /// A repository at `rel` holding `files`, committed on `main`, with a
    /// repo-local identity (the binary reads config, not env, for it).
    pub fn repo(&self, rel: &str, files: &[(&str, &str)]) -> PathBuf {
        self.repo_on(rel, "main", files)
    }

    /// [`Env::repo`] with its first commit on `branch` instead of `main`.
    pub fn repo_on(&self, rel: &str, branch: &str, files: &[(&str, &str)]) -> PathBuf {
        let root = self.path(rel);
        fs::create_dir_all(&root).unwrap();
        self.git(&root, &["init", "-q", "-b", branch]);
        self.git(&root, &["config", "user.name", "Test Human"]);
        self.git(&root, &["config", "user.email", "human@test.invalid"]);
        for (path, text) in files {
            write(&root.join(path), text);
        }
        self.git(&root, &["add", "-A"]);
        self.git(&root, &["commit", "-qm", "initial", "--allow-empty"]);
        root
    }

    /// Writes `files` in `domain`'s worktree, stages everything and runs
    /// `git COMMIT` (e.g. `["commit", "-qm", "msg"]`); the new HEAD.
    pub fn commit_with(&self, domain: &str, files: &[(&str, &str)], commit: &[&str]) -> String {
        let wt = self.worktree(domain);
        for (path, text) in files {
            write(&wt.join(path), text);
        }
        self.git(&wt, &["add", "-A"]);
        self.git(&wt, commit);
        self.git(&wt, &["rev-parse", "HEAD"])
    }

    /// Commits `files` in `domain`'s worktree through its hooks; the new HEAD.
    pub fn commit_in(&self, domain: &str, files: &[(&str, &str)], message: &str) -> String {
        self.commit_with(domain, files, &["commit", "-qm", message])
    }

    /// A repository holding the bundled demo fixture.
    pub fn fixture_repo(&self, rel: &str) -> PathBuf {
        let root = self.repo(rel, &[]);
        copy_dir(&fixture_dir(), &root);
        self.git(&root, &["add", "-A"]);
        self.git(&root, &["commit", "-qm", "import the shop"]);
        root
    }

    /// Spawns `sh -c script` in `dir` with `$0` = the comm-node binary, in a
    /// process group of its own (so [`kill_group`] stops it and whatever it
    /// runs). The group is killed when the handle drops, so a loop never
    /// outlives a test that panicked before stopping it.
    pub fn spawn_loop(
        &self,
        dir: &Path,
        script: &str,
        stdout: std::process::Stdio,
        stderr: std::process::Stdio,
    ) -> GroupChild {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .arg(BIN)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        self.hermetic(&mut cmd);
        GroupChild(cmd.spawn().unwrap())
    }

    /// A bare clone of `source` at `dir/remote.git` (making `dir`); its path.
    pub fn bare_remote(&self, source: &Path, dir: &Path) -> PathBuf {
        fs::create_dir_all(dir).unwrap();
        self.git(
            dir,
            &[
                "clone",
                "-q",
                "--bare",
                source.to_str().unwrap(),
                "remote.git",
            ],
        );
        dir.join("remote.git")
    }

    /// An empty bare `remote.git` on `main`, added as `root`'s `origin`.
    pub fn empty_origin(&self, root: &Path) -> PathBuf {
        let bare = self.path("remote.git");
        let path = bare.to_str().unwrap();
        self.git(
            self.dir.path(),
            &["init", "-q", "--bare", "-b", "main", path],
        );
        self.git(root, &["remote", "add", "origin", path]);
        bare
    }

    /// A clone of `url` at `rel`, committing as `user` <`mail`@test.invalid>,
    /// synced once.
    pub fn synced_clone(&self, url: &str, rel: &str, user: &str, mail: &str) -> PathBuf {
        let dir = self.path(rel);
        fs::create_dir_all(dir.parent().unwrap()).unwrap();
        self.git(
            self.dir.path(),
            &["clone", "-q", url, dir.to_str().unwrap()],
        );
        self.git(&dir, &["config", "user.name", user]);
        self.git(
            &dir,
            &["config", "user.email", &format!("{mail}@test.invalid")],
        );
        self.cn(&dir, &["sync"]).expect(0);
        dir
    }

    /// The `Comm-Seq` of the event `rev` names.
    pub fn seq_of(&self, root: &Path, rev: &str) -> u64 {
        self.git(
            root,
            &[
                "log",
                "-1",
                "--format=%(trailers:key=Comm-Seq,valueonly)",
                rev,
            ],
        )
        .trim()
        .parse()
        .unwrap()
    }

    /// The human adds a task titled `title` on clone `a` and both clones
    /// sync; then, apart, api claims it on `a` and web on `b`. Its id.
    pub fn claimed_on_both(&self, a: &Path, b: &Path, title: &str) -> String {
        let added = self
            .cn(a, &["--as", "human", "--json", "task", "add", title])
            .expect(0);
        let id = serde_json::from_str::<serde_json::Value>(&added.stdout).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.cn(a, &["sync"]).expect(0);
        self.cn(b, &["sync"]).expect(0);
        self.cn(a, &["--as", "api", "task", "claim", &id]).expect(0);
        self.cn(b, &["--as", "web", "task", "claim", &id]).expect(0);
        id
    }

    /// Every ref with the commit it points at, as one comparable string.
    pub fn refs(&self, root: &Path) -> String {
        self.git(root, &["for-each-ref", "--format=%(refname) %(objectname)"])
    }
}

/// A child leading a process group of its own; the group is killed, and
/// the child reaped, when the handle drops.
pub struct GroupChild(pub std::process::Child);

impl std::ops::Deref for GroupChild {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for GroupChild {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        let group = self.0.id() as i32;
        let running = matches!(self.0.try_wait(), Ok(None));
        if running || !live_group_members(group).is_empty() {
            // SAFETY: kill(2) on the process group this harness created.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        let _ = self.0.wait();
    }
}

/// SIGKILLs the whole process group `child` leads (a loop and the command
/// it is running).
pub fn kill_group(child: &std::process::Child) {
    let status = Command::new("/usr/bin/kill")
        .args(["-9", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
}

/// SIGKILLs the process group of each of `loops` (each runs until killed),
/// then asserts each died by that signal, not by itself (`what` names the
/// round in the message).
pub fn kill_loops(loops: Vec<GroupChild>, what: &str) {
    use std::os::unix::process::ExitStatusExt;
    for c in &loops {
        kill_group(c);
    }
    for mut c in loops {
        assert_eq!(
            c.wait().unwrap().signal(),
            Some(9),
            "{what}: a loop ended by itself"
        );
    }
}

/// The processes of process group `group` that are still alive (zombies
/// waiting for a parent to reap them do not count), from `/proc`.
pub fn live_group_members(group: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // After the parenthesised command: state, ppid, pgrp.
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                return false;
            };
            let fields: Vec<&str> = rest.split(' ').collect();
            fields.len() > 2 && fields[0] != "Z" && fields[2] == group.to_string()
        })
        .collect()
}

/// Whether process group `pgid` still has a member (zombies included).
pub fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only asks whether the process group exists.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// Waits (up to 10 s) until process group `pgid` is gone; panics with
/// `what` if it is not.
#[track_caller]
pub fn wait_group_gone(pgid: i32, what: &str) {
    for _ in 0..1000 {
        if !group_alive(pgid) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{what}");
}

/// SIGKILLs process group `pgid` and waits until it is gone.
#[track_caller]
pub fn kill_group_and_wait(pgid: i32) {
    // SAFETY: kill(2) on a process group this test started.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    wait_group_gone(pgid, &format!("process group {pgid} did not go away"));
}

/// Waits (up to 30 s) until process `pid` is stopped by a signal.
#[track_caller]
pub fn wait_stopped(pid: u32) {
    for _ in 0..600 {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('T'))
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("process {pid} never stopped");
}

/// Kills the process groups it holds when the test ends, however it ends.
#[derive(Default)]
pub struct Groups(pub Vec<i32>);

impl Drop for Groups {
    fn drop(&mut self) {
        for &pgid in &self.0 {
            // SAFETY: kill(2) on a process group this test started.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
}

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo")
}

pub fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Where the README says a task or reservation file is on comm:
/// `<dir>/<two letters (tasks) or one (reservations) after the id's first
/// `-`, `_`-padded>/<id>.yaml` (`tasks/4k/T-4k7qm2x9ta.yaml`,
/// `tasks/1_/T-1.yaml`, `reservations/3/R-3f9a1c.yaml`).
pub fn state_path(dir: &str, id: &str) -> String {
    let width = if dir == "reservations" { 1 } else { 2 };
    let random = match id.split_once('-') {
        Some((_, rest)) if !rest.is_empty() => rest,
        _ => id,
    };
    let mut shard: String = random
        .chars()
        .take(width)
        .map(|c| if c == '.' { '_' } else { c })
        .collect();
    while shard.len() < width {
        shard.push('_');
    }
    format!("{dir}/{shard}/{id}.yaml")
}

/// [`state_path`] of a task.
pub fn task_path(id: &str) -> String {
    state_path("tasks", id)
}

/// [`state_path`] of a reservation.
pub fn reservation_path(id: &str) -> String {
    state_path("reservations", id)
}
