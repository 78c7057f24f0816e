//! Tasks on real repositories: the life of a task, readiness (dependencies,
//! artifacts, convoys), cycles and bad input, and the beads JSONL round
//! trip. Claims under races and crashes: `test_task_claims.rs`.

mod common;

use common::bus::{json, tip};
use common::tasks::{add, bus, ids, task_file};
use common::{write, Env};
use serde_json::{json, Value};

#[test]
fn a_task_waits_for_its_dependency_and_artifact_then_flows_to_done() {
    let env = Env::new();
    let root = bus(&env);
    let (api, web) = (env.worktree("api"), env.worktree("web"));
    let contract = add(
        &env,
        &root,
        &["Write the contract", "--domain", "api", "--priority", "1"],
    );
    let page = add(
        &env,
        &root,
        &[
            "Build the login page",
            "--domain",
            "web",
            "--dep",
            &contract,
            "--needs-artifact",
            "api/openapi.yaml",
            "--done-when",
            "the page renders",
        ],
    );
    let shown = json(&env.cn(&root, &["task", "show", &page, "--json"]).expect(0));
    for key in [
        "id",
        "title",
        "domain",
        "status",
        "priority",
        "deps",
        "needs_artifacts",
        "parent",
        "assignee",
        "done_when",
        "created",
        "updated",
    ] {
        assert!(shown.get(key).is_some(), "missing {key} in {shown}");
    }
    assert_eq!(shown["status"], "open");
    assert_eq!(shown["ready"], false);
    assert_eq!(shown["deps"], json!([contract]));
    assert_eq!(shown["done_when"], json!(["the page renders"]));
    assert_eq!(shown["blocked_by"].as_array().unwrap().len(), 2);
    // The state is a readable file on comm.
    assert!(task_file(&env, &root, &page).contains("title: Build the login page"));

    // Not ready: a claim is refused and writes nothing.
    let before = tip(&env, &root);
    let refused = env.cn(&web, &["task", "claim", &page]).expect(1);
    assert!(refused.stderr.contains("not ready"), "{}", refused.stderr);
    assert!(refused.stderr.contains(&contract), "{}", refused.stderr);
    assert_eq!(tip(&env, &root), before);
    assert_eq!(
        ids(&json(&env.cn(&web, &["task", "ready", "--json"]).expect(0))),
        Vec::<String>::new()
    );

    // api takes its work and finishes it; web's task still needs the artifact.
    let next = json(&env.cn(&api, &["task", "next", "--json"]).expect(0));
    assert_eq!(next["id"], contract.as_str());
    assert_eq!(next["assignee"], "api");
    env.cn(&api, &["task", "done", &contract]).expect(0);
    let waiting = json(&env.cn(&root, &["task", "show", &page, "--json"]).expect(0));
    assert_eq!(
        waiting["blocked_by"],
        json!([{"kind": "artifact", "name": "api/openapi.yaml"}])
    );

    // Publishing the artifact unblocks it.
    let spec = env.path("openapi.yaml");
    write(&spec, "openapi: 3.1.0\n");
    env.cn(&api, &["publish", "openapi.yaml", spec.to_str().unwrap()])
        .expect(0);
    assert_eq!(
        ids(&json(&env.cn(&web, &["task", "ready", "--json"]).expect(0))),
        [page.as_str()]
    );
    env.cn(&web, &["task", "claim", &page]).expect(0);
    // Only the assignee finishes it.
    env.cn(&api, &["task", "done", &page]).expect(1);
    let done = json(&env.cn(&web, &["task", "done", &page, "--json"]).expect(0));
    assert_eq!(done["status"], "done");
    assert_eq!(done["assignee"], "web");
    // The creator (the human) hears about it.
    let inbox = json(
        &env.cn(&root, &["--as", "human", "inbox", "--json"])
            .expect(0),
    );
    let subjects: Vec<&str> = inbox
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.contains(&format!("task {page} done by web"))),
        "{subjects:?}"
    );
    // Every change is one commit with its trailers.
    let log = env.git(
        &root,
        &[
            "log",
            "--format=%(trailers:key=Comm-Action,valueonly,separator=%x20)",
            "comm",
        ],
    );
    let actions: Vec<&str> = log.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(actions, ["done", "claim", "done", "claim", "add", "add"]);
}

