//! `comm-node mcp` through a real MCP client: rmcp's own, spawning the real
//! binary in a domain worktree over stdio.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Env, API_WEB, BIN};
use rmcp::model::{CallToolRequestParams, GetPromptRequestParams};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};

/// A `comm-node mcp` server and the client talking to it.
struct Mcp {
    client: RunningService<RoleClient, ()>,
    pid: u32,
}

/// What a tool call returned: whether it is an error, and its text.
#[derive(Debug)]
struct Reply {
    error: bool,
    text: String,
}

impl Mcp {
    async fn start(env: &Env, dir: &Path) -> Mcp {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("mcp").current_dir(dir);
        env.hermetic(&mut cmd);
        let transport = TokioChildProcess::new(tokio::process::Command::from(cmd)).unwrap();
        let pid = transport.id().unwrap();
        let client = ().serve(transport).await.unwrap();
        Mcp { client, pid }
    }

    async fn call(&self, tool: &str, args: Value) -> Reply {
        let params = CallToolRequestParams::new(tool.to_owned())
            .with_arguments(args.as_object().unwrap().clone());
        let result = self.client.call_tool(params).await.unwrap();
        let text = result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<String>();
        Reply {
            error: result.is_error == Some(true),
            text,
        }
    }

    /// Calls a tool that must succeed; its text.
    async fn ok(&self, tool: &str, args: Value) -> String {
        let reply = self.call(tool, args.clone()).await;
        assert!(!reply.error, "{tool} {args}: {}", reply.text);
        reply.text
    }

    /// Calls a tool that must fail; its text.
    async fn err(&self, tool: &str, args: Value) -> String {
        let reply = self.call(tool, args.clone()).await;
        assert!(reply.error, "{tool} {args} should fail: {}", reply.text);
        reply.text
    }

