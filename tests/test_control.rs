//! The hand of god without `up`: `halt`/`resume`, `task reassign|edit|cancel`
//! and `inject`, each one event only the human may write, respected by the
//! task commands, the merge queue, `verify` and `sync` (the `up` side is in
//! `test_control_up.rs`).

mod common;

use std::path::Path;
use std::process::Command;

use common::{queue, Env, API_WEB};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Adds a task as the human (`args` after the title); its id.
fn add(env: &Env, root: &Path, title: &str, args: &[&str]) -> String {
    let mut all = vec!["--json", "task", "add", title];
    all.extend_from_slice(args);
    json(&env.cn(root, &all).expect(0).stdout)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn show(env: &Env, root: &Path, id: &str) -> Value {
    json(
        &env.cn(root, &["--json", "task", "show", id])
            .expect(0)
            .stdout,
    )
}

/// The subjects of `domain`'s unread inbox.
fn inbox(env: &Env, root: &Path, domain: &str) -> Vec<String> {
    let run = env.cn(root, &["--as", domain, "--json", "inbox"]).expect(0);
    json(&run.stdout)
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_owned())
        .collect()
}

fn comm_tip(env: &Env, root: &Path) -> String {
    env.git(root, &["rev-parse", "comm"])
}

/// Runs `args`, expects exit `code` with `said` on stderr, and checks that
/// comm did not move.
#[track_caller]
fn refused(env: &Env, root: &Path, args: &[&str], code: i32, said: &str) {
    let before = comm_tip(env, root);
    let run = env.cn(root, args).expect(code);
    assert!(run.stderr.contains(said), "{args:?}: {}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{args:?}: {}", run.stderr);
    assert_eq!(comm_tip(env, root), before, "{args:?} changed comm");
}

#[test]
fn a_halted_domain_claims_nothing_until_the_human_resumes_it() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let id = add(
        &env,
        &root,
        "build the orders endpoint",
        &["--domain", "api"],
    );

    let halted = env
        .cn(
            &root,
            &["--json", "halt", "api", "--reason", "schema rewrite"],
        )
        .expect(0);
    assert_eq!(json(&halted.stdout)["halted"], serde_json::json!(["api"]));
    assert_eq!(env.last_sender(&root), "human");
    let file = env.git(&root, &["show", "comm:halts/api.yaml"]);
    assert!(
        file.contains("reason: schema rewrite") && file.contains("by: human"),
        "{file}"
    );

    for args in [
        &["--as", "api", "task", "next"][..],
        &["--as", "api", "task", "claim", &id],
    ] {
        refused(&env, &root, args, 1, "domain `api` is halted by human");
        let run = env.cn(&root, args);
        assert!(run.stderr.contains("schema rewrite"), "{}", run.stderr);
        assert!(
            run.stderr.contains("comm-node resume api"),
            "{}",
            run.stderr
        );
    }
    // web is not halted.
    let other = add(&env, &root, "the page", &["--domain", "web"]);
    env.cn(&root, &["--as", "web", "task", "claim", &other])
        .expect(0);

    let status = env.cn(&root, &["status"]).expect(0).stdout;
    assert!(status.contains("HALTED"), "{status}");
    assert!(
        status.contains("api is halted by human") && status.contains("schema rewrite"),
        "{status}"
    );
    let status = json(&env.cn(&root, &["--json", "status"]).expect(0).stdout);
    let api = &status["domains"][0];
    assert_eq!(api["name"], "api");
    assert_eq!(api["halted"]["reason"], "schema rewrite");
    assert_eq!(status["domains"][1]["halted"], Value::Null);
    assert!(inbox(&env, &root, "api")
        .iter()
        .any(|s| s.starts_with("halt api by human")));

    env.cn(&root, &["resume", "api"]).expect(0);
    assert_eq!(
        env.git_run(&root, &["show", "comm:halts/api.yaml"]).code,
        128
    );
    let next = env
        .cn(&root, &["--as", "api", "--json", "task", "next"])
        .expect(0);
    assert_eq!(json(&next.stdout)["id"], id.as_str());
    env.cn(&root, &["verify"]).expect(0);
}

