//! Artifacts: bytes a domain publishes for its peers (an API contract, a
//! schema), stored on `comm` at `artifacts/<domain>/<name>` so that
//! `git show comm:artifacts/api/openapi.yaml` works.

use super::message::check_recipients;
use super::{append, Appended, Change, CommError, Event, Snapshot, ALL, SYSTEM_ACTOR};
use crate::config::Limits;
use crate::git::{Repo, TreeEdit};

pub(super) const KIND: &str = "artifact";

/// Where the merge queue publishes its test logs (`artifacts/queue/<entry>.log`).
pub const QUEUE_NAMESPACE: &str = "queue";

/// The artifact namespaces of comm-node's own writers; no one publishes there.
const SYSTEM_NAMESPACES: [&str; 2] = [SYSTEM_ACTOR, QUEUE_NAMESPACE];

/// Checks that an artifact name is a normalized relative path that stays
/// inside the publisher's folder and that every git host accepts: segments
/// of ASCII letters, digits and `. - _ + @ = ,`, none of them `.`, `..`, a
/// spelling of `.git` (`.GIT`, `.git.`) or its short name `git~1`.
pub fn validate_artifact_name(name: &str) -> Result<(), CommError> {
    let problem = if name.is_empty() {
        Some("is empty".to_owned())
    } else if name.starts_with('/') {
        Some("is absolute".to_owned())
    } else if name.len() > 200 {
        Some("is longer than 200 bytes".to_owned())
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._-+@=,/".contains(*c)))
    {
        Some(format!("contains {c:?}"))
    } else {
        name.split('/').find_map(segment_problem)
    };
    match problem {
        Some(p) => Err(CommError::invalid(
            format!("artifact name `{}` {p}", name.escape_debug()),
            "use a relative path of letters, digits and . - _ + @ = , such as openapi.yaml or schemas/order.json",
        )),
        None => Ok(()),
    }
}

fn segment_problem(segment: &str) -> Option<String> {
    let lower = segment.to_ascii_lowercase();
    if segment.is_empty() {
        Some("has an empty path segment".into())
    } else if segment == "." || segment == ".." {
        Some("contains `.` or `..`".into())
    } else if lower.trim_end_matches('.') == ".git" || lower == "git~1" {
        Some("contains a name git reserves (`.git`)".into())
    } else {
        None
    }
}

pub(super) fn artifact_path(domain: &str, name: &str) -> String {
    format!("artifacts/{domain}/{name}")
}

/// Publishes `bytes` as `from`'s artifact `name`, telling `to` (or all).
pub fn publish(
    repo: &Repo,
    from: &str,
    name: &str,
    bytes: &[u8],
    to: &[String],
    note: Option<&str>,
    limits: &Limits,
) -> Result<Appended, CommError> {
    validate_artifact_name(name)?;
    if SYSTEM_NAMESPACES.contains(&from) {
        return Err(CommError::Refused {
            message: format!("artifacts/{from}/ belongs to comm-node's own writers"),
            hint: "publish as a domain of comm.yaml (or as human)".into(),
        });
    }
    if bytes.len() > limits.artifact_bytes {
        return Err(CommError::invalid(
            format!(
                "the artifact is {} bytes; the limit is {}",
                bytes.len(),
                limits.artifact_bytes
            ),
            "raise limits.artifact_bytes in comm.yaml if it really belongs on the bus",
        ));
    }
    let path = artifact_path(from, name);
    let appended = append(repo, |snapshot| {
        check_recipients(snapshot, to)?;
        check_not_in_the_way(snapshot, from, name)?;
        let subject = match note {
            Some(n) => format!("{from} published {name}: {n}"),
            None => format!("{from} published {name}"),
        };
        let mut event = Event::new(KIND, from, subject);
        event.to = if to.is_empty() {
            vec![ALL.to_owned()]
        } else {
            to.to_vec()
        };
        event
            .fields
            .push(("Artifact".into(), format!("{from}/{name}")));
        event.fields.push(("Size".into(), bytes.len().to_string()));
        Ok(Some(Change {
            event,
            edits: vec![TreeEdit::Put {
                path: path.clone(),
                bytes: bytes.to_vec(),
            }],
        }))
    })?;
    Ok(appended.expect("a publish always appends"))
}

/// Refuses `name` when a published artifact of `from` stands where its
/// folder would go (`nest` before `nest/y`) or is inside it (`nest/y`
/// before `nest`): a path is either a file or a folder in git's tree.
pub(super) fn check_not_in_the_way(
    snapshot: &Snapshot,
    from: &str,
    name: &str,
) -> Result<(), CommError> {
    let Some(tip) = snapshot.tip() else {
        return Ok(());
    };
    let repo = snapshot.repo();
    let in_the_way = |other: String, why: &str| {
        CommError::invalid(
            format!("cannot publish `{from}/{name}`: artifact `{from}/{other}` {why}"),
            format!(
                "publish under another name, or `git show comm:{}` to see what is there",
                artifact_path(from, &other)
            ),
        )
    };
    for (i, _) in name.match_indices('/') {
        let folder = &name[..i];
        if repo
            .file_id_at(tip, &artifact_path(from, folder))?
            .is_some()
        {
            return Err(in_the_way(
                folder.to_owned(),
                "is a file where its folder would be",
            ));
        }
    }
    if let Some(inside) = repo.list_dir_at(tip, &artifact_path(from, name))?.first() {
        return Err(in_the_way(
            format!("{name}/{inside}"),
            "is inside a folder of that name",
        ));
    }
    Ok(())
}

/// Which of the `wanted` artifacts (`domain/name`) are published at the snapshot.
pub fn published<'a>(
    snapshot: &Snapshot,
    wanted: impl IntoIterator<Item = &'a str>,
) -> Result<std::collections::BTreeSet<String>, CommError> {
    let mut out = std::collections::BTreeSet::new();
    let Some(tip) = snapshot.tip() else {
        return Ok(out);
    };
    for qualified in wanted {
        if out.contains(qualified) {
            continue;
        }
        if let Some((domain, name)) = qualified.split_once('/') {
            if snapshot
                .repo()
                .file_id_at(tip, &artifact_path(domain, name))?
                .is_some()
            {
                out.insert(qualified.to_owned());
            }
        }
    }
    Ok(out)
}

