//! `comm-node sync` between clones, through a real `git daemon` on loopback.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use common::daemon::Daemon;
use common::{Env, API_WEB};

/// A seeded repository pushed to a bare `remote.git` served by a daemon,
/// and two clones of it.
fn two_clones(env: &Env) -> (Daemon, PathBuf, PathBuf) {
    let seed = env.repo(
        "seed",
        &[("comm.yaml", API_WEB), ("api/a.ts", "export {};\n")],
    );
    env.cn(&seed, &["init"]).expect(0);
    let base = env.path("served");
    env.bare_remote(&seed, &base);
    let daemon = Daemon::start(env, &base);
    let clones: Vec<PathBuf> = ["a", "b"]
        .iter()
        .map(|name| env.synced_clone(&daemon.url, name, &format!("clone {name}"), name))
        .collect();
    (daemon, clones[0].clone(), clones[1].clone())
}

fn msg_ids(env: &Env, dir: &Path) -> Vec<String> {
    let out = env.git(
        dir,
        &["log", "comm", "--format=%(trailers:key=Comm-Kind,valueonly,separator=)|%(trailers:key=Comm-Id,valueonly,separator=)"],
    );
    out.lines()
        .filter_map(|l| l.strip_prefix("msg|").map(str::to_owned))
        .collect()
}

