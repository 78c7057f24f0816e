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
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Notify};

use super::agent::{self, Invocation};
use super::codex::{self, Ledger};
use super::lock::{lock_domain, DomainLock};
use super::stream::{Outcome, Tokens, TurnStream};
use super::turn::{drive, kill_group, reap_leftovers, spawn, Cut, Ended, Limits, GRACE};
use super::usage::{
    record_escalation, record_sandbox, record_turn, Turn, CRASHED_KIND, STALLED_KIND,
};
use super::work::{assess, remember, waiting, Item, Memory, Work};
use super::{agent_dir, select, RuntimeError, State};
use crate::config::{AgentCli, AgentSettings, Config};
use crate::git::Repo;

/// The file in a domain's runtime folder recording that the human was told
/// its agent's sandbox keeps git from committing (so they are told once).
const SANDBOX_TOLD: &str = "sandbox-reported";

/// Re-read comm this often even if no ref change was seen (a safety net).
const SAFETY_TICK: Duration = Duration::from_secs(30);

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
        turn: Turn,
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

/// One running turn.
struct Running {
    pgid: i32,
    given: Vec<Item>,
    task: Option<String>,
    session: String,
    prompt: String,
    /// Said before the prompt when the turn is a restart.
    note: Option<String>,
    /// The turn asks the agent for its handoff note.
    handoff: bool,
    /// The session this turn's took over from (the first turn after a handoff).
    parent: Option<String>,
}

/// The prompt of a turn that continues one a previous `up` left unfinished.
pub const RESUME_PROMPT: &str = "You were interrupted: the supervisor running you stopped in the \
middle of your previous turn. Continue where you left off; do not start over what is already done.";

/// The turn in flight for a domain, on disk (`inflight.json`) from before
/// its process starts until what it was given is remembered (or the domain
/// fails): an `up` that died mid-turn leaves it, and the next `up` resumes
/// that session instead of dispatching the same work again.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct InFlight {
    session: String,
    task: Option<String>,
    given: Vec<Item>,
    /// Its prompt, given again only if its agent never started.
    #[serde(default)]
    prompt: String,
    /// Where the turn's output starts in `stream.jsonl`.
    stream_at: u64,
    /// Its `turn` event is on comm (it ended and awaits a restart).
    #[serde(default)]
    recorded: bool,
    /// It asks for the handoff note.
    #[serde(default)]
    handoff: bool,
    /// The session it took over from (the first turn after a handoff).
    #[serde(default)]
    parent: Option<String>,
}

const INFLIGHT: &str = "inflight.json";

