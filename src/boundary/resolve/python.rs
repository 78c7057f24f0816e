//! Python resolution: packages, namespace packages and relative imports,
//! found under source roots.
//!
//! Roots, tried longest first: the repository root, the roots declared in
//! comm.yaml (`python: {roots: [...]}`, at the top level and per domain),
//! every folder holding a `pyproject.toml`, `setup.py` or `setup.cfg` and
//! its `src/`, and a top-level `src/`. When none holds an absolute import's
//! top-level name, two roots implied by the importing file itself are
//! tried, as Python would find them when the file's package is run:
//! the folder above the file's top package (the first ancestor without
//! `__init__.py`), and the folder above an ancestor named like the import
//! (a file of `py/app/api/` importing `app.web` runs from `py`).
//! A top-level name that is still not found but names a package folder of
//! the repository is reported as unresolved, with a hint naming the root to
//! declare, never counted as an external package.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::paths::{dir_of, join_rel};
use super::{Import, Paths, Resolver, Target};

/// Where the repository's Python code is, for imports no root resolves.
#[derive(Debug, Default)]
pub(super) struct PyLayout {
    /// Every folder holding a Python file, directly or below.
    code_dirs: BTreeSet<String>,
    /// The names a root implied by an importing file can hold: every
    /// folder holding code and every module file, by name (a top-level
    /// name not among them, like most external packages', skips that search).
    module_names: HashSet<String>,
    /// Folders that can be top-level packages, by name: a folder with
    /// `__init__.py` in one without, or the topmost folder of a run of
    /// folders holding Python files.
    top_packages: HashMap<String, Vec<String>>,
}

impl PyLayout {
    pub(super) fn scan(paths: &Paths) -> PyLayout {
        let mut code_dirs = BTreeSet::new();
        let mut direct = BTreeSet::new();
        let mut inits = BTreeSet::new();
        let mut module_names = HashSet::new();
        // Sorted paths mostly keep a folder's files together: a repeat
        // of the last folder skips the walk up.
        let mut last_dir = None;
        for path in paths {
            let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
            let Some(stem) = name
                .strip_suffix(".py")
                .or_else(|| name.strip_suffix(".pyi"))
            else {
                continue;
            };
            if !module_names.contains(stem) {
                module_names.insert(stem.to_owned());
            }
            if stem == "__init__" {
                inits.insert(dir.to_owned());
            }
            if last_dir == Some(dir) || direct.contains(dir) {
                continue;
            }
            last_dir = Some(dir);
            direct.insert(dir.to_owned());
            let mut d = dir;
            while !d.is_empty() && code_dirs.insert(d.to_owned()) {
                module_names.insert(d.rsplit('/').next().unwrap_or(d).to_owned());
                d = dir_of(d);
            }
        }
        let mut top_packages: HashMap<String, Vec<String>> = HashMap::new();
        for dir in direct.iter().chain(&inits) {
            // Climb to the top of the package (or of the run of code folders).
            let mut top = dir.as_str();
            loop {
                let parent = dir_of(top);
                let climbs = if inits.contains(dir) {
                    inits.contains(parent)
                } else {
                    direct.contains(parent) && !parent.is_empty()
                };
                if parent.is_empty() || !climbs {
                    break;
                }
                top = parent;
            }
            if top.is_empty() {
                continue;
            }
            let name = top.rsplit('/').next().unwrap_or(top).to_owned();
            let folders = top_packages.entry(name).or_default();
            if !folders.iter().any(|f| f == top) {
                folders.push(top.to_owned());
            }
        }
        for folders in top_packages.values_mut() {
            folders.sort();
        }
        PyLayout {
            code_dirs,
            module_names,
            top_packages,
        }
    }
}

