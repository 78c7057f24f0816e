//! Resolution: which repository file an import refers to, or which
//! external package.
//!
//! Works on a [`Files`] snapshot (the paths of one git tree or index and a
//! way to read a few of them), never on the live file system, so a check of
//! a staged change or a commit range sees exactly what git will record.
//!
//! - `typescript`: relative paths with extension and index-file lookup,
//!   tsconfig/jsconfig `paths` and `baseUrl` (with `extends`), workspace
//!   packages by their `package.json` name;
//! - `python`: source roots (declared in comm.yaml, detected, or implied
//!   by the importing file), packages, namespace packages, relative imports;
//! - `rust`: the module tree of each crate, and other workspace crates by
//!   library name or path dependency (`cargo` reads the manifests).
//!
//! An import that names something inside the repository is never counted
//! as an external package: it resolves to its file, or it is
//! [`Target::Unresolved`] and [`Resolver::hint`] says what to declare.

mod cargo;
mod jsonc;
mod paths;
mod python;
mod rust;
#[cfg(test)]
mod tests;
mod typescript;

use std::collections::{BTreeSet, HashMap, HashSet};

use super::links::real_path;
use super::{Import, ImportKind, Lang};
pub use crate::git::Paths;
use cargo::{rust_crates, Crate};
use python::{python_roots, PyLayout};
use typescript::{workspace_packages, TsConfigs};

pub(crate) use paths::{dir_of, join, join_rel};

/// The files of one snapshot of the repository.
pub trait Files: Sync {
    /// Every file path, `/`-separated, relative to the root.
    fn paths(&self) -> &Paths;
    /// The bytes of a file, for the few config files resolution reads.
    fn read(&self, path: &str) -> Option<Vec<u8>>;
    /// The target of the symbolic link at `path`, as recorded.
    fn link_target(&self, _path: &str) -> Option<&str> {
        None
    }
    /// Whether the snapshot holds any symbolic link.
    fn has_links(&self) -> bool {
        false
    }
}

/// Where an import leads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum Target {
    /// A file (or, for a Python namespace package, a folder) of the repository.
    File(String),
    /// A package from outside the repository (`react`, `os`, `std`).
    External(String),
    /// Looks local but names nothing that exists.
    Unresolved,
}

/// Resolves imports against one snapshot.
pub struct Resolver<'f> {
    files: &'f dyn Files,
    layout: Layout,
}

/// What a resolver learns of a snapshot before resolving: its folders and
/// configuration. Owned, so that it can be scanned on another thread
/// while the rest of a check gets ready.
pub struct Layout {
    dirs: BTreeSet<String>,
    /// The last component of every folder (`api` for `services/api`).
    dir_names: HashSet<String>,
    ts: TsConfigs,
    packages: HashMap<String, String>,
    py_roots: Vec<String>,
    py: PyLayout,
    crates: Vec<Crate>,
}

impl Layout {
    /// Scans `files` (see [`Resolver::new`]).
    pub fn scan(files: &dyn Files, python_roots_declared: &[String]) -> Layout {
        Resolver::new(files, python_roots_declared).layout
    }
}

impl<'f> Resolver<'f> {
    /// Reads the snapshot's configuration (tsconfig, package.json,
    /// pyproject, Cargo.toml files); `python_roots_declared` are the
    /// Python source roots comm.yaml declares.
    pub fn new(files: &'f dyn Files, python_roots_declared: &[String]) -> Resolver<'f> {
        let mut dirs = BTreeSet::new();
        // Sorted paths mostly keep a folder's files together: a repeat
        // of the last folder skips the walk up.
        let mut last_dir = None;
        for path in files.paths() {
            let dir = dir_of(path);
            if last_dir == Some(dir) {
                continue;
            }
            last_dir = Some(dir);
            let mut p = path.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                if !dirs.insert(parent.to_owned()) {
                    break;
                }
                p = parent;
            }
        }
        dirs.insert(String::new());
        let dir_names = dirs
            .iter()
            .map(|d| d.rsplit('/').next().unwrap_or(d).to_owned())
            .collect();
        let mut resolver = Resolver::with_layout(
            files,
            Layout {
                dirs,
                dir_names,
                ts: TsConfigs::load(files),
                packages: workspace_packages(files),
                py_roots: Vec::new(),
                py: PyLayout::scan(files.paths()),
                crates: rust_crates(files),
            },
        );
        resolver.layout.py_roots = python_roots(&resolver, python_roots_declared);
        resolver
    }

    /// A resolver of `files` with their `layout`, scanned before with
    /// [`Layout::scan`] of the same files.
    pub fn with_layout(files: &'f dyn Files, layout: Layout) -> Resolver<'f> {
        Resolver { files, layout }
    }

    fn is_file(&self, path: &str) -> bool {
        self.real(path)
            .is_some_and(|p| self.files.paths().contains(p.as_ref()))
    }

    fn is_dir(&self, path: &str) -> bool {
        self.real(path)
            .is_some_and(|p| self.layout.dirs.contains(p.as_ref()))
    }

    /// `path` with every symbolic link on it replaced by its target; `None`
    /// when a link leads outside the repository or links loop.
    fn real<'p>(&self, path: &'p str) -> Option<std::borrow::Cow<'p, str>> {
        if !self.files.has_links() {
            return Some(path.into());
        }
        real_path(self.files, path).map(Into::into)
    }

    /// Where `import`, found in file `from`, leads. A Python `from M import
    /// a, b` may lead to several submodules.
    /// A file reached through a symbolic link is given as its real path.
    pub fn resolve(&self, from: &str, lang: Lang, import: &Import) -> Vec<Target> {
        let targets = match lang {
            Lang::TypeScript | Lang::Tsx => vec![self.resolve_ts(from, &import.spec)],
            Lang::Python => self.resolve_py(from, import),
            Lang::Rust => vec![self.resolve_rust(from, import)],
        };
        targets
            .into_iter()
            .map(|t| match t {
                Target::File(f) => match self.real(&f) {
                    Some(real) => Target::File(real.into_owned()),
                    None => Target::Unresolved,
                },
                other => other,
            })
            .collect()
    }

    /// Why `import`, found in file `from`, resolved to nothing, and what
    /// to do about it (asked only for unresolved imports).
    pub fn hint(&self, from: &str, lang: Lang, import: &Import) -> Option<String> {
        match lang {
            Lang::Python => self.py_hint(from, import),
            Lang::TypeScript | Lang::Tsx => self.ts_hint(from, &import.spec),
            Lang::Rust => self.rust_hint(from, import),
        }
    }
}
