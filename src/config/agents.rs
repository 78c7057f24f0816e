//! The `agents:` section of comm.yaml: which agent CLI `comm-node up` runs
//! for each domain, and how.
//!
//! A `default` entry applies to every domain; an entry named after a domain
//! overrides it field by field. Everything is optional: with no `agents:`
//! at all, every domain runs Claude Code with its own defaults. This module
//! only parses, resolves and validates; it never starts anything.

use serde::{Deserialize, Serialize};

use super::{Config, Loaded};

/// The key of the entry every domain inherits from.
pub const DEFAULT_KEY: &str = "default";
/// Most model turns one dispatch may take (`max_turns`).
pub const MAX_TURNS_LIMIT: u32 = 10_000;
/// Most restarts before a domain is failed (`max_restarts`).
pub const MAX_RESTARTS_LIMIT: u32 = 100;
/// Longest `stall_after` or `restart_window` accepted (a day).
pub const MAX_STALL_SECS: u64 = 24 * 3600;

/// The permission modes Claude Code accepts (`claude --help` of 2.1.328
/// lists all but `default`, which older versions named `manual`).
pub const PERMISSION_MODES: &[&str] = &[
    "default",
    "manual",
    "acceptEdits",
    "plan",
    "auto",
    "dontAsk",
    "bypassPermissions",
];

/// Which agent program runs a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentCli {
    /// Claude Code, `claude -p --output-format stream-json`.
    #[default]
    Claude,
    /// OpenAI Codex, `codex exec --json`.
    Codex,
    /// Any other program, given as `command: [...]`.
    Command,
}

impl AgentCli {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentCli::Claude => "claude",
            AgentCli::Codex => "codex",
            AgentCli::Command => "command",
        }
    }
}

/// One entry of `agents:` as written (every field optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli: Option<AgentCli>,
    /// The program and its arguments, for `cli: command`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<String>,
    /// Extra arguments passed to the CLI on every turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Model calls one dispatch may take (counted by comm-node in the
    /// stream: Claude Code 2.1.328 no longer lists `--max-turns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_turns: Option<u32>,
    /// Quiet this long mid-turn: the turn is stalled (`10m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_after: Option<String>,
    /// Restarts after a crash before the domain is failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_restarts: Option<u32>,
    /// The window `max_restarts` counts crashes in (`10m`): more than
    /// `max_restarts` crashes within it fail the domain, in a row or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_window: Option<String>,
    /// Hand the session off (note, then a fresh session) after this many
    /// clean turns on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_after_turns: Option<u32>,
    /// Hand the session off once a turn's context use (input and cache
    /// tokens against the model's context window) reaches this fraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_at: Option<Fraction>,
}

/// A fraction between 0 and 1 written as a number (`0.8`), kept in
/// thousandths so settings stay comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fraction(pub u32);

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fraction, D::Error> {
        let v = f64::deserialize(d)?;
        if v > 0.0 && v <= 1.0 {
            Ok(Fraction((v * 1000.0).round() as u32))
        } else {
            Err(serde::de::Error::custom(format!(
                "{v} is not a fraction above 0 and at most 1 (e.g. 0.8)"
            )))
        }
    }
}

/// The settings one domain's agent runs with, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentSettings {
    pub cli: AgentCli,
    pub command: Vec<String>,
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    pub args: Vec<String>,
    pub max_turns: Option<u32>,
    /// Seconds.
    pub stall_after: u64,
    pub max_restarts: u32,
    /// Seconds.
    pub restart_window: u64,
    pub handoff_after_turns: Option<u32>,
    /// Thousandths of the context window.
    pub handoff_at: Option<u32>,
}

/// `stall_after` when none is given.
pub const DEFAULT_STALL_SECS: u64 = 10 * 60;
/// `max_restarts` when none is given.
pub const DEFAULT_MAX_RESTARTS: u32 = 3;
/// `restart_window` when none is given.
pub const DEFAULT_RESTART_WINDOW_SECS: u64 = 10 * 60;

