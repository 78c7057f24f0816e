//! The per-domain slot: what the supervisor keeps about one domain under
//! supervision, and the small files of its folder (memory, state, the
//! `paused` marker) plus the policies a slot's turns follow (backoff,
//! handoff).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::inflight::Running;
use super::lock::DomainLock;
use super::work::Memory;
use super::{RuntimeError, State};
use crate::config::AgentSettings;

/// One domain under supervision.
pub(super) struct Slot {
    pub(super) name: String,
    pub(super) settings: AgentSettings,
    pub(super) worktree: PathBuf,
    pub(super) dir: PathBuf,
    pub(super) memory: Memory,
    pub(super) running: Option<Running>,
    /// Crashes in a row (for the backoff).
    pub(super) failures: u32,
    /// When the recent crashes were, within `restart_window`.
    pub(super) crashes: std::collections::VecDeque<Instant>,
    /// Stalls in a row.
    pub(super) stalls: u32,
    pub(super) retry: Option<(Instant, Running)>,
    pub(super) failed: bool,
    /// The branch tip last pushed with `--sync`.
    pub(super) pushed: Option<git2::Oid>,
    /// The comm tip at which the domain was last found to have no work
    /// (cleared when its memory changes).
    pub(super) idle_at: Option<git2::Oid>,
    pub(super) _lock: DomainLock,
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
pub(super) fn handoff_due(
    settings: &AgentSettings,
    memory: &Memory,
    result: &super::stream::Outcome,
) -> bool {
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
pub(super) fn backoff(failures: u32) -> Duration {
    Duration::from_millis((500u64 << failures.saturating_sub(1).min(6)).min(30_000))
}

/// Whether a human has the domain's session open (`comm-node attach`): its
/// `paused` file names a live process. A stale one is removed.
pub(super) fn paused(dir: &Path) -> bool {
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
pub(super) fn set_state(dir: &Path, state: State) {
    let _ = crate::cachefile::write_atomic(&dir.join("state"), state.as_str());
}

pub(super) fn load_memory(dir: &Path) -> Memory {
    fs::read_to_string(dir.join("memory.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

pub(super) fn save_memory(dir: &Path, memory: &Memory) -> Result<(), RuntimeError> {
    let text = serde_json::to_string_pretty(memory).expect("memory always serializes");
    crate::cachefile::write_atomic(&dir.join("memory.json"), &text)
        .map_err(|e| RuntimeError::Io(format!("{}: {e}", dir.display())))
}
