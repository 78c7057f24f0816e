//! The merge queue end to end: real repositories, the real binary, git
//! itself to inspect refs, trees and the `comm` log. Killed runs, a second
//! run and other clones pushing meanwhile are in test_queue_races.rs.

mod common;

use common::queue::{commit, decisions, project, queue_run, queued, submit, tip, CONFIG, TEST};
use common::{read, write, Env};
use serde_json::Value;

#[test]
fn four_candidates_exactly_the_good_one_lands() {
    let env = Env::new();
    let root = project(&env, CONFIG);
    // main moves under api's branch: api now conflicts with it.
    write(&root.join("api/config.txt"), "port = 8080\n");
    env.git(&root, &["commit", "-qam", "ops: change the port"]);
    commit(
        &env,
        "api",
        &[("api/config.txt", "port = 9090\n")],
        "api: port",
    );
    commit(&env, "web", &[("web/page.txt", "BROKEN\n")], "web: page");
    commit(
        &env,
        "db",
        &[("web/hack.txt", "db writes web\n")],
        "db: reach into web",
    );
    let good = commit(
        &env,
        "docs",
        &[("docs/guide.txt", "guide\n")],
        "docs: guide",
    );
    for domain in ["api", "web", "db", "docs"] {
        submit(&env, domain);
    }
    let old_main = tip(&env, &root, "main");

    let report = queue_run(&env, &root, &[]);

    let new_main = tip(&env, &root, "main");
    assert_eq!(report["main"], new_main.as_str());
    assert_eq!(
        tip(&env, &root, "main^1"),
        old_main,
        "first parent is the old main"
    );
    assert_eq!(
        tip(&env, &root, "main^2"),
        good,
        "second parent is the docs head"
    );
    // web+docs fails, web alone fails (culprit), then docs alone passes.
    assert_eq!(report["test_runs"], 3);
    let mut got = decisions(&env, &root);
    got.sort();
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(
        got[0].starts_with("landed|docs||queue: landed docs "),
        "{got:#?}"
    );
    assert!(
        got[1].starts_with("rejected|api|conflict|") && got[1].contains("api/config.txt"),
        "{got:#?}"
    );
    assert!(got[2].starts_with("rejected|db|boundary|"), "{got:#?}");
    assert!(got[3].starts_with("rejected|web|tests|"), "{got:#?}");
    assert!(queued(&env, &root).is_empty(), "every entry was decided");
    // The rejection carries the log tail as an artifact.
    let web = report["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["domain"] == "web")
        .unwrap();
    let artifact = web["artifact"].as_str().unwrap();
    let log = env.git(&root, &["show", &format!("comm:{artifact}")]);
    assert!(log.contains("exited with 1"), "{log}");
    let body = env.git(
        &root,
        &["log", "-1", "--format=%b", "--grep=rejected web", "comm"],
    );
    assert!(body.contains("grep -rq"), "{body}");
    // The boundary rejection names the file and rule.
    let body = env.git(
        &root,
        &["log", "-1", "--format=%b", "--grep=rejected db", "comm"],
    );
    assert!(
        body.contains("web/hack.txt") && body.contains("scope"),
        "{body}"
    );
    // Owners hear about it; the others hear that main moved.
    let inbox = env.cn(&env.worktree("web"), &["--json", "inbox"]).expect(0);
    let inbox: Value = serde_json::from_str(&inbox.stdout).unwrap();
    let kinds: Vec<&str> = inbox
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"rejected") && kinds.contains(&"landed"),
        "{kinds:?}"
    );
    // The clean main checkout followed the ref, and main's tests pass.
    assert_eq!(read(&root.join("docs/guide.txt")), "guide\n");
    assert_eq!(env.git(&root, &["status", "--porcelain"]), "");
    let test = std::process::Command::new("sh")
        .args(["-c", "! grep -rqx --exclude=.git BROKEN ."])
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(test.success(), "main's tests pass");
    assert_eq!(env.git(&root, &["fsck", "--no-dangling"]), "");
}

