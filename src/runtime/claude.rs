//! The Claude Code driver: the command line of a `claude -p` turn. Its
//! `stream-json` output is read by [`super::stream`]; every flag passed is
//! one its `--help` lists (a test checks them against the installed CLI).

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
];

/// Program and arguments of one Claude Code turn: a new session named
/// `session` (`resume` false) or its continuation.
pub(super) fn command(
    settings: &AgentSettings,
    session: &str,
    resume: bool,
    prompt: &str,
) -> (String, Vec<String>) {
    let program = std::env::var(CLAUDE_ENV).unwrap_or_else(|_| "claude".to_owned());
    let mut args: Vec<String> = vec![
        "-p".into(),
        prompt.into(),
        "--output-format".into(),
        "stream-json".into(),
        "--verbose".into(),
    ];
    args.push(if resume { "--resume" } else { "--session-id" }.into());
    args.push(session.into());
    if let Some(model) = &settings.model {
        args.extend(["--model".into(), model.clone()]);
    }
    if let Some(mode) = &settings.permission_mode {
        args.extend(["--permission-mode".into(), mode.clone()]);
    }
    args.extend(settings.args.iter().cloned());
    (program, args)
}

/// Program and arguments opening `session` interactively (`attach`).
pub(super) fn interactive(settings: &AgentSettings, session: &str) -> (String, Vec<String>) {
    let program = std::env::var(CLAUDE_ENV).unwrap_or_else(|_| "claude".to_owned());
    let mut args = vec!["--resume".to_owned(), session.to_owned()];
    if let Some(model) = &settings.model {
        args.extend(["--model".into(), model.clone()]);
    }
    if let Some(mode) = &settings.permission_mode {
        args.extend(["--permission-mode".into(), mode.clone()]);
    }
    (program, args)
}
