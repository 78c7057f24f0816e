//! What `comm-node sync` would send to a remote, without sending it: the
//! local events the remote's `comm` does not have (all of them when the
//! remote has no `comm` yet, which is why a first sync is asked for by
//! name), and how many the remote has that this clone lacks. Only the
//! remote-tracking ref `refs/remotes/<remote>/comm` is updated (by the
//! fetch); `comm`, the remote and the git config are left alone.

use std::ops::ControlFlow;

use serde::Serialize;

use super::sync::require_remote;
use super::{walk, CommError, COMM_REF};
use crate::git::Repo;

/// What a sync with a remote would do.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub remote: String,
    /// The remote's `comm` tip (`None`: it has no `comm` yet).
    pub remote_tip: Option<String>,
    /// This clone's `comm` tip.
    pub local_tip: Option<String>,
    /// Local events the remote lacks, oldest first: a sync would push them
    /// (replayed on top of the remote's newer events, each re-checked).
    pub outgoing: Vec<Outgoing>,
    /// Events on the remote this clone lacks: a sync would bring them.
    pub incoming: usize,
}

/// One event a sync would push.
#[derive(Debug, Clone, Serialize)]
pub struct Outgoing {
    pub id: String,
    pub commit: String,
    pub kind: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
}

impl Preview {
    /// Whether the remote has a `comm` branch.
    pub fn remote_has_comm(&self) -> bool {
        self.remote_tip.is_some()
    }
}

/// Fetches `remote`'s `comm` and compares it with the local one.
pub fn preview(repo: &Repo, remote: &str) -> Result<Preview, CommError> {
    require_remote(repo, remote)?;
    let branch = COMM_REF.trim_start_matches("refs/heads/");
    let theirs = repo.fetch_branch(remote, branch)?;
    let ours = repo.ref_tip(COMM_REF)?;
    let base = match (ours, theirs) {
        (Some(o), Some(t)) => repo.merge_base(o, t)?,
        _ => None,
    };
    let mut outgoing = Vec::new();
    walk(repo, ours, |logged| {
        if Some(logged.commit) == base {
            return ControlFlow::Break(());
        }
        let e = logged.event;
        outgoing.push(Outgoing {
            id: e.id,
            commit: logged.commit.to_string(),
            kind: e.kind,
            from: e.from,
            to: e.to,
            subject: e.subject,
        });
        ControlFlow::Continue(())
    })?;
    outgoing.reverse();
    let mut incoming = 0;
    walk(repo, theirs, |logged| {
        if Some(logged.commit) == base {
            return ControlFlow::Break(());
        }
        incoming += 1;
        ControlFlow::Continue(())
    })?;
    Ok(Preview {
        remote: remote.to_owned(),
        remote_tip: theirs.map(|t| t.to_string()),
        local_tip: ours.map(|o| o.to_string()),
        outgoing,
        incoming,
    })
}
