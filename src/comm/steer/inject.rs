//! `inject`: the human puts an artifact into a domain's namespace
//! (`artifacts/<domain>/<name>`), e.g. the corrected API contract the
//! domain got wrong. One `inject` event tells that domain and the domains
//! of every open task waiting on the artifact (`--needs-artifact`), naming
//! those tasks and the ones it makes ready.

use git2::Oid;
use serde::Serialize;

use super::{known_domain, require_human};
use crate::comm::artifact::{artifact_path, check_not_in_the_way, validate_artifact_name};
use crate::comm::task::{self, Status};
use crate::comm::{append, Appended, Change, CommError, Event, Snapshot, HUMAN};
use crate::config::Limits;
use crate::git::{Repo, TreeEdit};

/// The event kind of an injected artifact.
pub const INJECT_KIND: &str = "inject";

/// An injection that landed.
#[derive(Debug, Clone, Serialize)]
pub struct Injected {
    #[serde(skip)]
    pub appended: Option<Appended>,
    /// `domain/name`.
    pub artifact: String,
    pub size: usize,
    /// Open tasks that wait on it.
    pub waiting: Vec<String>,
    /// Those of them it made ready.
    pub unblocked: Vec<String>,
    /// Who was told.
    pub told: Vec<String>,
}

/// The open tasks that need `qualified` (`domain/name`), by id.
pub fn waiting_on(snapshot: &Snapshot, qualified: &str) -> Result<Vec<task::Task>, CommError> {
    Ok(task::board(snapshot)?
        .into_tasks()
        .filter(|t| t.status == Status::Open && t.needs_artifacts.iter().any(|a| a == qualified))
        .collect())
}

/// Publishes `bytes` as `domain`'s artifact `name`, as the human.
pub fn inject(
    repo: &Repo,
    by: &str,
    domain: &str,
    name: &str,
    bytes: &[u8],
    note: Option<&str>,
    limits: &Limits,
) -> Result<Injected, CommError> {
    require_human(by, "inject an artifact")?;
    validate_artifact_name(name)?;
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
    let mut done = None;
    let appended = append(repo, |snapshot| {
        let event = Event::new(INJECT_KIND, by, String::new());
        let (change, injected) = inject_change(snapshot, event, domain, name, bytes, note)?;
        done = Some(injected);
        Ok(Some(change))
    })?;
    let mut injected = done.expect("an inject always appends");
    injected.appended = appended;
    Ok(injected)
}

fn inject_change(
    snapshot: &Snapshot,
    mut event: Event,
    domain: &str,
    name: &str,
    bytes: &[u8],
    note: Option<&str>,
) -> Result<(Change, Injected), CommError> {
    known_domain(&snapshot.domains()?, domain)?;
    check_not_in_the_way(snapshot, domain, name)?;
    let qualified = format!("{domain}/{name}");
    let before = task::board(snapshot)?;
    let waiting = waiting_on(snapshot, &qualified)?;
    let ready_before: Vec<String> = before.ready().iter().map(|t| t.id.clone()).collect();
    // Readiness once the artifact is there: a board whose published set has it.
    let mut tasks = std::collections::BTreeMap::new();
    for t in before.into_tasks() {
        tasks.insert(t.id.clone(), t);
    }
    let mut published = crate::comm::artifact::published(
        snapshot,
        crate::comm::task::Board::needed_artifacts(&tasks)
            .iter()
            .map(String::as_str),
    )?;
    published.insert(qualified.clone());
    let after = crate::comm::task::Board::new(tasks, published);
    let unblocked: Vec<String> = waiting
        .iter()
        .filter(|t| after.is_ready(t) && !ready_before.contains(&t.id))
        .map(|t| t.id.clone())
        .collect();
    let mut told = vec![domain.to_owned()];
    for t in &waiting {
        told.push(t.domain.clone().unwrap_or_else(|| t.created_by.clone()));
    }
    told.retain(|d| d != HUMAN);
    told.sort();
    told.dedup();
    let ids: Vec<String> = waiting.iter().map(|t| t.id.clone()).collect();
    event.subject = match note {
        Some(n) => format!("human injected {qualified}: {n}"),
        None => format!("human injected {qualified}"),
    };
    if !unblocked.is_empty() {
        event
            .subject
            .push_str(&format!("; unblocks {}", unblocked.join(", ")));
    }
    event.to = told.clone();
    event.fields.push(("Artifact".into(), qualified.clone()));
    event.fields.push(("Size".into(), bytes.len().to_string()));
    if !ids.is_empty() {
        event.fields.push(("Waiting".into(), ids.join(" ")));
    }
    if !unblocked.is_empty() {
        event.fields.push(("Unblocks".into(), unblocked.join(" ")));
    }
    let edits = vec![TreeEdit::Put {
        path: artifact_path(domain, name),
        bytes: bytes.to_vec(),
    }];
    let injected = Injected {
        appended: None,
        artifact: qualified,
        size: bytes.len(),
        waiting: ids,
        unblocked,
        told,
    };
    Ok((Change { event, edits }, injected))
}

/// A replayed inject: its bytes land again where it put them, telling the
/// domains that wait on it now (same id).
pub fn replay_inject(
    snapshot: &Snapshot,
    event: &Event,
    commit: Oid,
) -> Result<(Event, Vec<TreeEdit>), CommError> {
    require_human(&event.from, "inject an artifact")?;
    let qualified = event.field("Artifact").unwrap_or_default();
    let Some((domain, name)) = qualified.split_once('/') else {
        return Err(CommError::invalid(
            format!("the inject {} names no artifact", event.id),
            "comm-node verify names the commit; the human removes it",
        ));
    };
    let bytes = snapshot
        .repo()
        .read_file_at(commit, &artifact_path(domain, name))?
        .unwrap_or_default();
    let mut fresh = event.clone();
    fresh.fields.clear();
    let (change, _) = inject_change(snapshot, fresh, domain, name, &bytes, None)?;
    let mut replayed = change.event;
    replayed.subject.clone_from(&event.subject);
    Ok((replayed, change.edits))
}
