//! Trust at the boundaries: what one domain commits or runs cannot change
//! another domain's files or tasks, or comm-node's own state, by a path the
//! rules did not look at (a deletion, a rename, a symlink, a range no domain
//! is named for, a task import, a reserved name). Each test goes through the
//! hook, `check --range` and the merge queue where they apply.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{write, Env, Run, BIN};
use serde_json::Value;

/// The demo shop, initialised; returns the main checkout.
fn shop(env: &Env) -> PathBuf {
    let root = env.fixture_repo("shop");
    env.cn(&root, &["init"]).expect(0);
    root
}

fn wt(env: &Env, domain: &str) -> PathBuf {
    env.path(&format!("shop.worktrees/{domain}"))
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// Commits what is staged, through the hooks.
fn commit(env: &Env, dir: &Path, message: &str) -> Run {
    env.git_run(dir, &["commit", "-qm", message])
}

/// Commits what is staged, skipping the hooks.
fn sneak(env: &Env, dir: &Path, message: &str) {
    env.git(dir, &["commit", "-qm", message, "--no-verify"]);
}

/// `rule file` for each error of a `--json` check report.
fn errors(report: &Value) -> Vec<String> {
    report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["severity"] == "error")
        .map(|v| {
            format!(
                "{} {}",
                v["rule"].as_str().unwrap(),
                v["file"].as_str().unwrap()
            )
        })
        .collect()
}

/// Submits web's branch and runs the queue once; returns the queue's
/// decision subjects and whether main still holds `kept`.
fn queue_refuses_web(env: &Env, root: &Path, kept: &str) -> String {
    let main_before = env.git(root, &["rev-parse", "main"]);
    env.cn(&wt(env, "web"), &["submit"]).expect(0);
    env.cn(root, &["queue", "run", "--once"]).expect(0);
    assert_eq!(env.git(root, &["rev-parse", "main"]), main_before);
    env.git(root, &["cat-file", "-e", &format!("main:{kept}")]);
    env.git(root, &["log", "-1", "--format=%s%n%b", "comm"])
}

#[test]
fn deleting_or_moving_another_domains_file_is_refused_by_the_hook_check_and_queue() {
    let env = Env::new();
    let root = shop(&env);
    let web = wt(&env, "web");
    // A deletion.
    env.git(&web, &["rm", "-q", "services/api/src/db/orders.ts"]);
    let run = commit(&env, &web, "drop the api's orders");
    assert_ne!(run.code, 0, "the hook let a deletion through");
    assert!(
        run.stderr
            .contains("services/api/src/db/orders.ts:1:1: scope: `web` changes a file of `api`"),
        "{}",
        run.stderr
    );
    sneak(&env, &web, "drop the api's orders");
    // A rename out of the api into web's own scope.
    env.git(
        &web,
        &["mv", "services/api/src/http.ts", "apps/web/src/x.ts"],
    );
    let run = commit(&env, &web, "take the api's http");
    assert_ne!(run.code, 0, "the hook let a rename through");
    assert!(
        run.stderr
            .contains("services/api/src/http.ts:1:1: scope: `web` changes a file of `api`"),
        "{}",
        run.stderr
    );
    sneak(&env, &web, "take the api's http");
    // check --range sees both, from web's worktree and from main's checkout.
    for dir in [&web, &root] {
        let run = env.cn(dir, &["--json", "check", "--range", "main..domain/web"]);
        let report = json(&run.expect(1));
        let found = errors(&report);
        for want in [
            "scope services/api/src/db/orders.ts",
            "scope services/api/src/http.ts",
        ] {
            assert!(found.iter().any(|f| f == want), "{want} missing: {found:?}");
        }
    }
    // The queue refuses the branch; api's files stay on main.
    let decision = queue_refuses_web(&env, &root, "services/api/src/db/orders.ts");
    assert!(decision.contains("rejected"), "{decision}");
    assert!(
        decision.contains("services/api/src/http.ts:1:1: scope"),
        "{decision}"
    );
    env.git(&root, &["cat-file", "-e", "main:services/api/src/http.ts"]);
}

