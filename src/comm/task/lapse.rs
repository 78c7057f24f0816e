//! Lapsed leases: claimed tasks whose holder went quiet past the lease go
//! back to the pool, written by the system actor. A lapse ends one claim of
//! a holder judged quiet: replayed on a state where that claim is gone (the
//! task was finished, reopened or claimed again), or where the holder acted
//! on the other clone, it is dropped for that task, so a lapse recorded on
//! one clone never reopens work finished or going on at another.

use std::collections::{BTreeMap, BTreeSet};

use git2::Oid;

use super::ops::put;
use super::{get, Status, Task, KIND};
use crate::comm::replay::OtherSide;
use crate::comm::reservation::{self, Reservation};
use crate::comm::{append, Appended, Change, CommError, Event, Snapshot, SYSTEM_ACTOR};
use crate::git::Repo;
use crate::git::TreeEdit;

/// What a lapse writes in a task's `reason`, before why the lease ended.
const REASON_PREFIX: &str = "lease lapsed: ";

/// Returns claimed tasks whose lease ran out to `open` and drops their
/// holders' reservations, in one event addressed to the domains that held
/// them; `lapsed` pairs each task id with why its lease ended. Tasks no
/// longer claimed are skipped (someone acted meanwhile).
pub fn lapse(
    repo: &Repo,
    lapsed: &[(String, String)],
    now: i64,
) -> Result<Option<Appended>, CommError> {
    append(repo, |snapshot| {
        // A domain the human halted is quiet on purpose: its claims wait.
        let halted = crate::comm::steer::halts(snapshot)?;
        let held_by_halted = |t: &Task| t.assignee.as_ref().is_some_and(|a| halted.contains_key(a));
        lapse_change(
            snapshot,
            lapsed,
            now,
            |t| t.status == Status::Claimed && !held_by_halted(t),
            |r| !halted.contains_key(&r.domain),
        )
    })
}

/// The lapse of the tasks of `lapsed` for which `still_held` says the
/// claim that ran out is still there, dropping those holders' reservations
/// that `may_drop` allows; `None` when no task lapses.
fn lapse_change(
    snapshot: &Snapshot,
    lapsed: &[(String, String)],
    now: i64,
    still_held: impl Fn(&Task) -> bool,
    may_drop: impl Fn(&Reservation) -> bool,
) -> Result<Option<Change>, CommError> {
    let reservations = reservation::all(snapshot)?;
    let mut edits = Vec::new();
    let mut to = Vec::new();
    let mut lines = Vec::new();
    let mut ids = Vec::new();
    for (id, why) in lapsed {
        let Some(mut task) = get(snapshot, id)?.filter(|t| still_held(t)) else {
            continue;
        };
        // The quiet domain's reservations lapse with its claims.
        let holder = task.assignee.clone().unwrap_or_default();
        for r in reservations
            .iter()
            .filter(|r| r.domain == holder && may_drop(r))
        {
            let edit = TreeEdit::Remove { path: r.path() };
            if !edits.contains(&edit) {
                edits.push(edit);
            }
        }
        to.extend(task.assignee.take());
        task.status = Status::Open;
        task.claimed_at = None;
        task.reason = Some(format!("{REASON_PREFIX}{why}"));
        task.updated = now;
        lines.push(format!("- {id} ({}): {why}", task.title));
        ids.push(id.clone());
        edits.push(put(&task));
    }
    if ids.is_empty() {
        return Ok(None);
    }
    to.sort();
    to.dedup();
    let mut event = Event::new(
        KIND,
        SYSTEM_ACTOR,
        format!(
            "lease lapsed: {} back to ready ({})",
            ids.join(", "),
            to.join(", ")
        ),
    );
    event.to = to;
    event.body = lines.join("\n") + "\n";
    event.fields.push(("Task".into(), ids.join(" ")));
    event.fields.push(("Action".into(), "lapse".into()));
    Ok(Some(Change { event, edits }))
}

/// Re-derives a replayed lapse (written by `commit`) on a new state: each
/// task lapses again only while the claim that ran out still holds it (the
/// same domain, claimed at the same time, or a task no other clone touched
/// since the clones parted) and its holder did nothing on the other clone
/// meanwhile (the lapsing clone judged it quiet without seeing that; if it
/// stays quiet, the next `status` lapses it again). Only the reservations
/// the lapse dropped are dropped. `None` when no claim is left to end.
pub(super) fn replay_lapse(
    snapshot: &Snapshot,
    event: &Event,
    commit: Oid,
    other: &OtherSide,
) -> Result<Option<Change>, CommError> {
    let repo = snapshot.repo();
    let parent = repo.parent_ids(commit)?.first().copied();
    let (before, after) = (
        Snapshot::at(repo, parent)?,
        Snapshot::at(repo, Some(commit))?,
    );
    let mut claims = BTreeMap::new();
    let mut lapsed = Vec::new();
    let mut now = 0;
    for id in event.field("Task").unwrap_or_default().split_whitespace() {
        let (Some(held), Some(ended)) = (get(&before, id)?, get(&after, id)?) else {
            continue;
        };
        let why = ended.reason.as_deref().unwrap_or_default();
        let why = why.strip_prefix(REASON_PREFIX).unwrap_or(why).to_owned();
        now = now.max(ended.updated);
        lapsed.push((id.to_owned(), why));
        claims.insert(id.to_owned(), held);
    }
    let dropped: BTreeSet<String> = crate::comm::shard::edits_of(repo, commit)?
        .into_iter()
        .filter_map(|e| match e {
            TreeEdit::Remove { path } => Some(path),
            TreeEdit::Put { .. } => None,
        })
        .collect();
    let still_held = |t: &Task| {
        let Some(held) = claims.get(&t.id) else {
            return false;
        };
        let holder = held.assignee.as_deref().unwrap_or_default();
        t.status == Status::Claimed
            && t.assignee == held.assignee
            && !other.active.contains(holder)
            && (t.claimed_at == held.claimed_at || !other.contested.contains(&Task::path_of(&t.id)))
    };
    lapse_change(snapshot, &lapsed, now, still_held, |r| {
        dropped.contains(&r.path())
    })
}
