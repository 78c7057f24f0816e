//! Exchanging `comm` with a remote: fetch, replay, push without force.
//!
//! The remote's refusal of a non-fast-forward push is the distributed
//! compare-and-swap. When both sides have new events, the local ones are
//! replayed on top of the remote tip, keeping their `Comm-Id`, author and
//! time. Every replay re-applies the event's intent on the state it now
//! lands on, never the files it wrote where it was made: a claim, a
//! dependency, a lapse, a reservation, a publish is built again there (a
//! message to a domain that no longer exists, a claim another clone won or
//! a reservation that now collides is rejected; a release of a reservation
//! already gone is a no-op). An event that builds on a rejected one is
//! rejected with it, and every author hears of their rejected events in
//! their inbox (see `replay`). An event whose id the remote already has is
//! not replayed twice.

use std::collections::HashSet;
use std::ops::ControlFlow;

use git2::Oid;
use serde::Serialize;

use super::message::{ack_change, check_recipients, ACK_KIND, KIND as MSG_KIND};
use super::replay::{notify, Dependents, OtherSide, Redone, NOTICE_KIND};
use super::reservation::{self, RELEASE_KIND, RESERVE_KIND};
use super::{artifact, presence, steer, task, walk, CommError, Logged, Snapshot, COMM_REF};
use crate::git::{CasOutcome, PushOutcome, Repo, TreeEdit};
use crate::retry::backoff;

/// Rounds of fetch-replay-push before giving up on a remote that keeps moving.
const MAX_ROUNDS: usize = 50;

/// What a sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub remote: String,
    /// Events that came from the remote.
    pub received: usize,
    /// Local events replayed on top of the remote's (`duplicates`: those
    /// the remote already had).
    #[serde(flatten)]
    pub replay: Replayed,
    /// Whether the remote was updated.
    pub pushed: bool,
    /// The `comm` tip both sides now share.
    pub tip: Option<String>,
    /// Rounds needed (more than one when another clone pushed meanwhile).
    pub rounds: usize,
    /// True when `remote.<name>.fetch` was extended so `git fetch` brings comm.
    pub refspec_added: bool,
}

/// What replaying events on a new tip did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Replayed {
    /// Events written again on the new tip.
    pub replayed: usize,
    /// Events already there (same `Comm-Id`), or that became no-ops.
    pub duplicates: usize,
    /// Events that no longer hold on the new state, with the reason (also
    /// those that built on a rejected one).
    pub rejected: Vec<Rejected>,
    /// Events replayed in part: what was left out, and why.
    pub narrowed: Vec<Rejected>,
}

/// A local event dropped (or replayed only in part) during replay.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    pub id: String,
    pub subject: String,
    /// Who wrote it: the inbox the rejection goes to.
    pub author: String,
    pub reason: String,
}

impl Replayed {
    /// Takes in the outcome of a later round that landed: the events it
    /// wrote (an earlier round's replays are replayed again in it), and the
    /// rejections it added (those of earlier rounds are gone from comm).
    fn absorb(&mut self, round: Replayed) {
        self.replayed = round.replayed;
        self.duplicates = round.duplicates;
        self.rejected.extend(round.rejected);
        self.narrowed.extend(round.narrowed);
    }
}

impl Rejected {
    fn of(logged: &Logged, reason: String) -> Rejected {
        Rejected {
            id: logged.event.id.clone(),
            subject: logged.event.subject.clone(),
            author: logged.event.from.clone(),
            reason,
        }
    }
}

/// Refuses a remote that is not configured.
pub(super) fn require_remote(repo: &Repo, remote: &str) -> Result<(), CommError> {
    if repo.has_remote(remote) {
        return Ok(());
    }
    Err(CommError::invalid(
        format!("no remote named `{remote}`"),
        "add one with `git remote add origin URL`, or name an existing remote",
    ))
}

/// Syncs `comm` with `remote` (see [`super::outgoing::preview`] for what
/// it would do, without doing it).
pub fn sync(repo: &Repo, remote: &str) -> Result<SyncReport, CommError> {
    sync_to(repo, remote, true)
}