#[test]
fn an_import_through_a_committed_symlink_is_checked_against_its_real_target() {
    let env = Env::new();
    let root = shop(&env);
    let web = wt(&env, "web");
    // A link inside web's own scope is fine, and imports follow it.
    std::os::unix::fs::symlink("components", web.join("apps/web/src/parts")).unwrap();
    write(
        &web.join("apps/web/src/uses_parts.ts"),
        "import { Cart } from \"./parts/Cart\";\nexport const c = Cart;\n",
    );
    // A link out of the repository reaches no domain's files: it only warns.
    std::os::unix::fs::symlink("/etc", web.join("apps/web/src/etc")).unwrap();
    env.git(&web, &["add", "-A"]);
    let run = commit(&env, &web, "a link inside web");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: apps/web/src/etc: symlink: `web` commits a symlink to `/etc`, which leads outside the repository"),
        "{}",
        run.stderr
    );
    // A link into the api's internals, and an import written through it.
    std::os::unix::fs::symlink(
        "../../../services/api/src/db",
        web.join("apps/web/src/apidb"),
    )
    .unwrap();
    write(
        &web.join("apps/web/src/page.ts"),
        "import { listOrders } from \"./apidb/orders\";\nexport const l = listOrders;\n",
    );
    env.git(&web, &["add", "-A"]);
    let run = commit(&env, &web, "reach the api's db through a link");
    assert_ne!(run.code, 0, "the hook let the link through");
    for want in [
        "apps/web/src/apidb:1:1: symlink: `web` commits a symlink to `../../../services/api/src/db`, which leads to services/api/src/db, a path of `api`",
        "apps/web/src/page.ts:1:28: exports: `web` imports services/api/src/db/orders.ts, an internal file of `api`",
    ] {
        assert!(run.stderr.contains(want), "{want} missing:\n{}", run.stderr);
    }
    sneak(&env, &web, "reach the api's db through a link");
    let report = json(
        &env.cn(&root, &["--json", "check", "--range", "main..domain/web"])
            .expect(1),
    );
    let found = errors(&report);
    assert_eq!(
        found,
        ["symlink apps/web/src/apidb", "exports apps/web/src/page.ts"],
        "{report}"
    );
    assert_eq!(report["unresolved"], serde_json::json!([]), "{report}");
    let decision = queue_refuses_web(&env, &root, "services/api/src/db/orders.ts");
    assert!(decision.contains("rejected"), "{decision}");
    assert!(
        decision.contains("apps/web/src/page.ts:1:28: exports"),
        "{decision}"
    );
}

/// A web commit that also edits an api route (hooks skipped).
fn mixed_commit(env: &Env, web: &Path) {
    write(&web.join("apps/web/src/note.ts"), "export const n = 1;\n");
    write(
        &web.join("services/api/src/routes/orders.ts"),
        "export const hacked = true;\n",
    );
    env.git(web, &["add", "-A"]);
    sneak(env, web, "web and api at once");
}

#[test]
fn a_range_ending_at_a_domain_branch_is_checked_as_that_domain() {
    let env = Env::new();
    let root = shop(&env);
    let web = wt(&env, "web");
    write(
        &web.join("services/api/src/routes/orders.ts"),
        "export const hacked = true;\n",
    );
    env.git(&web, &["add", "-A"]);
    sneak(&env, &web, "edit the api from web");
    // From main's checkout, with no --as: the range names web's branch.
    for range in ["main..domain/web", "main..refs/heads/domain/web"] {
        let report = json(
            &env.cn(&root, &["--json", "check", "--range", range])
                .expect(1),
        );
        assert_eq!(
            errors(&report),
            ["scope services/api/src/routes/orders.ts"],
            "{report}"
        );
        assert_eq!(report["violations"][0]["domain"], "web");
    }
}

#[test]
fn a_range_no_domain_is_named_for_checks_each_commit_as_the_domain_owning_its_files() {
    let env = Env::new();
    let root = shop(&env);
    let web = wt(&env, "web");
    mixed_commit(&env, &web);
    let head = env.git(&web, &["rev-parse", "HEAD"]);
    let range = format!("main..{head}");
    let run = env.cn(&root, &["check", "--range", &range]).expect(1);
    assert!(
        run.stdout.contains("scope: commit ")
            && run
                .stdout
                .contains("changes files of 2 domains (services/api/src/routes/orders.ts of `api`, apps/web/src/note.ts of `web`)"),
        "{}",
        run.stdout
    );
    // A commit that stays in one domain passes as that domain's.
    let api = wt(&env, "api");
    write(
        &api.join("services/api/src/extra.ts"),
        "export const e = 1;\n",
    );
    env.git(&api, &["add", "-A"]);
    sneak(&env, &api, "api work");
    let head = env.git(&api, &["rev-parse", "HEAD"]);
    let run = env
        .cn(&root, &["check", "--range", &format!("main..{head}")])
        .expect(0);
    assert!(run.stdout.contains("0 violations"), "{}", run.stdout);
}

