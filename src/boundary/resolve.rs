//! Resolution: which repository file an import refers to, or which
//! external package.
//!
//! Works on a [`Files`] snapshot (the paths of one git tree or index and a
//! way to read a few of them), never on the live file system, so a check of
//! a staged change or a commit range sees exactly what git will record.
//!
//! - TypeScript/JavaScript: relative paths with extension and index-file
//!   lookup (`./x.js` may name `./x.ts`), the nearest `tsconfig.json` /
//!   `jsconfig.json` with `extends`, `baseUrl` and `paths`, and workspace
//!   packages by their `package.json` name.
//! - Python: source roots (the repository root, every folder holding a
//!   `pyproject.toml`, `setup.py` or `setup.cfg`, and their `src/`),
//!   packages, namespace packages and relative imports.
//! - Rust: the module tree of each crate (`mod x;` → `x.rs` or `x/mod.rs`,
//!   `crate::`, `self::`, `super::`), and other workspace crates by name.

use std::collections::{BTreeSet, HashMap};

use super::links::real_path;
use super::{Import, ImportKind, Lang};

/// The files of one snapshot of the repository.
pub trait Files: Sync {
    /// Every file path, `/`-separated, relative to the root.
    fn paths(&self) -> &BTreeSet<String>;
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
    dirs: BTreeSet<String>,
    ts: TsConfigs,
    packages: HashMap<String, String>,
    py_roots: Vec<String>,
    crates: Vec<Crate>,
}

const TS_EXTENSIONS: &[&str] = &[
    ".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts",
];

impl<'f> Resolver<'f> {
    /// Reads the snapshot's configuration (tsconfig, package.json,
    /// pyproject, Cargo.toml files).
    pub fn new(files: &'f dyn Files) -> Resolver<'f> {
        let mut dirs = BTreeSet::new();
        for path in files.paths() {
            let mut p = path.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                if !dirs.insert(parent.to_owned()) {
                    break;
                }
                p = parent;
            }
        }
        dirs.insert(String::new());
        let mut resolver = Resolver {
            files,
            dirs,
            ts: TsConfigs::default(),
            packages: HashMap::new(),
            py_roots: Vec::new(),
            crates: Vec::new(),
        };
        resolver.ts = TsConfigs::load(files);
        resolver.packages = workspace_packages(files);
        resolver.py_roots = python_roots(&resolver);
        resolver.crates = rust_crates(files);
        resolver
    }

    fn is_file(&self, path: &str) -> bool {
        self.real(path)
            .is_some_and(|p| self.files.paths().contains(p.as_ref()))
    }

