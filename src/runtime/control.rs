//! The human's steering as `up` applies it: whether a domain may start a
//! turn now ([`Control::hold`], the one check the dispatch loop asks), and
//! suspending the running turn of a domain the human halted (SIGSTOP to
//! its process group) until the halt is lifted (SIGCONT), so `resume`
//! continues the turn where it stopped instead of losing it. The signals
//! reach the turn's whole job ([`crate::jobs`]), also the processes in
//! other process groups (the commands Claude Code's Bash tool runs).
//!
//! The halts are read from comm's tip (`halts/`, one small directory),
//! again only when the tip moved; `up` wakes when comm moves, so a halt
//! written by any process or clone takes effect within one loop. A
//! suspended turn is not stalled: the turn's driver does not count the
//! time its process is stopped ([`is_stopped`]).

use std::collections::{BTreeMap, BTreeSet};

use git2::Oid;

use super::event_loop::Supervisor;
use super::slot::set_state;
use super::supervisor::Progress;
use super::turn::turn_job;
use super::State;
use crate::comm::steer::{halts, Halt};
use crate::comm::{Snapshot, COMM_REF};
use crate::git::Repo;
use crate::jobs::Job;

/// What `up` knows of the human's steering.
#[derive(Default)]
pub(super) struct Control {
    /// The comm tip the halts were read at.
    read_at: Option<Oid>,
    halts: BTreeMap<String, Halt>,
    /// The turns this `up` stopped, by slot.
    suspended: BTreeMap<usize, Job>,
    /// The slots whose halt was reported.
    announced: BTreeSet<usize>,
}

impl Control {
    /// Why `domain` may not start a turn now (`None`: it may).
    pub(super) fn hold(&self, domain: &str) -> Option<String> {
        self.halts.get(domain).map(Halt::describe)
    }

    /// Re-reads the halts when comm moved; a read that fails keeps the
    /// last known halts (a halt is never dropped by a transient error).
    fn refresh(&mut self, repo: &Repo) {
        let Ok(tip) = repo.ref_tip(COMM_REF) else {
            return;
        };
        if tip == self.read_at && tip.is_some() {
            return;
        }
        if let Ok(now) = Snapshot::at(repo, tip).and_then(|s| halts(&s)) {
            self.halts = now;
            self.read_at = tip;
        }
    }

    /// Continues every turn this `up` stopped (before it ends them: a
    /// stopped process would not act on SIGTERM until continued).
    pub(super) fn continue_all(&mut self) {
        for (_, job) in std::mem::take(&mut self.suspended) {
            signal_turn(&job, libc::SIGCONT);
        }
    }
}

impl Supervisor<'_> {
    /// Applies the halts on comm: stops the running turn of each newly
    /// halted domain and continues the stopped turn of each resumed one.
    pub(super) fn steer(&mut self, progress: &mut impl FnMut(&Progress)) {
        self.control.refresh(self.repo);
        let control = &mut self.control;
        for (i, slot) in self.slots.iter().enumerate() {
            let running = slot.running.as_ref().map(|r| r.pgid).filter(|p| *p > 0);
            if let Some(was) = control.suspended.get(&i).map(Job::pgid) {
                if running != Some(was) {
                    // The stopped turn ended (killed outright).
                    control.suspended.remove(&i);
                }
            }
            let stopped = control.suspended.get(&i).cloned();
            match control.hold(&slot.name) {
                Some(why) => {
                    let mut suspended = false;
                    if let (Some(pgid), None) = (running, stopped) {
                        let job = turn_job(&slot.dir, pgid);
                        signal_turn(&job, libc::SIGSTOP);
                        set_state(&slot.dir, State::Suspended);
                        control.suspended.insert(i, job);
                        suspended = true;
                    }
                    if control.announced.insert(i) || suspended {
                        progress(&Progress::Halted {
                            domain: slot.name.clone(),
                            why,
                            suspended: running.is_some(),
                        });
                    }
                }
                None => {
                    let continued = stopped.is_some();
                    if let Some(job) = stopped {
                        signal_turn(&job, libc::SIGCONT);
                        set_state(&slot.dir, State::Working);
                        control.suspended.remove(&i);
                    }
                    if control.announced.remove(&i) {
                        progress(&Progress::Unhalted {
                            domain: slot.name.clone(),
                            continued,
                        });
                    }
                }
            }
        }
    }
}

/// Sends `signal` to a turn's job. A stop is sent in two passes, so a
/// process forked while the first went out is stopped too.
fn signal_turn(job: &Job, signal: i32) {
    let passes = if signal == libc::SIGSTOP { 2 } else { 1 };
    for _ in 0..passes {
        job.signal(signal);
    }
}

/// Whether the process `pid` is stopped (state `T` in `/proc/<pid>/stat`):
/// a turn stopped by a halt, or by anyone, is not stalled.
pub(super) fn is_stopped(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(") ")?;
            rest.chars().next()
        })
        .is_some_and(|state| matches!(state, 'T' | 't'))
}
