//! How well `comm.yaml` covers the tracked files: the files no domain owns
//! (with `unowned: deny`, any commit that changes one is refused), and the
//! globs (`scope`, `exports`, `shared`) and Python roots that match no
//! tracked file (a typo such as `bakcend/**` owns nothing, silently).
//!
//! `init`, `check --all` and `status` report it as warnings; nothing here
//! blocks. One pass over the paths with one glob set.

use std::collections::BTreeMap;

use globset::{GlobBuilder, GlobSetBuilder};
use serde::Serialize;

use crate::config::{Loaded, Unowned};
use crate::text::count;

/// Unowned files shown by name.
pub const EXAMPLES: usize = 5;

/// The coverage of one snapshot's files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Tracked files looked at.
    pub tracked: usize,
    /// Files that no domain's scope and no `shared` glob matches.
    pub unowned: usize,
    /// The unowned files by their first folder (`docs/`) or name (`.env`),
    /// most files first.
    pub unowned_groups: Vec<Group>,
    /// The first few unowned files.
    pub unowned_examples: Vec<String>,
    /// What comm.yaml's `unowned` does with a change to one of them.
    pub policy: Unowned,
    /// Globs and roots that match no tracked file.
    pub dead: Vec<Dead>,
}

/// Unowned files under one top-level entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// `docs/` for a folder, the file name for a file at the root.
    pub path: String,
    pub files: usize,
}

/// A glob or root of comm.yaml that matches no tracked file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dead {
    /// Where it is written, e.g. `domains.api.scope[0]`.
    pub field: String,
    /// `scope`, `exports`, `shared` or `python root`.
    pub kind: &'static str,
    pub glob: String,
    /// The domain it belongs to, if any.
    pub domain: Option<String>,
    pub line: usize,
    pub column: usize,
}

impl Coverage {
    /// Whether there is anything to warn about (unowned files count only
    /// when the policy does not allow them).
    pub fn has_warnings(&self) -> bool {
        !self.dead.is_empty() || (self.unowned > 0 && self.policy != Unowned::Allow)
    }

    /// One line for `status`, or `None` when all is covered.
    pub fn summary(&self) -> Option<String> {
        if !self.has_warnings() {
            return None;
        }
        let mut parts = Vec::new();
        if self.unowned > 0 && self.policy != Unowned::Allow {
            parts.push(self.unowned_phrase());
        }
        if !self.dead.is_empty() {
            parts.push(format!(
                "{} of comm.yaml {} no file",
                count(self.dead.len(), "glob"),
                if self.dead.len() == 1 {
                    "matches"
                } else {
                    "match"
                }
            ));
        }
        Some(format!(
            "coverage: {} (comm-node check --all lists them)",
            parts.join("; ")
        ))
    }

    /// The warnings as text, each with a hint; `file` names comm.yaml.
    pub fn render(&self, file: &str) -> String {
        let mut out = String::new();
        if self.unowned > 0 && self.policy != Unowned::Allow {
            let shown: Vec<String> = self
                .unowned_groups
                .iter()
                .take(EXAMPLES)
                .map(|g| match (g.path.ends_with('/'), g.files) {
                    (false, _) => g.path.clone(),
                    (true, n) => format!("{} ({})", g.path, count(n, "file")),
                })
                .collect();
            let more = if self.unowned_groups.len() > EXAMPLES {
                ", …"
            } else {
                ""
            };
            let consequence = match self.policy {
                Unowned::Deny => "`unowned: deny` refuses any commit that changes them",
                _ => "`unowned: warn` warns on every commit that changes them",
            };
            out.push_str(&format!(
                "warning: {}: {}{more}\n    hint: add them to a domain's scope or to `shared` in comm.yaml ({consequence})\n",
                self.unowned_phrase(),
                shown.join(", ")
            ));
        }
        for d in &self.dead {
            let of = d
                .domain
                .as_ref()
                .map(|n| format!(" of `{n}`"))
                .unwrap_or_default();
            out.push_str(&format!(
                "warning: {file}:{}:{}: {} `{}`{of} matches no tracked file\n    hint: a typo? paths are relative to the repository root; `git ls-files` lists what is tracked\n",
                d.line, d.column, d.kind, d.glob
            ));
        }
        out
    }
}

impl Coverage {
    /// `33 of 257 tracked files belong to no domain`.
    fn unowned_phrase(&self) -> String {
        format!(
            "{} of {} {} to no domain",
            self.unowned,
            count(self.tracked, "tracked file"),
            if self.unowned == 1 {
                "belongs"
            } else {
                "belong"
            }
        )
    }
}

