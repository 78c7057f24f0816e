//! What replaying local events on another clone's state needs besides each
//! kind's own re-derivation (see `sync::replay_events`):
//!
//! - what the other clone did since the clones parted ([`OtherSide`]: the
//!   state files it changed, who was active there), so a replay can tell
//!   the other clone's changes from its own;
//! - which events build on a rejected one ([`Dependents`]): an event that
//!   changes state and touches a state file a rejected event wrote (a claim
//!   of a task whose add was rejected) is rejected with it, naming it;
//! - telling the authors ([`notify`]): every rejected event, and every event
//!   that landed only in part, reaches its author's inbox as an event from
//!   the system actor, one per author and sync.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use git2::Oid;

use super::sync::{Rejected, Replayed};
use super::{shard, CommError, Event, Logged, Snapshot, SYSTEM_ACTOR};
use crate::git::{Repo, TreeEdit};

/// The kind of the event telling an author what sync rejected.
pub const NOTICE_KIND: &str = "sync-rejected";
/// The field of a notice listing the ids of the events it is about.
const NOTICE_FIELD: &str = "Rejected";

/// A local event re-derived on the state it now lands on (same id).
#[derive(Debug, Clone)]
pub struct Redone {
    pub event: Event,
    pub edits: Vec<TreeEdit>,
    /// What of its change was left out, and why (the rest landed).
    pub left_out: Option<String>,
}

impl Redone {
    /// The event with all of its change.
    pub fn whole(event: Event, edits: Vec<TreeEdit>) -> Redone {
        Redone {
            event,
            edits,
            left_out: None,
        }
    }
}

/// What the other side did since the sides parted, as replays need it.
#[derive(Debug, Clone, Default)]
pub struct OtherSide {
    /// The state files that differ between the fork point and the tip the
    /// events land on: what the other side changed meanwhile.
    pub contested: BTreeSet<String>,
    /// Who wrote events there: activity the replayed events could not see.
    pub active: BTreeSet<String>,
}

impl OtherSide {
    /// The other side between `base` (where the replayed events were made
    /// from) and `onto` (where they land).
    pub(super) fn between(
        repo: &Repo,
        base: Option<Oid>,
        onto: Option<Oid>,
    ) -> Result<OtherSide, CommError> {
        let Some(tip) = onto else {
            return Ok(OtherSide::default());
        };
        // A task or reservation is named by its sharded path, and counts as
        // changed only if its bytes did: a migration moves files unchanged.
        let mut contested = BTreeSet::new();
        for (path, _) in repo.tree_changes(base, tip)? {
            if shard::entity(&path).is_none() {
                contested.insert(path);
                continue;
            }
            let path = shard::canonical(&path);
            if contested.contains(&path) {
                continue;
            }
            let blob_at = |commit: Option<Oid>| -> Result<Option<Oid>, CommError> {
                let Some(commit) = commit else {
                    return Ok(None);
                };
                match repo.file_id_at(commit, &path)? {
                    Some(id) => Ok(Some(id)),
                    None => match shard::flat_of(&path) {
                        Some(flat) => Ok(repo.file_id_at(commit, &flat)?),
                        None => Ok(None),
                    },
                }
            };
            if blob_at(base)? != blob_at(Some(tip))? {
                contested.insert(path);
            }
        }
        let mut active = BTreeSet::new();
        super::walk(repo, onto, |logged| {
            if Some(logged.commit) == base {
                return ControlFlow::Break(());
            }
            active.insert(logged.event.from);
            ControlFlow::Continue(())
        })?;
        Ok(OtherSide { contested, active })
    }
}

/// The rejected event a state file came from, as it is reported.
#[derive(Debug, Clone)]
struct Cause {
    id: String,
    subject: String,
    reason: String,
}

/// The state files rejected events wrote, each with the first rejected
/// event it came from.
#[derive(Debug, Default)]
pub(super) struct Dependents {
    tainted: BTreeMap<String, Cause>,
}

impl Dependents {
    /// Why `logged` must be rejected with an earlier rejected event it
    /// builds on, if it does: it changes state, and writes or names a state
    /// file a rejected event wrote. Removing such a file is no building on
    /// it (finishing a task releases its reservations, made or not), and
    /// events that change no state (messages) build on nothing.
    pub fn cause_of(&self, repo: &Repo, logged: &Logged) -> Result<Option<String>, CommError> {
        if self.tainted.is_empty() {
            return Ok(None);
        }
        let touched = Touched::of(repo, logged)?;
        if !touched.changes_state {
            return Ok(None);
        }
        let cause = touched
            .written
            .iter()
            .chain(&touched.referenced)
            .find_map(|path| self.tainted.get(path));
        Ok(cause.map(|c| {
            format!(
                "it builds on {} ({}), which was rejected: {}",
                c.id, c.subject, c.reason
            )
        }))
    }

