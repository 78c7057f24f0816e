//! Files no domain owns and globs that match nothing are visible before an
//! agent's commit is refused: `init --dry-run`, `init`, `check --all` and
//! `status` report them as warnings, with counts, examples and positions.

mod common;

use common::Env;

/// `bakcend/**` is a typo for `backend/**`; `client/**` and `Cargo.lock`
/// match nothing either, nor does the Python root `pyy`.
const CONFIG: &str = "project: app
shared: [Cargo.lock]
python: { roots: [pyy] }
domains:
  api:
    scope: [\"bakcend/**\"]
  web:
    scope: [\"web/**\"]
    exports: [\"web/client/**\"]
";

const FILES: &[(&str, &str)] = &[
    ("comm.yaml", CONFIG),
    ("backend/server.py", "import os\n"),
    ("web/app.ts", "export const x = 1;\n"),
    (".env", "X=1\n"),
    (".gitignore", "target/\n"),
    ("docs/a.md", "a\n"),
    ("docs/b.md", "b\n"),
];

/// Every warning the text output of a command must hold.
fn assert_warns(what: &str, text: &str) {
    for expected in [
        "warning: 6 of 7 tracked files belong to no domain: docs/ (2 files), .env, .gitignore, backend/ (1 file), comm.yaml",
        "hint: add them to a domain's scope or to `shared` in comm.yaml (`unowned: deny` refuses any commit that changes them)",
        "comm.yaml:2:10: shared `Cargo.lock` matches no tracked file",
        "comm.yaml:3:19: python root `pyy` matches no tracked file",
        "comm.yaml:6:13: scope `bakcend/**` of `api` matches no tracked file",
        "comm.yaml:9:15: exports `web/client/**` of `web` matches no tracked file",
    ] {
        assert!(text.contains(expected), "{what} lacks `{expected}`:\n{text}");
    }
}

fn assert_json(what: &str, coverage: &serde_json::Value) {
    assert_eq!(coverage["tracked"], 7, "{what}: {coverage:#}");
    assert_eq!(coverage["unowned"], 6, "{what}: {coverage:#}");
    assert_eq!(coverage["policy"], "deny", "{what}: {coverage:#}");
    assert_eq!(coverage["unowned_groups"][0]["path"], "docs/");
    assert_eq!(coverage["unowned_groups"][0]["files"], 2);
    let dead: Vec<&str> = coverage["dead"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        dead,
        [
            "shared[0]",
            "python.roots[0]",
            "domains.api.scope[0]",
            "domains.web.exports[0]"
        ],
        "{what}"
    );
}

#[test]
fn unowned_files_and_dead_globs_are_reported_by_init_check_and_status() {
    let env = Env::new();
    let root = env.repo("app", FILES);

    let run = env.cn(&root, &["init", "--dry-run"]).expect(0);
    assert_warns("init --dry-run", &run.stdout);
    let run = env.cn(&root, &["--json", "init", "--dry-run"]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_json("init --dry-run --json", &json["coverage"]);

    let run = env.cn(&root, &["init"]).expect(0);
    assert_warns("init", &run.stdout);

    // Warnings, not violations: check --all passes.
    let run = env.cn(&root, &["check", "--all"]).expect(0);
    assert_warns("check --all", &run.stdout);
    let run = env.cn(&root, &["check", "--all", "--json"]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_json("check --all --json", &json["coverage"]);
    assert_eq!(json["violations"], serde_json::json!([]));

    let run = env.cn(&root, &["status"]).expect(0);
    assert!(
        run.stdout.contains("coverage: 6 of 7 tracked files belong to no domain; 4 globs of comm.yaml match no file (comm-node check --all lists them)"),
        "{}",
        run.stdout
    );
    let run = env.cn(&root, &["status", "--json"]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_json("status --json", &json["coverage"]);
}

#[test]
fn a_covered_tree_warns_nothing_and_unowned_allow_silences_unowned_files() {
    let env = Env::new();
    let config = "project: app\nshared: [comm.yaml]\ndomains:\n  web:\n    scope: [\"web/**\"]\n";
    let root = env.repo("app", &[("comm.yaml", config), ("web/app.ts", "")]);
    for args in [&["init", "--dry-run"][..], &["check", "--all"], &["status"]] {
        let run = env.cn(&root, args).expect(0);
        assert!(!run.stdout.contains("warning"), "{args:?}: {}", run.stdout);
        assert!(
            !run.stdout.contains("coverage:"),
            "{args:?}: {}",
            run.stdout
        );
    }
    let allow = "project: app\nunowned: allow\ndomains:\n  web:\n    scope: [\"web/**\"]\n";
    common::write(&root.join("comm.yaml"), allow);
    env.git(&root, &["commit", "-qam", "allow unowned files"]);
    let run = env.cn(&root, &["check", "--all"]).expect(0);
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
}
