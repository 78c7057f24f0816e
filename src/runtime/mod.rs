//! The agent runtime behind `comm-node up`: one supervisor process that
//! runs an agent CLI per domain, headless, in the domain's worktree.
//!
//! - [`work`] decides, from comm state alone, whether a domain has work and
//!   writes the turn's prompt (the kickoff, then only what is new).
//! - [`agent`] builds the command line of a turn from `agents:` in comm.yaml,
//!   through a driver per CLI (`claude`, [`codex`]).
//! - [`stream`] reads a turn's output as it arrives: Claude Code's
//!   `stream-json`, or Codex's `exec --json` events (through [`codex`]).
//! - [`usage`] records one `turn` event per turn (and a `crashed` or
//!   `stalled` event to the human), with running totals in
//!   `usage/<domain>.yaml` on comm.
//! - [`supervisor`] owns the agents: restart with backoff on a crash, a
//!   nudge on a stall, wake on comm moving (`watch`: inotify), clean stop
//!   on SIGINT/SIGTERM, one `up` per domain (`lock`: flock), `--sync`;
//!   `turn` runs one turn as a process group and reads its stream.
//! - [`attach`] pauses a domain while a human works in its session;
//!   [`local`] is what `status` shows of it.
//!
//! What only this machine needs (streams, stderr, the session a domain
//! continues, what its agent was already given) lives under
//! `.git/comm-node/agents/<domain>/`. The library never prints: progress
//! goes to the caller through [`supervisor::Progress`].

pub mod agent;
mod budget_gate;
mod claude;
pub mod codex;
mod control;
mod event_loop;
mod inflight;
mod lock;
mod slot;
pub mod stream;
pub mod supervisor;
mod turn;
mod turn_end;
pub mod usage;
pub mod watch;
pub mod work;

use std::path::PathBuf;

use serde::Serialize;

use crate::comm::CommError;
use crate::config::Config;
use crate::git::Repo;

pub use supervisor::{dry_run, run, Options, Planned, Progress, Summary};
pub use usage::{Totals, Turn, Usage, CRASHED_KIND, SANDBOX_KIND, STALLED_KIND, TURN_KIND};

/// Why `up` could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Comm(#[from] CommError),
    #[error("{0}")]
    Io(String),
    #[error("another `comm-node up` already runs domain `{domain}` (pid {pid})")]
    Busy { domain: String, pid: String },
    #[error("a turn of domain `{domain}` is running")]
    TurnRunning { domain: String },
    #[error("domain `{domain}` cannot be run: {what}")]
    Unsupported { domain: String, what: String },
    #[error("`{name}` is not a declared domain")]
    UnknownDomain { name: String, known: String },
    #[error("domain `{domain}` has no worktree at {}", path.display())]
    NoWorktree { domain: String, path: PathBuf },
}

impl RuntimeError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            RuntimeError::Comm(_) | RuntimeError::Io(_) => {
                "check the repository with `comm-node status`".into()
            }
            RuntimeError::Busy { .. } => {
                "stop that one first, or run `up` for other domains (`comm-node up DOMAIN...`)"
                    .into()
            }
            RuntimeError::Unsupported { .. } => {
                "set `cli: claude`, `cli: codex` or `cli: command` for it under `agents:` in comm.yaml".into()
            }
            RuntimeError::TurnRunning { domain } => {
                format!("wait for it to end (`comm-node logs {domain} -f` shows it), then attach")
            }
            RuntimeError::UnknownDomain { known, .. } => format!("declared domains: {known}"),
            RuntimeError::NoWorktree { .. } => {
                "run `comm-node init` in the main checkout to create it".into()
            }
        }
    }
}

/// The file in a domain's runtime folder that pauses dispatch while a
/// human works in its session (`comm-node attach`); it holds their pid.
pub const PAUSED: &str = "paused";

/// What `up` is doing with a domain, as recorded in its `state` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for work.
    Idle,
    /// A turn runs.
    Working,
    /// Waiting to restart a crashed or stalled agent.
    Restarting,
    /// Given up on (crashes or stalls); the human was told.
    Failed,
    /// Its turn is stopped (SIGSTOP) while the human's halt lasts.
    Suspended,
    /// `up` was stopped.
    Stopped,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Working => "working",
            State::Restarting => "restarting",
            State::Failed => "failed",
            State::Suspended => "suspended",
            State::Stopped => "stopped",
        }
    }
}

/// The file in a domain's runtime folder saying what its running turn
/// does now ([`Now`] as JSON); removed when the turn ends.
pub const NOW: &str = "now.json";

