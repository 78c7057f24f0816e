//! What the cockpit shows, read from comm and `up`'s state files in one
//! pass: [`status::gather`]'s picture of each domain, plus the task graph
//! (by status, convoys, what waits on what), the human's open questions,
//! the merge queue and the newest events with a burn rate per domain.
//!
//! It only reads: no lease is reaped, no event written. Its history walk
//! is bounded ([`FEED_LIMIT`] events), so a long-lived `comm` costs the
//! same per redraw as a young one; with a [`Cache`] (what `watch` keeps)
//! a redraw walks only the events since the last one, and the task part
//! is updated from the changed task files alone.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use super::tasks::{TaskView, TasksPart};

use crate::comm::{self, budget, task, CommError, Snapshot};
use crate::config::Loaded;
use crate::git::Repo;
use crate::health;
use crate::runtime::Turn;
use crate::status::{self, Status, StatusError};

/// Events read for the feed and the burn sparklines, newest first.
pub const FEED_LIMIT: usize = 500;
/// The kind of a message one sends (`comm-node send`): the only kind of
/// the human's inbox that asks something.
const MSG_KIND: &str = "msg";
/// Minutes the burn sparkline covers.
pub const BURN_MINUTES: usize = 30;
/// Waiting chains the model keeps (the Work panel shows the first few).
pub const CHAINS: usize = 10;

/// Everything one frame shows.
#[derive(Debug, Clone)]
pub struct Model {
    /// The clock the ages are measured against.
    pub now: i64,
    pub status: Status,
    pub domains: Vec<DomainRow>,
    pub work: Work,
    pub queue: QueueView,
    /// Newest first.
    pub feed: Vec<FeedItem>,
}

/// What an agent is up to, most pressing first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentState {
    Halted,
    OverBudget,
    Crashed,
    Failed,
    Stalled,
    Working,
    Idle,
    NotRunning,
}

impl AgentState {
    pub fn label(self) -> &'static str {
        match self {
            AgentState::Halted => "halted",
            AgentState::OverBudget => "over budget",
            AgentState::Crashed => "crashed",
            AgentState::Failed => "failed",
            AgentState::Stalled => "stalled",
            AgentState::Working => "working",
            AgentState::Idle => "idle",
            AgentState::NotRunning => "not running",
        }
    }

    /// Whether the human should look at it.
    pub fn alarming(self) -> bool {
        matches!(
            self,
            AgentState::Halted
                | AgentState::OverBudget
                | AgentState::Crashed
                | AgentState::Failed
                | AgentState::Stalled
        )
    }
}

/// Spend against one budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    pub spent: f64,
    pub budget: f64,
    /// `usd` or `tokens`.
    pub unit: &'static str,
}

impl Gauge {
    /// Spent over budget, 0 when there is none.
    pub fn ratio(&self) -> f64 {
        if self.budget > 0.0 {
            self.spent / self.budget
        } else {
            0.0
        }
    }

    /// `$1.20/$5.00` or `12k/50k tok`.
    pub fn label(&self) -> String {
        if self.unit == "usd" {
            format!("${:.2}/${:.2}", self.spent, self.budget)
        } else {
            format!("{}/{} tok", short(self.spent), short(self.budget))
        }
    }
}

fn short(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.0}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// One domain's row.
#[derive(Debug, Clone)]
pub struct DomainRow {
    pub name: String,
    pub state: AgentState,
    /// The task it holds, with its title.
    pub task: Option<(String, String)>,
    /// Its running turn's tool call (`up`'s now.json).
    pub doing: Option<String>,
    pub unread: usize,
    /// Its domain budget, when comm.yaml or a grant sets one.
    pub budget: Option<Gauge>,
    /// What it spent, budget or not.
    pub spent_usd: f64,
    pub ahead: Option<usize>,
    pub behind: Option<usize>,
    pub reservations: Vec<String>,
    /// Cost per minute over the last [`BURN_MINUTES`], oldest first, in
    /// hundredths of a cent.
    pub burn: Vec<u64>,
    /// The halt's reason.
    pub halt: Option<String>,
}

