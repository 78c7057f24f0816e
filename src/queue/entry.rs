//! Queue entries: `queue/<domain>.yaml` on `comm`, one live entry per
//! domain branch (a resubmit replaces it), written by a `submit` event.
//! The order is priority (0, the most urgent, first, as for tasks), then
//! arrival (`comm` sequence).

use git2::Oid;
use serde::{Deserialize, Serialize};

use crate::comm::task::Status as TaskStatus;
use crate::comm::{append, Change, CommError, Event, Snapshot};
use crate::config::Config;
use crate::git::{Repo, TreeEdit};
use crate::text::count;

/// The event kind of a submission.
pub const SUBMIT_KIND: &str = "submit";

/// A branch head waiting in the merge queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The id of the submit event (stable across replays).
    pub id: String,
    pub domain: String,
    pub branch: String,
    /// The submitted commit (the branch may move on; this is what is tested).
    pub head: String,
    #[serde(default)]
    pub task: Option<String>,
    /// 0 (most urgent) goes first, as for tasks.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// The `comm` sequence number of the submission (arrival order).
    pub seq: u64,
    /// Seconds since the epoch.
    pub submitted: i64,
    /// The id of the entry this submission replaced, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

impl Entry {
    /// Where the entry lives on `comm`.
    pub fn path(domain: &str) -> String {
        format!("queue/{domain}.yaml")
    }

    /// The submitted commit.
    pub fn head_oid(&self) -> Result<Oid, CommError> {
        Oid::from_str(&self.head).map_err(|_| CommError::Corrupt {
            path: Entry::path(&self.domain),
            reason: format!("`{}` is not a commit id", self.head),
        })
    }

    /// The first seven hex digits of the head.
    pub fn short(&self) -> &str {
        &self.head[..self.head.len().min(7)]
    }

    /// ` (T-12)` when the entry names a task, else nothing.
    pub fn task_suffix(&self) -> String {
        self.task
            .as_deref()
            .map_or(String::new(), |t| format!(" ({t})"))
    }
}

/// How a decision about an entry meets the queue state it lands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// The entry is still queued: the decision removes it.
    Remove,
    /// A resubmission replaced it: the decision is recorded, the newer
    /// entry stays queued.
    Superseded,
}

/// What to submit.
#[derive(Debug, Clone)]
pub struct SubmitRequest {
    pub domain: String,
    pub task: Option<String>,
    /// 0 (first) to 4; `None`: the task's priority, else 2.
    pub priority: Option<u8>,
}

/// A submission that landed on `comm`.
#[derive(Debug, Clone, Serialize)]
pub struct Submitted {
    pub entry: Entry,
    /// The entry this one replaced (the domain's previous submission).
    pub replaced: Option<Entry>,
    /// 1-based place in the queue right after submitting.
    pub position: usize,
    /// Commits the head is ahead of main.
    pub ahead: usize,
}

