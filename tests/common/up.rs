//! The harness of the agent runtime tests (`test_up`, `test_up_faults`):
//! the real Claude Code CLI installed from npm (pinned), the scripted model
//! server on 127.0.0.1, running `comm-node up` with the environment agents
//! need, reading events off comm, and checking that no process is left.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{write, Env, Run, BIN};

/// The pinned Claude Code release the tests drive.
pub const CLAUDE_VERSION: &str = "2.1.328";

/// `claude` from npm, installed once into the target dir.
pub fn claude() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    npm_cli(
        &INSTALL,
        "claude-npm",
        "claude",
        "@anthropic-ai/claude-code",
        CLAUDE_VERSION,
        CLAUDE_VERSION,
    )
}

/// The pinned Codex release the tests drive.
pub const CODEX_VERSION: &str = "0.169.0";

/// `codex` from npm, installed once into the target dir.
pub fn codex() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let wanted = format!("codex-cli {CODEX_VERSION}");
    npm_cli(
        &INSTALL,
        "codex-npm",
        "codex",
        "@openai/codex",
        CODEX_VERSION,
        &wanted,
    )
}

/// The CLI `bin` of npm `package` at `version`, installed once (under
/// `install`) into folder `dir` of the target dir; `--version` must print
/// `wanted` first.
fn npm_cli(
    install: &Mutex<()>,
    dir: &str,
    bin: &str,
    package: &str,
    version: &str,
    wanted: &str,
) -> PathBuf {
    let _guard = install.lock().unwrap_or_else(|e| e.into_inner());
    let prefix = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir);
    let bin = prefix.join("node_modules/.bin").join(bin);
    let installed = |bin: &Path| {
        Command::new(bin)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    if !installed(&bin).starts_with(wanted) {
        std::fs::create_dir_all(&prefix).unwrap();
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&prefix)
            .arg(format!("{package}@{version}"))
            .status()
            .expect("npm is installed (the agent runtime tests need node and npm)");
        assert!(status.success(), "npm install {package} failed");
    }
    assert!(installed(&bin).starts_with(wanted), "{}", installed(&bin));
    bin
}

/// comm.yaml `agents:` running every domain on the real Codex CLI against
/// the scripted server's Responses API on `port` (a provider declared
/// with `-c`, its key in `FAKE_KEY`, see [`codex_up`]).
pub fn codex_agents(port: u16) -> String {
    let args = [
        "-c",
        "model_provider=fake",
        "-c",
        "model_providers.fake.name=\"fake\"",
        "-c",
        &format!("model_providers.fake.base_url=\"http://127.0.0.1:{port}/v1\""),
        "-c",
        "model_providers.fake.env_key=\"FAKE_KEY\"",
        "-c",
        "model_providers.fake.wire_api=\"responses\"",
    ]
    .iter()
    .map(|a| format!("'{a}'"))
    .collect::<Vec<_>>()
    .join(", ");
    format!(
        "agents:\n  default:\n    cli: codex\n    model: fake-model\n    permission_mode: bypassPermissions\n    args: [{args}]\n"
    )
}

