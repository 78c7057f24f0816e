//! The merge queue end to end: real repositories, the real binary, git
//! itself to inspect refs, trees and the `comm` log.

mod common;

use std::path::Path;

use common::queue::{commit, project, queue_run, spawn_run, submit, tip, CONFIG, TEST};
use common::{read, write, Env};
use serde_json::Value;

/// `kind|Comm-Domain|Comm-Reason|subject` for each queue decision on comm, oldest first.
fn decisions(env: &Env, root: &Path) -> Vec<String> {
    let out = env.git(
        root,
        &[
            "log",
            "--reverse",
            "comm",
            "--format=%(trailers:key=Comm-Kind,valueonly,separator=)|%(trailers:key=Comm-Domain,valueonly,separator=)|%(trailers:key=Comm-Reason,valueonly,separator=)|%s",
        ],
    );
    out.lines()
        .filter(|l| l.starts_with("landed|") || l.starts_with("rejected|"))
        .map(str::to_owned)
        .collect()
}

fn queued(env: &Env, root: &Path) -> Vec<String> {
    let out = env.git(root, &["ls-tree", "--name-only", "comm", "queue/"]);
    out.lines().map(str::to_owned).collect()
}

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

/// Kills the run with SIGKILL, then waits until the git processes it had
/// started (which live on, as after any crash) are done too, so that what
/// is checked next is the state the crash left.
fn kill(mut child: std::process::Child) {
    let _ = child.kill();
    child.wait().unwrap();
    common::wait_group_gone(
        child.id() as i32,
        "the killed run's git processes did not finish",
    );
}

