//! `comm-node watch` in a real terminal: tmux runs it, the test posts
//! events from another process and reads the screen back with
//! `tmux capture-pane -p`; the halt key, confirmed, halts the domain on
//! comm. Each test has its own tmux server (`-L`), killed at the end.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Env, API_WEB, BIN};

/// One tmux server running `comm-node watch`; killed when dropped.
struct Tmux<'e> {
    env: &'e Env,
    socket: String,
}

impl<'e> Tmux<'e> {
    fn start(env: &'e Env, root: &Path, args: &[&str]) -> Tmux<'e> {
        let socket = format!("cn-watch-{}-{}", std::process::id(), args.len());
        let mut watch = vec![BIN.to_owned(), "watch".to_owned()];
        watch.extend(args.iter().map(|a| a.to_string()));
        let tmux = Tmux { env, socket };
        let out = tmux
            .command(root)
            .args(["new-session", "-d", "-x", "100", "-y", "30"])
            .arg(watch.join(" "))
            .output()
            .expect("tmux is installed (apt-get install -y tmux)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    fn command(&self, dir: &Path) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"])
            .current_dir(dir);
        self.env.hermetic(&mut cmd);
        // The socket lives in the test's folder, and goes with it.
        cmd.env_remove("TMUX")
            .env("TERM", "xterm-256color")
            .env("TMUX_TMPDIR", self.env.dir.path());
        cmd
    }

    fn screen(&self) -> String {
        let out = self
            .command(self.env.dir.path())
            .args(["capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = self
                .command(self.env.dir.path())
                .args(["send-keys", k])
                .status()
                .unwrap();
            assert!(ok.success());
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Waits up to `limit` for `text` on screen; how long it took.
    fn wait_for(&self, text: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "`{text}` not on screen after {limit:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Tmux<'_> {
    fn drop(&mut self) {
        let _ = self
            .command(self.env.dir.path())
            .arg("kill-server")
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn halt_file(env: &Env, root: &Path, domain: &str) -> bool {
    env.git_run(
        root,
        &["cat-file", "-e", &format!("comm:halts/{domain}.yaml")],
    )
    .code
        == 0
}

#[test]
fn an_event_from_another_process_shows_within_a_second_and_the_halt_key_halts() {
    let env = Env::new();
    let root: PathBuf = env.api_web_app(API_WEB, &[]);
    {
        let tmux = Tmux::start(&env, &root, &[]);
        tmux.wait_for("Domains", Duration::from_secs(10));
        tmux.keys(&["4"]);
        tmux.wait_for("kickoff", Duration::from_secs(5));

        env.cn(&root, &["send", "--to", "api", "ping-from-outside"])
            .expect(0);
        let took = tmux.wait_for("ping-from-outside", Duration::from_secs(1));
        eprintln!("event to screen: {took:?}");

        // Domains, api selected: h, a reason, Enter, then confirm.
        tmux.keys(&["1", "h", "e2e", "Space", "halt", "Enter"]);
        tmux.wait_for("Confirm", Duration::from_secs(2));
        assert!(
            !halt_file(&env, &root, "api"),
            "halted before the confirmation"
        );
        tmux.keys(&["y"]);
        let start = Instant::now();
        while !halt_file(&env, &root, "api") {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "{}",
                tmux.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        tmux.wait_for("halted", Duration::from_secs(1));
        let status = env.cn(&root, &["status"]).expect(0).stdout;
        assert!(status.contains("api is halted"), "{status}");
        assert!(status.contains("e2e halt"), "{status}");

        tmux.keys(&["q"]);
    }
    common::up::assert_no_process_left(&env);
}

#[test]
fn read_only_refuses_the_halt_key_on_screen() {
    let env = Env::new();
    let root: PathBuf = env.api_web_app(API_WEB, &[]);
    {
        let tmux = Tmux::start(&env, &root, &["--read-only"]);
        tmux.wait_for("READ-ONLY", Duration::from_secs(10));
        tmux.keys(&["h"]);
        tmux.wait_for(
            "read-only: this screen may not halt api",
            Duration::from_secs(2),
        );
        assert!(!halt_file(&env, &root, "api"));
    }
    common::up::assert_no_process_left(&env);
}

#[test]
fn status_watch_prints_again_when_comm_changes_and_only_then() {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let env = Env::new();
    let root: PathBuf = env.api_web_app(API_WEB, &[]);
    let mut cmd = Command::new(BIN);
    cmd.args(["status", "--watch"])
        .current_dir(&root)
        .stdout(std::process::Stdio::piped());
    env.hermetic(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    return;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let wait = |what: &str, count: usize| {
        let start = Instant::now();
        loop {
            let text = seen.lock().unwrap().clone();
            if text.matches(what).count() >= count {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no {count}× `{what}` in:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait("--- ", 1);
    wait("app: 2 domains", 1);
    env.cn(&root, &["halt", "web", "--reason", "stop"])
        .expect(0);
    let took = wait("HALTED", 1);
    assert!(took < Duration::from_secs(1), "{took:?}");
    // Nothing changed since: no third copy.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(seen.lock().unwrap().matches("--- ").count(), 2);
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    common::up::assert_no_process_left(&env);
}