#[test]
fn halt_all_and_resume_all_cover_every_domain() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    env.cn(&root, &["halt", "--all", "--reason", "main is red"])
        .expect(0);
    let names = env.git(&root, &["ls-tree", "--name-only", "comm", "halts/"]);
    assert_eq!(names, "halts/api.yaml\nhalts/web.yaml");
    let run = env.cn(&root, &["--json", "resume", "--all"]).expect(0);
    assert_eq!(
        json(&run.stdout)["resumed"],
        serde_json::json!(["api", "web"])
    );
    refused(&env, &root, &["resume", "--all"], 1, "no domain is halted");
    env.cn(&root, &["verify"]).expect(0);
}

#[test]
fn only_the_human_steers_and_bad_input_changes_nothing() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let id = add(&env, &root, "the job", &["--domain", "api"]);
    let file = env.path("contract.yaml");
    common::write(&file, "openapi: 3.1.0\n");
    let f = file.to_str().unwrap();

    let human_only = "only the human may";
    refused(
        &env,
        &root,
        &["--as", "api", "halt", "web", "--reason", "x"],
        1,
        human_only,
    );
    refused(
        &env,
        &root,
        &["--as", "web", "task", "reassign", &id, "--to", "web"],
        1,
        human_only,
    );
    refused(
        &env,
        &root,
        &["--as", "web", "task", "edit", &id, "--priority", "0"],
        1,
        human_only,
    );
    refused(
        &env,
        &root,
        &["--as", "web", "task", "cancel", &id, "--reason", "x"],
        1,
        human_only,
    );
    // From inside a domain worktree, `--as human` cannot help.
    let before = comm_tip(&env, &root);
    let run = env
        .cn(&env.worktree("api"), &["inject", "web", "c.yaml", f])
        .expect(1);
    assert!(run.stderr.contains(human_only), "{}", run.stderr);
    env.cn(&env.worktree("api"), &["--as", "human", "resume", "--all"])
        .expect(1);
    assert_eq!(comm_tip(&env, &root), before);

    refused(
        &env,
        &root,
        &["halt", "nosuch", "--reason", "x"],
        2,
        "unknown domain `nosuch`",
    );
    refused(
        &env,
        &root,
        &["inject", "nosuch", "c.yaml", f],
        2,
        "unknown domain `nosuch`",
    );
    refused(
        &env,
        &root,
        &["inject", "api", "../c.yaml", f],
        2,
        "artifact name",
    );
    refused(
        &env,
        &root,
        &["task", "reassign", "T-nosuch", "--to", "web"],
        2,
        "no task `T-nosuch`",
    );
    refused(
        &env,
        &root,
        &["task", "reassign", &id, "--to", "nosuch"],
        2,
        "unknown domain",
    );
    refused(&env, &root, &["task", "edit", &id], 2, "nothing to edit");
    refused(
        &env,
        &root,
        &["task", "edit", &id, "--priority", "9"],
        2,
        "priority",
    );
    refused(
        &env,
        &root,
        &["resume", "api"],
        1,
        "domain `api` is not halted",
    );
    refused(
        &env,
        &root,
        &["halt", "api", "--reason", " "],
        2,
        "a halt needs a reason",
    );
    let run = env.cn(&root, &["halt", "api"]).expect(2);
    assert!(run.stderr.contains("--reason"), "{}", run.stderr);

    env.cn(&root, &["--as", "api", "task", "claim", &id])
        .expect(0);
    env.cn(&root, &["task", "done", &id]).expect(0);
    refused(
        &env,
        &root,
        &["task", "reassign", &id, "--to", "web"],
        1,
        "only open or claimed work is reassigned",
    );
    refused(
        &env,
        &root,
        &["task", "cancel", &id, "--reason", "late"],
        1,
        "already done",
    );
    env.cn(&root, &["verify"]).expect(0);
}

