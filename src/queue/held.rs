//! Entries that wait: the merge queue lands nothing of a domain the human
//! halted (`comm-node halt`). Its entries stay queued, are reported as
//! waiting, and land on the first run after `comm-node resume`. Checked
//! when a batch is formed and again just before `main` moves, so a halt
//! written while a batch was tested stops that batch from landing.

use serde::Serialize;

use super::decision::{Decision, Verdict};
use super::progress::{Observer, Step};
use super::Entry;
use crate::comm::steer::halts;
use crate::comm::{CommError, Snapshot};
use crate::git::Repo;

/// A queued entry left waiting by this run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    pub entry: String,
    pub domain: String,
    pub head: String,
    pub why: String,
}

/// The `entries` whose domain is not halted at the snapshot; the others
/// are told to `observe` and added to `waiting` (each once).
pub fn hold(
    snapshot: &Snapshot,
    entries: Vec<Entry>,
    observe: Observer,
    waiting: &mut Vec<Waiting>,
) -> Result<Vec<Entry>, CommError> {
    let halted = halts(snapshot)?;
    if halted.is_empty() {
        return Ok(entries);
    }
    let mut out = Vec::new();
    for e in entries {
        let Some(h) = halted.get(&e.domain) else {
            out.push(e);
            continue;
        };
        let why = format!("halted: {}", h.describe());
        if !waiting.iter().any(|w| w.entry == e.id) {
            observe(&Step::Waiting {
                entry: &e,
                why: &why,
            });
            waiting.push(Waiting {
                entry: e.id.clone(),
                domain: e.domain.clone(),
                head: e.head.clone(),
                why,
            });
        }
    }
    Ok(out)
}

/// Whether a domain that would land in `decisions` was halted meanwhile.
pub fn halted_meanwhile(repo: &Repo, decisions: &[Decision]) -> Result<bool, CommError> {
    let halted = halts(&Snapshot::take(repo)?)?;
    Ok(decisions.iter().any(|d| {
        matches!(d.verdict, Verdict::Landed { .. }) && halted.contains_key(&d.entry.domain)
    }))
}
