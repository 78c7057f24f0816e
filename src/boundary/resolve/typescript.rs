//! TypeScript / JavaScript resolution: relative paths with extension and
//! index-file lookup (`./x.js` may name `./x.ts`), the nearest
//! `tsconfig.json` / `jsconfig.json` with `extends`, `baseUrl` and `paths`,
//! and workspace packages by their `package.json` name.
//!
//! A bare specifier that names something of the repository is never an
//! external package: a workspace package whose file is missing, or a path
//! that names a repository file from one of the importing file's folders
//! (`services/api/src/db` without a `baseUrl` mapping it) is unresolved,
//! and [`Resolver::hint`] says what to fix.

use std::collections::HashMap;

use super::jsonc::strip_jsonc;
use super::paths::{dir_of, join, join_rel, normalize};
use super::{Files, Resolver, Target};

const TS_EXTENSIONS: &[&str] = &[
    ".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts",
];

impl Resolver<'_> {
    pub(super) fn resolve_ts(&self, from: &str, spec: &str) -> Target {
        if spec.starts_with("./") || spec.starts_with("../") || spec == "." || spec == ".." {
            let base = join(dir_of(from), spec);
            return match base.and_then(|b| self.ts_file(&b)) {
                Some(file) => Target::File(file),
                None => Target::Unresolved,
            };
        }
        if spec.starts_with('/') {
            return Target::Unresolved;
        }
        if let Some(file) = self.layout.ts.resolve(from, spec, |p| self.ts_file(p)) {
            return Target::File(file);
        }
        if let Some(file) = self.ts_package(spec) {
            return Target::File(file);
        }
        let name = package_name(spec);
        if self.layout.packages.contains_key(&name) || self.ts_repo_path(from, spec).is_some() {
            return Target::Unresolved;
        }
        Target::External(name)
    }

    /// The repository file a bare specifier names when read as a path from
    /// the importing file's folder or one of its ancestors, with the folder.
    fn ts_repo_path(&self, from: &str, spec: &str) -> Option<(String, String)> {
        let first = spec.split('/').next().unwrap_or(spec);
        if !self.layout.dir_names.contains(first) {
            return None;
        }
        let mut dir = dir_of(from);
        loop {
            if self.is_dir(&join_rel(dir, first)) {
                if let Some(file) = self.ts_file(&join_rel(dir, spec)) {
                    return Some((dir.to_owned(), file));
                }
            }
            if dir.is_empty() {
                return None;
            }
            dir = dir_of(dir);
        }
    }

    /// Why a TS/JS import resolved to nothing, and what to do.
    pub(super) fn ts_hint(&self, from: &str, spec: &str) -> Option<String> {
        if spec.starts_with('.') {
            return Some(format!(
                "no file `{spec}` from {} with a TypeScript or JavaScript extension, nor an index file there; fix the path",
                dir_of(from)
            ));
        }
        if spec.starts_with('/') {
            return Some("absolute paths are not resolved; import relative to the file".into());
        }
        let name = package_name(spec);
        if let Some(dir) = self.layout.packages.get(&name) {
            return Some(format!(
                "`{name}` is the workspace package in {dir}, which has no file for `{spec}`; check the path, or the package's `types`/`main`"
            ));
        }
        let (dir, file) = self.ts_repo_path(from, spec)?;
        let dir = if dir.is_empty() { "." } else { &dir };
        Some(format!(
            "`{spec}` names {file} of this repository, but no tsconfig maps it; set `compilerOptions.baseUrl` to `{dir}` in the tsconfig.json that covers {from}, or import it relatively"
        ))
    }

    /// The file a TS path (without or with extension) names.
    fn ts_file(&self, base: &str) -> Option<String> {
        if self.is_file(base) {
            return Some(base.to_owned());
        }
        // ESM style: `./x.js` written for `./x.ts`.
        for (js, ts) in [
            (".js", &[".ts", ".tsx"][..]),
            (".jsx", &[".tsx"]),
            (".mjs", &[".mts"]),
            (".cjs", &[".cts"]),
        ] {
            if let Some(stem) = base.strip_suffix(js) {
                for ext in ts {
                    let candidate = format!("{stem}{ext}");
                    if self.is_file(&candidate) {
                        return Some(candidate);
                    }
                }
            }
        }
        let with_ext = TS_EXTENSIONS.iter().map(|e| format!("{base}{e}"));
        let index = TS_EXTENSIONS
            .iter()
            .map(|e| join_rel(base, &format!("index{e}")));
        with_ext.chain(index).find(|c| self.is_file(c))
    }

    /// A workspace package by its `package.json` name.
    fn ts_package(&self, spec: &str) -> Option<String> {
        let name = package_name(spec);
        let dir = self.layout.packages.get(&name)?;
        let rest = spec[name.len()..].trim_start_matches('/');
        if !rest.is_empty() {
            return self
                .ts_file(&join_rel(dir, rest))
                .or_else(|| self.ts_file(&join_rel(dir, &format!("src/{rest}"))));
        }
        let manifest = self.files.read(&join_rel(dir, "package.json"))?;
        let manifest: serde_json::Value = serde_json::from_slice(&manifest).ok()?;
        let entries = ["types", "typings", "module", "main"]
            .iter()
            .filter_map(|k| manifest.get(k).and_then(|v| v.as_str()).map(str::to_owned));
        let fallbacks = ["src/index", "index"].iter().map(|s| (*s).to_owned());
        entries
            .chain(fallbacks)
            .find_map(|entry| self.ts_file(&join_rel(dir, entry.trim_start_matches("./"))))
    }
}

