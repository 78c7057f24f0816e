//! The supervisor's event loop: dispatches turns to idle domains with
//! work, waits for a turn to end, comm to move, a restart to fall due or a
//! signal, syncs with `--sync`, and stops every running turn at the end.

use std::fs;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};

use super::agent;
use super::inflight::{save_inflight, InFlight, Running};
use super::slot::{paused, save_memory, set_state, Slot};
use super::stream::TurnStream;
use super::supervisor::{Progress, Summary, SYNC_EVERY};
use super::turn::{drive, spawn, turn_job, Ended, Limits, GRACE};
use super::work::{assess, Item};
use super::{RuntimeError, State};
use crate::config::Config;
use crate::git::Repo;

/// Re-read comm this often even if no ref change was seen (a safety net).
const SAFETY_TICK: Duration = Duration::from_secs(30);

pub(super) struct Supervisor<'a> {
    pub(super) repo: &'a Repo,
    pub(super) config: &'a Config,
    pub(super) slots: Vec<Slot>,
    pub(super) summary: Summary,
    /// Set once a stop was asked for: ends are interruptions, nothing restarts.
    pub(super) stopping: bool,
    pub(super) tx: mpsc::UnboundedSender<Ended>,
    pub(super) rx: mpsc::UnboundedReceiver<Ended>,
    /// The remote of `--sync`, and when it was last exchanged with.
    pub(super) sync: Option<String>,
    pub(super) synced: Option<Instant>,
    /// The human's halts, and the turns stopped for them.
    pub(super) control: super::control::Control,
    /// Budgets, rate limits and `max_parallel_agents` (`budget_gate`).
    pub(super) gate: super::budget_gate::Gate,
}

impl Supervisor<'_> {
    pub(super) async fn main_loop(
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
            self.steer(progress);
            let mut busy = false;
            for i in 0..self.slots.len() {
                if self.dispatch_if_due(i, progress)? {
                    waiting_said = false;
                }
                let s = &self.slots[i];
                let held = self.control.hold(&s.name).is_some();
                busy |= s.running.is_some() || (s.retry.is_some() && !held);
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
                .filter(|s| self.control.hold(&s.name).is_none())
                .filter_map(|s| s.retry.as_ref().map(|r| r.0))
                .chain(next_sync)
                .chain(self.gate.wake_at())
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
    pub(super) fn sync(&mut self, progress: &mut impl FnMut(&Progress)) {
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
    pub(super) async fn stop_all(
        &mut self,
        progress: &mut impl FnMut(&Progress),
    ) -> Result<(), RuntimeError> {
        self.stopping = true;
        for slot in self.slots.iter().filter(|s| !s.failed) {
            set_state(&slot.dir, State::Stopped);
        }
        let running: Vec<_> = self
            .slots
            .iter()
            .filter_map(|s| s.running.as_ref().map(|r| turn_job(&s.dir, r.pgid)))
            .collect();
        if running.is_empty() {
            return Ok(());
        }
        progress(&Progress::Stopping);
        for job in &running {
            job.signal(libc::SIGTERM);
        }
        self.control.continue_all();
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
                            turn_job(&s.dir, r.pgid).signal(libc::SIGKILL);
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
    pub(super) fn dispatch_if_due(
        &mut self,
        i: usize,
        progress: &mut impl FnMut(&Progress),
    ) -> Result<bool, RuntimeError> {
        let slot = &self.slots[i];
        if slot.failed || slot.running.is_some() || self.stopping || paused(&slot.dir) {
            return Ok(false);
        }
        if self.control.hold(&slot.name).is_some() {
            return Ok(false);
        }
        if !self.gate_open(i, progress)? {
            return Ok(false);
        }
        let slot = &mut self.slots[i];
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
        if !self.budget_allows(i, &turn, progress)? {
            return Ok(false);
        }
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
    pub(super) fn start(&mut self, i: usize, mut turn: Running) -> Result<(), RuntimeError> {
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
        let inv = self.gate.with_cap(&slot.settings, inv);
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
        match spawn(&inv, &slot.dir) {
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
}