#[test]
fn a_halted_domains_queue_entry_waits_and_lands_after_resume() {
    let env = Env::new();
    let root = queue::project(&env, queue::CONFIG);
    queue::commit(
        &env,
        "api",
        &[("api/config.txt", "port = 81\n")],
        "api: port",
    );
    let entry = queue::submit(&env, "api");
    let main = queue::tip(&env, &root, "main");
    env.cn(&root, &["halt", "api", "--reason", "hold the port change"])
        .expect(0);

    let report = queue::queue_run(&env, &root, &[]);
    assert_eq!(report["decisions"], serde_json::json!([]), "{report}");
    let waiting = &report["waiting"][0];
    assert_eq!(waiting["entry"], entry["entry"]["id"], "{report}");
    assert!(
        waiting["why"]
            .as_str()
            .unwrap()
            .contains("hold the port change"),
        "{report}"
    );
    assert_eq!(queue::tip(&env, &root, "main"), main, "nothing landed");
    env.git(&root, &["show", "comm:queue/api.yaml"]);
    let text = env.cn(&root, &["queue", "run", "--once"]).expect(0);
    assert!(
        text.stderr.contains("waiting: api") || text.stdout.contains("waiting: api"),
        "{}{}",
        text.stdout,
        text.stderr
    );
    assert!(text.stdout.contains("1 entry waiting"), "{}", text.stdout);

    env.cn(&root, &["resume", "api"]).expect(0);
    let report = queue::queue_run(&env, &root, &[]);
    assert_eq!(report["decisions"][0]["outcome"], "landed", "{report}");
    assert_eq!(report["waiting"], serde_json::json!([]));
    assert_ne!(queue::tip(&env, &root, "main"), main);
    env.cn(&root, &["verify"]).expect(0);
}

#[test]
fn reassign_drops_the_claim_and_reservations_and_tells_both_domains() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let id = add(&env, &root, "the shared client", &["--domain", "api"]);
    env.cn(&root, &["--as", "api", "task", "claim", &id])
        .expect(0);
    env.cn(&root, &["--as", "api", "reserve", "api/**", "--task", &id])
        .expect(0);
    env.cn(&root, &["--as", "api", "ack", "--all"]).expect(0);

    let run = env
        .cn(
            &root,
            &[
                "--json",
                "task",
                "reassign",
                &id,
                "--to",
                "web",
                "--reason",
                "web owns clients now",
            ],
        )
        .expect(0);
    let task = json(&run.stdout);
    assert_eq!(
        (task["domain"].as_str(), task["status"].as_str()),
        (Some("web"), Some("open"))
    );
    assert_eq!(task["assignee"], Value::Null);
    assert_eq!(
        env.git(&root, &["ls-tree", "--name-only", "comm", "reservations/"]),
        ""
    );
    for domain in ["api", "web"] {
        let subjects = inbox(&env, &root, domain);
        assert!(
            subjects.iter().any(|s| s.contains(&format!(
                "task {id} reassigned from api (claim dropped) to web"
            ))),
            "{domain}: {subjects:?}"
        );
    }
    refused(
        &env,
        &root,
        &["--as", "api", "task", "done", &id],
        1,
        "only its assignee",
    );
    let next = env
        .cn(&root, &["--as", "web", "--json", "task", "next"])
        .expect(0);
    assert_eq!(json(&next.stdout)["id"], id.as_str());
    env.cn(&root, &["verify"]).expect(0);
}

