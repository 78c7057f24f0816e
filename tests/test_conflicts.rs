//! `comm-node conflicts` on real domain worktrees made by `comm-node init`:
//! domains editing a shared file on the same or different lines, a branch
//! that conflicts with main itself, and refs left exactly as they were.

mod common;

use std::path::{Path, PathBuf};

use common::{write, Env};
use serde_json::Value;

const CONFIG: &str = "project: app
shared: [\"package.json\"]
domains:
  api:
    scope: [\"api/**\"]
  web:
    scope: [\"web/**\"]
  docs:
    scope: [\"docs/**\"]
";

/// A package.json of twelve lines; `edit` replaces line `n` (1-based).
fn package(edit: Option<(usize, &str)>) -> String {
    let mut lines: Vec<String> = (1..=12)
        .map(|i| format!("  \"dep{i}\": \"1.0.{i}\","))
        .collect();
    lines.insert(0, "{".into());
    lines.push("}".into());
    if let Some((n, text)) = edit {
        lines[n] = text.to_owned();
    }
    lines.join("\n") + "\n"
}

fn app(env: &Env) -> PathBuf {
    let base = package(None);
    env.app(&[
        ("comm.yaml", CONFIG),
        ("package.json", base.as_str()),
        ("api/a.ts", "export const a = 1;\n"),
        ("web/w.ts", "export {};\n"),
        ("docs/d.md", "# docs\n"),
    ])
}

/// Commits `files` in `dir` (through the installed hooks).
fn commit(env: &Env, dir: &Path, files: &[(&str, &str)], message: &str) {
    for (path, text) in files {
        write(&dir.join(path), text);
    }
    env.git(dir, &["add", "-A"]);
    env.git(dir, &["commit", "-qm", message]);
}

fn conflicts_json(env: &Env, root: &Path, code: i32) -> Value {
    let run = env.cn(root, &["--json", "conflicts"]).expect(code);
    serde_json::from_str(&run.stdout).unwrap()
}

/// The pair `left`+`right` from a JSON report.
fn pair<'a>(report: &'a Value, left: &str, right: &str) -> &'a Value {
    report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["left"] == left && p["right"] == right)
        .unwrap_or_else(|| panic!("no pair {left}+{right} in {report:#}"))
}

#[test]
fn nothing_ahead_of_main_is_nothing_to_merge() {
    let env = Env::new();
    let root = app(&env);
    let run = env.cn(&root, &["conflicts"]).expect(0);
    assert_eq!(
        run.stdout,
        "no domain branch is ahead of main: nothing to merge\n"
    );
    let report = conflicts_json(&env, &root, 0);
    assert_eq!(report["branches"], serde_json::json!([]));
    assert_eq!(report["pairs"], serde_json::json!([]));
}

#[test]
fn edits_to_different_lines_of_a_shared_file_are_clean() {
    let env = Env::new();
    let root = app(&env);
    let api = package(Some((2, "  \"dep2\": \"2.0.0\",")));
    let web = package(Some((11, "  \"dep11\": \"3.0.0\",")));
    commit(
        &env,
        &env.worktree("api"),
        &[
            ("package.json", &api),
            ("api/a.ts", "export const a = 2;\n"),
        ],
        "api: bump dep2",
    );
    commit(
        &env,
        &env.worktree("web"),
        &[("package.json", &web)],
        "web: bump dep11",
    );
    commit(
        &env,
        &env.worktree("docs"),
        &[("docs/d.md", "# more docs\n")],
        "docs",
    );
    let run = env.cn(&root, &["conflicts"]).expect(0);
    assert_eq!(
        run.stdout,
        "no conflicts: 3 domain branches ahead of main, 6 trial merges, all clean\n"
    );
    let report = conflicts_json(&env, &root, 0);
    let domains: Vec<&str> = report["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, ["api", "docs", "web"]);
    assert_eq!(report["branches"][0]["ahead"], 1);
    assert_eq!(report["branches"][0]["branch"], "domain/api");
    assert_eq!(pair(&report, "api", "web")["merged_on"], "main-tip");
    assert_eq!(pair(&report, "main", "api")["merged_on"], "main");
}

#[test]
fn edits_to_the_same_line_of_a_shared_file_conflict_when_both_land() {
    let env = Env::new();
    let root = app(&env);
    let before = env.refs(&root);
    let api = package(Some((5, "  \"dep5\": \"2.0.0\",")));
    let web = package(Some((5, "  \"dep5\": \"9.9.9\",")));
    commit(
        &env,
        &env.worktree("api"),
        &[("package.json", &api)],
        "api: dep5 2.0",
    );
    commit(
        &env,
        &env.worktree("web"),
        &[("package.json", &web)],
        "web: dep5 9.9",
    );
    commit(
        &env,
        &env.worktree("docs"),
        &[("docs/d.md", "# more docs\n")],
        "docs",
    );
    let refs = env.refs(&root);
    assert_ne!(refs, before);

    let run = env.cn(&root, &["conflicts"]).expect(1);
    assert_eq!(run.stderr, "");
    let text = &run.stdout;
    assert!(
        text.starts_with(
            "api + web: 1 conflicting file (when both land on main)\n    package.json\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("1 of 6 trial merges conflict (3 domain branches ahead of main)"),
        "{text}"
    );
    assert!(
        text.contains("comm-node --as api send --to web \"package.json: who edits what?\""),
        "{text}"
    );
    assert!(text.contains("comm-node reserve PATH"), "{text}");
    assert!(
        !text.contains("comm-node update (it merges"),
        "no branch conflicts with main: {text}"
    );

    let report = conflicts_json(&env, &root, 1);
    let clash = pair(&report, "api", "web");
    assert_eq!(clash["paths"], serde_json::json!(["package.json"]));
    assert_eq!(clash["merged_on"], "main-tip");
    for (left, right) in [
        ("main", "api"),
        ("main", "web"),
        ("main", "docs"),
        ("api", "docs"),
        ("docs", "web"),
    ] {
        assert_eq!(
            pair(&report, left, right)["paths"],
            serde_json::json!([]),
            "{left}+{right}"
        );
    }
    assert_eq!(env.refs(&root), refs, "conflicts moved a ref");
    assert_eq!(env.git(&root, &["status", "--porcelain"]), "");
}

#[test]
fn a_branch_conflicting_with_main_is_told_to_rebase_and_paired_on_its_merge_base() {
    let env = Env::new();
    let root = app(&env);
    commit(
        &env,
        &env.worktree("api"),
        &[(
            "package.json",
            &package(Some((5, "  \"dep5\": \"2.0.0\","))),
        )],
        "api: dep5 2.0",
    );
    commit(
        &env,
        &env.worktree("web"),
        &[(
            "package.json",
            &package(Some((5, "  \"dep5\": \"9.9.9\","))),
        )],
        "web: dep5 9.9",
    );
    commit(
        &env,
        &root,
        &[(
            "package.json",
            &package(Some((5, "  \"dep5\": \"3.0.0\","))),
        )],
        "main: dep5 3.0",
    );

    let run = env.cn(&root, &["conflicts"]).expect(1);
    let text = &run.stdout;
    assert!(
        text.contains("main + api: 1 conflicting file\n    package.json\n"),
        "{text}"
    );
    assert!(text.contains("main + web: 1 conflicting file\n"), "{text}");
    assert!(
        text.contains("api + web: 1 conflicting file (on their merge base)\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "hint: a branch that conflicts with main: in its worktree run comm-node update"
        ),
        "{text}"
    );

    let report = conflicts_json(&env, &root, 1);
    assert_eq!(pair(&report, "api", "web")["merged_on"], "merge-base");
    assert_eq!(report["branches"][0]["behind"], 1);
}

#[test]
fn a_domain_without_a_branch_is_skipped() {
    let env = Env::new();
    let root = app(&env);
    commit(
        &env,
        &env.worktree("api"),
        &[("api/a.ts", "export const a = 3;\n")],
        "api",
    );
    env.git(
        &root,
        &[
            "worktree",
            "remove",
            "--force",
            env.worktree("web").to_str().unwrap(),
        ],
    );
    env.git(&root, &["branch", "-D", "domain/web"]);
    let report = conflicts_json(&env, &root, 0);
    assert_eq!(report["branches"].as_array().unwrap().len(), 1);
    assert_eq!(report["pairs"].as_array().unwrap().len(), 1);
}

#[test]
fn outside_a_repository_is_a_usage_error() {
    let env = Env::new();
    let dir = env.path("plain");
    std::fs::create_dir_all(&dir).unwrap();
    let run = env.cn(&dir, &["conflicts"]).expect(2);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn help_explains_what_is_merged() {
    let env = Env::new();
    let run = env.cn(&env.path(""), &["conflicts", "--help"]).expect(0);
    assert!(run.stdout.contains("merge queue"), "{}", run.stdout);
    assert!(run.stdout.contains("Exits 1"), "{}", run.stdout);
}

#[test]
fn a_broken_comm_yaml_is_a_usage_error_naming_the_line() {
    let env = Env::new();
    let root = app(&env);
    write(
        &root.join("comm.yaml"),
        "project: app\ndomains:\n  api: {scope: [\"api/**\"\n",
    );
    let run = env.cn(&root, &["conflicts"]).expect(2);
    assert!(run.stderr.contains("comm.yaml"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

/// The shared-file clash of `edits_to_the_same_line…`, for the tests below.
fn clashing(env: &Env) -> PathBuf {
    let root = app(env);
    let api = package(Some((5, "  \"dep5\": \"2.0.0\",")));
    let web = package(Some((5, "  \"dep5\": \"9.9.9\",")));
    commit(env, &env.worktree("api"), &[("package.json", &api)], "api");
    commit(env, &env.worktree("web"), &[("package.json", &web)], "web");
    root
}

#[test]
fn concurrent_runs_agree_and_leave_the_repository_sound() {
    let env = Env::new();
    let root = clashing(&env);
    let refs = env.refs(&root);
    let expected = env.cn(&root, &["--json", "conflicts"]).expect(1).stdout;
    let children: Vec<_> = (0..6)
        .map(|_| {
            let mut cmd = std::process::Command::new(common::BIN);
            cmd.args(["--json", "conflicts"])
                .current_dir(&root)
                .stdout(std::process::Stdio::piped());
            env.hermetic(&mut cmd);
            cmd.spawn().unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }
    assert_eq!(env.refs(&root), refs);
    env.git(&root, &["fsck", "--no-dangling"]);
}

#[test]
fn runs_killed_midway_leave_refs_and_objects_sound() {
    let env = Env::new();
    let root = clashing(&env);
    let refs = env.refs(&root);
    let expected = env.cn(&root, &["--json", "conflicts"]).expect(1).stdout;
    for delay_ms in [0, 1, 2, 4, 8, 12, 16, 24, 32, 48] {
        let mut cmd = std::process::Command::new(common::BIN);
        cmd.args(["--json", "conflicts"])
            .current_dir(&root)
            .stdout(std::process::Stdio::null());
        env.hermetic(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL; it may have finished already
        child.wait().unwrap();
        assert_eq!(env.refs(&root), refs, "after a kill at {delay_ms} ms");
        env.git(&root, &["fsck", "--no-dangling"]);
    }
    let again = env.cn(&root, &["--json", "conflicts"]).expect(1).stdout;
    assert_eq!(again, expected);
}
