//! A rebuildable cache of every task's summary and readiness, under
//! `.git/comm-node/`.
//!
//! Reading 10,000 task files and parsing their YAML costs far more than the
//! 10 ms `task ready` may take, so the summaries (everything readiness and
//! listing need: not descriptions, links or imported beads fields) are kept
//! in one tab-separated file, each line flagged ready or not and carrying
//! its convoy progress, stamped with the ids of the `tasks/` and
//! `artifacts/` trees they were computed from. `task ready` then parses
//! only the ready lines. When `comm` has moved, only the task files that
//! differ between the stamped tree and the new one are read, and readiness
//! is recomputed in memory. Deleting the file loses nothing.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use git2::Oid;

use super::{Progress, Status, Task, DIR};
use crate::cachefile::{escape, unescape, write_atomic, ITEM};
use crate::comm::{CommError, Snapshot};

const MAGIC: &str = "comm-node tasks v2";

/// A task's summary with what was derived from the whole graph.
#[derive(Debug, Clone)]
pub struct Entry {
    pub task: Task,
    pub ready: bool,
    /// Convoy progress (for tasks with children).
    pub progress: Option<Progress>,
    /// The blob of the task's file the summary was read from.
    blob: Oid,
}

/// The trees a cache was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    tasks: Option<Oid>,
    artifacts: Option<Oid>,
}

/// Which entries a load returns; each line starts with a flag saying
/// which it is (`R` ready, `C` claimed, `-` anything else), so a filtered
/// load parses only the lines it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only<'a> {
    All,
    Ready,
    Claimed,
    /// The ready tasks of this domain and those of no domain (what it may
    /// take); the domain field is compared before the line is parsed.
    ReadyFor(&'a str),
}

impl Only<'_> {
    fn keeps(self, flag: char) -> bool {
        match self {
            Only::All => true,
            Only::Ready | Only::ReadyFor(_) => flag == 'R',
            Only::Claimed => flag == 'C',
        }
    }

    /// Whether a cache line is kept (its flag, and for `ReadyFor` its domain).
    fn keeps_line(self, line: &str) -> Option<bool> {
        let flag = line.chars().next()?;
        if !self.keeps(flag) {
            return Some(false);
        }
        let Only::ReadyFor(domain) = self else {
            return Some(true);
        };
        // flag, progress, blob, id, title, then the domain.
        let field = line.split('\t').nth(5)?;
        Some(field.is_empty() || field == escape(domain))
    }

    fn keeps_entry(self, e: &Entry) -> bool {
        self.keeps(flag(e))
            && match self {
                Only::ReadyFor(d) => e.task.domain.as_deref().is_none_or(|t| t == d),
                _ => true,
            }
    }
}

/// The tasks at the snapshot that `only` selects, with readiness and progress.
pub fn load(snapshot: &Snapshot, only: Only<'_>) -> Result<Vec<Entry>, CommError> {
    let repo = snapshot.repo();
    let stamp = stamp_of(snapshot)?;
    let path = file(snapshot);
    let text = fs::read_to_string(&path).unwrap_or_default();
    if header(&text) == Some(stamp) {
        if let Some(entries) = parse_entries(&text, only) {
            return Ok(entries);
        }
    }
    // Catch up: keep the summaries whose blob did not change, read the rest.
    let mut known: HashMap<String, (Oid, Task)> = parse_entries(&text, Only::All)
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.task.id.clone(), (e.blob, e.task)))
        .collect();
    let listing = match stamp.tasks {
        Some(tree) => crate::comm::shard::files(repo, tree)?,
        None => Vec::new(),
    };
    let mut tasks = BTreeMap::new();
    let mut blobs = HashMap::with_capacity(listing.len());
    for (name, blob) in listing {
        let Some(id) = name.strip_suffix(".yaml") else {
            continue;
        };
        let task = match known.remove(id) {
            Some((old, task)) if old == blob => task,
            _ => {
                let mut task = Task::from_yaml(&Task::path_of(id), &repo.blob(blob)?)?;
                summarize(&mut task);
                task
            }
        };
        blobs.insert(id.to_owned(), blob);
        tasks.insert(id.to_owned(), task);
    }
    let board = super::board_of(snapshot, tasks)?;
    let derived: Vec<(bool, Option<Progress>)> = board
        .tasks()
        .map(|t| (board.is_ready(t), board.progress(&t.id)))
        .collect();
    let entries: Vec<Entry> = board
        .into_tasks()
        .zip(derived)
        .map(|(task, (ready, progress))| Entry {
            blob: blobs[&task.id],
            task,
            ready,
            progress,
        })
        .collect();
    // A cache that cannot be written is only slower next time.
    let _ = save(&path, stamp, &entries);
    Ok(entries
        .into_iter()
        .filter(|e| only.keeps_entry(e))
        .collect())
}

