//! Queue decisions as `comm` events: `landed` and `rejected`, one commit
//! per decision that also removes the entry. Each is built against the tip
//! it lands on: a decision whose entry is no longer queued there (another
//! run, or a killed run's push, recorded it) is dropped rather than
//! doubled; one whose entry a resubmission replaced is recorded, and the
//! newer entry stays queued.
//!
//! A landing is addressed to the owning domain and to every other
//! registered domain (for them it is the "main moved" notice); a rejection
//! only to the owner. A test failure's log tail is stored as the artifact
//! `artifacts/queue/<entry-id>.log` by the same commit. A decision a test
//! run made carries the duration of each of its commands, one field per
//! command in the order they ran (`Comm-Setup-Time: 5120ms npm ci`,
//! `Comm-Test-Time: 81234ms npm test`); readers that predate them ignore
//! them, as they ignore every field they do not know.

use git2::Oid;

use super::entry::{fate, Fate};
use super::runner::{Phase, Timing};
use super::stack::Refusal;
use super::untested;
use super::{Entry, Failure};
use crate::clock;
use crate::comm::task;
use crate::comm::{Change, CommError, Event, Snapshot, COMM_REF, QUEUE_NAMESPACE};
use crate::git::{CasOutcome, Repo, TreeEdit};
use crate::retry::backoff;

/// Event kind of a landing.
pub const LANDED_KIND: &str = "landed";
/// Event kind of a rejection.
pub const REJECTED_KIND: &str = "rejected";
/// The sender of queue decisions (a reserved name, never a domain).
pub const QUEUE_ACTOR: &str = crate::comm::SYSTEM_ACTOR;
/// Lines of the test log quoted in a rejection's body (the artifact has more).
const BODY_TAIL_LINES: usize = 20;
/// The field of a setup command's duration.
pub const SETUP_TIME_FIELD: &str = "Setup-Time";
/// The field of a test command's duration.
pub const TEST_TIME_FIELD: &str = "Test-Time";

/// What the queue decided about one entry.
#[derive(Debug, Clone)]
pub struct Decision {
    pub entry: Entry,
    pub verdict: Verdict,
    /// The commands of the test run that decided it (none when no test
    /// run did: a refusal, a landing recovered after a crash).
    pub timings: Vec<Timing>,
}

/// The outcome and its reason.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// `main` moved to `main` (from `from`; `None` when recovered after a
    /// crash, or when the head was already on main). `merge` is the entry's
    /// own merge commit in the stack (the batch tip only for its last
    /// entry); `None` when recovered.
    Landed {
        main: Oid,
        from: Option<Oid>,
        merge: Option<Oid>,
    },
    /// Left out of the stack (conflict, boundary, missing commit).
    Refused(Refusal),
    /// The tests failed on `tested` (the merge that first added it).
    TestsFailed {
        tested: Oid,
        failure: Failure,
        tail: String,
    },
}

impl Decision {
    /// A decision no test run made (a refusal, a landing recovered after
    /// a crash).
    pub fn untested(entry: Entry, verdict: Verdict) -> Decision {
        Decision {
            entry,
            verdict,
            timings: Vec::new(),
        }
    }

    /// A short reason code for `Comm-Reason` and `--json`.
    pub fn reason(&self) -> Option<&'static str> {
        match &self.verdict {
            Verdict::Landed { .. } => None,
            Verdict::Refused(Refusal::Conflict { .. }) => Some("conflict"),
            Verdict::Refused(Refusal::Boundary { .. }) => Some("boundary"),
            Verdict::Refused(Refusal::Missing) => Some("missing"),
            Verdict::TestsFailed { failure, .. } if failure.reason.starts_with("timed out") => {
                Some("timeout")
            }
            Verdict::TestsFailed { .. } => Some("tests"),
        }
    }

    /// One line saying what happened and why.
    pub fn summary(&self, main_branch: &str) -> String {
        let e = &self.entry;
        match &self.verdict {
            Verdict::Landed { main, merge, .. } => {
                let at = match merge {
                    Some(m) if m == main => format!("as {}", short(*m)),
                    Some(m) => format!("as {} ({main_branch} at {})", short(*m), short(*main)),
                    None => format!("(already in {main_branch} at {})", short(*main)),
                };
                format!(
                    "queue: landed {} {} on {main_branch} {at}{}",
                    e.domain,
                    e.short(),
                    e.task_suffix()
                )
            }
            Verdict::Refused(refusal) => {
                let why = match refusal {
                    Refusal::Conflict { paths } => format!("conflicts in {}", list(paths)),
                    Refusal::Boundary { violations } => {
                        crate::text::count(violations.len(), "boundary violation")
                    }
                    Refusal::Missing => "the submitted commit is not in this repository".into(),
                };
                rejected_line(e, &why)
            }
            Verdict::TestsFailed { failure, .. } => {
                rejected_line(e, &format!("`{}` {}", failure.command, failure.reason))
            }
        }
    }

    /// The artifact holding the test log tail, for a test failure.
    pub fn artifact(&self) -> Option<String> {
        matches!(self.verdict, Verdict::TestsFailed { .. })
            .then(|| format!("{QUEUE_NAMESPACE}/{}.log", self.entry.id))
    }
}