impl Resolver<'_> {
    pub(super) fn resolve_py(&self, from: &str, import: &Import) -> Vec<Target> {
        let spec = import.spec.as_str();
        let dots = spec.len() - spec.trim_start_matches('.').len();
        let module = &spec[dots..];
        if dots > 0 {
            // `from ..pkg import x`: the package `dots - 1` levels above the file's.
            let mut base = dir_of(from).to_owned();
            for _ in 1..dots {
                match base.rsplit_once('/') {
                    Some((parent, _)) => base = parent.to_owned(),
                    None if !base.is_empty() => base = String::new(),
                    None => return vec![Target::Unresolved],
                }
            }
            let dir = if module.is_empty() {
                base
            } else {
                join_rel(&base, &module.replace('.', "/"))
            };
            return self.py_from(&dir, import);
        }
        let first = module.split('.').next().unwrap_or(module);
        for root in &self.layout.py_roots {
            if let Some(targets) = self.py_under(root, module, import, false) {
                return targets;
            }
        }
        let implied = if self.layout.py.module_names.contains(first) {
            self.implied_py_roots(from, first)
        } else {
            Vec::new()
        };
        for root in implied {
            if self.layout.py_roots.contains(&root) {
                continue;
            }
            if let Some(targets) = self.py_under(&root, module, import, true) {
                return targets;
            }
        }
        if self.layout.py.top_packages.contains_key(first) {
            return vec![Target::Unresolved];
        }
        vec![Target::External(first.to_owned())]
    }

    /// `module` (absolute, dotted) under `root`, when its top-level
    /// package is there; `strict`: a folder counts only if it holds code.
    fn py_under(
        &self,
        root: &str,
        module: &str,
        import: &Import,
        strict: bool,
    ) -> Option<Vec<Target>> {
        let first = module.split('.').next().unwrap_or(module);
        let top = join_rel(root, first);
        let holds_code = || {
            self.layout.py.code_dirs.contains(&top)
                || self.is_file(&format!("{top}.py"))
                || self.is_file(&format!("{top}.pyi"))
        };
        if strict && !holds_code() {
            return None;
        }
        let dir = join_rel(root, &module.replace('.', "/"));
        if self.py_module(&dir).is_some() {
            return Some(self.py_from(&dir, import));
        }
        // Local top package, but the rest is missing (or an attribute).
        self.py_module(&top)
            .is_some()
            .then(|| self.py_prefix(root, module))
    }

    /// The roots the importing file implies for top-level name `first`:
    /// the folder above its top package, then the folders above its
    /// ancestors named `first`, outermost first.
    fn implied_py_roots(&self, from: &str, first: &str) -> Vec<String> {
        let mut top = dir_of(from);
        while !top.is_empty() && self.is_init_dir(top) {
            top = dir_of(top);
        }
        let mut roots = vec![top.to_owned()];
        let mut named = Vec::new();
        let mut dir = dir_of(from);
        while !dir.is_empty() {
            let (parent, name) = dir.rsplit_once('/').unwrap_or(("", dir));
            if name == first {
                named.push(parent.to_owned());
            }
            dir = parent;
        }
        roots.extend(named.into_iter().rev());
        roots
    }

    fn is_init_dir(&self, dir: &str) -> bool {
        self.is_file(&join_rel(dir, "__init__.py")) || self.is_file(&join_rel(dir, "__init__.pyi"))
    }

    /// Why a Python import resolved to nothing, and what to do.
    pub(super) fn py_hint(&self, from: &str, import: &Import) -> Option<String> {
        let spec = import.spec.as_str();
        let module = spec.trim_start_matches('.');
        if module.len() < spec.len() {
            let dir = match dir_of(from) {
                "" => "the repository root",
                dir => dir,
            };
            return Some(format!(
                "`{spec}` is relative to {dir}, and no module is there; fix the dots or the name"
            ));
        }
        let first = module.split('.').next().unwrap_or(module);
        let folders = self.layout.py.top_packages.get(first)?;
        let shown: Vec<&str> = folders.iter().take(3).map(String::as_str).collect();
        let more = if folders.len() > shown.len() {
            ", …"
        } else {
            ""
        };
        let root = dir_of(&folders[0]);
        let root = if root.is_empty() { "." } else { root };
        Some(format!(
            "`{first}` is a package folder of this repository ({}{more}) that no Python root holds; declare the folder above it in comm.yaml: `python: {{ roots: [{root}] }}`",
            shown.join(", ")
        ))
    }

    /// A module path without extension → its file, `__init__.py`, or
    /// namespace folder.
    fn py_module(&self, dir: &str) -> Option<String> {
        for candidate in [
            format!("{dir}.py"),
            format!("{dir}.pyi"),
            join_rel(dir, "__init__.py"),
            join_rel(dir, "__init__.pyi"),
        ] {
            if self.is_file(&candidate) {
                return Some(candidate);
            }
        }
        (!dir.is_empty() && self.is_dir(dir)).then(|| dir.to_owned())
    }

    /// Targets of `from <dir> import names`: the submodules among the
    /// names, plus the module itself unless every name is a submodule.
    fn py_from(&self, dir: &str, import: &Import) -> Vec<Target> {
        let names: Vec<&String> = import.names.iter().filter(|n| n.as_str() != "*").collect();
        let mut targets: Vec<Target> = names
            .iter()
            .filter_map(|name| self.py_module(&join_rel(dir, name)))
            .map(Target::File)
            .collect();
        let all_submodules = !names.is_empty() && targets.len() == import.names.len();
        if !all_submodules {
            match self.py_module(dir) {
                Some(module) => targets.push(Target::File(module)),
                None if targets.is_empty() => targets.push(Target::Unresolved),
                None => {}
            }
        }
        targets
    }

    /// The longest prefix of a dotted module that exists under `root`.
    fn py_prefix(&self, root: &str, module: &str) -> Vec<Target> {
        let parts: Vec<&str> = module.split('.').collect();
        for n in (1..parts.len()).rev() {
            if let Some(found) = self.py_module(&join_rel(root, &parts[..n].join("/"))) {
                return vec![Target::File(found)];
            }
        }
        vec![Target::Unresolved]
    }
}

/// The repository root, the `declared` roots, and the roots of Python
/// projects (folders with `pyproject.toml`, `setup.py` or `setup.cfg`, and
/// their `src/`), longest first.
pub(super) fn python_roots(resolver: &Resolver, declared: &[String]) -> Vec<String> {
    let mut roots = vec![String::new()];
    roots.extend(
        declared
            .iter()
            .map(|r| if r == "." { String::new() } else { r.clone() }),
    );
    for path in resolver.files.paths() {
        let name = path.rsplit('/').next().unwrap_or(path);
        if matches!(name, "pyproject.toml" | "setup.py" | "setup.cfg") {
            let dir = dir_of(path).to_owned();
            let src = join_rel(&dir, "src");
            if resolver.is_dir(&src) {
                roots.push(src);
            }
            roots.push(dir);
        }
    }
    if resolver.is_dir("src") {
        roots.push("src".to_owned());
    }
    roots.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    roots.dedup();
    roots
}