#[test]
fn sixteen_candidates_with_one_bad_land_fifteen_in_at_most_nine_runs() {
    let env = Env::new();
    let runs = env.path("runs.log");
    let domains: Vec<String> = (0..16).map(|i| format!("d{i:02}")).collect();
    let mut config = format!(
        "project: app\ntest: [\"echo run >> {} && ! grep -rqx --exclude=.git BROKEN .\"]\ndomains:\n",
        runs.display()
    );
    for d in &domains {
        config.push_str(&format!("  {d}:\n    scope: [\"{d}/**\"]\n"));
    }
    let root = env.repo("app", &[("comm.yaml", &config)]);
    env.cn(&root, &["init"]).expect(0);
    for (i, d) in domains.iter().enumerate() {
        let text = if i == 10 { "BROKEN\n" } else { "fine\n" };
        commit(&env, d, &[(&format!("{d}/file.txt"), text)], "work");
        submit(&env, d);
    }

    let report = queue_run(&env, &root, &[]);

    let test_runs = read(&runs).lines().count();
    assert!(test_runs <= 9, "{test_runs} test runs");
    assert_eq!(report["test_runs"], test_runs);
    let got = decisions(&env, &root);
    let landed: Vec<&String> = got.iter().filter(|l| l.starts_with("landed|")).collect();
    let rejected: Vec<&String> = got.iter().filter(|l| l.starts_with("rejected|")).collect();
    assert_eq!(landed.len(), 15, "{got:#?}");
    assert_eq!(rejected.len(), 1, "{got:#?}");
    assert!(rejected[0].starts_with("rejected|d10|tests|"), "{got:#?}");
    let files = env.git(&root, &["ls-tree", "-r", "--name-only", "main"]);
    for (i, d) in domains.iter().enumerate() {
        assert_eq!(files.contains(&format!("{d}/file.txt")), i != 10, "{d}");
    }
    assert!(queued(&env, &root).is_empty());
}

#[test]
fn the_landed_commit_is_the_tested_commit() {
    let env = Env::new();
    let tested = env.path("tested.log");
    let config = CONFIG.replace(
        TEST,
        &format!("test: [\"git rev-parse HEAD >> {}\"]", tested.display()),
    );
    let root = project(&env, &config);
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    commit(&env, "web", &[("web/w.txt", "w\n")], "web: w");
    submit(&env, "api");
    submit(&env, "web");
    queue_run(&env, &root, &[]);
    let runs = read(&tested);
    assert_eq!(runs.lines().collect::<Vec<_>>(), [tip(&env, &root, "main")]);
}

#[test]
fn resubmitting_replaces_the_entry_and_priority_goes_first() {
    let env = Env::new();
    let root = project(&env, CONFIG);
    commit(&env, "api", &[("api/a.txt", "1\n")], "api: 1");
    let first = submit(&env, "api");
    let second_head = commit(&env, "api", &[("api/a.txt", "2\n")], "api: 2");
    let second = submit(&env, "api");
    assert_eq!(second["replaced"]["id"], first["entry"]["id"]);
    assert_eq!(second["uncommitted_changes"], false);
    write(&env.worktree("api").join("api/wip.txt"), "wip\n");
    let run = env.cn(&env.worktree("api"), &["submit"]).expect(0);
    assert!(
        run.stdout.contains("only committed work was queued"),
        "{}",
        run.stdout
    );
    std::fs::remove_file(env.worktree("api").join("api/wip.txt")).unwrap();
    assert_eq!(second["entry"]["head"], second_head.as_str());
    commit(&env, "web", &[("web/w.txt", "w\n")], "web: w");
    let added = env
        .cn(
            &root,
            &[
                "--as",
                "human",
                "--json",
                "task",
                "add",
                "the w file",
                "--domain",
                "web",
            ],
        )
        .expect(0);
    let task_id = serde_json::from_str::<Value>(&added.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.cn(&env.worktree("web"), &["task", "claim", &task_id])
        .expect(0);
    // A task that does not exist is refused.
    env.cn(&env.worktree("web"), &["submit", "--task", "T-none"])
        .expect(2);
    let urgent = env
        .cn(
            &env.worktree("web"),
            &["--json", "submit", "--priority", "0", "--task", &task_id],
        )
        .expect(0);
    let urgent: Value = serde_json::from_str(&urgent.stdout).unwrap();
    assert_eq!(urgent["position"], 1);
    let status = env.cn(&root, &["--json", "queue", "status"]).expect(0);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    let order: Vec<&str> = status["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["domain"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["web", "api"]);
    queue_run(&env, &root, &[]);
    assert_eq!(read(&root.join("api/a.txt")), "2\n");
    let task = env.git(
        &root,
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Comm-Task,valueonly)",
            "--grep=landed web",
            "comm",
        ],
    );
    assert_eq!(task.trim(), task_id);
    // Landing marked the task done, in the landing commit itself.
    let shown = env
        .cn(&root, &["--json", "task", "show", &task_id])
        .expect(0);
    let shown: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["status"], "done");
    assert_eq!(shown["assignee"], "web");
}