fn rejected_line(e: &Entry, why: &str) -> String {
    format!(
        "queue: rejected {} {}{}: {why}",
        e.domain,
        e.short(),
        e.task_suffix()
    )
}

fn short(id: Oid) -> String {
    id.to_string()[..7].to_owned()
}

/// At most three items, then a count.
fn list(items: &[String]) -> String {
    let mut out = items.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 3 {
        out.push_str(&format!(" and {} more", items.len() - 3));
    }
    out
}

/// The event and state edits recording `decision` on `snapshot`; `None`
/// when the entry was already decided there (see [`fate`]). This is the one
/// place where a decision's edits are built; a landing also marks its
/// `Comm-Task` done (releasing the task's reservations) in the same commit.
pub fn decision_change(
    snapshot: &Snapshot,
    decision: &Decision,
    main_branch: &str,
) -> Result<Option<Change>, CommError> {
    let e = &decision.entry;
    let Some(fate) = fate(snapshot, &e.domain, &e.id)? else {
        return Ok(None);
    };
    let landed = matches!(decision.verdict, Verdict::Landed { .. });
    let kind = if landed { LANDED_KIND } else { REJECTED_KIND };
    let mut event = Event::new(kind, QUEUE_ACTOR, decision.summary(main_branch));
    event.to = vec![e.domain.clone()];
    if landed {
        let others = snapshot.domains()?.into_iter().filter(|d| *d != e.domain);
        event.to.extend(others);
    }
    event.body = body(decision, main_branch);
    let task_done = match (&decision.verdict, &e.task) {
        (Verdict::Landed { .. }, Some(task)) => {
            task::done_by_landing(snapshot, task, QUEUE_ACTOR, clock::now())?
        }
        _ => None,
    };
    let mut field = |k: &str, v: String| event.fields.push((k.to_owned(), v));
    field("Entry", e.id.clone());
    field("Domain", e.domain.clone());
    field("Commit", e.head.clone());
    if let Some(task) = &e.task {
        field("Task", task.clone());
    }
    let mut edits = Vec::new();
    match &decision.verdict {
        Verdict::Landed { main, from, merge } => {
            edits.push(untested::landed_edit(*main));
            field("Main", main.to_string());
            if let Some(merge) = merge {
                field("Merge", merge.to_string());
            }
            if let Some(from) = from {
                field("Main-From", from.to_string());
            }
        }
        Verdict::Refused(_) => {}
        Verdict::TestsFailed { tested, tail, .. } => {
            field("Tested", tested.to_string());
            let artifact = decision.artifact().expect("a test failure has a log");
            field("Artifact", artifact.clone());
            edits.push(TreeEdit::Put {
                path: format!("artifacts/{artifact}"),
                bytes: tail.as_bytes().to_vec(),
            });
        }
    }
    if let Some(reason) = decision.reason() {
        field("Reason", reason.to_owned());
    }
    for timing in &decision.timings {
        let (key, value) = timing_field(timing);
        field(key, value);
    }
    if let Some(done) = task_done {
        land_task(&mut event, &mut edits, done);
    }
    if fate == Fate::Remove {
        edits.push(TreeEdit::Remove {
            path: Entry::path(&e.domain),
        });
    }
    Ok(Some(Change { event, edits }))
}

/// A command's duration as a field: its key and `<millis>ms <command>`.
fn timing_field(t: &Timing) -> (&'static str, String) {
    let key = match t.phase {
        Phase::Setup => SETUP_TIME_FIELD,
        Phase::Test => TEST_TIME_FIELD,
    };
    (key, format!("{}ms {}", t.millis, t.command))
}