/// Puts the head of `domain`'s branch in the queue, replacing its older
/// entry. Refused when the branch has nothing that `main` lacks, and when
/// the task it names is already done.
pub fn submit(repo: &Repo, config: &Config, req: &SubmitRequest) -> Result<Submitted, CommError> {
    if !config.domains.contains_key(&req.domain) {
        return Err(CommError::Refused {
            message: format!("`{}` is not a domain of comm.yaml", req.domain),
            hint: "run submit in a domain worktree (or pass --as DOMAIN)".into(),
        });
    }
    if let Some(task) = &req.task {
        crate::comm::task::validate_id(task)?;
    }
    let branch = Config::domain_branch(&req.domain);
    let head = repo.branch_tip(&branch)?.ok_or_else(|| {
        CommError::invalid(
            format!("branch {branch} does not exist"),
            "run comm-node init to create the domain branches",
        )
    })?;
    let main = repo.branch_tip(&config.main)?.ok_or_else(|| {
        CommError::invalid(
            format!("branch {} does not exist", config.main),
            format!("commit once on {} first", config.main),
        )
    })?;
    let ahead = repo.ahead_behind(head, main)?.ahead;
    if ahead == 0 {
        return Err(CommError::Refused {
            message: format!("{branch} has nothing that {} does not have", config.main),
            hint: format!("commit your work on {branch} first, then submit"),
        });
    }
    let mut outcome = None;
    append(repo, |snapshot| {
        let task = match &req.task {
            Some(id) => Some(crate::comm::task::require(snapshot, id)?),
            None => None,
        };
        // Done when it lands: a task already done has nothing left to land for.
        if let Some(t) = task.as_ref().filter(|t| t.status == TaskStatus::Done) {
            return Err(CommError::Refused {
                message: format!("task {} is already done", t.id),
                hint: format!(
                    "submit without --task, or reopen it first (comm-node task reopen {})",
                    t.id
                ),
            });
        }
        let priority = req
            .priority
            .or(task.map(|t| t.priority))
            .unwrap_or(crate::comm::task::DEFAULT_PRIORITY);
        let replaced = read_entry(snapshot, &req.domain)?;
        let mut event = Event::new(SUBMIT_KIND, &req.domain, String::new());
        let entry = Entry {
            id: event.id.clone(),
            domain: req.domain.clone(),
            branch: branch.clone(),
            head: head.to_string(),
            task: req.task.clone(),
            priority,
            seq: snapshot.seq() + 1,
            submitted: crate::clock::now(),
            replaces: replaced.as_ref().map(|old| old.id.clone()),
        };
        event.subject = format!(
            "queue: {} submitted {}{}",
            entry.domain,
            entry.short(),
            entry.task_suffix()
        );
        event.body = match &replaced {
            Some(old) => format!(
                "{} at {} ({} ahead of {}); replaces entry {} ({}).",
                branch,
                entry.head,
                count(ahead, "commit"),
                config.main,
                old.id,
                old.head
            ),
            None => format!(
                "{branch} at {} ({} ahead of {}).",
                entry.head,
                count(ahead, "commit"),
                config.main
            ),
        };
        event.fields.push(("Commit".into(), entry.head.clone()));
        if let Some(task) = &entry.task {
            event.fields.push(("Task".into(), task.clone()));
        }
        event
            .fields
            .push(("Priority".into(), entry.priority.to_string()));
        if let Some(old) = &replaced {
            event.fields.push(("Replaces".into(), old.id.clone()));
        }
        let bytes = serde_yaml::to_string(&entry)
            .expect("an entry always serializes")
            .into_bytes();
        let mut others = pending(snapshot)?;
        others.retain(|e| e.domain != entry.domain);
        let position = 1 + others.iter().filter(|e| order(e) < order(&entry)).count();
        outcome = Some(Submitted {
            entry: entry.clone(),
            replaced,
            position,
            ahead,
        });
        Ok(Some(Change {
            event,
            edits: vec![TreeEdit::Put {
                path: Entry::path(&entry.domain),
                bytes,
            }],
        }))
    })?;
    Ok(outcome.expect("a submit always appends"))
}

/// What recording a decision about entry `id` of `domain` does to the
/// queue state at `snapshot`; `None` when the entry was already decided
/// there (another run recorded it: a second decision would be a duplicate).
pub fn fate(snapshot: &Snapshot, domain: &str, id: &str) -> Result<Option<Fate>, CommError> {
    Ok(match read_entry(snapshot, domain)? {
        Some(live) if live.id == id => Some(Fate::Remove),
        Some(live) if live.replaces.as_deref() == Some(id) => Some(Fate::Superseded),
        _ => None,
    })
}

/// Re-derives a replayed submission (written by `commit`) on a new state
/// (by `comm sync`): the same head, arriving there (a new sequence number,
/// so it queues behind what the other side queued meanwhile), replacing
/// whatever entry the domain has there; its task must exist.
pub fn replay_submit(
    snapshot: &Snapshot,
    event: &Event,
    commit: Oid,
) -> Result<(Event, Vec<TreeEdit>), CommError> {
    let original = Snapshot::at(snapshot.repo(), Some(commit))?;
    let Some(mut entry) = read_entry(&original, &event.from)? else {
        return Err(CommError::Corrupt {
            path: Entry::path(&event.from),
            reason: format!("submission {} writes no queue entry", event.id),
        });
    };
    if let Some(task) = &entry.task {
        crate::comm::task::require(snapshot, task)?;
    }
    entry.seq = snapshot.seq() + 1;
    entry.replaces = read_entry(snapshot, &entry.domain)?.map(|old| old.id);
    let mut event = event.clone();
    event.fields.retain(|(key, _)| key != "Replaces");
    if let Some(old) = &entry.replaces {
        event.fields.push(("Replaces".into(), old.clone()));
    }
    let bytes = serde_yaml::to_string(&entry)
        .expect("an entry always serializes")
        .into_bytes();
    let path = Entry::path(&entry.domain);
    Ok((event, vec![TreeEdit::Put { path, bytes }]))
}

/// The live entry of `domain`, if any.
pub fn read_entry(snapshot: &Snapshot, domain: &str) -> Result<Option<Entry>, CommError> {
    snapshot.read_yaml(&Entry::path(domain))
}

/// Every live entry, in queue order.
pub fn pending(snapshot: &Snapshot) -> Result<Vec<Entry>, CommError> {
    let mut out = Vec::new();
    for domain in snapshot.yaml_names("queue")? {
        out.extend(read_entry(snapshot, &domain)?);
    }
    out.sort_by_key(order);
    Ok(out)
}

fn default_priority() -> u8 {
    crate::comm::task::DEFAULT_PRIORITY
}

/// The sort key: priority (0 first), then arrival.
fn order(e: &Entry) -> (u8, u64) {
    (e.priority, e.seq)
}
