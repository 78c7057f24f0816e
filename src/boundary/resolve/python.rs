//! Python resolution: source roots (the repository root, every folder
//! holding a `pyproject.toml`, `setup.py` or `setup.cfg`, and their `src/`),
//! packages, namespace packages and relative imports.

use super::paths::{dir_of, join_rel};
use super::{Import, Resolver, Target};

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
        for root in &self.py_roots {
            let dir = join_rel(root, &module.replace('.', "/"));
            if self.py_module(&dir).is_some() {
                return self.py_from(&dir, import);
            }
            // Local top package, but the rest is missing (or an attribute).
            if self.py_module(&join_rel(root, first)).is_some() {
                return self.py_prefix(root, module);
            }
        }
        vec![Target::External(first.to_owned())]
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

pub(super) fn python_roots(resolver: &Resolver) -> Vec<String> {
    let mut roots = vec![String::new()];
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
    roots.sort_by_key(|r| std::cmp::Reverse(r.len()));
    roots.dedup();
    roots
}
