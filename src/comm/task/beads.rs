//! beads interoperability: the JSONL that `bd export` writes.
//!
//! One JSON object per line (`_type: "issue"` when present). Mapping:
//! `open` → open, `in_progress`/`hooked` → claimed, `closed`/`tombstone` →
//! done, anything else → open; `blocks` dependencies → `deps`,
//! `parent-child` → `parent`, every other type (`related`,
//! `discovered-from`...) → a non-blocking link. So readiness is `bd ready`'s:
//! blocks and parent-child block, the rest do not. Fields comm-node does not
//! model (`issue_type`, `labels`, `closed_at`...) and the original status
//! and timestamps are kept with the task and given back on export.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{
    board, get, validate_id, Board, Link, Status, Task, DEFAULT_PRIORITY, LOWEST_PRIORITY,
};
use crate::clock::{format_rfc3339, parse_rfc3339};
use crate::comm::{append, limits, Appended, Change, CommError, Event, Snapshot, HUMAN};
use crate::git::{Repo, TreeEdit};

/// Fields mapped onto the task; everything else is kept verbatim.
const MAPPED: &[&str] = &[
    "_type",
    "id",
    "title",
    "description",
    "status",
    "priority",
    "assignee",
    "dependencies",
    "created_at",
    "updated_at",
];

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: usize,
    /// Lines with another `_type` (not issues), skipped.
    pub skipped: usize,
    /// `blocks`/`parent-child` targets that are not in the file or on comm:
    /// they keep their task blocked, as in beads.
    pub dangling: Vec<String>,
    pub commit: Option<String>,
}

/// Imports a `bd export` JSONL file as tasks (all in one commit; the same
/// file imported again changes nothing). `domain` assigns them all.
///
/// Only the human imports: a line may set any task's status, assignee and
/// domain, which no domain may do to another's task with the commands.
pub fn import_beads(
    repo: &Repo,
    by: &str,
    jsonl: &str,
    domain: Option<&str>,
    now: i64,
) -> Result<ImportReport, CommError> {
    if by != HUMAN {
        return Err(CommError::Refused {
            message: format!(
                "`{by}` cannot import tasks: an import may rewrite any task's status, assignee and domain, so it is the human's alone"
            ),
            hint: "ask the human to run it (comm-node task import --beads FILE, in the main checkout); change your own tasks with task add, claim, done and fail".into(),
        });
    }
    let mut parsed = Vec::new();
    let mut skipped = 0;
    for (n, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at_line =
            |e| CommError::invalid(format!("line {}: {e}", n + 1), limits::IMPORT_RECORD.hint);
        limits::check(&limits::IMPORT_RECORD, line.len()).map_err(at_line)?;
        let value: Value = serde_json::from_str(line).map_err(|e| {
            CommError::invalid(
                format!("line {}: not JSON: {e}", n + 1),
                "give the file `bd export` writes (one JSON object per line)",
            )
        })?;
        if value
            .get("_type")
            .and_then(Value::as_str)
            .is_some_and(|t| t != "issue")
        {
            skipped += 1;
            continue;
        }
        let mut task = from_beads(&value, now).map_err(|why| {
            CommError::invalid(
                format!("line {}: {why}", n + 1),
                "each line must be a beads issue",
            )
        })?;
        task.domain = domain.map(str::to_owned);
        task.created_by = by.to_owned();
        parsed.push(task);
    }
    let mut report = ImportReport::default();
    let appended = append(repo, |snapshot| {
        report = ImportReport {
            skipped,
            ..ImportReport::default()
        };
        import_change(snapshot, by, &parsed, domain, &mut report)
    })?;
    report.commit = appended.map(|a: Appended| a.commit.to_string());
    Ok(report)
}

