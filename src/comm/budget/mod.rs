//! Budgets on the bus: what the human granted on top of comm.yaml's
//! budgets (`grants.yaml`, written only by `budget grant`, only by the
//! human), what each domain was already told about its budgets and how
//! many tokens it sent about each task (`budget/<domain>.yaml`, written by
//! that domain: its `up` and its tasked messages), and the `budget` events
//! (`request`, `grant`, `warn`, `paused`, `limited`, `resumed`).
//!
//! Spend itself is never stored here: it is the running totals of
//! `usage/<domain>.yaml` (see [`report`]), so reading a budget never walks
//! history. Every writer re-validates inside the compare-and-swap closure;
//! [`event_problem`] and [`message_problem`] are the rules `verify` keeps;
//! `replay` and `message_replay_edits` re-derive an event by its intent
//! at `sync`.

pub mod report;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{append, registrations_at, task, Appended, Change, CommError, Event, Snapshot, HUMAN};
use crate::git::{Repo, TreeEdit};

pub use report::{efficiency, message_lines, spend_report, BudgetLine, Efficiency, Spend};

/// Event kind of every budget event (`Comm-Action` says which).
pub const KIND: &str = "budget";
/// The human's grants, one file.
pub const GRANTS: &str = "grants.yaml";
/// Folder of the per-domain budget state.
pub const DIR: &str = "budget";

/// Extra budget granted on top of comm.yaml (both units may be raised).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Granted {
    #[serde(default)]
    pub usd: f64,
    #[serde(default)]
    pub tokens: u64,
}

impl Granted {
    fn add(&mut self, other: Granted) {
        self.usd += other.usd;
        self.tokens += other.tokens;
    }

    fn same_as(&self, other: &Granted) -> bool {
        self.tokens == other.tokens && (self.usd - other.usd).abs() < 1e-9
    }

    /// `$5`, `200000 tokens`, or both.
    pub fn describe(&self) -> String {
        match (self.usd > 0.0, self.tokens > 0) {
            (true, true) => format!("${} and {} tokens", self.usd, self.tokens),
            (false, true) => format!("{} tokens", self.tokens),
            _ => format!("${}", self.usd),
        }
    }
}

/// `grants.yaml`: what the human granted, per domain and per task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub domains: BTreeMap<String, Granted>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tasks: BTreeMap<String, Granted>,
}

impl Grants {
    pub fn read(snapshot: &Snapshot) -> Result<Grants, CommError> {
        Ok(snapshot.read_yaml(GRANTS)?.unwrap_or_default())
    }

    pub fn domain(&self, name: &str) -> Granted {
        self.domains.get(name).copied().unwrap_or_default()
    }

    pub fn task(&self, id: &str) -> Granted {
        self.tasks.get(id).copied().unwrap_or_default()
    }
}

/// `budget/<domain>.yaml`: the domain's own budget state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainState {
    pub domain: String,
    /// Tokens of the domain's messages, per task they carry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub messages: BTreeMap<String, u64>,
    /// The warnings and pauses already announced (`warn domain usd 10`...),
    /// so a restarted `up` does not repeat them; a grant changes the limit
    /// and so the key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub told: Vec<String>,
}

impl DomainState {
    pub fn path_of(domain: &str) -> String {
        format!("{DIR}/{domain}.yaml")
    }

    pub fn read(snapshot: &Snapshot, domain: &str) -> Result<DomainState, CommError> {
        let mut s: DomainState = snapshot
            .read_yaml(&DomainState::path_of(domain))?
            .unwrap_or_default();
        s.domain = domain.to_owned();
        Ok(s)
    }

    fn edit(&self) -> TreeEdit {
        TreeEdit::Put {
            path: DomainState::path_of(&self.domain),
            bytes: serde_yaml::to_string(self)
                .expect("budget state always serializes")
                .into_bytes(),
        }
    }
}

/// What a grant raises: a domain's budget or a task's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Domain(String),
    Task(String),
}

impl Target {
    /// A task id (`T-...`) or a domain name.
    pub fn parse(text: &str) -> Target {
        if text.starts_with("T-") {
            Target::Task(text.to_owned())
        } else {
            Target::Domain(text.to_owned())
        }
    }

    fn name(&self) -> &str {
        match self {
            Target::Domain(n) | Target::Task(n) => n,
        }
    }
}

/// Largest amount one grant or request may name.
const MAX_GRANT_USD: f64 = crate::config::MAX_BUDGET_USD;
const MAX_GRANT_TOKENS: u64 = crate::config::MAX_BUDGET_TOKENS as u64;

