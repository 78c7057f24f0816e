//! Reading a turn's output as it arrives: Claude Code's `--output-format
//! stream-json` here, Codex's `exec --json` events in [`super::codex`]
//! (their `type`s do not overlap, so one reader takes both).
//!
//! One JSON object per line: `system` (`init` names the session and the
//! model), `assistant` and `user` (Messages API shapes; tool calls show
//! which tool the agent is using), `rate_limit_event`, and last `result`
//! with the CLI's own accounting (`total_cost_usd`, `usage`, `modelUsage`).
//! Lines that are not JSON or of an unknown type are skipped, never fatal:
//! the stream is kept verbatim in the domain's log anyway.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Token counts of a turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Tokens {
    pub fn add(&mut self, other: &Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
    }
}

/// The `result` line of a turn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// `success`, `error_max_turns`, `error_during_execution`, ...
    pub subtype: String,
    pub is_error: bool,
    /// Model calls the CLI counted.
    pub num_turns: u64,
    /// The CLI's own cost, in US dollars.
    pub cost_usd: f64,
    /// The cost exactly as the CLI printed it.
    pub cost_text: String,
    /// The CLI prints no cost (Codex): `cost_usd` is 0 by default only.
    pub cost_not_reported: bool,
    pub tokens: Tokens,
    pub text: String,
    /// The whole final text (at most 64 KiB): a handoff note.
    pub note: String,
    /// The largest `contextWindow` of the models in `modelUsage` (0 if none said).
    pub context_window: u64,
}

/// What a turn's stream said so far.
#[derive(Debug, Clone, Default)]
pub struct TurnStream {
    pub session: Option<String>,
    pub model: Option<String>,
    /// Lines read (JSON or not).
    pub lines: u64,
    /// The tool the agent called last (`Bash`, `Edit`...).
    pub tool: Option<String>,
    /// Distinct model responses seen (assistant `message.id`s).
    pub responses: BTreeSet<String>,
    pub result: Option<Outcome>,
    /// The result's tokens are the session's running total (Codex), not
    /// the turn's own: the supervisor counts the delta.
    pub cumulative: bool,
    /// The agent's last message so far (Codex: its final answer).
    pub last_text: String,
    /// Tool calls without a `tool_result` yet: their id and what they do
    /// (`Bash: cargo test`), oldest first.
    pub pending: Vec<(String, String)>,
    /// The first tool result that shows git unable to write the main
    /// repository from the sandbox (its first matching line).
    pub sandbox: Option<String>,
}

impl TurnStream {
    /// Takes one line of the stream.
    pub fn feed(&mut self, line: &str) {
        self.lines += 1;
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            return;
        };
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        match value.get("type").and_then(Value::as_str) {
            Some("system") => {
                if let Some(s) = text(&value, "session_id") {
                    self.session = Some(s);
                }
                if let Some(m) = text(&value, "model") {
                    self.model = Some(m);
                }
            }
            Some("assistant") => {
                let Some(message) = value.get("message") else {
                    return;
                };
                if let Some(id) = text(message, "id") {
                    self.responses.insert(id);
                }
                let blocks = message.get("content").and_then(Value::as_array);
                for block in blocks.into_iter().flatten() {
                    if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                        self.tool = text(block, "name");
                        let name = block.get("name").and_then(Value::as_str).unwrap_or("tool");
                        let input = block.get("input").unwrap_or(&Value::Null);
                        self.pending.push((
                            text(block, "id").unwrap_or_default(),
                            describe_tool(name, input),
                        ));
                    }
                }
            }
            Some("user") => {
                let blocks = value
                    .get("message")
                    .and_then(|m| m.get("content"))
                    .and_then(Value::as_array);
                for block in blocks.into_iter().flatten() {
                    if block.get("type").and_then(Value::as_str) != Some("tool_result") {
                        continue;
                    }
                    let id = text(block, "tool_use_id").unwrap_or_default();
                    self.pending.retain(|(p, _)| *p != id);
                    if self.sandbox.is_none() {
                        self.sandbox = sandbox_denial(&result_text(block));
                    }
                }
            }
            Some("result") => self.result = Some(outcome(&value)),
            Some(kind) => {
                super::codex::feed(self, kind, &value);
            }
            None => {}
        }
    }
}

impl TurnStream {
    /// The tool call running now: the latest one without a result.
    pub fn current_tool(&self) -> Option<&str> {
        self.pending.last().map(|(_, what)| what.as_str())
    }
}

/// A tool call as `Name: what` (the command, file, pattern or URL its
/// `input` is about, on one line, at most 80 characters), or just its name.
pub(super) fn describe_tool(name: &str, input: &Value) -> String {
    match ["command", "file_path", "pattern", "url", "path"]
        .iter()
        .find_map(|k| input.get(*k).and_then(Value::as_str))
    {
        Some(what) if !what.trim().is_empty() => format!("{}: {}", cut(name, 40), cut(what, 80)),
        _ => cut(name, 40),
    }
}

