//! Role instructions for each domain's agent, rendered from
//! `templates/instructions.md` into the files agents read at start-up.
//!
//! Claude Code reads `CLAUDE.md` (and `CLAUDE.local.md`), Codex and most
//! other agents read `AGENTS.md` (and `AGENTS.override.md`, which replaces
//! it). comm-node writes the plain names when the branch does not track
//! them, and the local/override names when the project has its own file, so
//! a tracked file is never touched. Every generated file starts with
//! [`GENERATED_MARKER`]; the pre-commit hook refuses to commit such a file.
//!
//! One template serves both: each file is rendered for its readers
//! ([`Reader`]) and names itself. A domain is told only its own tests, who
//! may import its files (or that no one may), and to ask `human` about
//! files no domain owns.

use crate::config::{Config, Unowned};

pub use crate::hooks::GENERATED_MARKER;

const TEMPLATE: &str = include_str!("../../templates/instructions.md");

/// Every file name comm-node may generate in a worktree root.
pub const GENERATED_NAMES: [&str; 4] = [
    "CLAUDE.md",
    "CLAUDE.local.md",
    "AGENTS.md",
    "AGENTS.override.md",
];

/// One instruction file to write into a worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstructionFile {
    /// File name at the worktree root.
    pub name: &'static str,
    pub content: String,
}

/// Which agents read a generated file: the text differs only where that
/// matters (the agent's name in `hello`, the file's own name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// `CLAUDE.md` / `CLAUDE.local.md`: Claude Code.
    Claude,
    /// `AGENTS.md` / `AGENTS.override.md`: Codex and the other agents.
    Agents,
}

/// The instruction files for `domain`. `tracked(name)` tells whether the
/// domain's branch tracks a file and returns its text if so.
pub fn files_for(
    config: &Config,
    domain: &str,
    tracked: impl Fn(&str) -> Option<String>,
) -> Vec<InstructionFile> {
    // Claude Code loads CLAUDE.local.md beside the project's CLAUDE.md.
    let claude = match tracked("CLAUDE.md") {
        None => "CLAUDE.md",
        Some(_) => "CLAUDE.local.md",
    };
    let claude = InstructionFile {
        name: claude,
        content: render(config, domain, Reader::Claude, claude),
    };
    let agents = match tracked("AGENTS.md") {
        None => InstructionFile {
            name: "AGENTS.md",
            content: render(config, domain, Reader::Agents, "AGENTS.md"),
        },
        // AGENTS.override.md replaces AGENTS.md, so it carries the project's text too.
        Some(project) => InstructionFile {
            name: "AGENTS.override.md",
            content: format!(
                "{}\n---\n\n# The project's own AGENTS.md (copied by comm-node init)\n\n{project}",
                render(config, domain, Reader::Agents, "AGENTS.override.md")
            ),
        },
    };
    vec![claude, agents]
}

/// `- `item`` lines, or `- {empty}`.
fn bullets(items: &[String], empty: &str) -> String {
    if items.is_empty() {
        return format!("- {empty}");
    }
    items
        .iter()
        .map(|p| format!("- `{p}`"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a`, `b` and `c` as inline code, comma-separated.
fn inline(items: &[String]) -> String {
    items
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `name` may import from other domains.
fn may_import(config: &Config, name: &str) -> String {
    let domain = &config.domains[name];
    if domain.may_import.is_empty() {
        return "Only your own files and external packages: import nothing from other domains."
            .to_owned();
    }
    let lines: Vec<String> = domain
        .may_import
        .iter()
        .map(|other| {
            let d = &config.domains[other];
            let surface = if d.exports.is_empty() {
                &d.scope
            } else {
                &d.exports
            };
            format!("- `{other}`, through {}", inline(surface))
        })
        .collect();
    format!(
        "Besides your own files and external packages, you may import from:\n{}",
        lines.join("\n")
    )
}

/// Who may import `name`'s files, and which (nobody: say so).
fn importers(config: &Config, name: &str) -> String {
    let who: Vec<String> = config
        .domains
        .iter()
        .filter(|(_, d)| d.may_import.iter().any(|m| m == name))
        .map(|(other, _)| other.clone())
        .collect();
    if who.is_empty() {
        return "No other domain may import your files (none lists you under `may_import`), so no one depends on their shape.".to_owned();
    }
    let domain = &config.domains[name];
    let exports = if domain.exports.is_empty() {
        &domain.scope
    } else {
        &domain.exports
    };
    format!(
        "{} may import these files of yours (keep them stable; tell them before you change them):\n{}",
        inline(&who),
        bullets(exports, "(nothing)")
    )
}

/// What an agent does about a file no domain owns, under the `unowned` policy.
fn unowned(config: &Config) -> &'static str {
    match config.unowned {
        Unowned::Deny => {
            "Files no domain owns (in no scope and not shared) are refused to every domain: ask `human` (`comm-node send --to human \"who owns PATH?\"`), who alone changes comm.yaml."
        }
        Unowned::Warn => {
            "Files no domain owns (in no scope and not shared) only warn when you commit them: tell `human` (`comm-node send --to human`), who alone changes comm.yaml."
        }
        Unowned::Allow => {
            "Files no domain owns (in no scope and not shared) are open to every domain: reserve one before you edit it."
        }
    }
}

