//! The real code import extraction is checked on, shared by
//! `tests/test_reference.rs` (against each language's own parser) and the
//! extractor's unit test of `grammars/` (against the spec queries).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Folder names left out of the Python corpus (the standard library's tests
/// and installed packages).
pub const PYTHON_EXCLUDED: [&str; 3] = ["site-packages", "test", "tests"];

/// Python: the installed standard library and the demo fixture.
pub fn python_dirs(manifest: &Path) -> Vec<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
        ])
        .output()
        .expect("python3 is installed");
    let stdlib = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    vec![stdlib, manifest.join("fixtures/demo")]
}

/// TS/JS: rxjs's sources, the demo fixture and the samples of what
/// tree-sitter-typescript cannot parse.
pub fn typescript_dirs(manifest: &Path, modules: &Path) -> Vec<PathBuf> {
    vec![
        modules.join("rxjs/src"),
        manifest.join("fixtures/demo"),
        manifest.join("fixtures/typescript"),
    ]
}

/// `typescript` and `rxjs` from npm, installed once under `tmp` (the
/// target directory's `tmp/`); their `node_modules`.
pub fn node_modules(tmp: &Path) -> PathBuf {
    let prefix = tmp.join("reference-npm");
    let modules = prefix.join("node_modules");
    if !modules.join("typescript/package.json").exists() || !modules.join("rxjs/src").exists() {
        std::fs::create_dir_all(&prefix).unwrap();
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&prefix)
            .args(["typescript@5.6", "rxjs@7.8"])
            .status()
            .expect("npm is installed (the TypeScript reference needs node and npm)");
        assert!(status.success(), "npm install typescript rxjs failed");
    }
    modules
}

/// Rust: this repository's sources, tests and benches, and the crates of
/// the cargo registry it builds with.
pub fn rust_dirs(manifest: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![
        manifest.join("src"),
        manifest.join("tests"),
        manifest.join("benches"),
    ];
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let wanted = [
        "git2-",
        "serde-1",
        "clap_builder-",
        "regex-automata-",
        "tokio-1",
    ];
    if let Some(registry) = home.map(|h| h.join("registry/src")) {
        for index in std::fs::read_dir(&registry).into_iter().flatten().flatten() {
            for krate in std::fs::read_dir(index.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = krate.file_name().to_string_lossy().into_owned();
                if wanted.iter().any(|w| name.starts_with(w)) {
                    dirs.push(krate.path().join("src"));
                }
            }
        }
    }
    dirs
}

/// The files under `dir` (recursively, in name order, skipping folders named
/// in `excluded`) whose path `wanted` accepts.
pub fn files(dir: &Path, excluded: &[&str], wanted: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if !name.is_some_and(|n| excluded.contains(&n.as_str())) {
                found.extend(files(&path, excluded, wanted));
            }
        } else if wanted(&path) {
            found.push(path);
        }
    }
    found
}