#[test]
fn submit_refuses_nothing_to_merge_and_the_human() {
    let env = Env::new();
    let root = project(&env, CONFIG);
    let run = env.cn(&env.worktree("api"), &["submit"]).expect(1);
    assert!(
        run.stderr.contains("nothing that main does not have"),
        "{}",
        run.stderr
    );
    let run = env.cn(&root, &["--as", "human", "submit"]).expect(1);
    assert!(run.stderr.contains("only a domain"), "{}", run.stderr);
    commit(&env, "api", &[("api/a.txt", "1\n")], "api: 1");
    let run = env
        .cn(&env.worktree("api"), &["submit", "--task", "bad task"])
        .expect(2);
    assert!(
        run.stderr.contains("`bad task` is not a task id"),
        "{}",
        run.stderr
    );
    assert!(queued(&env, &root).is_empty(), "nothing was queued");
}

#[test]
fn a_dirty_main_checkout_is_left_alone_and_reported() {
    let env = Env::new();
    let root = project(&env, CONFIG);
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    submit(&env, "api");
    write(&root.join("docs/intro.txt"), "my local edit\n");
    let report = queue_run(&env, &root, &[]);
    let notes = report["checkouts"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["state"], "dirty");
    assert!(notes[0]["detail"]
        .as_str()
        .unwrap()
        .contains("read-tree -m -u"));
    assert_eq!(read(&root.join("docs/intro.txt")), "my local edit\n");
    assert!(!root.join("api/a.txt").exists(), "files were not touched");
    // The text output says so too.
    commit(&env, "web", &[("web/w.txt", "w\n")], "web: w");
    submit(&env, "web");
    let run = env.cn(&root, &["queue", "run", "--once"]).expect(0);
    assert!(run.stdout.contains("(dirty): left alone"), "{}", run.stdout);
}

#[test]
fn a_timeout_kills_the_test_and_rejects_with_a_named_reason() {
    let env = Env::new();
    let config = CONFIG.replace(
        TEST,
        "test: [\"if [ -e api/slow.txt ]; then sleep 60; fi\"]",
    );
    let root = project(&env, &config);
    commit(&env, "api", &[("api/slow.txt", "slow\n")], "api: slow");
    submit(&env, "api");
    let report = queue_run(&env, &root, &["--timeout", "1s"]);
    assert_eq!(report["decisions"][0]["reason"], "timeout");
    let artifact = report["decisions"][0]["artifact"].as_str().unwrap();
    let log = env.git(&root, &["show", &format!("comm:{artifact}")]);
    assert!(log.contains("timed out after 1s"), "{log}");
}

#[test]
fn bad_arguments_change_nothing() {
    let env = Env::new();
    let root = project(&env, CONFIG);
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    submit(&env, "api");
    let before = env.refs(&root);
    let run = env
        .cn(&root, &["queue", "run", "--once", "--timeout", "soon"])
        .expect(2);
    assert!(run.stderr.contains("not a duration"), "{}", run.stderr);
    let run = env
        .cn(&root, &["queue", "run", "--once", "--push", "nowhere"])
        .expect(2);
    assert!(
        run.stderr.contains("no remote named `nowhere`"),
        "{}",
        run.stderr
    );
    let bad = CONFIG.replace(
        "project: app\n",
        "project: app\nqueue:\n  timeout: forever\n",
    );
    write(&root.join("comm.yaml"), &bad);
    let run = env.cn(&root, &["queue", "run", "--once"]).expect(2);
    assert!(run.stderr.contains("comm.yaml:3:"), "{}", run.stderr);
    assert_eq!(env.refs(&root), before);
}