/// Which glob of comm.yaml a glob-set index is.
struct Entry {
    field: String,
    kind: &'static str,
    glob: String,
    domain: Option<String>,
    owns: bool,
}

/// The coverage of `paths` by the config in `loaded`.
pub fn coverage<'p>(loaded: &Loaded, paths: impl IntoIterator<Item = &'p String>) -> Coverage {
    let config = &loaded.config;
    let mut entries = Vec::new();
    let mut push = |field: String, kind, glob: &String, domain: Option<&String>, owns| {
        entries.push(Entry {
            field,
            kind,
            glob: glob.clone(),
            domain: domain.cloned(),
            owns,
        })
    };
    for (i, g) in config.shared.iter().enumerate() {
        push(format!("shared[{i}]"), "shared", g, None, true);
    }
    for (name, d) in &config.domains {
        for (i, g) in d.scope.iter().enumerate() {
            push(
                format!("domains.{name}.scope[{i}]"),
                "scope",
                g,
                Some(name),
                true,
            );
        }
        for (i, g) in d.exports.iter().enumerate() {
            let field = format!("domains.{name}.exports[{i}]");
            push(field, "exports", g, Some(name), false);
        }
    }
    let mut builder = GlobSetBuilder::new();
    // Set index → entry index (globs are validated when the config loads;
    // one that does not compile is left out and matches nothing).
    let mut index = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if let Ok(glob) = GlobBuilder::new(&e.glob).literal_separator(true).build() {
            builder.add(glob);
            index.push(i);
        }
    }
    let set = builder.build().unwrap_or_default();
    let mut roots: Vec<(String, String, Option<&String>)> = config
        .python
        .roots
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("python.roots[{i}]"), r.clone(), None))
        .collect();
    for (name, d) in &config.domains {
        for (i, r) in d.python.roots.iter().enumerate() {
            let field = format!("domains.{name}.python.roots[{i}]");
            roots.push((field, r.clone(), Some(name)));
        }
    }
    let mut alive = vec![false; entries.len()];
    let mut roots_alive = vec![false; roots.len()];
    let mut tracked = 0;
    let mut unowned = Vec::new();
    let mut hits = Vec::new();
    for path in paths {
        tracked += 1;
        set.matches_into(path.as_str(), &mut hits);
        let mut owned = false;
        for &hit in &hits {
            let i = index[hit];
            alive[i] = true;
            owned |= entries[i].owns;
        }
        if !owned {
            unowned.push(path.as_str());
        }
        for (k, (_, root, _)) in roots.iter().enumerate() {
            if !roots_alive[k] && (root == "." || is_below(path, root)) {
                roots_alive[k] = true;
            }
        }
    }
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for path in &unowned {
        let top = match path.split_once('/') {
            Some((folder, _)) => format!("{folder}/"),
            None => (*path).to_owned(),
        };
        *groups.entry(top).or_default() += 1;
    }
    let mut unowned_groups: Vec<Group> = groups
        .into_iter()
        .map(|(path, files)| Group { path, files })
        .collect();
    unowned_groups.sort_by(|a, b| b.files.cmp(&a.files).then_with(|| a.path.cmp(&b.path)));
    let dead_globs = entries
        .into_iter()
        .zip(alive)
        .filter(|(_, alive)| !alive)
        .map(|(e, _)| (e.field, e.kind, e.glob, e.domain));
    let dead_roots = roots
        .into_iter()
        .zip(roots_alive)
        .filter(|(_, alive)| !alive)
        .map(|((field, root, domain), _)| (field, "python root", root, domain.cloned()));
    let mut dead: Vec<Dead> = dead_globs
        .chain(dead_roots)
        .map(|(field, kind, glob, domain)| {
            let pos = loaded.pos(&field);
            Dead {
                field,
                kind,
                glob,
                domain,
                line: pos.line,
                column: pos.column,
            }
        })
        .collect();
    dead.sort_by_key(|d| (d.line, d.column));
    Coverage {
        tracked,
        unowned: unowned.len(),
        unowned_groups,
        unowned_examples: unowned
            .iter()
            .take(EXAMPLES)
            .map(|p| p.to_string())
            .collect(),
        policy: config.unowned,
        dead,
    }
}

/// Whether `path` lies below folder `root`.
fn is_below(path: &str, root: &str) -> bool {
    path.strip_prefix(root)
        .is_some_and(|rest| rest.starts_with('/'))
}
