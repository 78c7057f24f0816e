//! What the runtime tells everyone: one `turn` event per agent turn, with
//! running totals per domain in `usage/<domain>.yaml` on comm (so totals
//! never need a history walk), and one `crashed` or `stalled` event to the
//! human when a domain's agent is given up on. Both are signed by the domain, through
//! the normal append path.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stream::Tokens;
use crate::comm::{append, Appended, Change, CommError, Event, HUMAN};
use crate::git::{Repo, TreeEdit};

/// Event kind of a finished turn.
pub const TURN_KIND: &str = "turn";
/// Event kind of a domain whose agent was given up on after crashes.
pub const CRASHED_KIND: &str = "crashed";
/// Event kind of a domain whose agent stalled twice in a row.
pub const STALLED_KIND: &str = "stalled";
/// Event kind of an agent whose git cannot write the main repository from
/// its sandbox (it cannot commit in its linked worktree).
pub const SANDBOX_KIND: &str = "sandbox";
/// Directory of the per-domain totals on comm.
pub const DIR: &str = "usage";

/// A domain's running totals (`usage/<domain>.yaml`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    pub domain: String,
    pub turns: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// The turns' costs, summed, in US dollars: the CLIs' own, or priced
    /// from the price table where the CLI reports none.
    pub cost_usd: f64,
    /// The part of `cost_usd` priced from the price table (an estimate).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priced_cost_usd: f64,
    /// Turns read from transcripts by `usage --scan` (estimates).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub transcript_turns: u64,
    pub duration_ms: u64,
    /// The newest turn's subject: what `status` shows of a domain whose
    /// agent runs elsewhere, read from here instead of walking history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_turn: Option<String>,
    /// The same totals per task the turns worked on (turns with no task
    /// are in the domain's totals only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_task: BTreeMap<String, Totals>,
    /// Per UTC day (`2026-12-06`) the turns ended on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_day: BTreeMap<String, Totals>,
    /// Per model the CLI said it ran (`unknown` when it did not say).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_model: BTreeMap<String, Totals>,
    /// What `usage --scan` has counted so far of each session run by hand,
    /// per model: the next scan records only what a transcript holds
    /// beyond this.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scanned: BTreeMap<String, BTreeMap<String, Counted>>,
}

/// What `usage --scan` counted of one session and model: the tokens and
/// API responses (`calls`) its turns recorded, and how many turns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counted {
    pub turns: u64,
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
}

impl Counted {
    fn add(&mut self, turn: &Turn) {
        self.turns += 1;
        self.calls += turn.calls;
        self.input_tokens += turn.tokens.input;
        self.output_tokens += turn.tokens.output;
        self.cache_read_tokens += turn.tokens.cache_read;
        self.cache_write_tokens += turn.tokens.cache_write;
    }
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// Tokens and cost summed over some turns: one entry of a breakdown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    pub turns: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub cost_usd: f64,
    /// The part of `cost_usd` priced from the price table.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priced_cost_usd: f64,
    /// Turns read from transcripts (their tokens are estimates).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub transcript_turns: u64,
}

impl Totals {
    fn add(&mut self, turn: &Turn) {
        self.turns += 1;
        self.input_tokens += turn.tokens.input;
        self.output_tokens += turn.tokens.output;
        self.cache_read_tokens += turn.tokens.cache_read;
        self.cache_write_tokens += turn.tokens.cache_write;
        self.cost_usd += turn.cost_usd;
        if turn.cost_source == CostSource::Prices {
            self.priced_cost_usd += turn.cost_usd;
        }
        if turn.transcript {
            self.transcript_turns += 1;
        }
    }

    /// Adds `other` to these totals.
    pub fn merge(&mut self, other: &Totals) {
        self.turns += other.turns;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cost_usd += other.cost_usd;
        self.priced_cost_usd += other.priced_cost_usd;
        self.transcript_turns += other.transcript_turns;
    }