/// Reads an amount: `5`, `$5`, `5usd` (US dollars) or `200000tokens`,
/// `200ktokens`, `2Mtokens` (tokens). Zero, negative and absurd amounts
/// are refused.
pub fn parse_amount(text: &str) -> Result<Granted, CommError> {
    let bad = || {
        CommError::invalid(
            format!("`{text}` is not an amount"),
            "give US dollars (`5`, `$5`, `5usd`) or tokens (`200000tokens`, `200ktokens`), more than 0",
        )
    };
    let t = text.trim().to_ascii_lowercase();
    let (number, tokens) = if let Some(n) = t.strip_suffix("tokens").or(t.strip_suffix("tok")) {
        (n.trim().to_owned(), true)
    } else {
        let n = t.strip_prefix('$').unwrap_or(&t);
        (n.strip_suffix("usd").unwrap_or(n).trim().to_owned(), false)
    };
    if tokens {
        let (digits, scale) = match number.chars().last() {
            Some('k') => (&number[..number.len() - 1], 1_000f64),
            Some('m') => (&number[..number.len() - 1], 1_000_000f64),
            _ => (number.as_str(), 1f64),
        };
        let n: f64 = digits.parse().map_err(|_| bad())?;
        let n = n * scale;
        if !n.is_finite() || n < 1.0 || n > MAX_GRANT_TOKENS as f64 {
            return Err(bad());
        }
        Ok(Granted {
            usd: 0.0,
            tokens: n as u64,
        })
    } else {
        let n: f64 = number.parse().map_err(|_| bad())?;
        if !n.is_finite() || n <= 0.0 || n > MAX_GRANT_USD {
            return Err(bad());
        }
        Ok(Granted { usd: n, tokens: 0 })
    }
}

fn refused(message: impl Into<String>, hint: impl Into<String>) -> CommError {
    CommError::Refused {
        message: message.into(),
        hint: hint.into(),
    }
}

/// Why `target` cannot receive a grant on this state (unknown).
fn target_problem(snapshot: &Snapshot, target: &Target) -> Result<Option<String>, CommError> {
    Ok(match target {
        Target::Domain(d) => (!registrations_at(snapshot)?.contains_key(d))
            .then(|| format!("`{d}` is not a registered domain")),
        Target::Task(t) => task::get(snapshot, t)?
            .is_none()
            .then(|| format!("task {t} does not exist")),
    })
}

/// The grant event and the new `grants.yaml` on `snapshot`.
fn grant_change(
    snapshot: &Snapshot,
    target: &Target,
    amount: Granted,
    id: Option<&str>,
) -> Result<Change, CommError> {
    if let Some(problem) = target_problem(snapshot, target)? {
        return Err(CommError::invalid(
            problem,
            "name a domain (`comm-node status` lists them) or a task id (`comm-node task list`)",
        ));
    }
    let mut grants = Grants::read(snapshot)?;
    let entry = match target {
        Target::Domain(d) => grants.domains.entry(d.clone()).or_default(),
        Target::Task(t) => grants.tasks.entry(t.clone()).or_default(),
    };
    entry.add(amount);
    let total = *entry;
    let mut event = Event::new(
        KIND,
        HUMAN,
        format!(
            "budget: human grants {} to {} (granted in all: {})",
            amount.describe(),
            target.name(),
            total.describe()
        ),
    );
    if let Some(id) = id {
        event.id = id.to_owned();
    }
    let to = match target {
        Target::Domain(d) => Some(d.clone()),
        Target::Task(t) => task::get(snapshot, t)?.and_then(|t| t.domain.or(t.assignee)),
    };
    event.to = to.into_iter().collect();
    event.fields = vec![
        ("Action".into(), "grant".into()),
        ("Target".into(), target.name().to_owned()),
        ("Grant-Usd".into(), amount.usd.to_string()),
        ("Grant-Tokens".into(), amount.tokens.to_string()),
    ];
    Ok(Change {
        event,
        edits: vec![TreeEdit::Put {
            path: GRANTS.into(),
            bytes: serde_yaml::to_string(&grants)
                .expect("grants always serialize")
                .into_bytes(),
        }],
    })
}

/// The human raises `target`'s budget by `amount` (re-validated on the
/// state the grant lands on: the target must still exist).
pub fn grant(
    repo: &Repo,
    actor: &str,
    target: &Target,
    amount: Granted,
) -> Result<Appended, CommError> {
    if actor != HUMAN {
        return Err(refused(
            format!("only the human grants budget, not `{actor}`"),
            "ask for it: comm-node budget request AMOUNT --reason TEXT",
        ));
    }
    let appended = append(repo, |snapshot| {
        grant_change(snapshot, target, amount, None).map(Some)
    })?;
    Ok(appended.expect("a grant always appends"))
}

