//! The one pass over `comm` that `report` needs: a first-parent walk that
//! reads commit messages only (no trees), folded into the few facts the
//! charts draw. Nothing here renders or escapes; every string kept is raw
//! event text, which the renderers must escape.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use crate::comm::{self, CommError, Event, COMM_REF, HUMAN, SYSTEM_ACTOR};
use crate::git::Repo;
use crate::queue::decision;
use crate::queue::runner::Timing;

/// A task's life as the events tell it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskSpan {
    pub id: String,
    pub title: String,
    /// Who it was added for, when the add event said so.
    pub domain: Option<String>,
    /// The domain that last claimed or finished it.
    pub assignee: Option<String>,
    pub added: Option<i64>,
    pub claimed: Option<i64>,
    pub finished: Option<i64>,
    /// `open`, `claimed`, `done`, `failed` or `cancelled`.
    pub status: String,
    /// The last time any event touched it.
    pub last: i64,
}

impl TaskSpan {
    /// The lane the timeline draws it in.
    pub fn lane(&self) -> Option<&str> {
        self.assignee.as_deref().or(self.domain.as_deref())
    }
}

/// A `halt` of one or more domains.
#[derive(Debug, Clone, PartialEq)]
pub struct Halt {
    pub at: i64,
    pub domains: Vec<String>,
    pub reason: String,
}

/// One `turn` of a domain's agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub at: i64,
    pub domain: String,
    pub cost_usd: f64,
    pub tokens_in: u64,
    pub tokens_out: u64,
}

/// The messages from one sender to one recipient.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traffic {
    pub count: u64,
    /// The sum of their `Comm-Tokens` estimates.
    pub tokens: u64,
}

/// One merge queue entry: its submission and its decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueEntry {
    pub id: String,
    pub domain: String,
    pub task: Option<String>,
    pub submitted: Option<i64>,
    pub decided: Option<i64>,
    /// `landed`, a rejection reason (`conflict`, `tests`, `timeout`,
    /// `boundary`, `missing`, `rejected`), or `pending`.
    pub outcome: String,
    pub summary: String,
    /// The commands of the test run that decided it, with their durations
    /// (none for a decision no test run made, or one written before the
    /// queue recorded them).
    pub timings: Vec<Timing>,
}

impl QueueEntry {
    /// Whether the queue refused it.
    pub fn rejected(&self) -> bool {
        !matches!(self.outcome.as_str(), "landed" | "pending")
    }
}

/// A line of the latest-events table.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub seq: u64,
    pub at: i64,
    pub kind: String,
    pub from: String,
    pub subject: String,
}

/// How many of the newest events the page lists as text.
pub const LATEST: usize = 40;

/// Everything the charts draw, from events at or after `since`.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Events read (after `since`).
    pub events: usize,
    /// Time of the earliest and latest event read (0 when none).
    pub start: i64,
    pub end: i64,
    /// Every domain that acted or was named, without `human` and `comm-node`.
    pub domains: BTreeSet<String>,
    pub tasks: BTreeMap<String, TaskSpan>,
    pub halts: Vec<Halt>,
    pub turns: Vec<Turn>,
    pub messages: BTreeMap<(String, String), Traffic>,
    pub queue: Vec<QueueEntry>,
    /// The newest [`LATEST`] events, newest first.
    pub latest: Vec<Line>,
}

/// Reads the `comm` history at or after `since` (seconds since the epoch).
/// The walk stops at the first older commit: along comm's first-parent
/// chain every append, and every replay at `sync`, commits at its own
/// now, so times rise but for clock skew between clones.
pub fn read(repo: &Repo, since: Option<i64>) -> Result<History, CommError> {
    let mut events: Vec<(i64, Event)> = Vec::new();
    comm::walk(repo, repo.ref_tip(COMM_REF)?, |logged| {
        if since.is_some_and(|s| logged.time < s) {
            return ControlFlow::Break(());
        }
        events.push((logged.time, logged.event));
        ControlFlow::Continue(())
    })?;
    events.reverse();
    Ok(fold(events))
}