#[test]
fn batch_limits_the_candidates_tested_together() {
    let env = Env::new();
    let root = project(&env, CONFIG);
    for domain in ["api", "web", "docs"] {
        commit(
            &env,
            domain,
            &[(&format!("{domain}/new.txt"), "n\n")],
            "work",
        );
        submit(&env, domain);
    }
    let old = tip(&env, &root, "main");
    let report = queue_run(&env, &root, &["--batch", "1"]);
    assert_eq!(report["batches"], 3);
    assert_eq!(report["test_runs"], 3);
    let chain = env.git(
        &root,
        &["rev-list", "--first-parent", &format!("{old}..main")],
    );
    assert_eq!(chain.lines().count(), 3, "one landing per batch");
    // Arrival order: api first, docs last.
    assert_eq!(
        env.git(&root, &["log", "-1", "--format=%s", "main"]),
        format!(
            "Merge domain/docs {} into main",
            &tip(&env, &root, "domain/docs")[..7]
        )
    );
}

#[test]
fn a_broken_scratch_worktree_is_recreated() {
    let env = Env::new();
    let root = project(&env, CONFIG);
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    submit(&env, "api");
    queue_run(&env, &root, &[]);
    // As a run killed inside `git worktree add` leaves it: locked, folder gone.
    let scratch = root.join(".git/comm-node/queue/worktree");
    env.git(&root, &["worktree", "lock", scratch.to_str().unwrap()]);
    std::fs::remove_dir_all(&scratch).unwrap();
    commit(&env, "web", &[("web/w.txt", "w\n")], "web: w");
    submit(&env, "web");
    let report = queue_run(&env, &root, &[]);
    assert_eq!(report["decisions"][0]["outcome"], "landed");
    assert!(scratch.join("web/w.txt").exists());
    // Leftover untracked files in the scratch worktree are cleaned, ignored ones kept.
    write(&scratch.join("stray.txt"), "x");
    let exclude = root.join(".git/info/exclude");
    write(&exclude, &format!("{}cache/\n", read(&exclude)));
    write(&scratch.join("cache/kept.bin"), "x");
    commit(&env, "docs", &[("docs/d.txt", "d\n")], "docs: d");
    submit(&env, "docs");
    let report = queue_run(&env, &root, &[]);
    assert!(!scratch.join("stray.txt").exists(), "{report}");
    assert!(scratch.join("cache/kept.bin").exists());
}

#[test]
fn a_head_nobody_pushed_is_rejected_as_missing_on_ci() {
    let env = Env::new();
    let seed = project(&env, CONFIG);
    let bare = env.empty_origin(&seed);
    env.git(&seed, &["push", "-q", "origin", "main"]);
    // Submitted and synced, but domain/api itself was never pushed.
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    submit(&env, "api");
    env.cn(&seed, &["sync", "origin"]).expect(0);
    env.git(
        env.dir.path(),
        &["clone", "-q", bare.to_str().unwrap(), "ci"],
    );
    let ci = env.path("ci");
    env.git(&ci, &["config", "user.name", "ci"]);
    env.git(&ci, &["config", "user.email", "ci@test.invalid"]);
    let report = queue_run(&env, &ci, &["--push", "origin"]);
    assert_eq!(report["decisions"][0]["reason"], "missing");
    let body = env.git(&bare, &["log", "-1", "--format=%b", "comm"]);
    assert!(body.contains("Push domain/api and submit again"), "{body}");
}

#[test]
fn an_untracked_file_in_the_way_leaves_the_checkout_alone() {
    let env = Env::new();
    let root = project(&env, CONFIG);
    commit(&env, "api", &[("api/new.txt", "landed\n")], "api: new");
    submit(&env, "api");
    write(&root.join("api/new.txt"), "mine, untracked\n");
    let report = queue_run(&env, &root, &[]);
    let note = &report["checkouts"][0];
    assert_eq!(note["state"], "failed", "{report}");
    assert!(
        note["detail"].as_str().unwrap().contains("api/new.txt"),
        "{note}"
    );
    assert_eq!(read(&root.join("api/new.txt")), "mine, untracked\n");
    assert_eq!(report["decisions"][0]["outcome"], "landed");
}
