//! `comm-node up` with real components: the real Claude Code CLI (npm,
//! pinned, installed into the target dir on first use) against a scripted
//! model server on 127.0.0.1 (`tests/agents/model_server.py`), whose
//! "model" runs real comm-node and git commands through Claude Code's own
//! Bash tool; `--dry-run`, and `attach`. Every test checks that no process
//! is left in the test's folders and no port stays open. Faults, signals
//! and several machines are in `test_up_faults.rs`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::up::*;
use common::{write, Env, BIN};

#[test]
fn three_domains_complete_a_task_graph_through_claude_code_and_the_queue_lands_it() {
    let env = Env::new();
    let root = app(
        &env,
        "agents:\n  default:\n    permission_mode: bypassPermissions\n",
    );
    let api_task = add_task(&env, &root, "api", "build the api", &[]);
    let web_task = add_task(&env, &root, "web", "build the web", &[&api_task]);
    let docs_task = add_task(
        &env,
        &root,
        "docs",
        "document the api",
        &["artifact:api/contract"],
    );
    let server = ModelServer::start(&env, AGENT_SCRIPT);

    // api and docs (once api published the contract) do their tasks and
    // submit; the queue lands them, which marks their tasks done and makes
    // web's ready; web does it; the queue lands it.
    let first = up(&env, &root, Some(&server), &["--once", "--json"]).expect(0);
    assert!(
        !first.stdout.contains("\"domain\":\"web\""),
        "web has nothing to do before api's work lands: {}",
        first.stdout
    );
    env.cn(&root, &["--as", "human", "queue", "run", "--once"])
        .expect(0);
    let run = up(&env, &root, Some(&server), &["--once", "--json"]).expect(0);
    env.cn(&root, &["--as", "human", "queue", "run", "--once"])
        .expect(0);
    for (domain, id) in [("api", &api_task), ("web", &web_task), ("docs", &docs_task)] {
        let task = env
            .cn(&root, &["--json", "task", "show", id])
            .expect(0)
            .stdout;
        assert!(task.contains("\"status\": \"done\""), "{task}");
        let work = env.git(&root, &["show", &format!("main:{domain}/work.txt")]);
        assert_eq!(work, format!("done {id}"));
    }
    let contract = env
        .cn(&root, &["artifact", "get", "api/contract"])
        .expect(0);
    assert_eq!(contract.stdout, "openapi: 3.1.0\n");
    // web was dispatched for its task once api's had landed.
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let web_dispatch = lines
        .iter()
        .find(|v| v["progress"] == "dispatched" && v["domain"] == "web")
        .expect("web was dispatched");
    let reasons = web_dispatch["reasons"].to_string();
    assert!(
        reasons.contains(&format!("task {web_task} is ready")),
        "{reasons}"
    );

    // One turn event per turn, signed by its domain; the tokens sum to what
    // the model server returned, the costs are the CLI's own result lines.
    let turns = events(&env, &root, "turn");
    assert!(turns.len() >= 2, "{turns:?}");
    let mut sum = [0u64; 4];
    let mut costs: Vec<String> = Vec::new();
    for (from, _, _, t) in &turns {
        assert!(["api", "web", "docs"].contains(&from.as_str()), "{from}");
        assert_eq!(trailer(t, "Outcome"), "success");
        assert_eq!(trailer(t, "Cli"), "claude");
        assert_eq!(
            trailer(t, "Model"),
            "claude-opus-5-5",
            "the CLI's default model, from its init line"
        );
        for (i, key) in ["Tokens-In", "Tokens-Out", "Cache-Read", "Cache-Write"]
            .iter()
            .enumerate()
        {
            sum[i] += trailer(t, key).parse::<u64>().unwrap();
        }
        costs.push(trailer(t, "Cost-Usd").to_owned());
    }
    assert_eq!(sum, server.usage());
    let mut result_costs = Vec::new();
    for domain in ["api", "web", "docs"] {
        let stream =
            common::read(&root.join(format!(".git/comm-node/agents/{domain}/stream.jsonl")));
        for line in stream.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["type"] == "result" {
                result_costs.push(v["total_cost_usd"].to_string());
            }
        }
    }
    costs.sort();
    result_costs.sort();
    assert_eq!(costs, result_costs);
    // Totals on comm, and the history passes verify.
    let totals = env.git(&root, &["show", "comm:usage/api.yaml"]);
    assert!(totals.contains("turns: "), "{totals}");
    assert!(
        totals.contains("by_day:") && totals.contains("by_model:"),
        "{totals}"
    );
    env.cn(&root, &["verify"]).expect(0);

    let status = env.cn(&root, &["status"]).expect(0).stdout;
    assert!(
        status.contains("agent api: stopped under up here"),
        "{status}"
    );

    // What the agent did, readably.
    let logs = env.cn(&root, &["logs", "api"]).expect(0).stdout;
    assert!(logs.contains("── session "), "{logs}");
    assert!(logs.contains("→ Bash: sh "), "{logs}");
    assert!(logs.contains("← result: "), "{logs}");
    assert!(logs.contains("══ success: "), "{logs}");

    // Run again: nothing new, nothing dispatched.
    let again = up(&env, &root, Some(&server), &["--once"]).expect(0);
    assert!(again.stdout.contains("up: 0 turns"), "{}", again.stdout);
    drop(server);
    assert_no_process_left(&env);
}