/// The text of a `tool_result` block (a string or text parts).
fn result_text(block: &Value) -> String {
    match block.get("content") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The line of a tool's output that shows git refused to write outside
/// the sandbox's writable roots: a lock file, the worktree's admin folder
/// or the objects of the main repository on a read-only file system or
/// not permitted.
pub fn sandbox_denial(output: &str) -> Option<String> {
    output
        .lines()
        .find(|line| {
            let denied = line.contains("Read-only file system")
                || line.contains("Operation not permitted")
                || line.contains("Permission denied");
            let git = line.contains(".git/")
                || line.contains("index.lock")
                || line.contains("insufficient permission for adding an object");
            denied && git
        })
        .map(|line| cut(line, 300))
}

/// Reads a `result` line: the tokens summed over `modelUsage` (every model
/// the turn used, as the cost is), else its `usage`.
fn outcome(v: &Value) -> Outcome {
    let num = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64).unwrap_or(0);
    let mut tokens = Tokens::default();
    match v.get("modelUsage").and_then(Value::as_object) {
        Some(models) if !models.is_empty() => {
            for m in models.values() {
                tokens.add(&Tokens {
                    input: num(m, "inputTokens"),
                    output: num(m, "outputTokens"),
                    cache_read: num(m, "cacheReadInputTokens"),
                    cache_write: num(m, "cacheCreationInputTokens"),
                });
            }
        }
        _ => {
            if let Some(u) = v.get("usage") {
                tokens = Tokens {
                    input: num(u, "input_tokens"),
                    output: num(u, "output_tokens"),
                    cache_read: num(u, "cache_read_input_tokens"),
                    cache_write: num(u, "cache_creation_input_tokens"),
                };
            }
        }
    }
    let cost = v.get("total_cost_usd");
    let context_window = v
        .get("modelUsage")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
        .map(|m| num(m, "contextWindow"))
        .max()
        .unwrap_or(0);
    let full = v.get("result").and_then(Value::as_str).unwrap_or_default();
    let mut end = full.len().min(64 * 1024);
    while !full.is_char_boundary(end) {
        end -= 1;
    }
    Outcome {
        note: full[..end].to_owned(),
        context_window,
        subtype: v
            .get("subtype")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned(),
        is_error: v.get("is_error").and_then(Value::as_bool).unwrap_or(false),
        num_turns: num(v, "num_turns"),
        cost_usd: cost.and_then(Value::as_f64).unwrap_or(0.0),
        cost_text: cost.map(Value::to_string).unwrap_or_else(|| "0".into()),
        cost_not_reported: false,
        tokens,
        text: v
            .get("result")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(500)
            .collect(),
    }
}