fn load_inflight(dir: &Path) -> Option<InFlight> {
    fs::read_to_string(dir.join(INFLIGHT))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

fn save_inflight(dir: &Path, inflight: &InFlight) -> Result<(), RuntimeError> {
    let text = serde_json::to_string_pretty(inflight).expect("in-flight turns serialize");
    crate::cachefile::write_atomic(&dir.join(INFLIGHT), &text)
        .map_err(|e| RuntimeError::Io(format!("{}: {e}", dir.display())))
}

/// What the stream log holds from byte `at` on (a rotated log: all of it).
fn stream_since(log: &Path, at: u64) -> TurnStream {
    let mut stream = TurnStream::default();
    let Ok(bytes) = fs::read(log) else {
        return stream;
    };
    let from = if at as usize <= bytes.len() {
        at as usize
    } else {
        0
    };
    for line in String::from_utf8_lossy(&bytes[from..]).lines() {
        stream.feed(line);
    }
    stream
}

/// The prompt that continues an unfinished turn: the handoff request for
/// a handoff; its own prompt again when its agent never started (the `up`
/// died between recording the turn and starting its process: nothing of
/// it reached the agent, so giving it is no second dispatch); else a short
/// "you were interrupted; continue".
fn resume_prompt(
    inflight: &InFlight,
    recorded_now: bool,
    spawned: bool,
    stream: &TurnStream,
) -> String {
    if inflight.handoff {
        HANDOFF_PROMPT.to_owned()
    } else if recorded_now && !spawned && stream.lines == 0 && !inflight.prompt.is_empty() {
        inflight.prompt.clone()
    } else {
        RESUME_PROMPT.to_owned()
    }
}

/// Takes up the turn a previous `up` of this domain left unfinished, if
/// any: records its `turn` event if that `up` never did (once: the record
/// then says so) and returns the turn that continues its session.
fn recover(
    repo: &Repo,
    name: &str,
    settings: &AgentSettings,
    dir: &Path,
    spawned: bool,
    memory: &mut Memory,
    progress: &mut impl FnMut(&Progress),
) -> Result<Option<Running>, RuntimeError> {
    let Some(mut inflight) = load_inflight(dir) else {
        return Ok(None);
    };
    let stream = stream_since(&dir.join("stream.jsonl"), inflight.stream_at);
    adopt_session(settings, &stream, &mut inflight.session, memory);
    if stream.session.is_some() && memory.session.as_deref() == Some(&inflight.session) {
        memory.started = true;
        save_memory(dir, memory)?;
    }
    let recorded = !inflight.recorded;
    if recorded {
        let result = stream.result.clone().unwrap_or_default();
        record_turn(
            repo,
            &Turn {
                domain: name.to_owned(),
                cli: settings.cli.as_str().to_owned(),
                session: inflight.session.clone(),
                task: inflight.task.clone(),
                tokens: turn_tokens(dir, &inflight.session, &stream, &result)?,
                cost_usd: result.cost_usd,
                cost_text: if result.cost_text.is_empty() {
                    "0".into()
                } else {
                    result.cost_text.clone()
                },
                cost_reported: !result.cost_not_reported,
                duration_ms: 0,
                outcome: "interrupted (up died)".into(),
                calls: result.num_turns.max(stream.responses.len() as u64),
                model: stream.model.clone(),
                parent: inflight.parent.take(),
            },
        )?;
        inflight.recorded = true;
        save_inflight(dir, &inflight)?;
    }
    progress(&Progress::Resumed {
        domain: name.to_owned(),
        session: inflight.session.clone(),
        recorded,
    });
    let prompt = resume_prompt(&inflight, recorded, spawned, &stream);
    Ok(Some(Running {
        pgid: 0,
        given: inflight.given,
        task: inflight.task,
        session: inflight.session,
        prompt,
        note: None,
        handoff: inflight.handoff,
        // Still set when the dead `up` had recorded the turn itself: like a
        // restart within one `up`, each try of that turn names the parent.
        parent: inflight.parent,
    }))
}

/// A CLI that picks its own session id (Codex: `thread.started`) names it
/// in its stream: the turn (and the domain's memory, if it held the
/// placeholder the turn was started with) takes it, so the next turn
/// resumes it.
fn adopt_session(
    settings: &AgentSettings,
    stream: &TurnStream,
    session: &mut String,
    memory: &mut Memory,
) {
    if settings.cli != AgentCli::Codex {
        return;
    }
    let Some(real) = stream.session.clone().filter(|s| s != session) else {
        return;
    };
    if memory.session.as_deref() == Some(session.as_str()) {
        memory.session = Some(real.clone());
    }
    *session = real;
}

/// The tokens a turn used. A CLI that reports the session's running total
/// (Codex, which may also re-emit it unchanged) is counted by the delta
/// since the last total seen for `session`, kept in the domain's folder.
fn turn_tokens(
    dir: &Path,
    session: &str,
    stream: &TurnStream,
    result: &Outcome,
) -> Result<Tokens, RuntimeError> {
    if !stream.cumulative {
        return Ok(result.tokens);
    }
    let mut ledger = Ledger::load(dir);
    let delta = ledger.delta(session, result.tokens);
    ledger
        .save(dir)
        .map_err(|e| RuntimeError::Io(format!("{}: {e}", dir.join(codex::LEDGER).display())))?;
    Ok(delta)
}

/// One domain under supervision.
struct Slot {
    name: String,
    settings: AgentSettings,
    worktree: PathBuf,
    dir: PathBuf,
    memory: Memory,
    running: Option<Running>,
    /// Crashes in a row (for the backoff).
    failures: u32,
    /// When the recent crashes were, within `restart_window`.
    crashes: std::collections::VecDeque<Instant>,
    /// Stalls in a row.
    stalls: u32,
    retry: Option<(Instant, Running)>,
    failed: bool,
    /// The branch tip last pushed with `--sync`.
    pushed: Option<git2::Oid>,
    /// The comm tip at which the domain was last found to have no work
    /// (cleared when its memory changes).
    idle_at: Option<git2::Oid>,
    _lock: DomainLock,
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
        let reaped = reap_leftovers(&dir, &worktree);
        if !reaped.is_empty() {
            progress(&Progress::Reaped {
                domain: name.clone(),
                pids: reaped,
            });
        }
        let mut memory = load_memory(&dir);
        let resumed = recover(
            repo,
            &name,
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
        };
        let result = sup.main_loop(options.once, &notify, &mut progress).await;
        let stopped = sup.stop_all(&mut progress).await;
        result.and(stopped).map(|()| sup.summary)
    })
}