/// Folds events, oldest first, into a [`History`].
pub fn fold(events: Vec<(i64, Event)>) -> History {
    let mut h = History {
        events: events.len(),
        // Commit times need not rise along the chain (clocks differ
        // between clones, a sync replays old events on top).
        start: events.iter().map(|e| e.0).min().unwrap_or(0),
        end: events.iter().map(|e| e.0).max().unwrap_or(0),
        ..History::default()
    };
    let mut queue_index: BTreeMap<String, usize> = BTreeMap::new();
    for (at, e) in events.iter().rev().take(LATEST) {
        h.latest.push(Line {
            seq: e.seq,
            at: *at,
            kind: e.kind.clone(),
            from: e.from.clone(),
            subject: e.subject.clone(),
        });
    }
    for (at, e) in events {
        note_domain(&mut h.domains, &e.from);
        match e.kind.as_str() {
            "task" => task_event(&mut h, at, &e),
            "msg" => {
                let tokens = e.field("Tokens").and_then(|t| t.parse().ok()).unwrap_or(0);
                for to in &e.to {
                    note_domain(&mut h.domains, to);
                    let t = h.messages.entry((e.from.clone(), to.clone())).or_default();
                    t.count += 1;
                    t.tokens += tokens;
                }
            }
            "turn" => h.turns.push(Turn {
                at,
                domain: e.from.clone(),
                cost_usd: e
                    .field("Cost-Usd")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0.0),
                tokens_in: num(&e, "Tokens-In"),
                tokens_out: num(&e, "Tokens-Out"),
            }),
            "halt" => {
                let domains: Vec<String> = e
                    .field("Domains")
                    .map(|d| d.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_else(|| e.to.clone());
                for d in &domains {
                    note_domain(&mut h.domains, d);
                }
                h.halts.push(Halt {
                    at,
                    domains,
                    reason: e.body.trim().to_owned(),
                });
            }
            "submit" => {
                let entry = queue_entry(&mut h.queue, &mut queue_index, &e.id);
                entry.domain = e.from.clone();
                entry.task = e.field("Task").map(str::to_owned);
                entry.submitted = Some(at);
                if entry.outcome.is_empty() {
                    entry.outcome = "pending".into();
                }
                entry.summary = e.subject.clone();
            }
            "landed" | "rejected" => {
                let Some(id) = e.field("Entry") else { continue };
                let entry = queue_entry(&mut h.queue, &mut queue_index, id);
                if let Some(d) = e.field("Domain") {
                    entry.domain = d.to_owned();
                    note_domain(&mut h.domains, d);
                }
                if entry.task.is_none() {
                    entry.task = e.field("Task").map(str::to_owned);
                }
                entry.decided = Some(at);
                entry.outcome = if e.kind == "landed" {
                    "landed".into()
                } else {
                    e.field("Reason").unwrap_or("rejected").to_owned()
                };
                entry.summary = e.subject.clone();
                entry.timings = decision::timings(&e);
                if e.kind == "landed" && e.field("Task-Done") == Some("yes") {
                    if let Some(task) = e.field("Task") {
                        finish(&mut h, task, at, "done", e.field("Domain"));
                    }
                }
            }
            _ => {}
        }
    }
    h
}

fn num(e: &Event, key: &str) -> u64 {
    e.field(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn note_domain(domains: &mut BTreeSet<String>, name: &str) {
    if !name.is_empty() && name != HUMAN && name != SYSTEM_ACTOR && name != comm::ALL {
        domains.insert(name.to_owned());
    }
}

fn queue_entry<'a>(
    queue: &'a mut Vec<QueueEntry>,
    index: &mut BTreeMap<String, usize>,
    id: &str,
) -> &'a mut QueueEntry {
    let i = *index.entry(id.to_owned()).or_insert_with(|| {
        queue.push(QueueEntry {
            id: id.to_owned(),
            ..QueueEntry::default()
        });
        queue.len() - 1
    });
    &mut queue[i]
}

fn span<'a>(h: &'a mut History, id: &str, at: i64) -> &'a mut TaskSpan {
    let span = h.tasks.entry(id.to_owned()).or_insert_with(|| TaskSpan {
        id: id.to_owned(),
        status: "open".into(),
        ..TaskSpan::default()
    });
    span.last = at;
    span
}

fn finish(h: &mut History, id: &str, at: i64, status: &str, by: Option<&str>) {
    let span = span(h, id, at);
    span.finished = Some(at);
    span.status = status.to_owned();
    if let Some(by) = by.filter(|b| *b != HUMAN && *b != SYSTEM_ACTOR) {
        span.assignee.get_or_insert_with(|| by.to_owned());
    }
}

