//! Boundary checks end to end: hooks refuse violating commits, `check`
//! finds what `--no-verify` let through, `graph` draws the domains.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::{read, write, Env};

/// The demo shop, initialised; returns the main checkout.
fn shop(env: &Env) -> PathBuf {
    let root = env.fixture_repo("shop");
    env.cn(&root, &["init"]).expect(0);
    root
}

fn wt(env: &Env, domain: &str) -> PathBuf {
    env.path(&format!("shop.worktrees/{domain}"))
}

/// From `apps/web/src/App.tsx`: the api's internal db module.
const DB_IMPORT_FROM_APP: &str = "import { orders } from \"../../../services/api/src/db/orders\";";

/// Puts `line` before the first line of `file`.
fn prepend(file: &Path, line: &str) {
    write(file, &format!("{line}\n{}", read(file)));
}

fn commit(env: &Env, dir: &Path, message: &str) -> common::Run {
    env.git(dir, &["add", "-A"]);
    env.git_run(dir, &["commit", "-qm", message])
}

#[test]
fn fixture_is_clean_at_head() {
    let env = Env::new();
    let root = shop(&env);
    let run = env.cn(&root, &["check", "--all", "--json"]).expect(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["violations"],
        serde_json::json!([]),
        "{}",
        run.stdout
    );
    assert!(
        report["files_checked"].as_u64().unwrap() >= 25,
        "{}",
        run.stdout
    );
    assert_eq!(
        report["unresolved"],
        serde_json::json!([]),
        "{}",
        run.stdout
    );
    assert!(report["external"]["react"].as_u64().unwrap() >= 1);
}

#[test]
fn importing_another_domains_internals_is_refused_then_the_fix_passes() {
    let env = Env::new();
    shop(&env);
    let web = wt(&env, "web");
    let file = web.join("apps/web/src/hooks/useOrders.ts");
    let original = read(&file);
    write(
        &file,
        &format!(
            "import {{ listOrders }} from \"../../../../services/api/src/db/orders\";\n{original}"
        ),
    );
    let run = commit(&env, &web, "reach into the api's db");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("apps/web/src/hooks/useOrders.ts:1:28: exports: `web` imports services/api/src/db/orders.ts, an internal file of `api`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: import from api's exports instead: services/api/src/client/**"),
        "{}",
        run.stderr
    );
    // The fix: go through the api's client.
    write(
        &file,
        &format!("import {{ ShopClient }} from \"@shop/api/client\";\n{original}"),
    );
    let run = commit(&env, &web, "use the client");
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn changing_another_domains_file_is_refused() {
    let env = Env::new();
    shop(&env);
    let web = wt(&env, "web");
    write(
        &web.join("services/api/src/routes/orders.ts"),
        "export const hacked = true;\n",
    );
    let run = commit(&env, &web, "edit the api");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "services/api/src/routes/orders.ts:1:1: scope: `web` changes a file of `api`"
        ),
        "{}",
        run.stderr
    );
    // Shared files are fine.
    env.git(
        &web,
        &[
            "restore",
            "--staged",
            "--worktree",
            "services/api/src/routes/orders.ts",
        ],
    );
    write(&web.join("README.md"), "# Shop\n\nNow with docs.\n");
    assert_eq!(commit(&env, &web, "docs").code, 0);
}

#[test]
fn forbidden_edge_inside_a_domain_is_refused() {
    let env = Env::new();
    shop(&env);
    let api = wt(&env, "api");
    let route = api.join("services/api/src/routes/users.ts");
    prepend(&route, "import { users } from \"../db/users\";");
    let run = commit(&env, &api, "route talks to the db");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("services/api/src/routes/users.ts:1:23: forbid: imports from services/api/src/routes/** may not reach services/api/src/db/**"),
        "{}",
        run.stderr
    );
}

#[test]
fn no_verify_commits_are_caught_by_check_range() {
    let env = Env::new();
    let root = shop(&env);
    let web = wt(&env, "web");
    let file = web.join("apps/web/src/App.tsx");
    prepend(&file, DB_IMPORT_FROM_APP);
    env.git(&web, &["add", "-A"]);
    env.git(&web, &["commit", "-qm", "sneak it in", "--no-verify"]);
    let run = env
        .cn(&root, &["check", "--range", "main..domain/web", "--json"])
        .expect(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let v = &report["violations"][0];
    assert_eq!(v["file"], "apps/web/src/App.tsx");
    assert_eq!(v["line"], 1);
    assert_eq!(v["column"], 24);
    assert_eq!(v["rule"], "exports");
    assert_eq!(v["domain"], "web");
    assert_eq!(v["import"], "../../../services/api/src/db/orders");
    assert_eq!(v["target"], "services/api/src/db/orders.ts");
    assert_eq!(report["files_checked"], 1);
    // SARIF for code scanning.
    let sarif = env
        .cn(&root, &["check", "--range", "main..domain/web", "--sarif"])
        .expect(1);
    let sarif: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "exports");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "apps/web/src/App.tsx"
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startColumn"],
        24
    );
    // The text form names file, line, column and rule.
    let text = env
        .cn(&root, &["check", "--range", "main..domain/web"])
        .expect(1);
    assert!(
        text.stdout
            .starts_with("apps/web/src/App.tsx:1:24: exports: "),
        "{}",
        text.stdout
    );
}