#[test]
fn finishing_work_names_and_notifies_what_it_unblocks() {
    let env = Env::new();
    let root = bus(&env);
    let api = env.worktree("api");
    let first = add(&env, &root, &["schema", "--domain", "api"]);
    let second = add(&env, &root, &["client", "--domain", "web", "--dep", &first]);
    env.cn(&api, &["task", "claim", &first]).expect(0);
    let done = env.cn(&api, &["task", "done", &first]).expect(0);
    assert!(
        done.stdout.contains(&format!("unblocks {second}")),
        "{}",
        done.stdout
    );
    let web_inbox = json(&env.cn(&env.worktree("web"), &["inbox", "--json"]).expect(0));
    let subjects: Vec<String> = web_inbox
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.contains(&format!("unblocks {second}"))),
        "{subjects:?}"
    );
}

#[test]
fn a_convoy_completes_when_its_last_child_is_done() {
    let env = Env::new();
    let root = bus(&env);
    let convoy = add(&env, &root, &["Login feature"]);
    let backend = add(
        &env,
        &root,
        &["login endpoint", "--domain", "api", "--parent", &convoy],
    );
    let frontend = add(
        &env,
        &root,
        &["login form", "--domain", "web", "--parent", &convoy],
    );
    let progress = |env: &Env| {
        json(
            &env.cn(&root, &["task", "show", &convoy, "--json"])
                .expect(0),
        )
    };
    assert_eq!(progress(&env)["progress"], json!({"done": 0, "total": 2}));
    // `task next` hands out the children, never the convoy itself.
    let api = env.worktree("api");
    assert_eq!(
        json(&env.cn(&api, &["task", "next", "--json"]).expect(0))["id"],
        backend.as_str()
    );
    env.cn(&api, &["task", "done", &backend]).expect(0);
    assert_eq!(progress(&env)["progress"], json!({"done": 1, "total": 2}));
    assert_eq!(progress(&env)["status"], "open");
    let web = env.worktree("web");
    env.cn(&web, &["task", "claim", &frontend]).expect(0);
    let last = env.cn(&web, &["task", "done", &frontend]).expect(0);
    assert!(
        last.stdout
            .contains(&format!("convoy {convoy} complete (2/2)")),
        "{}",
        last.stdout
    );
    assert_eq!(progress(&env)["status"], "done");
    assert_eq!(
        env.git(
            &root,
            &[
                "log",
                "-1",
                "--format=%(trailers:key=Comm-Convoy-Done,valueonly)",
                "comm"
            ]
        ),
        convoy
    );
}

#[test]
fn blocking_flows_down_to_a_convoys_children() {
    let env = Env::new();
    let root = bus(&env);
    let blocker = add(&env, &root, &["migrate the database", "--domain", "api"]);
    let convoy = add(&env, &root, &["checkout", "--dep", &blocker]);
    let child = add(
        &env,
        &root,
        &["pay button", "--domain", "web", "--parent", &convoy],
    );
    let ready = ids(&json(
        &env.cn(&root, &["task", "ready", "--json"]).expect(0),
    ));
    assert_eq!(ready, [blocker.as_str()]);
    let shown = json(&env.cn(&root, &["task", "show", &child, "--json"]).expect(0));
    assert_eq!(
        shown["blocked_by"],
        json!([{"kind": "parent", "id": convoy}])
    );
}

#[test]
fn skills_decide_who_takes_unowned_work_and_priority_orders_it() {
    let env = Env::new();
    let root = bus(&env);
    let styling = add(
        &env,
        &root,
        &["restyle the header", "--skill", "css", "--priority", "3"],
    );
    let urgent = add(
        &env,
        &root,
        &["hotfix", "--domain", "web", "--priority", "0"],
    );
    let anyone = add(&env, &root, &["update the changelog", "--priority", "3"]);
    let web = env.worktree("web");
    // web: its own urgent work first, then by priority; own before unowned on ties.
    let order = ids(&json(&env.cn(&web, &["task", "ready", "--json"]).expect(0)));
    assert_eq!(order[0], urgent);
    assert_eq!(order.len(), 3);
    // api lacks css: it never gets the styling task.
    let api_ready = ids(&json(
        &env.cn(&env.worktree("api"), &["task", "ready", "--json"])
            .expect(0),
    ));
    assert_eq!(api_ready, [anyone.as_str()]);
    let refused = env
        .cn(&env.worktree("api"), &["task", "claim", &styling])
        .expect(1);
    assert!(
        refused.stderr.contains("lacks the skills"),
        "{}",
        refused.stderr
    );
    env.cn(&env.worktree("api"), &["task", "claim", &urgent])
        .expect(1);
}

