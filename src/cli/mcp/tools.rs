//! The MCP tool list: each tool is one comm-node command line, written as
//! data. A call's arguments become that command's argv (flags as
//! `--name=value`, positionals after `--`, so no value can pass for a
//! flag) and go through the CLI's own clap definitions and `run`
//! functions: the same validation, the same messages, nothing duplicated.
//!
//! Every token here is paid by every agent in every session, so the
//! descriptions are terse and the arguments few: the help of the command
//! behind a tool is the long form.

use serde_json::{Map, Value};

/// What JSON a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Str,
    Int,
    Bool,
    /// Strings; a flag joins them with commas, a positional repeats.
    List,
}

/// One argument of a tool.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub ty: Type,
    pub required: bool,
    /// `Some(flag)` for `--flag`, `None` for a positional.
    pub flag: Option<&'static str>,
    /// Shown only when the name does not say it all.
    pub description: Option<&'static str>,
}

/// One tool: its name, its one-line description, the command it runs.
#[derive(Debug)]
pub struct Spec {
    pub name: &'static str,
    pub description: &'static str,
    /// The subcommand words, e.g. `["task", "claim"]`.
    pub command: &'static [&'static str],
    /// Fixed flags added to every call (`check --staged`).
    pub fixed: &'static [&'static str],
    pub params: &'static [Param],
}

const fn pos(name: &'static str, ty: Type) -> Param {
    Param {
        name,
        ty,
        required: true,
        flag: None,
        description: None,
    }
}

const fn opt(name: &'static str, ty: Type, flag: &'static str) -> Param {
    Param {
        name,
        ty,
        required: false,
        flag: Some(flag),
        description: None,
    }
}

const fn with(mut p: Param, description: &'static str) -> Param {
    p.description = Some(description);
    p
}

const fn optional(mut p: Param) -> Param {
    p.required = false;
    p
}

const ID: Param = pos("id", Type::Str);