#[test]
fn claude_flags_comm_node_passes_are_in_the_installed_help() {
    let help = Command::new(claude()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in comm_node::runtime::agent::CLAUDE_FLAGS {
        let listed = help
            .lines()
            .any(|l| l.trim_start().split([',', ' ']).any(|word| word == *flag));
        assert!(listed, "`claude --help` does not list {flag}:\n{help}");
    }
}

#[test]
fn codex_flags_comm_node_passes_are_in_the_installed_exec_help() {
    let help = Command::new(codex())
        .args(["exec", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let listed = |word: &str| {
        help.lines()
            .any(|l| l.trim_start().split([',', ' ']).any(|w| w == word))
    };
    for flag in comm_node::runtime::agent::CODEX_FLAGS {
        assert!(
            listed(flag),
            "`codex exec --help` does not list {flag}:\n{help}"
        );
    }
    assert!(listed("resume"), "no `resume` subcommand:\n{help}");
    let resume = Command::new(codex())
        .args(["exec", "resume", "--help"])
        .output()
        .unwrap();
    let resume = String::from_utf8_lossy(&resume.stdout);
    assert!(resume.contains("[SESSION_ID] [PROMPT]"), "{resume}");
    // `attach` opens the thread with `codex resume [--model] [--sandbox] ID`.
    let interactive = Command::new(codex())
        .args(["resume", "--help"])
        .output()
        .unwrap();
    let interactive = String::from_utf8_lossy(&interactive.stdout);
    for flag in ["--model", "--sandbox", "--config"] {
        let listed = interactive
            .lines()
            .any(|l| l.trim_start().split([',', ' ']).any(|w| w == flag));
        assert!(listed, "`codex resume --help` does not list {flag}");
    }
}

#[test]
fn a_codex_domain_completes_tasks_through_up_resuming_its_thread_and_counting_cumulative_usage_once(
) {
    let env = Env::new();
    let server = ModelServer::start(&env, AGENT_SCRIPT);
    let root = app(&env, &codex_agents(server.port));
    let first = add_task(&env, &root, "api", "build the api", &[]);
    codex_up(&env, &root, &["--once", "api"]).expect(0);
    env.cn(&root, &["--as", "human", "queue", "run", "--once"])
        .expect(0);
    let second = add_task(&env, &root, "api", "extend the api", &[]);
    let run = codex_up(&env, &root, &["--once", "--json", "api"]).expect(0);
    env.cn(&root, &["--as", "human", "queue", "run", "--once"])
        .expect(0);

    // The real Codex CLI ran the scripted commands: both tasks landed.
    for id in [&first, &second] {
        let task = env
            .cn(&root, &["--json", "task", "show", id])
            .expect(0)
            .stdout;
        assert!(task.contains("\"status\": \"done\""), "{task}");
    }
    let work = env.git(&root, &["show", "main:api/work.txt"]);
    assert_eq!(work, format!("done {first}\ndone {second}"));

    // The later turn resumed the thread Codex named in `thread.started`:
    // one session throughout, and its request carried the earlier talk.
    let stream = common::read(&root.join(".git/comm-node/agents/api/stream.jsonl"));
    let threads: Vec<String> = stream
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "thread.started")
        .map(|v| v["thread_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(threads.len() >= 2, "{stream}");
    assert!(threads.iter().all(|t| *t == threads[0]), "{threads:?}");
    assert!(
        run.stdout.contains("\"resume\":true"),
        "the second up resumed: {}",
        run.stdout
    );
    let requests = server.responses();
    let last_first_turn = requests.iter().position(|r| r["done"] == true).unwrap();
    let resumed = &requests[last_first_turn + 1];
    assert!(
        resumed["input"].as_u64() > requests[last_first_turn]["input"].as_u64(),
        "{requests:?}"
    );

    // One turn event per turn on that session; Codex's usage is cumulative
    // per session, yet the events sum to exactly what the server returned.
    let turns = events(&env, &root, "turn");
    assert!(turns.len() >= 2, "{turns:?}");
    let mut sum = [0u64; 4];
    for (from, _, _, t) in &turns {
        assert_eq!(from, "api");
        assert_eq!(trailer(t, "Cli"), "codex");
        assert_eq!(trailer(t, "Session"), threads[0]);
        assert_eq!(trailer(t, "Outcome"), "success");
        assert_eq!(trailer(t, "Cost-Usd"), "0");
        assert_eq!(trailer(t, "Cost-Reported"), "no");
        for (i, key) in ["Tokens-In", "Tokens-Out", "Cache-Read", "Cache-Write"]
            .iter()
            .enumerate()
        {
            sum[i] += trailer(t, key).parse::<u64>().unwrap();
        }
    }
    assert_eq!(sum, server.responses_usage());
    let last_total = stream
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "turn.completed")
        .unwrap()["usage"]["output_tokens"]
        .as_u64()
        .unwrap();
    assert_eq!(last_total, sum[1], "the CLI's last total is the session's");
    let logs = env.cn(&root, &["logs", "api"]).expect(0).stdout;
    assert!(logs.contains("── codex thread "), "{logs}");
    assert!(logs.contains("→ exec_command: "), "{logs}");
    assert!(logs.contains("══ turn completed: "), "{logs}");
    env.cn(&root, &["verify"]).expect(0);
    drop(server);
    assert_no_process_left(&env);
}

#[test]
fn dry_run_says_what_each_domain_would_be_given_and_why() {
    let env = Env::new();
    let root = app(&env, "");
    let api_task = add_task(&env, &root, "api", "build the api", &[]);
    add_task(&env, &root, "web", "build the web", &[&api_task]);

    let text = env.cn(&root, &["up", "--dry-run"]).expect(0).stdout;
    assert!(
        text.contains("api: would dispatch a kickoff (claude) because:"),
        "{text}"
    );
    assert!(
        text.contains(&format!("task {api_task} is ready for you")),
        "{text}"
    );
    assert!(text.contains("web: nothing to dispatch"), "{text}");

    let json = env
        .cn(&root, &["--json", "up", "--dry-run", "api"])
        .expect(0)
        .stdout;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["work"]["domain"], "api");
    assert_eq!(v[0]["work"]["kickoff"], true);
    let args = v[0]["command"]["args"].to_string();
    assert!(
        args.contains("stream-json") && args.contains("--session-id"),
        "{args}"
    );

    let unknown = env.cn(&root, &["up", "--dry-run", "nope"]).expect(2);
    assert!(
        unknown.stderr.contains("declared domains: api, docs, web"),
        "{}",
        unknown.stderr
    );
    assert_no_process_left(&env);
}

#[test]
fn claude_code_killed_mid_turn_is_resumed_on_its_session_and_finishes_once() {
    let env = Env::new();
    let root = app(
        &env,
        "agents:\n  default:\n    permission_mode: bypassPermissions\n",
    );
    let task = add_task(&env, &root, "api", "build the api", &[]);
    // The first time, the scripted step kills the `claude` process running
    // it (SIGKILL, mid-turn); afterwards it does the work.
    let script = format!(
        "mark={}\nif [ ! -e \"$mark\" ]; then\n  touch \"$mark\"\n  pid=$$\n  while [ \"$pid\" -gt 1 ]; do\n    if [ \"$(cat /proc/$pid/comm)\" = claude ]; then kill -9 \"$pid\"; sleep 5; fi\n    pid=$(awk '{{print $4}}' /proc/$pid/stat)\n  done\n  exit 1\nfi\n{AGENT_SCRIPT}",
        env.path("killed-once").display()
    );
    let server = ModelServer::start(&env, &script);

    up(&env, &root, Some(&server), &["api", "--once"]).expect(0);

    let turns = events(&env, &root, "turn");
    let outcomes: Vec<&str> = turns.iter().map(|t| trailer(&t.3, "Outcome")).collect();
    assert_eq!(outcomes, ["crashed (killed by signal 9)", "success"]);
    let sessions: Vec<&str> = turns.iter().map(|t| trailer(&t.3, "Session")).collect();
    assert_eq!(sessions[0], sessions[1], "resumed on the same session");
    // The resumed turn's first request carried the earlier conversation.
    let log = common::read(&server.log);
    let sizes: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["messages"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // (The first request of the killed turn; the first of the resumed one
    // holds it, the model's tool call, and the new prompt.)
    assert!(sizes[1] >= sizes[0] + 2, "{sizes:?}");
    // Submitted exactly once.
    let submitted = events(&env, &root, "submit");
    assert_eq!(submitted.len(), 1, "{submitted:?}");
    assert!(submitted[0].3.contains(&task), "{submitted:?}");
    drop(server);
    assert_no_process_left(&env);
}

#[test]
fn attach_opens_the_session_and_pauses_dispatch_until_the_human_exits() {
    let env = Env::new();
    let root = app(&env, "");
    let (fake, args) = (env.path("fake-claude"), env.path("claude-args"));
    write(&fake, FAKE_CLAUDE);
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    let with_fake = |mut cmd: Command| {
        cmd.env("COMM_NODE_CLAUDE", &fake)
            .env("FAKE_CLAUDE_ARGS", &args);
        cmd
    };
    let run = |cmd: Command| {
        let out = with_fake(cmd).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let refused = env.cn(&root, &["attach", "api"]).expect(2);
    assert!(
        refused.stderr.contains("no agent session yet"),
        "{}",
        refused.stderr
    );

    add_task(&env, &root, "api", "first", &[]);
    let out = run(up_command(&env, &root, None, &["api", "--once"]));
    assert!(out.contains("up: 1 turn"), "{out}");
    add_task(&env, &root, "api", "second", &[]);

    let mut attach = Command::new(BIN);
    attach
        .args(["attach", "api"])
        .current_dir(&root)
        .stdin(Stdio::null());
    env.hermetic(&mut attach);
    let mut attached = with_fake(attach).spawn().unwrap();
    let paused = root.join(".git/comm-node/agents/api/paused");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !paused.exists() {
        assert!(Instant::now() < deadline, "attach never paused the domain");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = run(up_command(&env, &root, None, &["api", "--once"]));
    assert!(out.contains("up: 0 turns"), "paused while attached: {out}");
    assert!(attached.wait().unwrap().success());
    assert!(!paused.exists());
    let out = run(up_command(&env, &root, None, &["api", "--once"]));
    assert!(out.contains("up: 1 turn"), "handed back: {out}");

    let calls = common::read(&args);
    let lines: Vec<&str> = calls.lines().collect();
    assert_eq!(lines.len(), 3, "{calls}");
    let session = lines[0]
        .split("--session-id ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert_eq!(
        lines[1].trim(),
        format!("--resume {session}"),
        "attach opened the session"
    );
    assert!(
        lines[2].contains(&format!("--resume {session}")),
        "{}",
        lines[2]
    );
    assert_no_process_left(&env);
}

#[test]
fn claude_code_hands_its_session_off_through_a_published_note_to_a_fresh_session() {
    let env = Env::new();
    let root = app(
        &env,
        "agents:\n  web:\n    permission_mode: bypassPermissions\n    handoff_after_turns: 1\n",
    );
    add_task(&env, &root, "web", "build the web", &[]);
    let count = env.path("count");
    // Every turn runs this; the first one leaves web more work.
    let server = ModelServer::start(
        &env,
        &format!(
            "n=$(( $(cat {c} 2>/dev/null || echo 0) + 1 )); echo $n > {c}\n\
             if [ $n = 1 ]; then cd \"$(git rev-parse --git-common-dir)/..\" && comm-node --as api send --to web more >/dev/null; fi\n",
            c = count.display()
        ),
    );

    up(&env, &root, Some(&server), &["web", "--once"]).expect(0);

    let turns = events(&env, &root, "turn");
    let sessions: Vec<&str> = turns.iter().map(|t| trailer(&t.3, "Session")).collect();
    assert_eq!(sessions.len(), 4, "{turns:?}");
    let (a, b) = (sessions[0], sessions[2]);
    assert_ne!(a, b, "no fresh session after the handoff");
    assert_eq!(sessions, [a, a, b, b]);
    for t in &turns {
        assert_eq!(trailer(&t.3, "Outcome"), "success");
    }
    let parents = parents(&turns);
    assert_eq!(parents, ["", "", a, ""]);
    // The note is the agent's final answer of its handoff turn.
    let note = env
        .cn(&root, &["artifact", "get", "web/handoff/web.md"])
        .expect(0);
    assert_eq!(note.stdout, "Done for now.\n");
    env.cn(&root, &["verify"]).expect(0);
    drop(server);
    assert_no_process_left(&env);
}