/// Syncs `comm` with `remote`; unless `publish_first`, a remote that has
/// no `comm` yet is refused rather than given every local event (a remote
/// nobody named must not receive the whole coordination history).
pub fn sync_to(repo: &Repo, remote: &str, publish_first: bool) -> Result<SyncReport, CommError> {
    require_remote(repo, remote)?;
    if repo.ref_tip(COMM_REF)?.is_some() {
        Snapshot::take(repo)?.check_appendable()?;
    }
    let branch = COMM_REF.trim_start_matches("refs/heads/");
    // Before anything changes (the fetch refspec included).
    if let (false, Some(ours)) = (publish_first, repo.ref_tip(COMM_REF)?) {
        if repo.fetch_branch(remote, branch)?.is_none() {
            return Err(first_publication(remote, count_since(repo, ours, None)?));
        }
    }
    let mut report = SyncReport {
        remote: remote.to_owned(),
        refspec_added: repo.ensure_fetch_refspec(remote, branch)?,
        ..SyncReport::default()
    };
    for round in 0..MAX_ROUNDS {
        report.rounds = round + 1;
        let theirs = repo.fetch_branch(remote, branch)?;
        let ours = repo.ref_tip(COMM_REF)?;
        if let Some(t) = theirs {
            super::verify::check_remote(repo, remote, ours, t)?;
        }
        let target = match (ours, theirs) {
            (None, None) => {
                return Err(CommError::invalid(
                    format!("neither this repository nor `{remote}` has a comm branch"),
                    "run comm-node init first",
                ))
            }
            (None, Some(t)) => {
                report.received = count_since(repo, t, None)?;
                if repo.cas_ref(COMM_REF, None, t, "comm-node sync: fetch")? == CasOutcome::Lost {
                    continue;
                }
                report.tip = Some(t.to_string());
                return Ok(report);
            }
            (Some(o), Some(t)) if o == t => {
                report.tip = Some(o.to_string());
                return Ok(report);
            }
            (Some(o), Some(t)) if repo.is_ancestor(o, t)? => {
                report.received = count_since(repo, t, Some(o))?;
                if repo.cas_ref(COMM_REF, Some(o), t, "comm-node sync: fast-forward")?
                    == CasOutcome::Lost
                {
                    continue;
                }
                report.tip = Some(t.to_string());
                return Ok(report);
            }
            (Some(o), Some(t)) if !repo.is_ancestor(t, o)? => {
                let (replayed, tally) = replay(repo, o, t, &mut report)?;
                if repo.cas_ref(COMM_REF, Some(o), replayed, "comm-node sync: replay")?
                    == CasOutcome::Lost
                {
                    continue;
                }
                report.replay.absorb(tally);
                replayed
            }
            (Some(o), _) => o,
        };
        match repo.push_branch(remote, target, branch)? {
            PushOutcome::Pushed => {
                report.pushed = true;
                report.tip = Some(target.to_string());
                return Ok(report);
            }
            PushOutcome::Rejected => std::thread::sleep(backoff(round)),
        }
    }
    Err(CommError::Contention(MAX_ROUNDS))
}

/// The refusal to create `comm` on a remote nobody named.
fn first_publication(remote: &str, events: usize) -> CommError {
    CommError::Refused {
        message: format!(
            "`{remote}` has no comm branch yet: a first sync would publish the whole \
             coordination history there ({}: every message, task and reservation); \
             nothing was pushed",
            crate::text::count(events, "coordination event")
        ),
        hint: format!(
            "`comm-node sync --dry-run {remote}` lists them; `comm-node sync {remote}` publishes them"
        ),
    }
}

/// Number of events from `tip` back to (not including) `base`.
fn count_since(repo: &Repo, tip: Oid, base: Option<Oid>) -> Result<usize, CommError> {
    let mut n = 0;
    walk(repo, Some(tip), |logged| {
        if Some(logged.commit) == base {
            return ControlFlow::Break(());
        }
        n += 1;
        ControlFlow::Continue(())
    })?;
    Ok(n)
}

/// Replays the local events since the merge base onto `theirs`, followed
/// by the notices of what this round rejected; returns the new tip (not yet
/// referenced) and what the round did.
fn replay(
    repo: &Repo,
    ours: Oid,
    theirs: Oid,
    report: &mut SyncReport,
) -> Result<(Oid, Replayed), CommError> {
    let base = repo.merge_base(ours, theirs)?;
    let mut remote_ids = HashSet::new();
    let mut received = 0;
    walk(repo, Some(theirs), |logged| {
        if Some(logged.commit) == base {
            return ControlFlow::Break(());
        }
        received += 1;
        remote_ids.insert(logged.event.id);
        ControlFlow::Continue(())
    })?;
    report.received = received;
    let mut local = Vec::new();
    walk(repo, Some(ours), |logged| {
        if Some(logged.commit) == base {
            return ControlFlow::Break(());
        }
        local.push(logged);
        ControlFlow::Continue(())
    })?;
    local.reverse();
    let mut tally = Replayed::default();
    let tip = replay_events(repo, Some(theirs), local, &mut remote_ids, &mut tally)?;
    let tip = notify(repo, tip.or(Some(theirs)), &tally)?;
    Ok((tip.unwrap_or(theirs), tally))
}

