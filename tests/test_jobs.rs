//! No process outlives the job that started it, also one that left the
//! job's process group (`setsid`, or a tool run in a group of its own as
//! Claude Code's Bash tool does) and was orphaned: an agent's turn under
//! `comm-node up`, and a test command of the merge queue.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::queue::{commit, queue_run};
use common::up::{add_task, app, assert_no_process_left, up};
use common::{write, Env};

/// A shell line that starts `sleep 300` in a session of its own, its pid
/// written to `pid_file`, and returns at once.
fn escape(pid_file: &Path) -> String {
    format!(
        "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > {}",
        pid_file.display()
    )
}

/// Waits (up to 5 s) for process `pid` to be gone (a zombie counts as gone).
#[track_caller]
fn assert_gone(pid_file: &Path) {
    let pid = std::fs::read_to_string(pid_file)
        .unwrap_or_else(|_| panic!("{} was never written", pid_file.display()));
    let stat = format!("/proc/{}/stat", pid.trim());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = std::fs::read_to_string(&stat).unwrap_or_default();
        let running = state
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'));
        if !running {
            return;
        }
        if Instant::now() > deadline {
            // Do not leave it behind for the next test.
            let _ = std::process::Command::new("kill")
                .args(["-9", pid.trim()])
                .status();
            panic!("process {} outlived its job", pid.trim());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_tool_process_that_leaves_its_group_never_outlives_its_turn() {
    let env = Env::new();
    let pid_file = env.path("escaped.pid");
    let script = env.path("agent.sh");
    write(&script, &format!("{}\nexit 0\n", escape(&pid_file)));
    let root = app(
        &env,
        &format!(
            "agents:\n  web:\n    cli: command\n    command: [sh, {}]\n",
            script.display()
        ),
    );
    add_task(&env, &root, "web", "build the web", &[]);

    up(&env, &root, None, &["web", "--once"]).expect(0);

    assert_gone(&pid_file);
    assert_no_process_left(&env);
}

#[test]
fn a_test_command_that_leaves_its_group_never_outlives_its_run() {
    let env = Env::new();
    let pid_file = env.path("escaped.pid");
    let config = format!(
        "project: app\ntest: [{:?}]\ndomains:\n  api:\n    scope: [\"api/**\"]\n",
        escape(&pid_file)
    );
    let root = env.app(&[("comm.yaml", &config), ("api/a.txt", "a\n")]);
    commit(&env, "api", &[("api/a.txt", "b\n")], "api: b");
    env.cn(&env.worktree("api"), &["submit"]).expect(0);

    let report = queue_run(&env, &root, &["--timeout", "30s"]);

    assert_eq!(report["decisions"][0]["outcome"], "landed", "{report}");
    assert_gone(&pid_file);
}
