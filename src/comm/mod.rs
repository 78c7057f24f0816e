//! The coordination bus: the `comm` branch, one commit per event.
//!
//! The tip's tree is the current state (`domains/<name>.yaml`, later tasks,
//! reservations, artifacts...), the history is the audit trail. Every state
//! change goes through [`append`], a compare-and-swap loop that rebuilds the
//! event on the newest tip when another writer got there first. Reads take
//! the tip tree and never scan history.

mod actor;
mod append;
mod artifact;
pub mod budget;
mod event;
mod index;
mod journal;
pub mod limits;
mod message;
pub mod outgoing;
mod presence;
mod repair;
mod replay;
pub mod reservation;
pub mod shard;
pub mod signing;
pub mod steer;
mod sync;
pub mod task;
mod unread;
pub mod verify;

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use git2::Oid;
use serde::{Deserialize, Serialize};

use crate::config::{Config, Domain};
use crate::git::{GitError, Repo, TreeEdit};

pub use actor::{acting_domain, checkout_domain, resolve_actor, Outside, HUMAN};
pub use append::{append, Appended, Change, Snapshot};
pub use artifact::{get_artifact, publish, published, validate_artifact_name, QUEUE_NAMESPACE};
pub use event::{new_id, Event};
pub use index::Index;
pub use message::{
    ack, find_message, inbox, inbox_at, send, thread_messages, thread_of, unread_counts, Message,
    SendRequest, ALL,
};
pub use presence::{hello, presence, Presence};
pub use repair::{repair, Dropped, RepairReport};
pub use replay::NOTICE_KIND;
pub use sync::{sync, sync_to, Rejected, Replayed, SyncReport};

/// Who signs the events comm-node writes on no one's behalf (queue
/// decisions, lapsed leases, rejections at sync); a reserved name, never a
/// domain.
pub const SYSTEM_ACTOR: &str = "comm-node";

/// The full name of the bus ref: a branch, so it pushes and `git log comm` works.
pub const COMM_REF: &str = "refs/heads/comm";

/// Why the bus could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CommError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Signing(#[from] signing::SigningError),
    #[error("`comm` kept moving: gave up after {0} attempts")]
    Contention(usize),
    #[error("state file {path} on comm is corrupt: {reason}")]
    Corrupt { path: String, reason: String },
    /// Bad input: nothing was written.
    #[error("{message}")]
    Invalid { message: String, hint: String },
    /// A rule said no: nothing was written.
    #[error("{message}")]
    Refused { message: String, hint: String },
}

