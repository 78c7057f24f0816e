//! Commits on `main` the queue did not land: a domain branch pushed
//! straight to `main`, a human's commit, a rewritten history. The queue
//! keeps the `main` it last landed (or last reported) in `landed.yaml` on
//! `comm`, written by the same commit as each landing. Before a batch it
//! compares: commits on `main`'s first-parent line since then that are not
//! its own merges are reported once, as an `untested` event from
//! `comm-node` to `human` that also records the new `main` (so the same
//! range is not reported again). The queue then builds on that `main`:
//! the work on it is already there, and refusing to land anything would
//! not take it back out; the report says what was never tested.
//!
//! A report that `comm sync` replays on top of a newer landing puts back
//! an older `main` in `landed.yaml`; that is harmless, since the commits
//! between are the queue's own merges, which are never reported.

use std::ops::ControlFlow;

use git2::Oid;
use serde::{Deserialize, Serialize};

use super::QueueError;
use crate::comm::{append, Change, CommError, Event, Snapshot, HUMAN, SYSTEM_ACTOR};
use crate::git::{Repo, TreeEdit};

/// The event kind of a report.
pub const UNTESTED_KIND: &str = "untested";
/// Where the last landed `main` lives on `comm`.
pub const STATE: &str = "landed.yaml";
/// Commit ids a report lists.
const LISTED: usize = 20;
/// What the queue writes in the message of each merge it lands.
pub const MERGE_MARK: &str = "\n\nLanded by the comm-node merge queue (entry ";

/// `landed.yaml` on `comm`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Known {
    /// The `main` the queue last landed, or last reported as untested.
    main: String,
    /// The report that set `main`, when it was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    untested: Option<Untested>,
}

/// Commits on `main` the queue did not land.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Untested {
    /// The `main` the queue had landed.
    pub from: String,
    /// The `main` that holds the untested commits.
    pub to: String,
    /// How many there are (first-parent line, the queue's merges left out).
    pub count: usize,
    /// The newest of them (at most 20).
    pub commits: Vec<String>,
    /// `from` is no longer in `to`'s history (main was rewritten or reset).
    pub rewritten: bool,
    /// The `untested` event that reported them (`None`: not reported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

impl Untested {
    /// One line for people.
    pub fn summary(&self, branch: &str) -> String {
        let range = format!("{}..{}", short(&self.from), short(&self.to));
        if self.rewritten {
            format!(
                "queue: {branch} was rewritten ({range}): it no longer holds what the queue landed"
            )
        } else {
            format!(
                "queue: {branch} has {} the queue did not land ({range})",
                crate::text::count(self.count, "commit")
            )
        }
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(7)]
}

/// The state edit that records `main` as landed by the queue.
pub fn landed_edit(main: Oid) -> TreeEdit {
    let known = Known {
        main: main.to_string(),
        untested: None,
    };
    TreeEdit::Put {
        path: STATE.into(),
        bytes: serde_yaml::to_string(&known)
            .expect("the state serializes")
            .into_bytes(),
    }
}

/// What `main` at `tip` holds that the queue did not land, as of
/// `snapshot`: the reported range while `main` is still where it was
/// reported, else what a report would say now. `None` when the queue
/// has not landed anything yet, or all is its own.
pub fn current(repo: &Repo, snapshot: &Snapshot, tip: Oid) -> Result<Option<Untested>, QueueError> {
    let Some(known) = snapshot.read_yaml::<Known>(STATE)? else {
        return Ok(None);
    };
    let main = Oid::from_str(&known.main).map_err(|_| CommError::Corrupt {
        path: STATE.into(),
        reason: format!("`{}` is not a commit id", known.main),
    })?;
    if main == tip {
        return Ok(known.untested);
    }
    find(repo, main, tip)
}

/// Reports the commits on `main` at `tip` the queue did not land, once:
/// an `untested` event to `human`; the range reported now, if any.
pub fn report(repo: &Repo, branch: &str, tip: Oid) -> Result<Option<Untested>, QueueError> {
    let mut found = None;
    let mut failed = None;
    append(repo, |snapshot| {
        found = match current(repo, snapshot, tip) {
            Ok(u) => u.filter(|u| u.event.is_none()),
            Err(e) => {
                failed = Some(e);
                return Ok(None);
            }
        };
        let Some(untested) = found.as_mut() else {
            return Ok(None);
        };
        let mut event = Event::new(UNTESTED_KIND, SYSTEM_ACTOR, untested.summary(branch));
        untested.event = Some(event.id.clone());
        event.to = vec![HUMAN.to_owned()];
        event.body = body(untested, branch);
        event.fields.push(("Main".into(), untested.to.clone()));
        event
            .fields
            .push(("Main-From".into(), untested.from.clone()));
        event
            .fields
            .push(("Commits".into(), untested.count.to_string()));
        let known = Known {
            main: untested.to.clone(),
            untested: Some(untested.clone()),
        };
        let bytes = serde_yaml::to_string(&known).expect("the state serializes");
        Ok(Some(Change {
            event,
            edits: vec![TreeEdit::Put {
                path: STATE.into(),
                bytes: bytes.into_bytes(),
            }],
        }))
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

fn body(u: &Untested, branch: &str) -> String {
    let mut out = if u.rewritten {
        format!(
            "{branch} moved from {} (the last commit the queue landed) to {}, which does not \
             contain it: its history was rewritten or reset.\n",
            u.from, u.to
        )
    } else {
        format!(
            "{branch} moved from {} (the last commit the queue landed) to {} by commits the \
             queue never tested:\n\n",
            u.from, u.to
        )
    };
    for id in &u.commits {
        out.push_str(&format!("- {id}\n"));
    }
    if u.count > u.commits.len() {
        out.push_str(&format!("- and {} more\n", u.count - u.commits.len()));
    }
    out.push_str(&format!(
        "\nThe queue builds on this {branch} from now on. Inspect it with \
         `git log --first-parent {}..{}`; protect {branch} on the remote so that only the \
         queue pushes to it.\n",
        u.from, u.to
    ));
    out
}

/// The commits on `tip`'s first-parent line back to `known`'s history
/// that are not queue merges; `None` when there are none and `known` is
/// still in `tip`'s history.
fn find(repo: &Repo, known: Oid, tip: Oid) -> Result<Option<Untested>, QueueError> {
    let have = repo.has_commit(known);
    let rewritten = !(have && repo.is_ancestor(known, tip)?);
    let mut commits = Vec::new();
    let mut failed = None;
    repo.walk_first_parent(tip, |id, _, message| {
        let reached = have
            && repo.is_ancestor(id, known).unwrap_or_else(|e| {
                failed = Some(e);
                true
            });
        if reached {
            return ControlFlow::Break(());
        }
        if !message.contains(MERGE_MARK) {
            commits.push(id.to_string());
        }
        ControlFlow::Continue(())
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    if commits.is_empty() && !rewritten {
        return Ok(None);
    }
    let count = commits.len();
    commits.truncate(LISTED);
    Ok(Some(Untested {
        from: known.to_string(),
        to: tip.to_string(),
        count,
        commits,
        rewritten,
        event: None,
    }))
}
