//! `comm-node up` when things go wrong, with `command:` agents: crashes,
//! stalls, `max_turns`, SIGTERM, an `up` killed outright, an unsupported
//! CLI, and two clones running different domains through `git daemon`.
//! Every test checks that no process is left in the test's folders.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::up::*;
use common::{write, Env};

/// `up web --once` exits 1 saying web's domain agent failed.
#[track_caller]
fn up_once_fails_web(env: &Env, root: &Path) {
    let run = up(env, root, None, &["web", "--once"]).expect(1);
    assert!(
        run.stderr.contains("domain agents failed: web"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_agent_that_always_crashes_fails_its_domain_after_max_restarts() {
    let env = Env::new();
    let root = web_agent(
        &env,
        "    max_restarts: 2\n",
        "echo boom in $COMM_NODE_SESSION >&2; exit 3",
    );

    up_once_fails_web(&env, &root);

    let turns = events(&env, &root, "turn");
    assert_eq!(turns.len(), 3, "one first try and two restarts: {turns:?}");
    let sessions: Vec<&str> = turns.iter().map(|t| trailer(&t.3, "Session")).collect();
    assert!(sessions.iter().all(|s| *s == sessions[0]), "{sessions:?}");
    for t in &turns {
        assert_eq!(trailer(&t.3, "Outcome"), "crashed (exit 3)");
    }
    let crashed = events(&env, &root, "crashed");
    assert_eq!(crashed.len(), 1, "{crashed:?}");
    assert_eq!(
        (crashed[0].0.as_str(), crashed[0].1.as_str()),
        ("web", "human")
    );
    let body = env.git(&root, &["log", "-1", "--format=%b", "comm"]);
    assert!(body.contains(&format!("boom in {}", sessions[0])), "{body}");
    let inbox = env.cn(&root, &["--as", "human", "inbox"]).expect(0).stdout;
    assert!(inbox.contains("web's agent failed"), "{inbox}");
    let status = env.cn(&root, &["status"]).expect(0).stdout;
    assert!(
        status.contains(
            "agent web: failed under up here, 3 turns; 3 turns on comm: 0 in / 0 out tokens"
        ),
        "{status}"
    );
    env.cn(&root, &["verify"]).expect(0);
    assert_no_process_left(&env);
}

#[test]
fn crashes_between_successful_turns_count_toward_max_restarts_within_the_window() {
    let env = Env::new();
    let (count, script) = (env.path("count"), env.path("agent.sh"));
    // Odd turns crash; even turns succeed and leave web new work (a
    // message from api), so web's crashes are never in a row.
    write(
        &script,
        &format!(
            "n=$(( $(cat {c} 2>/dev/null || echo 0) + 1 )); echo $n > {c}\n\
             if [ $((n % 2)) = 1 ]; then echo crash $n >&2; exit 3; fi\n\
             [ $n -ge 8 ] && exit 0\n\
             cd \"$(git rev-parse --git-common-dir)/..\" || exit 9\n\
             comm-node --as api send --to web \"again $n\" >/dev/null\n",
            c = count.display()
        ),
    );
    let root = web_agent(
        &env,
        "    max_restarts: 1\n    restart_window: 10m\n",
        &format!("sh {}", script.display()),
    );

    up_once_fails_web(&env, &root);

    let outcomes: Vec<String> = events(&env, &root, "turn")
        .iter()
        .map(|t| trailer(&t.3, "Outcome").to_owned())
        .collect();
    assert_eq!(
        outcomes,
        ["crashed (exit 3)", "success", "crashed (exit 3)"],
        "the second crash in the window fails the domain"
    );
    let crashed = events(&env, &root, "crashed");
    assert_eq!(crashed.len(), 1, "{crashed:?}");
    let body = env.git(&root, &["log", "-1", "--format=%B", "comm"]);
    assert!(body.contains("2 times in 10m (max_restarts 1)"), "{body}");
    env.cn(&root, &["verify"]).expect(0);
    assert_no_process_left(&env);
}

#[test]
fn sigterm_ends_every_agent_group_and_a_second_up_for_the_domain_is_refused() {
    let env = Env::new();
    let pids = env.path("pids");
    let root = web_agent(
        &env,
        "",
        &format!("sleep 300 & echo $$ $! > {}; wait", pids.display()),
    );
    let mut first = up_web_started(&env, &root, &pids);
    let second = up(&env, &root, None, &["web", "--once"]).expect(1);
    assert!(
        second
            .stderr
            .contains("another `comm-node up` already runs domain `web`"),
        "{}",
        second.stderr
    );

    // SAFETY: signals the `up` process this test started.
    unsafe { libc::kill(first.id() as i32, libc::SIGTERM) };
    let status = first.wait().unwrap();
    assert!(status.success(), "{status:?}");
    for pid in common::read(&pids).split_whitespace() {
        assert!(!alive(pid), "{pid} survived");
    }
    let turns = events(&env, &root, "turn");
    assert_eq!(turns.len(), 1);
    assert_eq!(trailer(&turns[0].3, "Outcome"), "interrupted");
    // The lock died with the process: it can be taken again at once.
    let lock = root.join(".git/comm-node/agents/web/lock");
    let free = Command::new("flock")
        .arg("-n")
        .arg(&lock)
        .arg("true")
        .status()
        .unwrap();
    assert!(free.success(), "the lock outlived its `up`");
    assert_no_process_left(&env);
}

#[test]
fn a_turn_that_hangs_is_interrupted_nudged_and_finished() {
    let env = Env::new();
    let (prompts, mark) = (env.path("prompts"), env.path("mark"));
    let root = web_agent(
        &env,
        "    stall_after: 1s\n",
        &format!(
            "echo \\\"$COMM_NODE_PROMPT\\\" >> {p}; if [ -e {m} ]; then echo finished; else touch {m}; sleep 60; fi",
            p = prompts.display(),
            m = mark.display()
        ),
    );

    up(&env, &root, None, &["web", "--once"]).expect(0);
    let turns = events(&env, &root, "turn");
    let outcomes: Vec<&str> = turns.iter().map(|t| trailer(&t.3, "Outcome")).collect();
    assert_eq!(outcomes, ["stalled", "success"]);
    let given = common::read(&prompts);
    assert!(
        given.contains("produced no output for 1s and was interrupted"),
        "{given}"
    );
    assert!(events(&env, &root, "stalled").is_empty());
    env.cn(&root, &["verify"]).expect(0);
    assert_no_process_left(&env);
}

#[test]
fn a_second_stall_in_a_row_goes_to_the_human_and_fails_the_domain() {
    let env = Env::new();
    let root = web_agent(
        &env,
        "    stall_after: 1s\n",
        "echo still thinking >&2; sleep 60",
    );

    up_once_fails_web(&env, &root);
    let outcomes: Vec<String> = events(&env, &root, "turn")
        .iter()
        .map(|t| trailer(&t.3, "Outcome").to_owned())
        .collect();
    assert_eq!(outcomes, ["stalled", "stalled"]);
    let stalled = events(&env, &root, "stalled");
    assert_eq!(stalled.len(), 1, "{stalled:?}");
    assert_eq!(stalled[0].1, "human");
    let body = env.git(&root, &["log", "-1", "--format=%b", "comm"]);
    assert!(body.contains("still thinking"), "{body}");
    env.cn(&root, &["verify"]).expect(0);
    assert_no_process_left(&env);
}

#[test]
fn a_turn_past_max_turns_model_calls_is_ended_and_not_restarted() {
    let env = Env::new();
    let line = |id: &str| {
        format!(
            "echo '{{\\\"type\\\":\\\"assistant\\\",\\\"message\\\":{{\\\"id\\\":\\\"{id}\\\",\\\"content\\\":[]}}}}'"
        )
    };
    let root = web_agent(
        &env,
        "    max_turns: 2\n",
        &format!("{}; {}; {}; sleep 60", line("m1"), line("m2"), line("m3")),
    );

    up(&env, &root, None, &["web", "--once"]).expect(0);
    let turns = events(&env, &root, "turn");
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_eq!(trailer(&turns[0].3, "Outcome"), "error_max_turns");
    assert_eq!(trailer(&turns[0].3, "Calls"), "3");
    assert_no_process_left(&env);
}

#[test]
fn what_an_up_killed_outright_left_is_reaped_by_the_next_up() {
    let env = Env::new();
    let (pids, mark) = (env.path("pids"), env.path("mark"));
    let root = web_agent(
        &env,
        "",
        &format!(
            "if [ -e {m} ]; then exit 0; fi; touch {m}; sleep 300 & echo $$ $! > {p}; wait",
            p = pids.display(),
            m = mark.display()
        ),
    );
    let mut first = up_web_started(&env, &root, &pids);
    first.kill().unwrap(); // SIGKILL: no clean-up at all
    first.wait().unwrap();
    let text = common::read(&pids);
    let (leader, sleeper) = text.split_once(' ').unwrap();
    // The kernel's parent-death signal ended the leader; the tool process
    // it started is still there.
    assert!(!alive(leader), "{leader} survived");
    assert!(alive(sleeper.trim()), "expected the orphan to be left");

    let run = up(&env, &root, None, &["web", "--once"]).expect(0);
    assert!(
        run.stdout
            .contains("web: killed 1 process(es) a previous `up` left behind"),
        "{}",
        run.stdout
    );
    assert!(!alive(sleeper.trim()), "{sleeper} survived");
    assert_no_process_left(&env);
}

#[test]
fn an_up_killed_mid_turn_resumes_that_session_and_never_dispatches_its_work_twice() {
    let env = Env::new();
    let (pids, mark, dispatches, prompts, done) = (
        env.path("pids"),
        env.path("mark"),
        env.path("dispatches"),
        env.path("prompts"),
        env.path("done"),
    );
    let script = env.path("agent.sh");
    write(
        &script,
        &format!(
            "echo \"$COMM_NODE_RESUME $COMM_NODE_SESSION\" >> {d}\n\
             printf '%s\\n--\\n' \"$COMM_NODE_PROMPT\" >> {pr}\n\
             echo '{{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"'$COMM_NODE_SESSION'\"}}'\n\
             if [ -e {m} ]; then echo work >> {w}; exit 0; fi\n\
             touch {m}; sleep 300 & echo $$ $! > {p}; wait\n",
            d = dispatches.display(),
            pr = prompts.display(),
            m = mark.display(),
            w = done.display(),
            p = pids.display(),
        ),
    );
    let root = web_agent(&env, "", &format!("sh {}", script.display()));
    let mut first = up_web_started(&env, &root, &pids);
    let log = root.join(".git/comm-node/agents/web/stream.jsonl");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log).is_ok_and(|t| t.contains("session_id")) {
        assert!(
            Instant::now() < deadline,
            "the stream never reached the log"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap(); // SIGKILL mid-turn
    first.wait().unwrap();

    let plan = up(&env, &root, None, &["web", "--dry-run"]).expect(0);
    assert!(
        plan.stdout.contains("web: would resume session")
            && plan.stdout.contains("You were interrupted"),
        "{}",
        plan.stdout
    );
    let run = up(&env, &root, None, &["web", "--once"]).expect(0);
    assert!(
        run.stdout.contains("web: resuming session"),
        "{}",
        run.stdout
    );
    // A third `up` finds nothing left to do.
    up(&env, &root, None, &["web", "--once"]).expect(0);

    assert_eq!(common::read(&done).lines().count(), 1, "the work ran twice");
    let given = common::read(&dispatches);
    let lines: Vec<&str> = given.lines().collect();
    assert_eq!(lines.len(), 2, "{given}");
    let session = lines[0].split_once(' ').unwrap().1;
    assert_eq!(lines[0], format!("0 {session}"));
    assert_eq!(
        lines[1],
        format!("1 {session}"),
        "not resumed on its session"
    );
    let said = common::read(&prompts);
    let (kickoff, resumed) = said.split_once("\n--\n").unwrap();
    assert!(kickoff.contains("build the web"), "{kickoff}");
    assert!(resumed.contains("You were interrupted"), "{resumed}");
    assert!(
        !resumed.contains("build the web"),
        "dispatched again: {resumed}"
    );
    let outcomes: Vec<String> = events(&env, &root, "turn")
        .iter()
        .map(|t| trailer(&t.3, "Outcome").to_owned())
        .collect();
    assert_eq!(outcomes, ["interrupted (up died)", "success"]);
    env.cn(&root, &["verify"]).expect(0);
    assert!(!root
        .join(".git/comm-node/agents/web/inflight.json")
        .exists());
    assert_no_process_left(&env);
}

/// A stand-in for `codex exec --json` that records its arguments (up to
/// the prompt's first line) and
/// prints, per call, a recorded-shape stream whose `turn.completed` usage
/// is the session's running total: 600+400 cached in / 50 out, then that
/// same total re-emitted, then 1100+600 / 80.
const FAKE_CODEX: &str = r#"#!/bin/sh
printf '%s\n' "$*" | head -n 1 >> "$FAKE_CODEX_ARGS"
n=$(wc -l < "$FAKE_CODEX_ARGS")
echo '{"type":"thread.started","thread_id":"0199a213-81c0-7800-8aa1-bbab2a035a53"}'
echo '{"type":"turn.started"}'
echo '{"type":"item.started","item":{"id":"item_0","type":"command_execution","command":"true","status":"in_progress"}}'
echo '{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"ok"}}'
case $n in
  1|2) echo '{"type":"turn.completed","usage":{"input_tokens":1000,"cached_input_tokens":400,"output_tokens":50}}' ;;
  *) echo '{"type":"turn.completed","usage":{"input_tokens":1700,"cached_input_tokens":600,"output_tokens":80}}' ;;
esac
"#;

#[test]
fn codex_turns_and_attach_resume_its_thread_and_count_only_what_each_turn_adds_to_the_session_total(
) {
    let env = Env::new();
    let root = app(&env, "agents:\n  web:\n    cli: codex\n");
    let fake = env.path("codex");
    write(&fake, FAKE_CODEX);
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let args = env.path("codex-args");
    for n in 1..=3 {
        add_task(&env, &root, "web", &format!("step {n}"), &[]);
        let out = up_command(&env, &root, None, &["--once", "web"])
            .env("COMM_NODE_CODEX", &fake)
            .env("FAKE_CODEX_ARGS", &args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let thread = "0199a213-81c0-7800-8aa1-bbab2a035a53";
    let calls = common::read(&args);
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls[0].starts_with("exec --json "), "{}", calls[0]);
    assert!(!calls[0].contains("resume"), "{}", calls[0]);
    for later in &calls[1..] {
        assert!(later.contains(&format!(" resume {thread} ")), "{later}");
    }
    let turns = events(&env, &root, "turn");
    let tokens: Vec<[u64; 4]> = turns
        .iter()
        .map(|(_, _, _, t)| {
            assert_eq!(trailer(t, "Cli"), "codex");
            assert_eq!(trailer(t, "Session"), thread);
            assert_eq!(trailer(t, "Cost-Usd"), "0");
            assert_eq!(trailer(t, "Cost-Reported"), "no");
            ["Tokens-In", "Tokens-Out", "Cache-Read", "Cache-Write"]
                .map(|k| trailer(t, k).parse::<u64>().unwrap())
        })
        .collect();
    // The re-emitted total adds nothing; the totals on comm are the
    // session's last total, not the sum of its totals.
    assert_eq!(tokens, [[600, 50, 400, 0], [0, 0, 0, 0], [500, 30, 200, 0]]);
    let totals = env.git(&root, &["show", "comm:usage/web.yaml"]);
    assert!(totals.contains("input_tokens: 1100\n"), "{totals}");
    assert!(totals.contains("cache_read_tokens: 600\n"), "{totals}");
    assert!(totals.contains("output_tokens: 80\n"), "{totals}");
    env.cn(&root, &["verify"]).expect(0);

    // attach opens that same thread interactively.
    let mut attach = Command::new(common::BIN);
    attach
        .args(["attach", "web"])
        .current_dir(&root)
        .stdin(Stdio::null())
        .env("COMM_NODE_CODEX", &fake)
        .env("FAKE_CODEX_ARGS", &args);
    env.hermetic(&mut attach);
    let out = attach.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let calls = common::read(&args);
    assert_eq!(
        calls.lines().nth(3),
        Some(format!("resume {thread}").as_str())
    );
    assert_no_process_left(&env);
}

#[test]
fn two_clones_each_running_up_sync_for_one_domain_complete_the_cross_domain_graph() {
    use common::daemon::Daemon;
    let env = Env::new();
    let script = env.path("agent.sh");
    write(
        &script,
        "d=$(basename \"$PWD\")\nout=$(comm-node task next --json 2>/dev/null) || exit 0\nid=$(printf '%s\\n' \"$out\" | sed -n 's/^  \"id\": \"\\(.*\\)\",$/\\1/p')\nmkdir -p \"$d\"\necho \"done $id\" > \"$d/work.txt\"\ngit add -A\ngit commit -qm \"$d: $id\"\ncomm-node task done --force \"$id\"\n",
    );
    let config = format!(
        "project: app\ndomains:\n  api:\n    scope: [\"api/**\"]\n  web:\n    scope: [\"web/**\"]\nagents:\n  default:\n    cli: command\n    command: [sh, {}]\n",
        script.display()
    );
    let seed = env.repo("seed", &[("comm.yaml", &config)]);
    env.cn(&seed, &["init"]).expect(0);
    let api_task = add_task(&env, &seed, "api", "build the api", &[]);
    let web_task = add_task(&env, &seed, "web", "build the web", &[&api_task]);
    let base = env.path("served");
    std::fs::create_dir_all(&base).unwrap();
    let seed_path = seed.to_str().unwrap().to_owned();
    env.git(&base, &["clone", "-q", "--bare", &seed_path, "remote.git"]);
    let daemon = Daemon::start(&env, &base);
    let clone = |name: &str| {
        let parent = env.path(name);
        std::fs::create_dir_all(&parent).unwrap();
        env.git(&parent, &["clone", "-q", &daemon.url, "app"]);
        let dir = parent.join("app");
        env.git(&dir, &["config", "user.name", name]);
        env.git(&dir, &["config", "user.email", "clone@test.invalid"]);
        env.cn(&dir, &["sync"]).expect(0);
        env.cn(&dir, &["init"]).expect(0);
        dir
    };
    let (a, b) = (clone("a"), clone("b"));

    // b runs web and waits for work; a runs api once.
    let mut web = up_command(&env, &b, None, &["web", "--sync", "origin"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    up(&env, &a, None, &["api", "--once", "--sync", "origin"]).expect(0);

    // web's task becomes ready on b once a's events arrive; b's agent does it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        env.cn(&a, &["sync"]).expect(0);
        let shown = env
            .cn(&a, &["--json", "task", "show", &web_task])
            .expect(0)
            .stdout;
        if shown.contains("\"status\": \"done\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "web's task never got done: {shown}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: signals the `up` process this test started.
    unsafe { libc::kill(web.id() as i32, libc::SIGTERM) };
    assert!(web.wait().unwrap().success());

    // Both domains' work is on the remote, and each turn was recorded by its clone.
    env.git(&a, &["fetch", "-q", "origin"]);
    for (domain, id) in [("api", &api_task), ("web", &web_task)] {
        let work = env.git(
            &a,
            &["show", &format!("origin/domain/{domain}:{domain}/work.txt")],
        );
        assert_eq!(work, format!("done {id}"));
    }
    let turns: Vec<String> = events(&env, &a, "turn").into_iter().map(|t| t.0).collect();
    assert_eq!(turns, ["api", "web"]);
    env.cn(&a, &["verify"]).expect(0);
    let port: u16 = daemon
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    drop(daemon);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "git daemon still listening on {port}"
    );
    assert_no_process_left(&env);
}

/// The app whose web agent runs the shell script `body` (`cli: command`),
/// with a task for web.
fn web_script_agent(env: &Env, body: &str) -> PathBuf {
    let script = env.path("agent.sh");
    write(&script, body);
    let root = app(
        env,
        &format!(
            "agents:\n  web:\n    cli: command\n    command: [sh, {}]\n",
            script.display()
        ),
    );
    add_task(env, &root, "web", "build the web", &[]);
    root
}

/// `status` and `status --json` in `root`: its text and web's `runtime`.
fn web_status(env: &Env, root: &Path) -> (String, serde_json::Value) {
    let json = env.cn(root, &["--json", "status"]).expect(0).stdout;
    // Second: once the JSON names a tool, the turn waits in it.
    let text = env.cn(root, &["status"]).expect(0).stdout;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let web = v["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "web")
        .unwrap()["runtime"]
        .clone();
    (text, web)
}

#[test]
fn status_names_the_tool_call_a_turn_is_in_and_forgets_it_when_the_turn_ends() {
    let env = Env::new();
    let go = env.path("go");
    let root = web_script_agent(
        &env,
        &format!(
            r#"cat <<'END'
{{"type":"system","subtype":"init","session_id":"sess-tool","model":"fake"}}
{{"type":"assistant","message":{{"id":"r1","content":[{{"type":"tool_use","id":"t1","name":"Bash","input":{{"command":"cargo test \u001b[31m--all"}}}}]}}}}
END
while [ ! -e {go} ]; do sleep 0.05; done
cat <<'END'
{{"type":"user","message":{{"content":[{{"type":"tool_result","tool_use_id":"t1","content":"ok"}}]}}}}
{{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.1,"usage":{{"input_tokens":1,"output_tokens":1}}}}
END
"#,
            go = go.display()
        ),
    );
    let mut first = up_command(&env, &root, None, &["web"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // During the turn: the tool, escaped, and the session.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (text, runtime) = loop {
        let (text, runtime) = web_status(&env, &root);
        if runtime["tool"].is_string() {
            break (text, runtime);
        }
        assert!(
            Instant::now() < deadline,
            "status never named the tool: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(runtime["tool"], "Bash: cargo test \u{1b}[31m--all");
    assert_eq!(runtime["session"], "sess-tool");
    assert_eq!(runtime["state"], "working");
    assert!(
        text.contains("now Bash: cargo test \\x1b[31m--all; session sess-tool"),
        "{text}"
    );

    // After the turn: gone.
    write(&go, "");
    let deadline = Instant::now() + Duration::from_secs(20);
    while events(&env, &root, "turn").is_empty() {
        assert!(Instant::now() < deadline, "the turn never ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let (text, runtime) = loop {
        let (text, runtime) = web_status(&env, &root);
        if runtime["state"] == "idle" {
            break (text, runtime);
        }
        assert!(Instant::now() < deadline, "web never went idle: {text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(runtime["tool"].is_null(), "{runtime}");
    assert!(!text.contains("now Bash"), "{text}");
    // The session up continues stays shown.
    assert!(runtime["session"].is_string(), "{runtime}");
    assert!(text.contains("; session "), "{text}");

    unsafe { libc::kill(first.id() as i32, libc::SIGTERM) };
    assert!(first.wait().unwrap().success());
    // No `up` runs web any more: its last turn on comm is shown instead.
    let (text, _) = web_status(&env, &root);
    assert!(text.contains("last turn web 1: success"), "{text}");
    assert_no_process_left(&env);
}

#[test]
fn an_agent_whose_sandbox_keeps_git_from_committing_is_reported_to_the_human_once() {
    let env = Env::new();
    let root = web_script_agent(
        &env,
        r#"cat <<'END'
{"type":"system","subtype":"init","session_id":"sess-sandbox","model":"fake"}
{"type":"assistant","message":{"id":"r1","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"git commit -am work"}}]}}
{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":"fatal: Unable to create '/app/.git/worktrees/web/index.lock': Read-only file system"}]}}
{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.1,"usage":{"input_tokens":1,"output_tokens":1}}
END
"#,
    );
    up(&env, &root, None, &["web", "--once"]).expect(0);
    // A second turn hits it again: the human already knows.
    add_task(&env, &root, "web", "more web", &[]);
    up(&env, &root, None, &["web", "--once"]).expect(0);
    assert_eq!(events(&env, &root, "turn").len(), 2);

    let reported = events(&env, &root, "sandbox");
    assert_eq!(reported.len(), 1, "{reported:?}");
    let (from, to, subject, _) = &reported[0];
    assert_eq!((from.as_str(), to.as_str()), ("web", "human"));
    assert!(subject.contains("cannot commit"), "{subject}");
    let body = env.git(
        &root,
        &["log", "-1", "--format=%B", "--grep=cannot commit", "comm"],
    );
    assert!(
        body.contains("index.lock': Read-only file system"),
        "{body}"
    );
    assert!(body.contains("--add-dir"), "{body}");
    assert!(
        body.contains("sandbox_workspace_write.writable_roots"),
        "{body}"
    );
    let inbox = env.cn(&root, &["--as", "human", "inbox"]).expect(0).stdout;
    assert!(inbox.contains("cannot commit"), "{inbox}");
    assert_no_process_left(&env);
}