/// The bytes of artifact `domain/name` at the tip.
pub fn get_artifact(repo: &Repo, qualified: &str) -> Result<Vec<u8>, CommError> {
    let Some((domain, name)) = qualified.split_once('/') else {
        return Err(CommError::invalid(
            format!("`{qualified}` does not name a domain's artifact"),
            "write DOMAIN/NAME, e.g. api/openapi.yaml",
        ));
    };
    validate_artifact_name(name)?;
    let snapshot = Snapshot::take(repo)?;
    snapshot.read(&artifact_path(domain, name))?.ok_or_else(|| {
        CommError::invalid(
            format!("no artifact `{qualified}` on comm"),
            format!(
                "git ls-tree -r --name-only comm artifacts/{domain} lists what {domain} published"
            ),
        )
    })
}

/// Re-derives a replayed publish (written by `commit`) on a new state: its
/// recipients must still exist and nothing another clone published may
/// stand where its file or folder goes; then the bytes land as published.
pub(super) fn replay_edits(
    snapshot: &Snapshot,
    event: &Event,
    commit: git2::Oid,
) -> Result<Vec<TreeEdit>, CommError> {
    let qualified = event.field("Artifact").unwrap_or_default();
    let Some((from, name)) = qualified.split_once('/') else {
        return Err(CommError::invalid(
            format!("the publish {} names no artifact", event.id),
            "comm-node verify names the commit; the human removes it",
        ));
    };
    check_recipients(snapshot, &event.to)?;
    check_not_in_the_way(snapshot, from, name)?;
    Ok(snapshot.repo().commit_edits_of(commit)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_folder() {
        for good in ["openapi.yaml", "schemas/order.json", "a.b/c-d_e"] {
            assert!(validate_artifact_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a/",
            ".git/config",
            "C:x",
            "a\\b",
            "a\nb",
        ] {
            assert!(validate_artifact_name(bad).is_err(), "{bad:?}");
        }
    }
}
