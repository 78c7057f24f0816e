//! The human's steering as `up` applies it: whether a domain may start a
//! turn now ([`Control::hold`], the one check the dispatch loop asks), and
//! suspending the running turn of a domain the human halted (SIGSTOP to
//! its process group) until the halt is lifted (SIGCONT), so `resume`
//! continues the turn where it stopped instead of losing it. The signals
//! also reach the turn's descendants in other process groups (the
//! commands Claude Code's Bash tool runs).
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
use super::turn::kill_group;
use super::State;
use crate::comm::steer::{halts, Halt};
use crate::comm::{Snapshot, COMM_REF};
use crate::git::Repo;

/// What `up` knows of the human's steering.
#[derive(Default)]
pub(super) struct Control {
    /// The comm tip the halts were read at.
    read_at: Option<Oid>,
    halts: BTreeMap<String, Halt>,
    /// The process groups this `up` stopped, by slot.
    suspended: BTreeMap<usize, i32>,
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
        for (_, pgid) in std::mem::take(&mut self.suspended) {
            signal_turn(pgid, libc::SIGCONT);
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
            if let Some(was) = control.suspended.get(&i).copied() {
                if running != Some(was) {
                    // The stopped turn ended (killed outright).
                    control.suspended.remove(&i);
                }
            }
            let stopped = control.suspended.get(&i).copied();
            match control.hold(&slot.name) {
                Some(why) => {
                    let mut suspended = false;
                    if let (Some(pgid), None) = (running, stopped) {
                        signal_turn(pgid, libc::SIGSTOP);
                        set_state(&slot.dir, State::Suspended);
                        control.suspended.insert(i, pgid);
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
                    if let Some(pgid) = stopped {
                        signal_turn(pgid, libc::SIGCONT);
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

/// Sends `signal` to a turn: its process group, and every process
/// descended from its leader in another group (Claude Code runs its Bash
/// tool's commands in process groups of their own, which a signal to the
/// turn's group would miss). A stop is sent in two passes, so a child
/// forked while the first went out is stopped too.
fn signal_turn(pgid: i32, signal: i32) {
    let passes = if signal == libc::SIGSTOP { 2 } else { 1 };
    for _ in 0..passes {
        kill_group(pgid, signal);
        for pid in descendants(pgid) {
            // SAFETY: kill(2) on a process descended from the turn's leader.
            unsafe { libc::kill(pid, signal) };
        }
    }
}

/// The processes descended from `root`, from the parent links in `/proc`.
fn descendants(root: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Fields after "pid (comm) ": state, ppid, ...
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut at = 0;
    while at < found.len() {
        let parent = found[at];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        at += 1;
    }
    found.remove(0);
    found
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