/// A domain asks the human for `amount` more, with `reason` and its
/// efficiency so far. Changes no state.
pub fn request(
    repo: &Repo,
    actor: &str,
    amount: Granted,
    reason: &str,
) -> Result<Appended, CommError> {
    if actor == HUMAN {
        return Err(CommError::invalid(
            "the human grants budget; requests come from domains",
            "run comm-node budget grant DOMAIN|TASK AMOUNT",
        ));
    }
    if reason.trim().is_empty() || reason.len() > 4000 {
        return Err(CommError::invalid(
            "a request needs a reason of at most 4000 bytes",
            "say what the budget is for: --reason TEXT",
        ));
    }
    let appended = append(repo, |snapshot| {
        let e = efficiency(snapshot, actor)?;
        let mut event = Event::new(
            KIND,
            actor,
            format!(
                "budget: {actor} asks for {} more: {}",
                amount.describe(),
                reason.lines().next().unwrap_or_default()
            ),
        );
        event.to = vec![HUMAN.to_owned()];
        event.fields = vec![
            ("Action".into(), "request".into()),
            ("Grant-Usd".into(), amount.usd.to_string()),
            ("Grant-Tokens".into(), amount.tokens.to_string()),
        ];
        event.body = format!(
            "{reason}\n\n{}\nGrant it with `comm-node budget grant {actor} {}`.\n",
            e.table(),
            if amount.tokens > 0 {
                format!("{}tokens", amount.tokens)
            } else {
                amount.usd.to_string()
            }
        );
        Ok(Some(Change {
            event,
            edits: Vec::new(),
        }))
    })?;
    Ok(appended.expect("a request always appends"))
}

/// Announces, once, a budget notice of `domain` (`action`: `warn` or
/// `paused`), remembering `key` in `budget/<domain>.yaml` so it is never
/// announced twice (also by a restarted `up`, or another clone after a
/// sync). `None` when it was announced already.
pub fn tell_once(
    repo: &Repo,
    domain: &str,
    action: &str,
    key: &str,
    subject: &str,
    body: &str,
) -> Result<Option<Appended>, CommError> {
    append(repo, |snapshot| {
        let mut state = DomainState::read(snapshot, domain)?;
        if state.told.iter().any(|k| k == key) {
            return Ok(None);
        }
        state.told.push(key.to_owned());
        let mut event = Event::new(KIND, domain, subject);
        event.to = vec![domain.to_owned(), HUMAN.to_owned()];
        event.body = body.to_owned();
        event.fields = vec![
            ("Action".into(), action.to_owned()),
            ("Told".into(), key.to_owned()),
        ];
        Ok(Some(Change {
            event,
            edits: vec![state.edit()],
        }))
    })
}

/// Announces an account-wide event seen by `domain`'s agent (`action`:
/// `limited` or `resumed`), to the human and the domains it concerns.
/// Changes no state.
pub fn announce(
    repo: &Repo,
    domain: &str,
    action: &str,
    to: &[String],
    subject: &str,
    body: &str,
) -> Result<Appended, CommError> {
    let appended = append(repo, |_| {
        let mut event = Event::new(KIND, domain, subject);
        let mut to = to.to_vec();
        to.push(HUMAN.to_owned());
        to.sort();
        to.dedup();
        event.to = to;
        event.body = body.to_owned();
        event.fields = vec![("Action".into(), action.to_owned())];
        Ok(Some(Change {
            event,
            edits: Vec::new(),
        }))
    })?;
    Ok(appended.expect("an announcement always appends"))
}

/// The counter edit of a message of `from` about `task` of `tokens`,
/// refused when it would pass `budget` (tokens of `from`'s messages about
/// one task). Called inside the message's compare-and-swap closure.
pub(crate) fn count_message(
    snapshot: &Snapshot,
    from: &str,
    task: &str,
    tokens: u64,
    budget: Option<u64>,
) -> Result<TreeEdit, CommError> {
    let mut state = DomainState::read(snapshot, from)?;
    let sent = state.messages.get(task).copied().unwrap_or(0);
    if let Some(limit) = budget {
        // A grant of tokens to the task raises its message budget too (read
        // only when the message would not fit otherwise).
        let limit = if sent + tokens > limit {
            limit + Grants::read(snapshot)?.task(task).tokens
        } else {
            limit
        };
        if sent + tokens > limit {
            return Err(refused(
                format!(
                    "{from}'s messages about {task} would reach ~{} tokens; the budget is {limit} \
                     (budget.messages_per_task plus the task's granted tokens), ~{sent} already sent",
                    sent + tokens
                ),
                "be concise (say what changed, not the whole log), publish long content as an \
                 artifact (comm-node publish NAME FILE) and send its name, or ask for more \
                 (comm-node budget request AMOUNT --reason TEXT; the human grants tokens to the task)",
            ));
        }
    }
    state.messages.insert(task.to_owned(), sent + tokens);
    Ok(state.edit())
}