/// The task graph as the Work panel shows it.
#[derive(Debug, Clone, Default)]
pub struct Work {
    pub counts: status::TaskCounts,
    /// Open or claimed, claimed first, then most urgent first (each line
    /// shared with the next frames while its task is unchanged).
    pub active: Arc<[Arc<TaskLine>]>,
    pub convoys: Arc<[Convoy]>,
    /// The [`CHAINS`] longest waiting chains, longest first; the first is
    /// the bottleneck.
    pub chains: Arc<[Chain]>,
    /// Messages to the human not yet acknowledged, oldest first.
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskLine {
    pub id: String,
    pub status: task::Status,
    pub ready: bool,
    pub domain: Option<String>,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Convoy {
    pub id: String,
    pub title: String,
    pub done: usize,
    pub total: usize,
}

/// A task, what it waits on, what that waits on...: `links[0]` waits on
/// `links[1]`, and so on; the last is what everyone waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// Task id and its domain.
    pub links: Vec<(String, Option<String>)>,
    /// Whether the chain crosses domains.
    pub cross: bool,
}

#[derive(Debug, Clone)]
pub struct Question {
    pub id: String,
    pub from: String,
    pub subject: String,
    pub age: i64,
}

/// The merge queue.
#[derive(Debug, Clone, Default)]
pub struct QueueView {
    /// Domain, short head, task.
    pub entries: Vec<(String, String, Option<String>)>,
    pub running: bool,
    /// The step the run in progress is at, and since when.
    pub step: Option<crate::queue::CurrentStep>,
    /// The last landings and rejections, newest first.
    pub decisions: Vec<FeedItem>,
}

/// One event of the feed.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub seq: u64,
    pub time: i64,
    pub kind: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    /// The event's own id (to open it).
    pub id: String,
}

impl FeedItem {
    /// Whether it concerns `domain` (sent by it or to it).
    pub fn touches(&self, domain: &str) -> bool {
        self.from == domain || self.to.iter().any(|t| t == domain)
    }
}

/// What a redraw keeps from the last one: the task graph's part of the
/// model, brought up to date with only the task files that changed (most
/// events, messages and turns, leave `tasks/` alone).
#[derive(Default)]
pub struct Cache {
    tasks: Option<TaskView>,
    history: History,
    /// The human's unread questions at a tip of comm (its cursor is on
    /// comm too, so the tip decides them).
    questions: Option<(Option<git2::Oid>, Vec<comm::Message>)>,
}

/// The newest [`FEED_LIMIT`] events, newest first, kept across redraws:
/// a redraw reads only the events above the last tip it saw.
#[derive(Default)]
struct History {
    events: Vec<comm::Logged>,
}

