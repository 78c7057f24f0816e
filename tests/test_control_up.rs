//! `comm-node up` under the human's halts, with `command:` agents: a halt
//! written by another process suspends the running turn (its process
//! group stopped, not counted as a stall) and `resume` continues it to a
//! normal end; an `up` started after a halt gives that domain nothing.
//! Every test checks that no process is left in the test's folders.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::up::*;
use common::{Env, GroupChild, Groups};

/// The app whose web agent is `sh -c SCRIPT` with the agent `settings`,
/// and a task for web.
fn web_agent(env: &Env, settings: &str, script: &str) -> PathBuf {
    let root = app(
        env,
        &format!(
            "agents:\n  web:\n    cli: command\n{settings}    command: [sh, -c, \"{script}\"]\n"
        ),
    );
    add_task(env, &root, "web", "build the web", &[]);
    root
}

/// The state letter of process `pid` (`R`, `S`, `T`...), from `/proc`.
fn state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
        .unwrap_or('?')
}

/// Waits (up to 60 s) for `file` to hold a pid; returns it.
fn pid_in(file: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(pid) = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return pid;
        }
        if Instant::now() > deadline {
            let dir = file.parent().unwrap().join("app/.git/comm-node/agents/web");
            let logs = ["stream.jsonl", "stderr.log", "state"]
                .map(|f| std::fs::read_to_string(dir.join(f)).unwrap_or_default());
            panic!("the agent never started: {logs:#?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_halt_suspends_the_running_turn_and_resume_continues_it_to_a_normal_end() {
    let env = Env::new();
    let (pid_file, ticks) = (env.path("agent.pid"), env.path("ticks"));
    let root = web_agent(
        &env,
        "    stall_after: 1s\n",
        &format!(
            "echo $$ > {p}; i=0; while [ $i -lt 30 ]; do echo tick $i; echo $i >> {t}; i=$((i+1)); sleep 0.1; done; echo finished",
            p = pid_file.display(),
            t = ticks.display()
        ),
    );
    let up = up_command(&env, &root, None, &["web", "--once"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut up = GroupChild(up);
    let agent = pid_in(&pid_file);
    let _guard = Groups(vec![agent]);

    env.cn(&root, &["halt", "web", "--reason", "review first"])
        .expect(0);
    common::wait_stopped(agent as u32);
    let counted = common::read(&ticks).lines().count();
    assert!(
        counted < 30,
        "the turn ended before the halt: {counted} ticks"
    );
    // Three times stall_after, stopped: no tick, and no stall either.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(state(agent), 'T', "the turn went on while halted");
    assert_eq!(common::read(&ticks).lines().count(), counted);
    assert!(events(&env, &root, "turn").is_empty(), "the turn was cut");
    let status = env.cn(&root, &["--json", "status"]).expect(0).stdout;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let web = status["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "web")
        .unwrap();
    assert_eq!(web["runtime"]["state"], "suspended", "{web}");
    assert_eq!(web["halted"]["reason"], "review first", "{web}");

    env.cn(&root, &["resume", "web"]).expect(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while up.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "up did not end after resume");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = std::mem::replace(
        &mut up.0,
        std::process::Command::new("true").spawn().unwrap(),
    )
    .wait_with_output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("web: halted by human") && stdout.contains("its turn is suspended"),
        "{stdout}"
    );
    assert!(
        stdout.contains("web: resumed; its suspended turn continues"),
        "{stdout}"
    );
    assert_eq!(common::read(&ticks).lines().count(), 30, "it finished");
    let turns = events(&env, &root, "turn");
    let outcomes: Vec<&str> = turns.iter().map(|t| trailer(&t.3, "Outcome")).collect();
    assert_eq!(outcomes, ["success"]);
    assert!(events(&env, &root, "stalled").is_empty());
    env.cn(&root, &["verify"]).expect(0);
    assert_no_process_left(&env);
}

#[test]
fn an_up_started_after_a_halt_gives_that_domain_nothing_until_resume() {
    let env = Env::new();
    let mark = env.path("ran");
    let root = web_agent(&env, "", &format!("touch {}", mark.display()));
    env.cn(&root, &["halt", "web", "--reason", "not yet"])
        .expect(0);

    let run = up(&env, &root, None, &["web", "--once"]).expect(0);
    assert!(
        run.stdout.contains("web: halted by human") && run.stdout.contains("not yet"),
        "{}",
        run.stdout
    );
    assert!(!mark.exists(), "a turn ran in a halted domain");
    assert!(events(&env, &root, "turn").is_empty());

    env.cn(&root, &["resume", "web"]).expect(0);
    up(&env, &root, None, &["web", "--once"]).expect(0);
    assert!(mark.exists(), "no turn after resume");
    assert_eq!(events(&env, &root, "turn").len(), 1);
    assert_no_process_left(&env);
}

#[test]
fn claude_code_halted_in_a_tool_call_is_suspended_and_resumed_to_its_end() {
    let env = Env::new();
    let (pid_file, ticks) = (env.path("tool.pid"), env.path("ticks"));
    let script = format!(
        "echo $$ > {p}; i=0; while [ $i -lt 30 ]; do echo $i >> {t}; i=$((i+1)); sleep 0.1; done",
        p = pid_file.display(),
        t = ticks.display()
    );
    let server = ModelServer::start(&env, &script);
    let root = app(
        &env,
        "agents:\n  web:\n    permission_mode: bypassPermissions\n",
    );
    add_task(&env, &root, "web", "build the web", &[]);
    let up = up_command(&env, &root, Some(&server), &["web", "--once"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut up = GroupChild(up);
    let tool = pid_in(&pid_file);
    let _guard = Groups(vec![tool]);

    env.cn(&root, &["halt", "web", "--reason", "look first"])
        .expect(0);
    common::wait_stopped(tool as u32);
    let counted = common::read(&ticks).lines().count();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(state(tool), 'T');
    assert_eq!(common::read(&ticks).lines().count(), counted, "it ran on");

    env.cn(&root, &["resume", "web"]).expect(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while up.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "up did not end after resume");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up.try_wait().unwrap().unwrap().success());
    assert_eq!(
        common::read(&ticks).lines().count(),
        30,
        "the tool finished"
    );
    let turns = events(&env, &root, "turn");
    let outcomes: Vec<&str> = turns.iter().map(|t| trailer(&t.3, "Outcome")).collect();
    assert_eq!(outcomes, ["success"]);
    env.cn(&root, &["verify"]).expect(0);
    drop(server);
    assert_no_process_left(&env);
}
