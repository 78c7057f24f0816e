//! The one finishing rule: work that changes code is done when it lands.
//!
//! `submit --task T` is how code work finishes: the queue marks `T` done in
//! the same `comm` commit that records the landing, after the tests passed
//! on the exact merge. `task done` is for work that changed no code (a
//! contract agreed, a question answered). So `task done` on a task that is
//! queued, or whose domain has commits `main` lacks, would call untested
//! work done: [`unlanded`] says so, and the command refuses. `submit --task`
//! of a task already done is refused by [`super::submit`].
//!
//! Submitting again a head the queue has just rejected is allowed (the
//! test may have been flaky, or `main` may have moved) but
//! [`last_rejection`] lets `submit` say why it was rejected.

use std::ops::ControlFlow;

use super::{pending, Entry, LANDED_KIND, REJECTED_KIND};
use crate::comm::task::Task;
use crate::comm::{self, CommError, Snapshot, COMM_REF};
use crate::config::Config;
use crate::git::Repo;

/// Work of a task that has not landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlanded {
    /// A queue entry names the task: it becomes done when that lands.
    Queued(Entry),
    /// The task's domain has commits `main` lacks.
    Commits {
        branch: String,
        ahead: usize,
        main: String,
    },
}

impl Unlanded {
    /// Why marking `task` done now is wrong.
    pub fn message(&self, task: &str) -> String {
        match self {
            Unlanded::Queued(e) => format!(
                "task {task} is in the merge queue ({} {}, entry {}): it becomes done when that lands",
                e.branch,
                e.short(),
                e.id
            ),
            Unlanded::Commits {
                branch,
                ahead,
                main,
            } => format!(
                "{branch} has {ahead} commit{} that {main} does not: work that changes code is done when it lands",
                if *ahead == 1 { "" } else { "s" }
            ),
        }
    }

    /// What to do instead.
    pub fn hint(&self, task: &str) -> String {
        match self {
            Unlanded::Queued(_) => {
                "wait for the queue (comm-node queue status); a rejection tells you why".to_owned()
            }
            Unlanded::Commits { .. } => format!(
                "comm-node submit --task {task} (done when it lands); if this task changed no code, pass --force"
            ),
        }
    }
}

/// The unlanded work that marking `task` done by `by` would pass over:
/// a queue entry naming it, or commits on its domain's branch (the
/// assignee's, else the task's domain's, else `by`'s) that `main` lacks.
pub fn unlanded(
    repo: &Repo,
    config: &Config,
    snapshot: &Snapshot,
    task: &Task,
    by: &str,
) -> Result<Option<Unlanded>, CommError> {
    if let Some(entry) = pending(snapshot)?
        .into_iter()
        .find(|e| e.task.as_deref() == Some(task.id.as_str()))
    {
        return Ok(Some(Unlanded::Queued(entry)));
    }
    let domain = [task.assignee.as_deref(), task.domain.as_deref(), Some(by)]
        .into_iter()
        .flatten()
        .find(|d| config.domains.contains_key(*d));
    let (Some(domain), Some(main)) = (domain, repo.branch_tip(&config.main)?) else {
        return Ok(None);
    };
    let branch = Config::domain_branch(domain);
    let Some(tip) = repo.branch_tip(&branch)? else {
        return Ok(None);
    };
    let ahead = repo.ahead_behind(tip, main)?.ahead;
    Ok((ahead > 0).then(|| Unlanded::Commits {
        branch,
        ahead,
        main: config.main.clone(),
    }))
}

/// A rejection of a head by the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// `queue: rejected web 1a2b3c4: conflicts in README.md`.
    pub summary: String,
    /// The reason code: conflict, boundary, tests, timeout, missing.
    pub reason: String,
    /// The event's id (`comm-node read ID` shows the whole story).
    pub id: String,
}

/// How far back on `comm` [`last_rejection`] looks.
const LOOKBACK: usize = 5000;

/// The queue's latest decision about `domain`, when it rejected `head`.
pub fn last_rejection(
    repo: &Repo,
    domain: &str,
    head: &str,
) -> Result<Option<Rejection>, CommError> {
    let mut found = None;
    let mut seen = 0;
    comm::walk(repo, repo.ref_tip(COMM_REF)?, |logged| {
        seen += 1;
        let e = &logged.event;
        let decided = e.kind == LANDED_KIND || e.kind == REJECTED_KIND;
        if decided && e.field("Domain") == Some(domain) {
            if e.kind == REJECTED_KIND && e.field("Commit") == Some(head) {
                found = Some(Rejection {
                    summary: e.subject.clone(),
                    reason: e.field("Reason").unwrap_or("rejected").to_owned(),
                    id: e.id.clone(),
                });
            }
            return ControlFlow::Break(());
        }
        if seen >= LOOKBACK {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(found)
}
