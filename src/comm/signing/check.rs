//! What `verify` (and so `sync`) checks about keys and signatures: the
//! `keys/<actor>.pub` files, who may write them, and each event's
//! signature against the registered key of its author.

use std::collections::BTreeMap;

use git2::Oid;

use super::{key_path, parse_keys, principals, sshkey, SIGNER_FIELD};
use crate::comm::{CommError, Event, Registration, Snapshot, HUMAN, SYSTEM_ACTOR};
use crate::git::{Repo, TreeEdit};

/// Why `keys/<name>.pub` with `bytes` is no key file, if it is not.
pub fn key_file_problem(path: &str, bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return Some(format!("key file {path} holds no key"));
    }
    lines
        .iter()
        .find(|l| super::key_id(l).is_none())
        .map(|l| format!("key file {path} holds `{l}`, which is no SSH public key"))
}

/// A `key` event writes `keys/<actor>.pub` files only: its author's own,
/// or any registered actor's when the human writes it; only the human
/// removes one.
pub fn key_event_problem(
    event: &Event,
    edits: &[TreeEdit],
    registered: &BTreeMap<String, Registration>,
) -> Option<String> {
    let from = event.from.as_str();
    if edits.is_empty() {
        return Some("a key event that registers no key".into());
    }
    edits.iter().find_map(|edit| {
        let (path, removal) = match edit {
            TreeEdit::Put { path, .. } => (path.as_str(), false),
            TreeEdit::Remove { path } => (path.as_str(), true),
        };
        let Some(actor) = path
            .strip_prefix("keys/")
            .and_then(|n| n.strip_suffix(".pub"))
            .filter(|n| !n.contains('/'))
        else {
            return Some(format!("a key event by `{from}` may not change {path}"));
        };
        if actor != HUMAN && !registered.contains_key(actor) {
            return Some(format!(
                "it writes a key for `{actor}`, which is neither the human nor a registered domain"
            ));
        }
        if from != HUMAN && (actor != from || removal) {
            let verb = if removal { "remove" } else { "write" };
            return Some(format!(
                "`{from}` may not {verb} {path}: a domain writes only its own key, the human any"
            ));
        }
        None
    })
}

/// Whether `commit` (carrying `event`, on top of `before`) is signed as
/// its author must sign it; the broken rule in words if not.
pub fn signature_problem(
    repo: &Repo,
    commit: Oid,
    event: &Event,
    before: &Snapshot,
) -> Result<Option<String>, CommError> {
    let (principal, keys) = if event.from == SYSTEM_ACTOR {
        let on_comm = principals(before)?;
        if on_comm.is_empty() {
            return Ok(None);
        }
        let Some(signer) = event.field(SIGNER_FIELD) else {
            return Ok(Some(format!(
                "signing is on for this comm (keys of {}), but this event of `{SYSTEM_ACTOR}` names no Comm-Signer",
                on_comm.join(", ")
            )));
        };
        let keys = super::registered(before, signer)?;
        if keys.is_empty() {
            return Ok(Some(format!(
                "its Comm-Signer `{signer}` has no key registered on comm"
            )));
        }
        (signer.to_owned(), keys)
    } else {
        let mut keys = super::registered(before, &event.from)?;
        if keys.is_empty() {
            // A first registration is signed by the key it registers.
            let own = repo.read_file_at(commit, &key_path(&event.from))?;
            keys = own.map(|b| parse_keys(&b)).unwrap_or_default();
        }
        if keys.is_empty() {
            return Ok(None);
        }
        (event.from.clone(), keys)
    };
    let registered = format!("the key registered for `{principal}` in keys/{principal}.pub");
    let Some((signature, signed)) = repo.commit_signature(commit)? else {
        return Ok(Some(format!(
            "it is not signed, but `{principal}` signs its events with {registered}"
        )));
    };
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let scratch = repo.state_path("sigcheck");
    Ok(
        match sshkey::verify(&scratch, &principal, &keys, &signature, &signed)? {
            Ok(()) => None,
            Err(why) => Some(format!(
                "its signature is not made by {registered} (ssh-keygen: {why})"
            )),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq5yU68E//7wDITkmbdnjoJ35QSumdJaGkdChijCJAY";

    fn registered() -> BTreeMap<String, Registration> {
        ["api", "web"]
            .into_iter()
            .map(|d| {
                let reg = Registration {
                    domain: d.into(),
                    branch: format!("domain/{d}"),
                    role: String::new(),
                    scope: Vec::new(),
                    exports: Vec::new(),
                    may_import: Vec::new(),
                };
                (d.to_owned(), reg)
            })
            .collect()
    }

    fn put(actor: &str) -> TreeEdit {
        TreeEdit::Put {
            path: format!("keys/{actor}.pub"),
            bytes: format!("{KEY} comm-node {actor}\n").into_bytes(),
        }
    }

    fn remove(actor: &str) -> TreeEdit {
        TreeEdit::Remove {
            path: format!("keys/{actor}.pub"),
        }
    }

    #[test]
    fn key_files_hold_ssh_public_keys_only() {
        assert_eq!(
            key_file_problem("keys/api.pub", format!("{KEY} c\n").as_bytes()),
            None
        );
        assert!(key_file_problem("keys/api.pub", b"").is_some());
        let option = format!("cert-authority {KEY}\n");
        assert!(key_file_problem("keys/api.pub", option.as_bytes()).is_some());
        assert!(key_file_problem("keys/api.pub", b"ssh-ed25519 not*base64!\n").is_some());
    }

    #[test]
    fn a_domain_writes_its_own_key_and_the_human_any() {
        let reg = registered();
        let by = |from: &str| Event::new(super::super::KIND, from, "keys");
        assert_eq!(key_event_problem(&by("api"), &[put("api")], &reg), None);
        assert_eq!(
            key_event_problem(
                &by("human"),
                &[put("human"), put("api"), remove("web")],
                &reg
            ),
            None
        );
        let other = key_event_problem(&by("web"), &[put("api")], &reg).unwrap();
        assert!(
            other.contains("`web` may not write keys/api.pub"),
            "{other}"
        );
        let own_removal = key_event_problem(&by("api"), &[remove("api")], &reg).unwrap();
        assert!(own_removal.contains("may not remove"), "{own_removal}");
        let unknown = key_event_problem(&by("human"), &[put("comm-node")], &reg).unwrap();
        assert!(unknown.contains("neither the human nor a registered domain"));
        let elsewhere = TreeEdit::Put {
            path: "tasks/T-1.yaml".into(),
            bytes: Vec::new(),
        };
        assert!(key_event_problem(&by("human"), &[elsewhere], &reg).is_some());
    }
}