/// Waits (up to 30 s) for a file the test command creates.
#[track_caller]
fn wait_for(path: &Path) {
    for _ in 0..600 {
        if path.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{} never appeared", path.display());
}

fn is_ancestor(env: &Env, root: &Path, a: &str, b: &str) -> bool {
    env.git_run(root, &["merge-base", "--is-ancestor", a, b])
        .code
        == 0
}

#[test]
fn killed_during_the_test_run_main_is_untouched_and_a_rerun_lands() {
    let env = Env::new();
    assert!(CONFIG.contains(TEST));
    let started = env.path("started");
    let hold = env.path("hold");
    let config = CONFIG.replace(
        TEST,
        &format!(
            "test: [\"touch {}; while [ -e {} ]; do sleep 0.05; done\"]",
            started.display(),
            hold.display()
        ),
    );
    write(&hold, "");
    let root = project(&env, &config);
    let head = commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    submit(&env, "api");
    let old = tip(&env, &root, "main");

    let child = spawn_run(&env, &root, &[]);
    wait_for(&started);
    kill(child);

    assert_eq!(tip(&env, &root, "main"), old, "main is untouched");
    assert_eq!(queued(&env, &root), ["queue/api.yaml"], "still queued");
    assert!(decisions(&env, &root).is_empty());
    assert_eq!(env.git(&root, &["fsck", "--no-dangling"]), "");
    assert_eq!(env.git(&root, &["status", "--porcelain"]), "");

    std::fs::remove_file(&hold).unwrap();
    let report = queue_run(&env, &root, &[]);
    assert_eq!(report["decisions"][0]["outcome"], "landed");
    assert_eq!(tip(&env, &root, "main^2"), head);
    assert!(queued(&env, &root).is_empty());
    assert_eq!(read(&root.join("api/a.txt")), "a\n");
}

#[test]
fn killed_at_any_point_main_is_old_or_tested_and_a_rerun_completes() {
    let env = Env::new();
    let tested = env.path("tested.log");
    let root = project(&env, &tested_config(&tested));
    kill_rounds(&env, &root, &root, &[], &tested, 30, 3);
}

#[test]
fn killed_while_pushing_the_remote_is_old_or_tested_and_a_rerun_completes() {
    let env = Env::new();
    let tested = env.path("tested.log");
    let root = project(&env, &tested_config(&tested));
    let bare = env.empty_origin(&root);
    env.git(&bare, &["config", "receive.denyNonFastForwards", "true"]);
    env.git(&root, &["push", "-q", "origin", "main"]);
    env.cn(&root, &["sync", "origin"]).expect(0);
    kill_rounds(&env, &root, &bare, &["--push", "origin"], &tested, 16, 10);
}

/// A config whose test records each tested commit in `tested`.
fn tested_config(tested: &Path) -> String {
    write(tested, "");
    CONFIG.replace(
        TEST,
        &format!("test: [\"git rev-parse HEAD >> {}\"]", tested.display()),
    )
}

/// Submits a new api commit, kills `queue run --once ARGS` after a delay
/// that grows by `step_ms` a round (so the kills land at different steps:
/// building, testing, the ref update, the checkout update, the decisions,
/// the push), and checks: `main` in `authority` (where the truth lives:
/// this repository, or the remote) is the old tip or a tested commit, fsck
/// is clean, a rerun lands the head with exactly one decision, and the
/// checkout of main is consistent.
fn kill_rounds(
    env: &Env,
    root: &Path,
    authority: &Path,
    args: &[&str],
    tested: &Path,
    rounds: u64,
    step_ms: u64,
) {
    for round in 0..rounds {
        let delay_ms = round * step_ms;
        let file = format!("api/f{round}.txt");
        let head = commit(env, "api", &[(&file, "x\n")], &format!("api: {round}"));
        let entry = submit(env, "api")["entry"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let old = tip(env, authority, "main");

        let child = spawn_run(env, root, args);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        kill(child);

        let tested_commits = read(tested);
        for dir in [root, authority] {
            let now = tip(env, dir, "main");
            assert!(
                now == old || tested_commits.lines().any(|l| l == now),
                "round {round}: main is at {now}, neither the old tip nor a tested commit"
            );
            assert_eq!(
                env.git(dir, &["fsck", "--no-dangling"]),
                "",
                "round {round}"
            );
        }
        let now = tip(env, authority, "main");
        let decisions_of = |dir: &Path| {
            env.git(
                dir,
                &[
                    "log",
                    "comm",
                    "--format=%s",
                    &format!("--grep=^Comm-Entry: {entry}$"),
                ],
            )
        };
        let decided = !decisions_of(authority).is_empty();
        // Where the kill landed, for whoever reads the test output.
        eprintln!(
            "round {round} (kill after {delay_ms} ms): main {}, decision {}",
            if now == old { "untouched" } else { "landed" },
            if decided { "recorded" } else { "pending" }
        );

        queue_run(env, root, args);
        let main = tip(env, authority, "main");
        assert_eq!(tip(env, root, "main"), main, "round {round}");
        assert!(
            is_ancestor(env, authority, &head, &main),
            "round {round}: landed"
        );
        assert!(queued(env, root).is_empty(), "round {round}");
        let recorded = env.git(
            authority,
            &[
                "log",
                "comm",
                "--format=%s",
                &format!("--grep=^Comm-Entry: {entry}$"),
            ],
        );
        assert_eq!(
            recorded.lines().count(),
            1,
            "round {round}: one decision\n{recorded}"
        );
        assert!(
            recorded.starts_with("queue: landed api"),
            "round {round}: {recorded}"
        );
        assert_eq!(
            env.git(root, &["status", "--porcelain"]),
            "",
            "round {round}: checkout follows"
        );
        assert_eq!(read(&root.join(&file)), "x\n", "round {round}");
    }
}

#[test]
fn a_second_run_is_refused_while_one_is_active() {
    let env = Env::new();
    let started = env.path("started");
    let hold = env.path("hold");
    let config = CONFIG.replace(
        TEST,
        &format!(
            "test: [\"touch {}; while [ -e {} ]; do sleep 0.05; done\"]",
            started.display(),
            hold.display()
        ),
    );
    write(&hold, "");
    let root = project(&env, &config);
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    submit(&env, "api");
    let mut child = spawn_run(&env, &root, &[]);
    wait_for(&started);
    let run = env.cn(&root, &["queue", "run", "--once"]).expect(1);
    assert!(
        run.stderr.contains("another queue run is active"),
        "{}",
        run.stderr
    );
    let status = env.cn(&root, &["queue", "status"]).expect(0);
    assert!(
        status.stdout.contains("a run is active"),
        "{}",
        status.stdout
    );
    std::fs::remove_file(&hold).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn the_queue_pushes_main_and_comm_atomically_while_another_clone_pushes() {
    let env = Env::new();
    let seed = project(&env, CONFIG);
    let api = commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    let web = commit(&env, "web", &[("web/w.txt", "w\n")], "web: w");
    submit(&env, "api");
    submit(&env, "web");
    let base = env.path("served");
    let bare = env.bare_remote(&seed, &base);
    // Any forced update would now fail loudly.
    env.git(&bare, &["config", "receive.denyNonFastForwards", "true"]);
    env.git(&bare, &["config", "receive.denyDeletes", "true"]);
    let daemon = common::daemon::Daemon::start(&env, &base);
    let clone = |name: &str| env.synced_clone(&daemon.url, name, name, name);
    let ci = clone("ci");
    let other = clone("other");
    let old_main = tip(&env, &bare, "main");

    let sent: Vec<String> = std::thread::scope(|s| {
        let pusher = s.spawn(|| {
            let mut ids = Vec::new();
            for i in 0..15 {
                let run = env
                    .cn(
                        &other,
                        &["--as", "web", "send", "--to", "api", &format!("note {i}")],
                    )
                    .expect(0);
                ids.push(run.stdout.trim().to_owned());
                env.cn(&other, &["sync"]).expect(0);
            }
            ids
        });
        let report = queue_run(&env, &ci, &["--push", "origin"]);
        assert_eq!(report["decisions"].as_array().unwrap().len(), 2, "{report}");
        pusher.join().unwrap()
    });
    env.cn(&other, &["sync"]).expect(0);

    let remote_main = tip(&env, &bare, "main");
    assert!(is_ancestor(&env, &bare, &old_main, &remote_main));
    assert!(is_ancestor(&env, &bare, &api, &remote_main));
    assert!(is_ancestor(&env, &bare, &web, &remote_main));
    assert_eq!(
        tip(&env, &ci, "main"),
        remote_main,
        "the local main followed"
    );
    assert_eq!(read(&ci.join("web/w.txt")), "w\n");
    let log = env.git(&bare, &["log", "comm", "--format=%s%n%b"]);
    for id in &sent {
        assert!(log.contains(&format!("Comm-Id: {id}")), "message {id} lost");
    }
    assert_eq!(log.matches("queue: landed ").count(), 2, "{log}");
    let left = env.git(&bare, &["ls-tree", "--name-only", "comm", "queue/"]);
    assert_eq!(left, "", "the entries left the queue on the remote");
    assert_eq!(env.git(&bare, &["fsck", "--no-dangling"]), "");
}

#[test]
fn a_synced_decision_keeps_a_resubmission_made_on_another_clone() {
    let env = Env::new();
    let seed = project(&env, CONFIG);
    let first = commit(&env, "api", &[("api/a.txt", "1\n")], "api: 1");
    submit(&env, "api");
    let bare = env.empty_origin(&seed);
    env.git(&seed, &["push", "-q", "origin", "main", "domain/api"]);
    env.cn(&seed, &["sync", "origin"]).expect(0);
    // Another clone resubmits api with a newer head and publishes it.
    env.git(
        env.dir.path(),
        &["clone", "-q", bare.to_str().unwrap(), "other"],
    );
    let other = env.path("other");
    env.git(&other, &["config", "user.name", "other"]);
    env.git(&other, &["config", "user.email", "other@test.invalid"]);
    env.cn(&other, &["sync"]).expect(0);
    env.git(
        &other,
        &["checkout", "-q", "-b", "domain/api", "origin/domain/api"],
    );
    write(&other.join("api/a.txt"), "2\n");
    env.git(&other, &["commit", "-qam", "api: 2"]);
    let second = env.git(&other, &["rev-parse", "HEAD"]);
    env.cn(&other, &["--as", "api", "submit"]).expect(0);
    env.cn(&other, &["sync"]).expect(0);
    // Meanwhile the seed's local queue lands the first head.
    let report = queue_run(&env, &seed, &[]);
    assert_eq!(report["decisions"][0]["head"], first.as_str());
    env.cn(&seed, &["sync"]).expect(0);
    let entry = env.git(&seed, &["show", "comm:queue/api.yaml"]);
    assert!(
        entry.contains(&second),
        "the newer entry survived the replay:\n{entry}"
    );
    assert_eq!(decisions(&env, &seed).len(), 1);
}

#[test]
fn a_lost_push_race_is_retried_and_a_moved_main_redoes_the_batch() {
    let env = Env::new();
    let script = env.path("race.sh");
    let config = CONFIG.replace(TEST, &format!("test: [\"sh {}\"]", script.display()));
    let seed = project(&env, &config);
    let bare = env.empty_origin(&seed);
    env.git(&bare, &["config", "receive.denyNonFastForwards", "true"]);
    env.git(
        &seed,
        &["push", "-q", "origin", "main", "domain/api", "domain/web"],
    );
    env.cn(&seed, &["sync", "origin"]).expect(0);
    env.git(
        env.dir.path(),
        &["clone", "-q", bare.to_str().unwrap(), "other"],
    );
    let other = env.path("other");
    env.git(&other, &["config", "user.name", "other"]);
    env.git(&other, &["config", "user.email", "other@test.invalid"]);
    env.cn(&other, &["sync"]).expect(0);
    // While the queue tests, the other clone pushes to comm, or to main.
    let (flag_comm, flag_main) = (env.path("flag-comm"), env.path("flag-main"));
    write(
        &script,
        &format!(
            "set -e\nif [ -e {fc} ]; then rm {fc}; cd {o}; {bin} --as web send --to api race >/dev/null; {bin} sync >/dev/null; fi\n\
             if [ -e {fm} ]; then rm {fm}; cd {o}; git pull -q --ff-only origin main; git commit -q --allow-empty -m direct; git push -q origin HEAD:main; fi\n",
            fc = flag_comm.display(),
            fm = flag_main.display(),
            o = other.display(),
            bin = common::BIN
        ),
    );

    let api = commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    env.git(&seed, &["push", "-q", "origin", "domain/api"]);
    submit(&env, "api");
    write(&flag_comm, "");
    let report = queue_run(&env, &seed, &["--push", "origin"]);
    assert!(report["push_retries"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["restarts"], 0, "{report}");
    assert_eq!(report["decisions"][0]["outcome"], "landed");
    assert!(is_ancestor(&env, &bare, &api, "main"));
    let log = env.git(&bare, &["log", "comm", "--format=%s"]);
    assert!(log.contains("web → api: race"), "{log}");
    assert!(
        log.starts_with("queue: landed api"),
        "the decision went on top:\n{log}"
    );

    let web = commit(&env, "web", &[("web/w.txt", "w\n")], "web: w");
    env.git(&seed, &["push", "-q", "origin", "domain/web"]);
    submit(&env, "web");
    write(&flag_main, "");
    let report = queue_run(&env, &seed, &["--push", "origin"]);
    assert!(report["restarts"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(
        report["test_runs"], 2,
        "the batch was tested again on the new main"
    );
    assert!(is_ancestor(&env, &bare, &web, "main"));
    assert_eq!(
        env.git(&bare, &["log", "-1", "--format=%s", "main^1"]),
        "direct"
    );
    assert_eq!(tip(&env, &seed, "main"), tip(&env, &bare, "main"));
    assert_eq!(tip(&env, &seed, "comm"), tip(&env, &bare, "comm"));
    assert_eq!(env.git(&seed, &["status", "--porcelain"]), "");
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