    /// Closes the connection and checks the server process is gone.
    async fn stop(self) {
        let pid = self.pid;
        self.client.cancel().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while gone_or_zombie(pid).is_none() {
            assert!(
                Instant::now() < deadline,
                "comm-node mcp ({pid}) outlived its client"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `Some` once `pid` has exited (a zombie awaiting its reaper counts).
fn gone_or_zombie(pid: u32) -> Option<()> {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => Some(()),
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .filter(|state| *state == "Z")
            .map(|_| ()),
    }
}

/// Adds a task as the human in the main checkout; its id.
fn add_task(env: &Env, root: &Path, title: &str) -> String {
    let out = env
        .cn(root, &["--as", "human", "task", "add", "--json", title])
        .expect(0);
    let task: Value = serde_json::from_str(&out.stdout).unwrap();
    task["id"].as_str().unwrap().to_owned()
}

const TOOLS: [&str; 22] = [
    "inbox",
    "ack",
    "read",
    "thread",
    "send",
    "task_ready",
    "task_next",
    "task_claim",
    "task_done",
    "task_fail",
    "task_show",
    "reserve",
    "release",
    "reservations",
    "publish",
    "artifact",
    "status",
    "check",
    "conflicts",
    "submit",
    "hello",
    "budget",
];

#[tokio::test]
async fn lists_the_tools_and_the_role_prompt() {
    let env = Env::new();
    env.api_web_app(API_WEB, &[]);
    let mcp = Mcp::start(&env, &env.worktree("api")).await;
    let tools = mcp.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| &*t.name).collect();
    assert_eq!(names, TOOLS);
    for tool in &tools {
        let description = tool.description.as_deref().unwrap();
        assert!(description.len() <= 100, "{}: {description}", tool.name);
        assert!(
            !tool.input_schema.contains_key("$schema"),
            "{}: schemas stay minimal",
            tool.name
        );
    }
    let listed = serde_json::to_string(&tools).unwrap();
    assert!(listed.len() < 8_000, "tools/list is {} bytes", listed.len());

    let prompts = mcp.client.list_all_prompts().await.unwrap();
    assert_eq!(prompts.len(), 1);
    let role = mcp
        .client
        .get_prompt(GetPromptRequestParams::new("role"))
        .await
        .unwrap();
    let text = serde_json::to_string(&role.messages).unwrap();
    assert!(text.contains("`api`"), "{text}");
    mcp.stop().await;
}

#[tokio::test]
async fn every_tool_runs_its_command_as_the_worktree_domain() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let api = Mcp::start(&env, &env.worktree("api")).await;
    let web = Mcp::start(&env, &env.worktree("web")).await;

    let said = api
        .ok("hello", json!({"agent": "claude-code", "note": "starting"}))
        .await;
    assert!(said.contains("api"), "{said}");
    assert_eq!(env.last_sender(&root), "api");

    // Messages: send, inbox, read, thread, reply, ack.
    let id = api
        .ok(
            "send",
            json!({"to": ["web"], "subject": "contract ready", "body": "see openapi"}),
        )
        .await
        .trim()
        .to_owned();
    let inbox = web.ok("inbox", json!({})).await;
    assert!(
        inbox.contains("contract ready") && inbox.contains("api → web"),
        "{inbox}"
    );
    assert!(web
        .ok("read", json!({"id": id}))
        .await
        .contains("see openapi"));
    web.ok("send", json!({"reply_to": id, "subject": "thanks"}))
        .await;
    let thread = api.ok("thread", json!({"id": id})).await;
    assert!(thread.contains("thanks"), "{thread}");
    assert!(web
        .ok("ack", json!({"all": true}))
        .await
        .contains("marked 1 message read"));
    assert!(web
        .ok("inbox", json!({}))
        .await
        .contains("no unread messages for web"));
    api.ok("ack", json!({"ids": [id]})).await;

    // Tasks: ready, show, claim, done, next, fail.
    let first = add_task(&env, &root, "write the contract");
    let second = add_task(&env, &root, "write the client");
    assert!(api.ok("task_ready", json!({})).await.contains(&first));
    assert!(api
        .ok("task_show", json!({"id": first}))
        .await
        .contains("write the contract"));
    assert!(api
        .ok("task_claim", json!({"id": first}))
        .await
        .contains("claimed by api"));
    api.ok("task_done", json!({"id": first})).await;
    assert!(web.ok("task_next", json!({})).await.contains(&second));
    web.ok("task_fail", json!({"id": second, "reason": "no contract"}))
        .await;
    let show = web.ok("task_show", json!({"id": second})).await;
    assert!(show.contains("failed"), "{show}");

    // Reservations.
    let reserved = api
        .ok(
            "reserve",
            json!({"globs": ["api/**"], "ttl": "30m", "reason": "refactor"}),
        )
        .await;
    assert!(
        api.ok("reservations", json!({})).await.contains("api/**"),
        "{reserved}"
    );
    assert!(api
        .ok("release", json!({"all": true}))
        .await
        .contains("released"));

    // Artifacts.
    common::write(
        &env.worktree("api").join("api/openapi.yaml"),
        "openapi: 3.1.0\n",
    );
    let published = api
        .ok(
            "publish",
            json!({"name": "openapi.yaml", "file": "api/openapi.yaml"}),
        )
        .await;
    assert!(
        published.contains("published api/openapi.yaml"),
        "{published}"
    );
    assert_eq!(
        web.ok("artifact", json!({"name": "api/openapi.yaml"}))
            .await,
        "openapi: 3.1.0\n"
    );

    // Status, check, conflicts, submit.
    assert!(api.ok("status", json!({})).await.contains("web"));
    common::write(
        &env.worktree("api").join("api/b.ts"),
        "export const b = 2;\n",
    );
    env.git(&env.worktree("api"), &["add", "-A"]);
    api.ok("check", json!({})).await;
    env.git(&env.worktree("api"), &["commit", "-qm", "b"]);
    api.ok("conflicts", json!({})).await;
    let submitted = api.ok("submit", json!({"priority": 1})).await;
    assert!(submitted.contains("api"), "{submitted}");
    assert_eq!(env.last_sender(&root), "api");

    // Budget: a request reaches the human.
    api.ok(
        "budget",
        json!({"amount": "$5", "reason": "the client needs a second pass"}),
    )
    .await;
    assert_eq!(env.last_sender(&root), "api");
    let human = env.cn(&root, &["inbox"]).expect(0).stdout;
    assert!(human.contains("the client needs a second pass"), "{human}");

    api.stop().await;
    web.stop().await;
}

#[tokio::test]
async fn bad_arguments_and_refusals_come_back_as_readable_tool_errors() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let api = Mcp::start(&env, &env.worktree("api")).await;