/// One line of a stream as a person reads it (`comm-node logs`): assistant
/// text, one line per tool call and per tool result, the turn's result with
/// its usage. `None` for lines not worth showing (rate-limit ticks, empty
/// messages); text that is not JSON is shown as it is.
pub fn render(line: &str) -> Option<String> {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        let line = line.trim_end();
        return (!line.is_empty()).then(|| line.to_owned());
    };
    let s = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let content = |v: &Value| {
        v.get("message")
            .and_then(|m| m.get("content"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    match v.get("type").and_then(Value::as_str) {
        Some("system") if s(&v, "subtype") == "init" => out.push(format!(
            "── session {} ({}) in {}",
            s(&v, "session_id"),
            s(&v, "model"),
            s(&v, "cwd")
        )),
        Some("assistant") => {
            for block in content(&v) {
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        out.push(format!("assistant: {}", cut(&s(&block, "text"), 300)))
                    }
                    Some("tool_use") => {
                        let input = block.get("input").cloned().unwrap_or_default();
                        let what = ["command", "file_path", "pattern", "url"]
                            .iter()
                            .find_map(|k| input.get(*k).and_then(Value::as_str).map(str::to_owned))
                            .unwrap_or_else(|| input.to_string());
                        out.push(format!("→ {}: {}", s(&block, "name"), cut(&what, 200)));
                    }
                    _ => {}
                }
            }
        }
        Some("user") => {
            for block in content(&v) {
                if block.get("type").and_then(Value::as_str) != Some("tool_result") {
                    continue;
                }
                let text = match block.get("content") {
                    Some(Value::String(t)) => t.clone(),
                    Some(Value::Array(parts)) => parts
                        .iter()
                        .map(|p| s(p, "text"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    _ => String::new(),
                };
                let error = block.get("is_error").and_then(Value::as_bool) == Some(true);
                let lines = text.lines().count();
                out.push(format!(
                    "← {}: {}{}",
                    if error { "error" } else { "result" },
                    cut(text.lines().next().unwrap_or_default(), 200),
                    if lines > 1 {
                        format!(" (+{} lines)", lines - 1)
                    } else {
                        String::new()
                    }
                ));
            }
        }
        Some("result") => {
            let o = outcome(&v);
            let t = o.tokens;
            out.push(format!(
                "══ {}: {} in / {} out tokens (cache read {}, write {}), ${}, {} model calls",
                o.subtype, t.input, t.output, t.cache_read, t.cache_write, o.cost_text, o.num_turns
            ));
        }
        Some(kind) => out.extend(super::codex::render(kind, &v, cut)),
        None => {}
    }
    (!out.is_empty()).then(|| out.join("\n"))
}

/// `text` on one line, at most `max` characters.
fn cut(text: &str, max: usize) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        one.chars().take(max).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_turn_readably() {
        let tool = r#"{"type":"assistant","message":{"id":"r","content":[{"type":"tool_use","name":"Bash","input":{"command":"comm-node task next"}}]}}"#;
        assert_eq!(render(tool).unwrap(), "→ Bash: comm-node task next");
        let result = r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"claimed T-1\nok","is_error":false}]}}"#;
        assert_eq!(render(result).unwrap(), "← result: claimed T-1 (+1 lines)");
        assert_eq!(render(r#"{"type":"rate_limit_event"}"#), None);
        assert_eq!(render("plain output").unwrap(), "plain output");
    }

    #[test]
    fn reads_init_tools_and_result() {
        let mut s = TurnStream::default();
        s.feed(r#"{"type":"system","subtype":"init","session_id":"abc","model":"m1","tools":[]}"#);
        s.feed("not json");
        s.feed(r#"{"type":"assistant","message":{"id":"r1","content":[{"type":"tool_use","id":"t","name":"Bash","input":{}}]}}"#);
        s.feed(r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"total_cost_usd":0.0123,"usage":{"input_tokens":1},"modelUsage":{"m1":{"inputTokens":10,"outputTokens":5,"cacheReadInputTokens":3,"cacheCreationInputTokens":2},"m2":{"inputTokens":1,"outputTokens":1}}}"#);
        assert_eq!(s.session.as_deref(), Some("abc"));
        assert_eq!(s.tool.as_deref(), Some("Bash"));
        assert_eq!(s.lines, 4);
        let r = s.result.unwrap();
        assert_eq!(r.cost_text, "0.0123");
        assert_eq!(
            r.tokens,
            Tokens {
                input: 11,
                output: 6,
                cache_read: 3,
                cache_write: 2
            }
        );
    }

    #[test]
    fn the_current_tool_is_the_latest_call_without_a_result() {
        let mut s = TurnStream::default();
        s.feed(r#"{"type":"assistant","message":{"id":"r1","content":[{"type":"tool_use","id":"a","name":"Bash","input":{"command":"cargo   test\n--all"}}]}}"#);
        assert_eq!(s.current_tool(), Some("Bash: cargo test --all"));
        s.feed(r#"{"type":"assistant","message":{"id":"r1","content":[{"type":"tool_use","id":"b","name":"Read","input":{"file_path":"src/x.rs"}}]}}"#);
        assert_eq!(s.current_tool(), Some("Read: src/x.rs"));
        s.feed(r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"b","content":"ok"}]}}"#);
        assert_eq!(s.current_tool(), Some("Bash: cargo test --all"));
        s.feed(r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"ok"}]}]}}"#);
        assert_eq!(s.current_tool(), None);
        let long = format!(
            r#"{{"type":"assistant","message":{{"id":"r2","content":[{{"type":"tool_use","id":"c","name":"Bash","input":{{"command":"{}"}}}}]}}}}"#,
            "x".repeat(500)
        );
        s.feed(&long);
        assert_eq!(
            s.current_tool().unwrap().chars().count(),
            "Bash: ".len() + 81
        );
        assert!(s.sandbox.is_none());
    }

    #[test]
    fn git_refused_by_the_sandbox_is_recognized_in_tool_results_only() {
        for denied in [
            "fatal: Unable to create '/repo/.git/worktrees/web/index.lock': Read-only file system",
            "error: unable to create file /repo/.git/objects/ab/cd: Operation not permitted",
            "error: insufficient permission for adding an object to repository database /repo/.git/objects: Permission denied",
        ] {
            assert!(sandbox_denial(&format!("On branch web\n{denied}")).is_some(), "{denied}");
        }
        assert_eq!(sandbox_denial("cp: /etc/x: Permission denied"), None);
        assert_eq!(sandbox_denial("nothing to commit"), None);
        let mut s = TurnStream::default();
        s.feed(r#"{"type":"assistant","message":{"id":"r","content":[{"type":"text","text":"fatal: Unable to create '/r/.git/index.lock': Read-only file system"}]}}"#);
        assert!(s.sandbox.is_none());
        s.feed(r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"a","is_error":true,"content":"fatal: Unable to create '/r/.git/worktrees/web/index.lock': Read-only file system"}]}}"#);
        assert_eq!(
            s.sandbox.as_deref(),
            Some(
                "fatal: Unable to create '/r/.git/worktrees/web/index.lock': Read-only file system"
            )
        );
    }
}
