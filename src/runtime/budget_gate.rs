//! What `up` checks before every dispatch, besides whether there is work:
//! budgets, account rate limits and `limits.max_parallel_agents`.
//!
//! - **Budgets** (`budget:` in comm.yaml plus the human's grants): spend is
//!   read from the running totals on comm (`comm::budget::spend_report`),
//!   never from history. At 80 % of a budget the domain and the human get one
//!   `warn` event; at 100 % the domain is paused (no dispatch; a running
//!   turn finishes) with one `paused` event naming spend and budget. Both are
//!   remembered on comm (`budget/<domain>.yaml`), so a restarted `up` does
//!   not repeat them; a grant changes the budget and so resumes the domain
//!   (`up` wakes when comm moves). What is left, and `per_turn`, go to the
//!   CLI's own limit where it has one (`claude --max-budget-usd`).
//! - **Rate limits**: a turn's driver hands every stream line to
//!   [`observe`], which records an account limit in the domain's runtime
//!   folder (`ratelimit.json`): Claude Code's `rate_limit_event` with status
//!   `rejected` (until `resetsAt`), its `api_retry` of an HTTP 429 (until the
//!   retry it announces, which follows the server's `retry-after`), Codex's
//!   `rate_limits` at 100 % (until `resets_at`; rollout shape), its `error`
//!   lines retrying a 429 (no reset given: 30 s). Every agent on the same CLI
//!   is then paused until the latest reset, with one `limited` event, and one
//!   `resumed` event when it passes.
//! - **`max_parallel_agents`**: no more turns at once, across domains.
//!
//! Never blocks: a closed gate only skips a dispatch, and the event loop
//! wakes again at the reset ([`Gate::wake_at`]), on comm moving or on a turn
//! ending.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::agent::Invocation;
use super::event_loop::Supervisor;
use super::inflight::Running;
use super::supervisor::Progress;
use super::RuntimeError;
use crate::comm::{budget, Snapshot};
use crate::config::{AgentCli, AgentSettings};

/// A domain's record of an account limit its agent's CLI reported.
const RATE_FILE: &str = "ratelimit.json";
/// Share of a budget at which the domain and the human are warned.
const WARN_AT: f64 = 0.8;
/// How long a Codex account that answered 429 is held (Codex's `--json`
/// stream names no reset time).
const CODEX_429_HOLD_MS: i64 = 30_000;
/// How soon a due restart is looked at again while the gate is closed.
const RECHECK: Duration = Duration::from_millis(250);

/// What the supervisor keeps for the gate.
#[derive(Debug, Default)]
pub(super) struct Gate {
    /// Per CLI (`claude`, `codex`): limited until (ms since the epoch), and
    /// the domain whose agent reported it.
    limited: BTreeMap<String, (i64, String)>,
    /// The `--max-budget-usd` of the turn being started.
    cap: Option<f64>,
    /// When the domains' limit records were last read (once per pass of
    /// the loop is enough).
    read_at: Option<Instant>,
    /// Why each held domain is held, as last said (said again only when it
    /// changes).
    held: BTreeMap<String, String>,
}

/// An account limit as a CLI reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Until when (milliseconds since the epoch).
    pub until_ms: i64,
    /// What said so (`rate_limit_event five_hour`, `api_retry 429`...).
    pub source: String,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// An epoch time in seconds or milliseconds, as milliseconds.
fn as_ms(t: i64) -> i64 {
    if t > 100_000_000_000 {
        t
    } else {
        t * 1000
    }
}