/// The command durations a decision event carries, in the order they ran
/// (none for an event written before they were recorded); malformed
/// values are skipped.
pub fn timings(event: &Event) -> Vec<Timing> {
    event
        .fields
        .iter()
        .filter_map(|(key, value)| {
            let phase = match key.as_str() {
                SETUP_TIME_FIELD => Phase::Setup,
                TEST_TIME_FIELD => Phase::Test,
                _ => return None,
            };
            let (millis, command) = value.split_once("ms ")?;
            Some(Timing {
                phase,
                command: command.to_owned(),
                millis: millis.parse().ok()?,
            })
        })
        .collect()
}

/// Folds the task's `done` change into the landing: its state edits, the
/// convoy and unblocking fields, and the domains to tell.
fn land_task(event: &mut Event, edits: &mut Vec<TreeEdit>, done: Change) {
    edits.extend(done.edits);
    let extra = ["Convoy-Done", "Unblocks", "Released"];
    for (k, v) in done.event.fields {
        if extra.contains(&k.as_str()) {
            event.fields.push((k, v));
        }
    }
    event.fields.push(("Task-Done".into(), "yes".into()));
    for d in done.event.to {
        if !event.to.contains(&d) {
            event.to.push(d);
        }
    }
}

fn body(decision: &Decision, main_branch: &str) -> String {
    let e = &decision.entry;
    let what = format!("{} at {} (entry {})", e.branch, e.head, e.id);
    match &decision.verdict {
        Verdict::Landed {
            main,
            from: Some(from),
            merge,
        } => match merge.filter(|m| m != main) {
            None => format!(
                "{what} was tested as {main} and {main_branch} moved from {from} to it.\n\n{}",
                catch_up_line(main_branch)
            ),
            Some(merge) => format!(
                "{what} was merged as {merge}; the batch it belongs to was tested as {main} and {main_branch} moved from {from} to it.\n\n{}",
                catch_up_line(main_branch)
            ),
        },
        Verdict::Landed {
            main, from: None, ..
        } => format!(
            "{what} is already contained in {main_branch} ({main}); recorded as landed.\n\n{}",
            catch_up_line(main_branch)
        ),
        Verdict::Refused(Refusal::Conflict { paths }) => format!(
            "{what} conflicts with {main_branch} (and the candidates ahead of it) in:\n\n{}\n\nCatch up: run `comm-node update` in the worktree of {} (it merges {main_branch} in and lists the conflicts), resolve them, `git commit`, and submit again.",
            paths.iter().map(|p| format!("- {p}")).collect::<Vec<_>>().join("\n"),
            e.branch
        ),
        Verdict::Refused(Refusal::Boundary { violations }) => format!(
            "{what} breaks declared boundaries:\n\n{}\n\nRun `comm-node check --range {main_branch}..{}` to see them, fix, and submit again.",
            violations.iter().map(|v| format!("- {v}")).collect::<Vec<_>>().join("\n"),
            e.branch
        ),
        Verdict::Refused(Refusal::Missing) => format!(
            "{what}: the queue's repository does not have that commit. Push {} and submit again.",
            e.branch
        ),
        Verdict::TestsFailed {
            tested,
            failure,
            tail,
        } => {
            let lines: Vec<&str> = tail.lines().collect();
            let quoted = lines[lines.len().saturating_sub(BODY_TAIL_LINES)..].join("\n");
            format!(
                "`{}` {} on {tested}, the merge that added {what}.\nThe log tail is on comm: `git show comm:artifacts/{}`.\n\n```\n{quoted}\n```",
                failure.command,
                failure.reason,
                decision.artifact().unwrap_or_default()
            )
        }
    }
}