#[test]
fn concurrent_clones_converge_with_nothing_lost_or_doubled() {
    let env = Env::new();
    let (_daemon, a, b) = two_clones(&env);
    let per_clone = 30;
    let sent: Vec<Vec<String>> = std::thread::scope(|s| {
        let workers: Vec<_> = [(&a, "api", "web"), (&b, "web", "api")]
            .into_iter()
            .map(|(dir, me, peer)| {
                let env = &env;
                s.spawn(move || {
                    let mut ids = Vec::new();
                    for i in 0..per_clone {
                        let run = env
                            .cn(
                                dir,
                                &["--as", me, "send", "--to", peer, &format!("{me} #{i}")],
                            )
                            .expect(0);
                        ids.push(run.stdout.trim().to_owned());
                        if i % 5 == 4 {
                            env.cn(dir, &["sync"]).expect(0);
                        }
                    }
                    ids
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    // Settle: a few rounds until both sides hold the same tip.
    for _ in 0..4 {
        env.cn(&a, &["sync"]).expect(0);
        env.cn(&b, &["sync"]).expect(0);
    }
    let tip_a = env.git(&a, &["rev-parse", "comm"]);
    let tip_b = env.git(&b, &["rev-parse", "comm"]);
    assert_eq!(tip_a, tip_b);
    let served = env.path("served/remote.git");
    assert_eq!(env.git(&served, &["rev-parse", "comm"]), tip_a);

    let ids = msg_ids(&env, &a);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), 2 * per_clone, "every message exactly once");
    assert_eq!(unique.len(), ids.len());
    for id in sent.iter().flatten() {
        assert!(unique.contains(id), "message {id} was lost");
    }
    assert_eq!(
        env.git(&a, &["rev-list", "--merges", "comm"]),
        "",
        "comm stays linear"
    );
    // Sequence numbers are contiguous after the replays.
    let seqs = env.git(
        &a,
        &[
            "log",
            "comm",
            "--format=%(trailers:key=Comm-Seq,valueonly,separator=)",
        ],
    );
    let seqs: Vec<u64> = seqs.lines().map(|s| s.parse().unwrap()).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).rev().collect();
    assert_eq!(seqs, expected);
    env.git(&a, &["fsck", "--strict"]);
    // Each side's inbox sees the other's messages.
    let inbox = env.cn(&b, &["--as", "web", "inbox", "--json"]).expect(0);
    let inbox: serde_json::Value = serde_json::from_str(&inbox.stdout).unwrap();
    assert_eq!(inbox.as_array().unwrap().len(), per_clone);
}

#[test]
fn replayed_acks_do_not_hide_messages_that_arrived_meanwhile() {
    let env = Env::new();
    let (_daemon, a, b) = two_clones(&env);
    env.cn(&a, &["--as", "api", "send", "--to", "web", "first"])
        .expect(0);
    env.cn(&a, &["sync"]).expect(0);
    env.cn(&b, &["sync"]).expect(0);
    // web acks "first" on clone b while api sends "second" on clone a.
    env.cn(&b, &["--as", "web", "ack", "--all"]).expect(0);
    env.cn(&a, &["--as", "api", "send", "--to", "web", "second"])
        .expect(0);
    env.cn(&a, &["sync"]).expect(0);
    env.cn(&b, &["sync"]).expect(0); // replays the ack on top of "second"
    let inbox = env.cn(&b, &["--as", "web", "inbox", "--json"]).expect(0);
    let inbox: serde_json::Value = serde_json::from_str(&inbox.stdout).unwrap();
    let subjects: Vec<&str> = inbox
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["second"]);
}

#[test]
fn sync_adds_a_fetch_refspec_for_single_branch_clones() {
    let env = Env::new();
    let (daemon, _a, _b) = two_clones(&env);
    env.git(
        env.dir.path(),
        &[
            "clone",
            "-q",
            "--single-branch",
            "--branch",
            "main",
            &daemon.url,
            "c",
        ],
    );
    let c = env.path("c");
    let run = env.cn(&c, &["sync", "--json"]).expect(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["refspec_added"], true);
    // A plain `git fetch` now brings comm as well.
    env.git(&c, &["fetch", "-q"]);
    assert_eq!(
        env.git(&c, &["rev-parse", "refs/remotes/origin/comm"]),
        env.git(&c, &["rev-parse", "comm"])
    );
}

#[test]
fn sync_without_a_remote_is_a_clear_error() {
    let env = Env::new();
    let root = env.repo("solo", &[("comm.yaml", API_WEB)]);
    env.cn(&root, &["init"]).expect(0);
    let before = env.git(&root, &["rev-parse", "comm"]);
    let run = env.cn(&root, &["sync"]).expect(2);
    assert!(
        run.stderr.contains("no remote named `origin`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: add one with `git remote add"),
        "{}",
        run.stderr
    );
    assert_eq!(env.git(&root, &["rev-parse", "comm"]), before);
}

#[test]
fn a_claim_that_lost_the_race_on_another_clone_is_rejected_at_sync() {
    let env = Env::new();
    let (_daemon, a, b) = two_clones(&env);
    // Both clones claim it while apart; a pushes first.
    let id = env.claimed_on_both(&a, &b, "the one task");
    env.cn(&b, &["--as", "web", "send", "--to", "api", "kept"])
        .expect(0);
    env.cn(&a, &["sync"]).expect(0);
    let run = env.cn(&b, &["sync", "--json"]).expect(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{report}");
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("task {id} is already claimed by api")),
        "{report}"
    );
    assert_eq!(report["replayed"], 1, "the message still goes through");
    let shown = env.cn(&b, &["--json", "task", "show", &id]).expect(0);
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["assignee"], "api");
    env.cn(&a, &["sync"]).expect(0);
    assert_eq!(
        env.git(&a, &["rev-parse", "comm"]),
        env.git(&b, &["rev-parse", "comm"])
    );
}

/// Issue 10, item 22: `git daemon` runs `git-daemon` as a child, and killing
/// only the `git` wrapper left that child listening long after the tests.
/// The helper kills the daemon's whole process group and waits for it.
#[test]
fn a_git_daemon_never_outlives_its_test() {
    let env = Env::new();
    let seed = env.repo("seed", &[("a.txt", "a\n")]);
    let base = env.path("served");
    env.bare_remote(&seed, &base);
    let daemon = Daemon::start(&env, &base);
    env.git(env.dir.path(), &["clone", "-q", &daemon.url, "c"]);
    let group = daemon.group();
    let members = common::live_group_members(group);
    let listening = members.iter().any(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "git-daemon")
    });
    assert!(
        listening && members.len() >= 2,
        "the git wrapper and git-daemon run in the group: {members:?}"
    );
    drop(daemon);
    assert_eq!(
        common::live_group_members(group),
        Vec::<i32>::new(),
        "a process of the daemon's group outlived it"
    );
}