#[test]
fn graph_shows_declared_and_actual_edges() {
    let env = Env::new();
    let root = shop(&env);
    let run = env.cn(&root, &["graph"]).expect(0);
    assert!(
        run.stdout.starts_with("digraph domains {"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\"web\" -> \"api\""), "{}", run.stdout);
    let mermaid = env.cn(&root, &["graph", "--format", "mermaid"]).expect(0);
    assert!(mermaid.stdout.starts_with("graph LR"), "{}", mermaid.stdout);
    let json = env.cn(&root, &["graph", "--json"]).expect(0);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let web_api = v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["from"] == "web" && e["to"] == "api")
        .unwrap();
    assert_eq!(web_api["declared"], true);
    assert!(web_api["imports"].as_u64().unwrap() >= 1);
    assert_eq!(web_api["violations"], 0);
}

#[test]
fn odd_files_are_handled_not_fatal() {
    let env = Env::new();
    shop(&env);
    let web = wt(&env, "web");
    let dir = web.join("apps/web/src/odd");
    // A syntax error that still has an import before it.
    write(
        &dir.join("broken.ts"),
        "import { x } from \"./ok\";\nexport const = = ;\n",
    );
    write(&dir.join("ok.ts"), "export const x = 1;\n");
    // Binary content with a source extension, and non-UTF-8 text.
    std::fs::write(dir.join("blob.ts"), b"\x00\x01\x02import 'x'\xff\xfe").unwrap();
    std::fs::write(
        dir.join("latin1.ts"),
        b"// caf\xe9\nimport { x } from \"./ok\";\n",
    )
    .unwrap();
    // A huge generated file.
    write(
        &dir.join("generated.ts"),
        &"export const v = 1;\n".repeat(150_000),
    );
    // A symlink leading out of the repository is never followed.
    std::os::unix::fs::symlink("/etc/passwd", dir.join("outside.ts")).unwrap();
    // A non-UTF-8 file name.
    let odd_name = std::ffi::OsStr::from_bytes(b"na\xefve.ts");
    std::fs::write(dir.join(odd_name), "import { x } from \"./ok\";\n").unwrap();
    let run = commit(&env, &web, "odd files");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = env.cn(&web, &["check", "--all", "--json"]).expect(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let errors: Vec<&str> = report["syntax_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(errors.contains(&"apps/web/src/odd/broken.ts"), "{errors:?}");
    assert_eq!(
        report["unresolved"],
        serde_json::json!([]),
        "{}",
        run.stdout
    );
}

#[test]
fn an_import_type_and_the_import_after_it_are_both_checked() {
    let env = Env::new();
    shop(&env);
    let web = wt(&env, "web");
    let file = web.join("apps/web/src/hooks/useOrders.ts");
    // `import("m").T<Args>` breaks tree-sitter's parse, and without a `;`
    // the error swallows the start of the next import.
    prepend(
        &file,
        "export type O = import(\"../../../../services/api/src/db/orders\").Order<{ id: 1 }>\n\
         import { users } from \"../../../../services/api/src/db/users\"",
    );
    let run = commit(&env, &web, "two ways into the api's db");
    assert_eq!(run.code, 1, "{}", run.stderr);
    for at in [
        "useOrders.ts:1:24: exports: ",
        "useOrders.ts:2:23: exports: ",
    ] {
        assert!(run.stderr.contains(at), "{at} in {}", run.stderr);
    }
}

#[test]
fn a_file_that_could_not_be_fully_parsed_is_reported() {
    let env = Env::new();
    shop(&env);
    let web = wt(&env, "web");
    let dir = web.join("apps/web/src/odd");
    write(&dir.join("ok.ts"), "export const x = 1;\n");
    write(
        &dir.join("broken.ts"),
        "type X = import(\"./ok\").T<{ a: 1 }>\nimport { a.b } from \"./ok\"\n",
    );
    let run = commit(&env, &web, "unreadable import");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = env.cn(&web, &["check", "--all"]).expect(0);
    assert!(
        run.stdout.contains(
            "warning: apps/web/src/odd/broken.ts could not be fully parsed: imports may be missing"
        ),
        "{}",
        run.stdout
    );
    let run = env.cn(&web, &["check", "--all", "--json"]).expect(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["imports_may_be_missing"],
        serde_json::json!(["apps/web/src/odd/broken.ts"]),
        "{}",
        run.stdout
    );
}

#[test]
fn a_merge_bringing_in_a_violation_is_refused_by_pre_merge_commit() {
    let env = Env::new();
    shop(&env);
    let web = wt(&env, "web");
    // Someone commits a violation on a side branch, skipping the hook.
    env.git(&web, &["checkout", "-q", "-b", "side"]);
    let file = web.join("apps/web/src/App.tsx");
    prepend(&file, DB_IMPORT_FROM_APP);
    env.git(&web, &["commit", "-qam", "sneak it in", "--no-verify"]);
    env.git(&web, &["checkout", "-q", "domain/web"]);
    write(
        &web.join("apps/web/src/other.ts"),
        "export const other = 1;\n",
    );
    assert_eq!(commit(&env, &web, "diverge").code, 0);
    // Merging it runs pre-merge-commit, which refuses.
    let run = env.git_run(&web, &["merge", "--no-ff", "-m", "merge side", "side"]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("comm-node pre-merge-commit: commit refused"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("apps/web/src/App.tsx:1:24: exports:"),
        "{}",
        run.stderr
    );
    assert_eq!(
        env.git(&web, &["rev-list", "--merges", "--count", "HEAD"]),
        "0"
    );
}
