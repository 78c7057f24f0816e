//! The Codex driver: the command line of a `codex exec --json` turn, the
//! reading of its JSONL events, and the per-session accounting its
//! cumulative usage needs.
//!
//! - A first turn is `codex exec --json [flags] PROMPT`; Codex picks the
//!   session (thread) id itself and prints it in `thread.started`, so the
//!   runtime's own id for the turn is a placeholder until then. Later turns
//!   are `codex exec --json [flags] resume THREAD_ID PROMPT`.
//! - Events: `thread.started{thread_id}`, `turn.started`,
//!   `item.started|updated|completed{item}`, `turn.completed{usage}`,
//!   `turn.failed{error}`, `error{message}`.
//! - `turn.completed.usage` is cumulative for the session (and may be
//!   re-emitted unchanged): [`Ledger`] turns it into the turn's delta.
//! - Codex reports no cost: turns record `Cost-Usd: 0` with
//!   `Cost-Reported: no`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::agent::{command_start, TurnArgs};
use super::stream::{Outcome, Tokens, TurnStream};
use crate::config::AgentSettings;

/// Environment variable naming the `codex` program (default: `codex` on PATH).
pub const CODEX_ENV: &str = "COMM_NODE_CODEX";

/// The flags comm-node may pass to `codex exec` (checked against
/// `codex exec --help`; `resume` is a subcommand, not a flag).
pub const CODEX_FLAGS: &[&str] = &["--json", "--config", "--model", "--sandbox"];

/// Codex's sandbox for a `permission_mode` (Claude Code's names, which
/// comm.yaml validates): `bypassPermissions` runs unsandboxed, `plan`
/// read-only, the modes that allow edits `workspace-write`; `default`
/// leaves Codex's own default.
fn sandbox_of(mode: &str) -> Option<&'static str> {
    match mode {
        "bypassPermissions" => Some("danger-full-access"),
        "plan" => Some("read-only"),
        "acceptEdits" | "auto" | "dontAsk" => Some("workspace-write"),
        _ => None,
    }
}

/// Program and arguments of one Codex turn.
pub(super) fn command(settings: &AgentSettings, turn: TurnArgs) -> (String, Vec<String>) {
    // A login shell (Codex's default for commands) resets PATH from the
    // system profile, losing the folder `up` put `comm-node` in.
    let lead = ["exec", "--json", "--config", "allow_login_shell=false"];
    let (program, mut args) = command_start(CODEX_ENV, "codex", &lead, settings);
    if let Some(sandbox) = settings.permission_mode.as_deref().and_then(sandbox_of) {
        args.extend(["--sandbox".into(), sandbox.into()]);
    }
    // `args` from comm.yaml are exec options: they go before the
    // subcommand and the prompt.
    args.extend(settings.args.iter().cloned());
    if turn.resume {
        args.extend(["resume".into(), turn.session.into()]);
    }
    args.push(turn.prompt.into());
    (program, args)
}

/// Program and arguments opening thread `session` interactively
/// (`attach`): `codex resume ID` with the domain's model and sandbox, and
/// its `args` (a provider set with `-c` applies here too).
pub(super) fn interactive(settings: &AgentSettings, session: &str) -> (String, Vec<String>) {
    let (program, mut args) = command_start(CODEX_ENV, "codex", &["resume"], settings);
    if let Some(sandbox) = settings.permission_mode.as_deref().and_then(sandbox_of) {
        args.extend(["--sandbox".into(), sandbox.into()]);
    }
    args.extend(settings.args.iter().cloned());
    args.push(session.into());
    (program, args)
}

