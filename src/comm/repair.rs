//! Making `comm` a line of events again after a foreign commit.
//!
//! A `git merge` or `git pull` on comm, or a plain commit, puts a commit
//! without `Comm-*` trailers on the line; appends refuse to build on it.
//! Repair rebuilds the line from the last event before the oldest such
//! commit: a merge's first-parent side stays as local history and the events
//! only reachable from its other parents are replayed after it; a plain
//! commit is dropped with its tree changes; every later event is replayed.
//! Replays go through the same re-validation as `sync` and keep their ids
//! (an id already on the line is not written twice), so the sequence
//! numbers run on without a gap or a restart. Only an event that no longer
//! holds on the rebuilt state (a claim both sides made) is left out, and
//! reported, as `sync` does.

use std::collections::HashSet;

use git2::Oid;
use serde::Serialize;

use super::append::short;
use super::replay::notify;
use super::sync::{replay_events, Replayed};
use super::{CommError, Event, Logged, COMM_REF};
use crate::git::{CasOutcome, Repo};

/// Rounds before giving up on a comm that keeps moving during a repair.
const MAX_ROUNDS: usize = 10;

/// What a repair did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairReport {
    /// False when comm already was a line of events (nothing changed).
    pub repaired: bool,
    /// The commits taken off the line: merges and commits without trailers.
    pub dropped: Vec<Dropped>,
    /// The events written again after the last good one.
    #[serde(flatten)]
    pub replay: Replayed,
    /// The tip before and after.
    pub before: Option<String>,
    pub tip: Option<String>,
}

/// A commit taken off the line of comm.
#[derive(Debug, Clone, Serialize)]
pub struct Dropped {
    pub commit: String,
    pub subject: String,
    pub reason: String,
}

/// Linearizes `comm` (see the module doc).
pub fn repair(repo: &Repo) -> Result<RepairReport, CommError> {
    for _ in 0..MAX_ROUNDS {
        let Some(tip) = repo.ref_tip(COMM_REF)? else {
            return Err(CommError::invalid(
                "there is no comm branch to repair",
                "run comm-node init first",
            ));
        };
        let mut report = RepairReport {
            before: Some(tip.to_string()),
            tip: Some(tip.to_string()),
            ..RepairReport::default()
        };
        let line = first_parent_line(repo, tip)?;
        let Some(oldest_bad) = line.iter().position(|c| !c.is_event()) else {
            return Ok(report);
        };
        let base = line[oldest_bad].parents.first().copied();
        let mut events = Vec::new();
        for commit in &line[oldest_bad..] {
            if commit.is_event() {
                events.extend(commit.logged(repo)?);
                continue;
            }
            report.dropped.push(commit.dropped());
            let Some(&first) = commit.parents.first() else {
                continue;
            };
            for &other in &commit.parents[1..] {
                // Events both sides have (a sync replayed them) count once.
                let ours: HashSet<String> = events_only_in(repo, first, other)?
                    .into_iter()
                    .map(|l| l.event.id)
                    .collect();
                for theirs in events_only_in(repo, other, first)? {
                    if ours.contains(&theirs.event.id) {
                        report.replay.duplicates += 1;
                    } else {
                        events.push(theirs);
                    }
                }
            }
        }
        let mut seen = HashSet::new();
        let new_tip = replay_events(repo, base, events, &mut seen, &mut report.replay)?;
        let Some(new_tip) = new_tip else {
            return Err(CommError::invalid(
                "comm holds no comm-node event to keep",
                "recreate it with comm-node init",
            ));
        };
        // Whoever lost an event to the repair hears of it, as after a sync.
        let new_tip = notify(repo, Some(new_tip), &report.replay)?.unwrap_or(new_tip);
        if repo.cas_ref(COMM_REF, Some(tip), new_tip, "comm-node repair")? == CasOutcome::Updated {
            report.repaired = true;
            report.tip = Some(new_tip.to_string());
            return Ok(report);
        }
    }
    Err(CommError::Contention(MAX_ROUNDS))
}

/// One commit of the first-parent line.
struct LineCommit {
    id: Oid,
    parents: Vec<Oid>,
    message: String,
}

impl LineCommit {
    fn is_event(&self) -> bool {
        self.parents.len() <= 1 && Event::parse(&self.message).is_some()
    }

    fn logged(&self, repo: &Repo) -> Result<Option<Logged>, CommError> {
        logged(repo, self.id, &self.message)
    }

    fn dropped(&self) -> Dropped {
        let reason = if self.parents.len() > 1 {
            format!(
                "a merge of {} commits (the events it merged are replayed)",
                self.parents.len()
            )
        } else {
            "not a comm-node event (no Comm-* trailers); its changes are left out".to_owned()
        };
        Dropped {
            commit: short(self.id),
            subject: self.message.lines().next().unwrap_or_default().to_owned(),
            reason,
        }
    }
}

/// The first-parent line from `tip`, oldest first.
fn first_parent_line(repo: &Repo, tip: Oid) -> Result<Vec<LineCommit>, CommError> {
    let mut line = Vec::new();
    repo.walk_first_parent(tip, |id, _, message| {
        line.push((id, message.to_owned()));
        std::ops::ControlFlow::Continue(())
    })?;
    line.reverse();
    line.into_iter()
        .map(|(id, message)| {
            Ok(LineCommit {
                parents: repo.parent_ids(id)?,
                id,
                message,
            })
        })
        .collect()
}

/// The events of the commits reachable from `from` but not from `hide`,
/// oldest first (merges and plain commits skipped).
fn events_only_in(repo: &Repo, from: Oid, hide: Oid) -> Result<Vec<Logged>, CommError> {
    let mut out = Vec::new();
    for id in repo.commits_only_in(from, hide)? {
        if repo.parent_ids(id)?.len() <= 1 {
            out.extend(logged(repo, id, &repo.commit_message(id)?)?);
        }
    }
    Ok(out)
}

fn logged(repo: &Repo, commit: Oid, message: &str) -> Result<Option<Logged>, CommError> {
    let Some(event) = Event::parse(message) else {
        return Ok(None);
    };
    Ok(Some(Logged {
        commit,
        time: repo.commit_time(commit)?,
        event,
    }))
}
