//! The command line of one agent turn, built from the domain's `agents:`
//! settings, through the CLI's driver ([`super::claude`], [`super::codex`]).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::RuntimeError;
use crate::config::{AgentCli, AgentSettings};

pub use super::claude::{CLAUDE_ENV, CLAUDE_FLAGS};
pub use super::codex::{CODEX_ENV, CODEX_FLAGS};

/// One turn's process: program, arguments, environment, folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invocation {
    pub program: String,
    pub args: Vec<String>,
    /// Added to the supervisor's environment.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

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
    let turn = TurnArgs {
        session,
        resume,
        prompt,
    };
    let (program, args) = match settings.cli {
        AgentCli::Claude => super::claude::command(settings, turn),
        AgentCli::Codex => super::codex::command(settings, turn),
        AgentCli::Command => {
            let mut parts = settings.command.clone().into_iter();
            let program = parts.next().ok_or_else(|| RuntimeError::Unsupported {
                domain: domain.to_owned(),
                what: "`cli: command` without a `command`".into(),
            })?;
            let mut args: Vec<String> = parts.collect();
            args.extend(settings.args.iter().cloned());
            (program, args)
        }
    };
    Ok(Invocation {
        program,
        args,
        env,
        cwd: worktree.to_owned(),
    })
}

/// What a driver is asked for one turn: continue `session` (or start it,
/// `resume` false) with `prompt`.
#[derive(Debug, Clone, Copy)]
pub(super) struct TurnArgs<'a> {
    pub session: &'a str,
    pub resume: bool,
    pub prompt: &'a str,
}

/// The start of a driver's command line: its program (the one `env`
/// names, else `default` on PATH), `lead`, then `--model` when the domain
/// sets one.
pub(super) fn command_start(
    env: &str,
    default: &str,
    lead: &[&str],
    settings: &AgentSettings,
) -> (String, Vec<String>) {
    let program = std::env::var(env).unwrap_or_else(|_| default.to_owned());
    let mut args: Vec<String> = lead.iter().map(|a| (*a).to_owned()).collect();
    if let Some(model) = &settings.model {
        args.extend(["--model".into(), model.clone()]);
    }
    (program, args)
}

/// Refuses, before anything starts, a domain whose agent `up` cannot drive.
pub fn check_supported(settings: &AgentSettings, domain: &str) -> Result<(), RuntimeError> {
    let _ = domain;
    match settings.cli {
        AgentCli::Claude | AgentCli::Codex | AgentCli::Command => Ok(()),
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

/// Settings for a driver's tests: `cli` on `model`, unsandboxed
/// (`bypassPermissions`), with `args`.
#[cfg(test)]
pub(super) fn driver_settings(cli: AgentCli, model: &str, args: &[&str]) -> AgentSettings {
    AgentSettings {
        cli,
        command: vec![],
        model: Some(model.into()),
        permission_mode: Some("bypassPermissions".into()),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        max_turns: None,
        stall_after: 60,
        max_restarts: 1,
        restart_window: 600,
        handoff_after_turns: None,
        handoff_at: None,
    }
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
        let settings = driver_settings(AgentCli::Claude, "sonnet", &[]);
        for resume in [false, true] {
            let inv = invocation(&settings, "api", Path::new("/w"), "s", resume, "hi").unwrap();
            for arg in inv.args.iter().filter(|a| a.starts_with('-')) {
                assert!(CLAUDE_FLAGS.contains(&arg.as_str()), "{arg}");
            }
        }
    }
}
