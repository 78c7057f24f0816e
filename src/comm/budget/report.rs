//! Spend against every budget, from the running totals on comm
//! (`usage/<domain>.yaml`, with `by_task`) plus the human's grants: what
//! `comm-node budget` shows and what `up` checks before each dispatch.
//! Never walks history: a few small state files per call.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Grants, Snapshot};
use crate::comm::{task, CommError};
use crate::config::{Amount, Budget};
use crate::runtime::usage::{Totals, Usage};

/// What was spent: US dollars (the CLIs' own costs) and tokens (input,
/// output, cache read and cache write, all counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spend {
    pub usd: f64,
    pub tokens: u64,
}

impl Spend {
    fn of(t: &Totals) -> Spend {
        Spend {
            usd: t.cost_usd,
            tokens: t.input_tokens + t.output_tokens + t.cache_read_tokens + t.cache_write_tokens,
        }
    }

    fn add(&mut self, other: Spend) {
        self.usd += other.usd;
        self.tokens += other.tokens;
    }
}

/// One budget and its spend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetLine {
    /// `total`, `domain`, `task` or `messages`.
    pub scope: &'static str,
    /// The domain or task (empty for `total`).
    pub name: String,
    /// `usd` or `tokens`.
    pub unit: &'static str,
    /// From comm.yaml.
    pub limit: f64,
    /// Added by the human's grants.
    pub granted: f64,
    pub spent: f64,
}

impl BudgetLine {
    /// The budget in force: comm.yaml's plus the grants.
    pub fn budget(&self) -> f64 {
        self.limit + self.granted
    }

    /// Spent over budget (1.0 = all of it).
    pub fn fraction(&self) -> f64 {
        if self.budget() <= 0.0 {
            if self.spent > 0.0 {
                f64::INFINITY
            } else {
                1.0
            }
        } else {
            self.spent / self.budget()
        }
    }

    pub fn left(&self) -> f64 {
        self.budget() - self.spent
    }

    /// `$1.50` or `1500 tokens`.
    pub fn show(&self, amount: f64) -> String {
        if self.unit == "usd" {
            format!("${amount:.4}")
        } else {
            format!("{} tokens", amount.round() as i64)
        }
    }

    /// `domain api`, `task T-1`, `total`.
    pub fn what(&self) -> String {
        if self.name.is_empty() {
            self.scope.to_owned()
        } else {
            format!("{} {}", self.scope, self.name)
        }
    }

    /// A key naming this budget at its current size (for once-only notices).
    pub fn key(&self) -> String {
        format!("{} {} {:.6}", self.what(), self.unit, self.budget())
    }
}

/// The usage totals of `domains` (absent ones count as nothing spent).
pub fn usages(snapshot: &Snapshot, domains: &[String]) -> Result<Vec<Usage>, CommError> {
    let mut out = Vec::new();
    for d in domains {
        if let Some(u) = snapshot.read_yaml::<Usage>(&Usage::path_of(d))? {
            out.push(u);
        }
    }
    Ok(out)
}

fn lines_of(
    out: &mut Vec<BudgetLine>,
    scope: &'static str,
    name: &str,
    amount: Option<Amount>,
    granted: super::Granted,
    spent: Spend,
) {
    let amount = amount.unwrap_or_default();
    if amount.usd.is_some() || granted.usd > 0.0 {
        out.push(BudgetLine {
            scope,
            name: name.to_owned(),
            unit: "usd",
            limit: amount.usd().unwrap_or(0.0),
            granted: granted.usd,
            spent: spent.usd,
        });
    }
    if amount.tokens.is_some() || granted.tokens > 0 {
        out.push(BudgetLine {
            scope,
            name: name.to_owned(),
            unit: "tokens",
            limit: amount.tokens().unwrap_or(0) as f64,
            granted: granted.tokens as f64,
            spent: spent.tokens as f64,
        });
    }
}