/// What a running turn is doing, as its stream said so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Now {
    /// The session the turn runs in.
    pub session: Option<String>,
    /// Its tool call without a result yet (`Bash: cargo test`).
    pub tool: Option<String>,
}

/// A domain's agent as this machine's `up` last left it (for `status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Local {
    /// An `up` runs the domain now (it holds the domain's lock).
    pub running: bool,
    /// `idle`, `working`, `suspended`, `restarting`, `failed`, `stopped`; `failed` or
    /// `stopped` when no `up` runs it any more.
    pub state: String,
    pub session: Option<String>,
    pub turns: u64,
    /// The tool call its running turn is in (`Bash: cargo test`).
    pub tool: Option<String>,
}

/// What this machine knows of `domain`'s agent; `None` if `up` never ran it here.
pub fn local(repo: &Repo, domain: &str) -> Option<Local> {
    let dir = agent_dir(repo, domain);
    let recorded = std::fs::read_to_string(dir.join("state")).ok()?;
    let memory: work::Memory = std::fs::read_to_string(dir.join("memory.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let running = lock::is_held(&dir.join("lock"));
    let state = match recorded.trim() {
        "failed" => "failed",
        s if running => s,
        _ => "stopped",
    };
    let now: Now = std::fs::read_to_string(dir.join(NOW))
        .ok()
        .filter(|_| running && state == "working")
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    Some(Local {
        running,
        state: state.to_owned(),
        session: now.session.or(memory.session),
        turns: memory.turns,
        tool: now.tool,
    })
}

/// A human opening `domain`'s session interactively (`comm-node attach`):
/// dispatch to it is paused until [`Attached`] is dropped.
pub struct Attached {
    file: PathBuf,
}

impl Drop for Attached {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Pauses `domain` for an interactive session and returns how to open it:
/// refused while a turn runs, or before any turn made a session.
pub fn attach(
    repo: &Repo,
    config: &Config,
    domain: &str,
) -> Result<(Attached, agent::Invocation), RuntimeError> {
    let domain = select(config, &[domain.to_owned()])?.remove(0);
    let settings = config.agent(&domain);
    if settings.cli == crate::config::AgentCli::Command {
        return Err(RuntimeError::Unsupported {
            domain,
            what:
                "attaching to a `cli: command` agent (attach opens Claude Code and Codex sessions)"
                    .into(),
        });
    }
    let dir = agent_dir(repo, &domain);
    let memory: work::Memory = std::fs::read_to_string(dir.join("memory.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let session = match memory.session {
        Some(s) if memory.started => s,
        _ => {
            return Err(RuntimeError::Unsupported {
                domain,
                what: "no agent session yet (attach opens the session `up` made)".into(),
            })
        }
    };
    let file = dir.join(PAUSED);
    std::fs::write(&file, format!("{}\n", std::process::id()))
        .map_err(|e| RuntimeError::Io(format!("{}: {e}", file.display())))?;
    let attached = Attached { file };
    if dir.join("agent.pid").exists() && lock::is_held(&dir.join("lock")) {
        return Err(RuntimeError::TurnRunning { domain });
    }
    let root = repo.main_workdir().unwrap_or_default();
    let worktree = crate::scaffold::worktree_path(repo, &root, config, &domain)
        .map_err(|e| RuntimeError::Io(e.to_string()))?;
    let (program, args) = match settings.cli {
        crate::config::AgentCli::Codex => codex::interactive(&settings, &session),
        _ => claude::interactive(&settings, &session),
    };
    Ok((
        attached,
        agent::Invocation {
            program,
            args,
            env: Vec::new(),
            cwd: worktree,
        },
    ))
}

/// The folder of one domain's runtime files (`.git/comm-node/agents/<domain>`).
pub fn agent_dir(repo: &Repo, domain: &str) -> PathBuf {
    repo.state_path("agents").join(domain)
}

/// The selected domains: `names`, or every declared domain when empty.
pub fn select(config: &Config, names: &[String]) -> Result<Vec<String>, RuntimeError> {
    if names.is_empty() {
        return Ok(config.domains.keys().cloned().collect());
    }
    let mut out = Vec::new();
    for name in names {
        if !config.domains.contains_key(name) {
            let known: Vec<&str> = config.domains.keys().map(String::as_str).collect();
            return Err(RuntimeError::UnknownDomain {
                name: name.clone(),
                known: known.join(", "),
            });
        }
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    Ok(out)
}
