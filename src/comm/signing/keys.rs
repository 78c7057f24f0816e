//! The keys of a clone: what `init --sign` makes and registers on comm,
//! and comm's keys as an allowed signers file for `git verify-commit`.

use serde::Serialize;

use super::{key_path, principals, registered, sshkey, LocalKeys, KIND};
use crate::comm::{append, Appended, Change, CommError, Event, Snapshot, HUMAN};
use crate::config::Config;
use crate::git::{Repo, TreeEdit};

/// What `init --sign` would do about keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyPlan {
    /// Actors this clone makes a key pair for.
    pub generate: Vec<String>,
    /// Actors whose key this clone registers on comm (new or replacing one).
    pub register: Vec<String>,
    /// Who writes the registration: the human, or (`None`) each domain
    /// its own, when the human's key is held by another clone.
    pub by: Option<String>,
    /// What is left alone, and why.
    pub notes: Vec<String>,
}

impl KeyPlan {
    pub fn is_empty(&self) -> bool {
        self.generate.is_empty() && self.register.is_empty()
    }
}

/// Plans keys for the human and `wanted` domains (all declared domains
/// whose key is not registered from another clone when empty).
pub fn plan_keys(repo: &Repo, config: &Config, wanted: &[String]) -> Result<KeyPlan, CommError> {
    if let Some(unknown) = wanted
        .iter()
        .find(|w| *w != HUMAN && !config.domains.contains_key(*w))
    {
        return Err(CommError::invalid(
            format!("`{unknown}` is not a domain of comm.yaml"),
            format!(
                "name domains to sign for: {}",
                config
                    .domains
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let snapshot = Snapshot::take(repo)?;
    let local = LocalKeys::of(repo);
    let explicit = !wanted.is_empty();
    let domains: Vec<&String> = if explicit {
        wanted.iter().filter(|w| *w != HUMAN).collect()
    } else {
        config.domains.keys().collect()
    };
    let mut plan = KeyPlan::default();
    for actor in std::iter::once(HUMAN).chain(domains.iter().map(|d| d.as_str())) {
        let on_comm = registered(&snapshot, actor)?;
        let mine = local.public(actor);
        if mine.as_ref().is_some_and(|k| on_comm.contains(k)) {
            continue;
        }
        if !on_comm.is_empty() && actor == HUMAN {
            plan.notes.push(
                "the human's key is registered from another clone: copy .git/comm-node/keys/human and human.pub from there to act as the human here".into(),
            );
            continue;
        }
        if !on_comm.is_empty() && !explicit {
            plan.notes.push(format!(
                "`{actor}`'s key is registered from another clone, so this clone does not sign as `{actor}` (`--sign={actor}` moves it here)"
            ));
            continue;
        }
        if mine.is_none() {
            plan.generate.push(actor.to_owned());
        }
        plan.register.push(actor.to_owned());
    }
    let human_on_comm = registered(&snapshot, HUMAN)?;
    let human_held = local
        .public(HUMAN)
        .is_some_and(|k| human_on_comm.contains(&k));
    if plan.register.iter().any(|a| a == HUMAN) || human_held {
        plan.by = Some(HUMAN.to_owned());
    } else {
        for actor in &plan.register {
            if !registered(&snapshot, actor)?.is_empty() {
                return Err(CommError::Refused {
                    message: format!(
                        "`{actor}` already has a key on comm; replacing it needs the human's key, which this clone does not hold"
                    ),
                    hint: "run `comm-node init --sign=DOMAIN` on the clone that holds the human's key, or copy .git/comm-node/keys/human and human.pub here first".into(),
                });
            }
        }
    }
    Ok(plan)
}

/// Makes the planned key pairs and registers the keys on comm (one event
/// by the human, or one per domain by the domain itself).
pub fn apply_keys(
    repo: &Repo,
    config: &Config,
    plan: &KeyPlan,
) -> Result<Vec<Appended>, CommError> {
    let local = LocalKeys::of(repo);
    for actor in &plan.generate {
        if local.public(actor).is_none() {
            let comment = format!("comm-node {actor} ({})", config.project);
            sshkey::generate(&local.private(actor), &comment)?;
        }
    }
    /// An actor, its public key and the key's fingerprint.
    type Key = (String, String, String);
    let mut keys: Vec<Key> = Vec::new();
    for actor in &plan.register {
        let key = local
            .public(actor)
            .ok_or_else(|| super::key_not_held(actor, "lost the key it just made"))?;
        let fingerprint = sshkey::fingerprint(&key)?;
        keys.push((actor.clone(), key, fingerprint));
    }
    let groups: Vec<(String, Vec<Key>)> = match &plan.by {
        Some(by) => vec![(by.clone(), keys)],
        None => keys.into_iter().map(|k| (k.0.clone(), vec![k])).collect(),
    };
    let mut out = Vec::new();
    for (by, keys) in groups {
        let appended = append(repo, |snapshot| {
            let mut edits = Vec::new();
            for (actor, key, _) in &keys {
                let bytes = format!("{key} comm-node {actor}\n").into_bytes();
                if snapshot.read(&key_path(actor))?.as_deref() != Some(&bytes[..]) {
                    edits.push(TreeEdit::Put {
                        path: key_path(actor),
                        bytes,
                    });
                }
            }
            if edits.is_empty() {
                return Ok(None);
            }
            let names: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
            let mut event = Event::new(
                KIND,
                &by,
                format!("signing keys registered: {}", names.join(", ")),
            );
            event.to = vec!["all".to_owned()];
            event.body = String::from("| actor | key |\n| --- | --- |\n");
            for (actor, _, fingerprint) in &keys {
                event
                    .body
                    .push_str(&format!("| {actor} | {fingerprint} |\n"));
            }
            Ok(Some(Change { event, edits }))
        })?;
        out.extend(appended);
    }
    Ok(out)
}

/// One registered key, and whether this clone holds its private half.
#[derive(Debug, Clone, Serialize)]
pub struct KeyStatus {
    pub actor: String,
    pub key: String,
    pub held: bool,
}

/// The keys on comm's tip, the human's first.
pub fn registered_keys(repo: &Repo) -> Result<Vec<KeyStatus>, CommError> {
    let snapshot = Snapshot::take(repo)?;
    let local = LocalKeys::of(repo);
    let mut out = Vec::new();
    for actor in principals(&snapshot)? {
        let mine = local.public(&actor);
        for key in registered(&snapshot, &actor)? {
            out.push(KeyStatus {
                held: mine.as_ref() == Some(&key),
                actor: actor.clone(),
                key,
            });
        }
    }
    Ok(out)
}

/// comm's keys as an allowed signers file (`gpg.ssh.allowedSignersFile`),
/// each actor a principal limited to the `git` namespace.
pub fn allowed_signers(repo: &Repo) -> Result<String, CommError> {
    Ok(registered_keys(repo)?
        .iter()
        .map(|k| format!("{} namespaces=\"git\" {}\n", k.actor, k.key))
        .collect())
}