/// The state edits of a decision event replayed onto another `comm` tip
/// (by `comm sync`): its artifact again, its landed task marked done on the
/// task as it is there, and the removal of its entry only if that entry is
/// still the one decided (a newer submission stays queued). `None` when
/// the entry was already decided on that tip.
pub fn replay_edits(
    snapshot: &Snapshot,
    event: &Event,
    commit: Oid,
) -> Result<Option<Vec<TreeEdit>>, CommError> {
    let (Some(domain), Some(id)) = (event.field("Domain"), event.field("Entry")) else {
        return Ok(None);
    };
    let Some(fate) = fate(snapshot, domain, id)? else {
        return Ok(None);
    };
    // Everything the decision wrote (the log artifact, `landed.yaml`, the
    // reservations it released) except the entry's removal, which depends
    // on the entry's fate on this tip, and the landed task, which is marked
    // done again on the task as it is here (never written back as it was).
    let entry_path = Entry::path(domain);
    let landed_task = event.field("Task").filter(|_| event.kind == LANDED_KIND);
    let rederived =
        |path: &str| landed_task.is_some() && crate::comm::shard::entity(path).is_some();
    let mut edits = Vec::new();
    for edit in crate::comm::shard::edits_of(snapshot.repo(), commit)? {
        let keep = match &edit {
            TreeEdit::Put { path, .. } => !rederived(path),
            // A released reservation may already be gone on this tip.
            TreeEdit::Remove { path } => {
                *path != entry_path && !rederived(path) && snapshot.read(path)?.is_some()
            }
        };
        if keep {
            edits.push(edit);
        }
    }
    if let Some(id) = landed_task {
        let original = Snapshot::at(snapshot.repo(), Some(commit))?;
        let when = task::get(&original, id)?.map_or_else(clock::now, |t| t.updated);
        if let Some(done) = task::done_by_landing(snapshot, id, QUEUE_ACTOR, when)? {
            edits.extend(done.edits);
        }
    }
    if fate == Fate::Remove {
        edits.push(TreeEdit::Remove {
            path: Entry::path(domain),
        });
    }
    Ok(Some(edits))
}

/// What a landing tells every domain: the one catch-up step.
fn catch_up_line(main_branch: &str) -> String {
    format!(
        "Every other domain: catch up before your next change. `comm-node update` in your worktree merges {main_branch} into your branch (and stops on conflicts, listing the files)."
    )
}

/// Writes one event per decision on top of `tip` (each built against the
/// state it lands on, so a decision another run already recorded is
/// dropped, not doubled); returns the new tip. No ref moves.
pub fn record_chain(
    repo: &Repo,
    tip: Option<Oid>,
    decisions: &[Decision],
    main_branch: &str,
) -> Result<Option<Oid>, CommError> {
    let mut tip = tip;
    Snapshot::at(repo, tip)?.check_writable()?;
    for decision in decisions {
        let snapshot = Snapshot::at(repo, tip)?;
        let Some(mut change) = decision_change(&snapshot, decision, main_branch)? else {
            continue;
        };
        change.event.seq = snapshot.seq() + 1;
        let (event, edits) = (&mut change.event, &change.edits);
        tip = Some(crate::comm::signing::commit_event(
            &snapshot, event, edits, None,
        )?);
    }
    Ok(tip)
}

/// Records `decisions` on the local `comm`, rebuilding them on the new tip
/// when another writer got there first.
pub fn publish(repo: &Repo, decisions: &[Decision], main_branch: &str) -> Result<(), CommError> {
    if decisions.is_empty() {
        return Ok(());
    }
    for attempt in 0..500 {
        let base = repo.ref_tip(COMM_REF)?;
        let tip = record_chain(repo, base, decisions, main_branch)?;
        let Some(tip) = tip.filter(|t| Some(*t) != base) else {
            return Ok(());
        };
        let log = format!(
            "comm-node queue: {}",
            crate::text::count(decisions.len(), "decision")
        );
        match repo.cas_ref(COMM_REF, base, tip, &log)? {
            CasOutcome::Updated => return Ok(()),
            CasOutcome::Lost => std::thread::sleep(backoff(attempt)),
        }
    }
    Err(CommError::Contention(500))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_durations_survive_the_message_in_order() {
        let ran = vec![
            Timing {
                phase: Phase::Setup,
                command: "npm ci".into(),
                millis: 5120,
            },
            Timing {
                phase: Phase::Test,
                command: "grep -q 'ms ' a: b".into(),
                millis: 7,
            },
        ];
        let mut event = Event::new(LANDED_KIND, QUEUE_ACTOR, "queue: landed api");
        for t in &ran {
            let (key, value) = timing_field(t);
            event.fields.push((key.to_owned(), value));
        }
        event
            .fields
            .push((TEST_TIME_FIELD.into(), "soon cargo test".into()));
        let parsed = Event::parse(&event.to_message()).unwrap();
        assert_eq!(timings(&parsed), ran, "the malformed one is skipped");
    }
}
