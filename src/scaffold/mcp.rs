//! Where agents find `comm-node mcp`: init registers it in the agents' own
//! configuration, never in a tracked file, and uninstall takes it out.
//!
//! - Claude Code: the local scope (`claude mcp add -s local`), the
//!   `projects.<path>.mcpServers` entry of `~/.claude.json`
//!   (`$CLAUDE_CONFIG_DIR/.claude.json` when set). Claude Code keys the
//!   local scope of every linked worktree by the main checkout's path
//!   (checked with 2.1.328: an entry under a worktree's own path is not
//!   read), so one entry serves every domain worktree; the server acts as
//!   the worktree it is started in. The rest of the file is kept (its keys
//!   may come back in another order) and it is replaced atomically, with
//!   its permissions.
//! - Codex: `.codex/config.toml` in each domain worktree, a
//!   `[mcp_servers.comm-node]` table between marker lines, the file kept
//!   out of git by a block in `info/exclude`. A project that tracks its own
//!   `.codex/config.toml` is left alone (a note says so).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{io_err, ScaffoldError};

/// The name agents know the server by: tools are `mcp__comm-node__<tool>`.
pub const SERVER: &str = "comm-node";

const CODEX_FILE: &str = ".codex/config.toml";
const CODEX_BEGIN: &str = "# >>> comm-node mcp (comm-node init; comm-node uninstall removes it)";
const CODEX_END: &str = "# <<< comm-node mcp";

/// One registration step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mcp", rename_all = "snake_case")]
pub enum McpAction {
    /// Set (or, uninstalling, remove) the local-scope entry of `project`.
    Claude { config: PathBuf, project: PathBuf },
    /// Write (or remove) the table in a worktree's `.codex/config.toml`.
    Codex { domain: String, path: PathBuf },
    /// Keep `.codex/config.toml` out of git (or drop that block).
    Exclude { path: PathBuf },
}

impl McpAction {
    /// What uninstall says it does about this step.
    pub fn removal(&self) -> String {
        match self {
            McpAction::Claude { config, project } => format!(
                "unregister MCP server comm-node for Claude Code from {} (local scope of {})",
                config.display(),
                project.display()
            ),
            McpAction::Codex { path, .. } => format!(
                "unregister MCP server comm-node for Codex from {}",
                path.display()
            ),
            McpAction::Exclude { path } => format!(
                "drop comm-node's .codex/config.toml block from {}",
                path.display()
            ),
        }
    }
}

/// What init says it does about this step.
impl std::fmt::Display for McpAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            McpAction::Claude { config, project } => write!(
                f,
                "register MCP server comm-node for Claude Code in {} (local scope of {})",
                config.display(),
                project.display()
            ),
            McpAction::Codex { path, .. } => write!(
                f,
                "register MCP server comm-node for Codex in {}",
                path.display()
            ),
            McpAction::Exclude { path } => {
                write!(f, "exclude .codex/config.toml in {}", path.display())
            }
        }
    }
}

/// The file Claude Code keeps its user and local-scope settings in.
pub fn claude_config() -> Option<PathBuf> {
    let dir = std::env::var_os("CLAUDE_CONFIG_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))?;
    Some(dir.join(".claude.json"))
}

/// The entry Claude Code's local scope holds for the server.
fn claude_entry(exe: &Path) -> Value {
    json!({ "type": "stdio", "command": exe, "args": ["mcp"], "env": {} })
}

/// The project key Claude Code reads for `root` (and its worktrees).
fn project_key(root: &Path) -> PathBuf {
    fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}

/// The Codex table, between its markers.
fn codex_block(exe: &Path) -> String {
    let command = serde_json::to_string(&exe.to_string_lossy()).expect("a string serializes");
    format!("{CODEX_BEGIN}\n[mcp_servers.{SERVER}]\ncommand = {command}\nargs = [\"mcp\"]\n{CODEX_END}\n")
}

fn exclude_block() -> String {
    format!("# >>> comm-node: Codex MCP config (comm-node init)\n/{CODEX_FILE}\n# <<< comm-node\n")
}

/// What init does so the agents in `worktrees` (domain, path) find the
/// server `exe`; notes for what it leaves alone. `tracked(domain)`: whether
/// that domain's branch tracks `.codex/config.toml`.
pub fn plan(
    root: &Path,
    common_dir: &Path,
    worktrees: &[(String, PathBuf)],
    exe: &Path,
    tracked: impl Fn(&str) -> bool,
    notes: &mut Vec<String>,
) -> Vec<McpAction> {
    let mut actions = Vec::new();
    if let Some(config) = claude_config() {
        let project = project_key(root);
        let current = read_json(&config)
            .ok()
            .and_then(|v| v.pointer(&claude_pointer(&project)).cloned());
        if current.as_ref() != Some(&claude_entry(exe)) {
            actions.push(McpAction::Claude { config, project });
        }
    } else {
        notes.push("no HOME: comm-node mcp not registered for Claude Code".to_owned());
    }
    let mut codex = false;
    for (domain, path) in worktrees {
        if tracked(domain) {
            notes.push(format!(
                "{} is tracked by domain/{domain}; add comm-node mcp to it by hand",
                path.join(CODEX_FILE).display()
            ));
            continue;
        }
        codex = true;
        let file = path.join(CODEX_FILE);
        let text = fs::read_to_string(&file).unwrap_or_default();
        if !text.contains(&codex_block(exe)) {
            actions.push(McpAction::Codex {
                domain: domain.clone(),
                path: file,
            });
        }
    }
    let exclude = common_dir.join("info").join("exclude");
    let excluded = fs::read_to_string(&exclude).unwrap_or_default();
    if codex && !excluded.contains(&exclude_block()) {
        actions.push(McpAction::Exclude { path: exclude });
    }
    actions
}

/// What uninstall takes out: the Claude Code entry and the exclude block
/// (the Codex files go with their worktrees).
pub fn removal_plan(root: &Path, common_dir: &Path) -> Vec<McpAction> {
    let mut actions = Vec::new();
    if let Some(config) = claude_config() {
        let project = project_key(root);
        let registered = read_json(&config)
            .ok()
            .is_some_and(|v| v.pointer(&claude_pointer(&project)).is_some());
        if registered {
            actions.push(McpAction::Claude { config, project });
        }
    }
    let exclude = common_dir.join("info").join("exclude");
    if fs::read_to_string(&exclude).is_ok_and(|t| t.contains(&exclude_block())) {
        actions.push(McpAction::Exclude { path: exclude });
    }
    actions
}

/// Carries out an init step.
pub fn apply(action: &McpAction, exe: &Path) -> Result<(), ScaffoldError> {
    match action {
        McpAction::Claude { config, project } => edit_claude(config, project, Some(exe)),
        McpAction::Codex { path, .. } => {
            let text = fs::read_to_string(path).unwrap_or_default();
            let mut kept = without_block(&text, CODEX_BEGIN, CODEX_END);
            if !kept.is_empty() && !kept.ends_with('\n') {
                kept.push('\n');
            }
            kept.push_str(&codex_block(exe));
            write_file(path, &kept)
        }
        McpAction::Exclude { path } => {
            let mut text = fs::read_to_string(path).unwrap_or_default();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&exclude_block());
            write_file(path, &text)
        }
    }
}

