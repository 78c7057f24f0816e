//! The rules one event must keep: what its kind lets it change, and who may
//! make that change. Each rule mirrors the writer of its kind (`message`,
//! `reservation`, `task::ops`, `artifact`, `presence`, `queue::entry`,
//! `queue::decision`, `replay`'s notices of rejections at sync,
//! `runtime::usage`, and the human's steering in `steer`), so an event
//! any comm-node command could have written passes, and a hand-made commit that claims for someone else, reserves
//! outside its scope or edits state a message may not touch is named.
//!
//! Reservations expire by the clock: a reservation counts here only if it
//! is still live at `horizon` (the verifier's clock plus a slack for skew
//! between clones), because writers prune by their own clock and replays
//! run later than the event they replay.

mod steer;

use std::collections::{BTreeMap, BTreeSet};

use git2::Oid;

use super::super::message::{ACK_KIND, KIND as MSG_KIND};
use super::super::reservation::{self, Reservation, RELEASE_KIND, RESERVE_KIND};
use super::super::steer::{Halt, HALT_DIR, HALT_KIND, INJECT_KIND, RESUME_KIND};
use super::super::task::{self, Status, Task};
use super::super::{
    artifact, presence, registrations_at, shard, signing, CommError, Event, Registration, Snapshot,
    HUMAN, SYSTEM_ACTOR,
};
use crate::git::{Repo, TreeEdit};
use crate::pathglob::PathGlob;
use crate::queue::{untested, Entry, LANDED_KIND, REJECTED_KIND, UNTESTED_KIND};
use crate::runtime::usage::CostSource;
use crate::runtime::{Totals, Turn, Usage, CRASHED_KIND, STALLED_KIND, TURN_KIND};

/// A broken rule, in words.
pub(super) type Broken = String;

/// What judging a commit needs besides the commit.
pub(super) struct Judge<'r> {
    pub repo: &'r Repo,
    /// The `shared` globs of comm.yaml (any domain may reserve them).
    pub shared: Vec<PathGlob>,
    /// Reservations expiring before this (seconds) no longer count.
    pub horizon: i64,
}

/// One event with the states around it.
struct Case<'a, 'r> {
    event: &'a Event,
    before: &'a Snapshot<'r>,
    edits: &'a [TreeEdit],
    registered: &'a BTreeMap<String, Registration>,
}

