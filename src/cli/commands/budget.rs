//! `comm-node budget [request|grant]`: spend against every budget, an
//! agent's request for more, the human's grant.

use comm_node::comm::{self, budget, Snapshot};
use serde::Serialize;

use crate::cli::{ui, CliError, Ctx, Kind};

/// Spend against every budget of comm.yaml's `budget:` (the total, each
/// domain, each task, each domain's messages about each task), from the
/// running totals on comm (`usage/*.yaml`, `budget/*.yaml`) plus what the
/// human granted (`grants.yaml`). Without a subcommand, show
/// them; `request` asks the human for more; `grant` (the human only) gives it.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Ask the human for more budget: one event to `human` with the reason
    /// and this domain's efficiency (cost per task done, per landed change).
    Request {
        /// US dollars (`5`, `$5`, `5usd`) or tokens (`200000tokens`, `200ktokens`).
        amount: String,
        /// What the budget is for.
        #[arg(long)]
        reason: String,
    },
    /// Raise a domain's or a task's budget (the human only). A paused
    /// domain resumes: `up` sees the grant on comm.
    Grant {
        /// A domain name or a task id (`T-...`).
        target: String,
        /// US dollars (`5`, `$5`, `5usd`) or tokens (`200000tokens`, `200ktokens`).
        amount: String,
    },
}

#[derive(Serialize)]
struct Shown {
    budgets: Vec<Row>,
    per_turn: Vec<PerTurn>,
}

#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    line: budget::BudgetLine,
    budget: f64,
    left: f64,
    percent: f64,
    over: bool,
}

#[derive(Serialize)]
struct PerTurn {
    domain: String,
    usd: Option<f64>,
    tokens: Option<u64>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    match args.command {
        None => show(ctx),
        Some(Sub::Request { amount, reason }) => {
            let repo = ctx.repo()?;
            let me = ctx.actor(&repo)?;
            let amount = budget::parse_amount(&amount)?;
            let appended = budget::request(&repo, &me, amount, &reason)?;
            done(ctx, &appended)
        }
        Some(Sub::Grant { target, amount }) => {
            let repo = ctx.repo()?;
            let me = ctx.actor(&repo)?;
            if me != comm::HUMAN {
                return Err(CliError::new(
                    Kind::Refused,
                    format!("only the human grants budget, not `{me}`"),
                )
                .hint("ask for it: comm-node budget request AMOUNT --reason TEXT"));
            }
            let amount = budget::parse_amount(&amount)?;
            let target = budget::Target::parse(&target);
            let appended = budget::grant(&repo, &me, &target, amount)?;
            done(ctx, &appended)
        }
    }
}

fn done(ctx: &Ctx, appended: &comm::Appended) -> Result<(), CliError> {
    if ctx.json {
        return Ok(ui::print_json(&serde_json::json!({
            "id": appended.event.id,
            "commit": appended.commit.to_string(),
            "subject": appended.event.subject,
        }))?);
    }
    Ok(ui::print(&format!("{}\n", appended.event.subject))?)
}

fn show(ctx: &Ctx) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let config = &loaded.config;
    let domains: Vec<String> = config.domains.keys().cloned().collect();
    let snapshot = Snapshot::take(&repo)?;
    let mut lines = budget::spend_report(&snapshot, &config.budget, &domains, None)?;
    lines.extend(budget::message_lines(&snapshot, &config.budget, &domains)?);
    let rows: Vec<Row> = lines
        .into_iter()
        .map(|line| Row {
            budget: line.budget(),
            left: line.left(),
            percent: (line.fraction() * 100.0 * 10.0).round() / 10.0,
            over: line.fraction() >= 1.0,
            line,
        })
        .collect();
    let per_turn: Vec<PerTurn> = domains
        .iter()
        .filter_map(|d| {
            let a = config.budget.per_turn(d)?;
            Some(PerTurn {
                domain: d.clone(),
                usd: a.usd(),
                tokens: a.tokens(),
            })
        })
        .collect();
    if ctx.json {
        return Ok(ui::print_json(&Shown {
            budgets: rows,
            per_turn,
        })?);
    }
    if rows.is_empty() && per_turn.is_empty() {
        return Ok(ui::print(
            "no budgets are set (add `budget:` to comm.yaml; the README's Budgets section shows how)\n",
        )?);
    }
    let mut out = String::new();
    for r in &rows {
        let l = &r.line;
        let granted = if l.granted > 0.0 {
            format!(" (granted {})", l.show(l.granted))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{:<24} {:>16} of {:>16}{granted}  {:>5.1}%{}\n",
            l.what(),
            l.show(l.spent),
            l.show(l.budget()),
            r.percent,
            if r.over { "  over budget" } else { "" }
        ));
    }
    for p in &per_turn {
        let mut parts = Vec::new();
        if let Some(u) = p.usd {
            parts.push(format!("${u}"));
        }
        if let Some(t) = p.tokens {
            parts.push(format!("{t} tokens"));
        }
        out.push_str(&format!(
            "{:<24} per turn at most {}\n",
            format!("domain {}", p.domain),
            parts.join(" and ")
        ));
    }
    Ok(ui::print(&out)?)
}