struct Supervisor<'a> {
    repo: &'a Repo,
    config: &'a Config,
    slots: Vec<Slot>,
    summary: Summary,
    /// Set once a stop was asked for: ends are interruptions, nothing restarts.
    stopping: bool,
    tx: mpsc::UnboundedSender<Ended>,
    rx: mpsc::UnboundedReceiver<Ended>,
    /// The remote of `--sync`, and when it was last exchanged with.
    sync: Option<String>,
    synced: Option<Instant>,
}

impl Supervisor<'_> {
    async fn main_loop(
        &mut self,
        once: bool,
        notify: &Notify,
        progress: &mut impl FnMut(&Progress),
    ) -> Result<(), RuntimeError> {
        use tokio::signal::unix::{signal, SignalKind};
        let io = |e: std::io::Error| RuntimeError::Io(e.to_string());
        let mut sigint = signal(SignalKind::interrupt()).map_err(io)?;
        let mut sigterm = signal(SignalKind::terminate()).map_err(io)?;
        let mut waiting_said = false;
        loop {
            if self.synced.is_none_or(|t| t.elapsed() >= SYNC_EVERY) {
                self.sync(progress);
            }
            let mut busy = false;
            for i in 0..self.slots.len() {
                if self.dispatch_if_due(i, progress)? {
                    waiting_said = false;
                }
                let s = &self.slots[i];
                busy |= s.running.is_some() || s.retry.is_some();
            }
            if !busy {
                if once {
                    return Ok(());
                }
                if !waiting_said {
                    progress(&Progress::Waiting);
                    waiting_said = true;
                }
            }
            let next_sync = self.sync.as_ref().and(self.synced).map(|t| t + SYNC_EVERY);
            let next = self
                .slots
                .iter()
                .filter_map(|s| s.retry.as_ref().map(|r| r.0))
                .chain(next_sync)
                .min()
                .unwrap_or_else(|| Instant::now() + SAFETY_TICK);
            tokio::select! {
                Some(ended) = self.rx.recv() => self.ended(ended, progress)?,
                _ = notify.notified() => {}
                _ = tokio::time::sleep_until(next.into()) => {}
                _ = sigint.recv() => { self.summary.interrupted = true; return Ok(()) }
                _ = sigterm.recv() => { self.summary.interrupted = true; return Ok(()) }
            }
            while let Ok(ended) = self.rx.try_recv() {
                self.ended(ended, progress)?;
            }
        }
    }

    /// With `--sync`: exchanges comm with the remote and pushes each
    /// domain branch that moved. Failures are reported, never fatal.
    fn sync(&mut self, progress: &mut impl FnMut(&Progress)) {
        let Some(remote) = self.sync.clone() else {
            return;
        };
        self.synced = Some(Instant::now());
        match crate::comm::sync(self.repo, &remote) {
            Ok(r) if r.received > 0 || r.replay.replayed > 0 || !r.replay.rejected.is_empty() => {
                progress(&Progress::Synced {
                    remote: remote.clone(),
                    received: r.received,
                    replayed: r.replay.replayed,
                    rejected: r.replay.rejected.iter().map(|x| x.reason.clone()).collect(),
                })
            }
            Ok(_) => {}
            Err(e) => progress(&Progress::SyncFailed {
                remote: remote.clone(),
                why: e.to_string(),
            }),
        }
        for slot in &mut self.slots {
            let branch = Config::domain_branch(&slot.name);
            let Ok(Some(tip)) = self.repo.branch_tip(&branch) else {
                continue;
            };
            if slot.pushed == Some(tip) {
                continue;
            }
            match self.repo.push_branch(&remote, tip, &branch) {
                Ok(crate::git::PushOutcome::Pushed) => slot.pushed = Some(tip),
                Ok(crate::git::PushOutcome::Rejected) => progress(&Progress::SyncFailed {
                    remote: remote.clone(),
                    why: format!("{branch} was not a fast-forward there"),
                }),
                Err(e) => progress(&Progress::SyncFailed {
                    remote: remote.clone(),
                    why: e.to_string(),
                }),
            }
        }
    }

    /// Ends every running turn: SIGTERM to its group, SIGKILL after the
    /// grace period; records the interrupted turns.
    async fn stop_all(&mut self, progress: &mut impl FnMut(&Progress)) -> Result<(), RuntimeError> {
        self.stopping = true;
        for slot in self.slots.iter().filter(|s| !s.failed) {
            set_state(&slot.dir, State::Stopped);
        }
        let running: Vec<i32> = self
            .slots
            .iter()
            .filter_map(|s| s.running.as_ref().map(|r| r.pgid))
            .collect();
        if running.is_empty() {
            return Ok(());
        }
        progress(&Progress::Stopping);
        for pgid in &running {
            kill_group(*pgid, libc::SIGTERM);
        }
        let deadline = tokio::time::Instant::now() + GRACE;
        let mut result = Ok(());
        while self.slots.iter().any(|s| s.running.is_some()) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(ended)) => {
                    if let Err(e) = self.ended(ended, progress) {
                        result = Err(e);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    for s in &self.slots {
                        if let Some(r) = &s.running {
                            kill_group(r.pgid, libc::SIGKILL);
                        }
                    }
                    if let Some(ended) = self.rx.recv().await {
                        if let Err(e) = self.ended(ended, progress) {
                            result = Err(e);
                        }
                    }
                }
            }
        }
        result
    }

    /// Starts a turn for slot `i` when one is due: a restart whose time has
    /// come, or new work. Returns whether a turn started.
    fn dispatch_if_due(
        &mut self,
        i: usize,
        progress: &mut impl FnMut(&Progress),
    ) -> Result<bool, RuntimeError> {
        let slot = &mut self.slots[i];
        if slot.failed || slot.running.is_some() || self.stopping || paused(&slot.dir) {
            return Ok(false);
        }
        let turn = match slot.retry.take() {
            Some((at, turn)) if at > Instant::now() => {
                slot.retry = Some((at, turn));
                return Ok(false);
            }
            Some((_, turn)) => turn,
            None => {
                // Nothing to decide again while comm has not moved since
                // this domain was last found idle.
                let tip = self.repo.ref_tip(crate::comm::COMM_REF).ok().flatten();
                if tip.is_some() && slot.idle_at == tip {
                    return Ok(false);
                }
                let work = assess(self.repo, self.config, &slot.name, &slot.memory)?;
                if !work.has_work() {
                    slot.idle_at = tip;
                    return Ok(false);
                }
                let session = match &slot.memory.session {
                    Some(s) if slot.memory.started => s.clone(),
                    _ => agent::new_session_id(),
                };
                let (prompt, parent) = match &slot.memory.handoff {
                    Some((parent, note)) => (
                        format!(
                            "You take over from a previous session of this domain's agent; \
                             its handoff note:\n\n{note}\n\n{}",
                            work.prompt()
                        ),
                        Some(parent.clone()),
                    ),
                    None => (work.prompt(), None),
                };
                Running {
                    pgid: 0,
                    task: work.task(),
                    given: work.new.clone(),
                    prompt,
                    note: None,
                    session,
                    handoff: false,
                    parent,
                }
            }
        };
        let reasons = turn.given.iter().map(Item::line).collect();
        self.start(i, turn)?;
        let slot = &self.slots[i];
        progress(&Progress::Dispatched {
            domain: slot.name.clone(),
            turn: slot.memory.turns,
            session: slot.memory.session.clone().unwrap_or_default(),
            resume: slot.memory.started,
            reasons,
        });
        Ok(true)
    }

    /// Spawns the turn's process in its own group and a driver reading it.
    fn start(&mut self, i: usize, mut turn: Running) -> Result<(), RuntimeError> {
        let slot = &mut self.slots[i];
        let resume = slot.memory.started && slot.memory.session.as_deref() == Some(&turn.session);
        let prompt = match &turn.note {
            Some(note) => format!("{note}\n\n{}", turn.prompt),
            None => turn.prompt.clone(),
        };
        let inv = agent::invocation(
            &slot.settings,
            &slot.name,
            &slot.worktree,
            &turn.session,
            resume,
            &prompt,
        )?;
        slot.memory.session = Some(turn.session.clone());
        slot.memory.turns += 1;
        if turn.parent.is_some() {
            slot.memory.handoff = None;
        }
        save_memory(&slot.dir, &slot.memory)?;
        let log = slot.dir.join("stream.jsonl");
        save_inflight(
            &slot.dir,
            &InFlight {
                session: turn.session.clone(),
                task: turn.task.clone(),
                given: turn.given.clone(),
                prompt: match &turn.note {
                    Some(note) => format!("{note}\n\n{}", turn.prompt),
                    None => turn.prompt.clone(),
                },
                stream_at: fs::metadata(&log).map_or(0, |m| m.len()),
                recorded: false,
                handoff: turn.handoff,
                parent: turn.parent.clone(),
            },
        )?;
        let started = Instant::now();
        let tx = self.tx.clone();
        match spawn(&inv, &slot.dir.join("agent.pid")) {
            Ok(child) => {
                turn.pgid = child.id().map_or(0, |p| p as i32);
                let limits = Limits {
                    stall_after: Duration::from_secs(slot.settings.stall_after),
                    max_calls: slot.settings.max_turns,
                };
                tokio::spawn(drive(i, child, slot.dir.clone(), started, limits, tx));
            }
            Err(e) => {
                let _ = tx.send(Ended {
                    slot: i,
                    stream: TurnStream::default(),
                    code: None,
                    stderr_tail: vec![format!("cannot start `{}`: {e}", inv.program)],
                    elapsed: started.elapsed(),
                    cut: None,
                });
            }
        }
        slot.running = Some(turn);
        set_state(&slot.dir, State::Working);
        Ok(())
    }

    /// A turn's process ended: record the turn, then remember what was
    /// given, or schedule a restart, or give up on the domain.
    fn ended(
        &mut self,
        ended: Ended,
        progress: &mut impl FnMut(&Progress),
    ) -> Result<(), RuntimeError> {
        let slot = &mut self.slots[ended.slot];
        let Some(mut turn) = slot.running.take() else {
            return Ok(());
        };
        slot.idle_at = None;
        let _ = fs::remove_file(slot.dir.join("agent.pid"));
        let stream = ended.stream;
        adopt_session(&slot.settings, &stream, &mut turn.session, &mut slot.memory);
        if let Some(line) = &stream.sandbox {
            // Once per domain on this machine: the fix is the human's.
            let told = slot.dir.join(SANDBOX_TOLD);
            if !told.exists() {
                record_sandbox(self.repo, &slot.name, slot.settings.cli.as_str(), line)?;
                let _ = fs::write(&told, format!("{line}\n"));
            }
        }
        let stall = crate::clock::format_duration(slot.settings.stall_after);
        let (ok, why) = match (ended.cut, ended.code) {
            // Cut at its limit of model calls: a finished turn, not a crash.
            (Some(Cut::MaxTurns), _) => (true, None),
            (Some(Cut::Stalled), _) => (false, Some(format!("no output for {stall}"))),
            (None, Some(0)) => (true, None),
            (None, Some(c)) if c < 0 => (false, Some(format!("killed by signal {}", -c))),
            (None, Some(c)) => (false, Some(format!("exit {c}"))),
            (None, None) => (false, Some("could not start".to_owned())),
        };
        if stream.session.is_some() || ok {
            slot.memory.started = true;
        }
        let outcome = match (ended.cut, &why, &stream.result) {
            _ if self.stopping => "interrupted".to_owned(),
            (Some(Cut::MaxTurns), _, _) => "error_max_turns".to_owned(),
            (Some(Cut::Stalled), _, _) => "stalled".to_owned(),
            (None, None, Some(r)) => r.subtype.clone(),
            (None, None, None) => "success".to_owned(),
            (None, Some(w), _) => format!("crashed ({w})"),
        };
        if ended.code.is_some() {
            let result = stream.result.clone().unwrap_or_default();
            let now = waiting(self.repo, self.config, &slot.name).unwrap_or_default();
            let held = now.iter().find(|i| matches!(i, Item::Claimed { .. }));
            let record = Turn {
                domain: slot.name.clone(),
                cli: slot.settings.cli.as_str().to_owned(),
                session: stream
                    .session
                    .clone()
                    .unwrap_or_else(|| turn.session.clone()),
                task: held
                    .and_then(Item::task)
                    .map(str::to_owned)
                    .or(turn.task.clone()),
                tokens: turn_tokens(&slot.dir, &turn.session, &stream, &result)?,
                cost_usd: result.cost_usd,
                cost_text: if result.cost_text.is_empty() {
                    "0".into()
                } else {
                    result.cost_text.clone()
                },
                cost_reported: !result.cost_not_reported,
                duration_ms: ended.elapsed.as_millis() as u64,
                outcome,
                calls: result.num_turns.max(stream.responses.len() as u64),
                model: stream.model.clone(),
                parent: turn.parent.clone(),
            };
            let appended = record_turn(self.repo, &record)?;
            self.summary.turns += 1;
            // Sync before the next dispatch: what this turn did goes out.
            self.synced = None;
            progress(&Progress::TurnEnded {
                turn: record,
                event: appended.event.id,
            });
            if ok {
                slot.failures = 0;
                slot.stalls = 0;
                remember(&mut slot.memory, &turn.given, &now);
                set_state(&slot.dir, State::Idle);
                if turn.handoff {
                    let note = result.note.trim();
                    let note = if note.is_empty() {
                        "(the agent wrote no handoff note)"
                    } else {
                        note
                    };
                    crate::comm::publish(
                        self.repo,
                        &slot.name,
                        &format!("handoff/{}.md", slot.name),
                        format!("{note}\n").as_bytes(),
                        &[],
                        Some(&format!("handoff note of session {}", turn.session)),
                        &self.config.limits,
                    )?;
                    slot.memory.handoff = Some((turn.session.clone(), note.to_owned()));
                    slot.memory.session = None;
                    slot.memory.started = false;
                    slot.memory.session_turns = 0;
                } else {
                    slot.memory.session_turns += 1;
                    if handoff_due(&slot.settings, &slot.memory, &result) {
                        slot.retry = Some((
                            Instant::now(),
                            Running {
                                pgid: 0,
                                given: Vec::new(),
                                task: None,
                                session: turn.session.clone(),
                                prompt: HANDOFF_PROMPT.to_owned(),
                                note: None,
                                handoff: true,
                                parent: None,
                            },
                        ));
                    }
                }
                save_memory(&slot.dir, &slot.memory)?;
                let _ = fs::remove_file(slot.dir.join(INFLIGHT));
                return Ok(());
            }
            // Its event is on comm: an `up` that dies before the restart
            // must not record it again.
            if let Some(mut inflight) = load_inflight(&slot.dir) {
                inflight.recorded = true;
                save_inflight(&slot.dir, &inflight)?;
            }
        }
        let Some(why) = why else { return Ok(()) };
        if self.stopping {
            return Ok(());
        }
        let stalled = ended.cut == Some(Cut::Stalled);
        let (kind, give_up, why, delay, note) = if stalled {
            // A stall is nudged at once; the second in a row goes to the human.
            slot.stalls += 1;
            let note = format!(
                "Your previous turn produced no output for {stall} and was interrupted. \
                 Resume: finish the step you were on, or end the turn if nothing is left."
            );
            let why = format!("stalled: {why}");
            (STALLED_KIND, slot.stalls >= 2, why, Duration::ZERO, note)
        } else {
            slot.stalls = 0;
            slot.failures += 1;
            let window = Duration::from_secs(slot.settings.restart_window);
            let now = Instant::now();
            slot.crashes.push_back(now);
            while slot
                .crashes
                .front()
                .is_some_and(|t| now.duration_since(*t) > window)
            {
                slot.crashes.pop_front();
            }
            let crashes = slot.crashes.len() as u32;
            let give_up = crashes > slot.settings.max_restarts;
            let why = if give_up {
                format!(
                    "{why}, {crashes} times in {} (max_restarts {})",
                    crate::clock::format_duration(slot.settings.restart_window),
                    slot.settings.max_restarts
                )
            } else {
                why
            };
            let note =
                format!("Your previous turn was cut short ({why}); continue where you left off.");
            (CRASHED_KIND, give_up, why, backoff(slot.failures), note)
        };
        if give_up {
            slot.failed = true;
            let _ = fs::remove_file(slot.dir.join(INFLIGHT));
            set_state(&slot.dir, State::Failed);
            record_escalation(self.repo, &slot.name, kind, &why, &ended.stderr_tail)?;
            self.summary.failed.push(slot.name.clone());
            progress(&Progress::Failed {
                domain: slot.name.clone(),
                why,
            });
            return Ok(());
        }
        progress(&Progress::Restarting {
            domain: slot.name.clone(),
            attempt: slot.failures + slot.stalls,
            delay_ms: delay.as_millis() as u64,
            why,
        });
        set_state(&slot.dir, State::Restarting);
        slot.retry = Some((
            Instant::now() + delay,
            Running {
                pgid: 0,
                note: Some(note),
                ..turn
            },
        ));
        Ok(())
    }
}

