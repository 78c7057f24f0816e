//! Rust resolution: the module tree of each crate (`mod x;` → `x.rs` or
//! `x/mod.rs`, `crate::`, `self::`, `super::`), and other workspace crates
//! by name.

use super::cargo::Crate;
use super::paths::join_rel;
use super::{Import, ImportKind, Resolver, Target};

impl Resolver<'_> {
    pub(super) fn resolve_rust(&self, from: &str, import: &Import) -> Target {
        let Some(krate) = self.crate_of(from) else {
            return match import.kind {
                ImportKind::Mod => Target::Unresolved,
                _ => Target::External(
                    import
                        .spec
                        .split("::")
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                ),
            };
        };
        let here = krate.module_of(from);
        if import.kind == ImportKind::Mod {
            let dir = krate.module_dir(from);
            let name = &import.spec;
            return [
                join_rel(&dir, &format!("{name}.rs")),
                join_rel(&dir, &format!("{name}/mod.rs")),
            ]
            .into_iter()
            .find(|c| self.is_file(c))
            .map_or(Target::Unresolved, Target::File);
        }
        let segments: Vec<&str> = import
            .spec
            .split("::")
            .filter(|s| !s.is_empty() && *s != "*")
            .collect();
        let Some((&first, rest)) = segments.split_first() else {
            return Target::Unresolved;
        };
        let (target_crate, module): (&Crate, Vec<String>) = match first {
            "crate" => (krate, rest.iter().map(|s| s.to_string()).collect()),
            "self" => (
                krate,
                here.iter()
                    .cloned()
                    .chain(rest.iter().map(|s| s.to_string()))
                    .collect(),
            ),
            "super" => {
                let mut path = here.clone();
                let mut rest = rest;
                path.pop();
                while let Some((&"super", tail)) = rest.split_first() {
                    path.pop();
                    rest = tail;
                }
                (
                    krate,
                    path.into_iter()
                        .chain(rest.iter().map(|s| s.to_string()))
                        .collect(),
                )
            }
            name => {
                // Uniform paths: a module of the current one shadows a crate.
                let local: Vec<String> = here
                    .iter()
                    .cloned()
                    .chain(segments.iter().map(|s| s.to_string()))
                    .collect();
                if import.kind == ImportKind::Use
                    && self.rust_file(krate, &local[..here.len() + 1]).is_some()
                {
                    (krate, local)
                } else if let Some(other) = self.rust_crate_named(krate, name) {
                    (other, rest.iter().map(|s| s.to_string()).collect())
                } else if self.layout.crates.iter().any(|c| c.package == name) {
                    return Target::Unresolved;
                } else {
                    return Target::External(name.to_owned());
                }
            }
        };
        // The longest module prefix that is a file; items live in their module.
        for n in (0..=module.len()).rev() {
            if let Some(file) = self.rust_file(target_crate, &module[..n]) {
                return Target::File(file);
            }
        }
        Target::Unresolved
    }

    /// The file of module `path` in `krate` (the root file for `[]`).
    fn rust_file(&self, krate: &Crate, path: &[String]) -> Option<String> {
        if path.is_empty() {
            return self.is_file(&krate.root).then(|| krate.root.clone());
        }
        let base = join_rel(&krate.src, &path.join("/"));
        [format!("{base}.rs"), join_rel(&base, "mod.rs")]
            .into_iter()
            .find(|c| self.is_file(c))
    }

    fn crate_of(&self, file: &str) -> Option<&Crate> {
        self.layout
            .crates
            .iter()
            .filter(|c| c.dir.is_empty() || file.starts_with(&format!("{}/", c.dir)))
            .max_by_key(|c| c.dir.len())
    }

    /// The workspace crate `name` means in `krate`: a path dependency
    /// (renamed or not) of `krate`, else the crate whose library is `name`.
    fn rust_crate_named(&self, krate: &Crate, name: &str) -> Option<&Crate> {
        match krate.deps.get(name) {
            Some(dir) => self.layout.crates.iter().find(|c| &c.dir == dir),
            None => self.layout.crates.iter().find(|c| c.name == name),
        }
    }

    /// Why a Rust import resolved to nothing, and what to do.
    pub(super) fn rust_hint(&self, from: &str, import: &Import) -> Option<String> {
        let krate = self.crate_of(from)?;
        if import.kind == ImportKind::Mod {
            let dir = krate.module_dir(from);
            let name = &import.spec;
            return Some(format!(
                "no file {} nor {} declares module `{name}`; create it, or fix the name",
                join_rel(&dir, &format!("{name}.rs")),
                join_rel(&dir, &format!("{name}/mod.rs"))
            ));
        }
        let first = import.spec.split("::").next().unwrap_or_default();
        if let Some(other) = self
            .layout
            .crates
            .iter()
            .find(|c| c.package == first && c.name != first)
        {
            return Some(format!(
                "`{first}` is the workspace package in {}, whose library is named `{}`; write `use {}::...`",
                other.dir, other.name, other.name
            ));
        }
        Some(format!(
            "`{}` names no module file of crate `{}` ({}); fix the path",
            import.spec, krate.name, krate.src
        ))
    }
}