    assert_eq!(
        api.err("task_claim", json!({})).await,
        "error: missing `id`; task_claim takes: id\n"
    );
    assert_eq!(
        api.err("status", json!({"as": "human"})).await,
        "error: unknown argument `as`; status takes no arguments\n"
    );
    assert_eq!(
        api.err("submit", json!({"priority": "soon"})).await,
        "error: `priority` must be a whole number\n"
    );
    // clap's own validation, as on the command line.
    let ttl = api
        .err("reserve", json!({"globs": ["api/**"], "ttl": "soon"}))
        .await;
    assert!(ttl.starts_with("error: "), "{ttl}");
    let range = api.err("submit", json!({"priority": 9})).await;
    assert!(range.contains("9"), "{range}");
    // Refusals from the library, with the CLI's hints.
    let unknown = api.err("task_claim", json!({"id": "T-NOPE"})).await;
    assert!(
        unknown.contains("error: ") && unknown.contains("hint: "),
        "{unknown}"
    );
    let nobody = api
        .err("send", json!({"to": "nobody", "subject": "hi"}))
        .await;
    assert!(nobody.contains("nobody"), "{nobody}");
    // A value is never a flag: this subject does not make the server act as human.
    api.ok("send", json!({"to": "web", "subject": "--as=human"}))
        .await;
    assert_eq!(env.last_sender(&root), "api");
    // Standard input is the protocol.
    let stdin = api
        .err("send", json!({"to": "web", "subject": "s", "body": "-"}))
        .await;
    assert!(stdin.contains("standard input"), "{stdin}");
    // Acting as another domain is refused as on the command line.
    let task = add_task(&env, &root, "web's work");
    env.cn(&root, &["--as", "web", "task", "claim", &task])
        .expect(0);
    let theirs = api.err("task_done", json!({"id": task})).await;
    assert!(theirs.contains("web"), "{theirs}");
    // An unknown tool is a protocol error.
    let params = CallToolRequestParams::new("rm_rf");
    assert!(api.client.call_tool(params).await.is_err());
    // The server is still serving.
    api.ok("status", json!({})).await;
    api.stop().await;
}

#[tokio::test]
async fn two_servers_race_for_one_task_and_exactly_one_wins() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let task = add_task(&env, &root, "contested");
    let api = Mcp::start(&env, &env.worktree("api")).await;
    let web = Mcp::start(&env, &env.worktree("web")).await;
    let args = json!({ "id": task });
    let (a, w) = tokio::join!(
        api.call("task_claim", args.clone()),
        web.call("task_claim", args)
    );
    assert_eq!(
        [a.error, w.error].iter().filter(|e| !**e).count(),
        1,
        "api: {a:?}\nweb: {w:?}"
    );
    let loser = if a.error { &a } else { &w };
    assert!(loser.text.contains("claimed by"), "{loser:?}");
    let winner = if a.error { "web" } else { "api" };
    let show = env.cn(&root, &["task", "show", &task]).expect(0).stdout;
    assert!(show.contains(winner), "{show}");
    api.stop().await;
    web.stop().await;
}

/// The entry `init` wrote for Claude Code's local scope of `root`.
fn claude_entry(config: &Path, root: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(config).ok()?;
    let v: Value = serde_json::from_str(&text).unwrap();
    let key = std::fs::canonicalize(root).unwrap();
    v["projects"][key.to_str().unwrap()]["mcpServers"]
        .get("comm-node")
        .cloned()
}

