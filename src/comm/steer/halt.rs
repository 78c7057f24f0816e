//! Halting and resuming domains: `halts/<domain>.yaml` on `comm`, written
//! by a `halt` event and removed by a `resume` event, both the human's.
//!
//! Replayed at sync by intent: a halt halts again the domains it named
//! that still exist; a resume lifts only the halts still there that the
//! other clone did not write meanwhile (a halt made elsewhere while the
//! clones were apart is never undone by a resume that could not see it).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{known_domain, require_human};
use crate::comm::replay::{OtherSide, Redone};
use crate::comm::{append, limits, Appended, Change, CommError, Event, Snapshot};
use crate::git::{Repo, TreeEdit};

/// The event kind of a halt.
pub const HALT_KIND: &str = "halt";
/// The event kind of a resume.
pub const RESUME_KIND: &str = "resume";
/// Where the halts live on `comm`.
pub const HALT_DIR: &str = "halts";
/// The field listing the domains an event halts or resumes.
const DOMAINS: &str = "Domains";

/// A halted domain, as stored in `halts/<domain>.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Halt {
    pub domain: String,
    pub reason: String,
    /// Who halted it (always `human`).
    pub by: String,
    /// Seconds since the epoch.
    pub at: i64,
    /// The id of the `halt` event.
    pub event: String,
}

impl Halt {
    /// The file of `domain`'s halt on `comm`.
    pub fn path_of(domain: &str) -> String {
        format!("{HALT_DIR}/{domain}.yaml")
    }

    /// One line for errors and progress: `halted by human: REASON`.
    pub fn describe(&self) -> String {
        format!(
            "halted by {} at {}: {}",
            self.by,
            crate::clock::format_rfc3339(self.at),
            self.reason
        )
    }
}

/// Which domains a halt or resume is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every registered domain (for a resume: every halted one).
    All,
    Domains(Vec<String>),
}

/// Every halt at the snapshot, by domain.
pub fn halts(snapshot: &Snapshot) -> Result<BTreeMap<String, Halt>, CommError> {
    let mut out = BTreeMap::new();
    for name in snapshot.yaml_names(HALT_DIR)? {
        if let Some(h) = snapshot.read_yaml::<Halt>(&Halt::path_of(&name))? {
            out.insert(name, h);
        }
    }
    Ok(out)
}

/// The halt of `domain` at the snapshot, if it is halted.
pub fn halt_of(snapshot: &Snapshot, domain: &str) -> Result<Option<Halt>, CommError> {
    snapshot.read_yaml(&Halt::path_of(domain))
}

/// Refuses an action of `domain` while it is halted (what claims call
/// inside their compare-and-swap).
pub fn refuse_if_halted(snapshot: &Snapshot, domain: &str) -> Result<(), CommError> {
    match halt_of(snapshot, domain)? {
        None => Ok(()),
        Some(h) => Err(CommError::Refused {
            message: format!("domain `{domain}` is {}", h.describe()),
            hint: format!(
                "it takes no work until the human lifts the halt: comm-node resume {domain}"
            ),
        }),
    }
}

/// Halts `target` with `reason` (the human only): returns the event and
/// the domains halted.
pub fn halt(
    repo: &Repo,
    by: &str,
    target: &Target,
    reason: &str,
    now: i64,
) -> Result<(Appended, Vec<String>), CommError> {
    require_human(by, "halt a domain")?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(CommError::invalid(
            "a halt needs a reason",
            "pass --reason TEXT: what is wrong, what you will do before resuming",
        ));
    }
    limits::check(&limits::TASK_REASON, reason.len())?;
    let mut halted = Vec::new();
    let appended = append(repo, |snapshot| {
        let domains = snapshot.domains()?;
        let names = match target {
            Target::All => domains.clone(),
            Target::Domains(names) => {
                for n in names {
                    known_domain(&domains, n)?;
                }
                dedup(names)
            }
        };
        let event = Event::new(HALT_KIND, by, String::new());
        let change = halt_change(event, &names, reason, now);
        halted = names;
        Ok(Some(change))
    })?;
    Ok((appended.expect("a halt always appends"), halted))
}

fn dedup(names: &[String]) -> Vec<String> {
    let set: BTreeSet<&String> = names.iter().collect();
    set.into_iter().cloned().collect()
}

