//! "What's next?": turns comm state into the next turn of one domain.
//!
//! A domain has work when comm holds something for it that its agent has
//! not been given yet: an unread inbox item (a message, a question, a queue
//! rejection), a task ready for it, or a task it holds. What was given is
//! remembered per domain ([`Memory::seen`], kept under `.git/comm-node/`),
//! so a turn's prompt is only the delta since the last turn, and a domain
//! whose agent left a task claimed is not re-dispatched for it forever.
//! The first turn of a domain is its kickoff. Pure reads of comm: this
//! module never writes, never prints.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::comm::{self, task, CommError, Snapshot};
use crate::config::{AgentCli, Config};
use crate::git::Repo;
use crate::queue::{LANDED_KIND, REJECTED_KIND};

/// Inbox event kinds that ride along in a prompt but never wake an agent
/// (an artifact someone waits for makes its task ready: that is the signal;
/// a halt and its resume are applied by `up` itself, not by the agent;
/// a budget warning, pause or grant must not cost a turn by itself).
const QUIET_KINDS: &[&str] = &[
    task::KIND,
    LANDED_KIND,
    "artifact",
    comm::steer::HALT_KIND,
    comm::steer::RESUME_KIND,
    crate::comm::budget::KIND,
];

/// What the supervisor remembers of one domain between turns (and runs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// The agent session the domain's turns continue.
    #[serde(default)]
    pub session: Option<String>,
    /// Whether the CLI has created the session (a turn got as far as its
    /// first stream line): later turns resume it instead of naming it.
    #[serde(default)]
    pub started: bool,
    /// Turns dispatched so far.
    #[serde(default)]
    pub turns: u64,
    /// Keys of the work items already given to the agent.
    #[serde(default)]
    pub seen: BTreeSet<String>,
    /// Turns that ended cleanly on the current session (for `handoff_after_turns`).
    #[serde(default)]
    pub session_turns: u64,
    /// The handoff note the next session starts from, and the session that
    /// wrote it (cleared once that next session's first turn starts).
    #[serde(default)]
    pub handoff: Option<(String, String)>,
}

/// One thing waiting for a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    /// An unread inbox item.
    Message {
        id: String,
        from: String,
        /// The event kind (`msg`, a queue rejection, ...).
        event: String,
        subject: String,
    },
    /// A task the domain may claim now.
    Ready { id: String, title: String },
    /// A task the domain holds.
    Claimed { id: String, title: String },
}

impl Item {
    /// The key remembered in [`Memory::seen`].
    pub fn key(&self) -> String {
        match self {
            Item::Message { id, .. } => format!("msg:{id}"),
            Item::Ready { id, .. } => format!("ready:{id}"),
            Item::Claimed { id, .. } => format!("claimed:{id}"),
        }
    }

    /// One line of a prompt (and of `up --dry-run`).
    pub fn line(&self) -> String {
        match self {
            Item::Message {
                id,
                from,
                event,
                subject,
            } if event == REJECTED_KIND => format!(
                "the merge queue rejected your submission ({id}, from {from}): {subject}; \
                 `comm-node read {id}` says why"
            ),
            Item::Message {
                id, from, subject, ..
            } if subject.trim_end().ends_with('?') => format!(
                "question from {from} ({id}): {subject}; answer with `comm-node send --to {from} --reply-to {id} ...`"
            ),
            Item::Message {
                id,
                from,
                event,
                subject,
            } => format!("{event} from {from} ({id}): {subject}"),
            Item::Ready { id, title } => format!(
                "task {id} is ready for you: {title} (`comm-node task claim {id}`)"
            ),
            Item::Claimed { id, title } => {
                format!("you hold task {id}: {title} (`comm-node submit --task {id}` when it is done)")
            }
        }
    }

    /// A notification (a task changed, work landed, an artifact was published): worth
    /// telling, not worth a turn by itself. Task state itself (ready,
    /// held) and rejections are what call for work.
    pub fn is_quiet(&self) -> bool {
        matches!(self, Item::Message { event, .. } if QUIET_KINDS.contains(&event.as_str()))
    }

    /// The task this item is about, if any.
    pub fn task(&self) -> Option<&str> {
        match self {
            Item::Ready { id, .. } | Item::Claimed { id, .. } => Some(id),
            Item::Message { .. } => None,
        }
    }
}

/// What a domain would be given now, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Work {
    pub domain: String,
    /// The agent's name for `comm-node hello --agent` (`claude-code`, ...).
    pub agent: String,
    /// The first turn of the domain (no session yet).
    pub kickoff: bool,
    /// Everything waiting for the domain.
    pub items: Vec<Item>,
    /// The items its agent has not been given yet: the reason to dispatch.
    pub new: Vec<Item>,
}

impl Work {
    /// Whether a turn should be dispatched: something new that is not
    /// only a notification (see [`Item::is_quiet`]).
    pub fn has_work(&self) -> bool {
        self.new.iter().any(|i| !i.is_quiet())
    }

    /// The task a turn would be about: the one held, else the first ready.
    pub fn task(&self) -> Option<String> {
        let held = self
            .items
            .iter()
            .find(|i| matches!(i, Item::Claimed { .. }));
        held.or_else(|| self.items.iter().find(|i| i.task().is_some()))
            .and_then(Item::task)
            .map(str::to_owned)
    }