#[test]
fn init_registers_the_server_for_each_agent_and_uninstall_takes_it_out() {
    let env = Env::new();
    let config = env.path("home/.claude.json");
    common::write(
        &config,
        r#"{"userID": "someone", "projects": {"/elsewhere": {"mcpServers": {"x": {"command": "x"}}}}}"#,
    );
    let root = env.api_web_app(API_WEB, &[]);
    let entry = claude_entry(&config, &root).expect("registered for Claude Code");
    assert_eq!(entry["command"], BIN);
    assert_eq!(entry["args"], json!(["mcp"]));
    let kept: Value = serde_json::from_str(&common::read(&config)).unwrap();
    assert_eq!(kept["userID"], "someone");
    assert_eq!(
        kept["projects"]["/elsewhere"]["mcpServers"]["x"]["command"],
        "x"
    );
    for domain in ["api", "web"] {
        let wt = env.worktree(domain);
        let codex = common::read(&wt.join(".codex/config.toml"));
        assert!(
            codex.contains("[mcp_servers.comm-node]\ncommand = "),
            "{codex}"
        );
        assert_eq!(
            env.git(&wt, &["status", "--porcelain"]),
            "",
            "kept out of git"
        );
    }
    // A rerun finds it all in place.
    let again = env.cn(&root, &["init"]).expect(0);
    assert!(
        again.stdout.starts_with("nothing to do"),
        "{}",
        again.stdout
    );

    let gone = env.cn(&root, &["uninstall"]).expect(0);
    assert!(
        gone.stdout
            .contains("unregister MCP server comm-node for Claude Code"),
        "{}",
        gone.stdout
    );
    assert_eq!(claude_entry(&config, &root), None);
    let kept: Value = serde_json::from_str(&common::read(&config)).unwrap();
    assert_eq!(kept["userID"], "someone");
    assert!(!common::read(&root.join(".git/info/exclude")).contains(".codex"));
}

#[test]
fn init_no_mcp_registers_nothing_and_claude_config_dir_is_respected() {
    let env = Env::new();
    let root = env.repo(
        "app",
        &[
            ("comm.yaml", API_WEB),
            ("api/a.ts", "export {};\n"),
            ("web/w.ts", "export {};\n"),
        ],
    );
    env.cn(&root, &["init", "--no-mcp"]).expect(0);
    assert!(!env.path("home/.claude.json").exists());
    assert!(!env.worktree("api").join(".codex").exists());

    let dir = env.path("claude-config");
    let dir_text = dir.to_str().unwrap();
    let run = env
        .cn_env(&root, &[("CLAUDE_CONFIG_DIR", dir_text)], &["init"])
        .expect(0);
    assert!(
        run.stdout
            .contains("register MCP server comm-node for Claude Code"),
        "{}",
        run.stdout
    );
    assert!(claude_entry(&dir.join(".claude.json"), &root).is_some());
    assert!(!env.path("home/.claude.json").exists());
}

