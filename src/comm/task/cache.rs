//! A rebuildable cache of every task's summary, under `.git/comm-node/`.
//!
//! Reading 10,000 task files and parsing their YAML costs far more than the
//! 10 ms `task ready` may take, so the summaries (everything readiness and
//! listing need: not descriptions, links or imported beads fields) are kept
//! in one tab-separated file stamped with the id of the `tasks/` tree they
//! describe. When `comm` has moved, only the task files that differ between
//! the stamped tree and the new one are read. Deleting the file loses
//! nothing; the next read rebuilds it.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use git2::Oid;

use super::{Status, Task, DIR};
use crate::comm::{CommError, Snapshot};

const MAGIC: &str = "comm-node tasks v1";
/// Separates the items of a list field.
const ITEM: char = '\u{1f}';

/// The summaries of every task at the snapshot, by id.
pub fn load(snapshot: &Snapshot) -> Result<BTreeMap<String, Task>, CommError> {
    let repo = snapshot.repo();
    let tree = match snapshot.tip() {
        Some(tip) => repo.dir_id_at(tip, DIR)?,
        None => None,
    };
    let path = file(snapshot);
    let cached = fs::read_to_string(&path).ok().and_then(|t| parse(&t));
    if let Some((stamp, tasks)) = &cached {
        if *stamp == tree {
            return Ok(tasks.clone());
        }
    }
    let (base, mut tasks) = match cached {
        // The stamped tree may be gone (a sync replayed history): start over.
        Some((Some(stamp), tasks)) if repo.dir_blobs(stamp).is_ok() => (Some(stamp), tasks),
        _ => (None, BTreeMap::new()),
    };
    for (name, blob) in repo.dir_changes(base, tree)? {
        let Some(id) = name.strip_suffix(".yaml") else {
            continue;
        };
        match blob {
            Some(blob) => {
                let mut task = Task::from_yaml(&format!("{DIR}/{name}"), &repo.blob(blob)?)?;
                summarize(&mut task);
                tasks.insert(id.to_owned(), task);
            }
            None => {
                tasks.remove(id);
            }
        }
    }
    // A cache that cannot be written is only slower next time.
    let _ = save(&path, tree, &tasks);
    Ok(tasks)
}

fn file(snapshot: &Snapshot) -> PathBuf {
    snapshot
        .repo()
        .common_dir()
        .join("comm-node")
        .join("tasks-v1")
}

/// Drops what the cache does not keep.
fn summarize(task: &mut Task) {
    task.description.clear();
    task.links.clear();
    task.beads.clear();
    task.reason = None;
}

fn save(path: &PathBuf, tree: Option<Oid>, tasks: &BTreeMap<String, Task>) -> std::io::Result<()> {
    let mut out = String::with_capacity(tasks.len() * 160 + 64);
    out.push_str(MAGIC);
    out.push('\t');
    out.push_str(&tree.map_or_else(|| "-".to_owned(), |t| t.to_string()));
    out.push('\n');
    for t in tasks.values() {
        let fields: [String; 15] = [
            escape(&t.id),
            escape(&t.title),
            t.domain.as_deref().map(escape).unwrap_or_default(),
            t.status.as_str().to_owned(),
            t.priority.to_string(),
            list(&t.deps),
            list(&t.needs_artifacts),
            t.parent.as_deref().map(escape).unwrap_or_default(),
            t.assignee.as_deref().map(escape).unwrap_or_default(),
            list(&t.done_when),
            list(&t.skills),
            t.created.to_string(),
            t.updated.to_string(),
            escape(&t.created_by),
            t.claimed_at.map(|c| c.to_string()).unwrap_or_default(),
        ];
        out.push_str(&fields.join("\t"));
        out.push('\n');
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, out)?;
    fs::rename(&tmp, path)
}

fn parse(text: &str) -> Option<(Option<Oid>, BTreeMap<String, Task>)> {
    let mut lines = text.lines();
    let (magic, stamp) = lines.next()?.split_once('\t')?;
    if magic != MAGIC {
        return None;
    }
    let stamp = match stamp {
        "-" => None,
        s => Some(Oid::from_str(s).ok()?),
    };
    let mut tasks = BTreeMap::new();
    for line in lines {
        let task = parse_line(line)?;
        tasks.insert(task.id.clone(), task);
    }
    Some((stamp, tasks))
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

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| escape(i))
        .collect::<Vec<_>>()
        .join(&ITEM.to_string())
}

fn unlist(field: &str) -> Vec<String> {
    if field.is_empty() {
        return Vec::new();
    }
    field.split(ITEM).map(unescape).collect()
}

/// Keeps tabs, newlines and the item separator out of a field.
fn escape(text: &str) -> String {
    if !text.contains(['\\', '\t', '\n', '\r', ITEM]) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ITEM => out.push_str("\\u"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('u') => out.push(ITEM),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_survive_escaping() {
        for text in [
            "plain",
            "tab\there",
            "new\nline",
            "back\\slash\\t",
            "sep\u{1f}x",
            "",
        ] {
            assert_eq!(unescape(&escape(text)), text);
            assert!(!escape(text).contains(['\t', '\n', ITEM]));
        }
        let items = vec!["a\u{1f}b".to_owned(), "c".to_owned()];
        assert_eq!(unlist(&list(&items)), items);
    }
}