/// Undoes an init step (uninstall).
pub fn remove(action: &McpAction) -> Result<(), ScaffoldError> {
    match action {
        McpAction::Claude { config, project } => edit_claude(config, project, None),
        McpAction::Codex { path, .. } => match fs::read_to_string(path) {
            Ok(text) => write_file(path, &without_block(&text, CODEX_BEGIN, CODEX_END)),
            Err(_) => Ok(()),
        },
        McpAction::Exclude { path } => {
            let text = fs::read_to_string(path).map_err(io_err(path))?;
            write_file(path, &text.replacen(&exclude_block(), "", 1))
        }
    }
}

/// `text` without the lines from `begin` to `end`, both included.
fn without_block(text: &str, begin: &str, end: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end();
        if bare == begin {
            inside = true;
        } else if inside && bare == end {
            inside = false;
        } else if !inside {
            out.push_str(line);
        }
    }
    out
}

/// The JSON pointer of the server's entry for `project`.
fn claude_pointer(project: &Path) -> String {
    let escape = |s: &str| s.replace('~', "~0").replace('/', "~1");
    format!(
        "/projects/{}/mcpServers/{SERVER}",
        escape(&project.to_string_lossy())
    )
}

fn read_json(path: &Path) -> Result<Value, ScaffoldError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(json!({})),
        Err(e) => return Err(io_err(path)(e)),
    };
    serde_json::from_str(&text).map_err(|e| ScaffoldError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// Sets (`Some(exe)`) or removes the server's entry for `project`; an
/// emptied `mcpServers` or project entry is removed too.
fn edit_claude(config: &Path, project: &Path, exe: Option<&Path>) -> Result<(), ScaffoldError> {
    let mut root = read_json(config)?;
    let Some(top) = root.as_object_mut() else {
        return Err(ScaffoldError::Io {
            path: config.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a JSON object"),
        });
    };
    let key = project.to_string_lossy().into_owned();
    let projects = object(top, "projects");
    let entry = object(projects, &key);
    let servers = object(entry, "mcpServers");
    match exe {
        Some(exe) => {
            servers.insert(SERVER.to_owned(), claude_entry(exe));
        }
        None => {
            servers.remove(SERVER);
            if servers.is_empty() {
                entry.remove("mcpServers");
            }
            if entry.is_empty() {
                projects.remove(&key);
            }
        }
    }
    let text = serde_json::to_string_pretty(&root).expect("JSON serializes") + "\n";
    write_file(config, &text)
}

/// The object under `key`, made if missing or not an object.
fn object<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

/// Replaces `path` (through a symlink, to its target) atomically: a new
/// file beside it with the old one's permissions (0600 when new), renamed
/// over it.
fn write_file(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mode = fs::metadata(&target).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.comm-node-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(&target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codex_block_comes_out_whole() {
        let exe = Path::new("/usr/bin/comm-node");
        let text = format!("model = \"o3\"\n{}[other]\nx = 1\n", codex_block(exe));
        assert_eq!(
            without_block(&text, CODEX_BEGIN, CODEX_END),
            "model = \"o3\"\n[other]\nx = 1\n"
        );
        assert!(codex_block(Path::new("/a \"b\"/c")).contains(r#"command = "/a \"b\"/c""#));
    }

    #[test]
    fn claude_entries_are_set_and_removed_keeping_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join(".claude.json");
        fs::write(
            &config,
            r#"{"userID":"u","projects":{"/p":{"allowedTools":[]}}}"#,
        )
        .unwrap();
        let project = Path::new("/p");
        edit_claude(&config, project, Some(Path::new("/bin/comm-node"))).unwrap();
        let v = read_json(&config).unwrap();
        assert_eq!(v["userID"], "u");
        assert_eq!(v["projects"]["/p"]["allowedTools"], json!([]));
        assert_eq!(
            v.pointer(&claude_pointer(project)).unwrap()["args"],
            json!(["mcp"])
        );
        edit_claude(&config, project, None).unwrap();
        let v = read_json(&config).unwrap();
        assert_eq!(v["projects"]["/p"], json!({"allowedTools": []}));
    }
}