/// Runs `claude -p` in `dir` against the scripted model `server`, with
/// `args`; waits for it (two minutes at most) and returns its stdout.
fn claude_in(env: &Env, server: &common::up::ModelServer, dir: &Path, args: &[&str]) -> String {
    let mut cmd = std::process::Command::new(common::up::claude());
    cmd.args(["-p", "go", "--output-format", "stream-json", "--verbose"])
        .args(["--permission-mode", "bypassPermissions"])
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    env.hermetic(&mut cmd);
    cmd.env("IS_SANDBOX", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("ANTHROPIC_API_KEY", "test-key")
        .env(
            "ANTHROPIC_BASE_URL",
            format!("http://127.0.0.1:{}", server.port),
        );
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("claude did not finish in two minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "claude failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The tool results the model server received, oldest first: (is_error, text).
fn results_seen(server: &common::up::ModelServer) -> Vec<(bool, String)> {
    common::read(&server.log)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["result"].is_object())
        .map(|v| {
            let r = &v["result"];
            (
                r["is_error"] == true,
                r["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn claude_code_calls_the_tools_from_init_or_from_its_mcp_config() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let task = add_task(&env, &root, "for claude");
    let script = env.path("agent-script.sh");
    let calls = json!([
        {"name": "mcp__comm-node__send", "input": {"to": ["web"], "subject": "hello from claude"}},
        {"name": "mcp__comm-node__task_claim", "input": {"id": task}},
        {"name": "mcp__comm-node__task_claim", "input": {"id": "T-NOPE"}},
    ]);
    let server = common::up::ModelServer::start(&env, &calls.to_string());

    // In api's worktree, Claude Code finds the server init registered.
    let stream = claude_in(&env, &server, &env.worktree("api"), &[]);
    let init: Value = serde_json::from_str(stream.lines().next().unwrap()).unwrap();
    assert_eq!(
        init["mcp_servers"],
        json!([{"name": "comm-node", "source": "local", "status": "connected"}]),
        "{init}"
    );
    let tools = init["tools"].to_string();
    assert!(tools.contains("\"mcp__comm-node__task_claim\""), "{tools}");
    let results = results_seen(&server);
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(!results[0].0 && !results[1].0, "{results:?}");
    assert!(results[1].1.contains("claimed by api"), "{results:?}");
    assert!(
        results[2].0 && results[2].1.contains("hint: "),
        "{results:?}"
    );
    let inbox = env.cn(&env.worktree("web"), &["inbox"]).expect(0).stdout;
    assert!(inbox.contains("api → web  hello from claude"), "{inbox}");
    let show = env.cn(&root, &["task", "show", &task]).expect(0).stdout;
    assert!(show.contains("api"), "{show}");

    // In web's, through --mcp-config alone (what `up` or a user may pass).
    let config = env.path("mcp.json");
    let servers = json!({"mcpServers": {"comm-node": {"command": BIN, "args": ["mcp"]}}});
    common::write(&config, &servers.to_string());
    common::write(
        &script,
        &json!([{"name": "mcp__comm-node__send", "input": {"to": "api", "subject": "hello back"}}])
            .to_string(),
    );
    std::fs::remove_file(&server.log).unwrap();
    let config_arg = config.to_str().unwrap();
    claude_in(
        &env,
        &server,
        &env.worktree("web"),
        &["--strict-mcp-config", "--mcp-config", config_arg],
    );
    assert_eq!(results_seen(&server).len(), 1);
    let inbox = env.cn(&env.worktree("api"), &["inbox"]).expect(0).stdout;
    assert!(inbox.contains("web → api  hello back"), "{inbox}");
    common::up::assert_no_process_left(&env);
}

#[test]
fn codex_reads_the_registration_once_the_worktree_is_trusted() {
    let env = Env::new();
    env.api_web_app(API_WEB, &[]);
    let wt = env.worktree("api");
    let codex_home = env.path("codex");
    let trusted = format!(
        "[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
        wt.display()
    );
    common::write(&codex_home.join("config.toml"), &trusted);
    let mut cmd = std::process::Command::new(common::up::codex());
    cmd.args(["mcp", "list", "--json"]).current_dir(&wt);
    env.hermetic(&mut cmd);
    cmd.env("CODEX_HOME", &codex_home);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["name"], "comm-node", "{listed}");
    assert_eq!(listed[0]["transport"]["command"], BIN);
    assert_eq!(listed[0]["transport"]["args"], json!(["mcp"]));
}

#[test]
fn help_names_every_tool_and_how_to_register_it() {
    let env = Env::new();
    let help = env.cn(env.dir.path(), &["mcp", "--help"]).expect(0).stdout;
    for tool in TOOLS {
        assert!(help.contains(tool), "--help does not name {tool}:\n{help}");
    }
    for words in [
        "claude mcp add -s local comm-node",
        "codex mcp add",
        "--no-mcp",
    ] {
        assert!(help.contains(words), "--help lacks `{words}`:\n{help}");
    }
}
