//! The merge queue under fire: runs killed at any point (main is old or
//! tested, a rerun completes), a second run while one is active, and other
//! clones pushing or resubmitting while the queue pushes. Real
//! repositories, the real binary.

mod common;

use std::path::Path;

use common::queue::{
    commit, decisions, is_ancestor, kill, project, queue_run, queued, spawn_run, submit, tip,
    wait_for, CONFIG, TEST,
};
use common::{read, write, Env};

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
