//! `comm.yaml`: the declared domains and the project's coordination rules.
//!
//! Loading is all-or-nothing: the file's size and shape are bounded first
//! (`locate`: depth, list lengths, domain count, duplicate keys), then it is
//! parsed with serde_yaml (unknown keys and wrong types are errors), then
//! every semantic rule is checked and each
//! mistake is reported with its file, line and column and a hint. Nothing in
//! the repository is touched before a config has loaded cleanly; this module
//! never reads git itself (the caller checks that `main` exists).

mod agents;
mod budget;
mod locate;
mod prices;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use agents::{AgentCli, AgentSettings, AgentSpec};
pub use budget::{
    Amount, Budget, DomainBudget, Usd, MAX_TOKENS as MAX_BUDGET_TOKENS, MAX_USD as MAX_BUDGET_USD,
};
pub use locate::Pos;
pub use prices::{Price, Prices};

/// The config file's name, at the repository root.
pub const FILE_NAME: &str = "comm.yaml";

/// Largest comm.yaml read, in bytes (a real one is a few KiB).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Deepest nesting of mappings and lists (comm.yaml needs four levels).
pub const MAX_DEPTH: usize = 32;
/// Most domains one comm.yaml may declare.
pub const MAX_DOMAINS: usize = 1000;
/// Most items in one list (`scope`, `test`, `may_import`, `rules`, ...).
pub const MAX_LIST_ITEMS: usize = 1000;

/// Names comm-node uses itself, so they cannot be domains: addresses on the
/// bus (`all`, `human`), its ref (`comm`), and the namespaces its own
/// writers sign or publish artifacts under (the queue's test logs).
pub const RESERVED_NAMES: &[&str] = &[
    crate::comm::ALL,
    crate::comm::HUMAN,
    "comm",
    crate::comm::SYSTEM_ACTOR,
    crate::comm::QUEUE_NAMESPACE,
];

/// A validated `comm.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Short project name, used in messages and the default worktree folder.
    pub project: String,
    /// The branch the merge queue lands on.
    #[serde(default = "default_main")]
    pub main: String,
    /// Where domain worktrees go, relative to the repository root.
    #[serde(default)]
    pub worktrees: Option<String>,
    /// Commands run once in a fresh queue worktree.
    #[serde(default)]
    pub setup: Vec<String>,
    /// Commands the queue runs on each candidate merge.
    #[serde(default)]
    pub test: Vec<String>,
    /// Paths every domain may change (lock files, root configs).
    #[serde(default)]
    pub shared: Vec<String>,
    /// What to do with a changed file no domain owns.
    #[serde(default)]
    pub unowned: Unowned,
    /// The domains, by name.
    pub domains: BTreeMap<String, Domain>,
    /// Extra forbidden import edges.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Size limits on the bus.
    #[serde(default)]
    pub limits: Limits,
    /// When a quiet domain counts as stalled, and when its claims lapse.
    #[serde(default)]
    pub health: Health,
    /// Merge queue settings.
    #[serde(default)]
    pub queue: QueueSettings,
    /// The agent CLI `comm-node up` runs per domain (`default` and overrides).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agents: BTreeMap<String, AgentSpec>,
    /// Where Python's top-level packages live.
    #[serde(default)]
    pub python: PythonSettings,
    /// Spend limits checked by `up` before every dispatch.
    #[serde(default, skip_serializing_if = "Budget::is_unset")]
    pub budget: Budget,
    /// Prices of models whose CLI reports no cost (`prices.rs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: Prices,
}

/// The `python:` section of comm.yaml (top level or in a domain).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PythonSettings {
    /// Source roots: folders, relative to the repository root, whose
    /// sub-folders and modules are importable by name (`py`, `src`), as in
    /// tach's `source_roots` or a `sys.path` entry.
    #[serde(default)]
    pub roots: Vec<String>,
}

/// The `queue:` section of comm.yaml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// Limit on each setup or test command the queue runs (`30m`, `1h`).
    #[serde(default)]
    pub timeout: Option<String>,
}

/// Liveness thresholds, measured from a domain's last activity (its last
/// commit on its branch or on `comm`, or the start of its claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    /// Quiet this long with a claimed task: reported as stalled (`30m`).
    #[serde(deserialize_with = "duration")]
    pub stall_after: u64,
    /// Quiet this long: its claims return to ready and its reservations lapse (`2h`).
    #[serde(deserialize_with = "duration")]
    pub lease: u64,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            stall_after: 30 * 60,
            lease: 2 * 3600,
        }
    }
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = String::deserialize(d)?;
    crate::clock::parse_duration(&text).map_err(serde::de::Error::custom)
}