impl CommError {
    pub(crate) fn invalid(message: impl Into<String>, hint: impl Into<String>) -> CommError {
        CommError::Invalid {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// A domain as registered on the bus (`domains/<name>.yaml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub domain: String,
    pub branch: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub exports: Vec<String>,
    #[serde(default)]
    pub may_import: Vec<String>,
}

impl Registration {
    /// The registration a declared domain should have.
    pub fn of(name: &str, domain: &Domain) -> Registration {
        Registration {
            domain: name.to_owned(),
            branch: Config::domain_branch(name),
            role: domain.role.clone(),
            scope: domain.scope.clone(),
            exports: domain.exports.clone(),
            may_import: domain.may_import.clone(),
        }
    }

    fn path(name: &str) -> String {
        format!("domains/{name}.yaml")
    }
}

/// What registering the declared domains would change on the bus.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegistrationPlan {
    /// True when `comm` does not exist yet (the event is the kickoff).
    pub kickoff: bool,
    pub added: Vec<String>,
    pub updated: Vec<String>,
}

impl RegistrationPlan {
    pub fn is_empty(&self) -> bool {
        !self.kickoff && self.added.is_empty() && self.updated.is_empty()
    }
}

/// Compares the declared domains with those registered at the tip.
pub fn plan_registration(repo: &Repo, config: &Config) -> Result<RegistrationPlan, CommError> {
    let snapshot = Snapshot::take(repo)?;
    registration_changes(&snapshot, config).map(|(plan, _)| plan)
}

/// Registers the declared domains on `comm`, creating it with a kickoff
/// commit when it does not exist. Returns `None` when nothing changed.
pub fn register(repo: &Repo, config: &Config, from: &str) -> Result<Option<Appended>, CommError> {
    append(repo, |snapshot| {
        let (plan, edits) = registration_changes(snapshot, config)?;
        if plan.is_empty() {
            return Ok(None);
        }
        Ok(Some(Change {
            event: registration_event(config, &plan, from),
            edits,
        }))
    })
}

fn registration_changes(
    snapshot: &Snapshot,
    config: &Config,
) -> Result<(RegistrationPlan, Vec<TreeEdit>), CommError> {
    let mut plan = RegistrationPlan {
        kickoff: snapshot.tip().is_none(),
        ..Default::default()
    };
    let mut edits = Vec::new();
    for (name, domain) in &config.domains {
        let path = Registration::path(name);
        let wanted = Registration::of(name, domain);
        let bytes = serde_yaml::to_string(&wanted)
            .expect("a registration always serializes")
            .into_bytes();
        match snapshot.read(&path)? {
            Some(current) if current == bytes => continue,
            Some(_) => plan.updated.push(name.clone()),
            None => plan.added.push(name.clone()),
        }
        edits.push(TreeEdit::Put { path, bytes });
    }
    Ok((plan, edits))
}

fn registration_event(config: &Config, plan: &RegistrationPlan, from: &str) -> Event {
    let names: Vec<&str> = config.domains.keys().map(String::as_str).collect();
    let subject = if plan.kickoff {
        format!(
            "kickoff {}: {} ({})",
            config.project,
            crate::text::count(names.len(), "domain"),
            names.join(", ")
        )
    } else {
        let mut parts = Vec::new();
        if !plan.added.is_empty() {
            parts.push(format!("added {}", plan.added.join(", ")));
        }
        if !plan.updated.is_empty() {
            parts.push(format!("updated {}", plan.updated.join(", ")));
        }
        format!("register domains: {}", parts.join("; "))
    };
    let mut body = String::from("| domain | branch | owns | role |\n| --- | --- | --- | --- |\n");
    for (name, d) in &config.domains {
        body.push_str(&format!(
            "| {name} | {} | {} | {} |\n",
            Config::domain_branch(name),
            d.scope.join(" "),
            d.role
        ));
    }
    let kind = if plan.kickoff { "kickoff" } else { "register" };
    let mut event = Event::new(kind, from, subject);
    event.to = vec!["all".to_owned()];
    event.body = body;
    event
}

/// The registered domains at the tip, by name.
pub fn registrations(repo: &Repo) -> Result<BTreeMap<String, Registration>, CommError> {
    registrations_at(&Snapshot::take(repo)?)
}

/// The registered domains at the snapshot, by name.
pub fn registrations_at(snapshot: &Snapshot) -> Result<BTreeMap<String, Registration>, CommError> {
    let mut out = BTreeMap::new();
    for name in snapshot.domains()? {
        if let Some(reg) = snapshot.read_yaml(&Registration::path(&name))? {
            out.insert(name, reg);
        }
    }
    Ok(out)
}

/// One event of the history with the commit that carries it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub commit: Oid,
    pub time: i64,
    pub event: Event,
}

/// Visits the events from the tip backwards until `visit` says stop.
pub fn walk(
    repo: &Repo,
    from: Option<Oid>,
    mut visit: impl FnMut(Logged) -> ControlFlow<()>,
) -> Result<(), CommError> {
    let Some(start) = from else {
        return Ok(());
    };
    repo.walk_first_parent(start, |commit, time, message| match Event::parse(message) {
        Some(event) => visit(Logged {
            commit,
            time,
            event,
        }),
        None => ControlFlow::Continue(()),
    })?;
    Ok(())
}

/// The newest `limit` events, newest first.
pub fn history(repo: &Repo, limit: usize) -> Result<Vec<Logged>, CommError> {
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    walk(repo, repo.ref_tip(COMM_REF)?, |logged| {
        out.push(logged);
        if out.len() >= limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(out)
}