    /// Equal counts, and costs equal to within rounding.
    pub fn same_as(&self, other: &Totals) -> bool {
        self.turns == other.turns
            && self.input_tokens == other.input_tokens
            && self.output_tokens == other.output_tokens
            && self.cache_read_tokens == other.cache_read_tokens
            && self.cache_write_tokens == other.cache_write_tokens
            && (self.cost_usd - other.cost_usd).abs() < 1e-9
            && (self.priced_cost_usd - other.priced_cost_usd).abs() < 1e-9
            && self.transcript_turns == other.transcript_turns
    }
}

impl Usage {
    pub fn path_of(domain: &str) -> String {
        format!("{DIR}/{domain}.yaml")
    }

    /// The domain's own totals, without the breakdowns.
    pub fn totals(&self) -> Totals {
        Totals {
            turns: self.turns,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_read_tokens: self.cache_read_tokens,
            cache_write_tokens: self.cache_write_tokens,
            cost_usd: self.cost_usd,
            priced_cost_usd: self.priced_cost_usd,
            transcript_turns: self.transcript_turns,
        }
    }

    /// Sets the domain's own totals (the breakdowns stay as they are).
    pub fn set_totals(&mut self, t: &Totals) {
        self.turns = t.turns;
        self.input_tokens = t.input_tokens;
        self.output_tokens = t.output_tokens;
        self.cache_read_tokens = t.cache_read_tokens;
        self.cache_write_tokens = t.cache_write_tokens;
        self.cost_usd = t.cost_usd;
        self.priced_cost_usd = t.priced_cost_usd;
        self.transcript_turns = t.transcript_turns;
    }

    /// These totals plus one turn, in every breakdown it belongs to (its
    /// subject is set by the writer, which numbers the turn from the new
    /// total).
    pub fn plus(&self, turn: &Turn) -> Usage {
        let mut after = self.clone();
        let mut total = self.totals();
        total.add(turn);
        after.domain = turn.domain.clone();
        after.set_totals(&total);
        after.duration_ms += turn.duration_ms;
        after.last_turn = None;
        if let Some(task) = &turn.task {
            after.by_task.entry(task.clone()).or_default().add(turn);
        }
        if let Some(at) = turn.at {
            let day = crate::clock::format_rfc3339(at)[..10].to_owned();
            after.by_day.entry(day).or_default().add(turn);
        }
        let model = turn.model.as_deref().unwrap_or(UNKNOWN_MODEL);
        after
            .by_model
            .entry(model.to_owned())
            .or_default()
            .add(turn);
        if turn.transcript {
            after
                .scanned
                .entry(turn.session.clone())
                .or_default()
                .entry(model.to_owned())
                .or_default()
                .add(turn);
        }
        after
    }
}

/// The `by_model` key of turns whose CLI did not name its model.
pub const UNKNOWN_MODEL: &str = "unknown";

/// Where a turn's cost comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CostSource {
    /// The CLI's own accounting (Claude Code's `total_cost_usd`).
    #[default]
    Cli,
    /// The price table (comm.yaml `prices:` or the built-in one): an estimate.
    Prices,
    /// The CLI reports no cost and the price table does not know the
    /// model: 0, said so.
    Unpriced,
    /// The CLI reports no cost and nothing priced it (turns recorded
    /// before the price table): 0.
    NotReported,
}

impl CostSource {
    /// The `Comm-Cost-Source` value, on turns whose cost is not the CLI's.
    pub fn field(self) -> Option<&'static str> {
        match self {
            CostSource::Prices => Some("prices"),
            CostSource::Unpriced => Some("unpriced"),
            CostSource::Cli | CostSource::NotReported => None,
        }
    }
}

/// The `Comm-Source` value of turns read from transcripts.
pub const TRANSCRIPT_SOURCE: &str = "transcript";

