//! The boundary rules of `comm.yaml`, applied to changed files and to the
//! imports found in them.
//!
//! - `scope`: a domain changes only files in its scope or `shared`;
//! - `unowned`: a changed file no domain owns is denied, warned or allowed;
//! - `symlink`: a link a domain commits must lead into its scope or `shared`;
//! - `may-import`: importing another domain's file needs `may_import`;
//! - `exports`: and must hit that domain's `exports` when it declares any;
//! - `forbid`: `rules.forbid` edges, also inside one domain;
//! - `external`: a domain's `deny_external` packages.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Serialize;

use super::resolve::Target;
use super::Import;
use crate::config::{Config, Unowned};

/// One broken rule, located in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// `scope`, `unowned`, `symlink`, `may-import`, `exports`, `forbid`,
    /// `external` or `reservation`.
    pub rule: &'static str,
    /// The domain whose rule it is (the importing or changing one).
    pub domain: Option<String>,
    /// The import as written, for import rules.
    pub import: Option<String>,
    /// The file or package it leads to, for import rules.
    pub target: Option<String>,
    pub message: String,
    /// What is allowed instead.
    pub hint: String,
    /// `error` blocks; `warning` (the `unowned: warn` policy) does not.
    pub severity: &'static str,
    /// The import is type-only (TS `import type`, Python `TYPE_CHECKING`).
    pub type_only: bool,
}

struct DomainRules {
    name: String,
    scope: GlobSet,
    scope_text: Vec<String>,
    exports: Option<GlobSet>,
    exports_text: Vec<String>,
    may_import: Vec<String>,
    deny_external: Vec<String>,
}

/// `comm.yaml`'s rules, compiled.
pub struct Rules {
    domains: Vec<DomainRules>,
    shared: GlobSet,
    unowned: Unowned,
    forbid: Vec<(GlobSet, GlobSet, String, String)>,
    python_roots: Vec<String>,
}

fn globs(patterns: &[String]) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        // Validated when the config loaded.
        if let Ok(glob) = GlobBuilder::new(p).literal_separator(true).build() {
            builder.add(glob);
        }
    }
    builder.build().unwrap_or_else(|_| GlobSet::empty())
}

impl Rules {
    pub fn new(config: &Config) -> Rules {
        Rules {
            domains: config
                .domains
                .iter()
                .map(|(name, d)| DomainRules {
                    name: name.clone(),
                    scope: globs(&d.scope),
                    scope_text: d.scope.clone(),
                    exports: (!d.exports.is_empty()).then(|| globs(&d.exports)),
                    exports_text: d.exports.clone(),
                    may_import: d.may_import.clone(),
                    deny_external: d.deny_external.clone(),
                })
                .collect(),
            shared: globs(&config.shared),
            unowned: config.unowned,
            forbid: config
                .rules
                .iter()
                .map(|r| {
                    let (from, to) = (&r.forbid.from, &r.forbid.to);
                    (
                        globs(std::slice::from_ref(from)),
                        globs(std::slice::from_ref(to)),
                        from.clone(),
                        to.clone(),
                    )
                })
                .collect(),
            python_roots: config.python_roots(),
        }
    }

    /// The Python source roots comm.yaml declares (resolution uses them).
    pub fn python_roots(&self) -> &[String] {
        &self.python_roots
    }

    /// The domain owning `path`, if any.
    pub fn owner(&self, path: &str) -> Option<&str> {
        self.domains
            .iter()
            .find(|d| d.scope.is_match(path))
            .map(|d| d.name.as_str())
    }

    /// Whether `path` is a shared file every domain may change.
    pub fn is_shared(&self, path: &str) -> bool {
        self.shared.is_match(path)
    }

    fn domain(&self, name: &str) -> Option<&DomainRules> {
        self.domains.iter().find(|d| d.name == name)
    }

    /// Checks that `actor` may change `path` (a changed file).
    pub fn check_change(&self, actor: &str, path: &str) -> Option<Violation> {
        if self.is_shared(path) {
            return None;
        }
        let base = |rule, message: String, hint: String, severity| Violation {
            file: path.to_owned(),
            line: 1,
            column: 1,
            rule,
            domain: Some(actor.to_owned()),
            import: None,
            target: None,
            message,
            hint,
            severity,
            type_only: false,
        };
        match self.owner(path) {
            Some(owner) if owner == actor => None,
            Some(owner) => {
                let scope = self
                    .domain(actor)
                    .map(|d| d.scope_text.join(", "))
                    .unwrap_or_default();
                Some(base(
                    "scope",
                    format!("`{actor}` changes a file of `{owner}`"),
                    format!(
                        "{actor} may change {scope} and the shared files; ask {owner}: comm-node send --to {owner} \"...\""
                    ),
                    "error",
                ))
            }
            None if self.domain(actor).is_none() => None,
            None => {
                let severity = match self.unowned {
                    Unowned::Allow => return None,
                    Unowned::Warn => "warning",
                    Unowned::Deny => "error",
                };
                Some(base(
                    "unowned",
                    format!("no domain owns {path}"),
                    format!(
                        "only the human changes comm.yaml: ask them to give it to a domain or to `shared` (comm-node send --to human \"who owns {path}?\")"
                    ),
                    severity,
                ))
            }
        }
    }