fn import_change(
    snapshot: &Snapshot,
    by: &str,
    parsed: &[Task],
    domain: Option<&str>,
    report: &mut ImportReport,
) -> Result<Option<Change>, CommError> {
    if let Some(d) = domain {
        if !snapshot.domains()?.iter().any(|r| r == d) {
            return Err(CommError::invalid(
                format!("unknown domain `{d}`"),
                "pass a domain declared in comm.yaml",
            ));
        }
    }
    let mut board = board(snapshot)?;
    let mut edits = Vec::new();
    for task in parsed {
        let mut task = task.clone();
        match get(snapshot, &task.id)? {
            Some(existing) => {
                task.created_by = existing.created_by.clone();
                if same_content(&existing, &task) {
                    report.unchanged += 1;
                    continue;
                }
                report.updated.push(task.id.clone());
            }
            None => report.added.push(task.id.clone()),
        }
        edits.push(TreeEdit::Put {
            path: Task::path_of(&task.id),
            bytes: task.to_yaml(),
        });
        board.put(task);
    }
    check_graph(&board, parsed, report)?;
    if edits.is_empty() {
        return Ok(None);
    }
    let mut event = Event::new(
        super::KIND,
        by,
        format!(
            "imported {} ({} new, {} updated)",
            crate::text::count(report.added.len() + report.updated.len(), "beads issue"),
            report.added.len(),
            report.updated.len()
        ),
    );
    event.fields.push(("Action".into(), "import".into()));
    Ok(Some(Change { event, edits }))
}

/// Equal apart from bookkeeping that a re-import would only churn.
fn same_content(a: &Task, b: &Task) -> bool {
    let strip = |t: &Task| {
        let mut t = t.clone();
        t.updated = 0;
        t
    };
    strip(a) == strip(b)
}

/// Refuses cycles; lists dangling blockers.
fn check_graph(board: &Board, parsed: &[Task], report: &mut ImportReport) -> Result<(), CommError> {
    for task in parsed {
        for target in task.deps.iter().chain(task.parent.iter()) {
            if board.get(target).is_none() {
                report.dangling.push(format!("{} → {target}", task.id));
            }
        }
    }
    match board.find_cycle() {
        Some(cycle) => Err(CommError::invalid(
            format!("the file has a dependency cycle: {}", cycle.join(" → ")),
            "a task cannot wait for itself, directly or through others; fix the file",
        )),
        None => Ok(()),
    }
}

fn from_beads(v: &Value, now: i64) -> Result<Task, String> {
    let text = |key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let id = text("id");
    validate_id(&id).map_err(|_| format!("`{id}` is not a usable id"))?;
    let title = text("title");
    if title.trim().is_empty() {
        return Err(format!("issue {id} has no title"));
    }
    let fits = |limit, size| limits::check(limit, size).map_err(|e| format!("issue {id}: {e}"));
    fits(&limits::TASK_TITLE, title.trim().chars().count())?;
    fits(&limits::TASK_DESCRIPTION, text("description").len())?;
    let priority = match v.get("priority") {
        None | Some(Value::Null) => DEFAULT_PRIORITY,
        Some(p) => p
            .as_u64()
            .filter(|p| *p <= u64::from(LOWEST_PRIORITY))
            .map(|p| p as u8)
            .ok_or_else(|| format!("issue {id}: priority {p} is not 0-4"))?,
    };
    let original_status = text("status");
    let status = status_from_beads(&original_status);
    let mut deps = Vec::new();
    let mut parent = None;
    let mut links = Vec::new();
    for dep in v
        .get("dependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let target = dep
            .get("depends_on_id")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("issue {id}: a dependency has no depends_on_id"))?
            .to_owned();
        validate_id(&target).map_err(|_| format!("issue {id}: `{target}` is not a usable id"))?;
        match dep.get("type").and_then(Value::as_str).unwrap_or("blocks") {
            "blocks" => deps.push(target),
            "parent-child" => parent = Some(target),
            other => links.push(Link {
                id: target,
                kind: other.to_owned(),
            }),
        }
    }
    deps.sort();
    deps.dedup();
    let created = v
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339);
    let updated = v
        .get("updated_at")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339);
    let mut extra: Map<String, Value> = v
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !MAPPED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // What export needs to give the original back.
    for key in ["status", "created_at", "updated_at", "dependencies"] {
        if let Some(value) = v.get(key) {
            extra.insert(format!("original_{key}"), value.clone());
        }
    }
    let assignee = Some(text("assignee")).filter(|a| !a.is_empty());
    Ok(Task {
        id,
        title: title.trim().to_owned(),
        domain: None,
        status,
        priority,
        deps,
        needs_artifacts: Vec::new(),
        parent,
        claimed_at: (status == Status::Claimed).then_some(updated.unwrap_or(now)),
        assignee,
        done_when: Vec::new(),
        skills: Vec::new(),
        created: created.unwrap_or(now),
        updated: updated.or(created).unwrap_or(now),
        created_by: String::new(),
        reason: None,
        description: text("description"),
        links,
        beads: extra,
    })
}