impl Judge<'_> {
    /// The first rule `commit` breaks, if any.
    pub fn judge(&self, commit: Oid) -> Result<Option<Broken>, CommError> {
        let repo = self.repo;
        let parents = repo.parent_ids(commit)?;
        let Some(event) = Event::parse(&repo.commit_message(commit)?) else {
            return Ok(Some(
                "it carries no Comm-Kind trailer: not a comm event".into(),
            ));
        };
        if parents.len() > 1 {
            return Ok(Some(format!(
                "it is a merge of {} commits; comm is linear, one parent per event",
                parents.len()
            )));
        }
        let parent = parents.first().copied();
        let before = Snapshot::at(repo, parent)?;
        match (parent, event.kind.as_str()) {
            (None, "kickoff") => {}
            (None, _) => return Ok(Some("a root commit that is not the kickoff".into())),
            (Some(_), "kickoff") => return Ok(Some("a second kickoff".into())),
            _ => {}
        }
        if event.seq != before.seq() + 1 {
            return Ok(Some(format!(
                "its Comm-Seq is {}, but its parent's is {}",
                event.seq,
                before.seq()
            )));
        }
        if event.id.is_empty() || event.from.is_empty() {
            return Ok(Some("it lacks a Comm-Id or a Comm-From".into()));
        }
        let edits = repo.commit_edits_of(commit)?;
        for edit in &edits {
            if let TreeEdit::Put { path, bytes } = edit {
                if let Some(problem) = state_file_problem(path, bytes) {
                    return Ok(Some(problem));
                }
            }
        }
        if event.kind == shard::MIGRATE_KIND {
            if event.from != SYSTEM_ACTOR {
                return Ok(Some(format!(
                    "a {} must come from `{SYSTEM_ACTOR}`, not `{}`",
                    event.kind, event.from
                )));
            }
            if let Some(broken) = shard::migrate_problem(repo, parent, &edits)? {
                return Ok(Some(broken));
            }
            return signing::signature_problem(repo, commit, &event, &before);
        }
        if let Some(broken) = shard::layout_problem(repo, parent, &edits)? {
            return Ok(Some(broken));
        }
        // Rules name task and reservation files where this version keeps
        // them; an older version's event wrote them flat (and its parent
        // holds them there, which reads of `before` fall back to).
        let edits = shard::canonical_edits(edits);
        let registered = if parent.is_none() {
            registrations_at(&Snapshot::at(repo, Some(commit))?)?
        } else {
            registrations_at(&before)?
        };
        let case = Case {
            event: &event,
            before: &before,
            edits: &edits,
            registered: &registered,
        };
        if let Some(broken) = author_problem(&case) {
            return Ok(Some(broken));
        }
        if let Some(broken) = self.kind_problem(&case)? {
            return Ok(Some(broken));
        }
        signing::signature_problem(repo, commit, &event, &before)
    }

    fn kind_problem(&self, c: &Case) -> Result<Option<Broken>, CommError> {
        let from = c.event.from.as_str();
        Ok(match c.event.kind.as_str() {
            "kickoff" | "register" => only(c, |p| is_file_in(p, "domains")),
            MSG_KIND => super::super::budget::message_problem(c.event, c.before, c.edits)?,
            super::super::budget::KIND => {
                super::super::budget::event_problem(c.event, c.before, c.edits)?
            }
            super::super::NOTICE_KIND => c.edits.first().map(|e| {
                format!(
                    "a message changes no state, but it changes {}",
                    edit_path(e)
                )
            }),
            ACK_KIND => only(c, |p| p == format!("cursors/{from}.yaml")),
            presence::KIND => only(c, |p| p == format!("agents/{from}.yaml")),
            artifact::KIND => only(c, |p| p.starts_with(&format!("artifacts/{from}/"))),
            crate::queue::SUBMIT_KIND => submit_problem(c),
            RESERVE_KIND => self.reserve_problem(c)?,
            RELEASE_KIND => self.release_problem(c)?,
            task::KIND => task_problem(c)?,
            LANDED_KIND | REJECTED_KIND => decision_problem(c)?,
            UNTESTED_KIND => only(c, |p| p == untested::STATE),
            signing::KIND => signing::key_event_problem(c.event, c.edits, c.registered),
            TURN_KIND => turn_problem(c)?,
            HALT_KIND | RESUME_KIND => steer::halt_problem(c)?,
            INJECT_KIND => steer::inject_problem(c),
            CRASHED_KIND | STALLED_KIND => c.edits.first().map(|e| {
                format!(
                    "a crash report changes no state, but it changes {}",
                    edit_path(e)
                )
            }),
            other => Some(format!("`{other}` is no event kind comm-node writes")),
        })
    }

    /// A reservation: one new file, the author's, in its scope, overlapping
    /// no live reservation of another domain where either is exclusive;
    /// besides it, only expired reservations are pruned.
    fn reserve_problem(&self, c: &Case) -> Result<Option<Broken>, CommError> {
        let from = c.event.from.as_str();
        let id = c.event.field("Reservation").unwrap_or_default();
        let own = Reservation::path_of(id);
        let Some(bytes) = put_bytes(c.edits, &own) else {
            return Ok(Some(format!("it does not write its reservation {own}")));
        };
        if c.before.read(&own)?.is_some() {
            return Ok(Some(format!("it overwrites the existing reservation {id}")));
        }
        let r: Reservation = serde_yaml::from_slice(bytes).expect("checked by state_file_problem");
        if r.domain != from {
            return Ok(Some(format!(
                "it makes a reservation for `{}`, signed by `{from}`",
                r.domain
            )));
        }
        if r.expires <= r.created {
            return Ok(Some(format!("reservation {id} expires before it starts")));
        }
        if from != HUMAN {
            if let Some(broken) = self.outside_scope(c, &r) {
                return Ok(Some(broken));
            }
        }
        let at = r.created.max(self.horizon);
        let existing = reservation::all(c.before)?;
        let globs: Vec<PathGlob> = r
            .globs
            .iter()
            .filter_map(|g| PathGlob::new(g).ok())
            .collect();
        if let Some(hit) = reservation::conflicts(&existing, from, r.mode, &globs, at).first() {
            return Ok(Some(format!(
                "reservation {id} ({}) overlaps the live {} reservation {} of `{}` ({})",
                hit.glob, hit.holder.mode, hit.holder.id, hit.holder.domain, hit.held
            )));
        }
        let pruned = |p: &str| p == own || self.expired(&existing, p, at);
        Ok(only(c, pruned))
    }

    /// The glob of `r` that leaves its holder's scope and the shared files.
    fn outside_scope(&self, c: &Case, r: &Reservation) -> Option<Broken> {
        let scope = c.registered.get(&r.domain).map_or(&[][..], |g| &g.scope);
        let mut allowed: Vec<PathGlob> =
            scope.iter().filter_map(|g| PathGlob::new(g).ok()).collect();
        allowed.extend(self.shared.iter().cloned());
        r.globs.iter().find_map(|text| {
            let outside = match PathGlob::new(text) {
                Ok(glob) => glob.uncovered(&allowed)?,
                Err(_) => return Some(format!("`{text}` is not a valid glob")),
            };
            Some(format!(
                "reservation {} of `{}` covers {outside} (`{text}`), outside its scope",
                r.id, r.domain
            ))
        })
    }

    /// A release removes reservations only: the ones it names (its
    /// author's, or anyone's for the human) and expired ones.
    fn release_problem(&self, c: &Case) -> Result<Option<Broken>, CommError> {
        let from = c.event.from.as_str();
        let named: BTreeSet<&str> = words(c.event.field("Reservation"));
        let existing = reservation::all(c.before)?;
        for edit in c.edits {
            let TreeEdit::Remove { path } = edit else {
                return Ok(Some(format!("a release writes {}", edit_path(edit))));
            };
            let Some(r) = existing.iter().find(|r| r.path() == *path) else {
                return Ok(Some(format!("a release removes {path}, no reservation")));
            };
            let mine = from == HUMAN || r.domain == from;
            if !(named.contains(r.id.as_str()) && mine || !r.is_live(self.horizon)) {
                return Ok(Some(format!(
                    "it removes the live reservation {} of `{}`, which `{from}` may not release",
                    r.id, r.domain
                )));
            }
        }
        Ok(None)
    }

    /// Whether `path` is a reservation of `existing` no longer live at `at`.
    fn expired(&self, existing: &[Reservation], path: &str, at: i64) -> bool {
        existing.iter().any(|r| r.path() == path && !r.is_live(at))
    }
}

