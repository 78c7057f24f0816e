//! `comm-node up` with real components: the real Claude Code CLI (npm,
//! pinned, installed into the target dir on first use) against a scripted
//! model server on 127.0.0.1 (`tests/agents/model_server.py`), whose
//! "model" runs real comm-node and git commands through Claude Code's own
//! Bash tool; `command:` agents for faults and signals. Every test checks
//! that no process is left in the test's folders and no port stays open.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{write, Env, Run, BIN};

/// The pinned Claude Code release the tests drive.
const CLAUDE_VERSION: &str = "2.1.328";

/// `claude` from npm, installed once into the target dir.
fn claude() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let prefix = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("claude-npm");
    let bin = prefix.join("node_modules/.bin/claude");
    let version = |bin: &Path| {
        Command::new(bin)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    if !version(&bin).starts_with(CLAUDE_VERSION) {
        std::fs::create_dir_all(&prefix).unwrap();
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&prefix)
            .arg(format!("@anthropic-ai/claude-code@{CLAUDE_VERSION}"))
            .status()
            .expect("npm is installed (the agent runtime tests need node and npm)");
        assert!(
            status.success(),
            "npm install @anthropic-ai/claude-code failed"
        );
    }
    assert!(
        version(&bin).starts_with(CLAUDE_VERSION),
        "{}",
        version(&bin)
    );
    bin
}

/// The scripted model server, killed (and its port checked closed) on drop.
struct ModelServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl ModelServer {
    /// Starts the server; every turn it answers runs `sh script` in the agent's cwd.
    fn start(env: &Env, script: &str) -> ModelServer {
        let script_path = env.path("agent-script.sh");
        write(&script_path, script);
        let log = env.path("model-log.jsonl");
        let mut child = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agents/model_server.py"))
            .arg(&log)
            .arg(&script_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the scripted model server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the server prints its port");
        ModelServer { child, port, log }
    }

    /// Every usage the server returned, as (input, output, cache read, cache write).
    fn usage(&self) -> [u64; 4] {
        let mut sum = [0u64; 4];
        for line in common::read(&self.log).lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let u = &v["usage"];
            for (i, key) in [
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            ]
            .iter()
            .enumerate()
            {
                sum[i] += u[key].as_u64().unwrap();
            }
        }
        sum
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let open = std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok();
        if !std::thread::panicking() {
            assert!(!open, "port {} still open", self.port);
        }
    }
}

/// A three-domain app (`web` may import `api`); `agents` is appended to comm.yaml.
fn app(env: &Env, agents: &str) -> PathBuf {
    let config = format!(
        "project: app\ndomains:\n  api:\n    scope: [\"api/**\"]\n  web:\n    scope: [\"web/**\"]\n    may_import: [api]\n  docs:\n    scope: [\"docs/**\"]\n{agents}"
    );
    env.app(&[("comm.yaml", &config)])
}

/// Adds a task for `domain` as the human, after `deps` (task ids, or
/// `artifact:DOMAIN/NAME` for a needed artifact); returns its id.
fn add_task(env: &Env, root: &Path, domain: &str, title: &str, deps: &[&str]) -> String {
    let mut args = vec![
        "--as", "human", "--json", "task", "add", "--domain", domain, title,
    ];
    for d in deps {
        match d.strip_prefix("artifact:") {
            Some(a) => args.extend(["--needs-artifact", a]),
            None => args.extend(["--dep", d]),
        }
    }
    let out = env.cn(root, &args).expect(0).stdout;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// `comm-node up ARGS` in `root`, with the environment agents need.
fn up_command(env: &Env, root: &Path, server: Option<&ModelServer>, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["up"]).args(args).current_dir(root);
    env.hermetic(&mut cmd);
    cmd.env("IS_SANDBOX", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("ANTHROPIC_API_KEY", "test-key");
    if let Some(s) = server {
        cmd.env("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{}", s.port))
            .env("COMM_NODE_CLAUDE", claude());
    }
    cmd
}