/// What a session is asked at its handoff.
pub const HANDOFF_PROMPT: &str = "Your session is being handed off: the next turn starts a fresh \
session that knows only what you write now. Reply with a handoff note in Markdown: what you were \
doing, what is done (commits, tasks), what is left and how you would go on, and anything the next \
session must not redo. Do not start new work in this turn.";

/// Whether the session that just ended a clean turn should hand off: after
/// `handoff_after_turns` clean turns on it, or once the turn's context use
/// (input plus cache tokens of its `result`, against the model's context
/// window) reaches `handoff_at`.
fn handoff_due(settings: &AgentSettings, memory: &Memory, result: &super::stream::Outcome) -> bool {
    let by_turns = settings
        .handoff_after_turns
        .is_some_and(|n| memory.session_turns >= u64::from(n));
    let t = &result.tokens;
    let used = t.input + t.cache_read + t.cache_write;
    let by_context = settings.handoff_at.is_some_and(|at| {
        result.context_window > 0 && used * 1000 >= u64::from(at) * result.context_window
    });
    by_turns || by_context
}

/// Restart delay after `failures` crashes in a row: 0.5 s doubling, at most 30 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis((500u64 << failures.saturating_sub(1).min(6)).min(30_000))
}

/// Whether a human has the domain's session open (`comm-node attach`): its
/// `paused` file names a live process. A stale one is removed.
fn paused(dir: &Path) -> bool {
    let file = dir.join(super::PAUSED);
    let Ok(text) = fs::read_to_string(&file) else {
        return false;
    };
    let alive = text
        .trim()
        .parse::<i32>()
        // SAFETY: signal 0 only checks that the process exists.
        .is_ok_and(|pid| pid > 0 && unsafe { libc::kill(pid, 0) } == 0);
    if !alive {
        let _ = fs::remove_file(file);
    }
    alive
}