/// The halt of `names` as `event` (its id, author kept), with its files.
fn halt_change(mut event: Event, names: &[String], reason: &str, now: i64) -> Change {
    event.subject = format!("halt {} by {}: {reason}", names.join(", "), event.from);
    event.to = names.to_vec();
    event.body = format!("{reason}\n");
    event.fields.push((DOMAINS.into(), names.join(" ")));
    let edits = names
        .iter()
        .map(|d| {
            let halt = Halt {
                domain: d.clone(),
                reason: reason.to_owned(),
                by: event.from.clone(),
                at: now,
                event: event.id.clone(),
            };
            TreeEdit::Put {
                path: Halt::path_of(d),
                bytes: serde_yaml::to_string(&halt)
                    .expect("a halt always serializes")
                    .into_bytes(),
            }
        })
        .collect();
    Change { event, edits }
}

/// Lifts the halts of `target` (the human only): returns the event and the
/// domains resumed. Refused when a named domain is not halted, or when
/// nothing is.
pub fn resume(
    repo: &Repo,
    by: &str,
    target: &Target,
) -> Result<(Appended, Vec<String>), CommError> {
    require_human(by, "resume a domain")?;
    let mut resumed = Vec::new();
    let appended = append(repo, |snapshot| {
        let halted = halts(snapshot)?;
        let names = match target {
            Target::All => halted.keys().cloned().collect(),
            Target::Domains(names) => {
                let domains = snapshot.domains()?;
                for n in names {
                    known_domain(&domains, n)?;
                    if !halted.contains_key(n) {
                        return Err(CommError::Refused {
                            message: format!("domain `{n}` is not halted"),
                            hint: "comm-node status lists the halted domains".into(),
                        });
                    }
                }
                dedup(names)
            }
        };
        if names.is_empty() {
            return Err(CommError::Refused {
                message: "no domain is halted".into(),
                hint: "comm-node halt DOMAIN --reason TEXT halts one".into(),
            });
        }
        let change = resume_change(Event::new(RESUME_KIND, by, String::new()), &names);
        resumed = names;
        Ok(Some(change))
    })?;
    Ok((appended.expect("a resume always appends"), resumed))
}

fn resume_change(mut event: Event, names: &[String]) -> Change {
    event.subject = format!("resume {} by {}", names.join(", "), event.from);
    event.to = names.to_vec();
    event.fields.push((DOMAINS.into(), names.join(" ")));
    let edits = names
        .iter()
        .map(|d| TreeEdit::Remove {
            path: Halt::path_of(d),
        })
        .collect();
    Change { event, edits }
}

/// The domains a halt or resume event names.
pub(crate) fn named(event: &Event) -> Vec<String> {
    event
        .field(DOMAINS)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// A replayed halt: the domains it named that are still registered are
/// halted again (same id, reason and time).
pub fn replay_halt(snapshot: &Snapshot, event: &Event, time: i64) -> Result<Redone, CommError> {
    require_human(&event.from, "halt a domain")?;
    let domains = snapshot.domains()?;
    let names: Vec<String> = named(event)
        .into_iter()
        .filter(|d| domains.contains(d))
        .collect();
    if names.is_empty() {
        return Err(CommError::Refused {
            message: "none of the domains it halts is registered any more".into(),
            hint: "comm-node status lists the domains".into(),
        });
    }
    let mut fresh = event.clone();
    fresh.fields.retain(|(k, _)| k != DOMAINS);
    let change = halt_change(fresh, &names, event.body.trim(), time);
    Ok(Redone::whole(change.event, change.edits))
}

/// A replayed resume: lifts the named halts that are still there and that
/// the other clone did not write meanwhile; `None` when none is left.
pub fn replay_resume(
    snapshot: &Snapshot,
    event: &Event,
    other: &OtherSide,
) -> Result<Option<Redone>, CommError> {
    require_human(&event.from, "resume a domain")?;
    let halted = halts(snapshot)?;
    let (mut names, mut kept) = (Vec::new(), Vec::new());
    for d in named(event) {
        if !halted.contains_key(&d) {
            continue;
        }
        if other.contested.contains(&Halt::path_of(&d)) {
            kept.push(d);
        } else {
            names.push(d);
        }
    }
    let left_out = (!kept.is_empty()).then(|| {
        format!(
            "{} stay halted: the human halted them on another clone while this resume was apart",
            kept.join(", ")
        )
    });
    if names.is_empty() {
        return match left_out {
            None => Ok(None),
            Some(message) => Err(CommError::Refused {
                message,
                hint: "comm-node status shows the halt; resume it again if it should go".into(),
            }),
        };
    }
    let mut fresh = event.clone();
    fresh.fields.retain(|(k, _)| k != DOMAINS);
    let change = resume_change(fresh, &names);
    Ok(Some(Redone {
        event: change.event,
        edits: change.edits,
        left_out,
    }))
}
