//! Messages between domains: sending, the inbox, and read cursors.
//!
//! A message is a `msg` event whose commit changes no state. Each domain's
//! read position is `cursors/<domain>.yaml` on `comm`: a sequence number
//! below which everything is read, plus the ids acknowledged above it. The
//! inbox and the unread counts take the messages above the cursors from a
//! cache (`unread.rs`) that walks only the events added since it was saved.
//!
//! Ids may be abbreviated to any unique prefix (see [`Index::resolve`]). A
//! reply names no recipients by default: it goes to the original sender and
//! its other recipients, in the original's thread, about its task.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use git2::Oid;
use serde::{Deserialize, Serialize};

use super::unread::{Reader, Unread};
use super::{append, walk, Appended, Change, CommError, Event, Index, Logged, Snapshot, HUMAN};
use crate::config::Limits;
use crate::git::{Repo, TreeEdit};

/// The recipient that addresses every domain and the human.
pub const ALL: &str = "all";

pub(super) const KIND: &str = "msg";
pub(super) const ACK_KIND: &str = "ack";
/// Event kinds addressed to everyone that are not inbox items.
const ROSTER_KINDS: &[&str] = &["kickoff", "register"];
/// Longest subject line, in characters.
const MAX_SUBJECT: usize = 200;

/// A message as shown to users and scripts (`--json`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub kind: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub task: Option<String>,
    pub thread: String,
    pub reply_to: Option<String>,
    /// Estimated tokens of subject and body (bytes / 4): the `Comm-Tokens`
    /// a message carries, or the estimate for any other event.
    pub tokens: u64,
    /// Commit time, seconds since the epoch.
    pub time: i64,
    pub commit: String,
    pub seq: u64,
}

impl Message {
    /// Any event in the shape of a message (for `log`); the subject of a
    /// `msg` loses its `from → to:` prefix.
    pub fn from_logged(logged: &Logged) -> Message {
        let e = &logged.event;
        let prefix = if e.kind == KIND {
            headline_prefix(&e.from, &e.to)
        } else {
            String::new()
        };
        Message {
            id: e.id.clone(),
            kind: e.kind.clone(),
            from: e.from.clone(),
            to: e.to.clone(),
            subject: e
                .subject
                .strip_prefix(&prefix)
                .unwrap_or(&e.subject)
                .to_owned(),
            body: e.body.clone(),
            task: e.field("Task").map(str::to_owned),
            thread: e.field("Thread").unwrap_or(&e.id).to_owned(),
            reply_to: e.field("Reply-To").map(str::to_owned),
            tokens: e
                .field("Tokens")
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| estimate_tokens(&e.subject) + estimate_tokens(&e.body)),
            time: logged.time,
            commit: logged.commit.to_string(),
            seq: e.seq,
        }
    }

    /// Whether this event is addressed to `reader` (from someone else):
    /// messages and the events that notify (queue decisions, forced
    /// releases, stalls...). The roster events (kickoff, registration) are
    /// addressed to everyone but live in `comm-node log`, not in inboxes.
    pub fn is_for(&self, reader: &str) -> bool {
        is_for(&self.kind, &self.from, &self.to, reader)
    }
}

/// Whether an event of `kind` from `from` to `to` is addressed to `reader`
/// (see [`Message::is_for`]).
pub(super) fn is_for(kind: &str, from: &str, to: &[String], reader: &str) -> bool {
    !ROSTER_KINDS.contains(&kind) && from != reader && to.iter().any(|t| t == reader || t == ALL)
}

fn headline_prefix(from: &str, to: &[String]) -> String {
    format!("{from} → {}: ", to.join(", "))
}

/// What to send.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    pub from: String,
    /// Recipients; may be empty for a reply (see [`send`]).
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub task: Option<String>,
    pub thread: Option<String>,
    pub reply_to: Option<String>,
}

/// Estimated tokens of a text: bytes / 4, rounded up.
pub(super) fn estimate_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

