//! The supervisor: one tokio runtime (a single thread) owning every
//! domain's agent process.
//!
//! Each turn is one process in a process group of its own, in the domain's
//! worktree; when the process ends, whatever it left in its group is
//! killed, so no tool process outlives its turn. The loop dispatches a turn
//! to every idle domain that has work ([`super::work`]), then sleeps until
//! a turn ends, comm moves (inotify on the ref folders), a restart is due,
//! or a signal arrives. SIGINT/SIGTERM end each running turn's group
//! (TERM, then KILL after a grace period) before `up` returns. The child
//! also gets `PR_SET_PDEATHSIG`, so it does not outlive a supervisor that
//! is killed outright.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, Notify};

use super::agent::{self, Invocation};
use super::event_loop::Supervisor;
pub use super::inflight::RESUME_PROMPT;
use super::inflight::{load_inflight, recover, resume_prompt, stream_since};
use super::lock::lock_domain;
pub use super::slot::HANDOFF_PROMPT;
use super::slot::{load_memory, set_state, Slot};
use super::turn::{reap_leftovers, Ended};
use super::usage::Turn;
use super::work::{assess, Work};
use super::{agent_dir, select, RuntimeError, State};
use crate::config::Config;
use crate::git::Repo;

/// What `up` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Domains to run (all declared when empty).
    pub domains: Vec<String>,
    /// Return when no selected domain has work and no turn runs.
    pub once: bool,
    /// Exchange comm with this remote before dispatching and after every
    /// turn (and every [`SYNC_EVERY`] while waiting), and push the domains'
    /// branches there: for domains run on several machines.
    pub sync: Option<String>,
}

/// How often `up --sync` looks at the remote while waiting (its events do
/// not move the local ref, so they cannot wake the loop).
pub const SYNC_EVERY: Duration = Duration::from_secs(2);

/// What the supervisor reports as it goes (the CLI prints it).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "progress", rename_all = "snake_case")]
pub enum Progress {
    Started {
        domains: Vec<String>,
    },
    Dispatched {
        domain: String,
        turn: u64,
        session: String,
        resume: bool,
        reasons: Vec<String>,
    },
    TurnEnded {
        turn: Box<Turn>,
        event: String,
    },
    Restarting {
        domain: String,
        attempt: u32,
        delay_ms: u64,
        why: String,
    },
    Failed {
        domain: String,
        why: String,
    },
    /// Processes a previous `up` left behind (killed outright) were killed.
    Reaped {
        domain: String,
        pids: Vec<i32>,
    },
    /// A turn a previous `up` was running when it died is continued on its
    /// session instead of its work being dispatched again; `recorded` says
    /// its turn event was recorded now (the dead `up` never did).
    Resumed {
        domain: String,
        session: String,
        recorded: bool,
    },
    /// Domains with work that `up` does not dispatch to (over budget, or
    /// their CLI account rate limited), said once per hold.
    Held {
        domains: Vec<String>,
        why: String,
    },
    /// Comm was exchanged with the remote and something came or went.
    Synced {
        remote: String,
        received: usize,
        replayed: usize,
        rejected: Vec<String>,
    },
    /// The remote could not be reached or refused; `up` goes on locally.
    SyncFailed {
        remote: String,
        why: String,
    },
    /// The human halted the domain: no turn is dispatched to it, and its
    /// running turn (if `suspended`) is stopped until the halt is lifted.
    Halted {
        domain: String,
        why: String,
        suspended: bool,
    },
    /// The halt was lifted; `continued`: its stopped turn goes on.
    Unhalted {
        domain: String,
        continued: bool,
    },
    Waiting,
    Stopping,
}

/// How `up` ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub turns: u64,
    pub failed: Vec<String>,
    /// Ended by SIGINT/SIGTERM.
    pub interrupted: bool,
}

/// What `up --dry-run` shows for one domain.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub work: Work,
    pub cli: String,
    pub prompt: Option<String>,
    pub command: Option<Invocation>,
    /// The session whose unfinished turn (left by an `up` that died) the
    /// next `up` continues, instead of dispatching its items again.
    pub resumes: Option<String>,
}

