//! The turn in flight and its restart bookkeeping: what a running turn is,
//! its record on disk (`inflight.json`) so a turn a dead `up` left
//! unfinished is resumed rather than dispatched again, and what a turn's
//! stream says about its session and tokens.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::codex::{self, Ledger};
use super::slot::{save_memory, HANDOFF_PROMPT};
use super::stream::{Outcome, Tokens, TurnStream};
use super::supervisor::Progress;
use super::usage::{record_turn, Turn};
use super::work::{Item, Memory};
use super::RuntimeError;
use crate::config::{AgentCli, AgentSettings};
use crate::git::Repo;

/// One running turn.
pub(super) struct Running {
    pub(super) pgid: i32,
    pub(super) given: Vec<Item>,
    pub(super) task: Option<String>,
    pub(super) session: String,
    pub(super) prompt: String,
    /// Said before the prompt when the turn is a restart.
    pub(super) note: Option<String>,
    /// The turn asks the agent for its handoff note.
    pub(super) handoff: bool,
    /// The session this turn's took over from (the first turn after a handoff).
    pub(super) parent: Option<String>,
}

/// The prompt of a turn that continues one a previous `up` left unfinished.
pub const RESUME_PROMPT: &str = "You were interrupted: the supervisor running you stopped in the \
middle of your previous turn. Continue where you left off; do not start over what is already done.";

/// The turn in flight for a domain, on disk (`inflight.json`) from before
/// its process starts until what it was given is remembered (or the domain
/// fails): an `up` that died mid-turn leaves it, and the next `up` resumes
/// that session instead of dispatching the same work again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct InFlight {
    pub(super) session: String,
    pub(super) task: Option<String>,
    pub(super) given: Vec<Item>,
    /// Its prompt, given again only if its agent never started.
    #[serde(default)]
    pub(super) prompt: String,
    /// Where the turn's output starts in `stream.jsonl`.
    pub(super) stream_at: u64,
    /// Its `turn` event is on comm (it ended and awaits a restart).
    #[serde(default)]
    pub(super) recorded: bool,
    /// It asks for the handoff note.
    #[serde(default)]
    pub(super) handoff: bool,
    /// The session it took over from (the first turn after a handoff).
    #[serde(default)]
    pub(super) parent: Option<String>,
}

pub(super) const INFLIGHT: &str = "inflight.json";

pub(super) fn load_inflight(dir: &Path) -> Option<InFlight> {
    fs::read_to_string(dir.join(INFLIGHT))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

pub(super) fn save_inflight(dir: &Path, inflight: &InFlight) -> Result<(), RuntimeError> {
    let text = serde_json::to_string_pretty(inflight).expect("in-flight turns serialize");
    crate::cachefile::write_atomic(&dir.join(INFLIGHT), &text)
        .map_err(|e| RuntimeError::Io(format!("{}: {e}", dir.display())))
}

/// What the stream log holds from byte `at` on (a rotated log: all of it).
pub(super) fn stream_since(log: &Path, at: u64) -> TurnStream {
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
pub(super) fn resume_prompt(
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
pub(super) fn recover(
    repo: &Repo,
    (name, prices): (&str, &crate::config::Prices),
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
        let mut turn = Turn {
            domain: name.to_owned(),
            cli: settings.cli.as_str().to_owned(),
            session: inflight.session.clone(),
            task: inflight.task.clone(),
            tokens: turn_tokens(dir, &inflight.session, &stream, &result)?,
            cost_usd: result.cost_usd,
            cost_text: cost_text(&result),
            cost_reported: !result.cost_not_reported,
            cost_source: Default::default(),
            transcript: false,
            duration_ms: 0,
            outcome: "interrupted (up died)".into(),
            calls: result.num_turns.max(stream.responses.len() as u64),
            model: stream.model.clone().or(settings.model.clone()),
            parent: inflight.parent.take(),
            at: Some(crate::clock::now()),
        };
        // Priced like the turn `up` records when it sees the end (turn_end).
        crate::spend::prices::price_turn(&mut turn, prices);
        record_turn(repo, &turn)?;
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
pub(super) fn adopt_session(
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

/// The cost a turn's `result` reports, as its text ("0" when it names none).
pub(super) fn cost_text(result: &Outcome) -> String {
    if result.cost_text.is_empty() {
        "0".into()
    } else {
        result.cost_text.clone()
    }
}

/// The tokens a turn used. A CLI that reports the session's running total
/// (Codex, which may also re-emit it unchanged) is counted by the delta
/// since the last total seen for `session`, kept in the domain's folder.
pub(super) fn turn_tokens(
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