#[test]
fn cycles_and_bad_input_are_refused_and_write_nothing() {
    let env = Env::new();
    let root = bus(&env);
    let a = add(&env, &root, &["a"]);
    let b = add(&env, &root, &["b", "--dep", &a]);
    let c = add(&env, &root, &["c", "--dep", &b]);
    let before = tip(&env, &root);
    let cycle = env
        .cn(&root, &["--as", "human", "task", "dep", &a, "--on", &c])
        .expect(2);
    assert!(
        cycle.stderr.contains(&format!("{a} → {c} → {b} → {a}")),
        "{}",
        cycle.stderr
    );
    env.cn(&root, &["--as", "human", "task", "dep", &a, "--on", &a])
        .expect(2);
    let bad: &[&[&str]] = &[
        &["task", "add", ""],
        &["task", "add", "two\nlines"],
        &["task", "add", "x", "--priority", "5"],
        &["task", "add", "x", "--domain", "nobody"],
        &["task", "add", "x", "--dep", "T-none"],
        &["task", "add", "x", "--dep", "../etc"],
        &["task", "add", "x", "--parent", "T-none"],
        &["task", "add", "x", "--needs-artifact", "noslash"],
        &["task", "add", "x", "--needs-artifact", "api/../x"],
        &["task", "add", "x", "--needs-artifact", "nobody/x"],
        &["task", "add", "x", "--skill", "c ss"],
        &["task", "add", "x", "--done-when", ""],
        &["task", "claim", "T-none"],
        &["task", "show", "T-none"],
        &["task", "list", "--status", "sleeping"],
        &["task", "fail", "T-none", "--reason", ""],
    ];
    for args in bad {
        let mut full = vec!["--as", "human"];
        full.extend_from_slice(args);
        let run = env.cn(&root, &full);
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("hint:"), "{args:?}: {}", run.stderr);
    }
    assert_eq!(tip(&env, &root), before);
}

#[test]
fn failing_and_reopening_return_work_to_the_pool() {
    let env = Env::new();
    let root = bus(&env);
    let api = env.worktree("api");
    let id = add(&env, &root, &["flaky job", "--domain", "api"]);
    env.cn(&api, &["task", "claim", &id]).expect(0);
    let failed = json(
        &env.cn(
            &api,
            &[
                "task",
                "fail",
                &id,
                "--reason",
                "the sandbox has no network",
                "--json",
            ],
        )
        .expect(0),
    );
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["reason"], "the sandbox has no network");
    env.cn(&api, &["task", "claim", &id]).expect(1);
    let reopened = json(
        &env.cn(&root, &["--as", "human", "task", "reopen", &id, "--json"])
            .expect(0),
    );
    assert_eq!(reopened["status"], "open");
    assert_eq!(reopened["assignee"], Value::Null);
    assert_eq!(
        json(&env.cn(&api, &["task", "next", "--json"]).expect(0))["id"],
        id.as_str()
    );
}

