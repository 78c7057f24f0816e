//! Turn-ending handling: a turn's process ended, so its turn is recorded,
//! and what it was given is remembered, a handoff or restart scheduled, or
//! the domain given up on.

use std::fs;
use std::time::{Duration, Instant};

use super::event_loop::Supervisor;
use super::inflight::{
    adopt_session, cost_text, load_inflight, save_inflight, turn_tokens, Running, INFLIGHT,
};
use super::slot::{backoff, handoff_due, save_memory, set_state, HANDOFF_PROMPT};
use super::supervisor::Progress;
use super::turn::{Cut, Ended};
use super::usage::{
    record_escalation, record_sandbox, record_turn, Turn, CRASHED_KIND, STALLED_KIND,
};
use super::work::{remember, waiting, Item};
use super::{RuntimeError, State};

/// The file in a domain's runtime folder recording that the human was told
/// its agent's sandbox keeps git from committing (so they are told once).
const SANDBOX_TOLD: &str = "sandbox-reported";

impl Supervisor<'_> {
    /// A turn's process ended: record the turn, then remember what was
    /// given, or schedule a restart, or give up on the domain.
    pub(super) fn ended(
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
            // Stopped at the budget comm-node gave it: a finished turn.
            (None, Some(_)) if super::budget_gate::hit_budget(&stream) => (true, None),
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
            let mut record = Turn {
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
                cost_text: cost_text(&result),
                cost_reported: !result.cost_not_reported,
                cost_source: Default::default(),
                transcript: false,
                duration_ms: ended.elapsed.as_millis() as u64,
                outcome,
                calls: result.num_turns.max(stream.responses.len() as u64),
                // Codex names no model in its stream: the one it was given.
                model: stream.model.clone().or(slot.settings.model.clone()),
                parent: turn.parent.clone(),
                at: Some(crate::clock::now()),
            };
            // A CLI that reports no cost (Codex) is priced from the table.
            crate::spend::prices::price_turn(&mut record, &self.config.prices);
            let appended = record_turn(self.repo, &record)?;
            self.summary.turns += 1;
            // Sync before the next dispatch: what this turn did goes out.
            self.synced = None;
            progress(&Progress::TurnEnded {
                turn: Box::new(record),
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
