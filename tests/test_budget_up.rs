//! Budgets, rate limits and `max_parallel_agents` under `comm-node up`,
//! with the real Claude Code CLI against the scripted model server
//! (`tests/agents/model_server.py`). The CLI runs through a wrapper that
//! records the arguments it was given, then execs it. No process outlives
//! a test: background `up`s run in their own process group, stopped with
//! SIGTERM and killed on drop.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::up::*;
use common::{read, write, Env};
use serde_json::Value;

/// A `claude` that appends its arguments (one line per run) to `argv.log`
/// next to it, then runs the real CLI.
fn recording_claude(env: &Env) -> (PathBuf, PathBuf) {
    let wrapper = env.path("claude-wrapper");
    let log = env.path("argv.log");
    write(
        &wrapper,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" | tr '\\n' ' ' >> '{}'\necho >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            log.display(),
            claude().display()
        ),
    );
    Command::new("chmod")
        .arg("+x")
        .arg(&wrapper)
        .status()
        .unwrap();
    (wrapper, log)
}

fn up_with(env: &Env, root: &Path, server: &ModelServer, wrapper: &Path, args: &[&str]) -> Command {
    let mut cmd = up_command(env, root, Some(server), args);
    cmd.env("COMM_NODE_CLAUDE", wrapper);
    cmd
}