/// Posts a message. Recipients are re-checked against the registered
/// domains of the tip the message lands on. A reply (`reply_to`, any
/// unique prefix of an id) joins the original's thread; with no `to` it
/// goes to the original's sender and other recipients (not to the one
/// replying), and with no `task` it is about the original's task.
///
/// A message about a task adds its tokens to the sender's counter
/// (`budget/<sender>.yaml`) in the same commit, and is refused when it
/// would take the sender's messages about that task past `task_budget`
/// tokens (`budget.messages_per_task`); other messages change no state.
pub fn send(
    repo: &Repo,
    req: &SendRequest,
    limits: &Limits,
    task_budget: Option<u64>,
) -> Result<Appended, CommError> {
    check_subject(&req.subject)?;
    if req.body.contains('\0') {
        return Err(CommError::invalid(
            "the body contains a NUL byte",
            "send text; publish binary content as an artifact",
        ));
    }
    if req.body.len() > limits.body_bytes {
        return Err(CommError::invalid(
            format!("the body is {} bytes; the limit is {}", req.body.len(), limits.body_bytes),
            "publish long content as an artifact (comm-node publish NAME FILE) and send its name, or raise limits.body_bytes in comm.yaml",
        ));
    }
    for token in [&req.task, &req.thread, &req.reply_to]
        .into_iter()
        .flatten()
    {
        check_token(token)?;
    }
    let parent = match &req.reply_to {
        Some(id) => Some(lookup(repo, id)?),
        None => None,
    };
    let mut to = match (&parent, req.to.is_empty()) {
        (_, false) => req.to.clone(),
        (Some(parent), true) => reply_recipients(parent, &req.from)?,
        (None, true) => {
            return Err(CommError::invalid(
                "no recipient",
                "pass --to DOMAIN[,DOMAIN...], --to human or --to all",
            ))
        }
    };
    to.sort();
    to.dedup();
    let thread = req
        .thread
        .clone()
        .or_else(|| parent.as_ref().map(|p| p.thread.clone()));
    let task = req
        .task
        .clone()
        .or_else(|| parent.as_ref().and_then(|p| p.task.clone()));
    let reply_to = parent.as_ref().map(|p| p.id.clone());
    let appended = append(repo, |snapshot| {
        check_recipients(snapshot, &to)?;
        let mut event = Event::new(
            KIND,
            &req.from,
            format!("{}{}", headline_prefix(&req.from, &to), req.subject),
        );
        event.to = to.clone();
        event.body = req.body.clone();
        let thread = thread.clone().unwrap_or_else(|| event.id.clone());
        let tokens = estimate_tokens(&req.subject) + estimate_tokens(&req.body);
        event.fields.push(("Thread".into(), thread));
        if let Some(task) = &task {
            event.fields.push(("Task".into(), task.clone()));
        }
        if let Some(parent) = &reply_to {
            event.fields.push(("Reply-To".into(), parent.clone()));
        }
        event.fields.push(("Tokens".into(), tokens.to_string()));
        let edits = match &task {
            Some(task) => vec![super::budget::count_message(
                snapshot,
                &req.from,
                task,
                tokens,
                task_budget,
            )?],
            None => Vec::new(),
        };
        Ok(Some(Change { event, edits }))
    })?;
    Ok(appended.expect("a message always appends"))
}

/// Who a reply to `parent` goes to by default: its sender and its other
/// recipients, except the one replying and comm-node itself (which reads
/// no messages).
fn reply_recipients(parent: &Message, me: &str) -> Result<Vec<String>, CommError> {
    let to: Vec<String> = std::iter::once(&parent.from)
        .chain(&parent.to)
        .filter(|name| *name != me && *name != super::SYSTEM_ACTOR)
        .cloned()
        .collect();
    if to.is_empty() {
        return Err(CommError::invalid(
            format!(
                "message {} has no one to reply to: its sender and recipients are you or comm-node",
                parent.id
            ),
            "pass --to DOMAIN[,DOMAIN...]",
        ));
    }
    Ok(to)
}

fn check_subject(subject: &str) -> Result<(), CommError> {
    let hint = "give a one-line subject; put details in the body";
    if subject.trim().is_empty() {
        return Err(CommError::invalid("the subject is empty", hint));
    }
    if subject.contains(['\n', '\r', '\0']) {
        return Err(CommError::invalid("the subject spans several lines", hint));
    }
    if subject.chars().count() > MAX_SUBJECT {
        return Err(CommError::invalid(
            format!("the subject is longer than {MAX_SUBJECT} characters"),
            hint,
        ));
    }
    Ok(())
}

/// Task, thread and message ids are single tokens (letters, digits, `-_.:/`).
fn check_token(token: &str) -> Result<(), CommError> {
    let ok = !token.is_empty()
        && token.len() <= 100
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c));
    if ok {
        Ok(())
    } else {
        Err(CommError::invalid(
            format!("`{token}` is not a valid id"),
            "ids use letters, digits and - _ . : / (at most 100 characters)",
        ))
    }
}