/// Every budget with its spend: the total, each domain, each task anyone
/// spent on or was granted for. `only` narrows it to what one dispatch of
/// a domain (and its task) is checked against.
pub fn spend_report(
    snapshot: &Snapshot,
    budget: &Budget,
    domains: &[String],
    only: Option<(&str, Option<&str>)>,
) -> Result<Vec<BudgetLine>, CommError> {
    let usages = usages(snapshot, domains)?;
    let grants = Grants::read(snapshot)?;
    let mut out = Vec::new();
    let mut total = Spend::default();
    for u in &usages {
        total.add(Spend::of(&u.totals()));
    }
    lines_of(
        &mut out,
        "total",
        "",
        budget.total,
        Default::default(),
        total,
    );
    for d in domains {
        if only.is_some_and(|(o, _)| o != d) {
            continue;
        }
        let spent = usages
            .iter()
            .find(|u| &u.domain == d)
            .map(|u| Spend::of(&u.totals()))
            .unwrap_or_default();
        lines_of(
            &mut out,
            "domain",
            d,
            budget.per_domain(d),
            grants.domain(d),
            spent,
        );
    }
    let mut tasks: BTreeMap<&str, (Spend, Option<&str>, f64)> = BTreeMap::new();
    for u in &usages {
        for (t, totals) in &u.by_task {
            let e = tasks.entry(t).or_insert((Spend::default(), None, -1.0));
            let s = Spend::of(totals);
            e.0.add(s);
            if s.usd > e.2 {
                e.1 = Some(u.domain.as_str());
                e.2 = s.usd;
            }
        }
    }
    for t in grants.tasks.keys() {
        tasks.entry(t).or_insert((Spend::default(), None, -1.0));
    }
    if let Some((d, Some(t))) = only {
        let e = tasks.remove(t).unwrap_or_default();
        tasks = BTreeMap::from([(t, (e.0, Some(d), 0.0))]);
    } else if only.is_some() {
        tasks.clear();
    }
    for (t, (spent, spender, _)) in tasks {
        let owner = match spender {
            Some(d) if only.is_some() => Some(d.to_owned()),
            _ => task::get(snapshot, t)?
                .and_then(|task| task.domain)
                .or(spender.map(str::to_owned)),
        };
        let amount = match &owner {
            Some(d) => budget.per_task(d),
            None => budget.per_task,
        };
        lines_of(&mut out, "task", t, amount, grants.task(t), spent);
    }
    Ok(out)
}

/// The message budgets (`messages_per_task`, plus the task's granted
/// tokens) of every domain that sent messages about a task, with the tokens
/// sent: scope `messages`, name `DOMAIN TASK`.
pub fn message_lines(
    snapshot: &Snapshot,
    budget: &Budget,
    domains: &[String],
) -> Result<Vec<BudgetLine>, CommError> {
    let grants = Grants::read(snapshot)?;
    let mut out = Vec::new();
    for d in domains {
        let Some(limit) = budget.messages_per_task(d) else {
            continue;
        };
        let state = super::DomainState::read(snapshot, d)?;
        for (task, sent) in &state.messages {
            out.push(BudgetLine {
                scope: "messages",
                name: format!("{d} {task}"),
                unit: "tokens",
                limit: limit as f64,
                granted: grants.task(task).tokens as f64,
                spent: *sent as f64,
            });
        }
    }
    Ok(out)
}

/// How much a domain got for what it spent (shown with a budget request).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Efficiency {
    pub domain: String,
    pub spent_usd: f64,
    pub tokens: u64,
    pub turns: u64,
    pub tasks_worked: u64,
    pub tasks_done: u64,
    /// Spent over the tasks done (`None` before the first one).
    pub usd_per_task_done: Option<f64>,
    /// Spent over the changes of its tasks that landed on main through the
    /// queue (a landing marks its task done).
    pub usd_per_landed_change: Option<f64>,
}

impl Efficiency {
    /// A Markdown table of it.
    pub fn table(&self) -> String {
        let per = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("${v:.4}"));
        format!(
            "| spent | tokens | turns | tasks worked on | tasks done | cost per task done | cost per landed change |\n\
             | --- | --- | --- | --- | --- | --- | --- |\n\
             | ${:.4} | {} | {} | {} | {} | {} | {} |\n",
            self.spent_usd,
            self.tokens,
            self.turns,
            self.tasks_worked,
            self.tasks_done,
            per(self.usd_per_task_done),
            per(self.usd_per_landed_change),
        )
    }
}

/// `domain`'s efficiency: its spend against the tasks it worked on that
/// are done (read from their task files; no history walk).
pub fn efficiency(snapshot: &Snapshot, domain: &str) -> Result<Efficiency, CommError> {
    let usage: Usage = snapshot
        .read_yaml(&Usage::path_of(domain))?
        .unwrap_or_default();
    let spend = Spend::of(&usage.totals());
    let mut done = 0u64;
    let mut landed = 0u64;
    for id in usage.by_task.keys() {
        if let Some(t) = task::get(snapshot, id)? {
            if t.status == task::Status::Done {
                done += 1;
                if t.assignee.as_deref() == Some(domain) {
                    landed += 1;
                }
            }
        }
    }
    let per = |n: u64| (n > 0).then(|| spend.usd / n as f64);
    Ok(Efficiency {
        domain: domain.to_owned(),
        spent_usd: spend.usd,
        tokens: spend.tokens,
        turns: usage.turns,
        tasks_worked: usage.by_task.len() as u64,
        tasks_done: done,
        usd_per_task_done: per(done),
        usd_per_landed_change: per(landed),
    })
}