/// `comm-node up ARGS` in `root` driving the real Codex CLI (state in a
/// scratch `CODEX_HOME`).
pub fn codex_up(env: &Env, root: &Path, args: &[&str]) -> Run {
    let home = env.path("codex-home");
    std::fs::create_dir_all(&home).unwrap();
    let out = up_command(env, root, None, args)
        .env("COMM_NODE_CODEX", codex())
        .env("CODEX_HOME", &home)
        .env("FAKE_KEY", "test-key")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The scripted model server, killed (and its port checked closed) on drop.
pub struct ModelServer {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl ModelServer {
    /// Starts the server; every turn it answers runs `sh script` in the agent's cwd.
    pub fn start(env: &Env, script: &str) -> ModelServer {
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

    /// Every usage the server returned on the Responses API, as comm-node
    /// counts it: (input not cached, output, cached input, 0).
    pub fn responses_usage(&self) -> [u64; 4] {
        let mut sum = [0u64; 4];
        for line in super::read(&self.log).lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["api"] != "responses" {
                continue;
            }
            let u = &v["usage"];
            let cached = u["input_tokens_details"]["cached_tokens"].as_u64().unwrap();
            sum[0] += u["input_tokens"].as_u64().unwrap() - cached;
            sum[1] += u["output_tokens"].as_u64().unwrap();
            sum[2] += cached;
        }
        sum
    }

    /// The Responses API requests the server answered, oldest first.
    pub fn responses(&self) -> Vec<serde_json::Value> {
        super::read(&self.log)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["api"] == "responses")
            .collect()
    }

    /// Every usage the server returned, as (input, output, cache read, cache write).
    pub fn usage(&self) -> [u64; 4] {
        let mut sum = [0u64; 4];
        for line in super::read(&self.log).lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["api"] == "responses" || v["api"] == "refused" {
                continue;
            }
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
pub fn app(env: &Env, agents: &str) -> PathBuf {
    let config = format!(
        "project: app\ndomains:\n  api:\n    scope: [\"api/**\"]\n  web:\n    scope: [\"web/**\"]\n    may_import: [api]\n  docs:\n    scope: [\"docs/**\"]\n{agents}"
    );
    env.app(&[("comm.yaml", &config)])
}

/// Adds a task for `domain` as the human, after `deps` (task ids, or
/// `artifact:DOMAIN/NAME` for a needed artifact); returns its id.
pub fn add_task(env: &Env, root: &Path, domain: &str, title: &str, deps: &[&str]) -> String {
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
pub fn up_command(env: &Env, root: &Path, server: Option<&ModelServer>, args: &[&str]) -> Command {
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

pub fn up(env: &Env, root: &Path, server: Option<&ModelServer>, args: &[&str]) -> Run {
    let out = up_command(env, root, server, args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The events on comm of `kind`, oldest first, as (from, to, subject, trailers).
pub fn events(env: &Env, root: &Path, kind: &str) -> Vec<(String, String, String, String)> {
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

/// The session each turn names as its parent (`Comm-Session-Parent`), ""
/// for a turn that names none.
pub fn parents(turns: &[(String, String, String, String)]) -> Vec<&str> {
    turns
        .iter()
        .map(|t| {
            t.3.lines()
                .find_map(|l| l.strip_prefix("Comm-Session-Parent: "))
                .unwrap_or("")
        })
        .collect()
}

pub fn trailer<'a>(trailers: &'a str, key: &str) -> &'a str {
    trailers
        .lines()
        .find_map(|l| l.strip_prefix(&format!("Comm-{key}: ")))
        .unwrap_or_else(|| panic!("no Comm-{key} in\n{trailers}"))
}

/// Processes whose working directory lies inside the test's folder.
pub fn processes_in(dir: &Path) -> Vec<String> {
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
pub fn alive(pid: &str) -> bool {
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
pub fn assert_no_process_left(env: &Env) {
    // Give killed groups a moment to be reaped by init.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_in(env.dir.path()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_in(env.dir.path()), Vec::<String>::new());
}

/// What each agent does on every turn, through Claude Code's Bash tool:
/// say hello, take the next task if one is ready, change a file in its
/// scope, commit (api also publishes its contract), submit it to the
/// merge queue (its landing marks the task done), acknowledge the inbox.
pub const AGENT_SCRIPT: &str = r#"set -e
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
  comm-node submit --task "$id"
  echo "finished $id"
fi
comm-node ack --all >/dev/null 2>&1 || true
"#;

/// A stand-in for `claude` that records its arguments; in print mode it
/// prints an init and a result line, interactively it holds on for 2 s.
pub const FAKE_CLAUDE: &str = r#"#!/bin/sh
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

/// The app whose web agent is `sh -c SCRIPT` (`cli: command`) with the
/// agent `settings` (whole `    key: value` lines), and a task for web.
pub fn web_agent(env: &Env, settings: &str, script: &str) -> PathBuf {
    let root = app(
        env,
        &format!(
            "agents:\n  web:\n    cli: command\n{settings}    command: [sh, -c, \"{script}\"]\n"
        ),
    );
    add_task(env, &root, "web", "build the web", &[]);
    root
}

/// Starts `up web` in the background and waits (up to 20 s) until its
/// agent has written two pids to `pids`.
#[track_caller]
pub fn up_web_started(env: &Env, root: &Path, pids: &Path) -> std::process::Child {
    let first = up_command(env, root, None, &["web"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pids.exists() || super::read(pids).split_whitespace().count() < 2 {
        assert!(Instant::now() < deadline, "the agent never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    first
}