/// Replays `events` (oldest first) on `onto`, each re-derived on the state
/// it now lands on and keeping its id, author and time; an event whose id
/// is in `known` is a duplicate, one that builds on a rejected event is
/// rejected with it. Returns the new tip (not yet referenced).
pub(super) fn replay_events(
    repo: &Repo,
    onto: Option<Oid>,
    events: Vec<Logged>,
    known: &mut HashSet<String>,
    tally: &mut Replayed,
) -> Result<Option<Oid>, CommError> {
    let mut tip = onto;
    let Some(first) = events.first() else {
        return Ok(tip);
    };
    let base = repo.parent_ids(first.commit)?.first().copied();
    let other = OtherSide::between(repo, base, onto)?;
    let mut dependents = Dependents::default();
    for logged in events {
        if !known.insert(logged.event.id.clone()) {
            tally.duplicates += 1;
            continue;
        }
        let snapshot = Snapshot::at(repo, tip)?;
        let outcome = match dependents.cause_of(repo, &logged)? {
            Some(cause) => Err(cause),
            None => {
                let redone = revalidate(&snapshot, &logged, &other);
                let committed = redone.and_then(|r| {
                    let commit = |r| commit_redone(&snapshot, &logged, r);
                    r.map(commit).transpose()
                });
                match committed {
                    Ok(done) => Ok(done),
                    Err(
                        CommError::Invalid { message, .. } | CommError::Refused { message, .. },
                    ) => Err(message),
                    Err(other) => return Err(other),
                }
            }
        };
        match outcome {
            Ok(Some((commit, left_out))) => {
                tip = Some(commit);
                tally.replayed += 1;
                if let Some(why) = left_out {
                    tally.narrowed.push(Rejected::of(&logged, why));
                }
            }
            Ok(None) => tally.duplicates += 1,
            Err(reason) => {
                dependents.rejected(repo, &logged, &reason)?;
                tally.rejected.push(Rejected::of(&logged, reason));
            }
        }
    }
    Ok(tip)
}

/// Writes a re-derived event on the snapshot's tip, re-signed by its
/// author's key on this clone; one this clone cannot sign (its author's key
/// was registered meanwhile) is refused, like any event that no longer holds.
/// Returns the commit and what of the change was left out.
fn commit_redone(
    snapshot: &Snapshot,
    logged: &Logged,
    redone: Redone,
) -> Result<(Oid, Option<String>), CommError> {
    let Redone {
        mut event,
        edits,
        left_out,
    } = redone;
    event.seq = snapshot.seq() + 1;
    let like = Some(logged.commit);
    let commit = super::signing::commit_event(snapshot, &mut event, &edits, like)?;
    Ok((commit, left_out))
}

/// Re-derives a local event on a new state (`other`: what the other side
/// did since the sides parted): its event (same id) and edits, `None` when
/// it has become a no-op, or an error when it no longer holds.
fn revalidate(
    snapshot: &Snapshot,
    logged: &Logged,
    other: &OtherSide,
) -> Result<Option<Redone>, CommError> {
    let (event, commit) = (&logged.event, logged.commit);
    let whole = |edits: Option<Vec<TreeEdit>>| edits.map(|e| Redone::whole(event.clone(), e));
    match event.kind.as_str() {
        task::KIND => task::revalidate(snapshot, event, commit, logged.time, other),
        MSG_KIND => {
            check_recipients(snapshot, &event.to)?;
            Ok(whole(Some(super::budget::message_replay_edits(
                snapshot, event,
            )?)))
        }
        super::budget::KIND => Ok(super::budget::replay(snapshot, event)?
            .map(|(event, edits)| Redone::whole(event, edits))),
        ACK_KIND => {
            let ids: Vec<String> = event
                .field("Acked")
                .unwrap_or_default()
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            Ok(
                ack_change(snapshot, &event.from, Some(&ids))?.map(|change| {
                    let mut replayed = change.event;
                    replayed.id = event.id.clone();
                    Redone::whole(replayed, change.edits)
                }),
            )
        }
        RESERVE_KIND => {
            Ok(
                reservation::replay_reserve(snapshot, event, commit, crate::clock::now())?
                    .map(|(event, edits)| Redone::whole(event, edits)),
            )
        }
        RELEASE_KIND => Ok(reservation::replay_release(snapshot, event)?
            .map(|(event, edits)| Redone::whole(event, edits))),
        crate::queue::LANDED_KIND | crate::queue::REJECTED_KIND => Ok(whole(
            crate::queue::decision::replay_edits(snapshot, event, commit)?,
        )),
        crate::queue::SUBMIT_KIND => {
            let (event, edits) = crate::queue::entry::replay_submit(snapshot, event, commit)?;
            Ok(Some(Redone::whole(event, edits)))
        }
        presence::KIND => Ok(whole(Some(presence::replay_edits(
            snapshot, event, commit,
        )?))),
        artifact::KIND => Ok(whole(Some(artifact::replay_edits(
            snapshot, event, commit,
        )?))),
        steer::HALT_KIND => Ok(Some(steer::replay_halt(snapshot, event, logged.time)?)),
        steer::RESUME_KIND => steer::replay_resume(snapshot, event, other),
        steer::INJECT_KIND => {
            let (event, edits) = steer::replay_inject(snapshot, event, commit)?;
            Ok(Some(Redone::whole(event, edits)))
        }
        // A notice changes no state.
        NOTICE_KIND => Ok(whole(Some(Vec::new()))),
        // A move to the sharded layout is redone, when the state it lands
        // on still needs one, by the next event written there.
        super::shard::MIGRATE_KIND => Ok(None),
        // The roster (kickoff, register) and the queue's reports of
        // untested commits: the state they write is their own (a domain's
        // registration, the main the queue last saw), so their tree diff is
        // their intent.
        _ => Ok(whole(Some(super::shard::edits_of(
            snapshot.repo(),
            commit,
        )?))),
    }
}