#[test]
fn a_check_names_the_rules_it_ran_and_those_it_did_not() {
    let env = Env::new();
    let root = shop(&env);
    let web = wt(&env, "web");
    mixed_commit(&env, &web);
    // --all checks imports, not changes: it must say so, not imply scope passed.
    let run = env.cn(&root, &["check", "--all"]).expect(0);
    assert!(
        run.stdout
            .contains("rules checked: may-import, exports, forbid, external\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("not checked: scope, unowned, symlink (--all checks the tree, not a change)"),
        "{}",
        run.stdout
    );
    let report = json(&env.cn(&root, &["--json", "check", "--all"]).expect(0));
    let not_checked: Vec<&str> = report["not_checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["rule"].as_str().unwrap())
        .collect();
    assert_eq!(not_checked, ["scope", "unowned", "symlink", "reservation"]);
    // A range checks the change rules and says reservations were not.
    let report = json(
        &env.cn(&web, &["--json", "check", "--range", "main..HEAD"])
            .expect(1),
    );
    let rules: Vec<&str> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "scope",
            "unowned",
            "symlink",
            "may-import",
            "exports",
            "forbid",
            "external"
        ]
    );
    assert_eq!(report["not_checked"][0]["rule"], "reservation");
    // A staged check outside any domain says scope did not run.
    write(&root.join("README.md"), "# shop\n");
    env.git(&root, &["add", "README.md"]);
    let run = env.cn(&root, &["check", "--staged"]).expect(0);
    assert!(
        run.stdout.contains(
            "not checked: scope, unowned, symlink (no domain is acting (use --as DOMAIN))"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("reservation"), "{}", run.stdout);
}

/// Runs `comm-node ARGS` in `dir` with `input` on standard input.
fn cn_stdin(env: &Env, dir: &Path, args: &[&str], input: &str) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    env.hermetic(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_domain_cannot_rewrite_tasks_by_importing_them() {
    let env = Env::new();
    let root = shop(&env);
    let added = env
        .cn(
            &root,
            &[
                "--as",
                "human",
                "--json",
                "task",
                "add",
                "Orders endpoint",
                "--domain",
                "api",
            ],
        )
        .expect(0);
    let id = json(&added)["id"].as_str().unwrap().to_owned();
    env.cn(&wt(&env, "api"), &["task", "claim", &id]).expect(0);
    let before = env.git(&root, &["rev-parse", "comm"]);
    let task_before = env.git(
        &root,
        &["show", &format!("comm:{}", common::task_path(&id))],
    );
    // The command is refused to web...
    env.cn(&wt(&env, "web"), &["task", "done", &id]).expect(1);
    // ...and so is the same change written as an import.
    let line = format!(
        "{{\"id\":\"{id}\",\"title\":\"Orders endpoint\",\"status\":\"closed\",\"assignee\":\"web\",\"priority\":0}}\n"
    );
    let run = cn_stdin(
        &env,
        &wt(&env, "web"),
        &["task", "import", "--beads", "-"],
        &line,
    )
    .expect(1);
    assert!(
        run.stderr.contains("`web` cannot import tasks")
            && run.stderr.contains("the human's alone"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert_eq!(env.git(&root, &["rev-parse", "comm"]), before);
    assert_eq!(
        env.git(
            &root,
            &["show", &format!("comm:{}", common::task_path(&id))]
        ),
        task_before
    );
    // --as web outside the worktree is the same domain, refused the same.
    cn_stdin(
        &env,
        &root,
        &["--as", "web", "task", "import", "--beads", "-"],
        &line,
    )
    .expect(1);
    assert_eq!(env.git(&root, &["rev-parse", "comm"]), before);
    let help = env.cn(&root, &["task", "import", "--help"]).expect(0);
    assert!(help.stdout.contains("human's alone"), "{}", help.stdout);
}

#[test]
fn a_domain_cannot_take_a_name_comm_node_writes_under() {
    for name in ["queue", "comm-node"] {
        let env = Env::new();
        let config = format!(
            "project: shop\ndomains:\n  web:\n    scope: [\"web/**\"]\n  {name}:\n    scope: [\"q/**\"]\n"
        );
        let root = env.repo("repo", &[("comm.yaml", &config)]);
        let before = env.refs(&root);
        let run = env.cn(&root, &["init"]).expect(2);
        assert!(
            run.stderr
                .contains(&format!("comm.yaml:5:3: `{name}` is reserved")),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("queue"), "{}", run.stderr);
        assert_eq!(env.refs(&root), before);
    }
}