/// One finished turn, as its `turn` event records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    pub domain: String,
    /// `claude`, `codex` or `command`.
    pub cli: String,
    pub session: String,
    pub task: Option<String>,
    pub tokens: Tokens,
    pub cost_usd: f64,
    /// The cost as the CLI printed it.
    pub cost_text: String,
    /// False when the CLI reports no cost (Codex): `cost_usd` is then a
    /// price from the price table, or 0, and the event says
    /// `Comm-Cost-Reported: no`.
    pub cost_reported: bool,
    /// Where `cost_usd` comes from (`Comm-Cost-Source`).
    pub cost_source: CostSource,
    /// Read from a transcript by `usage --scan`, not run by `up`
    /// (`Comm-Source: transcript`): its tokens are estimates.
    pub transcript: bool,
    pub duration_ms: u64,
    /// `success`, the CLI's error subtype, `crashed (exit N)`, `interrupted`...
    pub outcome: String,
    /// Model calls in the turn.
    pub calls: u64,
    /// The model the CLI said it runs (its `system/init` line).
    pub model: Option<String>,
    /// The session this one took over from by a handoff (on the first
    /// turn of the new session only).
    pub parent: Option<String>,
    /// When the turn ended, in seconds since the epoch (`Comm-At`; absent
    /// on turns recorded before breakdowns per day existed).
    pub at: Option<i64>,
}