#[test]
fn edit_changes_the_fields_it_names_and_tells_the_domain() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let id = add(
        &env,
        &root,
        "orders",
        &["--domain", "api", "--done-when", "old"],
    );
    env.cn(
        &root,
        &[
            "task",
            "edit",
            &id,
            "--title",
            "paginated orders",
            "--priority",
            "0",
            "--done-when",
            "GET /orders pages",
            "--done-when",
            "tests pass",
        ],
    )
    .expect(0);
    let task = show(&env, &root, &id);
    assert_eq!(task["title"], "paginated orders");
    assert_eq!(task["priority"], 0);
    assert_eq!(
        task["done_when"],
        serde_json::json!(["GET /orders pages", "tests pass"])
    );
    assert_eq!(task["domain"], "api");
    let subjects = inbox(&env, &root, "api");
    assert!(
        subjects.iter().any(|s| s.contains(&format!(
            "task {id} edited by human (title, priority, done-when)"
        ))),
        "{subjects:?}"
    );

    // An open task moves with --domain; a claimed one is a reassign.
    env.cn(&root, &["task", "edit", &id, "--domain", "web"])
        .expect(0);
    assert_eq!(show(&env, &root, &id)["domain"], "web");
    env.cn(&root, &["--as", "web", "task", "claim", &id])
        .expect(0);
    refused(
        &env,
        &root,
        &["task", "edit", &id, "--domain", "api"],
        1,
        "moving it is a reassign",
    );
    env.cn(&root, &["verify"]).expect(0);
}

#[test]
fn cancel_drops_the_work_finishes_its_convoy_and_tells_the_dependents() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let convoy = add(&env, &root, "release 2", &[]);
    let kept = add(
        &env,
        &root,
        "the api part",
        &["--domain", "api", "--parent", &convoy],
    );
    let dropped = add(
        &env,
        &root,
        "the legacy part",
        &["--domain", "api", "--parent", &convoy],
    );
    let dependent = add(
        &env,
        &root,
        "use the legacy part",
        &["--domain", "web", "--dep", &dropped],
    );
    env.cn(&root, &["--as", "api", "task", "claim", &kept])
        .expect(0);
    env.cn(&root, &["task", "done", &kept]).expect(0);
    env.cn(&root, &["--as", "api", "task", "claim", &dropped])
        .expect(0);
    env.cn(&root, &["--as", "web", "ack", "--all"]).expect(0);

    refused(
        &env,
        &root,
        &["task", "cancel", &convoy, "--reason", "x"],
        1,
        "unfinished children",
    );
    let run = env
        .cn(
            &root,
            &["task", "cancel", &dropped, "--reason", "legacy is gone"],
        )
        .expect(0);
    assert!(
        run.stdout.contains(&format!("convoy {convoy} complete")),
        "{}",
        run.stdout
    );
    let task = show(&env, &root, &dropped);
    assert_eq!(
        (task["status"].as_str(), task["reason"].as_str()),
        (Some("cancelled"), Some("legacy is gone"))
    );
    assert_eq!(task["assignee"], Value::Null);
    assert_eq!(show(&env, &root, &convoy)["status"], "done");
    let blocked = show(&env, &root, &dependent);
    assert_eq!(blocked["ready"], false);
    assert_eq!(blocked["blocked_by"][0]["status"], "cancelled");
    let list = env.cn(&root, &["task", "list"]).expect(0).stdout;
    assert!(
        list.contains(&format!("waits for {dropped} (cancelled)")),
        "{list}"
    );
    let web = inbox(&env, &root, "web");
    assert!(
        web.iter()
            .any(|s| s.contains(&format!("{dependent} now wait on a cancelled task"))),
        "{web:?}"
    );
    let cancelled = env
        .cn(&root, &["--json", "task", "list", "--status", "cancelled"])
        .expect(0);
    assert_eq!(json(&cancelled.stdout).as_array().unwrap().len(), 1);
    refused(
        &env,
        &root,
        &["--as", "api", "task", "claim", &dropped],
        1,
        "already cancelled",
    );
    let ready = env.cn(&root, &["task", "ready"]).expect(0).stdout;
    assert!(!ready.contains(&dropped), "{ready}");
    env.cn(&root, &["verify"]).expect(0);
}