fn up(env: &Env, root: &Path, server: Option<&ModelServer>, args: &[&str]) -> Run {
    let out = up_command(env, root, server, args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The events on comm of `kind`, oldest first, as (from, to, subject, trailers).
fn events(env: &Env, root: &Path, kind: &str) -> Vec<(String, String, String, String)> {
    let log = env.git(
        root,
        &[
            "log",
            "--reverse",
            "comm",
            "--format=%(trailers:key=Comm-Kind,valueonly)%x1f%(trailers:key=Comm-From,valueonly)%x1f%(trailers:key=Comm-To,valueonly)%x1f%s%x1f%(trailers:only)%x1e",
        ],
    );
    log.split('\x1e')
        .filter_map(|rec| {
            let f: Vec<&str> = rec.trim_start().split('\x1f').collect();
            (f.len() == 5 && f[0].trim() == kind).then(|| {
                (
                    f[1].trim().to_owned(),
                    f[2].trim().to_owned(),
                    f[3].to_owned(),
                    f[4].to_owned(),
                )
            })
        })
        .collect()
}

fn trailer<'a>(trailers: &'a str, key: &str) -> &'a str {
    trailers
        .lines()
        .find_map(|l| l.strip_prefix(&format!("Comm-{key}: ")))
        .unwrap_or_else(|| panic!("no Comm-{key} in\n{trailers}"))
}

/// Processes whose working directory lies inside the test's folder.
fn processes_in(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) {
            if cwd.starts_with(dir) {
                let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                out.push(format!(
                    "{name}: {}",
                    String::from_utf8_lossy(&cmd).replace('\0', " ")
                ));
            }
        }
    }
    out
}