/// The account limit a stream line reports, if it reports one in force.
pub fn rate_limit_of(value: &Value) -> Option<RateLimit> {
    let kind = value.get("type").and_then(Value::as_str);
    if kind == Some("rate_limit_event") {
        let info = value.get("rate_limit_info")?;
        if info.get("status").and_then(Value::as_str) != Some("rejected") {
            return None;
        }
        let resets = info.get("resetsAt").and_then(Value::as_i64)?;
        let what = info
            .get("rateLimitType")
            .and_then(Value::as_str)
            .unwrap_or("limit");
        return Some(RateLimit {
            until_ms: as_ms(resets),
            source: format!("rate_limit_event {what}"),
        });
    }
    if kind == Some("system") && value.get("subtype").and_then(Value::as_str) == Some("api_retry") {
        if value.get("error_status").and_then(Value::as_i64) != Some(429) {
            return None;
        }
        let delay = value.get("retry_delay_ms").and_then(Value::as_i64)?;
        return Some(RateLimit {
            until_ms: now_ms() + delay,
            source: "api_retry 429".into(),
        });
    }
    // Codex's `--json` says only that it is retrying a 429, with no reset:
    // its account is held for a while.
    if kind == Some("error") {
        let message = value.get("message").and_then(Value::as_str)?;
        if !message.contains("429") {
            return None;
        }
        return Some(RateLimit {
            until_ms: now_ms() + CODEX_429_HOLD_MS,
            source: "codex error 429".into(),
        });
    }
    // Codex: `rate_limits` in a token_count event (`--json` or rollout).
    let limits = value
        .get("rate_limits")
        .or_else(|| value.pointer("/payload/rate_limits"))
        .or_else(|| value.pointer("/msg/rate_limits"))?;
    ["primary", "secondary"].iter().find_map(|w| {
        let w = limits.get(*w)?;
        let used = w.get("used_percent").and_then(Value::as_f64)?;
        if used < 100.0 {
            return None;
        }
        let until_ms = match w.get("resets_at").and_then(Value::as_i64) {
            Some(t) => as_ms(t),
            None => now_ms() + w.get("resets_in_seconds").and_then(Value::as_i64)? * 1000,
        };
        Some(RateLimit {
            until_ms,
            source: format!(
                "rate_limits {} min window",
                w.get("window_minutes").and_then(Value::as_i64).unwrap_or(0)
            ),
        })
    })
}

/// Called by a turn's driver for every stream line: records an account
/// limit it reports in the domain's folder `dir`. Cheap for other lines.
pub(super) fn observe(dir: &Path, line: &str) {
    if !(line.contains("rate_limit") || line.contains("api_retry") || line.contains("429")) {
        return;
    }
    let Ok(value) = serde_json::from_str::<Value>(line) else {
        return;
    };
    if let Some(limit) = rate_limit_of(&value) {
        let text = serde_json::to_string(&limit).unwrap_or_default();
        let _ = crate::cachefile::write_atomic(&dir.join(RATE_FILE), &text);
    }
}

fn read_limit(dir: &Path) -> Option<RateLimit> {
    serde_json::from_str(&fs::read_to_string(dir.join(RATE_FILE)).ok()?).ok()
}

/// Whether a turn ended at the CLI's own budget limit (`--max-budget-usd`).
pub(super) fn hit_budget(stream: &super::stream::TurnStream) -> bool {
    stream
        .result
        .as_ref()
        .is_some_and(|r| r.subtype == "error_max_budget_usd")
}

impl Gate {
    /// When the event loop should wake to reopen a rate-limited account.
    pub(super) fn wake_at(&self) -> Option<Instant> {
        let until = self.limited.values().map(|(t, _)| *t).min()?;
        let wait = (until - now_ms()).max(0) as u64;
        Some(Instant::now() + Duration::from_millis(wait + 20))
    }

    /// Passes what is left of the budgets to the CLI's own limit.
    pub(super) fn with_cap(&self, settings: &AgentSettings, mut inv: Invocation) -> Invocation {
        if let (Some(cap), AgentCli::Claude) = (self.cap, settings.cli) {
            inv.args.extend([
                "--max-budget-usd".to_owned(),
                format!("{:.6}", cap.max(0.000_001)),
            ]);
        }
        inv
    }
}