#[test]
fn inject_publishes_into_a_domain_and_tells_the_tasks_waiting_on_it() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let waiting = add(
        &env,
        &root,
        "client from the contract",
        &["--domain", "web", "--needs-artifact", "api/openapi.yaml"],
    );
    assert_eq!(show(&env, &root, &waiting)["ready"], false);
    let file = env.path("fixed.yaml");
    common::write(&file, "openapi: 3.1.0\npaths: {}\n");

    let run = env
        .cn(
            &root,
            &[
                "--json",
                "inject",
                "api",
                "openapi.yaml",
                file.to_str().unwrap(),
                "-m",
                "bearer auth",
            ],
        )
        .expect(0);
    let out = json(&run.stdout);
    assert_eq!(out["artifact"], "api/openapi.yaml");
    assert_eq!(out["waiting"], serde_json::json!([waiting]));
    assert_eq!(out["unblocked"], serde_json::json!([waiting]));
    assert_eq!(out["told"], serde_json::json!(["api", "web"]));
    let got = env
        .cn(&root, &["artifact", "get", "api/openapi.yaml"])
        .expect(0);
    assert_eq!(got.stdout, "openapi: 3.1.0\npaths: {}\n");
    assert_eq!(show(&env, &root, &waiting)["ready"], true);
    for domain in ["api", "web"] {
        let subjects = inbox(&env, &root, domain);
        assert!(
            subjects
                .iter()
                .any(|s| s.starts_with("human injected api/openapi.yaml: bearer auth")),
            "{domain}: {subjects:?}"
        );
    }
    env.cn(&root, &["verify"]).expect(0);
}

/// Writes a commit on comm by hand: `path` set to `text`, signed `from`.
fn forge(env: &Env, root: &Path, path: &str, text: &str, message: &str) -> String {
    let index = env.path("forge.index");
    let git = |args: &[&str], input: &str| {
        use std::io::Write;
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(root)
            .env("GIT_INDEX_FILE", &index);
        env.hermetic(&mut cmd);
        cmd.env("GIT_INDEX_FILE", &index);
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    git(&["read-tree", "comm"], "");
    let blob = git(&["hash-object", "-w", "--stdin"], text);
    git(
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("100644,{blob},{path}"),
        ],
        "",
    );
    let tree = git(&["write-tree"], "");
    let commit = git(&["commit-tree", &tree, "-p", "comm", "-F", "-"], message);
    env.git(root, &["update-ref", "refs/heads/comm", &commit]);
    commit
}

#[test]
fn verify_refuses_a_halt_forged_by_a_domain() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    env.cn(&root, &["verify"]).expect(0);
    let seq = env.seq_of(&root, "comm") + 1;
    let halt = "domain: web\nreason: mine now\nby: api\nat: 1\nevent: forged-1\n";
    let message = format!(
        "halt web by api: mine now\n\nComm-Kind: halt\nComm-From: api\nComm-To: web\nComm-Id: forged-1\nComm-Seq: {seq}\nComm-Domains: web\n"
    );
    let bad = forge(&env, &root, "halts/web.yaml", halt, &message);
    let run = env.cn(&root, &["--json", "verify"]).expect(1);
    let found = json(&run.stdout);
    assert_eq!(found["bad"]["commit"], bad.as_str(), "{found}");
    let rule = found["bad"]["rule"].as_str().unwrap();
    assert!(
        rule.contains("only the human may write a halt, not `api`"),
        "{rule}"
    );
}

