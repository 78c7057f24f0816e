//! Signed events, for clones on different machines (optional).
//!
//! `comm-node init --sign` gives the human and each domain hosted by the
//! clone an ed25519 key, made by the real `ssh-keygen` and kept under
//! `.git/comm-node/keys/` (never committed), and registers the public keys
//! on comm as `keys/<actor>.pub` with a `key` event. From then on every
//! event written for that actor is signed the way `git commit -S` signs
//! with `gpg.format=ssh` (`ssh-keygen -Y sign -n git`, in the commit's
//! `gpgsig` header), so `git verify-commit` accepts it given an allowed
//! signers file built from comm's keys.
//!
//! Who signs what:
//! - an event is signed by the key of its `Comm-From`; once `keys/<from>.pub`
//!   is on comm, an unsigned or wrongly signed event of that author is a
//!   forgery: `verify` reports it at its commit and `sync` refuses it;
//! - an actor's first key is proven by signing its registration with it;
//!   a key is written by the human or by the actor itself (with its current
//!   key), and removed by the human only;
//! - events comm-node writes on no one's behalf (queue decisions, lapses,
//!   untested reports: `Comm-From: comm-node`) are vouched for by a key of
//!   the clone that wrote them, the human's first, else the first of its
//!   domains by name, named in a `Comm-Signer` trailer; once any key is on
//!   comm they must carry one (their content is still checked by the rules);
//! - a writer that would have to sign without the key refuses, writing
//!   nothing; `sync` (and `repair`) replay events with the key of their
//!   author on this clone, and reject (and report) one whose key it lacks,
//!   like any replayed event that no longer holds, so it never blocks sync.
//!
//! Registration is trust on first use: before an actor's key is on comm,
//! its events are unsigned and anyone may register a key in its name.

mod check;
mod keys;
mod sshkey;

use std::path::{Path, PathBuf};

use git2::Oid;

use super::{shard, CommError, Event, Snapshot, HUMAN, SYSTEM_ACTOR};
use crate::git::TreeEdit;

pub use check::{key_event_problem, key_file_problem, signature_problem};
pub use keys::{allowed_signers, apply_keys, plan_keys, registered_keys, KeyPlan, KeyStatus};

/// The kind of the event that registers keys.
pub const KIND: &str = "key";
/// The folder of comm's tree holding `<actor>.pub`.
pub const DIR: &str = "keys";
/// The trailer naming who vouched for an event of the system actor.
pub const SIGNER_FIELD: &str = "Signer";

/// Why an event could not be signed or a key made.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot {action} with ssh-keygen: {detail}")]
    Tool { action: String, detail: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SigningError {
    fn io(path: &Path, source: std::io::Error) -> SigningError {
        SigningError::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            SigningError::Tool { .. } => {
                "comm-node signs with OpenSSH's ssh-keygen (8.2 or newer): install it (Debian: apt-get install openssh-client)".into()
            }
            SigningError::Io { .. } => "check the permissions of .git/comm-node/keys".into(),
        }
    }
}

/// The refusal to write for `actor` without its registered key (during a
/// `sync` replay it rejects the event, like any event that no longer holds).
fn key_not_held(actor: &str, why: &str) -> CommError {
    CommError::Refused {
        message: format!(
            "`{actor}` signs its events with the key registered in comm:keys/{actor}.pub, and this clone {why}; nothing was written"
        ),
        hint: format!(
            "act as `{actor}` on the clone that holds its key; to move `{actor}` here, the human runs `comm-node init --sign={actor}` on this clone with the human's key"
        ),
    }
}

/// The private keys of this clone (`.git/comm-node/keys/<actor>`, with
/// `<actor>.pub` beside each).
pub struct LocalKeys {
    dir: PathBuf,
}

impl LocalKeys {
    pub fn of(repo: &crate::git::Repo) -> LocalKeys {
        LocalKeys {
            dir: repo.state_path("keys"),
        }
    }

    /// Where the private key of `actor` is (or would be).
    pub fn private(&self, actor: &str) -> PathBuf {
        self.dir.join(actor)
    }

    /// The public key of `actor` (`type base64`), when this clone holds its
    /// key pair.
    pub fn public(&self, actor: &str) -> Option<String> {
        if !self.private(actor).is_file() {
            return None;
        }
        let text = std::fs::read_to_string(self.dir.join(format!("{actor}.pub"))).ok()?;
        text.lines().find_map(key_id)
    }
}

/// A public key line reduced to `type base64` (the comment dropped), if
/// it is one.
pub fn key_id(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let (kind, data) = (words.next()?, words.next()?);
    let known = kind.starts_with("ssh-")
        || kind.starts_with("ecdsa-sha2-")
        || kind.starts_with("sk-ssh-")
        || kind.starts_with("sk-ecdsa-");
    let base64 = data
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    (known && base64 && data.len() >= 16).then(|| format!("{kind} {data}"))
}