/// Queue decisions and lapses are the system's; every other event is a
/// registered domain's or the human's, and only the human registers domains.
fn author_problem(c: &Case) -> Option<Broken> {
    let e = c.event;
    let system = matches!(
        e.kind.as_str(),
        LANDED_KIND | REJECTED_KIND | UNTESTED_KIND | super::super::NOTICE_KIND
    ) || (e.kind == task::KIND && e.field("Action") == Some("lapse"));
    let from = e.from.as_str();
    if system != (from == SYSTEM_ACTOR) {
        return Some(if system {
            format!("a {} must come from `{SYSTEM_ACTOR}`, not `{from}`", e.kind)
        } else {
            format!(
                "`{SYSTEM_ACTOR}` signs queue decisions, lapses and sync rejections only, not a {}",
                e.kind
            )
        });
    }
    let roster = matches!(e.kind.as_str(), "kickoff" | "register");
    if roster && from != HUMAN {
        return Some(format!("only the human registers domains, not `{from}`"));
    }
    let domain_only = matches!(
        e.kind.as_str(),
        presence::KIND | crate::queue::SUBMIT_KIND | TURN_KIND | CRASHED_KIND | STALLED_KIND
    ) || e.field("Action") == Some("claim");
    if (domain_only && from == HUMAN)
        || !(system || from == HUMAN || c.registered.contains_key(from))
    {
        return Some(format!("`{from}` may not sign a {}", e.kind));
    }
    None
}