    /// Records that `logged` was rejected for `reason`: the files it wrote
    /// now lead back to it, or to the rejected event it built on.
    pub fn rejected(
        &mut self,
        repo: &Repo,
        logged: &Logged,
        reason: &str,
    ) -> Result<(), CommError> {
        let touched = Touched::of(repo, logged)?;
        let root = touched
            .written
            .iter()
            .chain(&touched.referenced)
            .find_map(|p| self.tainted.get(p))
            .cloned()
            .unwrap_or_else(|| Cause {
                id: logged.event.id.clone(),
                subject: logged.event.subject.clone(),
                reason: reason.to_owned(),
            });
        for path in touched.written {
            self.tainted.entry(path).or_insert_with(|| root.clone());
        }
        Ok(())
    }
}

/// The state files an event touched where it was made.
struct Touched {
    /// Whether it changed any state file at all.
    changes_state: bool,
    /// The files it wrote (not those it removed).
    written: Vec<String>,
    /// The files it names: the tasks and reservations of its fields, and
    /// the dependencies and parents of the tasks it wrote.
    referenced: BTreeSet<String>,
}

impl Touched {
    fn of(repo: &Repo, logged: &Logged) -> Result<Touched, CommError> {
        let edits = crate::comm::shard::edits_of(repo, logged.commit)?;
        let task_path = super::task::Task::path_of;
        let event = &logged.event;
        let words = |key: &str| {
            let value = event.field(key).unwrap_or_default();
            value
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let mut referenced: BTreeSet<String> = words("Task")
            .iter()
            .chain(&words("Parent"))
            .map(|id| task_path(id))
            .collect();
        referenced.extend(
            words("Reservation")
                .iter()
                .map(|id| super::reservation::Reservation::path_of(id)),
        );
        let mut written = Vec::new();
        for edit in &edits {
            if let TreeEdit::Put { path, bytes } = edit {
                if let Ok(task) = serde_yaml::from_slice::<super::task::Task>(bytes) {
                    let linked = task.deps.iter().chain(task.parent.iter());
                    referenced.extend(linked.map(|id| task_path(id)));
                }
                written.push(shard::canonical(path));
            }
        }
        Ok(Touched {
            changes_state: !edits.is_empty(),
            written,
            referenced,
        })
    }
}

/// Appends on `tip` one notice per author of the rejected and narrowed
/// events of `tally` (the system actor's own events excepted), addressed to
/// that author; returns the new tip.
pub(super) fn notify(
    repo: &Repo,
    mut tip: Option<Oid>,
    tally: &Replayed,
) -> Result<Option<Oid>, CommError> {
    let mut by_author: BTreeMap<&str, Vec<(&str, &Rejected)>> = BTreeMap::new();
    let listed = tally
        .rejected
        .iter()
        .map(|r| ("rejected", r))
        .chain(tally.narrowed.iter().map(|r| ("landed in part", r)));
    for (what, r) in listed {
        if r.author != SYSTEM_ACTOR {
            by_author.entry(&r.author).or_default().push((what, r));
        }
    }
    for (author, items) in by_author {
        let mut event = Event::new(NOTICE_KIND, SYSTEM_ACTOR, notice_subject(author, &items));
        event.to = vec![author.to_owned()];
        event.body = items
            .iter()
            .map(|(what, r)| format!("- {what}: {} ({}): {}\n", r.subject, r.id, r.reason))
            .collect();
        let ids: Vec<&str> = items.iter().map(|(_, r)| r.id.as_str()).collect();
        event.fields.push((NOTICE_FIELD.into(), ids.join(" ")));
        let snapshot = Snapshot::at(repo, tip)?;
        event.seq = snapshot.seq() + 1;
        match super::signing::commit_event(&snapshot, &mut event, &[], None) {
            Ok(commit) => tip = Some(commit),
            // Signing is on and this clone holds no registered key to vouch
            // for a notice: none is written (the sync report still lists them).
            Err(CommError::Refused { .. }) => break,
            Err(other) => return Err(other),
        }
    }
    Ok(tip)
}

fn notice_subject(author: &str, items: &[(&str, &Rejected)]) -> String {
    let (what, first) = items[0];
    match items.len() {
        1 => format!("sync: {what} for {author}: {}", first.subject),
        n => format!(
            "sync: {n} events of {author} rejected or landed in part: {} and {} more",
            first.subject,
            n - 1
        ),
    }
}
