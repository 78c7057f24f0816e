//! The Claude Code driver: the command line of a `claude -p` turn. Its
//! `stream-json` output is read by [`super::stream`]; every flag passed is
//! one its `--help` lists (a test checks them against the installed CLI).

use super::agent::{command_start, TurnArgs};
use crate::config::AgentSettings;

/// Environment variable naming the `claude` program (default: `claude` on PATH).
pub const CLAUDE_ENV: &str = "COMM_NODE_CLAUDE";

/// The flags comm-node may pass to `claude` (checked against `claude --help`).
pub const CLAUDE_FLAGS: &[&str] = &[
    "-p",
    "--output-format",
    "--verbose",
    "--session-id",
    "--resume",
    "--model",
    "--permission-mode",
    "--max-budget-usd",
];

/// Program and arguments of one Claude Code turn: a new session named
/// `turn.session` (`turn.resume` false) or its continuation.
pub(super) fn command(settings: &AgentSettings, turn: TurnArgs) -> (String, Vec<String>) {
    let session_flag = if turn.resume {
        "--resume"
    } else {
        "--session-id"
    };
    let lead = [
        "-p",
        turn.prompt,
        "--output-format",
        "stream-json",
        "--verbose",
        session_flag,
        turn.session,
    ];
    let (program, mut args) = command_start(CLAUDE_ENV, "claude", &lead, settings);
    if let Some(mode) = &settings.permission_mode {
        args.extend(["--permission-mode".into(), mode.clone()]);
    }
    args.extend(settings.args.iter().cloned());
    (program, args)
}

/// Program and arguments opening `session` interactively (`attach`).
pub(super) fn interactive(settings: &AgentSettings, session: &str) -> (String, Vec<String>) {
    let (program, mut args) = command_start(CLAUDE_ENV, "claude", &["--resume", session], settings);
    if let Some(mode) = &settings.permission_mode {
        args.extend(["--permission-mode".into(), mode.clone()]);
    }
    (program, args)
}