/// A turn adds itself to its author's totals (`usage/<domain>.yaml`), and
/// changes nothing else: the totals after are the totals before plus the
/// turn's own fields.
fn turn_problem(c: &Case) -> Result<Option<Broken>, CommError> {
    let from = &c.event.from;
    let own = Usage::path_of(from);
    let Some(turn) = Turn::from_event(c.event) else {
        return Ok(Some(
            "its Comm-* turn fields are missing or malformed".into(),
        ));
    };
    if let Some(parent) = &turn.parent {
        if parent == &turn.session {
            return Ok(Some(
                "its Comm-Session-Parent names its own session (a handoff starts a fresh one)"
                    .into(),
            ));
        }
    }
    if let Some(problem) = turn_cost_problem(&turn) {
        return Ok(Some(problem));
    }
    let Some(bytes) = put_bytes(c.edits, &own) else {
        return Ok(Some(format!("it does not update {own}")));
    };
    let after: Usage = serde_yaml::from_slice(bytes).expect("checked by state_file_problem");
    let before: Usage = c.before.read_yaml(&own)?.unwrap_or_default();
    let expected = before.plus(&turn);
    let same_breakdown = |a: &BTreeMap<String, Totals>, b: &BTreeMap<String, Totals>| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|((ka, ta), (kb, tb))| ka == kb && ta.same_as(tb))
    };
    let same = expected.totals().same_as(&after.totals())
        && expected.duration_ms == after.duration_ms
        // Turns written before `Comm-At` kept no breakdowns.
        && (turn.at.is_none()
            || (same_breakdown(&expected.by_task, &after.by_task)
                && same_breakdown(&expected.by_day, &after.by_day)
                && same_breakdown(&expected.by_model, &after.by_model)))
        // What the scan counted per session moves only with its own turns.
        && expected.scanned == after.scanned
        && after.last_turn.as_deref() == Some(c.event.subject.as_str());
    if !same {
        return Ok(Some(format!(
            "{own} does not hold the totals before it plus this turn, named by its subject"
        )));
    }
    Ok(only(c, |p| p == own))
}

/// A cost that is not the CLI's is said to be so: a priced or unpriced
/// turn has `Cost-Reported: no`, an unpriced one costs 0, and a turn read
/// from a transcript (which reports no cost) is priced or unpriced.
fn turn_cost_problem(turn: &Turn) -> Option<Broken> {
    let not_cli = matches!(turn.cost_source, CostSource::Prices | CostSource::Unpriced);
    if not_cli && turn.cost_reported {
        return Some("its Comm-Cost-Source says the cost is not the CLI's, but it lacks Comm-Cost-Reported: no".into());
    }
    if turn.cost_source == CostSource::Unpriced && turn.cost_usd != 0.0 {
        return Some("an unpriced turn costs 0".into());
    }
    if turn.transcript && !not_cli {
        return Some(
            "a turn read from a transcript is priced from the price table (Comm-Cost-Source)"
                .into(),
        );
    }
    if turn.transcript && turn.at.is_none() {
        return Some("a turn read from a transcript carries Comm-At".into());
    }
    None
}

/// A submission writes its author's queue entry, and nothing else.
fn submit_problem(c: &Case) -> Option<Broken> {
    let from = &c.event.from;
    let own = format!("queue/{from}.yaml");
    if let Some(bytes) = put_bytes(c.edits, &own) {
        let entry: Entry = serde_yaml::from_slice(bytes).expect("checked by state_file_problem");
        if entry.id != c.event.id {
            return Some(format!(
                "its queue entry is {}, not the event's own id",
                entry.id
            ));
        }
    }
    only(c, |p| p == own)
}