    fn is_dir(&self, path: &str) -> bool {
        self.real(path)
            .is_some_and(|p| self.dirs.contains(p.as_ref()))
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

    // ---- TypeScript / JavaScript -------------------------------------

    fn resolve_ts(&self, from: &str, spec: &str) -> Target {
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
        if let Some(file) = self.ts.resolve(from, spec, |p| self.ts_file(p)) {
            return Target::File(file);
        }
        if let Some(file) = self.ts_package(spec) {
            return Target::File(file);
        }
        Target::External(package_name(spec))
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
        let dir = self.packages.get(&name)?;
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

    // ---- Python --------------------------------------------------------

    fn resolve_py(&self, from: &str, import: &Import) -> Vec<Target> {
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

    // ---- Rust ------------------------------------------------------------

    fn resolve_rust(&self, from: &str, import: &Import) -> Target {
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
struct Crate {
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

fn rust_crates(files: &dyn Files) -> Vec<Crate> {
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

fn python_roots(resolver: &Resolver) -> Vec<String> {
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

fn workspace_packages(files: &dyn Files) -> HashMap<String, String> {
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
struct TsConfigs {
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
    fn load(files: &dyn Files) -> TsConfigs {
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

/// JSON with comments and trailing commas (tsconfig's dialect) → JSON.
fn strip_jsonc(text: &str) -> String {
    let without_comments = scan_json(text, |c, rest, out| match (c, rest.first()) {
        ('/', Some('/')) => rest.iter().position(|&c| c == '\n').unwrap_or(rest.len()),
        ('/', Some('*')) => {
            let end = rest.windows(2).skip(1).position(|w| w == ['*', '/']);
            end.map_or(rest.len(), |e| e + 3)
        }
        _ => {
            out.push(c);
            0
        }
    });
    scan_json(&without_comments, |c, rest, out| {
        let next = rest.iter().find(|c| !c.is_whitespace());
        if !(c == ',' && matches!(next, Some('}') | Some(']'))) {
            out.push(c);
        }
        0
    })
}

/// Copies `text`, passing each character outside string literals (and the
/// rest of the input) to `visit`, which writes what it keeps and returns
/// how many of the following characters to skip.
fn scan_json(text: &str, mut visit: impl FnMut(char, &[char], &mut String) -> usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' {
                out.extend(chars.get(i + 1));
                i += 1;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else {
            i += visit(c, &chars[i + 1..], &mut out);
        }
        i += 1;
    }
    out
}

/// The folder of a path (`""` at the root).
pub(crate) fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// `dir` + `rel` without normalization.
pub(crate) fn join_rel(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_owned()
    } else if rel.is_empty() {
        dir.to_owned()
    } else {
        format!("{dir}/{rel}")
    }
}

/// `dir` + a relative path with `.` and `..`; `None` when it leaves the root.
pub(crate) fn join(dir: &str, rel: &str) -> Option<String> {
    normalize(&join_rel(dir, rel))
}

fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem {
        paths: BTreeSet<String>,
        content: HashMap<String, String>,
    }

    impl Files for Mem {
        fn paths(&self) -> &BTreeSet<String> {
            &self.paths
        }
        fn read(&self, path: &str) -> Option<Vec<u8>> {
            self.content.get(path).map(|s| s.as_bytes().to_vec())
        }
    }

    fn mem(files: &[(&str, &str)]) -> Mem {
        Mem {
            paths: files.iter().map(|(p, _)| p.to_string()).collect(),
            content: files
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect(),
        }
    }

    fn import(spec: &str, kind: ImportKind, names: &[&str]) -> Import {
        Import {
            spec: spec.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            line: 1,
            column: 1,
            kind,
            type_only: false,
        }
    }

    fn file(p: &str) -> Vec<Target> {
        vec![Target::File(p.into())]
    }

    #[test]
    fn typescript_relative_index_alias_and_packages() {
        let m = mem(&[
            (
                "tsconfig.base.json",
                r#"{ // comment
                "compilerOptions": { "baseUrl": ".", "paths": { "@shop/shared": ["packages/shared/src/index.ts"], "@shop/shared/*": ["packages/shared/src/*"], }, }, }"#,
            ),
            (
                "apps/web/tsconfig.json",
                r#"{ "extends": "../../tsconfig.base.json" }"#,
            ),
            ("apps/web/src/App.tsx", ""),
            ("apps/web/src/components/index.ts", ""),
            ("apps/web/src/util.ts", ""),
            ("packages/shared/src/index.ts", ""),
            ("packages/shared/src/money.ts", ""),
            (
                "packages/api/package.json",
                r#"{"name": "@shop/api", "main": "./src/main.ts"}"#,
            ),
            ("packages/api/src/main.ts", ""),
        ]);
        let r = Resolver::new(&m);
        let from = "apps/web/src/App.tsx";
        let ts = |spec: &str| r.resolve(from, Lang::Tsx, &import(spec, ImportKind::Import, &[]));
        assert_eq!(ts("./components"), file("apps/web/src/components/index.ts"));
        assert_eq!(ts("./util.js"), file("apps/web/src/util.ts"));
        assert_eq!(ts("@shop/shared"), file("packages/shared/src/index.ts"));
        assert_eq!(
            ts("@shop/shared/money"),
            file("packages/shared/src/money.ts")
        );
        assert_eq!(ts("@shop/api"), file("packages/api/src/main.ts"));
        assert_eq!(ts("react"), vec![Target::External("react".into())]);
        assert_eq!(
            ts("@tanstack/query/x"),
            vec![Target::External("@tanstack/query".into())]
        );
        assert_eq!(ts("./missing"), vec![Target::Unresolved]);
        assert_eq!(ts("../../../../x"), vec![Target::Unresolved]);
    }

    #[test]
    fn python_roots_packages_and_relative_imports() {
        let m = mem(&[
            ("services/pricing/pyproject.toml", ""),
            ("services/pricing/pricing/__init__.py", ""),
            ("services/pricing/pricing/engine.py", ""),
            ("services/pricing/pricing/rules/__init__.py", ""),
            ("services/pricing/pricing/rules/tax.py", ""),
            ("services/pricing/pricing/ns/mod.py", ""),
        ]);
        let r = Resolver::new(&m);
        let from = "services/pricing/pricing/rules/tax.py";
        let py = |spec: &str, names: &[&str]| {
            r.resolve(from, Lang::Python, &import(spec, ImportKind::Import, names))
        };
        assert_eq!(
            py("..engine", &["price"]),
            file("services/pricing/pricing/engine.py")
        );
        assert_eq!(
            py("..", &["engine"]),
            file("services/pricing/pricing/engine.py")
        );
        assert_eq!(
            py(".", &["tax"]),
            file("services/pricing/pricing/rules/tax.py")
        );
        assert_eq!(
            py("pricing.rules", &["tax"]),
            file("services/pricing/pricing/rules/tax.py")
        );
        assert_eq!(
            py("pricing.engine", &[]),
            file("services/pricing/pricing/engine.py")
        );
        assert_eq!(
            py("pricing.engine.Price", &[]),
            file("services/pricing/pricing/engine.py")
        );
        assert_eq!(
            py("pricing.ns", &["mod"]),
            file("services/pricing/pricing/ns/mod.py")
        );
        assert_eq!(py("os.path", &[]), vec![Target::External("os".into())]);
        assert_eq!(
            py("pricing.nothing", &[]),
            file("services/pricing/pricing/__init__.py")
        );
    }

    #[test]
    fn rust_module_tree_and_workspace_crates() {
        let m = mem(&[
            ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
            (
                "crates/engine/Cargo.toml",
                "[package]\nname = \"shop-engine\"\n",
            ),
            ("crates/engine/src/lib.rs", ""),
            ("crates/engine/src/inventory.rs", ""),
            ("crates/engine/src/reserve/mod.rs", ""),
            ("crates/engine/src/reserve/lock.rs", ""),
            ("crates/cli/Cargo.toml", "[package]\nname = \"cli\"\n"),
            ("crates/cli/src/main.rs", ""),
        ]);
        let r = Resolver::new(&m);
        let rs =
            |from: &str, spec: &str, kind| r.resolve(from, Lang::Rust, &import(spec, kind, &[]));
        let lock = "crates/engine/src/reserve/lock.rs";
        assert_eq!(
            rs("crates/engine/src/lib.rs", "inventory", ImportKind::Mod),
            file("crates/engine/src/inventory.rs")
        );
        assert_eq!(
            rs("crates/engine/src/lib.rs", "reserve", ImportKind::Mod),
            file("crates/engine/src/reserve/mod.rs")
        );
        assert_eq!(
            rs("crates/engine/src/reserve/mod.rs", "lock", ImportKind::Mod),
            file(lock)
        );
        assert_eq!(
            rs(lock, "crate::inventory::Inventory", ImportKind::Use),
            file("crates/engine/src/inventory.rs")
        );
        assert_eq!(
            rs(lock, "super::Reservation", ImportKind::Use),
            file("crates/engine/src/reserve/mod.rs")
        );
        assert_eq!(
            rs(lock, "super::super::Sku", ImportKind::Use),
            file("crates/engine/src/lib.rs")
        );
        assert_eq!(
            rs(
                "crates/engine/src/lib.rs",
                "inventory::Inventory",
                ImportKind::Use
            ),
            file("crates/engine/src/inventory.rs")
        );
        assert_eq!(
            rs(
                "crates/cli/src/main.rs",
                "shop_engine::reserve::lock",
                ImportKind::Use
            ),
            file(lock)
        );
        assert_eq!(
            rs("crates/cli/src/main.rs", "std::fmt", ImportKind::Use),
            vec![Target::External("std".into())]
        );
    }

    #[test]
    fn jsonc_is_stripped() {
        let json = strip_jsonc("{\"a\": \"//not a comment\", /* x */ \"b\": [1, 2,],\n // c\n}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["a"], "//not a comment");
        assert_eq!(v["b"], serde_json::json!([1, 2]));
    }
}