/// Keeps the stream's calls in flight (what `status` shows as the tool in
/// use) and notices a command whose output shows the sandbox keeping git
/// from writing, as the Claude stream does from its tool results.
fn track_call(stream: &mut TurnStream, kind: &str, item: &Value) {
    let name = match item.get("type").and_then(Value::as_str) {
        Some("command_execution") => "exec",
        Some("file_change") => "file_change",
        Some("mcp_tool_call") => item.get("tool").and_then(Value::as_str).unwrap_or("mcp"),
        _ => return,
    };
    let id = item
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    stream.pending.retain(|(p, _)| *p != id);
    if kind == "item.completed" {
        let output = item.get("aggregated_output").and_then(Value::as_str);
        if stream.sandbox.is_none() {
            stream.sandbox = output.and_then(super::stream::sandbox_denial);
        }
    } else {
        stream
            .pending
            .push((id, super::stream::describe_tool(name, item)));
    }
}

/// Takes one Codex event (already parsed); `false` if it is not one.
pub(super) fn feed(stream: &mut TurnStream, kind: &str, v: &Value) -> bool {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    match kind {
        "thread.started" => {
            if let Some(id) = text(v, "thread_id") {
                stream.session = Some(id);
            }
        }
        "turn.started" => {
            stream
                .responses
                .insert(format!("codex-turn-{}", stream.lines));
        }
        "item.started" | "item.updated" | "item.completed" => {
            let item = v.get("item").unwrap_or(&Value::Null);
            track_call(stream, kind, item);
            match item.get("type").and_then(Value::as_str) {
                Some("command_execution") => stream.tool = Some("exec_command".into()),
                Some("file_change") => stream.tool = Some("file_change".into()),
                Some("mcp_tool_call") => {
                    stream.tool = text(item, "tool").or(Some("mcp_tool_call".into()))
                }
                Some("agent_message") if kind == "item.completed" => {
                    stream.last_text = text(item, "text").unwrap_or_default();
                }
                _ => {}
            }
        }
        "turn.completed" => {
            let u = v.get("usage").unwrap_or(&Value::Null);
            let num = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            let cached = num("cached_input_tokens");
            stream.result = Some(outcome(
                stream,
                "success",
                false,
                Tokens {
                    // Codex's input count includes the cached part.
                    input: num("input_tokens").saturating_sub(cached),
                    output: num("output_tokens"),
                    cache_read: cached,
                    cache_write: num("cache_write_input_tokens"),
                },
            ));
            stream.cumulative = true;
        }
        "turn.failed" | "error" => {
            let tokens = stream.result.as_ref().map(|r| r.tokens).unwrap_or_default();
            let mut o = outcome(stream, "error_during_execution", true, tokens);
            let message = v
                .get("error")
                .and_then(|e| text(e, "message"))
                .or_else(|| text(v, "message"))
                .unwrap_or_default();
            o.text = message.chars().take(500).collect();
            stream.result = Some(o);
        }
        _ => return false,
    }
    true
}