/// The domain's own test commands, or none (never another domain's).
fn tests(config: &Config, name: &str) -> String {
    let own = &config.domains[name].test;
    let project = if config.test.is_empty() {
        String::new()
    } else {
        format!(
            " The merge queue also runs the project's tests on every candidate: {}.",
            inline(&config.test)
        )
    };
    if own.is_empty() {
        format!("comm.yaml declares no tests of `{name}`, so there is none to run here.{project}")
    } else {
        format!("Run your tests here: {}.{project}", inline(own))
    }
}

/// Renders the template for one domain, as read by `reader` from the file `file`.
pub fn render(config: &Config, name: &str, reader: Reader, file: &str) -> String {
    let domain = &config.domains[name];
    let peers: Vec<String> = config
        .domains
        .iter()
        .filter(|(peer, _)| *peer != name)
        .map(|(peer, d)| {
            let role = if d.role.is_empty() {
                "(no role given)"
            } else {
                &d.role
            };
            format!("- `{peer}`: {role}; owns {}", d.scope.join(", "))
        })
        .collect();
    let role = if domain.role.is_empty() {
        "(No role text is declared for this domain in comm.yaml.)"
    } else {
        &domain.role
    };
    let hello = match reader {
        Reader::Claude => "`comm-node hello --agent claude-code`",
        Reader::Agents => "`comm-node hello --agent NAME` (your agent's name: codex, aider...)",
    };
    TEMPLATE
        .replace("{{project}}", &config.project)
        .replace("{{domain}}", name)
        .replace("{{file}}", file)
        .replace("{{role}}", role)
        .replace("{{branch}}", &Config::domain_branch(name))
        .replace("{{main}}", &config.main)
        .replace("{{scope}}", &bullets(&domain.scope, "(nothing)"))
        .replace("{{shared}}", &bullets(&config.shared, "(none)"))
        .replace("{{unowned}}", unowned(config))
        .replace("{{may_import}}", &may_import(config, name))
        .replace("{{importers}}", &importers(config, name))
        .replace(
            "{{peers}}",
            &if peers.is_empty() {
                "- (none: you are the only domain)".to_owned()
            } else {
                peers.join("\n")
            },
        )
        .replace("{{hello}}", hello)
        .replace("{{test}}", &tests(config, name))
}

/// The block comm-node keeps in `info/exclude` so generated files never
/// show up as untracked (and `git add -A` never picks them up).
pub fn exclude_block() -> String {
    let mut block =
        String::from("# >>> comm-node: generated agent instructions (comm-node init)\n");
    for name in GENERATED_NAMES {
        block.push_str(&format!("/{name}\n"));
    }
    block.push_str("# <<< comm-node\n");
    block
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        let text = "project: shop\ndomains:\n  api:\n    role: REST API\n    scope: [\"api/**\"]\n    exports: [\"api/client/**\"]\n  web:\n    scope: [\"web/**\"]\n    may_import: [api]\n";
        Config::parse(text, Path::new("comm.yaml")).unwrap().config
    }

    #[test]
    fn renders_scope_imports_and_peers() {
        let text = render(&config(), "web", Reader::Claude, "CLAUDE.md");
        assert!(text.starts_with(GENERATED_MARKER));
        assert!(text.contains("# You are the `web` agent of shop"));
        assert!(text.contains("- `web/**`"));
        assert!(text.contains("- `api`, through `api/client/**`"));
        assert!(text.contains("- `api`: REST API; owns api/**"));
        assert!(!text.contains("{{"), "unrendered placeholder in:\n{text}");
    }

    #[test]
    fn tracked_files_are_left_alone() {
        let files = files_for(&config(), "api", |name| {
            (name == "AGENTS.md").then(|| "Project rules.\n".to_owned())
        });
        assert_eq!(files[0].name, "CLAUDE.md");
        assert_eq!(files[1].name, "AGENTS.override.md");
        assert!(files[1].content.ends_with("Project rules.\n"));
    }
}