fn task_event(h: &mut History, at: i64, e: &Event) {
    let Some(ids) = e.field("Task") else { return };
    let action = e.field("Action").unwrap_or("");
    let by = e.from.as_str();
    for id in ids.split_whitespace() {
        match action {
            "add" | "import" => {
                let span = span(h, id, at);
                span.added = Some(at);
                // `task ID added for DOMAIN: TITLE` / `task ID added: TITLE`
                if let Some((head, title)) = e.subject.split_once(": ") {
                    span.title = title.to_owned();
                    if let Some(domain) = head.split_once(" added for ").map(|(_, d)| d) {
                        span.domain = Some(domain.to_owned());
                    }
                }
                if let Some(d) = span.domain.clone() {
                    note_domain(&mut h.domains, &d);
                }
            }
            "claim" => {
                let span = span(h, id, at);
                span.claimed = Some(at);
                span.finished = None;
                span.status = "claimed".into();
                span.assignee = Some(by.to_owned());
                title_from(span, e);
            }
            "done" | "failed" | "cancel" => {
                let status = match action {
                    "cancel" => "cancelled",
                    other => other,
                };
                finish(h, id, at, status, Some(by));
            }
            "reopen" | "lapse" => {
                let span = span(h, id, at);
                span.status = "open".into();
                span.claimed = None;
                span.finished = None;
            }
            "reassign" => {
                let span = span(h, id, at);
                if let Some(to) = e.to.first() {
                    span.assignee = Some(to.clone());
                }
            }
            _ => {
                span(h, id, at);
            }
        }
    }
}

/// Subjects end in `: TITLE`; a span seen first after `since` takes its
/// title from there.
fn title_from(span: &mut TaskSpan, e: &Event) {
    if span.title.is_empty() {
        if let Some((_, title)) = e.subject.split_once(": ") {
            span.title = title.to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, from: &str, subject: &str, fields: &[(&str, &str)]) -> Event {
        let mut e = Event::new(kind, from, subject);
        e.fields = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        e
    }

    #[test]
    fn a_task_goes_from_claim_to_done() {
        let events = vec![
            (
                10,
                event(
                    "task",
                    "human",
                    "task T-1 added for web: build it",
                    &[("Task", "T-1"), ("Action", "add")],
                ),
            ),
            (
                20,
                event(
                    "task",
                    "web",
                    "task T-1 claimed by web: build it",
                    &[("Task", "T-1"), ("Action", "claim")],
                ),
            ),
            (
                30,
                event(
                    "task",
                    "web",
                    "task T-1 done by web: build it",
                    &[("Task", "T-1"), ("Action", "done")],
                ),
            ),
        ];
        let h = fold(events);
        let t = &h.tasks["T-1"];
        assert_eq!(
            (t.added, t.claimed, t.finished),
            (Some(10), Some(20), Some(30))
        );
        assert_eq!((t.status.as_str(), t.lane()), ("done", Some("web")));
        assert_eq!(t.title, "build it");
        assert_eq!((h.start, h.end, h.events), (10, 30, 3));
    }

    #[test]
    fn a_queue_entry_pairs_its_submission_with_its_decision() {
        let mut submit = event("submit", "api", "queue: api submitted abc", &[]);
        submit.id = "E1".into();
        let rejected = event(
            "rejected",
            SYSTEM_ACTOR,
            "queue: rejected api abc: conflicts in a",
            &[("Entry", "E1"), ("Domain", "api"), ("Reason", "conflict")],
        );
        let h = fold(vec![(5, submit), (9, rejected)]);
        assert_eq!(h.queue.len(), 1);
        let q = &h.queue[0];
        assert_eq!((q.submitted, q.decided), (Some(5), Some(9)));
        assert_eq!(q.outcome, "conflict");
        assert!(q.rejected());
        assert!(q.timings.is_empty(), "no test run decided it");
    }

    #[test]
    fn a_decision_brings_its_command_durations() {
        let landed = event(
            "landed",
            SYSTEM_ACTOR,
            "queue: landed api abc on main",
            &[
                ("Entry", "E1"),
                ("Setup-Time", "1500ms npm ci"),
                ("Test-Time", "2250ms npm test"),
            ],
        );
        let h = fold(vec![(9, landed)]);
        let got: Vec<(&str, u64)> = h.queue[0]
            .timings
            .iter()
            .map(|t| (t.command.as_str(), t.millis))
            .collect();
        assert_eq!(got, [("npm ci", 1500), ("npm test", 2250)]);
    }

    #[test]
    fn messages_count_per_recipient_with_tokens() {
        let mut m = event("msg", "api", "api → web, docs: hi", &[("Tokens", "12")]);
        m.to = vec!["web".into(), "docs".into()];
        let h = fold(vec![(1, m.clone()), (2, m)]);
        let t = &h.messages[&("api".to_owned(), "web".to_owned())];
        assert_eq!((t.count, t.tokens), (2, 24));
        assert_eq!(h.domains.len(), 3);
    }
}