/// Every tool, in the order `tools/list` shows them.
pub const TOOLS: &[Spec] = &[
    Spec {
        name: "inbox",
        description: "Unread messages for this domain. Mark them read with ack.",
        command: &["inbox"],
        fixed: &[],
        params: &[],
    },
    Spec {
        name: "ack",
        description: "Mark messages read.",
        command: &["ack"],
        fixed: &[],
        params: &[
            optional(pos("ids", Type::List)),
            with(opt("all", Type::Bool, "all"), "every unread message"),
        ],
    },
    Spec {
        name: "read",
        description: "One message and its thread.",
        command: &["read"],
        fixed: &[],
        params: &[ID],
    },
    Spec {
        name: "thread",
        description: "A thread's messages.",
        command: &["thread"],
        fixed: &[],
        params: &[with(ID, "thread or message id")],
    },
    Spec {
        name: "send",
        description: "Send a message. To reply: reply_to, no need for to.",
        command: &["send"],
        fixed: &[],
        params: &[
            with(
                opt("to", Type::List, "to"),
                "domains, human or all; required unless reply_to",
            ),
            pos("subject", Type::Str),
            with(optional(pos("body", Type::Str)), "markdown"),
            opt("reply_to", Type::Str, "reply-to"),
            opt("task", Type::Str, "task"),
            opt("thread", Type::Str, "thread"),
        ],
    },
    Spec {
        name: "task_ready",
        description: "Tasks this domain can start now, best first.",
        command: &["task", "ready"],
        fixed: &[],
        params: &[],
    },
    Spec {
        name: "task_next",
        description: "Claim the best ready task.",
        command: &["task", "next"],
        fixed: &[],
        params: &[],
    },
    Spec {
        name: "task_claim",
        description: "Claim a ready task.",
        command: &["task", "claim"],
        fixed: &[],
        params: &[ID],
    },
    Spec {
        name: "task_done",
        description: "Mark a claimed task done (work that changed no code; code is done when submit lands it).",
        command: &["task", "done"],
        fixed: &[],
        params: &[
            ID,
            with(
                opt("force", Type::Bool, "force"),
                "although the domain has unlanded commits",
            ),
        ],
    },
    Spec {
        name: "task_fail",
        description: "Mark a claimed task failed.",
        command: &["task", "fail"],
        fixed: &[],
        params: &[
            ID,
            Param {
                required: true,
                ..with(
                    opt("reason", Type::Str, "reason"),
                    "what went wrong, what would unblock it",
                )
            },
        ],
    },
    Spec {
        name: "task_show",
        description: "A task: fields, blockers, progress.",
        command: &["task", "show"],
        fixed: &[],
        params: &[ID],
    },
    Spec {
        name: "reserve",
        description: "Reserve files (globs from the repo root) before editing them.",
        command: &["reserve"],
        fixed: &[],
        params: &[
            pos("globs", Type::List),
            with(
                opt("shared", Type::Bool, "shared"),
                "others may hold shared ones too",
            ),
            with(opt("ttl", Type::Str, "ttl"), "e.g. 30m, 2h (default)"),
            opt("task", Type::Str, "task"),
            opt("reason", Type::Str, "reason"),
        ],
    },
    Spec {
        name: "release",
        description: "Release reservations.",
        command: &["release"],
        fixed: &[],
        params: &[
            optional(pos("ids", Type::List)),
            with(opt("all", Type::Bool, "all"), "every one this domain holds"),
        ],
    },
    Spec {
        name: "reservations",
        description: "Live reservations.",
        command: &["reservations"],
        fixed: &[],
        params: &[],
    },
    Spec {
        name: "publish",
        description: "Publish a file as an artifact for other domains.",
        command: &["publish"],
        fixed: &[],
        params: &[
            with(pos("name", Type::Str), "e.g. openapi.yaml"),
            with(pos("file", Type::Str), "path in this worktree"),
        ],
    },
    Spec {
        name: "artifact",
        description: "Read a published artifact.",
        command: &["artifact", "get"],
        fixed: &[],
        params: &[with(pos("name", Type::Str), "DOMAIN/NAME")],
    },
    Spec {
        name: "status",
        description: "Domains, tasks, reservations, queue, unread.",
        command: &["status"],
        fixed: &[],
        params: &[],
    },
    Spec {
        name: "check",
        description: "Check the staged change: scope, imports, reservations.",
        command: &["check"],
        fixed: &["--staged"],
        params: &[],
    },
    Spec {
        name: "conflicts",
        description: "Trial-merge domain branches with main and each other.",
        command: &["conflicts"],
        fixed: &[],
        params: &[],
    },
    Spec {
        name: "submit",
        description: "Queue this domain's branch head for merging into main.",
        command: &["submit"],
        fixed: &[],
        params: &[
            with(opt("task", Type::Str, "task"), "done when it lands"),
            with(opt("priority", Type::Int, "priority"), "0 (first) to 4"),
        ],
    },
    Spec {
        name: "hello",
        description: "Announce the agent working in this domain.",
        command: &["hello"],
        fixed: &[],
        params: &[opt("agent", Type::Str, "agent"), opt("note", Type::Str, "note")],
    },
    Spec {
        name: "budget",
        description: "Ask the human for more budget.",
        command: &["budget", "request"],
        fixed: &[],
        params: &[
            with(pos("amount", Type::Str), "e.g. $5 or 200ktokens"),
            Param {
                required: true,
                ..opt("reason", Type::Str, "reason")
            },
        ],
    },
];

/// The tool named `name`.
pub fn find(name: &str) -> Option<&'static Spec> {
    TOOLS.iter().find(|t| t.name == name)
}

impl Spec {
    /// The JSON Schema of the tool's arguments, as small as it can be.
    pub fn input_schema(&self) -> Map<String, Value> {
        let mut properties = Map::new();
        for p in self.params {
            let mut schema = Map::new();
            let ty = match p.ty {
                Type::Str => "string",
                Type::Int => "integer",
                Type::Bool => "boolean",
                Type::List => "array",
            };
            schema.insert("type".into(), ty.into());
            if p.ty == Type::List {
                schema.insert("items".into(), serde_json::json!({ "type": "string" }));
            }
            if let Some(d) = p.description {
                schema.insert("description".into(), d.into());
            }
            properties.insert(p.name.into(), Value::Object(schema));
        }
        let mut schema = Map::new();
        schema.insert("type".into(), "object".into());
        schema.insert("properties".into(), Value::Object(properties));
        let required: Vec<Value> = self
            .params
            .iter()
            .filter(|p| p.required)
            .map(|p| p.name.into())
            .collect();
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        schema
    }