/// A task event changes the tasks its action may change, as its writer does.
fn task_problem(c: &Case) -> Result<Option<Broken>, CommError> {
    let e = c.event;
    let from = e.from.as_str();
    let id = e.field("Task").unwrap_or_default();
    let own = Task::path_of(id);
    let before = task::get(c.before, id).ok().flatten();
    let after: Option<Task> =
        put_bytes(c.edits, &own).map(|b| serde_yaml::from_slice(b).expect("checked"));
    let action = e.field("Action").unwrap_or_default();
    if !matches!(action, "import" | "lapse") && after.is_none() {
        return Ok(Some(format!("a task {action} that does not write {own}")));
    }
    Ok(match (action, before, after.as_ref()) {
        ("add", None, Some(a)) => {
            if a.status != Status::Open || a.assignee.is_some() || a.created_by != from {
                Some(format!(
                    "task {id} is added as {} by {}, not open by `{from}`",
                    a.status.as_str(),
                    a.created_by
                ))
            } else {
                only(c, |p| p == own)
            }
        }
        ("add", Some(_), _) => Some(format!("task {id} already exists")),
        ("import", _, _) => only(c, |p| shard::is_in(p, task::DIR)),
        ("dep", Some(b), Some(a)) => same_but(&b, a, |t| {
            t.deps.clone_from(&b.deps);
        })
        .or_else(|| only(c, |p| p == own)),
        ("claim", Some(b), Some(a)) => claim_problem(c, &b, a).or_else(|| only(c, |p| p == own)),
        ("done" | "failed", Some(b), Some(a)) => finish_problem(c, &b, a, action)?,
        ("reopen", Some(b), Some(a)) => {
            let may = from == HUMAN
                || b.status != Status::Cancelled
                    && (b.assignee.as_deref() == Some(from) || b.created_by == from);
            if b.status == Status::Open || a.status != Status::Open {
                Some(format!(
                    "task {id} reopened from {} to {}",
                    b.status.as_str(),
                    a.status.as_str()
                ))
            } else if !may {
                Some(format!(
                    "`{from}` may not reopen task {id}: it is neither its assignee nor its creator"
                ))
            } else {
                only(c, |p| p == own)
            }
        }
        ("lapse", _, _) => lapse_problem(c)?,
        ("reassign" | "edit" | "cancel", Some(b), Some(a)) => {
            steer::task_problem(c, action, &b, a)?
        }
        (
            "dep" | "claim" | "done" | "failed" | "reopen" | "reassign" | "edit" | "cancel",
            None,
            _,
        ) => Some(format!(
            "a task {action} of task {id}, which does not exist"
        )),
        (other, _, _) => Some(format!("`{other}` is no task action comm-node writes")),
    })
}

/// A claim takes one open task for its author, changing nothing else of it.
fn claim_problem(c: &Case, b: &Task, a: &Task) -> Option<Broken> {
    let from = c.event.from.as_str();
    if c.before.read(&Halt::path_of(from)).ok().flatten().is_some() {
        return Some(format!("`{from}` claims task {} while it is halted", b.id));
    }
    if b.status != Status::Open {
        return Some(format!(
            "task {} is claimed while {}",
            b.id,
            b.status.as_str()
        ));
    }
    if a.status != Status::Claimed || a.assignee.as_deref() != Some(from) {
        return Some(format!(
            "the claim of task {} gives it to `{}`, but `{from}` signed it",
            b.id,
            a.assignee.as_deref().unwrap_or("nobody")
        ));
    }
    if b.domain.as_deref().is_some_and(|d| d != from) {
        return Some(format!(
            "task {} belongs to `{}`, not `{from}`",
            b.id,
            b.domain.as_deref().unwrap_or_default()
        ));
    }
    same_but(b, a, |t| {
        t.status = b.status;
        t.assignee.clone_from(&b.assignee);
        t.claimed_at = b.claimed_at;
        t.reason.clone_from(&b.reason);
    })
}

/// Finishing: the assignee (or the human) marks the task done or failed;
/// its reservations go, and a convoy it completes is marked done.
fn finish_problem(c: &Case, b: &Task, a: &Task, action: &str) -> Result<Option<Broken>, CommError> {
    let from = c.event.from.as_str();
    let allowed = match b.status {
        Status::Claimed => from == HUMAN || b.assignee.as_deref() == Some(from),
        Status::Open => from == HUMAN,
        Status::Done | Status::Failed | Status::Cancelled => false,
    };
    if !allowed {
        return Ok(Some(format!(
            "`{from}` may not finish task {}: it is {} (assignee {})",
            b.id,
            b.status.as_str(),
            b.assignee.as_deref().unwrap_or("none")
        )));
    }
    let wanted = if action == "done" {
        Status::Done
    } else {
        Status::Failed
    };
    if a.status != wanted {
        return Ok(Some(format!(
            "a task {action} leaves task {} {}",
            b.id,
            a.status.as_str()
        )));
    }
    finished_edits(c, &b.id, b.parent.as_deref())
}