/// Size limits on what goes onto the `comm` branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest message body, in bytes.
    pub body_bytes: usize,
    /// Largest published artifact, in bytes.
    pub artifact_bytes: usize,
    /// Most agent turns `up` runs at once, across domains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_parallel_agents: Option<u32>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            body_bytes: 64 * 1024,
            artifact_bytes: 8 * 1024 * 1024,
            max_parallel_agents: None,
        }
    }
}

/// One bounded context: what it owns, what it may use, how it is tested.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    /// One line telling the agent what this domain is for.
    #[serde(default)]
    pub role: String,
    /// Globs of the files this domain owns.
    #[serde(default)]
    pub scope: Vec<String>,
    /// Globs of the files other domains may import (all of scope when empty).
    #[serde(default)]
    pub exports: Vec<String>,
    /// Domains whose exports this one may import.
    #[serde(default)]
    pub may_import: Vec<String>,
    /// This domain's own test commands.
    #[serde(default)]
    pub test: Vec<String>,
    /// External packages this domain may not import (`lodash`, `requests`).
    #[serde(default)]
    pub deny_external: Vec<String>,
    /// Capabilities, matched against the `skills` of tasks no domain owns.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Python source roots inside this domain's scope.
    #[serde(default)]
    pub python: PythonSettings,
}

/// Policy for changed files that no domain owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unowned {
    #[default]
    Deny,
    Warn,
    Allow,
}

/// An entry of `rules`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub forbid: Edge,
}

/// An import edge between two sets of files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    pub from: String,
    pub to: String,
}

fn default_main() -> String {
    "main".to_owned()
}

/// One mistake in a config file, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.pos.line,
            self.pos.column,
            self.message
        )
    }
}

/// Every mistake found in one config file (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A loaded config plus the source positions needed for later checks.
pub struct Loaded {
    pub config: Config,
    pub file: PathBuf,
    locations: locate::Locations,
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Loaded, ConfigErrors> {
        let text = read_bounded(path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                "create comm.yaml at the repository root; `comm-node init --help` shows an example"
            } else {
                "check the file's permissions and that it is UTF-8 text"
            };
            single(
                path,
                Pos { line: 1, column: 1 },
                format!("cannot read: {e}"),
                hint,
            )
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates `text`, reporting errors against `file`.
    pub fn parse(text: &str, file: &Path) -> Result<Loaded, ConfigErrors> {
        let start = Pos { line: 1, column: 1 };
        if text.len() > MAX_FILE_BYTES {
            return Err(single(
                file,
                start,
                format!("the file is larger than {MAX_FILE_BYTES} bytes (MAX_FILE_BYTES)"),
                "comm.yaml declares domains and rules; keep data elsewhere",
            ));
        }
        let locations =
            locate::Locations::index(text).map_err(|r| single(file, r.pos, r.message, r.hint))?;
        let config: Config = serde_yaml::from_str(text).map_err(|e| from_serde(file, &e))?;
        let loaded = Loaded {
            config,
            file: file.to_owned(),
            locations,
        };
        let errors = validate::check(&loaded);
        if errors.is_empty() {
            Ok(loaded)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The worktree folder, relative to the repository root.
    pub fn worktrees_dir(&self) -> String {
        self.worktrees
            .clone()
            .unwrap_or_else(|| format!("../{}.worktrees", self.project))
    }

    /// Every declared Python source root: the project's, then each domain's.
    pub fn python_roots(&self) -> Vec<String> {
        let mut roots: Vec<String> = self.python.roots.clone();
        for domain in self.domains.values() {
            roots.extend(domain.python.roots.iter().cloned());
        }
        roots.dedup();
        roots
    }

    /// The branch a domain works on.
    pub fn domain_branch(name: &str) -> String {
        format!("domain/{name}")
    }
}

impl Loaded {
    /// An error pointing at the value found at `path` (e.g. `main`).
    pub fn error_at(&self, path: &str, message: String, hint: &str) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            pos: self.locations.value(path),
            message,
            hint: Some(hint.to_owned()),
        }
    }

    /// Where the value at `path` (e.g. `domains.api.scope[0]`) was written.
    pub fn pos(&self, path: &str) -> Pos {
        self.locations.value(path)
    }

    /// Checks that the `main` branch exists, using the caller's lookup;
    /// `checked_out` is the branch the main checkout is on, named instead
    /// when it exists (a repository on `master` without `main:` set).
    pub fn check_main(
        &self,
        branch_exists: impl Fn(&str) -> bool,
        checked_out: Option<&str>,
    ) -> Result<(), ConfigErrors> {
        let main = &self.config.main;
        if branch_exists(main) {
            return Ok(());
        }
        let error = match checked_out.filter(|b| b != main && branch_exists(b)) {
            Some(current) => self.error_at(
                "main",
                format!("branch `{main}` does not exist; this repository's branch is `{current}`"),
                &format!("set `main: {current}` in comm.yaml (the branch the merge queue lands on)"),
            ),
            None => self.error_at(
                "main",
                format!("branch `{main}` does not exist"),
                "commit once on that branch first, or set `main:` to the branch the merge queue should land on",
            ),
        };
        Err(ConfigErrors(vec![error]))
    }
}

/// Reads `path` as text, but never more than one byte past [`MAX_FILE_BYTES`]
/// (enough for [`Config::parse`] to refuse it by its size).
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_FILE_BYTES {
        // Too large either way; the cut may split a character.
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    String::from_utf8(bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()))
}

