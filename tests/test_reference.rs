//! Extraction agrees with each language's own parser on real code: Python's
//! `ast` module over the installed standard library, and the TypeScript
//! compiler API over rxjs's TypeScript sources, the demo fixture and the
//! samples of what tree-sitter-typescript cannot parse (fixtures/typescript).
//!
//! The comparison itself is `tests/reference/compare.py` (see its README);
//! these tests run it against the binary under test. The TypeScript side
//! installs `typescript` and `rxjs` from the npm registry into the target
//! directory on first use.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_comm-node");

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compare(lang: &str, corpus: &[&Path], extra_env: &[(&str, &Path)], excludes: &[&str]) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg(manifest().join("tests/reference/compare.py"))
        .args(["--lang", lang]);
    for dir in excludes {
        cmd.args(["--exclude-dir", dir]);
    }
    cmd.args(corpus).env("COMM_NODE", BIN);
    for (key, value) in extra_env {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("python3 runs compare.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "comm-node disagrees with the {lang} reference:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn python_matches_ast_on_the_standard_library() {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
        ])
        .output()
        .expect("python3 is installed");
    let stdlib = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let report = compare(
        "py",
        &[&stdlib, &manifest().join("fixtures/demo")],
        &[],
        &["site-packages", "test", "tests"],
    );
    println!("{report}");
}

/// `typescript` and `rxjs` from npm, installed once into the target dir.
fn node_modules() -> PathBuf {
    let prefix = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("reference-npm");
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

#[test]
fn typescript_matches_the_compiler_api_on_rxjs() {
    let modules = node_modules();
    let report = compare(
        "ts",
        &[
            &modules.join("rxjs/src"),
            &manifest().join("fixtures/demo"),
            &manifest().join("fixtures/typescript"),
        ],
        &[("TS_MODULE", &modules.join("typescript"))],
        &[],
    );
    println!("{report}");
}