    /// The command line a call runs, or what is wrong with its arguments.
    pub fn argv(&self, args: &Map<String, Value>) -> Result<Vec<String>, String> {
        let takes = || {
            let names: Vec<&str> = self.params.iter().map(|p| p.name).collect();
            match names.as_slice() {
                [] => format!("{} takes no arguments", self.name),
                _ => format!("{} takes: {}", self.name, names.join(", ")),
            }
        };
        if let Some(unknown) = args
            .keys()
            .find(|k| !self.params.iter().any(|p| p.name == *k))
        {
            return Err(format!("unknown argument `{unknown}`; {}", takes()));
        }
        let mut argv: Vec<String> = std::iter::once("comm-node")
            .chain(self.command.iter().copied())
            .chain(self.fixed.iter().copied())
            .map(str::to_owned)
            .collect();
        let mut positionals = Vec::new();
        for p in self.params {
            let values = match args.get(p.name) {
                None | Some(Value::Null) if p.required => {
                    return Err(format!("missing `{}`; {}", p.name, takes()))
                }
                None | Some(Value::Null) => continue,
                Some(value) => strings(p, value)?,
            };
            match p.flag {
                Some(flag) if p.ty == Type::Bool => {
                    if values.first().is_some_and(|v| v == "true") {
                        argv.push(format!("--{flag}"));
                    }
                }
                Some(flag) if p.ty == Type::List => {
                    argv.push(format!("--{flag}={}", values.join(",")));
                }
                Some(flag) => argv.extend(values.iter().map(|v| format!("--{flag}={v}"))),
                None => positionals.extend(values),
            }
        }
        if !positionals.is_empty() {
            argv.push("--".to_owned());
            argv.extend(positionals);
        }
        Ok(argv)
    }
}

/// A JSON value as the strings of a command line, checked against the
/// parameter's type (a list also takes one string, or a comma-separated one
/// for a flag).
fn strings(p: &Param, value: &Value) -> Result<Vec<String>, String> {
    let wrong = |what: &str| format!("`{}` must be {what}", p.name);
    match (p.ty, value) {
        (Type::Str, Value::String(s)) => Ok(vec![s.clone()]),
        (Type::Str, _) => Err(wrong("a string")),
        (Type::Int, Value::Number(n)) if n.is_u64() => Ok(vec![n.to_string()]),
        (Type::Int, _) => Err(wrong("a whole number")),
        (Type::Bool, Value::Bool(b)) => Ok(vec![b.to_string()]),
        (Type::Bool, _) => Err(wrong("true or false")),
        (Type::List, Value::String(s)) => Ok(vec![s.clone()]),
        (Type::List, Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| wrong("a list of strings")),
        (Type::List, _) => Err(wrong("a list of strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn argv(tool: &str, args: Value) -> Result<Vec<String>, String> {
        find(tool).unwrap().argv(args.as_object().unwrap())
    }

    #[test]
    fn values_never_pass_for_flags() {
        assert_eq!(
            argv(
                "send",
                json!({"to": ["api", "web"], "subject": "--as=human", "body": "-"})
            )
            .unwrap(),
            ["comm-node", "send", "--to=api,web", "--", "--as=human", "-"]
        );
        assert_eq!(
            argv("check", json!({})).unwrap(),
            ["comm-node", "check", "--staged"]
        );
    }

    #[test]
    fn bad_arguments_are_named() {
        assert_eq!(
            argv("task_claim", json!({})).unwrap_err(),
            "missing `id`; task_claim takes: id"
        );
        assert_eq!(
            argv("status", json!({"as": "web"})).unwrap_err(),
            "unknown argument `as`; status takes no arguments"
        );
        assert_eq!(
            argv("submit", json!({"priority": "high"})).unwrap_err(),
            "`priority` must be a whole number"
        );
    }

    #[test]
    fn every_tool_names_a_command_the_cli_parses() {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        for tool in TOOLS {
            let mut command = &cli;
            for word in tool.command {
                command = command
                    .find_subcommand(word)
                    .unwrap_or_else(|| panic!("{}: no `{word}`", tool.name));
            }
            for p in tool.params.iter().filter_map(|p| p.flag) {
                assert!(
                    command.get_arguments().any(|a| a.get_long() == Some(p)),
                    "{}: no --{p}",
                    tool.name
                );
            }
        }
    }
}