fn status_from_beads(status: &str) -> Status {
    match status {
        "in_progress" | "hooked" => Status::Claimed,
        "closed" | "tombstone" => Status::Done,
        _ => Status::Open,
    }
}

fn status_to_beads(status: Status) -> &'static str {
    match status {
        Status::Open | Status::Failed => "open",
        Status::Claimed => "in_progress",
        Status::Done | Status::Cancelled => "closed",
    }
}

/// Every task as `bd export` JSONL, sorted by id.
pub fn export_beads(repo: &Repo) -> Result<String, CommError> {
    let snapshot = Snapshot::take(repo)?;
    let ids: Vec<String> = board(&snapshot)?.tasks().map(|t| t.id.clone()).collect();
    let mut out = String::new();
    for id in ids {
        let Some(task) = get(&snapshot, &id)? else {
            continue;
        };
        out.push_str(&serde_json::to_string(&to_beads(&task)).expect("JSON values serialize"));
        out.push('\n');
    }
    Ok(out)
}

fn to_beads(task: &Task) -> Value {
    let mut extra = task.beads.clone();
    let original =
        |extra: &mut Map<String, Value>, key: &str| extra.remove(&format!("original_{key}"));
    let status = match original(&mut extra, "status") {
        Some(Value::String(s)) if status_from_beads(&s) == task.status => s,
        _ => status_to_beads(task.status).to_owned(),
    };
    let stamp = |extra: &mut Map<String, Value>, key: &str, secs: i64| match original(extra, key) {
        Some(Value::String(s)) if parse_rfc3339(&s) == Some(secs) => s,
        _ => format_rfc3339(secs),
    };
    let created_at = stamp(&mut extra, "created_at", task.created);
    let updated_at = stamp(&mut extra, "updated_at", task.updated);
    let dependencies = dependencies(task, original(&mut extra, "dependencies"));
    let mut out = Map::new();
    out.insert("_type".into(), json!("issue"));
    out.insert("id".into(), json!(task.id));
    out.insert("title".into(), json!(task.title));
    if !task.description.is_empty() {
        out.insert("description".into(), json!(task.description));
    }
    out.insert("status".into(), json!(status));
    out.insert("priority".into(), json!(task.priority));
    if let Some(a) = &task.assignee {
        out.insert("assignee".into(), json!(a));
    }
    out.insert("created_at".into(), json!(created_at));
    out.insert("updated_at".into(), json!(updated_at));
    if !dependencies.is_empty() {
        out.insert("dependencies".into(), Value::Array(dependencies));
    }
    for (k, v) in extra {
        out.entry(k).or_insert(v);
    }
    Value::Object(out)
}

/// The task's dependency edges in beads' shape, reusing the original
/// entries (with their `created_at`, `created_by`) where they still hold.
fn dependencies(task: &Task, original: Option<Value>) -> Vec<Value> {
    let mut wanted: BTreeMap<(String, String), Value> = BTreeMap::new();
    let edges = task
        .deps
        .iter()
        .map(|d| (d.clone(), "blocks".to_owned()))
        .chain(
            task.parent
                .iter()
                .map(|p| (p.clone(), "parent-child".to_owned())),
        )
        .chain(task.links.iter().map(|l| (l.id.clone(), l.kind.clone())));
    for (target, kind) in edges {
        let value = json!({"issue_id": task.id, "depends_on_id": target, "type": kind});
        wanted.insert((target, kind), value);
    }
    let mut out = Vec::new();
    for dep in original
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = (
            dep.get("depends_on_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            dep.get("type")
                .and_then(Value::as_str)
                .unwrap_or("blocks")
                .to_owned(),
        );
        if wanted.remove(&key).is_some() {
            out.push(dep.clone());
        }
    }
    out.extend(wanted.into_values());
    out
}