/// The trees a snapshot's readiness depends on.
fn stamp_of(snapshot: &Snapshot) -> Result<Stamp, CommError> {
    let repo = snapshot.repo();
    Ok(match snapshot.tip() {
        Some(tip) => Stamp {
            tasks: repo.dir_id_at(tip, DIR)?,
            artifacts: repo.dir_id_at(tip, "artifacts")?,
        },
        None => Stamp {
            tasks: None,
            artifacts: None,
        },
    })
}

/// Brings a cache that was current at `before` up to `after`, when the only
/// change between them is `task` going from ready to claimed: no other
/// task's readiness can change (a claim is not done), so one line is
/// rewritten instead of the graph being recomputed by the next reader.
pub fn record_claim(before: &Snapshot, after: &Snapshot, task: &Task) -> Result<(), CommError> {
    let path = file(after);
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(());
    };
    let old_stamp = stamp_of(before)?;
    let new_stamp = stamp_of(after)?;
    if header(&text) != Some(old_stamp) || new_stamp.artifacts != old_stamp.artifacts {
        return Ok(());
    }
    let Some(tip) = after.tip() else {
        return Ok(());
    };
    let Some(blob) = after.repo().file_id_at(tip, &Task::path_of(&task.id))? else {
        return Ok(());
    };
    // Find the task's ready line and splice its new one in: the rest of
    // the file is copied as it is, never split into lines.
    let needle = format!("\t{}\t", escape(&task.id));
    let body = text.find('\n').map_or(text.len(), |i| i + 1);
    let found = text[body..].match_indices(&needle).find_map(|(at, _)| {
        let at = body + at;
        let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let line = &text[start..end];
        (line.starts_with("R\t") && id_field_is(line, &needle)).then_some((start, end))
    });
    let Some((start, end)) = found else {
        return Ok(());
    };
    let mut entry = parse_entries_line(&text[start..end]).expect("a line that matched parses");
    entry.task = task.clone();
    summarize(&mut entry.task);
    entry.ready = false;
    entry.blob = blob;
    let mut line = String::with_capacity(end - start + 64);
    push_entry(&mut line, &entry);
    let header = header_line(new_stamp);
    let mut out = String::with_capacity(text.len() + 128);
    out.push_str(&header);
    out.push_str(&text[body..start]);
    out.push_str(line.trim_end_matches('\n'));
    out.push_str(&text[end..]);
    let _ = write_atomic(&path, &out);
    Ok(())
}

fn file(snapshot: &Snapshot) -> PathBuf {
    snapshot.repo().state_path("tasks-v2")
}

/// Drops what the cache does not keep.
fn summarize(task: &mut Task) {
    task.description.clear();
    task.links.clear();
    task.beads.clear();
    task.reason = None;
}

fn oid_text(id: Option<Oid>) -> String {
    id.map_or_else(|| "-".to_owned(), |t| t.to_string())
}

/// The line flag of an entry.
fn flag(e: &Entry) -> char {
    match (e.ready, e.task.status) {
        (true, _) => 'R',
        (false, Status::Claimed) => 'C',
        _ => '-',
    }
}

/// Whether the id field (after flag, progress and blob) is `needle` (`\tID\t`).
fn id_field_is(line: &str, needle: &str) -> bool {
    let mut tabs = line.match_indices('\t');
    match (tabs.nth(2), tabs.next()) {
        (Some((start, _)), Some((end, _))) => &line[start..=end] == needle,
        _ => false,
    }
}

fn header_line(stamp: Stamp) -> String {
    format!(
        "{MAGIC}\t{}\t{}\n",
        oid_text(stamp.tasks),
        oid_text(stamp.artifacts)
    )
}

fn save(path: &Path, stamp: Stamp, entries: &[Entry]) -> std::io::Result<()> {
    let mut out = String::with_capacity(entries.len() * 200 + 128);
    out.push_str(&header_line(stamp));
    for e in entries {
        push_entry(&mut out, e);
    }
    write_atomic(path, &out)
}