    /// Checks that the link `path` that `actor` commits, with `target`
    /// leading to `destination` (`None`: outside the repository), stays in
    /// the actor's scope or the shared files. A link out of the repository
    /// reaches no domain's files (imports never follow it) and only warns.
    pub fn check_link(
        &self,
        actor: &str,
        path: &str,
        target: &str,
        destination: Option<String>,
    ) -> Option<Violation> {
        let scope = self.domain(actor)?.scope_text.join(", ");
        let leads_to = match &destination {
            None => "outside the repository".to_owned(),
            Some(d) if self.is_shared(d) || self.owner(d) == Some(actor) => return None,
            Some(d) => match self.owner(d) {
                Some(owner) => format!("to {d}, a path of `{owner}`"),
                None => format!("to {d}, a path no domain owns"),
            },
        };
        Some(Violation {
            file: path.to_owned(),
            line: 1,
            column: 1,
            rule: "symlink",
            domain: Some(actor.to_owned()),
            import: None,
            target: Some(destination.clone().unwrap_or_else(|| target.to_owned())),
            message: format!("`{actor}` commits a symlink to `{target}`, which leads {leads_to}"),
            hint: format!(
                "a link must stay in {scope} or the shared files; import through the owner's exports instead"
            ),
            severity: if destination.is_some() { "error" } else { "warning" },
            type_only: false,
        })
    }

    /// Checks one import of file `from` that leads to `target`.
    pub fn check_import(&self, from: &str, import: &Import, target: &Target) -> Option<Violation> {
        let importer = self.owner(from);
        let violation =
            |rule, domain: Option<&str>, target: String, message: String, hint: String| Violation {
                file: from.to_owned(),
                line: import.line,
                column: import.column,
                rule,
                domain: domain.map(str::to_owned),
                import: Some(import.spec.clone()),
                target: Some(target),
                message,
                hint,
                severity: "error",
                type_only: import.type_only,
            };
        let file = match target {
            Target::File(file) => file,
            Target::External(package) => {
                let d = self.domain(importer?)?;
                if d.deny_external.iter().any(|p| p == package) {
                    return Some(violation(
                        "external",
                        importer,
                        package.clone(),
                        format!("`{}` may not use the package `{package}`", d.name),
                        format!(
                            "remove the import; comm.yaml denies {package} to {} (deny_external)",
                            d.name
                        ),
                    ));
                }
                return None;
            }
            Target::Unresolved => return None,
        };
        for (from_set, to_set, from_text, to_text) in &self.forbid {
            if from_set.is_match(from) && to_set.is_match(file) {
                return Some(violation(
                    "forbid",
                    importer,
                    file.clone(),
                    format!("imports from {from_text} may not reach {to_text}"),
                    format!(
                        "comm.yaml forbids {from_text} → {to_text}; go through a layer in between"
                    ),
                ));
            }
        }
        let importer = importer?;
        let owner = self.owner(file)?;
        if owner == importer || self.is_shared(file) {
            return None;
        }
        let d = self.domain(importer)?;
        let target_domain = self.domain(owner)?;
        if !d.may_import.iter().any(|m| m == owner) {
            let allowed = if d.may_import.is_empty() {
                "nothing from other domains".to_owned()
            } else {
                d.may_import.join(", ")
            };
            return Some(violation(
                "may-import",
                Some(importer),
                file.clone(),
                format!("`{importer}` imports {file} of `{owner}`, and may not import `{owner}`"),
                format!("{importer} may import: {allowed}; ask {owner} to publish what you need, or add {owner} to may_import in comm.yaml"),
            ));
        }
        if let Some(exports) = &target_domain.exports {
            if !exports.is_match(file) {
                return Some(violation(
                    "exports",
                    Some(importer),
                    file.clone(),
                    format!("`{importer}` imports {file}, an internal file of `{owner}`"),
                    format!(
                        "import from {owner}'s exports instead: {}",
                        target_domain.exports_text.join(", ")
                    ),
                ));
            }
        }
        None
    }
}
