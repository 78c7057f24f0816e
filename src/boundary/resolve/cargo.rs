//! Cargo manifests, read just enough to resolve imports: each package's
//! library name, folder and root file, and its path dependencies (the
//! names other workspace crates are imported under, `renamed = { package
//! = "x", path = "../x" }` and `workspace = true` included).

use std::collections::HashMap;

use super::paths::{dir_of, join, join_rel};
use super::Files;

/// A Rust package: its library name, folder, `src` folder and root file.
#[derive(Debug, Clone)]
pub(super) struct Crate {
    /// The library name code imports it by (`-` as `_`).
    pub(super) name: String,
    /// The package name, `-` as `_` (differs from `name` with `[lib] name`).
    pub(super) package: String,
    pub(super) dir: String,
    pub(super) src: String,
    pub(super) root: String,
    /// Path dependencies: the name code uses (`-` as `_`) → the folder.
    pub(super) deps: HashMap<String, String>,
}

impl Crate {
    /// The module path of a file (`src/a/b.rs` → `[a, b]`).
    pub(super) fn module_of(&self, file: &str) -> Vec<String> {
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
    pub(super) fn module_dir(&self, file: &str) -> String {
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
    let workspace_deps = files
        .paths()
        .iter()
        .filter(|p| p.ends_with("Cargo.toml"))
        .filter_map(|m| {
            let text = String::from_utf8(files.read(m)?).ok()?;
            text.contains("[workspace")
                .then(|| dependencies(&text, dir_of(m), "workspace."))
        })
        .flatten()
        .collect::<HashMap<String, String>>();
    for manifest in files.paths().iter().filter(|p| p.ends_with("Cargo.toml")) {
        let Some(text) = files.read(manifest).and_then(|b| String::from_utf8(b).ok()) else {
            continue;
        };
        let Some(package) = toml_value(&text, "package", "name") else {
            continue;
        };
        let package = package.replace('-', "_");
        let name = toml_value(&text, "lib", "name")
            .map_or_else(|| package.clone(), |n| n.replace('-', "_"));
        let dir = dir_of(manifest).to_owned();
        let lib = toml_value(&text, "lib", "path").unwrap_or_else(|| "src/lib.rs".to_owned());
        let lib = join_rel(&dir, &lib);
        let root = if files.paths().contains(&lib) {
            lib
        } else {
            join_rel(&dir, "src/main.rs")
        };
        let deps = path_dependencies(&text, &dir, &workspace_deps);
        crates.push(Crate {
            name,
            package,
            deps,
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

/// The path dependencies of the manifest `text` in folder `dir`, resolved
/// through the workspace's own (`workspace_deps`) for `workspace = true`.
fn path_dependencies(
    text: &str,
    dir: &str,
    workspace_deps: &HashMap<String, String>,
) -> HashMap<String, String> {
    let mut deps = dependencies(text, dir, "");
    for (name, target) in deps.iter_mut() {
        if target.is_empty() {
            if let Some(found) = workspace_deps.get(name) {
                *target = found.clone();
            }
        }
    }
    deps.retain(|_, target| !target.is_empty());
    deps
}

/// `name → folder` for every dependency with a `path` in the tables
/// `[{prefix}dependencies]` (and dev-, build-, per-target ones); a
/// `workspace = true` one maps to `""`.
fn dependencies(text: &str, dir: &str, prefix: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    // Some(true): in a dependencies table; Some(false): in `[dependencies.x]`.
    let mut table: Option<bool> = None;
    let mut own: Option<String> = None;
    let is_deps = |name: &str| {
        name.strip_prefix(prefix).is_some_and(|rest| {
            let kind = match rest.strip_prefix("target.") {
                Some(target) => target.rsplit('.').next().unwrap_or(target),
                None => rest,
            };
            matches!(
                kind,
                "dependencies" | "dev-dependencies" | "build-dependencies"
            )
        })
    };
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or(line).trim();
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            own = None;
            table = None;
            if is_deps(section) {
                table = Some(true);
            } else if let Some((parent, name)) = section.rsplit_once('.') {
                if is_deps(parent) {
                    table = Some(false);
                    own = Some(name.trim().trim_matches('"').replace('-', "_"));
                }
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim().trim_matches('"'), value.trim());
        match (table, &own) {
            (Some(true), _) => {
                let fields = value.trim_start_matches('{').trim_end_matches('}');
                let path = inline_field(fields, "path");
                let workspace = inline_field(fields, "workspace").as_deref() == Some("true");
                let target = match path {
                    Some(p) => join(dir, &p).unwrap_or_default(),
                    None if workspace => String::new(),
                    None => continue,
                };
                out.insert(key.replace('-', "_"), target);
            }
            (Some(false), Some(name)) => {
                let v = value.trim_matches('"');
                if key == "path" {
                    out.insert(name.clone(), join(dir, v).unwrap_or_default());
                } else if key == "workspace" && v == "true" {
                    out.entry(name.clone()).or_default();
                }
            }
            _ => {}
        }
    }
    out
}

/// The value of `key` in the body of an inline table (`path = "../x", version = "1"`).
fn inline_field(fields: &str, key: &str) -> Option<String> {
    fields.split(',').find_map(|f| {
        let (k, v) = f.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}
