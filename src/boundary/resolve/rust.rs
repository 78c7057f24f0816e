//! Rust resolution: the module tree of each crate (`mod x;` → `x.rs` or
//! `x/mod.rs`, `crate::`, `self::`, `super::`), and other workspace crates
//! by name.

use super::paths::{dir_of, join_rel};
use super::{Files, Import, ImportKind, Resolver, Target};

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
                } else if let Some(other) = self.crates.iter().find(|c| c.name == name) {
                    (other, rest.iter().map(|s| s.to_string()).collect())
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
        self.crates
            .iter()
            .filter(|c| c.dir.is_empty() || file.starts_with(&format!("{}/", c.dir)))
            .max_by_key(|c| c.dir.len())
    }
}

/// A Rust package: its library name, folder, `src` folder and root file.
#[derive(Debug, Clone)]
pub(super) struct Crate {
    name: String,
    dir: String,
    src: String,
    root: String,
}

impl Crate {
    /// The module path of a file (`src/a/b.rs` → `[a, b]`).
    fn module_of(&self, file: &str) -> Vec<String> {
        let Some(rel) = file.strip_prefix(&format!("{}/", self.src)) else {
            return Vec::new();
        };
        let rel = rel.strip_suffix(".rs").unwrap_or(rel);
        let mut parts: Vec<String> = rel.split('/').map(str::to_owned).collect();
        if matches!(
            parts.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            parts.pop();
        }
        parts
    }

    /// Where `mod x;` in `file` looks for `x`.
    fn module_dir(&self, file: &str) -> String {
        let dir = dir_of(file).to_owned();
        let stem = file
            .rsplit('/')
            .next()
            .unwrap_or(file)
            .trim_end_matches(".rs");
        if matches!(stem, "mod" | "lib" | "main") || file == self.root {
            dir
        } else {
            join_rel(&dir, stem)
        }
    }
}

pub(super) fn rust_crates(files: &dyn Files) -> Vec<Crate> {
    let mut crates = Vec::new();
    for manifest in files.paths().iter().filter(|p| p.ends_with("Cargo.toml")) {
        let Some(text) = files.read(manifest).and_then(|b| String::from_utf8(b).ok()) else {
            continue;
        };
        let Some(package) = toml_value(&text, "package", "name") else {
            continue;
        };
        let name = toml_value(&text, "lib", "name")
            .unwrap_or(package)
            .replace('-', "_");
        let dir = dir_of(manifest).to_owned();
        let lib = toml_value(&text, "lib", "path").unwrap_or_else(|| "src/lib.rs".to_owned());
        let lib = join_rel(&dir, &lib);
        let root = if files.paths().contains(&lib) {
            lib
        } else {
            join_rel(&dir, "src/main.rs")
        };
        crates.push(Crate {
            name,
            src: dir_of(&root).to_owned(),
            dir,
            root,
        });
    }
    crates
}

/// `key = "value"` inside `[section]` of a simple TOML file.
fn toml_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = "";
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim();
            continue;
        }
        if current != section {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() == key {
            return Some(v.trim().trim_matches('"').to_owned());
        }
    }
    None
}