impl Config {
    /// The agent settings of `domain`: its entry over `default` over the
    /// built-in defaults.
    pub fn agent(&self, domain: &str) -> AgentSettings {
        let empty = AgentSpec::default();
        let base = self.agents.get(DEFAULT_KEY).unwrap_or(&empty);
        let own = self.agents.get(domain).unwrap_or(&empty);
        let pick = |f: fn(&AgentSpec) -> Option<&String>| f(own).or(f(base)).cloned();
        AgentSettings {
            cli: own.cli.or(base.cli).unwrap_or_default(),
            command: own
                .command
                .clone()
                .or(base.command.clone())
                .unwrap_or_default(),
            model: pick(|s| s.model.as_ref()),
            permission_mode: pick(|s| s.permission_mode.as_ref()),
            args: own.args.clone().or(base.args.clone()).unwrap_or_default(),
            max_turns: own.max_turns.or(base.max_turns),
            stall_after: pick(|s| s.stall_after.as_ref())
                .and_then(|t| crate::clock::parse_duration(&t).ok())
                .unwrap_or(DEFAULT_STALL_SECS),
            max_restarts: own
                .max_restarts
                .or(base.max_restarts)
                .unwrap_or(DEFAULT_MAX_RESTARTS),
            restart_window: pick(|s| s.restart_window.as_ref())
                .and_then(|t| crate::clock::parse_duration(&t).ok())
                .unwrap_or(DEFAULT_RESTART_WINDOW_SECS),
            handoff_after_turns: own.handoff_after_turns.or(base.handoff_after_turns),
            handoff_at: own.handoff_at.or(base.handoff_at).map(|f| f.0),
        }
    }
}