/// Records the domain's runtime state for `status` (best effort: it is a
/// view, the lock says whether an `up` really runs).
fn set_state(dir: &Path, state: State) {
    let _ = crate::cachefile::write_atomic(&dir.join("state"), state.as_str());
}

fn load_memory(dir: &Path) -> Memory {
    fs::read_to_string(dir.join("memory.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn save_memory(dir: &Path, memory: &Memory) -> Result<(), RuntimeError> {
    let text = serde_json::to_string_pretty(memory).expect("memory always serializes");
    crate::cachefile::write_atomic(&dir.join("memory.json"), &text)
        .map_err(|e| RuntimeError::Io(format!("{}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflight(handoff: bool) -> InFlight {
        InFlight {
            session: "s".into(),
            task: None,
            given: Vec::new(),
            prompt: "New for domain `web`: task T-1".into(),
            stream_at: 0,
            recorded: false,
            handoff,
            parent: None,
        }
    }

    #[test]
    fn an_unfinished_turn_is_continued_and_only_an_unstarted_one_given_its_prompt_again() {
        let quiet = TurnStream::default();
        let mut spoke = TurnStream::default();
        spoke.feed(r#"{"type":"system","subtype":"init","session_id":"s"}"#);
        let plain = inflight(false);
        assert_eq!(resume_prompt(&plain, true, true, &spoke), RESUME_PROMPT);
        assert_eq!(resume_prompt(&plain, true, true, &quiet), RESUME_PROMPT);
        assert_eq!(resume_prompt(&plain, true, false, &spoke), RESUME_PROMPT);
        // Recorded by the dead `up` itself: it ran and crashed.
        assert_eq!(resume_prompt(&plain, false, false, &quiet), RESUME_PROMPT);
        // Never got to its own process: nothing reached the agent.
        assert_eq!(resume_prompt(&plain, true, false, &quiet), plain.prompt);
        assert_eq!(
            resume_prompt(&inflight(true), true, false, &quiet),
            HANDOFF_PROMPT
        );
    }
}