    /// The turn's prompt: a kickoff, or the delta since the last turn.
    pub fn prompt(&self) -> String {
        let d = &self.domain;
        let mut out = if self.kickoff {
            format!(
                "You are the agent of domain `{d}`, started by `comm-node up`; your role and \
                 rules are in this worktree's CLAUDE.md / AGENTS.md.\n\
                 Begin: `comm-node hello --agent {}`, then `comm-node inbox`.\n\
                 Waiting for you:\n",
                self.agent
            )
        } else {
            format!("New for domain `{d}` since your last turn:\n")
        };
        for item in &self.new {
            out.push_str(&format!("- {}\n", item.line()));
        }
        out.push_str(
            "Take ready work with `comm-node task next`; when a task is finished, commit and run \
             `comm-node submit --task ID` (its landing marks it done); acknowledge what you \
             read with `comm-node ack`. End your turn when nothing is left to do now.\n",
        );
        out
    }
}

/// Everything waiting for `domain` at the tip of comm, compared with what
/// its agent was already given.
pub fn assess(
    repo: &Repo,
    config: &Config,
    domain: &str,
    memory: &Memory,
) -> Result<Work, CommError> {
    let items = waiting(repo, config, domain)?;
    let new = items
        .iter()
        .filter(|i| !memory.seen.contains(&i.key()))
        .cloned()
        .collect();
    let settings = config.agent(domain);
    let agent = match settings.cli {
        AgentCli::Claude => "claude-code".to_owned(),
        AgentCli::Codex => "codex".to_owned(),
        AgentCli::Command => settings.command.first().cloned().unwrap_or_default(),
    };
    Ok(Work {
        domain: domain.to_owned(),
        agent,
        kickoff: memory.session.is_none() || !memory.started,
        items,
        new,
    })
}

/// The items waiting for `domain` now, inbox first, then held tasks, then
/// ready ones in the order `task next` takes them.
pub fn waiting(repo: &Repo, config: &Config, domain: &str) -> Result<Vec<Item>, CommError> {
    let mut items: Vec<Item> = comm::inbox(repo, domain)?
        .into_iter()
        .map(|m| Item::Message {
            id: m.id,
            from: m.from,
            event: m.kind,
            subject: m.subject,
        })
        .collect();
    let snapshot = Snapshot::take(repo)?;
    for entry in task::claimed_entries(&snapshot)? {
        if entry.task.assignee.as_deref() == Some(domain) {
            items.push(Item::Claimed {
                id: entry.task.id,
                title: entry.task.title,
            });
        }
    }
    let skills = config
        .domains
        .get(domain)
        .map(|d| d.skills.clone())
        .unwrap_or_default();
    let ready = task::ready_entries(&snapshot)?;
    for entry in task::candidates(&ready, domain, &skills) {
        if entry.progress.is_none() {
            items.push(Item::Ready {
                id: entry.task.id.clone(),
                title: entry.task.title.clone(),
            });
        }
    }
    Ok(items)
}

/// What is remembered as given after a turn that was dispatched with
/// `given`: those items while they still wait, plus the tasks the domain
/// holds now (it claimed them itself). Items that arrived during the turn
/// stay new, so they make the next turn.
pub fn remember(memory: &mut Memory, given: &[Item], now: &[Item]) {
    let mut seen: BTreeSet<String> = given.iter().map(Item::key).collect();
    seen.extend(memory.seen.iter().cloned());
    let current: BTreeSet<String> = now.iter().map(Item::key).collect();
    seen.retain(|k| current.contains(k));
    for item in now {
        if matches!(item, Item::Claimed { .. }) {
            seen.insert(item.key());
        }
    }
    memory.seen = seen;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(id: &str) -> Item {
        Item::Ready {
            id: id.into(),
            title: "t".into(),
        }
    }

    fn claimed(id: &str) -> Item {
        Item::Claimed {
            id: id.into(),
            title: "t".into(),
        }
    }

    #[test]
    fn remember_keeps_given_items_and_own_claims_but_not_late_arrivals() {
        let mut m = Memory::default();
        remember(&mut m, &[ready("T-1")], &[claimed("T-1"), ready("T-2")]);
        assert_eq!(m.seen, BTreeSet::from(["claimed:T-1".to_owned()]));
        // T-1 done, T-2 still waiting: given nothing new, T-2 stays new.
        remember(&mut m, &[ready("T-2")], &[ready("T-2")]);
        assert_eq!(m.seen, BTreeSet::from(["ready:T-2".to_owned()]));
    }

    #[test]
    fn prompts_list_only_the_new_items() {
        let work = Work {
            domain: "api".into(),
            agent: "claude-code".into(),
            kickoff: false,
            items: vec![claimed("T-1"), ready("T-2")],
            new: vec![ready("T-2")],
        };
        let p = work.prompt();
        assert!(p.starts_with("New for domain `api`"), "{p}");
        assert!(p.contains("task T-2 is ready"), "{p}");
        assert!(!p.contains("T-1"), "{p}");
        assert_eq!(work.task().as_deref(), Some("T-1"));
    }
}
