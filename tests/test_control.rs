//! The hand of god without `up`: `halt`/`resume`, `task reassign|edit|cancel`
//! and `inject`, each one event only the human may write, respected by the
//! task commands and the merge queue (`verify` and `sync` are in
//! `test_control_trust.rs`, the `up` side in `test_control_up.rs`).

mod common;

use common::control::{add, comm_tip, inbox, json, refused, show};
use common::{queue, Env, API_WEB};
use serde_json::Value;

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
    // Only the human undoes a cancellation.
    refused(
        &env,
        &root,
        &["--as", "api", "task", "reopen", &dropped],
        1,
        "only the human may",
    );
    env.cn(&root, &["task", "reopen", &dropped]).expect(0);
    assert_eq!(show(&env, &root, &dropped)["status"], "open");
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

#[test]
fn a_halt_written_while_its_batch_is_tested_keeps_the_batch_from_landing() {
    let env = Env::new();
    let started = env.path("testing");
    let config = queue::CONFIG.replace(
        queue::TEST,
        &format!("test: [\"touch {} && sleep 2\"]", started.display()),
    );
    let root = queue::project(&env, &config);
    queue::commit(
        &env,
        "api",
        &[("api/config.txt", "port = 81\n")],
        "api: port",
    );
    queue::submit(&env, "api");
    let main = queue::tip(&env, &root, "main");
    let mut run = queue::spawn_run(&env, &root, &[]);
    let _group = common::Groups(vec![run.id() as i32]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !started.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the tests never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    env.cn(&root, &["halt", "api", "--reason", "late doubt"])
        .expect(0);
    assert!(run.wait().unwrap().success());
    assert_eq!(
        queue::tip(&env, &root, "main"),
        main,
        "it landed while halted"
    );
    env.git(&root, &["show", "comm:queue/api.yaml"]);

    env.cn(&root, &["resume", "api"]).expect(0);
    let report = queue::queue_run(&env, &root, &[]);
    assert_eq!(report["decisions"][0]["outcome"], "landed", "{report}");
}

#[test]
fn a_halted_domains_claims_do_not_lapse_while_it_is_halted() {
    let env = Env::new();
    let root = env.api_web_app(common::API_WEB_HEALTH, &[]);
    let id = add(&env, &root, "anyone's job", &[]);
    env.cn(&root, &["--as", "api", "task", "claim", &id])
        .expect(0);
    env.cn(&root, &["halt", "api", "--reason", "on hold"])
        .expect(0);
    let later = clock_now() + 7200;

    // Past api's lease, web finds nothing: api's claim waits for the human.
    env.cn_at(&root, later, &["--as", "web", "task", "next"])
        .expect(1);
    env.cn_at(&root, later, &["status"]).expect(0);
    assert_eq!(show(&env, &root, &id)["assignee"], "api");

    env.cn(&root, &["resume", "api"]).expect(0);
    let next = env
        .cn_at(&root, later, &["--as", "web", "--json", "task", "next"])
        .expect(0);
    assert_eq!(json(&next.stdout)["id"], id.as_str(), "lapsed once resumed");
    env.cn(&root, &["verify"]).expect(0);
}

fn clock_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