/// Whether process `pid` still runs (a zombie waiting to be reaped does not).
fn alive(pid: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let running = state
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'));
        if !running || Instant::now() > deadline {
            return running;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[track_caller]
fn assert_no_process_left(env: &Env) {
    // Give killed groups a moment to be reaped by init.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_in(env.dir.path()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_in(env.dir.path()), Vec::<String>::new());
}

/// What each agent does on every turn, through Claude Code's Bash tool:
/// say hello, take the next task if one is ready, change a file in its
/// scope, commit (api also publishes its contract), mark the task done,
/// submit it to the merge queue, acknowledge the inbox.
const AGENT_SCRIPT: &str = r#"set -e
d=$(basename "$PWD")
comm-node hello --agent claude-code >/dev/null
if out=$(comm-node task next --json 2>/dev/null); then
  id=$(printf '%s\n' "$out" | sed -n 's/^  "id": "\(.*\)",$/\1/p')
  mkdir -p "$d"
  echo "done $id" >> "$d/work.txt"
  git add -A
  git commit -qm "$d: $id"
  if [ "$d" = api ]; then
    printf 'openapi: 3.1.0\n' > ../contract.yaml
    comm-node publish contract ../contract.yaml
  fi
  comm-node task done "$id"
  comm-node submit --task "$id"
  echo "finished $id"
fi
comm-node ack --all >/dev/null 2>&1 || true
"#;

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

    let run = up(&env, &root, Some(&server), &["--once", "--json"]).expect(0);

    // Every task done by its own domain, committed on its branch and
    // submitted; the queue lands them all on main.
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
    // web was dispatched for its task only once api's was done.
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
fn an_agent_that_always_crashes_fails_its_domain_after_max_restarts() {
    let env = Env::new();
    let root = app(
        &env,
        "agents:\n  web:\n    cli: command\n    command: [sh, -c, \"echo boom in $COMM_NODE_SESSION >&2; exit 3\"]\n    max_restarts: 2\n",
    );
    add_task(&env, &root, "web", "build the web", &[]);

    let run = up(&env, &root, None, &["web", "--once"]).expect(1);
    assert!(
        run.stderr.contains("domain agents failed: web"),
        "{}",
        run.stderr
    );

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
fn sigterm_ends_every_agent_group_and_a_second_up_for_the_domain_is_refused() {
    let env = Env::new();
    let pids = env.path("pids");
    let root = app(
        &env,
        &format!(
            "agents:\n  web:\n    cli: command\n    command: [sh, -c, \"sleep 300 & echo $$ $! > {}; wait\"]\n",
            pids.display()
        ),
    );
    add_task(&env, &root, "web", "build the web", &[]);
    let mut first = up_command(&env, &root, None, &["web"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pids.exists() || common::read(&pids).split_whitespace().count() < 2 {
        assert!(Instant::now() < deadline, "the agent never started");
        std::thread::sleep(Duration::from_millis(20));
    }
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
    let root = app(
        &env,
        &format!(
            "agents:\n  web:\n    cli: command\n    stall_after: 1s\n    command: [sh, -c, \"echo \\\"$COMM_NODE_PROMPT\\\" >> {p}; if [ -e {m} ]; then echo finished; else touch {m}; sleep 60; fi\"]\n",
            p = prompts.display(),
            m = mark.display()
        ),
    );
    add_task(&env, &root, "web", "build the web", &[]);

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
    let root = app(
        &env,
        "agents:\n  web:\n    cli: command\n    stall_after: 1s\n    command: [sh, -c, \"echo still thinking >&2; sleep 60\"]\n",
    );
    add_task(&env, &root, "web", "build the web", &[]);

    let run = up(&env, &root, None, &["web", "--once"]).expect(1);
    assert!(
        run.stderr.contains("domain agents failed: web"),
        "{}",
        run.stderr
    );
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
    let root = app(
        &env,
        &format!(
            "agents:\n  web:\n    cli: command\n    max_turns: 2\n    command: [sh, -c, \"{}; {}; {}; sleep 60\"]\n",
            line("m1"),
            line("m2"),
            line("m3")
        ),
    );
    add_task(&env, &root, "web", "build the web", &[]);

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
    let root = app(
        &env,
        &format!(
            "agents:\n  web:\n    cli: command\n    command: [sh, -c, \"if [ -e {m} ]; then exit 0; fi; touch {m}; sleep 300 & echo $$ $! > {p}; wait\"]\n",
            p = pids.display(),
            m = mark.display()
        ),
    );
    add_task(&env, &root, "web", "build the web", &[]);
    let mut first = up_command(&env, &root, None, &["web"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pids.exists() || common::read(&pids).split_whitespace().count() < 2 {
        assert!(Instant::now() < deadline, "the agent never started");
        std::thread::sleep(Duration::from_millis(20));
    }
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
    // Done exactly once.
    let done = events(&env, &root, "task")
        .iter()
        .filter(|e| e.2.starts_with(&format!("task {task} done")))
        .count();
    assert_eq!(done, 1);
    drop(server);
    assert_no_process_left(&env);
}

#[test]
fn a_domain_set_to_codex_is_refused_before_anything_starts() {
    let env = Env::new();
    let root = app(&env, "agents:\n  web:\n    cli: codex\n");
    add_task(&env, &root, "web", "build the web", &[]);
    let run = up(&env, &root, None, &["--once"]).expect(2);
    assert!(
        run.stderr
            .contains("domain `web` cannot be run: `cli: codex`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: set `cli: claude` or `cli: command`"),
        "{}",
        run.stderr
    );
    assert!(events(&env, &root, "turn").is_empty());
    assert_no_process_left(&env);
}

/// A stand-in for `claude` that records its arguments; in print mode it
/// prints an init and a result line, interactively it holds on for 2 s.
const FAKE_CLAUDE: &str = r#"#!/bin/sh
printf '%s\n' "$*" | tr '\n' ' ' >> "$FAKE_CLAUDE_ARGS"
echo >> "$FAKE_CLAUDE_ARGS"
print=no
sess=
while [ $# -gt 0 ]; do
  case "$1" in
    -p) print=yes ;;
    --session-id|--resume) sess=$2 ;;
  esac
  shift
done
if [ $print = no ]; then sleep 2; exit 0; fi
echo '{"type":"system","subtype":"init","session_id":"'"$sess"'","model":"fake"}'
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.5,"usage":{"input_tokens":1,"output_tokens":1}}'
"#;

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
fn two_clones_each_running_up_sync_for_one_domain_complete_the_cross_domain_graph() {
    use common::daemon::Daemon;
    let env = Env::new();
    let script = env.path("agent.sh");
    write(
        &script,
        "d=$(basename \"$PWD\")\nout=$(comm-node task next --json 2>/dev/null) || exit 0\nid=$(printf '%s\\n' \"$out\" | sed -n 's/^  \"id\": \"\\(.*\\)\",$/\\1/p')\nmkdir -p \"$d\"\necho \"done $id\" > \"$d/work.txt\"\ngit add -A\ngit commit -qm \"$d: $id\"\ncomm-node task done \"$id\"\n",
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
    drop(daemon);
    assert_no_process_left(&env);
}
