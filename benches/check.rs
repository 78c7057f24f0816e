//! Boundary-check benchmarks: `check --all` on generated 10k-file Python
//! and TypeScript trees and on 2k-file trees of large files (200-1,000
//! lines, `gen_tree.py --large`), and `check --staged` with 20 changed
//! files, as whole CLI processes.
//!
//! Run with `cargo bench --bench check` (add `-- --files N` for another
//! tree size, `-- --large-files N` for the large-file trees, 0 to skip).
//! Needs python3 for `benches/boundary/gen_tree.py`, which writes the
//! trees, their comm.yaml and the planted violations; the peers' side is `benches/boundary/run_peers.sh`. BENCHMARKS.md records results.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{report, Hermetic};

fn main() {
    let small: usize = common::arg("files", 10_000);
    let large_files: usize = common::arg("large-files", 2_000);
    let dir = tempfile::tempdir().unwrap();
    let env = Hermetic::in_dir(dir.path());
    let trees = [("py", small, false), ("ts", small, false)]
        .into_iter()
        .chain([("py", large_files, true), ("ts", large_files, true)])
        .filter(|(_, n, _)| *n > 0);
    for (lang, files, large) in trees {
        let size = if large { " large" } else { "" };
        let root = dir
            .path()
            .join(format!("tree-{lang}{}", if large { "-large" } else { "" }));
        let planted = generate(lang, &root, files, large);
        env.git(&root, &["init", "-q", "-b", "main"]);
        env.git(&root, &["add", "-A"]);
        env.git(&root, &["commit", "-qm", "generated tree"]);

        let mut all = Vec::new();
        for _ in 0..5 {
            let (d, out) = env.time(&root, &["check", "--all", "--json"]);
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let found: BTreeSet<(String, u64)> = report["violations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    (
                        v["file"].as_str().unwrap().to_owned(),
                        v["line"].as_u64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(
                found, planted,
                "{lang}: violations found differ from the planted ones"
            );
            all.push(d);
        }
        report(
            &format!(
                "check --all, {files}{size} .{lang} files ({} violations found = planted)",
                planted.len()
            ),
            &mut all,
        );

        // 20 changed files in the top domain, staged.
        let changed: Vec<String> = env
            .git(&root, &["ls-files", "--", &format!("*9/*.{lang}")])
            .lines()
            .take(20)
            .map(str::to_owned)
            .collect();
        let comment = if lang == "py" {
            "# touched\n"
        } else {
            "// touched\n"
        };
        for file in &changed {
            let path = root.join(file);
            let mut text = std::fs::read_to_string(&path).unwrap();
            text.push_str(comment);
            std::fs::write(&path, text).unwrap();
        }
        env.git(&root, &["add", "-A"]);
        let mut staged = Vec::new();
        for _ in 0..20 {
            let (d, out) = env.time(&root, &["check", "--staged", "--json"]);
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(report["files_checked"].as_u64().unwrap(), 20);
            staged.push(d);
        }
        report(
            &format!("check --staged, 20 changed .{lang} files in a {files}-file{size} tree"),
            &mut staged,
        );
    }
}

/// Runs the generator; returns the planted violations as (file, line).
fn generate(lang: &str, out: &Path, files: usize, large: bool) -> BTreeSet<(String, u64)> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/boundary/gen_tree.py");
    let status = Command::new("python3")
        .arg(script)
        .args(["--lang", lang, "--files", &files.to_string(), "--out"])
        .arg(out)
        .args(large.then_some("--large"))
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs the generator");
    assert!(status.success());
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("expected_violations.json")).unwrap())
            .unwrap();
    let list = expected.get("violations").unwrap_or(&expected);
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["file"].as_str().unwrap().to_owned(),
                v["line"].as_u64().unwrap(),
            )
        })
        .collect()
}