impl History {
    /// Brings the events up to the tip of comm: walks back from it until
    /// the newest event kept (all of them when comm was rewritten: the
    /// walk does not meet it then and reads [`FEED_LIMIT`] events afresh).
    fn update(&mut self, repo: &Repo, tip: Option<git2::Oid>) -> Result<(), CommError> {
        let newest = self.events.first().map(|l| l.commit);
        let mut fresh = Vec::new();
        let mut met = false;
        comm::walk(repo, tip, |logged| {
            if Some(logged.commit) == newest {
                met = true;
                return ControlFlow::Break(());
            }
            fresh.push(logged);
            if fresh.len() >= FEED_LIMIT {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        if met {
            fresh.append(&mut self.events);
            fresh.truncate(FEED_LIMIT);
        }
        self.events = fresh;
        Ok(())
    }
}

impl Model {
    /// Reads the model of `repo` as of `now`.
    pub fn gather(repo: &Repo, loaded: &Loaded, now: i64) -> Result<Model, StatusError> {
        Model::gather_cached(repo, loaded, now, &mut Cache::default())
    }

    /// [`Model::gather`], reusing what `cache` holds from the last frame.
    pub fn gather_cached(
        repo: &Repo,
        loaded: &Loaded,
        now: i64,
        cache: &mut Cache,
    ) -> Result<Model, StatusError> {
        let config = &loaded.config;
        let snapshot = Snapshot::take(repo)?;
        let view = match &mut cache.tasks {
            Some(view) => {
                view.update(&snapshot)?;
                view
            }
            empty => empty.insert(TaskView::load(&snapshot)?),
        };
        let part = view.part().clone();
        let liveness = if snapshot.tip().is_some() {
            // liveness_of keeps the claimed ones.
            health::liveness_of(repo, config, now, view.board().tasks())?
        } else {
            Default::default()
        };
        let status = status::gather_counted(repo, loaded, now, liveness, Some(part.counts), false)?;
        let names: Vec<String> = config.domains.keys().cloned().collect();
        let lines = budget::spend_report(&snapshot, &config.budget, &names, None)?;
        cache.history.update(repo, snapshot.tip())?;
        let history = &cache.history.events;
        let feed: Vec<FeedItem> = history
            .iter()
            .map(|l| FeedItem {
                seq: l.event.seq,
                time: l.time,
                kind: l.event.kind.clone(),
                from: l.event.from.clone(),
                to: l.event.to.clone(),
                subject: l.event.subject.clone(),
                id: l.event.id.clone(),
            })
            .collect();
        let burn = burn(history, now);
        let domains = status
            .domains
            .iter()
            .map(|d| domain_row(d, &lines, &part.active, &feed, &burn))
            .collect();
        let asked = match &cache.questions {
            Some((tip, asked)) if *tip == snapshot.tip() => asked,
            _ => {
                let asked = comm::inbox_at(&snapshot, comm::HUMAN)?
                    .into_iter()
                    .filter(|m| m.kind == MSG_KIND)
                    .collect();
                &cache.questions.insert((snapshot.tip(), asked)).1
            }
        };
        let work = work(asked, part, now);
        let queue = queue(repo, &snapshot, &feed)?;
        Ok(Model {
            now,
            status,
            domains,
            work,
            queue,
            feed,
        })
    }
}

/// Hundredths of a cent spent per minute and domain, from `turn` events.
fn burn(history: &[comm::Logged], now: i64) -> HashMap<String, Vec<u64>> {
    let mut out: HashMap<String, Vec<u64>> = HashMap::new();
    for l in history {
        let Some(turn) = Turn::from_event(&l.event) else {
            continue;
        };
        let age = (now - l.time).max(0) as usize / 60;
        if age >= BURN_MINUTES {
            continue;
        }
        let row = out
            .entry(turn.domain.clone())
            .or_insert_with(|| vec![0; BURN_MINUTES]);
        row[BURN_MINUTES - 1 - age] += (turn.cost_usd * 10_000.0).round() as u64;
    }
    out
}

fn domain_row(
    d: &status::DomainStatus,
    lines: &[budget::BudgetLine],
    active: &[Arc<TaskLine>],
    feed: &[FeedItem],
    burn: &HashMap<String, Vec<u64>>,
) -> DomainRow {
    let line = lines
        .iter()
        .filter(|l| l.scope == "domain" && l.name == d.name)
        .max_by(|a, b| a.fraction().total_cmp(&b.fraction()));
    let budget = line.map(|l| Gauge {
        spent: l.spent,
        budget: l.budget(),
        unit: l.unit,
    });
    let over = line.is_some_and(|l| l.budget() > 0.0 && l.spent >= l.budget());
    let runtime = d.runtime.as_ref();
    let run_state = runtime.map(|r| r.state.as_str());
    // Crashed: its newest word from `up` is a crash, not a turn that ended.
    let crashed = feed
        .iter()
        .find(|f| {
            f.from == d.name
                && (f.kind == crate::runtime::CRASHED_KIND || f.kind == crate::runtime::TURN_KIND)
        })
        .is_some_and(|f| f.kind == crate::runtime::CRASHED_KIND)
        || run_state == Some("restarting");
    let state = if d.halted.is_some() {
        AgentState::Halted
    } else if over {
        AgentState::OverBudget
    } else if run_state == Some("failed") {
        AgentState::Failed
    } else if crashed && runtime.is_some_and(|r| r.running) {
        AgentState::Crashed
    } else if d.stalled {
        AgentState::Stalled
    } else if run_state == Some("working") || run_state == Some("suspended") {
        AgentState::Working
    } else if runtime.is_some_and(|r| r.running) {
        AgentState::Idle
    } else {
        AgentState::NotRunning
    };
    let task = d.claimed.first().map(|id| {
        let title = active
            .iter()
            .find(|t| &t.id == id)
            .map(|t| t.title.clone())
            .unwrap_or_default();
        (id.clone(), title)
    });
    DomainRow {
        name: d.name.clone(),
        state,
        task,
        doing: runtime.and_then(|r| r.tool.clone()),
        unread: d.unread,
        budget,
        spent_usd: d.usage.as_ref().map_or(0.0, |u| u.totals().cost_usd),
        ahead: d.main.map(|m| m.ahead),
        behind: d.main.map(|m| m.behind),
        reservations: d.reservations.clone(),
        burn: burn
            .get(&d.name)
            .cloned()
            .unwrap_or_else(|| vec![0; BURN_MINUTES]),
        halt: d.halted.as_ref().map(|h| h.reason.clone()),
    }
}

fn work(asked: &[comm::Message], part: TasksPart, now: i64) -> Work {
    let questions = asked
        .iter()
        .map(|m| Question {
            id: m.id.clone(),
            from: m.from.clone(),
            subject: m.subject.clone(),
            age: (now - m.time).max(0),
        })
        .collect();
    Work {
        counts: part.counts,
        active: part.active,
        convoys: part.convoys,
        chains: part.chains,
        questions,
    }
}

fn queue(repo: &Repo, snapshot: &Snapshot, feed: &[FeedItem]) -> Result<QueueView, CommError> {
    let entries = crate::queue::pending(snapshot)?
        .into_iter()
        .map(|e| (e.domain.clone(), e.short().to_owned(), e.task.clone()))
        .collect();
    let step = crate::queue::current::current(repo);
    let running = step.is_some() || crate::queue::is_running(repo);
    let decisions = feed
        .iter()
        .filter(|f| f.kind == crate::queue::LANDED_KIND || f.kind == crate::queue::REJECTED_KIND)
        .take(8)
        .cloned()
        .collect();
    Ok(QueueView {
        entries,
        running,
        step,
        decisions,
    })
}
