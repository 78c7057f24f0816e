//! Appending an event: compare-and-swap on the `comm` ref, with retry.
//!
//! No lock is held while the event is built. The caller's closure sees a
//! snapshot of the tip and returns the event and its tree edits; the commit
//! is written on that tip and the ref moves only if it still points there.
//! When another writer won, the closure runs again on the new tip, so every
//! validation it does is re-done against the state the event really lands on.

use std::ops::ControlFlow;

use git2::Oid;
use serde::de::DeserializeOwned;

use super::{CommError, Event, COMM_REF};
use crate::git::{CasOutcome, Repo, TreeEdit};
use crate::retry::backoff;

/// Attempts before giving up on a ref that never stops moving.
const MAX_ATTEMPTS: usize = 500;

/// The tip of `comm` as one consistent read.
pub struct Snapshot<'r> {
    repo: &'r Repo,
    tip: Option<Oid>,
    seq: u64,
    /// Why the tip is not a comm-node event (a merge, a plain commit).
    foreign: Option<String>,
}

impl<'r> Snapshot<'r> {
    /// Reads the current tip.
    pub fn take(repo: &'r Repo) -> Result<Snapshot<'r>, CommError> {
        Snapshot::at(repo, repo.ref_tip(COMM_REF)?)
    }

    /// Reads the state as of `tip` (a commit of `comm`, or none).
    pub fn at(repo: &'r Repo, tip: Option<Oid>) -> Result<Snapshot<'r>, CommError> {
        let (mut seq, mut foreign) = (0, None);
        if let Some(tip) = tip {
            repo.walk_first_parent(tip, |commit, _, message| match Event::parse(message) {
                Some(event) => {
                    seq = event.seq;
                    ControlFlow::Break(())
                }
                None => {
                    foreign.get_or_insert_with(|| not_an_event(commit, message));
                    ControlFlow::Continue(())
                }
            })?;
            let parents = repo.parent_ids(tip)?.len();
            if parents > 1 {
                foreign = Some(format!(
                    "the tip of comm, {}, is a merge of {parents} commits",
                    short(tip)
                ));
            }
        }
        Ok(Snapshot {
            repo,
            tip,
            seq,
            foreign,
        })
    }

    /// The sequence number of the newest event on the first-parent line
    /// (0 before the kickoff); the tip's when it is an event.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Refuses a tip that is not a comm-node event (a `git merge` or a
    /// plain commit on comm): events appended there would hide the history
    /// merged in from every inbox.
    pub fn check_appendable(&self) -> Result<(), CommError> {
        match &self.foreign {
            None => Ok(()),
            Some(why) => Err(CommError::invalid(
                format!("{why}: it is not a comm-node event, so nothing was written"),
                "run `comm-node repair` to make comm a line of events again (it keeps the \
                 events); exchange comm with `comm-node sync`, not git pull or git merge",
            )),
        }
    }

    /// Refuses to write on this tip: a tip that is not an event, or one
    /// holding a bad commit recorded by `comm-node verify`. Every writer
    /// (append, queue decisions) calls it before building anything.
    pub fn check_writable(&self) -> Result<(), CommError> {
        self.check_appendable()?;
        super::verify::refuse_bad_base(self.repo, self.tip)
    }

    /// The repository this snapshot reads.
    pub fn repo(&self) -> &'r Repo {
        self.repo
    }

    /// The tip commit (`None` before the kickoff).
    pub fn tip(&self) -> Option<Oid> {
        self.tip
    }

    /// A state file at the tip. A task or reservation file is also found
    /// where older versions wrote it (see [`super::shard`]).
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, CommError> {
        let Some(tip) = self.tip else {
            return Ok(None);
        };
        if let Some(bytes) = self.repo.read_file_at(tip, path)? {
            return Ok(Some(bytes));
        }
        match super::shard::flat_of(path) {
            Some(flat) => Ok(self.repo.read_file_at(tip, &flat)?),
            None => Ok(None),
        }
    }

    /// Entry names of a state directory at the tip.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, CommError> {
        match self.tip {
            Some(tip) => Ok(self.repo.list_dir_at(tip, dir)?),
            None => Ok(Vec::new()),
        }
    }

    /// The names of the `<name>.yaml` state files of `dir` at the tip.
    pub fn yaml_names(&self, dir: &str) -> Result<Vec<String>, CommError> {
        Ok(self
            .list(dir)?
            .into_iter()
            .filter_map(|f| f.strip_suffix(".yaml").map(str::to_owned))
            .collect())
    }

    /// The domains registered at the tip (`domains/<name>.yaml`).
    pub fn domains(&self) -> Result<Vec<String>, CommError> {
        self.yaml_names("domains")
    }

    /// A YAML state file at the tip, parsed; a file that does not parse is
    /// reported as corrupt.
    pub fn read_yaml<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, CommError> {
        let Some(bytes) = self.read(path)? else {
            return Ok(None);
        };
        serde_yaml::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CommError::Corrupt {
                path: path.to_owned(),
                reason: e.to_string(),
            })
    }
}

/// Why commit `id` with `message` is not an event.
fn not_an_event(id: Oid, message: &str) -> String {
    let subject = message.lines().next().unwrap_or_default();
    format!(
        "the tip of comm, {} (\"{subject}\"), has no Comm-* trailers",
        short(id)
    )
}

/// The abbreviated form of a commit id, for messages.
pub(super) fn short(id: Oid) -> String {
    id.to_string()[..10].to_owned()
}

/// An event and the state changes it makes, committed together.
pub struct Change {
    pub event: Event,
    pub edits: Vec<TreeEdit>,
}

/// An event that landed on `comm`.
#[derive(Debug, Clone)]
pub struct Appended {
    pub commit: Oid,
    pub event: Event,
    /// How many times the ref had moved under us first.
    pub retries: usize,
}

/// Builds an event on the current tip and lands it with compare-and-swap,
/// rebuilding on the new tip after a lost race. `build` returns `None` when
/// there is nothing to record.
pub fn append<F>(repo: &Repo, mut build: F) -> Result<Option<Appended>, CommError>
where
    F: FnMut(&Snapshot) -> Result<Option<Change>, CommError>,
{
    for attempt in 0..MAX_ATTEMPTS {
        let snapshot = Snapshot::take(repo)?;
        snapshot.check_writable()?;
        let Some(mut change) = build(&snapshot)? else {
            return Ok(None);
        };
        change.event.seq = snapshot.seq + 1;
        let commit =
            super::signing::commit_event(&snapshot, &mut change.event, &change.edits, None)?;
        let log = format!("comm-node: {}", change.event.subject);
        match repo.cas_ref(COMM_REF, snapshot.tip, commit, &log)? {
            CasOutcome::Updated => {
                return Ok(Some(Appended {
                    commit,
                    event: change.event,
                    retries: attempt,
                }))
            }
            CasOutcome::Lost => std::thread::sleep(backoff(attempt)),
        }
    }
    Err(CommError::Contention(MAX_ATTEMPTS))
}