/// A message replayed at sync: its counter again, on the state it lands on.
pub(crate) fn message_replay_edits(
    snapshot: &Snapshot,
    event: &Event,
) -> Result<Vec<TreeEdit>, CommError> {
    let (Some(task), Some(tokens)) = (
        event.field("Task"),
        event.field("Tokens").and_then(|t| t.parse().ok()),
    ) else {
        return Ok(Vec::new());
    };
    Ok(vec![count_message(
        snapshot,
        &event.from,
        task,
        tokens,
        None,
    )?])
}

/// A budget event replayed at sync, by its intent: a grant added to the
/// grants as they now are (rejected when its target is gone), a notice
/// remembered unless the other side told it already (then a no-op), a
/// request or announcement as is.
pub(crate) fn replay(
    snapshot: &Snapshot,
    event: &Event,
) -> Result<Option<(Event, Vec<TreeEdit>)>, CommError> {
    match event.field("Action").unwrap_or_default() {
        "grant" => {
            let (target, amount) = grant_fields(event).ok_or_else(|| {
                CommError::invalid("a grant without its amount", "grant it again")
            })?;
            let change = grant_change(snapshot, &target, amount, Some(&event.id))?;
            let mut replayed = event.clone();
            replayed.subject = change.event.subject;
            Ok(Some((replayed, change.edits)))
        }
        "warn" | "paused" => {
            let key = event.field("Told").unwrap_or_default();
            let mut state = DomainState::read(snapshot, &event.from)?;
            if state.told.iter().any(|k| k == key) {
                return Ok(None);
            }
            state.told.push(key.to_owned());
            Ok(Some((event.clone(), vec![state.edit()])))
        }
        _ => Ok(Some((event.clone(), Vec::new()))),
    }
}

fn grant_fields(event: &Event) -> Option<(Target, Granted)> {
    let target = Target::parse(event.field("Target")?);
    let usd: f64 = event.field("Grant-Usd")?.parse().ok()?;
    let tokens: u64 = event.field("Grant-Tokens")?.parse().ok()?;
    Some((target, Granted { usd, tokens }))
}

fn only_path(edits: &[TreeEdit], allowed: &str) -> Option<String> {
    edits.iter().find_map(|e| {
        let p = match e {
            TreeEdit::Put { path, .. } | TreeEdit::Remove { path } => path,
        };
        (p != allowed).then(|| format!("it may not change {p}"))
    })
}

fn put<'e>(edits: &'e [TreeEdit], wanted: &str) -> Option<&'e [u8]> {
    edits.iter().find_map(|e| match e {
        TreeEdit::Put { path, bytes } if path == wanted => Some(bytes.as_slice()),
        _ => None,
    })
}