/// One Codex event as a person reads it (`comm-node logs`): the thread,
/// each command and file change, the agent's messages, the turn's end with
/// its usage (the session's running total, as Codex prints it).
pub(super) fn render(kind: &str, v: &Value, cut: impl Fn(&str, usize) -> String) -> Option<String> {
    let s = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let item = v.get("item").unwrap_or(&Value::Null);
    let line = match (kind, item.get("type").and_then(Value::as_str)) {
        ("thread.started", _) => format!("── codex thread {}", s(v, "thread_id")),
        ("item.started", Some("command_execution")) => {
            format!("→ exec_command: {}", cut(&s(item, "command"), 200))
        }
        ("item.completed", Some("command_execution")) => {
            let out = s(item, "aggregated_output");
            let code = item.get("exit_code").and_then(Value::as_i64).unwrap_or(-1);
            format!(
                "← {}: {}",
                if code == 0 { "result" } else { "error" },
                cut(out.lines().next().unwrap_or_default(), 200)
            )
        }
        ("item.completed", Some("file_change")) => {
            let paths: Vec<String> = item
                .get("changes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| s(c, "path"))
                .collect();
            format!("→ file_change: {}", cut(&paths.join(" "), 200))
        }
        ("item.completed", Some("agent_message")) => {
            format!("assistant: {}", cut(&s(item, "text"), 300))
        }
        ("turn.completed", _) => {
            let u = v.get("usage").unwrap_or(&Value::Null);
            let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            format!(
                "══ turn completed: session totals {} in ({} cached) / {} out tokens, cost not reported",
                n("input_tokens"),
                n("cached_input_tokens"),
                n("output_tokens")
            )
        }
        ("turn.failed", _) => format!(
            "══ turn failed: {}",
            cut(
                &v.get("error").map(|e| s(e, "message")).unwrap_or_default(),
                300
            )
        ),
        ("error", _) => format!("error: {}", cut(&s(v, "message"), 300)),
        _ => return None,
    };
    Some(line)
}

fn outcome(stream: &TurnStream, subtype: &str, is_error: bool, tokens: Tokens) -> Outcome {
    let full = &stream.last_text;
    let mut note_end = full.len().min(64 * 1024);
    while !full.is_char_boundary(note_end) {
        note_end -= 1;
    }
    Outcome {
        subtype: subtype.into(),
        is_error,
        num_turns: stream.responses.len() as u64,
        cost_usd: 0.0,
        cost_text: "0".into(),
        cost_not_reported: true,
        tokens,
        text: full.chars().take(500).collect(),
        note: full[..note_end].to_owned(),
        context_window: 0,
    }
}

/// The last cumulative usage seen per Codex session of a domain, kept in
/// `codex-usage.json` in its runtime folder.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    #[serde(default)]
    pub sessions: BTreeMap<String, Tokens>,
}

/// The ledger's file in a domain's runtime folder.
pub const LEDGER: &str = "codex-usage.json";

