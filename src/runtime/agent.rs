//! The command line of one agent turn, built from the domain's `agents:`
//! settings. Every flag passed to `claude` is one its `--help` lists (a
//! test checks them against the installed CLI).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::RuntimeError;
use crate::config::{AgentCli, AgentSettings};

/// Environment variable naming the `claude` program (default: `claude` on PATH).
pub const CLAUDE_ENV: &str = "COMM_NODE_CLAUDE";

/// One turn's process: program, arguments, environment, folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invocation {
    pub program: String,
    pub args: Vec<String>,
    /// Added to the supervisor's environment.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

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

/// The process of one turn of `domain` in `worktree`: a new session
/// (`resume` false) or the continuation of `session`.
pub fn invocation(
    settings: &AgentSettings,
    domain: &str,
    worktree: &Path,
    session: &str,
    resume: bool,
    prompt: &str,
) -> Result<Invocation, RuntimeError> {
    check_supported(settings, domain)?;
    let env = vec![
        ("COMM_NODE_DOMAIN".to_owned(), domain.to_owned()),
        ("COMM_NODE_SESSION".to_owned(), session.to_owned()),
        (
            "COMM_NODE_RESUME".to_owned(),
            if resume { "1" } else { "0" }.to_owned(),
        ),
        ("COMM_NODE_PROMPT".to_owned(), prompt.to_owned()),
    ];
    let (program, mut args) = match settings.cli {
        AgentCli::Claude => {
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
            (program, args)
        }
        AgentCli::Command => {
            let mut parts = settings.command.clone().into_iter();
            let program = parts.next().ok_or_else(|| RuntimeError::Unsupported {
                domain: domain.to_owned(),
                what: "`cli: command` without a `command`".into(),
            })?;
            (program, parts.collect())
        }
        AgentCli::Codex => unreachable!("refused by check_supported"),
    };
    args.extend(settings.args.iter().cloned());
    Ok(Invocation {
        program,
        args,
        env,
        cwd: worktree.to_owned(),
    })
}

/// Refuses, before anything starts, a domain whose agent `up` cannot drive yet.
pub fn check_supported(settings: &AgentSettings, domain: &str) -> Result<(), RuntimeError> {
    match settings.cli {
        AgentCli::Codex => Err(RuntimeError::Unsupported {
            domain: domain.to_owned(),
            what: "`cli: codex` (this version of `up` drives claude and `command` agents)".into(),
        }),
        AgentCli::Claude | AgentCli::Command => Ok(()),
    }
}

/// A fresh random session id (a version 4 UUID, as `--session-id` wants).
pub fn new_session_id() -> String {
    let (a, b) = (crate::retry::random_u64(), crate::retry::random_u64());
    let hi = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    let lo = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_v4_uuids() {
        let id = new_session_id();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'), "{id}");
        assert!("89ab".contains(&parts[3][..1]), "{id}");
    }

    #[test]
    fn claude_flags_are_all_declared() {
        let settings = AgentSettings {
            cli: AgentCli::Claude,
            command: vec![],
            model: Some("sonnet".into()),
            permission_mode: Some("bypassPermissions".into()),
            args: vec![],
            max_turns: None,
            stall_after: 60,
            max_restarts: 1,
            restart_window: 600,
            handoff_after_turns: None,
            handoff_at: None,
        };
        for resume in [false, true] {
            let inv = invocation(&settings, "api", Path::new("/w"), "s", resume, "hi").unwrap();
            for arg in inv.args.iter().filter(|a| a.starts_with('-')) {
                assert!(CLAUDE_FLAGS.contains(&arg.as_str()), "{arg}");
            }
        }
    }
}
