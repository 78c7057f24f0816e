//! The rules of the human's steering events (`comm::steer`, and the task
//! actions of `comm::task::steer`): each is the human's alone, and changes
//! only what its writer changes. `halts/` is written by nothing else.

use super::super::super::steer::{Halt, HALT_KIND, RESUME_KIND};
use super::super::super::task::{Status, Task};
use super::super::super::HUMAN;
use super::{edit_path, finished_edits, put_bytes, same_but, words, Broken, Case};
use crate::comm::CommError;
use crate::git::TreeEdit;

/// Who signed a steering event, when it is not the human.
pub(super) fn not_human(c: &Case) -> Option<Broken> {
    let from = &c.event.from;
    (from != HUMAN).then(|| {
        let what = match (c.event.kind.as_str(), c.event.field("Action")) {
            (_, Some(action)) => format!("task {action}"),
            (kind, None) => kind.to_owned(),
        };
        format!("only the human may write a {what}, not `{from}`")
    })
}

/// A halt writes `halts/<d>.yaml` for each domain it names (a registered
/// one), holding its own id; a resume removes halts of the domains it names.
pub(super) fn halt_problem(c: &Case) -> Result<Option<Broken>, CommError> {
    if let Some(broken) = not_human(c) {
        return Ok(Some(broken));
    }
    let named = words(c.event.field("Domains"));
    if named.is_empty() {
        return Ok(Some(format!("a {} that names no domain", c.event.kind)));
    }
    if let Some(d) = named.iter().find(|d| !c.registered.contains_key(**d)) {
        return Ok(Some(format!(
            "it names `{d}`, which is not a registered domain"
        )));
    }
    let halting = c.event.kind == HALT_KIND;
    for d in &named {
        let path = Halt::path_of(d);
        let touched = c.edits.iter().any(|e| edit_path(e) == path);
        if !touched {
            return Ok(Some(format!("it names `{d}` but does not change {path}")));
        }
    }
    for edit in c.edits {
        let path = edit_path(edit);
        let own = named.iter().any(|d| Halt::path_of(d) == path);
        let problem = match edit {
            _ if !own => Some(format!("a {} may not change {path}", c.event.kind)),
            TreeEdit::Put { bytes, .. } if halting => {
                let h: Halt = serde_yaml::from_slice(bytes).expect("checked by state_file_problem");
                (h.by != c.event.from || h.event != c.event.id).then(|| {
                    format!(
                        "{path} names `{}` and event {}, not this halt",
                        h.by, h.event
                    )
                })
            }
            TreeEdit::Remove { .. } if !halting => c
                .before
                .read(path)?
                .is_none()
                .then(|| format!("it resumes a domain that is not halted ({path})")),
            _ => Some(format!(
                "a {} may not {} {path}",
                c.event.kind,
                if halting { "remove" } else { "write" }
            )),
        };
        if problem.is_some() {
            return Ok(problem);
        }
    }
    debug_assert!(halting || c.event.kind == RESUME_KIND);
    Ok(None)
}

/// An inject writes the one artifact it names, of a registered domain.
pub(super) fn inject_problem(c: &Case) -> Option<Broken> {
    if let Some(broken) = not_human(c) {
        return Some(broken);
    }
    let qualified = c.event.field("Artifact").unwrap_or_default();
    let Some((domain, _)) = qualified.split_once('/') else {
        return Some("an inject that names no artifact".into());
    };
    if !c.registered.contains_key(domain) {
        return Some(format!("it injects into `{domain}`, no registered domain"));
    }
    let own = format!("artifacts/{qualified}");
    if put_bytes(c.edits, &own).is_none() {
        return Some(format!("it does not write {own}"));
    }
    c.edits
        .iter()
        .map(edit_path)
        .find(|p| *p != own)
        .map(|p| format!("an inject may not change {p}"))
}

/// `reassign`, `edit` and `cancel` of task `b` (before) into `a` (after).
pub(super) fn task_problem(
    c: &Case,
    action: &str,
    b: &Task,
    a: &Task,
) -> Result<Option<Broken>, CommError> {
    if let Some(broken) = not_human(c) {
        return Ok(Some(broken));
    }
    let id = &b.id;
    match action {
        "reassign" => {
            let to = a.domain.as_deref().unwrap_or_default();
            if !matches!(b.status, Status::Open | Status::Claimed) {
                return Ok(Some(format!(
                    "task {id} is reassigned while {}",
                    b.status.as_str()
                )));
            }
            if a.status != Status::Open || a.assignee.is_some() || a.claimed_at.is_some() {
                return Ok(Some(format!(
                    "a reassigned task {id} must be open and unclaimed"
                )));
            }
            if !c.registered.contains_key(to) {
                return Ok(Some(format!(
                    "task {id} is reassigned to `{to}`, no registered domain"
                )));
            }
            let same = same_but(b, a, |t| {
                t.domain.clone_from(&b.domain);
                t.status = b.status;
                t.assignee.clone_from(&b.assignee);
                t.claimed_at = b.claimed_at;
                t.reason.clone_from(&b.reason);
            });
            Ok(same.or(finished_edits(c, id, None)?))
        }
        "edit" => {
            if b.status == Status::Claimed && a.domain != b.domain {
                return Ok(Some(format!("an edit moves the claimed task {id}")));
            }
            if a.domain
                .as_deref()
                .is_some_and(|d| !c.registered.contains_key(d))
            {
                return Ok(Some(format!(
                    "an edit gives task {id} to an unknown domain"
                )));
            }
            let same = same_but(b, a, |t| {
                t.title.clone_from(&b.title);
                t.priority = b.priority;
                t.domain.clone_from(&b.domain);
                t.done_when.clone_from(&b.done_when);
                t.description.clone_from(&b.description);
            });
            Ok(same.or_else(|| super::only(c, |p| p == Task::path_of(id))))
        }
        _ => {
            if matches!(b.status, Status::Done | Status::Cancelled) || a.status != Status::Cancelled
            {
                return Ok(Some(format!(
                    "a cancel takes task {id} from {} to {}",
                    b.status.as_str(),
                    a.status.as_str()
                )));
            }
            let same = same_but(b, a, |t| {
                t.status = b.status;
                t.assignee.clone_from(&b.assignee);
                t.claimed_at = b.claimed_at;
                t.reason.clone_from(&b.reason);
            });
            Ok(same.or(finished_edits(c, id, b.parent.as_deref())?))
        }
    }
}