/// The path of `actor`'s keys in comm's tree.
pub fn key_path(actor: &str) -> String {
    format!("{DIR}/{actor}.pub")
}

/// The keys registered for `actor` at the snapshot (`type base64` each).
pub fn registered(snapshot: &Snapshot, actor: &str) -> Result<Vec<String>, CommError> {
    Ok(snapshot
        .read(&key_path(actor))?
        .map(|bytes| parse_keys(&bytes))
        .unwrap_or_default())
}

fn parse_keys(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(key_id)
        .collect()
}

/// The actors with keys on comm at the snapshot, the human first.
fn principals(snapshot: &Snapshot) -> Result<Vec<String>, CommError> {
    let mut names: Vec<String> = snapshot
        .list(DIR)?
        .into_iter()
        .filter_map(|f| f.strip_suffix(".pub").map(str::to_owned))
        .collect();
    names.sort_by_key(|n| (n != HUMAN, n.clone()));
    Ok(names)
}

/// The private key that signs `event` on the snapshot, if any (see the
/// module doc); names the signer of a system event in its trailers.
fn choose_key(
    snapshot: &Snapshot,
    event: &mut Event,
    local: &LocalKeys,
) -> Result<Option<PathBuf>, CommError> {
    if event.from == SYSTEM_ACTOR {
        event.fields.retain(|(k, _)| k != SIGNER_FIELD);
        let registered_actors = principals(snapshot)?;
        for actor in &registered_actors {
            let held = local.public(actor);
            if held.is_some_and(|k| registered(snapshot, actor).is_ok_and(|r| r.contains(&k))) {
                event.fields.push((SIGNER_FIELD.to_owned(), actor.clone()));
                return Ok(Some(local.private(actor)));
            }
        }
        if registered_actors.is_empty() {
            return Ok(None);
        }
        return Err(CommError::Refused {
            message: format!(
                "signing is on for this comm (keys of {}), but this clone holds none of those keys to sign comm-node's own events with; nothing was written",
                registered_actors.join(", ")
            ),
            hint: "run `comm-node init --sign` on this clone so it holds a registered key".into(),
        });
    }
    let from = event.from.as_str();
    let on_comm = registered(snapshot, from)?;
    let refuse = |why: &str| Err(key_not_held(from, why));
    match local.public(from) {
        // Before registration signing is optional; the registration itself
        // is signed by the key it registers.
        Some(_) if on_comm.is_empty() => Ok(Some(local.private(from))),
        None if on_comm.is_empty() => Ok(None),
        Some(mine) if on_comm.contains(&mine) => Ok(Some(local.private(from))),
        Some(_) => refuse("holds another key for it"),
        None => refuse("holds no private key for it"),
    }
}

/// Writes `event` (its `seq` set) with `edits` on the snapshot's tip,
/// signed when its signer has a key (see the module doc); `like` keeps a
/// replayed commit's author and time. No ref moves.
///
/// Task and reservation files are written where this version keeps them
/// (see [`super::shard`]); on a state an older version left in the flat
/// layout, a `migrate` event moving its files is written first, and the
/// commit returned (`event.seq` one higher) has it as its parent.
pub fn commit_event(
    snapshot: &Snapshot,
    event: &mut Event,
    edits: &[TreeEdit],
    like: Option<Oid>,
) -> Result<Oid, CommError> {
    let repo = snapshot.repo();
    let edits = shard::canonical_edits(edits.iter().cloned());
    let moves = shard::migration(repo, snapshot.tip())?;
    if moves.is_empty() {
        return commit_one(snapshot, event, &edits, like);
    }
    let mut migrate = shard::migrate_event(moves.len() / 2);
    migrate.seq = event.seq;
    let migrated = commit_one(snapshot, &mut migrate, &moves, None)?;
    let after = Snapshot::at(repo, Some(migrated))?;
    event.seq = migrate.seq + 1;
    commit_one(&after, event, &edits, like)
}

/// [`commit_event`] on a state in this version's layout.
fn commit_one(
    snapshot: &Snapshot,
    event: &mut Event,
    edits: &[TreeEdit],
    like: Option<Oid>,
) -> Result<Oid, CommError> {
    let repo = snapshot.repo();
    let key = choose_key(snapshot, event, &LocalKeys::of(repo))?;
    let message = event.to_message();
    let Some(key) = key else {
        return Ok(repo.commit_edits(snapshot.tip(), edits, &message, like)?);
    };
    let mut sign = |data: &[u8]| -> Result<String, CommError> { Ok(sshkey::sign(&key, data)?) };
    repo.commit_edits_signed(snapshot.tip(), edits, &message, like, Some(&mut sign))
}
