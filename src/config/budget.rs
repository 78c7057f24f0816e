//! The `budget:` section of comm.yaml: spend limits in US dollars and/or
//! tokens, for the whole project, each domain, each task and each turn,
//! with per-domain overrides, plus the token budget of a domain's messages
//! about one task. Only types and their validation live here; what is
//! spent is read from comm (`comm::budget`), never from this file.
//!
//! ```yaml
//! budget:
//!   total: { usd: 100 }
//!   per_domain: { usd: 10, tokens: 2000000 }
//!   per_task: { usd: 2 }
//!   per_turn: { usd: 0.5 }
//!   messages_per_task: 4000        # tokens of one domain's messages about one task
//!   domains:
//!     api: { per_domain: { usd: 20 }, per_task: { usd: 5 } }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Loaded;

/// Largest amount of US dollars one budget may name (more is a typo).
pub const MAX_USD: f64 = 1_000_000.0;
/// Largest number of tokens one budget may name.
pub const MAX_TOKENS: i64 = 1_000_000_000_000;

/// An amount of US dollars. Compared bit for bit so that [`super::Config`]
/// keeps `Eq` (configs are compared whole, never amounts alone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Usd(pub f64);

impl Eq for Usd {}

/// A limit in US dollars, tokens, or both (either one reached is reached).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Amount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd: Option<Usd>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<i64>,
}

impl Amount {
    pub fn usd(&self) -> Option<f64> {
        self.usd.map(|u| u.0)
    }

    pub fn tokens(&self) -> Option<u64> {
        self.tokens.map(|t| t.max(0) as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.usd.is_none() && self.tokens.is_none()
    }
}

/// A domain's own limits, replacing the project-wide ones it names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DomainBudget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_domain: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_task: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_turn: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages_per_task: Option<i64>,
}

/// The `budget:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Everything every domain spends, together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Amount>,
    /// What one domain may spend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_domain: Option<Amount>,
    /// What all turns on one task may spend (every domain's, together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_task: Option<Amount>,
    /// What one turn may spend (passed to the CLI's own limit where it has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_turn: Option<Amount>,
    /// Tokens of one domain's messages about one task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages_per_task: Option<i64>,
    /// Overrides per domain.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub domains: BTreeMap<String, DomainBudget>,
}

impl Budget {
    /// Whether any budget is set at all (`up` skips every check when not).
    pub fn is_set(&self) -> bool {
        *self != Budget::default()
    }

    pub(super) fn is_unset(&self) -> bool {
        !self.is_set()
    }

    /// The domain's own budget (its override, else the project's).
    pub fn per_domain(&self, domain: &str) -> Option<Amount> {
        self.domains
            .get(domain)
            .and_then(|d| d.per_domain)
            .or(self.per_domain)
    }

    /// The budget of a task worked on by `domain`.
    pub fn per_task(&self, domain: &str) -> Option<Amount> {
        self.domains
            .get(domain)
            .and_then(|d| d.per_task)
            .or(self.per_task)
    }

    /// The budget of one turn of `domain`.
    pub fn per_turn(&self, domain: &str) -> Option<Amount> {
        self.domains
            .get(domain)
            .and_then(|d| d.per_turn)
            .or(self.per_turn)
    }

    /// Tokens `domain` may send about one task.
    pub fn messages_per_task(&self, domain: &str) -> Option<u64> {
        self.domains
            .get(domain)
            .and_then(|d| d.messages_per_task)
            .or(self.messages_per_task)
            .map(|t| t.max(0) as u64)
    }
}

/// Reports every mistake of the `budget:` section through `err(path, message, hint)`.
pub(super) fn check(loaded: &Loaded, err: &mut dyn FnMut(String, String, &str)) {
    let b = &loaded.config.budget;
    let mut amount = |path: String, a: &Option<Amount>| {
        let Some(a) = a else { return };
        if a.is_empty() {
            err(
                path.clone(),
                "a budget names neither `usd` nor `tokens`".into(),
                "e.g. `{ usd: 10 }` or `{ tokens: 2000000 }`, or leave the key out",
            );
        }
        if let Some(usd) = a.usd() {
            if !usd.is_finite() || !(0.0..=MAX_USD).contains(&usd) {
                err(
                    format!("{path}.usd"),
                    format!("`{usd}` is not a budget in US dollars"),
                    &format!("give an amount from 0 to {MAX_USD}, e.g. `usd: 10`"),
                );
            }
        }
        if let Some(tokens) = a.tokens {
            tokens_problem(&mut *err, format!("{path}.tokens"), tokens);
        }
    };
    amount("budget.total".into(), &b.total);
    amount("budget.per_domain".into(), &b.per_domain);
    amount("budget.per_task".into(), &b.per_task);
    amount("budget.per_turn".into(), &b.per_turn);
    for (name, d) in &b.domains {
        let at = |field: &str| format!("budget.domains.{name}.{field}");
        amount(at("per_domain"), &d.per_domain);
        amount(at("per_task"), &d.per_task);
        amount(at("per_turn"), &d.per_turn);
    }
    if let Some(t) = b.messages_per_task {
        tokens_problem(&mut *err, "budget.messages_per_task".into(), t);
    }
    if loaded.config.limits.max_parallel_agents == Some(0) {
        err(
            "limits.max_parallel_agents".into(),
            "`max_parallel_agents` must be at least 1".into(),
            "it caps the agent turns `up` runs at once, e.g. `max_parallel_agents: 2`",
        );
    }
    for (name, d) in &b.domains {
        if !loaded.config.domains.contains_key(name) {
            err(
                format!("budget.domains.{name}"),
                format!("`budget.domains` names unknown domain `{name}`"),
                &format!(
                    "declared domains are: {}",
                    loaded
                        .config
                        .domains
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if let Some(t) = d.messages_per_task {
            tokens_problem(
                &mut *err,
                format!("budget.domains.{name}.messages_per_task"),
                t,
            );
        }
    }
}

fn tokens_problem(err: &mut dyn FnMut(String, String, &str), path: String, tokens: i64) {
    if !(0..=MAX_TOKENS).contains(&tokens) {
        err(
            path,
            format!("`{tokens}` is not a budget in tokens"),
            &format!("give a count from 0 to {MAX_TOKENS}, e.g. `tokens: 2000000`"),
        );
    }
}