/// Reports every mistake of the `agents:` section through `err(path, message, hint)`.
pub(super) fn check(loaded: &Loaded, err: &mut dyn FnMut(String, String, &str)) {
    let c = &loaded.config;
    for (key, spec) in &c.agents {
        let at = |field: &str| format!("agents.{key}.{field}");
        if key != DEFAULT_KEY && !c.domains.contains_key(key) {
            err(
                format!("agents.{key}"),
                format!("`agents` names unknown domain `{key}`"),
                "use `default` for every domain, or the name of a declared domain",
            );
        }
        match (spec.cli, &spec.command) {
            (Some(AgentCli::Command), None) => err(
                at("cli"),
                "`cli: command` needs `command: [PROGRAM, ARGS...]`".into(),
                "e.g. `command: [\"aider\", \"--yes\"]`",
            ),
            (Some(AgentCli::Command), Some(cmd)) if cmd.is_empty() || cmd[0].trim().is_empty() => {
                err(
                    at("command"),
                    "`command` is empty".into(),
                    "give the program first, then its arguments",
                )
            }
            (Some(cli @ (AgentCli::Claude | AgentCli::Codex)), Some(_)) => err(
                at("command"),
                format!("`command` is only used with `cli: command`, not `cli: {}`", cli.as_str()),
                "remove `command`, or set `cli: command`; extra flags for claude or codex go in `args`",
            ),
            _ => {}
        }
        if let Some(mode) = &spec.permission_mode {
            if !PERMISSION_MODES.contains(&mode.as_str()) {
                err(
                    at("permission_mode"),
                    format!("unknown permission mode `{mode}`"),
                    &format!("use one of: {}", PERMISSION_MODES.join(", ")),
                );
            }
        }
        if let Some(model) = &spec.model {
            if model.trim().is_empty() || model.len() > 200 || model.contains(char::is_whitespace) {
                err(
                    at("model"),
                    format!("`{model}` is not a model name"),
                    "one word such as `sonnet`, `opus` or a full model id",
                );
            }
        }
        if spec
            .max_turns
            .is_some_and(|n| n == 0 || n > MAX_TURNS_LIMIT)
        {
            err(
                at("max_turns"),
                format!("`max_turns` must be 1 to {MAX_TURNS_LIMIT}"),
                "it bounds the model calls of one dispatch, e.g. `max_turns: 50`",
            );
        }
        if spec.handoff_after_turns == Some(0) {
            err(
                at("handoff_after_turns"),
                "`handoff_after_turns` must be at least 1".into(),
                "e.g. `handoff_after_turns: 20`, or leave it out for no limit",
            );
        }
        if spec.max_restarts.is_some_and(|n| n > MAX_RESTARTS_LIMIT) {
            err(
                at("max_restarts"),
                format!("`max_restarts` must be at most {MAX_RESTARTS_LIMIT}"),
                "a crashing agent is restarted this many times before the domain is failed",
            );
        }
        for (field, text) in [
            ("stall_after", &spec.stall_after),
            ("restart_window", &spec.restart_window),
        ] {
            let Some(text) = text else { continue };
            let hint = format!("e.g. `{field}: 10m`");
            match crate::clock::parse_duration(text) {
                Err(message) => err(at(field), message, &hint),
                Ok(0) => err(at(field), format!("`{field}` must be longer than 0"), &hint),
                Ok(s) if s > MAX_STALL_SECS => {
                    err(at(field), format!("`{field}` is longer than a day"), &hint)
                }
                Ok(_) => {}
            }
        }
        let args = spec
            .args
            .iter()
            .flatten()
            .chain(spec.command.iter().flatten());
        for arg in args {
            if arg.contains('\0') || arg.len() > 4096 {
                err(
                    format!("agents.{key}"),
                    "an argument holds a NUL byte or is longer than 4096 bytes".into(),
                    "pass long text through a file the agent reads",
                );
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigErrors, Pos};
    use std::path::Path;

    const HEAD: &str = "project: shop\ndomains:\n  api:\n    scope: [\"api/**\"]\n  web:\n    scope: [\"web/**\"]\n";

    fn parse(agents: &str) -> Result<Config, ConfigErrors> {
        Config::parse(&format!("{HEAD}{agents}"), Path::new("comm.yaml")).map(|l| l.config)
    }

    #[test]
    fn no_agents_means_claude_with_defaults() {
        let c = parse("").unwrap();
        let a = c.agent("api");
        assert_eq!(a.cli, AgentCli::Claude);
        assert_eq!(a.max_restarts, DEFAULT_MAX_RESTARTS);
        assert_eq!(a.stall_after, DEFAULT_STALL_SECS);
        assert_eq!(a.restart_window, DEFAULT_RESTART_WINDOW_SECS);
        assert_eq!((a.handoff_after_turns, a.handoff_at), (None, None));
    }

    #[test]
    fn handoff_settings_are_read_and_bad_ones_located() {
        let c = parse("agents:\n  default:\n    handoff_after_turns: 5\n    handoff_at: 0.8\n")
            .unwrap();
        let a = c.agent("web");
        assert_eq!((a.handoff_after_turns, a.handoff_at), (Some(5), Some(800)));
        let e = parse("agents:\n  web:\n    handoff_after_turns: 0\n").unwrap_err();
        assert_eq!(e.0[0].pos.line, 9, "{e:?}");
        let e = parse("agents:\n  web:\n    handoff_at: 1.5\n").unwrap_err();
        assert!(e.0[0].message.contains("not a fraction"), "{e:?}");
        assert_eq!(e.0[0].pos.line, 9, "{e:?}");
    }

    #[test]
    fn restart_window_is_a_duration_validated_where_it_is_written() {
        let c = parse("agents:\n  default:\n    restart_window: 2m\n").unwrap();
        assert_eq!(c.agent("web").restart_window, 120);
        for bad in ["0s", "soon", "2d"] {
            let e = parse(&format!("agents:\n  web:\n    restart_window: {bad}\n")).unwrap_err();
            assert_eq!(
                (e.0[0].pos.line, e.0[0].pos.column),
                (9, 21),
                "{bad}: {e:?}"
            );
            assert!(
                e.0[0].message.contains("restart_window") || bad == "soon",
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_domain_entry_overrides_default_field_by_field() {
        let c = parse(
            "agents:\n  default:\n    model: sonnet\n    max_restarts: 5\n    stall_after: 2m\n  web:\n    cli: command\n    command: [sh, -c, \"true\"]\n    max_restarts: 1\n",
        )
        .unwrap();
        let web = c.agent("web");
        assert_eq!(web.cli, AgentCli::Command);
        assert_eq!(web.command, ["sh", "-c", "true"]);
        assert_eq!(web.max_restarts, 1);
        assert_eq!(web.model.as_deref(), Some("sonnet"));
        assert_eq!(web.stall_after, 120);
        assert_eq!(c.agent("api").max_restarts, 5);
    }

    #[test]
    fn mistakes_are_located() {
        let e = parse("agents:\n  nope:\n    model: x\n  api:\n    cli: command\n    permission_mode: yolo\n    max_turns: 0\n").unwrap_err();
        let found: Vec<(Pos, &str)> = e.0.iter().map(|e| (e.pos, e.message.as_str())).collect();
        assert!(
            found
                .iter()
                .any(|(p, m)| p.line == 8 && m.contains("unknown domain `nope`")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|(p, m)| p.line == 11 && m.contains("needs `command")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|(p, m)| p.line == 12 && m.contains("yolo")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|(p, m)| p.line == 13 && m.contains("max_turns")),
            "{found:?}"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = parse("agents:\n  default:\n    modle: x\n").unwrap_err();
        assert!(
            e.0[0].message.contains("unknown field `modle`"),
            "{}",
            e.0[0].message
        );
        assert_eq!(e.0[0].pos.line, 9);
    }
}