impl Turn {
    /// The `Comm-*` fields of the event; [`Turn::from_event`] reads them back.
    pub fn fields(&self) -> Vec<(String, String)> {
        let mut f = vec![
            ("Cli", self.cli.clone()),
            ("Session", self.session.clone()),
            ("Tokens-In", self.tokens.input.to_string()),
            ("Tokens-Out", self.tokens.output.to_string()),
            ("Cache-Read", self.tokens.cache_read.to_string()),
            ("Cache-Write", self.tokens.cache_write.to_string()),
            ("Cost-Usd", self.cost_text.clone()),
            ("Duration-Ms", self.duration_ms.to_string()),
            ("Outcome", self.outcome.clone()),
            ("Calls", self.calls.to_string()),
        ];
        if !self.cost_reported {
            f.push(("Cost-Reported", "no".to_owned()));
        }
        if let Some(source) = self.cost_source.field() {
            f.push(("Cost-Source", source.to_owned()));
        }
        if self.transcript {
            f.push(("Source", TRANSCRIPT_SOURCE.to_owned()));
        }
        if let Some(task) = &self.task {
            f.push(("Task", task.clone()));
        }
        if let Some(model) = &self.model {
            f.push(("Model", model.clone()));
        }
        if let Some(parent) = &self.parent {
            f.push(("Session-Parent", parent.clone()));
        }
        if let Some(at) = self.at {
            f.push(("At", crate::clock::format_rfc3339(at)));
        }
        f.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// Reads a `turn` event back (`None` for another kind or a bad field).
    pub fn from_event(e: &Event) -> Option<Turn> {
        if e.kind != TURN_KIND {
            return None;
        }
        let num = |k: &str| e.field(k).and_then(|v| v.parse::<u64>().ok());
        let cost_text = e.field("Cost-Usd")?.to_owned();
        let cost_reported = e.field("Cost-Reported") != Some("no");
        let cost_source = match (e.field("Cost-Source"), cost_reported) {
            (Some("prices"), _) => CostSource::Prices,
            (Some("unpriced"), _) => CostSource::Unpriced,
            (Some(_), _) => return None,
            (None, true) => CostSource::Cli,
            (None, false) => CostSource::NotReported,
        };
        let transcript = match e.field("Source") {
            Some(TRANSCRIPT_SOURCE) => true,
            Some(_) => return None,
            None => false,
        };
        Some(Turn {
            domain: e.from.clone(),
            cli: e.field("Cli")?.to_owned(),
            session: e.field("Session")?.to_owned(),
            task: e.field("Task").map(str::to_owned),
            tokens: Tokens {
                input: num("Tokens-In")?,
                output: num("Tokens-Out")?,
                cache_read: num("Cache-Read")?,
                cache_write: num("Cache-Write")?,
            },
            cost_usd: cost_text.parse().ok()?,
            cost_text,
            cost_reported,
            cost_source,
            transcript,
            duration_ms: num("Duration-Ms")?,
            outcome: e.field("Outcome")?.to_owned(),
            calls: num("Calls").unwrap_or(0),
            model: e.field("Model").map(str::to_owned),
            parent: e.field("Session-Parent").map(str::to_owned),
            at: match e.field("At") {
                Some(at) => Some(crate::clock::parse_rfc3339(at)?),
                None => None,
            },
        })
    }
}

/// Records `turn` on comm, signed by its domain, and adds it to the
/// domain's totals in the same commit.
pub fn record_turn(repo: &Repo, turn: &Turn) -> Result<Appended, CommError> {
    let path = Usage::path_of(&turn.domain);
    let appended = append(repo, |snapshot| {
        let before: Usage = snapshot.read_yaml(&path)?.unwrap_or_default();
        let mut after = before.plus(turn);
        let t = &turn.tokens;
        let mut event = Event::new(
            TURN_KIND,
            &turn.domain,
            format!(
                "turn {} {}: {}, {} in / {} out tokens, ${}{}",
                turn.domain,
                after.turns,
                turn.outcome,
                t.input,
                t.output,
                turn.cost_text,
                match turn.cost_source {
                    CostSource::Cli => "",
                    CostSource::Prices => " (priced)",
                    CostSource::Unpriced => " (unpriced model)",
                    CostSource::NotReported => " (cost not reported)",
                }
            ),
        );
        after.last_turn = Some(event.subject.clone());
        event.fields = turn.fields();
        event.body = format!(
            "| session | task | cache read | cache write | duration | calls |\n\
             | --- | --- | --- | --- | --- | --- |\n\
             | {} | {} | {} | {} | {} ms | {} |\n",
            turn.session,
            turn.task.as_deref().unwrap_or("-"),
            t.cache_read,
            t.cache_write,
            turn.duration_ms,
            turn.calls
        );
        let bytes = serde_yaml::to_string(&after)
            .expect("usage always serializes")
            .into_bytes();
        Ok(Some(Change {
            event,
            edits: vec![TreeEdit::Put {
                path: path.clone(),
                bytes,
            }],
        }))
    })?;
    Ok(appended.expect("a turn always appends"))
}

/// Tells the human that `domain`'s agent was given up on (`kind`:
/// [`CRASHED_KIND`] or [`STALLED_KIND`]), with the last lines it wrote on
/// stderr. Changes no state.
pub fn record_escalation(
    repo: &Repo,
    domain: &str,
    kind: &str,
    why: &str,
    stderr_tail: &[String],
) -> Result<Appended, CommError> {
    let appended = append(repo, |_| {
        let mut event = Event::new(kind, domain, format!("{domain}'s agent failed: {why}"));
        event.to = vec![HUMAN.to_owned()];
        let mut body = String::from(
            "`comm-node up` stopped dispatching to this domain. Its last error output:\n\n```\n",
        );
        for line in stderr_tail {
            body.push_str(&line.replace("```", "'''"));
            body.push('\n');
        }
        body.push_str(
            "```\n\nFix the cause (the agent CLI, its login, comm.yaml `agents:`), then run \
             `comm-node up` again.\n",
        );
        event.body = body;
        Ok(Some(Change {
            event,
            edits: Vec::new(),
        }))
    })?;
    Ok(appended.expect("a crash report always appends"))
}

/// Tells the human, once, that `domain`'s agent (`cli`) cannot commit in
/// its linked worktree because its sandbox keeps git from writing the main
/// repository's `.git` (`line`: the error its tool saw), and which setting
/// to change. Changes no state.
pub fn record_sandbox(
    repo: &Repo,
    domain: &str,
    cli: &str,
    line: &str,
) -> Result<Appended, CommError> {
    let git_dir = repo.common_dir().display().to_string();
    let fix = sandbox_fix(cli, &git_dir);
    let appended = append(repo, |_| {
        let mut event = Event::new(
            SANDBOX_KIND,
            domain,
            format!("{domain}'s agent cannot commit: its sandbox keeps git from writing {git_dir}"),
        );
        event.to = vec![HUMAN.to_owned()];
        event.body = format!(
            "A linked worktree keeps its index, refs and objects in the main repository's \
             `.git`, outside the worktree, and the agent's sandbox does not let git write \
             there. Its tool saw:\n\n```\n{}\n```\n\nFix: {fix}; then the next turn can commit.\n",
            line.replace("```", "'''")
        );
        Ok(Some(Change {
            event,
            edits: Vec::new(),
        }))
    })?;
    Ok(appended.expect("a sandbox report always appends"))
}

/// The setting that lets `cli`'s sandbox write `git_dir` (both for a
/// `command:` agent, whose CLI comm-node does not know).
fn sandbox_fix(cli: &str, git_dir: &str) -> String {
    let claude = format!(
        "for Claude Code, add `{git_dir}` to the sandbox's writable paths: `--add-dir {git_dir}` \
         in the domain's `args:` under `agents:` in comm.yaml (or in its sandbox settings)"
    );
    let codex = format!(
        "for Codex, add `{git_dir}` to `sandbox_workspace_write.writable_roots` \
         (its config.toml, or `-c 'sandbox_workspace_write.writable_roots=[\"{git_dir}\"]'` \
         in the domain's `args:`)"
    );
    match cli {
        "claude" => claude,
        "codex" => codex,
        _ => format!("{claude}; {codex}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_counts_in_the_totals_and_in_its_task_day_and_model() {
        let turn = |task: Option<&str>, model: Option<&str>, at: i64| Turn {
            domain: "api".into(),
            cli: "claude".into(),
            session: "s".into(),
            task: task.map(str::to_owned),
            tokens: Tokens {
                input: 10,
                output: 2,
                cache_read: 3,
                cache_write: 4,
            },
            cost_usd: 0.25,
            cost_text: "0.25".into(),
            cost_reported: true,
            cost_source: CostSource::Cli,
            transcript: false,
            duration_ms: 5,
            outcome: "success".into(),
            calls: 1,
            model: model.map(str::to_owned),
            parent: None,
            at: Some(at),
        };
        let day = 1_796_000_000; // 2026-11-30 00:53:20 UTC
        let usage = Usage::default()
            .plus(&turn(Some("T-1"), Some("m"), day))
            .plus(&turn(None, None, day + 86_400))
            .plus(&turn(Some("T-1"), Some("m"), day + 60));
        assert_eq!(usage.turns, 3);
        assert_eq!(usage.input_tokens, 30);
        assert!((usage.cost_usd - 0.75).abs() < 1e-12);
        assert_eq!(usage.by_task.len(), 1);
        assert_eq!(usage.by_task["T-1"].turns, 2);
        assert_eq!(usage.by_task["T-1"].cache_write_tokens, 8);
        let days: Vec<_> = usage
            .by_day
            .iter()
            .map(|(d, t)| (d.as_str(), t.turns))
            .collect();
        assert_eq!(days, [("2026-11-30", 2), ("2026-12-01", 1)]);
        assert_eq!(usage.by_model["m"].turns, 2);
        assert_eq!(usage.by_model[UNKNOWN_MODEL].turns, 1);
    }

    #[test]
    fn the_sandbox_fix_names_the_setting_of_the_agents_cli() {
        let claude = sandbox_fix("claude", "/r/.git");
        assert!(claude.contains("--add-dir /r/.git"), "{claude}");
        assert!(!claude.contains("writable_roots"), "{claude}");
        let codex = sandbox_fix("codex", "/r/.git");
        assert!(
            codex.contains("sandbox_workspace_write.writable_roots"),
            "{codex}"
        );
        assert!(!codex.contains("--add-dir"), "{codex}");
        let unknown = sandbox_fix("command", "/r/.git");
        assert!(unknown.contains("--add-dir") && unknown.contains("writable_roots"));
    }
}