fn single(file: &Path, pos: Pos, message: String, hint: &str) -> ConfigErrors {
    ConfigErrors(vec![ConfigError {
        file: file.to_owned(),
        pos,
        message,
        hint: Some(hint.to_owned()),
    }])
}

/// Converts a serde_yaml error, moving its position into the error's fields.
fn from_serde(file: &Path, e: &serde_yaml::Error) -> ConfigErrors {
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    let pos = e
        .location()
        .map(|l| Pos {
            line: l.line(),
            column: l.column(),
        })
        .unwrap_or(Pos { line: 1, column: 1 });
    let hint = if message.contains("unknown field") {
        "remove or rename the key; the message lists the accepted ones"
    } else if message.contains("missing field") {
        "add the key; `comm-node init --help` shows a complete example"
    } else {
        "fix the YAML at that position"
    };
    single(file, pos, message, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<ConfigError> {
        match Config::parse(text, Path::new("comm.yaml")) {
            Ok(_) => panic!("expected errors for:\n{text}"),
            Err(ConfigErrors(e)) => e,
        }
    }

    const GOOD: &str = "project: shop\ndomains:\n  api:\n    scope: [\"services/api/**\"]\n  web:\n    scope: [\"apps/web/**\"]\n    may_import: [api]\n";

    #[test]
    fn parses_a_good_config() {
        let loaded = Config::parse(GOOD, Path::new("comm.yaml")).unwrap();
        assert_eq!(loaded.config.main, "main");
        assert_eq!(loaded.config.unowned, Unowned::Deny);
        assert_eq!(loaded.config.worktrees_dir(), "../shop.worktrees");
        assert_eq!(loaded.config.domains["web"].may_import, vec!["api"]);
    }

    #[test]
    fn unknown_key_has_position() {
        let e = errors("project: shop\ndomains:\n  api:\n    scop: [\"a/**\"]\n");
        assert_eq!(e[0].pos, Pos { line: 4, column: 5 });
        assert!(
            e[0].message.contains("unknown field `scop`"),
            "{}",
            e[0].message
        );
    }

    #[test]
    fn main_missing_points_at_main_key() {
        let loaded = Config::parse(
            "project: shop\nmain: trunk\ndomains:\n  a:\n    scope: [\"a/**\"]\n",
            Path::new("comm.yaml"),
        )
        .unwrap();
        let e = loaded.check_main(|_| false, Some("trunk")).unwrap_err();
        assert_eq!(e.0[0].pos, Pos { line: 2, column: 7 });
        assert!(e.0[0].message.contains("`trunk`"));
        let e = loaded
            .check_main(|b| b == "master", Some("master"))
            .unwrap_err();
        assert!(e.0[0]
            .message
            .ends_with("this repository's branch is `master`"));
        assert!(e.0[0]
            .hint
            .as_deref()
            .unwrap()
            .starts_with("set `main: master`"));
    }
}