impl Supervisor<'_> {
    /// Whether slot `i` may start a turn now as far as account rate limits
    /// and `max_parallel_agents` go. Announces limits that began or ended.
    pub(super) fn gate_open(
        &mut self,
        i: usize,
        progress: &mut impl FnMut(&Progress),
    ) -> Result<bool, RuntimeError> {
        self.refresh_limits(progress)?;
        let cli = self.slots[i].settings.cli.as_str();
        let mut open = !self.gate.limited.contains_key(cli);
        if let Some(max) = self.config.limits.max_parallel_agents {
            let running = self.slots.iter().filter(|s| s.running.is_some()).count();
            open &= running < max as usize;
        }
        if !open {
            // A due restart waits with the rest (without spinning the loop).
            let slot = &mut self.slots[i];
            if let Some((at, _)) = &mut slot.retry {
                let later = match self.gate.limited.get(cli) {
                    Some((until, _)) => {
                        Instant::now() + Duration::from_millis((until - now_ms()).max(0) as u64)
                    }
                    None => Instant::now() + RECHECK,
                };
                *at = (*at).max(later);
            }
        }
        Ok(open)
    }

    /// Reads the limits the domains' agents reported: a new one pauses its
    /// CLI's agents (one `limited` event), a passed one resumes them (one
    /// `resumed` event).
    fn refresh_limits(&mut self, progress: &mut impl FnMut(&Progress)) -> Result<(), RuntimeError> {
        if self
            .gate
            .read_at
            .is_some_and(|t| t.elapsed() < Duration::from_millis(50))
        {
            return Ok(());
        }
        self.gate.read_at = Some(Instant::now());
        let now = now_ms();
        for slot in &self.slots {
            let Some(limit) = read_limit(&slot.dir) else {
                continue;
            };
            let cli = slot.settings.cli.as_str().to_owned();
            if limit.until_ms <= now {
                continue;
            }
            match self.gate.limited.get_mut(&cli) {
                Some(known) => known.0 = known.0.max(limit.until_ms),
                None => {
                    let names = self.names_on(&cli);
                    let until = crate::clock::format_rfc3339(limit.until_ms / 1000);
                    budget::announce(
                        self.repo,
                        &slot.name,
                        "limited",
                        &names,
                        &format!("rate limit: {cli} agents paused until {until}"),
                        &format!(
                            "{}'s agent reported that its {cli} account is limited ({}). \
                             `comm-node up` starts no turn of {} until {until}, then resumes \
                             them.\n",
                            slot.name,
                            limit.source,
                            names.join(", ")
                        ),
                    )?;
                    progress(&Progress::Held {
                        domains: names,
                        why: format!("the {cli} account is rate limited until {until}"),
                    });
                    self.gate
                        .limited
                        .insert(cli, (limit.until_ms, slot.name.clone()));
                }
            }
        }
        let passed: Vec<String> = self
            .gate
            .limited
            .iter()
            .filter(|(_, (until, _))| *until <= now)
            .map(|(cli, _)| cli.clone())
            .collect();
        for cli in passed {
            let (_, by) = self.gate.limited.remove(&cli).expect("listed above");
            let names = self.names_on(&cli);
            for slot in self.slots.iter().filter(|s| s.settings.cli.as_str() == cli) {
                if read_limit(&slot.dir).is_some_and(|l| l.until_ms <= now) {
                    let _ = fs::remove_file(slot.dir.join(RATE_FILE));
                }
            }
            budget::announce(
                self.repo,
                &by,
                "resumed",
                &names,
                &format!("rate limit: {cli} agents resumed"),
                &format!(
                    "The {cli} account's limit has reset; `comm-node up` dispatches to {} again.\n",
                    names.join(", ")
                ),
            )?;
        }
        Ok(())
    }

    fn names_on(&self, cli: &str) -> Vec<String> {
        self.slots
            .iter()
            .filter(|s| s.settings.cli.as_str() == cli)
            .map(|s| s.name.clone())
            .collect()
    }

    /// Checks the budgets a turn of slot `i` on `turn.task` runs under:
    /// `false` when one is spent (the domain is paused, told once); warns
    /// once at 80 %; sets what is left as the turn's cap.
    pub(super) fn budget_allows(
        &mut self,
        i: usize,
        turn: &Running,
        progress: &mut impl FnMut(&Progress),
    ) -> Result<bool, RuntimeError> {
        self.gate.cap = None;
        let budget = &self.config.budget;
        if !budget.is_set() {
            return Ok(true);
        }
        let name = self.slots[i].name.clone();
        let domains: Vec<String> = self.config.domains.keys().cloned().collect();
        let snapshot = Snapshot::take(self.repo)?;
        let lines = budget::spend_report(
            &snapshot,
            budget,
            &domains,
            Some((&name, turn.task.as_deref())),
        )?;
        drop(snapshot);
        if let Some(over) = lines.iter().find(|l| l.fraction() >= 1.0) {
            budget::tell_once(
                self.repo,
                &name,
                "paused",
                &format!("paused {}", over.key()),
                &format!(
                    "budget: {name} paused: {} spent {} of {}",
                    over.what(),
                    over.show(over.spent),
                    over.show(over.budget())
                ),
                &format!(
                    "`comm-node up` starts no more turns of {name} (a running one finishes): \
                     {} has spent {} of its budget of {} ({:.0} %).\n\n\
                     The human resumes it with `comm-node budget grant {} AMOUNT` \
                     (or a larger budget in comm.yaml).\n",
                    over.what(),
                    over.show(over.spent),
                    over.show(over.budget()),
                    over.fraction() * 100.0,
                    if over.scope == "task" {
                        &over.name
                    } else {
                        &name
                    },
                ),
            )?;
            let dir = &self.slots[i].dir;
            let _ = crate::cachefile::write_atomic(
                &dir.join("state"),
                &format!("paused over budget ({})", over.what()),
            );
            let why = format!(
                "over budget: {} spent {} of {}",
                over.what(),
                over.show(over.spent),
                over.show(over.budget())
            );
            if self.gate.held.get(&name) != Some(&why) {
                progress(&Progress::Held {
                    domains: vec![name.clone()],
                    why: why.clone(),
                });
                self.gate.held.insert(name, why);
            }
            return Ok(false);
        }
        self.gate.held.remove(&name);
        for l in lines.iter().filter(|l| l.fraction() >= WARN_AT) {
            budget::tell_once(
                self.repo,
                &name,
                "warn",
                &format!("warn {}", l.key()),
                &format!(
                    "budget: {} at {:.0} % ({} of {})",
                    l.what(),
                    l.fraction() * 100.0,
                    l.show(l.spent),
                    l.show(l.budget())
                ),
                &format!(
                    "{} has spent {} of its budget of {}; at 100 % `comm-node up` pauses {name}. \
                     Ask for more with `comm-node budget request AMOUNT --reason TEXT`.\n",
                    l.what(),
                    l.show(l.spent),
                    l.show(l.budget())
                ),
            )?;
        }
        let per_turn = budget.per_turn(&name).and_then(|a| a.usd());
        self.gate.cap = lines
            .iter()
            .filter(|l| l.unit == "usd")
            .map(|l| l.left())
            .chain(per_turn)
            .reduce(f64::min);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_read_from_both_clis_and_only_when_in_force() {
        let claude: Value = serde_json::from_str(
            r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1800000000000,"rateLimitType":"five_hour"}}"#,
        )
        .unwrap();
        assert_eq!(rate_limit_of(&claude).unwrap().until_ms, 1_800_000_000_000);
        let seconds: Value = serde_json::from_str(
            r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1800000000}}"#,
        )
        .unwrap();
        assert_eq!(rate_limit_of(&seconds).unwrap().until_ms, 1_800_000_000_000);
        let allowed: Value = serde_json::from_str(
            r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed_warning","resetsAt":1800000000}}"#,
        )
        .unwrap();
        assert!(rate_limit_of(&allowed).is_none());
        let retry: Value = serde_json::from_str(
            r#"{"type":"system","subtype":"api_retry","retry_delay_ms":4000,"error_status":429}"#,
        )
        .unwrap();
        let until = rate_limit_of(&retry).unwrap().until_ms;
        assert!((until - now_ms() - 4000).abs() < 1000);
        let overloaded: Value = serde_json::from_str(
            r#"{"type":"system","subtype":"api_retry","retry_delay_ms":4000,"error_status":529}"#,
        )
        .unwrap();
        assert!(rate_limit_of(&overloaded).is_none());
        let codex: Value = serde_json::from_str(
            r#"{"timestamp":"x","type":"event_msg","payload":{"type":"token_count","rate_limits":{"primary":{"used_percent":100.0,"window_minutes":300,"resets_at":1800000000},"secondary":{"used_percent":20.0,"window_minutes":10080,"resets_at":1800500000}}}}"#,
        )
        .unwrap();
        assert_eq!(rate_limit_of(&codex).unwrap().until_ms, 1_800_000_000_000);
        let fine: Value = serde_json::from_str(
            r#"{"payload":{"rate_limits":{"primary":{"used_percent":99.0,"window_minutes":300,"resets_at":1800000000}}}}"#,
        )
        .unwrap();
        assert!(rate_limit_of(&fine).is_none());
        // Codex 0.169's `--json` stream, checked against the scripted server.
        let codex_retry: Value = serde_json::from_str(
            r#"{"type":"error","message":"Reconnecting... 1/5 (exceeded retry limit, last status: 429 Too Many Requests)"}"#,
        )
        .unwrap();
        let until = rate_limit_of(&codex_retry).unwrap().until_ms;
        assert!((until - now_ms() - CODEX_429_HOLD_MS).abs() < 1000);
        let other: Value =
            serde_json::from_str(r#"{"type":"error","message":"stream disconnected"}"#).unwrap();
        assert!(rate_limit_of(&other).is_none());
    }
}