pub(super) fn check_recipients(snapshot: &Snapshot, to: &[String]) -> Result<(), CommError> {
    let known: BTreeSet<String> = snapshot.domains()?.into_iter().collect();
    for name in to {
        if name != ALL && name != HUMAN && !known.contains(name) {
            let list: Vec<&str> = known.iter().map(String::as_str).collect();
            return Err(CommError::invalid(
                format!("unknown recipient `{name}`"),
                format!(
                    "recipients are all, human, or a domain: {}",
                    list.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The thread a message belongs to (its own id when it starts one); `id`
/// may be any unique prefix.
pub fn thread_of(repo: &Repo, id: &str) -> Result<String, CommError> {
    Ok(lookup(repo, id)?.thread)
}

/// The message `id` (any unique prefix) names; an error when none does.
fn lookup(repo: &Repo, id: &str) -> Result<Message, CommError> {
    find_message(repo, id)?.ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> CommError {
    CommError::invalid(
        format!("no message with id `{id}`"),
        "ids (or any unique prefix of one) are listed by comm-node inbox and comm-node log",
    )
}

/// A domain's read position: every message with `seq <= seq` is read, and
/// so are those listed in `acked`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    seq: u64,
    #[serde(default)]
    acked: BTreeSet<String>,
}

fn cursor_path(reader: &str) -> String {
    format!("cursors/{reader}.yaml")
}

fn read_cursor(snapshot: &Snapshot, reader: &str) -> Result<Cursor, CommError> {
    Ok(snapshot
        .read_yaml(&cursor_path(reader))?
        .unwrap_or_default())
}

/// Messages for `reader` newer than the cursor's sequence number, read or
/// not, oldest first, from a walk back to the cursor. Only `ack` uses it:
/// it is a write, and sync replays it on tips no ref points at yet, which
/// the unread cache (kept for the tip of `comm`) should not follow.
fn above_cursor(
    snapshot: &Snapshot,
    reader: &str,
    cursor: &Cursor,
) -> Result<Vec<Message>, CommError> {
    let mut out = Vec::new();
    walk(snapshot.repo(), snapshot.tip(), |logged| {
        if logged.event.seq <= cursor.seq {
            return ControlFlow::Break(());
        }
        let m = Message::from_logged(&logged);
        if m.is_for(reader) {
            out.push(m);
        }
        ControlFlow::Continue(())
    })?;
    out.reverse();
    Ok(out)
}

/// The unread messages of `reader`, oldest first: those the unread cache
/// holds above its cursor, less the ones acknowledged.
pub fn inbox(repo: &Repo, reader: &str) -> Result<Vec<Message>, CommError> {
    inbox_at(&Snapshot::take(repo)?, reader)
}

/// [`inbox`] at `snapshot`'s tip.
pub fn inbox_at(snapshot: &Snapshot, reader: &str) -> Result<Vec<Message>, CommError> {
    let repo = snapshot.repo();
    let cursor = read_cursor(snapshot, reader)?;
    let me = Reader {
        name: reader,
        seq: cursor.seq,
        lines: true,
    };
    let cache = Unread::load(snapshot, &[me])?;
    let mut out = Vec::new();
    for line in cache.lines(reader) {
        if !cursor.acked.contains(line.id) {
            out.extend(message_at(repo, line.commit())?);
        }
    }
    Ok(out)
}

/// How many unread items each of `readers` has (what `status` shows for
/// every domain): their cursors, and the unread cache brought to the tip.
pub fn unread_counts(
    snapshot: &Snapshot,
    readers: &[String],
) -> Result<BTreeMap<String, usize>, CommError> {
    let cursors = readers
        .iter()
        .map(|r| Ok((r.as_str(), read_cursor(snapshot, r)?)))
        .collect::<Result<Vec<_>, CommError>>()?;
    let wanted: Vec<Reader> = cursors
        .iter()
        .map(|(name, cursor)| Reader {
            name,
            seq: cursor.seq,
            lines: !cursor.acked.is_empty(),
        })
        .collect();
    let cache = Unread::load(snapshot, &wanted)?;
    Ok(cursors
        .iter()
        .map(|(reader, cursor)| ((*reader).to_owned(), cache.unread(reader, &cursor.acked)))
        .collect())
}

/// Marks messages read (`None`: every unread one). Returns the ack event,
/// or `None` when there was nothing unread to mark.
pub fn ack(
    repo: &Repo,
    reader: &str,
    ids: Option<&[String]>,
) -> Result<Option<Appended>, CommError> {
    append(repo, |snapshot| ack_change(snapshot, reader, ids))
}

/// The cursor change that marks `ids` (`None`: all unread) read as of
/// `snapshot`; `None` when nothing is unread.
pub(super) fn ack_change(
    snapshot: &Snapshot,
    reader: &str,
    ids: Option<&[String]>,
) -> Result<Option<Change>, CommError> {
    let mut cursor = read_cursor(snapshot, reader)?;
    let above = above_cursor(snapshot, reader, &cursor)?;
    let unread: Vec<&Message> = above
        .iter()
        .filter(|m| !cursor.acked.contains(&m.id))
        .collect();
    let unread_ids: BTreeSet<&String> = unread.iter().map(|m| &m.id).collect();
    let acking: Vec<String> = match ids {
        None => unread.iter().map(|m| m.id.clone()).collect(),
        Some(ids) => {
            let index = Index::load(snapshot.repo())?;
            let mut full = Vec::new();
            for id in ids {
                let id = match unread_ids.get(id) {
                    Some(exact) => (*exact).clone(),
                    None => index.resolve(id)?.ok_or_else(|| not_found(id))?.id.clone(),
                };
                if unread_ids.contains(&id) && !full.contains(&id) {
                    full.push(id);
                }
            }
            full
        }
    };
    if acking.is_empty() {
        return Ok(None);
    }
    cursor.acked.extend(acking.iter().cloned());
    // Compact: once nothing above the cursor is unread, move it to the tip.
    if above.iter().all(|m| cursor.acked.contains(&m.id)) {
        cursor = Cursor {
            seq: snapshot.seq(),
            acked: BTreeSet::new(),
        };
    } else {
        let above_ids: BTreeSet<&String> = above.iter().map(|m| &m.id).collect();
        cursor.acked.retain(|id| above_ids.contains(id));
    }
    let mut event = Event::new(
        ACK_KIND,
        reader,
        format!(
            "{reader} read {} message{}",
            acking.len(),
            if acking.len() == 1 { "" } else { "s" }
        ),
    );
    event.fields.push(("Acked".into(), acking.join(" ")));
    let bytes = serde_yaml::to_string(&cursor)
        .expect("a cursor serializes")
        .into_bytes();
    Ok(Some(Change {
        event,
        edits: vec![TreeEdit::Put {
            path: cursor_path(reader),
            bytes,
        }],
    }))
}

/// The message with `id` (or the only one whose id starts with it), found
/// through the index; an error when the prefix is ambiguous.
pub fn find_message(repo: &Repo, id: &str) -> Result<Option<Message>, CommError> {
    let index = Index::load(repo)?;
    let Some(entry) = index.resolve(id)? else {
        return Ok(None);
    };
    message_at(repo, entry.commit)
}

/// Every message of `thread`, oldest first.
pub fn thread_messages(repo: &Repo, thread: &str) -> Result<Vec<Message>, CommError> {
    let index = Index::load(repo)?;
    let mut out = Vec::new();
    for entry in index.thread(thread) {
        out.extend(message_at(repo, entry.commit)?);
    }
    Ok(out)
}

/// The message carried by `commit`.
fn message_at(repo: &Repo, commit: Oid) -> Result<Option<Message>, CommError> {
    let mut found = None;
    walk(repo, Some(commit), |logged| {
        found = Some(Message::from_logged(&logged));
        ControlFlow::Break(())
    })?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent(from: &str, to: &[&str]) -> Message {
        Message {
            id: "1-a".into(),
            kind: KIND.into(),
            from: from.into(),
            to: to.iter().map(|t| (*t).to_owned()).collect(),
            subject: "s".into(),
            body: String::new(),
            task: None,
            thread: "1-a".into(),
            reply_to: None,
            tokens: 1,
            time: 0,
            commit: String::new(),
            seq: 1,
        }
    }

    #[test]
    fn a_reply_goes_to_everyone_on_the_original_but_the_replier_and_comm_node() {
        let to = reply_recipients(&parent("api", &["web", "docs"]), "web").unwrap();
        assert_eq!(to, ["api", "docs"]);
        let to = reply_recipients(
            &parent(super::super::SYSTEM_ACTOR, &["web", "human"]),
            "web",
        );
        assert_eq!(to.unwrap(), ["human"]);
        assert!(reply_recipients(&parent(super::super::SYSTEM_ACTOR, &["web"]), "web").is_err());
    }
}
