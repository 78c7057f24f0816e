//! `hello`: an agent announcing itself in its domain, recorded at
//! `agents/<domain>.yaml` on `comm` so `status` can show who is working where.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{append, Appended, Change, CommError, Event, Snapshot, HUMAN};
use crate::git::{Repo, TreeEdit};

pub(super) const KIND: &str = "hello";
const DIR: &str = "agents";

/// Who announced themselves in a domain, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The agent's own name (`claude-code`, `codex`...), if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Seconds since the epoch.
    pub since: i64,
}

/// Records that an agent started working in `domain`.
pub fn hello(
    repo: &Repo,
    domain: &str,
    agent: Option<&str>,
    note: Option<&str>,
    now: i64,
) -> Result<Appended, CommError> {
    if domain == HUMAN {
        return Err(CommError::invalid(
            "hello is said by an agent in its domain",
            "run it in the domain's worktree, or pass --as DOMAIN",
        ));
    }
    for text in agent.iter().chain(note.iter()) {
        if text.trim().is_empty() || text.contains(char::is_control) || text.chars().count() > 200 {
            return Err(CommError::invalid(
                "--agent and --note are one line of 1 to 200 characters",
                "for longer introductions, send a message",
            ));
        }
    }
    let presence = Presence {
        agent: agent.map(str::to_owned),
        note: note.map(str::to_owned),
        since: now,
    };
    let bytes = serde_yaml::to_string(&presence)
        .expect("presence always serializes")
        .into_bytes();
    let appended = append(repo, |_| {
        let mut subject = format!("hello from {domain}");
        if let Some(a) = agent {
            subject.push_str(&format!(" ({a})"));
        }
        if let Some(n) = note {
            subject.push_str(&format!(": {n}"));
        }
        Ok(Some(Change {
            event: Event::new(KIND, domain, subject),
            edits: vec![TreeEdit::Put {
                path: format!("{DIR}/{domain}.yaml"),
                bytes: bytes.clone(),
            }],
        }))
    })?;
    Ok(appended.expect("a hello always appends"))
}

/// Every domain's latest hello at the snapshot.
pub fn presence(snapshot: &Snapshot) -> Result<BTreeMap<String, Presence>, CommError> {
    let mut out = BTreeMap::new();
    for domain in snapshot.yaml_names(DIR)? {
        if let Some(p) = snapshot.read_yaml(&format!("{DIR}/{domain}.yaml"))? {
            out.insert(domain, p);
        }
    }
    Ok(out)
}

/// Re-derives a replayed `hello` (written by `commit`) on a new state: its
/// presence, unless the domain announced itself more recently on the other
/// side, whose newer hello then stays (the event still lands: it is the
/// domain's activity).
pub(super) fn replay_edits(
    snapshot: &Snapshot,
    event: &Event,
    commit: git2::Oid,
) -> Result<Vec<TreeEdit>, CommError> {
    let path = format!("{DIR}/{}.yaml", event.from);
    let original = Snapshot::at(snapshot.repo(), Some(commit))?;
    let (Some(ours), Some(bytes)) = (
        original.read_yaml::<Presence>(&path)?,
        original.read(&path)?,
    ) else {
        return Ok(Vec::new());
    };
    let current: Option<Presence> = snapshot.read_yaml(&path)?;
    if current.is_some_and(|c| c.since > ours.since) {
        return Ok(Vec::new());
    }
    Ok(vec![TreeEdit::Put { path, bytes }])
}