/// What each selected domain would be given now, and why.
pub fn dry_run(
    repo: &Repo,
    config: &Config,
    names: &[String],
) -> Result<Vec<Planned>, RuntimeError> {
    let root = repo.main_workdir().unwrap_or_default();
    let mut out = Vec::new();
    for domain in select(config, names)? {
        let memory = load_memory(&agent_dir(repo, &domain));
        let work = assess(repo, config, &domain, &memory)?;
        let settings = config.agent(&domain);
        let dir = agent_dir(repo, &domain);
        if let Some(inflight) = load_inflight(&dir) {
            let spawned =
                fs::read_to_string(dir.join("agent.pid")).is_ok_and(|t| !t.trim().is_empty());
            let stream = stream_since(&dir.join("stream.jsonl"), inflight.stream_at);
            let prompt = resume_prompt(&inflight, !inflight.recorded, spawned, &stream);
            let prompt = prompt.as_str();
            let worktree = crate::scaffold::worktree_path(repo, &root, config, &domain)
                .map_err(|e| RuntimeError::Io(e.to_string()))?;
            let inv = agent::invocation(
                &settings,
                &domain,
                &worktree,
                &inflight.session,
                true,
                prompt,
            )
            .ok();
            out.push(Planned {
                work,
                cli: settings.cli.as_str().to_owned(),
                prompt: Some(prompt.to_owned()),
                command: inv,
                resumes: Some(inflight.session),
            });
            continue;
        }
        let (prompt, command) = if work.has_work() {
            let prompt = work.prompt();
            let session = memory.session.clone().unwrap_or_else(|| "<new>".into());
            let worktree = crate::scaffold::worktree_path(repo, &root, config, &domain)
                .map_err(|e| RuntimeError::Io(e.to_string()))?;
            let inv = agent::invocation(
                &settings,
                &domain,
                &worktree,
                &session,
                memory.started,
                &prompt,
            )
            .ok();
            (Some(prompt), inv)
        } else {
            (None, None)
        };
        out.push(Planned {
            work,
            cli: settings.cli.as_str().to_owned(),
            prompt,
            command,
            resumes: None,
        });
    }
    Ok(out)
}

/// Runs the selected domains' agents until stopped (or, with `once`, until
/// no domain has work and no turn runs).
pub fn run(
    repo: &Repo,
    config: &Config,
    options: &Options,
    mut progress: impl FnMut(&Progress),
) -> Result<Summary, RuntimeError> {
    let io = |e: std::io::Error| RuntimeError::Io(e.to_string());
    let root = repo.main_workdir().unwrap_or_default();
    let mut slots = Vec::new();
    for name in select(config, &options.domains)? {
        let worktree = crate::scaffold::worktree_path(repo, &root, config, &name)
            .map_err(|e| RuntimeError::Io(e.to_string()))?;
        if !worktree.is_dir() {
            return Err(RuntimeError::NoWorktree {
                domain: name,
                path: worktree,
            });
        }
        let settings = config.agent(&name);
        agent::check_supported(&settings, &name)?;
        let dir = agent_dir(repo, &name);
        fs::create_dir_all(&dir).map_err(io)?;
        let lock = lock_domain(&dir.join("lock"), &name)?;
        // The agent of a turn in flight got as far as its own process
        // (which writes its pid here before it runs the agent).
        let spawned = fs::read_to_string(dir.join("agent.pid")).is_ok_and(|t| !t.trim().is_empty());
        let reaped = reap_leftovers(&dir);
        if !reaped.is_empty() {
            progress(&Progress::Reaped {
                domain: name.clone(),
                pids: reaped,
            });
        }
        let mut memory = load_memory(&dir);
        let resumed = recover(
            repo,
            (&name, &config.prices),
            &settings,
            &dir,
            spawned,
            &mut memory,
            &mut progress,
        )?;
        set_state(&dir, State::Idle);
        slots.push(Slot {
            memory,
            name,
            settings,
            worktree,
            dir,
            running: None,
            failures: 0,
            crashes: Default::default(),
            stalls: 0,
            retry: resumed.map(|turn| (Instant::now(), turn)),
            failed: false,
            pushed: None,
            idle_at: None,
            _lock: lock,
        });
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io)?;
    let notify = Arc::new(Notify::new());
    let dirs: Vec<PathBuf> = slots.iter().map(|s| s.dir.clone()).collect();
    super::watch::watch_refs(repo.common_dir(), &dirs, notify.clone()).map_err(io)?;
    progress(&Progress::Started {
        domains: slots.iter().map(|s| s.name.clone()).collect(),
    });
    runtime.block_on(async {
        let (tx, rx) = mpsc::unbounded_channel::<Ended>();
        let mut sup = Supervisor {
            repo,
            config,
            slots,
            summary: Summary::default(),
            stopping: false,
            tx,
            rx,
            sync: options.sync.clone(),
            synced: None,
            control: Default::default(),
            gate: Default::default(),
        };
        let result = sup.main_loop(options.once, &notify, &mut progress).await;
        let stopped = sup.stop_all(&mut progress).await;
        result.and(stopped).map(|()| sup.summary)
    })
}
