//! A `git daemon` on 127.0.0.1 for tests that need a real remote.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::Env;

/// A `git daemon` serving one directory on 127.0.0.1; killed on drop.
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
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("git daemon did not come up on port {port}");
    }
}

impl Drop for Daemon {
    /// Kills the daemon's whole process group: `git daemon` runs the real
    /// `git-daemon` as a child, which killing `git` alone left behind,
    /// listening, after every test.
    fn drop(&mut self) {
        // SAFETY: signals the process group this harness created.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}