/// The edits a finished task may bring: its own file, its parent convoy
/// marked done, the removal of reservations made for it.
fn finished_edits(c: &Case, id: &str, parent: Option<&str>) -> Result<Option<Broken>, CommError> {
    let existing = reservation::all(c.before)?;
    let for_task: BTreeSet<String> = existing
        .iter()
        .filter(|r| r.task.as_deref() == Some(id))
        .map(Reservation::path)
        .collect();
    for edit in c.edits {
        let ok = match edit {
            TreeEdit::Put { path, .. } if *path == Task::path_of(id) => true,
            TreeEdit::Put { path, bytes } => {
                parent.is_some_and(|p| *path == Task::path_of(p))
                    && serde_yaml::from_slice::<Task>(bytes).is_ok_and(|t| t.status == Status::Done)
            }
            TreeEdit::Remove { path } => for_task.contains(path),
        };
        if !ok {
            return Ok(Some(format!(
                "finishing task {id} may not change {}",
                edit_path(edit)
            )));
        }
    }
    Ok(None)
}

/// A lapse returns claimed tasks to open and drops their holders' reservations.
fn lapse_problem(c: &Case) -> Result<Option<Broken>, CommError> {
    let ids = words(c.event.field("Task"));
    let mut holders = BTreeSet::new();
    for id in &ids {
        let Some(b) = task::get(c.before, id)? else {
            return Ok(Some(format!(
                "the lapse names task {id}, which does not exist"
            )));
        };
        holders.extend(b.assignee.clone());
    }
    let existing = reservation::all(c.before)?;
    for edit in c.edits {
        let ok = match edit {
            TreeEdit::Put { path, bytes } => {
                ids.iter().any(|id| *path == Task::path_of(id))
                    && serde_yaml::from_slice::<Task>(bytes).is_ok_and(|t| t.status == Status::Open)
            }
            TreeEdit::Remove { path } => existing
                .iter()
                .any(|r| r.path() == *path && holders.contains(&r.domain)),
        };
        if !ok {
            return Ok(Some(format!("a lapse may not change {}", edit_path(edit))));
        }
    }
    Ok(None)
}

/// A queue decision removes queue entries, stores its test log, and marks
/// its landed task done (with what finishing brings).
fn decision_problem(c: &Case) -> Result<Option<Broken>, CommError> {
    let task = c.event.field("Task");
    let parent = match task {
        Some(id) => task::get(c.before, id)?.and_then(|t| t.parent),
        None => None,
    };
    for edit in c.edits {
        let p = edit_path(edit);
        let ok = match edit {
            TreeEdit::Remove { .. } => is_file_in(p, "queue") || shard::is_in(p, "reservations"),
            TreeEdit::Put { .. } if p.starts_with("artifacts/queue/") => true,
            // The main the queue last landed (see `queue::untested`).
            TreeEdit::Put { .. } if p == untested::STATE => c.event.kind == LANDED_KIND,
            TreeEdit::Put { bytes, .. } => {
                let ours = [task, parent.as_deref()]
                    .into_iter()
                    .flatten()
                    .any(|id| p == Task::path_of(id));
                c.event.kind == LANDED_KIND
                    && ours
                    && serde_yaml::from_slice::<Task>(bytes).is_ok_and(|t| t.status == Status::Done)
            }
        };
        if !ok {
            return Ok(Some(format!("a queue {} may not change {p}", c.event.kind)));
        }
    }
    Ok(None)
}

/// Equal apart from what `reset` copies back and the update time.
fn same_but(b: &Task, a: &Task, reset: impl FnOnce(&mut Task)) -> Option<Broken> {
    let mut a = a.clone();
    reset(&mut a);
    a.updated = b.updated;
    (a != *b).then(|| format!("it changes other fields of task {} too", b.id))
}

