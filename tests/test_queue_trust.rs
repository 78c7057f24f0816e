//! What the merge queue promises when runs are killed or `main` is moved
//! behind its back: a killed run's half-done checkout update is finished,
//! its test processes do not outlive it, and commits on `main` the queue
//! did not land are reported to the human.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::queue::{commit, queue_run, spawn_run, spawn_run_with};
use common::{group_alive, kill_group_and_wait, read, wait_stopped, write, Env, Groups};
use serde_json::Value;

const CONFIG: &str = r#"project: app
test: ["true"]
domains:
  api:
    scope: ["api/**"]
  web:
    scope: ["web/**"]
"#;

/// An initialised repository whose project test is `test`.
fn project(env: &Env, test: &str) -> PathBuf {
    let config = CONFIG.replace(r#"test: ["true"]"#, &format!("test: [{test:?}]"));
    env.app(&[
        ("comm.yaml", &config),
        ("api/config.txt", "port = 80\n"),
        ("web/index.txt", "hello\n"),
    ])
}

/// Commits `files` on `domain`'s branch (hooks skipped) and submits it.
fn commit_and_submit(env: &Env, domain: &str, files: &[(&str, &str)]) -> String {
    let head = commit(env, domain, files, domain);
    env.cn(&env.worktree(domain), &["submit"]).expect(0);
    head
}

/// Waits (up to 30 s) for a file to hold a pid.
#[track_caller]
fn wait_for_pid(path: &Path) -> i32 {
    for _ in 0..600 {
        if let Ok(pid) = std::fs::read_to_string(path)
            .unwrap_or_default()
            .trim()
            .parse()
        {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{} never held a pid", path.display());
}

/// A project whose test, while the file `hold` exists, writes its pid to
/// `test.pid` and sleeps 40 s; api's commit is submitted. Returns the
/// root, `hold` and `test.pid`.
fn held_test_queued(env: &Env) -> (PathBuf, PathBuf, PathBuf) {
    let hold = env.path("hold");
    let pid_file = env.path("test.pid");
    write(&hold, "");
    let test = format!(
        "if [ -e {hold} ]; then echo $$ > {pid}; sleep 40; fi",
        hold = hold.display(),
        pid = pid_file.display()
    );
    let root = project(env, &test);
    commit_and_submit(env, "api", &[("api/a.txt", "a\n")]);
    (root, hold, pid_file)
}

/// A repository where a queue run landed api's commit and was killed while
/// the `git read-tree` updating the main checkout was half done:
/// `api/a.txt` written, `api/z.txt` not yet, `.git/index.lock` held. A
/// smudge filter on `api/z.txt` stalls once the test has run (it touches
/// `armed`), so the kill lands at exactly that point. With `kill_git` that
/// git is killed too (the lock stays behind); without, it stays stalled.
fn killed_during_checkout_update(
    env: &Env,
    groups: &mut Groups,
    kill_git: bool,
) -> (PathBuf, String) {
    let armed = env.path("armed");
    let root = project(env, &format!("touch {}", armed.display()));
    let git_pid = env.path("git.pid");
    write(
        &root.join(".git/info/attributes"),
        "api/z.txt filter=stall\n",
    );
    let smudge = format!(
        "if [ -e {armed} ]; then echo $PPID > {pid}; while :; do sleep 0.05; done; fi; cat",
        armed = armed.display(),
        pid = git_pid.display()
    );
    env.git(&root, &["config", "filter.stall.smudge", &smudge]);
    commit_and_submit(
        env,
        "api",
        &[
            ("api/a.txt", "a\n"),
            ("api/config.txt", "port = 8080\n"),
            ("api/z.txt", "z\n"),
        ],
    );
    let mut runner = spawn_run(env, &root, &[]);
    let runner_group = runner.id() as i32;
    groups.0.push(runner_group);
    let git = wait_for_pid(&git_pid);
    // SAFETY: getpgid(2) only reads.
    let git_group = unsafe { libc::getpgid(git) };
    assert!(git_group > 0, "the stalled git runs");
    groups.0.push(git_group);
    // SAFETY: kill(2) on the process group this test started.
    unsafe { libc::kill(-runner_group, libc::SIGKILL) };
    runner.wait().unwrap();
    kill_group_and_wait(runner_group);
    if kill_git {
        kill_group_and_wait(git_group);
    }
    std::fs::remove_file(&armed).unwrap();
    assert!(root.join(".git/index.lock").exists(), "killed mid-update");
    assert_eq!(read(&root.join("api/a.txt")), "a\n");
    assert!(!root.join("api/z.txt").exists());
    let main = env.git(&root, &["rev-parse", "main"]);
    (root, main)
}

/// `git status` is clean, the index and files are those of `main`.
#[track_caller]
fn assert_checkout_at(env: &Env, root: &Path, main: &str) {
    assert!(!root.join(".git/index.lock").exists());
    assert_eq!(env.git(root, &["status", "--porcelain"]), "");
    assert_eq!(env.git(root, &["rev-parse", "HEAD"]), main);
    assert_eq!(
        env.git(root, &["write-tree"]),
        env.git(root, &["rev-parse", "main^{tree}"])
    );
    assert_eq!(read(&root.join("api/a.txt")), "a\n");
    assert_eq!(read(&root.join("api/z.txt")), "z\n");
    assert_eq!(read(&root.join("api/config.txt")), "port = 8080\n");
}

#[test]
fn a_checkout_update_killed_midway_is_finished_by_the_next_run() {
    let env = Env::new();
    let mut groups = Groups::default();
    let (root, main) = killed_during_checkout_update(&env, &mut groups, true);
    // What the crash left: the landed files look like staged deletions.
    let status = env.git(&root, &["status", "--porcelain"]);
    assert!(!status.is_empty());

    let report = queue_run(&env, &root, &[]);
    let notes = report["checkouts"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["state"], "updated", "{notes:?}");
    assert!(
        notes[0]["detail"].as_str().unwrap().contains("killed"),
        "{notes:?}"
    );
    assert_checkout_at(&env, &root, &main);
    assert_eq!(env.git(&root, &["fsck", "--no-dangling"]), "");
}

#[test]
fn a_checkout_update_outliving_its_killed_run_is_killed_and_redone() {
    let env = Env::new();
    let mut groups = Groups::default();
    let (root, main) = killed_during_checkout_update(&env, &mut groups, false);
    let report = queue_run(&env, &root, &[]);
    assert_eq!(report["checkouts"][0]["state"], "updated", "{report}");
    assert_checkout_at(&env, &root, &main);
    let git_pid: i32 = read(&env.path("git.pid")).trim().parse().unwrap();
    // SAFETY: signal 0 only asks whether the process exists.
    assert!(
        unsafe { libc::kill(git_pid, 0) } != 0,
        "the stalled git is gone"
    );
}

#[test]
fn an_index_lock_a_live_git_may_hold_is_never_removed() {
    let env = Env::new();
    let mut groups = Groups::default();
    let (root, main) = killed_during_checkout_update(&env, &mut groups, true);
    // A user's git working in the checkout (as `git commit` waiting for
    // its editor would be).
    let mut user = std::process::Command::new("git");
    user.args(["hash-object", "--stdin"])
        .current_dir(&root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    env.hermetic(&mut user);
    let mut user = user.spawn().unwrap();

    let report = queue_run(&env, &root, &[]);
    let user_alive = user.try_wait().unwrap().is_none();
    user.kill().unwrap();
    user.wait().unwrap();
    assert!(user_alive);
    let notes = report["checkouts"].as_array().unwrap();
    assert_eq!(notes[0]["state"], "failed", "{notes:?}");
    assert!(
        notes[0]["detail"]
            .as_str()
            .unwrap()
            .contains("is working there"),
        "{notes:?}"
    );
    assert!(root.join(".git/index.lock").exists(), "the lock is kept");

    // Once that git is gone, the next run finishes the update.
    let report = queue_run(&env, &root, &[]);
    assert_eq!(report["checkouts"][0]["state"], "updated", "{report}");
    assert_checkout_at(&env, &root, &main);
}

#[test]
fn a_killed_runs_test_processes_do_not_outlive_the_next_run() {
    let env = Env::new();
    let mut groups = Groups::default();
    let (root, hold, pid_file) = held_test_queued(&env);
    let mut runner = spawn_run(&env, &root, &["--timeout", "10s"]);
    groups.0.push(runner.id() as i32);
    let test_group = wait_for_pid(&pid_file);
    groups.0.push(test_group);
    runner.kill().unwrap();
    runner.wait().unwrap();
    std::fs::remove_file(&hold).unwrap();
    assert!(group_alive(test_group), "the test outlives the killed run");

    let report = queue_run(&env, &root, &["--timeout", "10s"]);
    assert!(!group_alive(test_group), "the next run killed it");
    assert_eq!(report["killed_leftover"], test_group, "{report}");
    assert_eq!(report["decisions"][0]["outcome"], "landed", "{report}");
    assert!(!root.join(".git/comm-node/queue/test.group").exists());
}

#[test]
fn a_run_killed_before_recording_its_test_group_leaves_no_test_running() {
    let env = Env::new();
    let mut groups = Groups::default();
    let (root, hold, pid_file) = held_test_queued(&env);
    let vars = [("COMM_NODE_TEST_STOP_BEFORE_GROUP_RECORD", "1")];
    let mut runner = spawn_run_with(&env, &root, &["--timeout", "10s"], &vars);
    groups.0.push(runner.id() as i32);
    wait_stopped(runner.id());
    // Time for an ungated test to start and write its pid.
    std::thread::sleep(Duration::from_millis(500));
    runner.kill().unwrap();
    runner.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    if let Ok(pid) = std::fs::read_to_string(&pid_file) {
        let pgid = pid.trim().parse().unwrap();
        groups.0.push(pgid);
        assert!(
            !group_alive(pgid),
            "the test runs although no run recorded it"
        );
    }
    std::fs::remove_file(&hold).unwrap();

    let report = queue_run(&env, &root, &["--timeout", "10s"]);
    assert_eq!(report["decisions"][0]["outcome"], "landed", "{report}");
    assert!(
        !pid_file.exists(),
        "the test never ran before its group was recorded"
    );
}

/// `kind|from|to|Comm-Main` of every `untested` event on comm in `dir`.
fn untested_events(env: &Env, dir: &Path) -> Vec<String> {
    let out = env.git(
        dir,
        &[
            "log",
            "comm",
            "--format=%(trailers:key=Comm-Kind,valueonly,separator=)|%(trailers:key=Comm-From,valueonly,separator=)|%(trailers:key=Comm-To,valueonly,separator=)|%(trailers:key=Comm-Main,valueonly,separator=)",
        ],
    );
    out.lines()
        .filter(|l| l.starts_with("untested|"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn commits_pushed_straight_to_main_are_reported_to_the_human_once() {
    let env = Env::new();
    let root = project(&env, "true");
    let bare = env.empty_origin(&root);
    env.git(&root, &["push", "-q", "origin", "main"]);
    env.cn(&root, &["sync", "origin"]).expect(0);
    let push = ["--push", "origin"];
    commit_and_submit(&env, "api", &[("api/a.txt", "a\n")]);
    let report = queue_run(&env, &root, &push);
    assert_eq!(report["decisions"][0]["outcome"], "landed", "{report}");
    assert_eq!(report["untested"], serde_json::json!([]));
    let landed = env.git(&bare, &["rev-parse", "main"]);

    // A domain branch pushed straight to the remote's main, untested.
    let api = env.worktree("api");
    env.git(&api, &["merge", "-q", "--ff-only", &landed]);
    write(&api.join("api/b.txt"), "b\n");
    env.git(&api, &["add", "-A"]);
    env.git(
        &api,
        &["commit", "-q", "--no-verify", "-m", "api: b, never tested"],
    );
    let rogue = env.git(&api, &["rev-parse", "HEAD"]);
    env.git(&api, &["push", "-q", "origin", "HEAD:main"]);

    // The next run reports it, even with nothing queued.
    let report = queue_run(&env, &root, &push);
    let untested = &report["untested"][0];
    assert_eq!(untested["from"], landed.as_str(), "{report}");
    assert_eq!(untested["to"], rogue.as_str(), "{report}");
    assert_eq!(untested["count"], 1, "{report}");
    assert_eq!(untested["commits"][0], rogue.as_str(), "{report}");
    let events = untested_events(&env, &bare);
    assert_eq!(events, [format!("untested|comm-node|human|{rogue}")]);
    let inbox = env.cn(&root, &["--as", "human", "inbox"]).expect(0);
    assert!(inbox.stdout.contains("did not land"), "{}", inbox.stdout);
    let text = env
        .cn(&root, &["queue", "run", "--once", "--push", "origin"])
        .expect(0);
    assert!(
        !text.stdout.contains("warning"),
        "reported once: {}",
        text.stdout
    );

    // `queue status` shows it until the queue lands again.
    let status = env.cn(&root, &["--json", "queue", "status"]).expect(0);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["untested"]["to"], rogue.as_str(), "{status}");
    assert!(status["untested"]["event"].is_string(), "{status}");
    let text = env.cn(&root, &["queue", "status"]).expect(0).stdout;
    assert!(text.contains("1 commit the queue did not land"), "{text}");

    // The queue builds on that main, and does not report it again.
    commit_and_submit(&env, "web", &[("web/w.txt", "w\n")]);
    let report = queue_run(&env, &root, &push);
    assert_eq!(report["decisions"][0]["outcome"], "landed", "{report}");
    assert_eq!(report["untested"], serde_json::json!([]), "{report}");
    assert_eq!(env.git(&bare, &["rev-parse", "main^1"]), rogue);
    assert_eq!(untested_events(&env, &bare).len(), 1);
    let status = env.cn(&root, &["--json", "queue", "status"]).expect(0);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(status.get("untested").is_none(), "{status}");
}

#[test]
fn a_commit_made_straight_on_main_is_reported_before_the_queue_builds_on_it() {
    let env = Env::new();
    let root = project(&env, "true");
    // Before the queue landed anything, main is simply where it starts.
    write(&root.join("web/early.txt"), "early\n");
    env.git(&root, &["add", "-A"]);
    env.git(
        &root,
        &["commit", "-q", "--no-verify", "-m", "before the queue"],
    );
    commit_and_submit(&env, "api", &[("api/a.txt", "a\n")]);
    let report = queue_run(&env, &root, &[]);
    assert_eq!(report["untested"], serde_json::json!([]), "{report}");

    write(&root.join("web/late.txt"), "late\n");
    env.git(&root, &["add", "-A"]);
    env.git(
        &root,
        &["commit", "-q", "--no-verify", "-m", "straight on main"],
    );
    let human = env.git(&root, &["rev-parse", "HEAD"]);
    let status = env.cn(&root, &["queue", "status"]).expect(0).stdout;
    assert!(status.contains("the next queue run reports it"), "{status}");

    commit_and_submit(&env, "api", &[("api/b.txt", "b\n")]);
    let run = env.cn(&root, &["queue", "run", "--once"]).expect(0);
    assert!(
        run.stdout
            .contains("warning: queue: main has 1 commit the queue did not land"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("1 landed"), "{}", run.stdout);
    assert_eq!(env.git(&root, &["rev-parse", "main^1"]), human);
    assert_eq!(
        untested_events(&env, &root),
        [format!("untested|comm-node|human|{human}")]
    );
}

/// A plain commit on comm (what a `git commit` in a checkout of comm makes):
/// the queue's decisions could not be written on it.
fn commit_junk_on_comm(env: &Env, root: &Path) {
    let checkout = env.path("comm-checkout");
    env.git(
        root,
        &["worktree", "add", "-q", checkout.to_str().unwrap(), "comm"],
    );
    write(&checkout.join("junk.txt"), "not an event\n");
    env.git(&checkout, &["add", "junk.txt"]);
    env.git(&checkout, &["commit", "-qm", "oops"]);
}

#[test]
fn the_queue_lands_nothing_when_comm_cannot_record_its_decision() {
    let env = Env::new();
    let root = project(&env, "true");
    // A first landing, so the queue has its record of main and nothing
    // else would write on comm before the decision.
    commit_and_submit(&env, "web", &[("web/index.txt", "hi\n")]);
    queue_run(&env, &root, &[]);
    commit_and_submit(&env, "api", &[("api/config.txt", "port = 81\n")]);
    let main_before = env.git(&root, &["rev-parse", "main"]);
    commit_junk_on_comm(&env, &root);

    let refused = env.cn(&root, &["queue", "run", "--once"]).expect_repair();
    assert!(refused.stderr.contains("oops"), "{}", refused.stderr);
    assert_eq!(env.git(&root, &["rev-parse", "main"]), main_before);

    env.cn(&root, &["repair"]).expect(0);
    let run = queue_run(&env, &root, &[]);
    assert_eq!(run["decisions"][0]["outcome"], "landed", "{run}");
    assert_ne!(env.git(&root, &["rev-parse", "main"]), main_before);
    env.cn(&root, &["verify"]).expect(0);
}