/// A `bd export` file: an epic blocked by a blocker, children under it, a
/// grandchild, related and discovered-from links that do not block, a
/// closed blocker that no longer blocks, an in-progress issue, and a line
/// of another type.
const BEADS: &str = r#"{"_type":"issue","id":"bd-blocker","title":"Blocker task","status":"open","priority":1,"issue_type":"task","created_at":"2025-10-01T09:00:00Z","updated_at":"2025-10-01T09:00:00Z","labels":["infra"]}
{"_type":"issue","id":"bd-epic","title":"Epic: parent task","status":"open","priority":2,"issue_type":"epic","created_at":"2025-10-01T09:01:00.5+02:00","updated_at":"2025-10-01T09:01:00.5+02:00","dependencies":[{"issue_id":"bd-epic","depends_on_id":"bd-blocker","type":"blocks","created_at":"2025-10-01T09:05:00Z","created_by":"alice"}]}
{"_type":"issue","id":"bd-child-a","title":"Child A","description":"under the epic","status":"open","priority":2,"issue_type":"task","created_at":"2025-10-01T09:02:00Z","updated_at":"2025-10-01T09:02:00Z","dependencies":[{"issue_id":"bd-child-a","depends_on_id":"bd-epic","type":"parent-child","created_at":"2025-10-01T09:06:00Z","created_by":"alice"}]}
{"_type":"issue","id":"bd-grandchild","title":"Grandchild","status":"open","priority":3,"issue_type":"task","created_at":"2025-10-01T09:03:00Z","updated_at":"2025-10-01T09:03:00Z","dependencies":[{"issue_id":"bd-grandchild","depends_on_id":"bd-child-a","type":"parent-child","created_at":"2025-10-01T09:07:00Z","created_by":"alice"}]}
{"_type":"issue","id":"bd-related","title":"Related only","status":"open","priority":2,"issue_type":"task","created_at":"2025-10-01T09:04:00Z","updated_at":"2025-10-01T09:04:00Z","dependencies":[{"issue_id":"bd-related","depends_on_id":"bd-blocker","type":"related","created_at":"2025-10-01T09:08:00Z","created_by":"bob"},{"issue_id":"bd-related","depends_on_id":"bd-epic","type":"discovered-from","created_at":"2025-10-01T09:08:00Z","created_by":"bob"}]}
{"_type":"issue","id":"bd-old","title":"Closed blocker","status":"closed","priority":0,"issue_type":"bug","created_at":"2025-09-01T09:00:00Z","updated_at":"2025-09-02T09:00:00Z","closed_at":"2025-09-02T09:00:00Z","close_reason":"fixed"}
{"_type":"issue","id":"bd-after-old","title":"Was blocked by a closed issue","status":"open","priority":4,"issue_type":"task","created_at":"2025-09-03T09:00:00Z","updated_at":"2025-09-03T09:00:00Z","dependencies":[{"issue_id":"bd-after-old","depends_on_id":"bd-old","type":"blocks","created_at":"2025-09-03T09:00:00Z","created_by":"carol"}]}
{"_type":"issue","id":"bd-busy","title":"Being worked on","status":"in_progress","priority":1,"issue_type":"task","assignee":"dave","created_at":"2025-10-02T09:00:00Z","updated_at":"2025-10-02T10:00:00Z"}
{"_type":"memory","key":"style","value":"short commits"}
"#;

#[test]
fn beads_jsonl_round_trips_and_readiness_follows_bd_ready() {
    let env = Env::new();
    let root = bus(&env);
    let file = env.path("issues.jsonl");
    write(&file, BEADS);
    let import = |env: &Env| {
        let args = [
            "--as",
            "human",
            "task",
            "import",
            "--beads",
            file.to_str().unwrap(),
            "--json",
        ];
        json(&env.cn(&root, &args).expect(0))
    };
    let report = import(&env);
    assert_eq!(report["added"].as_array().unwrap().len(), 8);
    assert_eq!(report["skipped"], 1);
    // bd ready's rule: open, no open `blocks` target, no blocked ancestor;
    // related and discovered-from never block; a closed blocker is no blocker.
    let mut ready = ids(&json(
        &env.cn(&root, &["task", "ready", "--json"]).expect(0),
    ));
    ready.sort();
    assert_eq!(ready, ["bd-after-old", "bd-blocker", "bd-related"]);
    // Importing the same file again changes nothing.
    let before = tip(&env, &root);
    let again = import(&env);
    assert_eq!(again["unchanged"], 8);
    assert_eq!(tip(&env, &root), before);

    // Export gives every issue back, field for field.
    let exported = env
        .cn(&root, &["task", "export", "--beads"])
        .expect(0)
        .stdout;
    let original: Vec<Value> = BEADS
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["_type"] == "issue")
        .collect();
    let mut back: Vec<Value> = exported
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    back.sort_by_key(|v| v["id"].as_str().unwrap().to_owned());
    let mut want = original.clone();
    want.sort_by_key(|v| v["id"].as_str().unwrap().to_owned());
    assert_eq!(back, want);

    // Work done here shows up in the export in beads' terms.
    env.cn(&root, &["--as", "api", "task", "claim", "bd-blocker"])
        .expect(0);
    env.cn(&root, &["--as", "api", "task", "done", "bd-blocker"])
        .expect(0);
    let exported = env
        .cn(&root, &["task", "export", "--beads"])
        .expect(0)
        .stdout;
    let blocker: Value = exported
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["id"] == "bd-blocker")
        .unwrap();
    assert_eq!(blocker["status"], "closed");
    assert_eq!(blocker["labels"], json!(["infra"]));
    let mut ready = ids(&json(
        &env.cn(&root, &["task", "ready", "--json"]).expect(0),
    ));
    ready.sort();
    assert_eq!(
        ready,
        [
            "bd-after-old",
            "bd-child-a",
            "bd-epic",
            "bd-grandchild",
            "bd-related"
        ]
    );
}

