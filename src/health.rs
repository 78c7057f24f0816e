//! Liveness without heartbeats: when each domain last did something, which
//! domains with claimed work have gone quiet (stalled), and returning the
//! claims of domains quiet past their lease to the pool.
//!
//! Activity is read from what agents do anyway: the newest commit on the
//! domain's branch and the newest event it posted on `comm` (a claim, a
//! message, a `hello`). Nothing is written to prove liveness, so
//! `git log comm` carries no heartbeat noise. The walk over `comm` stops at
//! the oldest moment that can matter (now minus the lease).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use serde::Serialize;

use crate::comm::task::{self, Status};
use crate::comm::{self, Appended, CommError, Snapshot};
use crate::config::Config;
use crate::git::Repo;

/// Where a domain's last activity was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A commit on its branch.
    Branch,
    /// An event it posted on `comm`.
    Comm,
}

/// A domain's last activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// Seconds since the epoch.
    pub at: i64,
    pub source: Source,
}

/// One domain's liveness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Liveness {
    /// `None`: nothing seen within the lease window.
    pub last: Option<Activity>,
    /// Tasks it holds.
    pub claimed: Vec<String>,
    /// Holds a task and has been quiet longer than `stall_after`.
    pub stalled: bool,
    /// Holds a task and has been quiet longer than the lease.
    pub lapsed: bool,
}

/// The liveness of every declared domain as of `now`.
pub fn liveness(
    repo: &Repo,
    config: &Config,
    now: i64,
) -> Result<BTreeMap<String, Liveness>, CommError> {
    let held = claimed(repo)?;
    liveness_of(repo, config, now, &held)
}

/// [`liveness`], with the claimed tasks given by a reader that has them
/// already (the cockpit keeps the board current).
pub fn liveness_of<'a>(
    repo: &Repo,
    config: &Config,
    now: i64,
    claimed: impl IntoIterator<Item = &'a task::Task>,
) -> Result<BTreeMap<String, Liveness>, CommError> {
    let held: Vec<&task::Task> = claimed
        .into_iter()
        .filter(|t| t.status == Status::Claimed)
        .collect();
    let names: Vec<&str> = config.domains.keys().map(String::as_str).collect();
    liveness_among(repo, config, now, &names, &held)
}

/// Returns to the pool the claims of domains quiet past their lease (what
/// `task next` does first): [`reap`] over the liveness of only the domains
/// that hold claims and made none within the lease (a claim is activity,
/// so the others cannot have lapsed), so the walk over comm ends once each
/// of them is seen (or at once when there is none), however quiet the
/// others are.
pub fn reap_lapsed(repo: &Repo, config: &Config, now: i64) -> Result<Option<Appended>, CommError> {
    let held = claimed(repo)?;
    let mut newest: BTreeMap<&str, Option<i64>> = BTreeMap::new();
    for t in &held {
        if let Some(d) = t.assignee.as_deref() {
            let at = newest.entry(d).or_default();
            *at = (*at).max(t.claimed_at);
        }
    }
    let lease = config.health.lease as i64;
    let names: Vec<&str> = newest
        .into_iter()
        .filter(|(d, at)| config.domains.contains_key(*d) && at.is_none_or(|at| now - at > lease))
        .map(|(d, _)| d)
        .collect();
    if names.is_empty() {
        return Ok(None);
    }
    let held: Vec<&task::Task> = held.iter().collect();
    let live = liveness_among(repo, config, now, &names, &held)?;
    reap(repo, config, &live, now)
}

/// The claimed tasks at the tip of comm.
fn claimed(repo: &Repo) -> Result<Vec<task::Task>, CommError> {
    let snapshot = Snapshot::take(repo)?;
    Ok(task::claimed_entries(&snapshot)?
        .into_iter()
        .map(|e| e.task)
        .collect())
}

/// The liveness of domains `names` as of `now`, given their claimed tasks.
fn liveness_among(
    repo: &Repo,
    config: &Config,
    now: i64,
    names: &[&str],
    held: &[&task::Task],
) -> Result<BTreeMap<String, Liveness>, CommError> {
    let health = config.health;
    let window_start = now - health.lease.max(health.stall_after) as i64;
    let mut last: BTreeMap<String, Activity> = BTreeMap::new();
    for name in names {
        if let Some(tip) = repo.branch_tip(&Config::domain_branch(name))? {
            let at = repo.commit_time(tip)?;
            last.insert(
                (*name).to_owned(),
                Activity {
                    at,
                    source: Source::Branch,
                },
            );
        }
    }
    let mut seen_on_comm = BTreeSet::new();
    comm::walk(repo, repo.ref_tip(comm::COMM_REF)?, |logged| {
        if logged.time < window_start || seen_on_comm.len() == names.len() {
            return ControlFlow::Break(());
        }
        let from = &logged.event.from;
        if names.contains(&from.as_str()) && seen_on_comm.insert(from.clone()) {
            let newer = last.get(from).is_none_or(|a| a.at < logged.time);
            if newer {
                let activity = Activity {
                    at: logged.time,
                    source: Source::Comm,
                };
                last.insert(from.clone(), activity);
            }
        }
        ControlFlow::Continue(())
    })?;
    let mut out = BTreeMap::new();
    for name in names {
        let mine: Vec<&task::Task> = held
            .iter()
            .copied()
            .filter(|t| t.assignee.as_deref() == Some(*name))
            .collect();
        let claimed: Vec<String> = mine.iter().map(|t| t.id.clone()).collect();
        let since_claim = mine.iter().filter_map(|t| t.claimed_at).max();
        let last_at = last.get(*name).map(|a| a.at).max(since_claim);
        let quiet = last_at.map_or(i64::MAX, |at| now - at);
        out.insert(
            (*name).to_owned(),
            Liveness {
                last: last.get(*name).copied().filter(|a| a.at >= window_start),
                stalled: !claimed.is_empty() && quiet > health.stall_after as i64,
                lapsed: !claimed.is_empty() && quiet > health.lease as i64,
                claimed,
            },
        );
    }
    Ok(out)
}

/// Returns the claims of domains that `live` (from [`liveness`]) shows quiet
/// past their lease to the pool, in one event addressed to them; `None`
/// when no lease has run out.
pub fn reap(
    repo: &Repo,
    config: &Config,
    live: &BTreeMap<String, Liveness>,
    now: i64,
) -> Result<Option<Appended>, CommError> {
    let lapsed: Vec<(String, String)> = live
        .iter()
        .filter(|(_, l)| l.lapsed)
        .flat_map(|(domain, l)| {
            let why = match l.last {
                Some(a) => format!(
                    "{domain} quiet for {} (lease {})",
                    crate::clock::format_duration((now - a.at).max(0) as u64),
                    crate::clock::format_duration(config.health.lease)
                ),
                None => format!(
                    "{domain} quiet for more than the lease ({})",
                    crate::clock::format_duration(config.health.lease)
                ),
            };
            l.claimed.iter().map(move |id| (id.clone(), why.clone()))
        })
        .collect();
    if lapsed.is_empty() {
        return Ok(None);
    }
    task::lapse(repo, &lapsed, now)
}