/// Appends one entry's line.
fn push_entry(out: &mut String, e: &Entry) {
    use std::fmt::Write as _;
    let t = &e.task;
    out.push(flag(e));
    out.push('\t');
    if let Some(p) = e.progress {
        let _ = write!(out, "{}/{}", p.done, p.total);
    }
    let _ = write!(out, "\t{}\t", e.blob);
    push_text(out, &t.id);
    push_text(out, &t.title);
    push_text(out, t.domain.as_deref().unwrap_or_default());
    push_text(out, t.status.as_str());
    let _ = write!(out, "{}\t", t.priority);
    push_list(out, &t.deps);
    push_list(out, &t.needs_artifacts);
    push_text(out, t.parent.as_deref().unwrap_or_default());
    push_text(out, t.assignee.as_deref().unwrap_or_default());
    push_list(out, &t.done_when);
    push_list(out, &t.skills);
    let _ = write!(out, "{}\t{}\t", t.created, t.updated);
    push_text(out, &t.created_by);
    if let Some(c) = t.claimed_at {
        let _ = write!(out, "{c}");
    }
    out.push('\n');
}

/// Appends a field and its tab.
fn push_text(out: &mut String, text: &str) {
    out.push_str(&escape(text));
    out.push('\t');
}

/// Appends a list field and its tab.
fn push_list(out: &mut String, items: &[String]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(ITEM);
        }
        out.push_str(&escape(item));
    }
    out.push('\t');
}

fn header(text: &str) -> Option<Stamp> {
    let first = text.lines().next()?;
    let mut parts = first.split('\t');
    if parts.next()? != MAGIC {
        return None;
    }
    let mut oid = || -> Option<Option<Oid>> {
        match parts.next()? {
            "-" => Some(None),
            s => Oid::from_str(s).ok().map(Some),
        }
    };
    Some(Stamp {
        tasks: oid()?,
        artifacts: oid()?,
    })
}

/// The entries of a cache file that `only` keeps; `None` when any line is damaged.
fn parse_entries(text: &str, only: Only<'_>) -> Option<Vec<Entry>> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        if only.keeps_line(line)? {
            out.push(parse_entries_line(line)?);
        }
    }
    Some(out)
}

/// One entry line: flag, progress, blob, then the task's fields.
fn parse_entries_line(line: &str) -> Option<Entry> {
    let (flag, rest) = line.split_once('\t')?;
    let (progress, rest) = rest.split_once('\t')?;
    let (blob, rest) = rest.split_once('\t')?;
    let progress = match progress {
        "" => None,
        p => {
            let (done, total) = p.split_once('/')?;
            Some(Progress {
                done: done.parse().ok()?,
                total: total.parse().ok()?,
            })
        }
    };
    Some(Entry {
        task: parse_line(rest)?,
        ready: flag == "R",
        progress,
        blob: Oid::from_str(blob).ok()?,
    })
}

fn parse_line(line: &str) -> Option<Task> {
    let mut f = line.split('\t');
    let mut next = || f.next();
    let id = unescape(next()?);
    let title = unescape(next()?);
    let domain = optional(next()?);
    let status = Status::parse(next()?)?;
    let priority = next()?.parse().ok()?;
    let deps = unlist(next()?);
    let needs_artifacts = unlist(next()?);
    let parent = optional(next()?);
    let assignee = optional(next()?);
    let done_when = unlist(next()?);
    let skills = unlist(next()?);
    let created = next()?.parse().ok()?;
    let updated = next()?.parse().ok()?;
    let created_by = unescape(next()?);
    let claimed_at = match next()? {
        "" => None,
        c => Some(c.parse().ok()?),
    };
    Some(Task {
        id,
        title,
        domain,
        status,
        priority,
        deps,
        needs_artifacts,
        parent,
        assignee,
        done_when,
        skills,
        created,
        updated,
        created_by,
        claimed_at,
        reason: None,
        description: String::new(),
        links: Vec::new(),
        beads: Default::default(),
    })
}

fn optional(field: &str) -> Option<String> {
    (!field.is_empty()).then(|| unescape(field))
}

fn unlist(field: &str) -> Vec<String> {
    if field.is_empty() {
        return Vec::new();
    }
    field.split(ITEM).map(unescape).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_survive_the_round_trip() {
        let items = vec!["a\u{1f}b".to_owned(), "c".to_owned()];
        let mut field = String::new();
        push_list(&mut field, &items);
        assert_eq!(unlist(field.trim_end_matches('\t')), items);
    }
}
