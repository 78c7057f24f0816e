//! The hermetic test environment: a temp dir with its own HOME (no global
//! git config), fixed identities and dates, the real `git` and the real
//! `comm-node` binary.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod daemon;
pub mod queue;
pub mod up;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_comm-node");

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

    /// The worktree `init` made for `domain` of the repository `app`.
    pub fn worktree(&self, domain: &str) -> PathBuf {
        self.path(&format!("app.worktrees/{domain}"))
    }

    /// A repository at `rel` holding `files`, committed on `main`, with a
    /// repo-local identity (the binary reads config, not env, for it).
    pub fn repo(&self, rel: &str, files: &[(&str, &str)]) -> PathBuf {
        let root = self.path(rel);
        fs::create_dir_all(&root).unwrap();
        self.git(&root, &["init", "-q", "-b", "main"]);
        self.git(&root, &["config", "user.name", "Test Human"]);
        self.git(&root, &["config", "user.email", "human@test.invalid"]);
        for (path, text) in files {
            write(&root.join(path), text);
        }
        self.git(&root, &["add", "-A"]);
        self.git(&root, &["commit", "-qm", "initial", "--allow-empty"]);
        root
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