pub(super) fn workspace_packages(files: &dyn Files) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for manifest in files
        .paths()
        .iter()
        .filter(|p| p.ends_with("package.json") && !p.contains("node_modules/"))
    {
        let Some(bytes) = files.read(manifest) else {
            continue;
        };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if let Some(name) = json.get("name").and_then(|n| n.as_str()) {
            out.insert(name.to_owned(), dir_of(manifest).to_owned());
        }
    }
    out
}

/// The package part of a bare specifier (`@scope/name/x` → `@scope/name`).
fn package_name(spec: &str) -> String {
    let mut parts = spec.split('/');
    let first = parts.next().unwrap_or(spec);
    if first.starts_with('@') {
        match parts.next() {
            Some(second) => format!("{first}/{second}"),
            None => first.to_owned(),
        }
    } else {
        first.to_owned()
    }
}

/// Every `tsconfig.json` / `jsconfig.json`, with `extends` applied.
#[derive(Debug, Default)]
pub(super) struct TsConfigs {
    /// Folder → its effective `baseUrl` and `paths`.
    by_dir: HashMap<String, TsConfig>,
}

#[derive(Debug, Clone, Default)]
struct TsConfig {
    /// Folder the `paths` are relative to.
    base: String,
    base_url: Option<String>,
    paths: Vec<(String, Vec<String>)>,
}

impl TsConfigs {
    pub(super) fn load(files: &dyn Files) -> TsConfigs {
        let mut by_dir = HashMap::new();
        for path in files.paths() {
            let name = path.rsplit('/').next().unwrap_or(path);
            if (name == "tsconfig.json" || name == "jsconfig.json")
                && !path.contains("node_modules/")
            {
                if let Some(config) = read_tsconfig(files, path, 0) {
                    by_dir.entry(dir_of(path).to_owned()).or_insert(config);
                }
            }
        }
        TsConfigs { by_dir }
    }

    /// Resolves a bare specifier through the nearest config's `paths` and `baseUrl`.
    fn resolve(
        &self,
        from: &str,
        spec: &str,
        file: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        let mut dir = dir_of(from);
        let config = loop {
            if let Some(c) = self.by_dir.get(dir) {
                break c;
            }
            if dir.is_empty() {
                return None;
            }
            dir = dir_of(dir);
        };
        let mut best: Option<(usize, &Vec<String>, &str)> = None;
        for (pattern, targets) in &config.paths {
            let captured = match pattern.split_once('*') {
                None if pattern == spec => Some(""),
                None => None,
                Some((pre, post)) => spec
                    .strip_prefix(pre)
                    .and_then(|s| s.strip_suffix(post))
                    .filter(|_| spec.len() >= pre.len() + post.len()),
            };
            if let Some(captured) = captured {
                let weight = pattern.find('*').unwrap_or(pattern.len() + 1);
                if best.is_none_or(|(w, _, _)| weight > w) {
                    best = Some((weight, targets, captured));
                }
            }
        }
        let paths_base = config.base_url.as_deref().unwrap_or(&config.base);
        if let Some((_, targets, captured)) = best {
            for target in targets {
                let candidate = join_rel(
                    paths_base,
                    target.replace('*', captured).trim_start_matches("./"),
                );
                if let Some(found) = file(&normalize(&candidate)?) {
                    return Some(found);
                }
            }
        }
        let base_url = config.base_url.as_deref()?;
        file(&join_rel(base_url, spec))
    }
}

fn read_tsconfig(files: &dyn Files, path: &str, depth: usize) -> Option<TsConfig> {
    if depth > 8 {
        return None;
    }
    let text = String::from_utf8(files.read(path)?).ok()?;
    let json: serde_json::Value = serde_json::from_str(&strip_jsonc(&text)).ok()?;
    let dir = dir_of(path).to_owned();
    let mut config = match json.get("extends").and_then(|e| e.as_str()) {
        Some(parent) if parent.starts_with('.') => {
            let mut parent_path = join(&dir, parent).unwrap_or_default();
            if !parent_path.ends_with(".json") {
                parent_path.push_str(".json");
            }
            read_tsconfig(files, &parent_path, depth + 1).unwrap_or_default()
        }
        _ => TsConfig::default(),
    };
    if config.base.is_empty() && config.base_url.is_none() && config.paths.is_empty() {
        config.base = dir.clone();
    }
    let options = json.get("compilerOptions");
    if let Some(base_url) = options
        .and_then(|o| o.get("baseUrl"))
        .and_then(|b| b.as_str())
    {
        config.base_url = join(&dir, base_url).or(Some(dir.clone()));
    }
    if let Some(paths) = options
        .and_then(|o| o.get("paths"))
        .and_then(|p| p.as_object())
    {
        config.base = dir.clone();
        config.paths = paths
            .iter()
            .map(|(k, v)| {
                let targets = v.as_array().map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                });
                (k.clone(), targets.unwrap_or_default())
            })
            .collect();
    }
    Some(config)
}