/// The rule a `budget` event keeps (for `verify`): a grant comes from the
/// human, names a target that exists, and adds exactly its amount to
/// `grants.yaml`; a request comes from a domain and changes nothing; a
/// notice adds its key to its author's `budget/<domain>.yaml` and nothing
/// else; an announcement changes nothing.
pub fn event_problem(
    event: &Event,
    before: &Snapshot,
    edits: &[TreeEdit],
) -> Result<Option<String>, CommError> {
    let from = event.from.as_str();
    Ok(match event.field("Action").unwrap_or_default() {
        "grant" => {
            if from != HUMAN {
                return Ok(Some(format!("only the human grants budget, not `{from}`")));
            }
            let Some((target, amount)) = grant_fields(event) else {
                return Ok(Some("its grant fields are missing or malformed".into()));
            };
            if !(amount.usd >= 0.0 && amount.usd <= MAX_GRANT_USD)
                || amount.tokens > MAX_GRANT_TOKENS
                || (amount.usd == 0.0 && amount.tokens == 0)
            {
                return Ok(Some(format!("it grants {}", amount.describe())));
            }
            if let Some(problem) = target_problem(before, &target)? {
                return Ok(Some(format!("it grants budget to {problem}")));
            }
            let Some(bytes) = put(edits, GRANTS) else {
                return Ok(Some(format!("it does not write {GRANTS}")));
            };
            let Ok(after) = serde_yaml::from_slice::<Grants>(bytes) else {
                return Ok(Some(format!("{GRANTS} does not parse")));
            };
            let mut expected = Grants::read(before)?;
            match &target {
                Target::Domain(d) => expected.domains.entry(d.clone()).or_default(),
                Target::Task(t) => expected.tasks.entry(t.clone()).or_default(),
            }
            .add(amount);
            let same = |a: &BTreeMap<String, Granted>, b: &BTreeMap<String, Granted>| {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, ga), (kb, gb))| ka == kb && ga.same_as(gb))
            };
            if !same(&expected.domains, &after.domains) || !same(&expected.tasks, &after.tasks) {
                return Ok(Some(format!(
                    "{GRANTS} does not hold the grants before it plus this one"
                )));
            }
            only_path(edits, GRANTS)
        }
        "request" | "limited" | "resumed" => {
            if from == HUMAN {
                Some(format!(
                    "the human does not sign a budget {}",
                    event.field("Action").unwrap_or_default()
                ))
            } else {
                edits
                    .first()
                    .map(|_| "a budget request or announcement changes no state".into())
            }
        }
        "warn" | "paused" => {
            let own = DomainState::path_of(from);
            let key = event.field("Told").unwrap_or_default();
            let Some(bytes) = put(edits, &own) else {
                return Ok(Some(format!("it does not write {own}")));
            };
            let Ok(after) = serde_yaml::from_slice::<DomainState>(bytes) else {
                return Ok(Some(format!("{own} does not parse")));
            };
            let mut expected = DomainState::read(before, from)?;
            expected.told.push(key.to_owned());
            if key.is_empty() || after != expected {
                return Ok(Some(format!(
                    "{own} does not hold what it held before plus this notice"
                )));
            }
            only_path(edits, &own)
        }
        other => Some(format!("`{other}` is no budget action comm-node writes")),
    })
}

/// The rule a message keeps (for `verify`): no state change, except a
/// message about a task, which adds its `Comm-Tokens` to its author's
/// counter for that task and changes nothing else.
pub fn message_problem(
    event: &Event,
    before: &Snapshot,
    edits: &[TreeEdit],
) -> Result<Option<String>, CommError> {
    if edits.is_empty() {
        return Ok(None);
    }
    let own = DomainState::path_of(&event.from);
    let (Some(task), Some(tokens)) = (
        event.field("Task"),
        event.field("Tokens").and_then(|t| t.parse::<u64>().ok()),
    ) else {
        return Ok(Some(format!(
            "a message changes no state, but it changes {}",
            match &edits[0] {
                TreeEdit::Put { path, .. } | TreeEdit::Remove { path } => path,
            }
        )));
    };
    let Some(bytes) = put(edits, &own) else {
        return Ok(Some(format!("a message may only count itself in {own}")));
    };
    let Ok(after) = serde_yaml::from_slice::<DomainState>(bytes) else {
        return Ok(Some(format!("{own} does not parse")));
    };
    let mut expected = DomainState::read(before, &event.from)?;
    *expected.messages.entry(task.to_owned()).or_default() += tokens;
    if after != expected {
        return Ok(Some(format!(
            "{own} does not hold the message tokens before it plus this message's {tokens}"
        )));
    }
    Ok(only_path(edits, &own))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_dollars_or_tokens_and_never_zero_negative_or_absurd() {
        let usd = |t: &str| parse_amount(t).map(|g| (g.usd, g.tokens)).ok();
        assert_eq!(usd("5"), Some((5.0, 0)));
        assert_eq!(usd("$1.5"), Some((1.5, 0)));
        assert_eq!(usd("2USD"), Some((2.0, 0)));
        assert_eq!(usd("200000tokens"), Some((0.0, 200_000)));
        assert_eq!(usd("200ktokens"), Some((0.0, 200_000)));
        assert_eq!(usd("2Mtokens"), Some((0.0, 2_000_000)));
        for bad in [
            "0", "-5", "$-1", "nan", "inf", "1e9", "0tokens", "lots", "", "5 euros",
        ] {
            assert_eq!(usd(bad), None, "{bad}");
        }
    }

    #[test]
    fn targets_are_tasks_by_their_prefix() {
        assert_eq!(Target::parse("T-ABC"), Target::Task("T-ABC".into()));
        assert_eq!(Target::parse("api"), Target::Domain("api".into()));
    }
}