fn run(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A background `up`: its own process group, SIGTERM then SIGKILL on drop.
struct Background(Child);

impl Background {
    fn start(mut cmd: Command) -> Background {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        Background(cmd.spawn().unwrap())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let group = self.0.id() as i32;
        // SAFETY: kill(2) on the process group this test created.
        unsafe { libc::kill(-group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

#[track_caller]
fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The budget events of `action`, as (from, to, subject, trailers).
fn budget_events(env: &Env, root: &Path, action: &str) -> Vec<(String, String, String, String)> {
    events(env, root, "budget")
        .into_iter()
        .filter(|e| e.3.contains(&format!("Comm-Action: {action}\n")))
        .collect()
}

/// The CLI's own costs in a domain's stream log (its `result` lines).
fn result_costs(root: &Path, domain: &str) -> Vec<f64> {
    let path = root.join(format!(".git/comm-node/agents/{domain}/stream.jsonl"));
    read(&path)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "result")
        .map(|v| v["total_cost_usd"].as_f64().unwrap())
        .collect()
}

fn budget_line(env: &Env, root: &Path, scope: &str, name: &str) -> Value {
    let out = env.cn(root, &["--json", "budget"]).expect(0).stdout;
    let v: Value = serde_json::from_str(&out).unwrap();
    v["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["scope"] == scope && l["name"] == name && l["unit"] == "usd")
        .unwrap_or_else(|| panic!("no {scope} {name} in {v}"))
        .clone()
}

const AGENTS: &str = "agents:\n  default:\n    permission_mode: bypassPermissions\n";

#[test]
fn a_domain_over_budget_is_paused_the_others_go_on_and_a_grant_resumes_it() {
    let env = Env::new();
    let root = app(&env, AGENTS);
    let server = ModelServer::start(&env, AGENT_SCRIPT);
    let (wrapper, argv) = recording_claude(&env);

    add_task(&env, &root, "api", "first", &[]);
    add_task(&env, &root, "web", "first", &[]);
    run(up_with(&env, &root, &server, &wrapper, &["--once"]));
    // api's budget: its first turn is 90 % of it.
    let first_cost = result_costs(&root, "api")[0];
    let budget = format!("{:.8}", first_cost / 0.9);
    let config = read(&root.join("comm.yaml"))
        + &format!("budget:\n  domains:\n    api: {{ per_domain: {{ usd: {budget} }} }}\n");
    write(&root.join("comm.yaml"), &config);
    env.git(&root, &["commit", "-qam", "api's budget"]);
    let budget: f64 = budget.parse().unwrap();

    // The next dispatch warns (once) and gives the CLI what is left as its
    // own limit; the turn spends the rest.
    add_task(&env, &root, "api", "second", &[]);
    run(up_with(&env, &root, &server, &wrapper, &["--once", "api"]));
    let warned = budget_events(&env, &root, "warn");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(
        (warned[0].0.as_str(), warned[0].1.as_str()),
        ("api", "api, human")
    );
    assert!(
        warned[0].2.contains("domain api at 90 %"),
        "{}",
        warned[0].2
    );
    let calls: Vec<String> = read(&argv).lines().map(str::to_owned).collect();
    let capped: Vec<&String> = calls
        .iter()
        .filter(|c| c.contains("--max-budget-usd"))
        .collect();
    assert_eq!(
        capped.len(),
        1,
        "only api's second turn had a budget: {calls:?}"
    );
    let left = format!("--max-budget-usd {:.6}", budget - first_cost);
    assert!(capped[0].contains(&left), "{left}: {}", capped[0]);
    // The CLI kept to it: it stopped the turn at its budget, and that is a
    // finished turn, not a crash to restart.
    let outcomes: Vec<String> = events(&env, &root, "turn")
        .iter()
        .filter(|t| t.0 == "api")
        .map(|t| trailer(&t.3, "Outcome").to_owned())
        .collect();
    assert_eq!(outcomes, ["success", "error_max_budget_usd"]);
    assert!(events(&env, &root, "crashed").is_empty());
    assert!(budget_line(&env, &root, "domain", "api")["over"]
        .as_bool()
        .unwrap());

    // Mid-graph: api has work but is paused; web goes on.
    add_task(&env, &root, "api", "third", &[]);
    add_task(&env, &root, "web", "second", &[]);
    let out = run(up_with(
        &env,
        &root,
        &server,
        &wrapper,
        &["--once", "--json"],
    ));
    assert!(
        out.contains("\"progress\":\"dispatched\",\"domain\":\"web\""),
        "web goes on: {out}"
    );
    assert!(
        !out.contains("\"progress\":\"dispatched\",\"domain\":\"api\""),
        "api is paused: {out}"
    );
    assert!(
        out.contains(
            "\"progress\":\"held\",\"domains\":[\"api\"],\"why\":\"over budget: domain api spent"
        ),
        "up says why: {out}"
    );
    let paused = budget_events(&env, &root, "paused");
    assert_eq!(paused.len(), 1, "{paused:?}");
    let spent: f64 = result_costs(&root, "api").iter().sum();
    assert_eq!(paused[0].1, "api, human");
    assert!(
        paused[0]
            .2
            .contains(&format!("domain api spent ${spent:.4} of ${budget:.4}")),
        "{}",
        paused[0].2
    );

    // A restarted `up` keeps it paused without telling again; `status`
    // shows it; the human's grant resumes it.
    let api_turns = || {
        events(&env, &root, "turn")
            .iter()
            .filter(|t| t.0 == "api")
            .count()
    };
    let before = api_turns();
    {
        let _up = Background::start(up_with(&env, &root, &server, &wrapper, &[]));
        wait_for("status to show api paused", 30, || {
            let s = env.cn(&root, &["status"]).expect(0).stdout;
            s.contains("agent api: paused over budget")
        });
        assert_eq!(api_turns(), before);
        env.cn(&root, &["budget", "grant", "api", "0.01"]).expect(0);
        wait_for("a turn of api after the grant", 60, || api_turns() > before);
    }
    assert_eq!(budget_events(&env, &root, "paused").len(), 1);
    assert_eq!(budget_events(&env, &root, "warn").len(), 1);

    // What `budget` reports as spent is the sum of the CLI's own costs.
    let all: f64 = result_costs(&root, "api").iter().sum();
    let line = budget_line(&env, &root, "domain", "api");
    assert!(
        (line["spent"].as_f64().unwrap() - all).abs() < 1e-9,
        "{line} vs {all}"
    );
    assert!((line["budget"].as_f64().unwrap() - (budget + 0.01)).abs() < 1e-9);
    let usage = env.git(&root, &["show", "comm:usage/api.yaml"]);
    assert!(
        usage.contains(&format!("cost_usd: {}", line["spent"])),
        "{usage}"
    );
    env.cn(&root, &["verify"]).expect(0);
    drop(server);
    assert_no_process_left(&env);
}

#[test]
fn a_task_over_its_budget_is_not_dispatched() {
    let env = Env::new();
    let root = app(
        &env,
        "agents:\n  default:\n    permission_mode: bypassPermissions\nbudget:\n  per_task: { usd: 0.001 }\n",
    );
    let server = ModelServer::start(&env, "comm-node task next >/dev/null 2>&1; true\n");
    let (wrapper, _) = recording_claude(&env);
    let task = add_task(&env, &root, "api", "big", &[]);
    run(up_with(&env, &root, &server, &wrapper, &["--once", "api"]));
    // The task is claimed and its turn spent over the task's budget; a
    // message about it brings api back, but the task is paused.
    assert!(budget_line(&env, &root, "task", &task)["over"]
        .as_bool()
        .unwrap());
    env.cn(
        &root,
        &[
            "--as", "web", "send", "--to", "api", "--task", &task, "more", "details",
        ],
    )
    .expect(0);
    let out = run(up_with(
        &env,
        &root,
        &server,
        &wrapper,
        &["--once", "--json", "api"],
    ));
    assert!(!out.contains("\"progress\":\"dispatched\""), "{out}");
    let paused = budget_events(&env, &root, "paused");
    assert_eq!(paused.len(), 1, "{paused:?}");
    assert!(
        paused[0].2.contains(&format!("task {task} spent")),
        "{}",
        paused[0].2
    );
    drop(server);
    assert_no_process_left(&env);
}

#[test]
fn a_rate_limited_account_pauses_every_agent_until_its_reset() {
    let env = Env::new();
    let root = app(
        &env,
        "agents:\n  default:\n    permission_mode: bypassPermissions\n",
    );
    let server = ModelServer::start(&env, AGENT_SCRIPT);
    let (wrapper, _) = recording_claude(&env);
    // Every answer is a 429 asking to retry in 4 s, until the file goes.
    let headers = env.path("agent-script.sh.headers");
    write(&headers, "x-scripted-status: 429\nretry-after: 4\n");
    add_task(&env, &root, "api", "first", &[]);
    let _up = Background::start(up_with(&env, &root, &server, &wrapper, &[]));
    // The CLI reports the 429 in its stream (`api_retry`); up records it.
    let recorded = root.join(".git/comm-node/agents/api/ratelimit.json");
    wait_for("api's agent to report the limit", 30, || recorded.exists());
    assert!(read(&server.log).contains("\"api\": \"refused\""));
    std::fs::remove_file(&headers).unwrap();
    // web gets work while the account is limited: it waits for the reset.
    add_task(&env, &root, "web", "first", &[]);
    wait_for("the limited event", 30, || {
        !budget_events(&env, &root, "limited").is_empty()
    });
    wait_for("web's turn", 60, || {
        events(&env, &root, "turn").iter().any(|t| t.0 == "web")
    });
    let limited = budget_events(&env, &root, "limited");
    assert_eq!(limited.len(), 1, "{limited:?}");
    assert_eq!(
        limited[0].1, "api, docs, human, web",
        "every agent on the account"
    );
    let resumed = budget_events(&env, &root, "resumed");
    assert_eq!(
        resumed.len(),
        1,
        "{resumed:?} {}",
        env.git(&root, &["log", "comm", "--format=%s %ad"])
    );
    // web's first request came after the limit's end (the first 429 plus
    // the 4 s the server asked for; the CLI adds jitter, never less).
    let log: Vec<Value> = read(&server.log)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first_429 = log.iter().find(|v| v["api"] == "refused").unwrap()["t"]
        .as_f64()
        .unwrap();
    let web_first = log
        .iter()
        .find(|v| v["cwd"].as_str().is_some_and(|c| c.ends_with("/web")))
        .expect("web reached the model")["t"]
        .as_f64()
        .unwrap();
    // The announcements cost no turn: docs, with no work, got none.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !events(&env, &root, "turn").iter().any(|t| t.0 == "docs"),
        "a budget event woke docs"
    );
    assert!(
        web_first >= first_429 + 3.5,
        "web at {web_first}, limited at {first_429}"
    );
    drop(_up);
    drop(server);
    assert_no_process_left(&env);
}

#[test]
fn max_parallel_agents_one_never_runs_two_turns_at_once() {
    let env = Env::new();
    let root = app(
        &env,
        "limits:\n  max_parallel_agents: 1\nagents:\n  default:\n    permission_mode: bypassPermissions\n",
    );
    // Each turn's tool call takes a while, so overlapping turns would show.
    let server = ModelServer::start(&env, &format!("sleep 1\n{AGENT_SCRIPT}"));
    let (wrapper, _) = recording_claude(&env);
    for d in ["api", "web", "docs"] {
        add_task(&env, &root, d, "work", &[]);
    }
    run(up_with(&env, &root, &server, &wrapper, &["--once"]));
    // Each turn is two requests to the model: the prompt, and the tool's
    // result. Between one turn's two, no other domain's request comes.
    let log: Vec<Value> = read(&server.log)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cwds: Vec<String> = log
        .iter()
        .filter_map(|v| v["cwd"].as_str())
        .map(|c| c.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(cwds.len(), 6, "{cwds:?}");
    for pair in cwds.chunks(2) {
        assert_eq!(pair[0], pair[1], "turns interleaved: {cwds:?}");
    }
    let mut domains: Vec<&str> = cwds.iter().step_by(2).map(String::as_str).collect();
    domains.sort();
    assert_eq!(domains, ["api", "docs", "web"]);
    drop(server);
    assert_no_process_left(&env);
}

#[test]
fn a_codex_account_answering_429_holds_every_codex_agent() {
    let env = Env::new();
    let server = ModelServer::start(&env, AGENT_SCRIPT);
    let root = app(&env, &codex_agents(server.port));
    let headers = env.path("agent-script.sh.headers");
    write(&headers, "x-scripted-status: 429\n");
    add_task(&env, &root, "api", "first", &[]);
    let home = env.path("codex-home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = up_command(&env, &root, None, &[]);
    cmd.env("COMM_NODE_CODEX", codex())
        .env("CODEX_HOME", &home)
        .env("FAKE_KEY", "test-key");
    let up = Background::start(cmd);
    let recorded = root.join(".git/comm-node/agents/api/ratelimit.json");
    wait_for("codex's 429 to be recorded", 60, || recorded.exists());
    std::fs::remove_file(&headers).unwrap();
    add_task(&env, &root, "web", "first", &[]);
    wait_for("the limited event", 30, || {
        !budget_events(&env, &root, "limited").is_empty()
    });
    let limited = budget_events(&env, &root, "limited");
    assert_eq!(limited[0].1, "api, docs, human, web");
    // web is held: the server sees nothing from it while the hold lasts.
    std::thread::sleep(Duration::from_secs(3));
    let cwds: Vec<String> = std::fs::read_to_string(&server.log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["cwd"].as_str().map(str::to_owned))
        .collect();
    assert!(cwds.iter().any(|c| c.ends_with("/api")), "{cwds:?}");
    assert!(
        !cwds.iter().any(|c| c.ends_with("/web")),
        "web reached the model while held: {cwds:?}"
    );
    drop(up);
    drop(server);
    assert_no_process_left(&env);
}

#[test]
fn per_turn_is_the_clis_own_limit_and_a_turn_stopped_there_is_not_a_crash() {
    let env = Env::new();
    let root = app(
        &env,
        "agents:\n  default:\n    permission_mode: bypassPermissions\nbudget:\n  per_turn: { usd: 0.0005 }\n  per_domain: { usd: 5 }\n",
    );
    let server = ModelServer::start(&env, AGENT_SCRIPT);
    let (wrapper, argv) = recording_claude(&env);
    add_task(&env, &root, "api", "first", &[]);
    run(up_with(&env, &root, &server, &wrapper, &["--once", "api"]));
    let calls = read(&argv);
    assert!(calls.contains("--max-budget-usd 0.000500"), "{calls}");
    let turns = events(&env, &root, "turn");
    assert_eq!(turns.len(), 1, "not restarted: {turns:?}");
    assert_eq!(trailer(&turns[0].3, "Outcome"), "error_max_budget_usd");
    drop(server);
    assert_no_process_left(&env);
}
