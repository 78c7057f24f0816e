//! A `git daemon` on 127.0.0.1 for tests that need a real remote.
//!
//! `git daemon` is not a builtin: the `git` wrapper starts `git-daemon` as
//! its child, and the daemon forks one child per connection. Killing the
//! wrapper alone left `git-daemon` listening for as long as the machine
//! ran. So the daemon runs in a process group of its own, and dropping the
//! helper kills the whole group and waits until none of it is alive.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Env;

/// A `git daemon` serving one directory on 127.0.0.1; its whole process
/// group is killed, and waited for, on drop.
pub struct Daemon {
    child: Child,
    pub url: String,
}

impl Daemon {
    pub fn start(env: &Env, base: &Path) -> Daemon {
        // Ask the OS for a free port, then hand it to the daemon.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--listen=127.0.0.1",
                "--export-all",
                "--enable=receive-pack",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("git daemon starts");
        let daemon = Daemon {
            child,
            url: format!("git://127.0.0.1:{port}/remote.git"),
        };
        for _ in 0..200 {
            if env.git_run(base, &["ls-remote", &daemon.url]).code == 0 {
                return daemon;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("git daemon did not come up on port {port}");
    }

    /// The process group the daemon and its children run in.
    pub fn group(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let group = self.group();
        // SAFETY: kill(2) with a negative pid signals that process group
        // only, which this helper created for the daemon.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.child.wait();
        let start = Instant::now();
        while !super::live_group_members(group).is_empty() {
            if start.elapsed() > Duration::from_secs(10) {
                // Not a panic inside drop: name the leftovers and go on.
                eprintln!(
                    "git daemon group {group} still alive: {:?}",
                    super::live_group_members(group)
                );
                return;
            }
            unsafe { libc::kill(-group, libc::SIGKILL) };
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