/// The first edit outside what `allowed` says the event may change.
fn only(c: &Case, allowed: impl Fn(&str) -> bool) -> Option<Broken> {
    c.edits
        .iter()
        .map(edit_path)
        .find(|p| !allowed(p))
        .map(|p| {
            format!(
                "a {} by `{}` may not change {p}",
                c.event.kind, c.event.from
            )
        })
}

fn put_bytes<'e>(edits: &'e [TreeEdit], wanted: &str) -> Option<&'e [u8]> {
    edits.iter().find_map(|e| match e {
        TreeEdit::Put { path, bytes } if path == wanted => Some(bytes.as_slice()),
        _ => None,
    })
}

fn edit_path(edit: &TreeEdit) -> &str {
    match edit {
        TreeEdit::Put { path, .. } | TreeEdit::Remove { path } => path,
    }
}

fn words(field: Option<&str>) -> BTreeSet<&str> {
    field
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whether `path` is `<dir>/<name>.yaml`.
fn is_file_in(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|name| name.ends_with(".yaml") && !name.contains('/'))
}

/// Why a state file written by an event does not parse as what its place
/// holds, if it does not.
fn state_file_problem(path: &str, bytes: &[u8]) -> Option<Broken> {
    let (dir, name) = path.split_once('/')?;
    if dir == "artifacts" {
        return None;
    }
    // A task or reservation file, in its shard or (older versions) flat.
    let canonical = shard::canonical(path);
    let name = match shard::entity(path) {
        Some((_, id)) if canonical == path || shard::is_flat(path) => {
            return entity_file_problem(path, dir, id, bytes)
        }
        Some((_, id)) => {
            return Some(format!("{path} is not where {id} is kept ({canonical})"));
        }
        None => name,
    };
    if dir == signing::DIR && name.ends_with(".pub") && !name.contains('/') {
        return signing::key_file_problem(path, bytes);
    }
    let Some(stem) = name.strip_suffix(".yaml").filter(|s| !s.contains('/')) else {
        return Some(format!(
            "it writes {path}, which is no state file comm-node knows"
        ));
    };
    let owner = |found: &str| (found != stem).then(|| format!("{path} holds `{found}`"));
    let parsed: Result<Option<Broken>, serde_yaml::Error> = match dir {
        "domains" => serde_yaml::from_slice::<Registration>(bytes).map(|r| owner(&r.domain)),
        "queue" => serde_yaml::from_slice::<Entry>(bytes).map(|e| owner(&e.domain)),
        "agents" => serde_yaml::from_slice::<presence::Presence>(bytes).map(|_| None),
        "usage" => serde_yaml::from_slice::<Usage>(bytes).map(|u| owner(&u.domain)),
        HALT_DIR => serde_yaml::from_slice::<Halt>(bytes).map(|h| owner(&h.domain)),
        super::super::budget::DIR => {
            serde_yaml::from_slice::<super::super::budget::DomainState>(bytes)
                .map(|s| owner(&s.domain))
        }
        "cursors" => serde_yaml::from_slice::<serde_yaml::Value>(bytes).map(|v| {
            let seq = v.get("seq").and_then(serde_yaml::Value::as_u64);
            seq.is_none()
                .then(|| format!("read cursor {path} has no seq"))
        }),
        _ => {
            return Some(format!(
                "it writes {path}, which is no state file comm-node knows"
            ))
        }
    };
    match parsed {
        Ok(problem) => problem,
        Err(e) => Some(format!("state file {path} does not parse: {e}")),
    }
}

/// Why a task or reservation file does not hold entity `id`, if it does not.
fn entity_file_problem(path: &str, dir: &str, id: &str, bytes: &[u8]) -> Option<Broken> {
    let found = match dir {
        task::DIR => serde_yaml::from_slice::<Task>(bytes).map(|t| t.id),
        _ => serde_yaml::from_slice::<Reservation>(bytes).map(|r| r.id),
    };
    match found {
        Ok(found) => (found != id).then(|| format!("{path} holds `{found}`")),
        Err(e) => Some(format!("state file {path} does not parse: {e}")),
    }
}