impl Ledger {
    pub fn load(dir: &Path) -> Ledger {
        std::fs::read_to_string(dir.join(LEDGER))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("a ledger always serializes");
        let tmp = dir.join(format!("{LEDGER}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(tmp, dir.join(LEDGER))
    }

    /// The part of `total` (a session's cumulative usage) not yet counted,
    /// remembering `total`. A total re-emitted unchanged, or smaller than
    /// the last one, counts nothing.
    pub fn delta(&mut self, session: &str, total: Tokens) -> Tokens {
        let before = self.sessions.get(session).copied().unwrap_or_default();
        let delta = Tokens {
            input: total.input.saturating_sub(before.input),
            output: total.output.saturating_sub(before.output),
            cache_read: total.cache_read.saturating_sub(before.cache_read),
            cache_write: total.cache_write.saturating_sub(before.cache_write),
        };
        let kept = Tokens {
            input: total.input.max(before.input),
            output: total.output.max(before.output),
            cache_read: total.cache_read.max(before.cache_read),
            cache_write: total.cache_write.max(before.cache_write),
        };
        self.sessions.insert(session.to_owned(), kept);
        delta
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::agent::driver_settings;

    #[test]
    fn a_finished_command_is_no_longer_in_use_and_a_sandbox_denial_is_noticed() {
        let mut s = TurnStream::default();
        s.feed(r#"{"type":"item.started","item":{"id":"c1","type":"command_execution","command":"git commit -m x"}}"#);
        assert_eq!(s.current_tool(), Some("exec: git commit -m x"));
        s.feed(r#"{"type":"item.completed","item":{"id":"c1","type":"command_execution","command":"git commit -m x","aggregated_output":"fatal: Unable to create '/r/.git/worktrees/web/index.lock': Read-only file system\n","exit_code":128}}"#);
        assert_eq!(s.current_tool(), None);
        assert!(
            s.sandbox
                .as_deref()
                .is_some_and(|l| l.contains("Read-only")),
            "{:?}",
            s.sandbox
        );
    }

    #[test]
    fn reads_thread_items_and_turn_usage() {
        let mut s = TurnStream::default();
        s.feed(r#"{"type":"thread.started","thread_id":"th-1"}"#);
        s.feed(r#"{"type":"turn.started"}"#);
        s.feed(r#"{"type":"item.started","item":{"id":"i0","type":"command_execution","command":"ls","status":"in_progress"}}"#);
        s.feed(r#"{"type":"item.completed","item":{"id":"i1","type":"agent_message","text":"All done."}}"#);
        s.feed(r#"{"type":"turn.completed","usage":{"input_tokens":900,"cached_input_tokens":300,"output_tokens":40}}"#);
        assert_eq!(s.session.as_deref(), Some("th-1"));
        assert_eq!(s.tool.as_deref(), Some("exec_command"));
        assert_eq!(s.current_tool(), Some("exec: ls"));
        assert!(s.cumulative);
        let r = s.result.unwrap();
        assert_eq!(r.subtype, "success");
        assert_eq!(r.text, "All done.");
        assert!(r.cost_not_reported);
        assert_eq!(
            r.tokens,
            Tokens {
                input: 600,
                output: 40,
                cache_read: 300,
                cache_write: 0
            }
        );
    }

    #[test]
    fn renders_codex_events_readably() {
        let r = |l: &str| crate::runtime::stream::render(l);
        assert_eq!(
            r(r#"{"type":"item.started","item":{"id":"i","type":"command_execution","command":"sh x.sh"}}"#).unwrap(),
            "→ exec_command: sh x.sh"
        );
        assert_eq!(
            r(r#"{"type":"item.completed","item":{"id":"i","type":"command_execution","aggregated_output":"claimed T-1\nok","exit_code":0}}"#).unwrap(),
            "← result: claimed T-1"
        );
        assert!(r(r#"{"type":"turn.completed","usage":{"input_tokens":9,"cached_input_tokens":3,"output_tokens":2}}"#)
            .unwrap()
            .starts_with("══ turn completed: session totals 9 in (3 cached) / 2 out"));
        assert_eq!(r(r#"{"type":"turn.started"}"#), None);
    }

    #[test]
    fn a_failed_turn_is_an_error_with_its_message() {
        let mut s = TurnStream::default();
        s.feed(r#"{"type":"thread.started","thread_id":"th-1"}"#);
        s.feed(r#"{"type":"turn.failed","error":{"message":"stream disconnected"}}"#);
        let r = s.result.unwrap();
        assert!(r.is_error);
        assert_eq!(r.subtype, "error_during_execution");
        assert_eq!(r.text, "stream disconnected");
    }

    #[test]
    fn cumulative_session_totals_become_per_turn_deltas() {
        let t = |i, o| Tokens {
            input: i,
            output: o,
            cache_read: 0,
            cache_write: 0,
        };
        let mut ledger = Ledger::default();
        assert_eq!(ledger.delta("a", t(900, 10)), t(900, 10));
        assert_eq!(ledger.delta("a", t(1800, 25)), t(900, 15));
        // Re-emitted unchanged: nothing new.
        assert_eq!(ledger.delta("a", t(1800, 25)), t(0, 0));
        // Another session counts from zero.
        assert_eq!(ledger.delta("b", t(100, 1)), t(100, 1));
    }

    #[test]
    fn resume_names_the_thread_after_the_flags() {
        let settings = driver_settings(crate::config::AgentCli::Codex, "gpt-x", &["-c", "k=v"]);
        let turn = |session, resume, prompt| TurnArgs {
            session,
            resume,
            prompt,
        };
        let (_, first) = command(&settings, turn("placeholder", false, "go"));
        assert_eq!(
            first,
            [
                "exec",
                "--json",
                "--config",
                "allow_login_shell=false",
                "--model",
                "gpt-x",
                "--sandbox",
                "danger-full-access",
                "-c",
                "k=v",
                "go"
            ]
        );
        let (_, next) = command(&settings, turn("th-1", true, "more"));
        assert_eq!(&next[next.len() - 3..], ["resume", "th-1", "more"]);
    }
}