#[test]
fn a_beads_file_with_a_cycle_or_garbage_is_refused_whole() {
    let env = Env::new();
    let root = bus(&env);
    let before = tip(&env, &root);
    let cases = [
        "{\"id\":\"x-1\",\"title\":\"a\",\"dependencies\":[{\"depends_on_id\":\"x-2\",\"type\":\"blocks\"}]}\n{\"id\":\"x-2\",\"title\":\"b\",\"dependencies\":[{\"depends_on_id\":\"x-1\",\"type\":\"blocks\"}]}\n",
        "{\"id\":\"x-1\",\"title\":\"a\"}\nnot json\n",
        "{\"id\":\"../x\",\"title\":\"a\"}\n",
        "{\"id\":\"x-1\",\"title\":\"a\",\"priority\":9}\n",
    ];
    for (n, text) in cases.iter().enumerate() {
        let file = env.path(&format!("bad{n}.jsonl"));
        write(&file, text);
        let run = env.cn(
            &root,
            &[
                "--as",
                "human",
                "task",
                "import",
                "--beads",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(run.code, 2, "case {n}: {}", run.stderr);
    }
    assert_eq!(tip(&env, &root), before);
}

#[test]
fn finishing_a_task_releases_its_reservations() {
    let env = Env::new();
    let root = bus(&env);
    let api = env.worktree("api");
    let id = add(&env, &root, &["rework the client", "--domain", "api"]);
    env.cn(&api, &["task", "claim", &id]).expect(0);
    // A reservation for a task that does not exist is refused.
    env.cn(&api, &["reserve", "api/**", "--task", "T-none"])
        .expect(2);
    env.cn(&api, &["reserve", "api/**", "--task", &id])
        .expect(0);
    env.cn(&api, &["reserve", "api/other/**"]).expect(0);
    let live = |env: &Env| json(&env.cn(&root, &["reservations", "--json"]).expect(0));
    assert_eq!(live(&env).as_array().unwrap().len(), 2);
    let done = env.cn(&api, &["task", "done", &id]).expect(0);
    assert!(done.stdout.contains("released R-"), "{}", done.stdout);
    let left = live(&env);
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    assert_eq!(left[0]["globs"], json!(["api/other/**"]));
}

#[test]
fn a_damaged_task_file_is_named_with_how_to_inspect_it() {
    let env = Env::new();
    let root = bus(&env);
    let id = add(&env, &root, &["fragile"]);
    // Someone edits comm by hand and breaks the file.
    let side = env.path("comm-checkout");
    env.git(
        &root,
        &["worktree", "add", "-q", side.to_str().unwrap(), "comm"],
    );
    write(
        &side.join(common::task_path(&id)),
        "status: [not, a, task\n",
    );
    env.git(&side, &["commit", "-qam", "hand edit", "--no-verify"]);
    let run = env.cn(&root, &["task", "show", &id]).expect(3);
    assert!(
        run.stderr.contains(&common::task_path(&id)),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("git show comm:{}", common::task_path(&id))),
        "{}",
        run.stderr
    );
}