#[test]
fn verify_refuses_a_claim_forged_in_a_halted_domain() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let id = add(&env, &root, "the job", &["--domain", "api"]);
    env.cn(&root, &["halt", "api", "--reason", "stop"])
        .expect(0);
    env.cn(&root, &["verify"]).expect(0);
    let path = format!("tasks/{id}.yaml");
    let yaml = env.git(&root, &["show", &format!("comm:{path}")]);
    let claimed = yaml.replace("status: open", "status: claimed") + "\nassignee: api\n";
    let seq = env.seq_of(&root, "comm") + 1;
    let message = format!(
        "task {id} claimed by api\n\nComm-Kind: task\nComm-From: api\nComm-Id: forged-2\nComm-Seq: {seq}\nComm-Task: {id}\nComm-Action: claim\n"
    );
    forge(&env, &root, &path, &claimed, &message);
    let run = env.cn(&root, &["--json", "verify"]).expect(1);
    let rule = json(&run.stdout)["bad"]["rule"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(rule.contains("while it is halted"), "{rule}");
}

/// Two clones of one remote (a plain path), each synced once.
fn two_clones(env: &Env) -> (std::path::PathBuf, std::path::PathBuf) {
    let seed = env.repo(
        "seed",
        &[("comm.yaml", API_WEB), ("api/a.ts", "export {};\n")],
    );
    env.cn(&seed, &["init"]).expect(0);
    let remote = env.bare_remote(&seed, env.dir.path());
    let remote = remote.to_str().unwrap();
    (
        env.synced_clone(remote, "a", "clone a", "a"),
        env.synced_clone(remote, "b", "clone b", "b"),
    )
}

#[test]
fn a_claim_made_apart_from_a_halt_is_rejected_when_the_clones_sync() {
    let env = Env::new();
    let (a, b) = two_clones(&env);
    let id = add(&env, &a, "the job", &["--as", "human", "--domain", "api"]);
    env.cn(&a, &["sync"]).expect(0);
    env.cn(&b, &["sync"]).expect(0);
    // Apart: the human halts api on a; api claims on b, which cannot know.
    env.cn(&a, &["--as", "human", "halt", "api", "--reason", "audit"])
        .expect(0);
    env.cn(&b, &["--as", "api", "task", "claim", &id]).expect(0);
    env.cn(&a, &["sync"]).expect(0);
    let report = json(&env.cn(&b, &["--json", "sync"]).expect(0).stdout);
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{report}");
    let reason = rejected[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("domain `api` is halted by human") && reason.contains("audit"),
        "{reason}"
    );
    let task = show(&env, &b, &id);
    assert_eq!(
        (task["status"].as_str(), task["assignee"].as_str()),
        (Some("open"), None)
    );
    let notices = inbox(&env, &b, "api");
    assert!(
        notices
            .iter()
            .any(|s| s.starts_with("sync: rejected for api")),
        "{notices:?}"
    );
    env.cn(&a, &["sync"]).expect(0);
    assert_eq!(comm_tip(&env, &a), comm_tip(&env, &b));
    env.cn(&a, &["verify"]).expect(0);
    env.cn(&b, &["verify"]).expect(0);
}

#[test]
fn a_resume_made_apart_never_lifts_a_halt_the_other_clone_made_meanwhile() {
    let env = Env::new();
    let (a, b) = two_clones(&env);
    env.cn(&a, &["--as", "human", "halt", "api", "--reason", "first"])
        .expect(0);
    env.cn(&a, &["sync"]).expect(0);
    env.cn(&b, &["sync"]).expect(0);
    // Apart: b lifts the old halt; a halts api again, for a new reason.
    env.cn(&b, &["--as", "human", "resume", "api"]).expect(0);
    env.cn(&a, &["--as", "human", "halt", "api", "--reason", "second"])
        .expect(0);
    env.cn(&a, &["sync"]).expect(0);
    let report = json(&env.cn(&b, &["--json", "sync"]).expect(0).stdout);
    let reason = report["rejected"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("api stay halted"), "{report}");
    let file = env.git(&b, &["show", "comm:halts/api.yaml"]);
    assert!(file.contains("reason: second"), "{file}");
    env.cn(&b, &["verify"]).expect(0);
}
