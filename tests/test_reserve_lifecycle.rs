//! The life of reservations on real repositories: expiry through
//! `COMM_NODE_NOW`, releases (forced, `--all`), racing reservers, writers
//! killed mid-append, the cache, and replays in `sync`.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use common::bus::{tip, trailer};
use common::reserve::{
    assert_equals_rebuilt_at, listing, reservation_files, reserve, setup, CONFIG, T0,
};
use common::{write, Env, BIN};
use serde_json::Value;

#[test]
fn an_expired_reservation_stops_blocking_and_is_pruned() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    let id = env
        .cn_at(
            &root,
            T0,
            &["--as", "api", "reserve", "src/*.py", "--ttl", "1h"],
        )
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    let later = T0 + 2 * 3600;
    let web = env.worktree("web");
    write(&web.join("src/x.py"), "x = 2\n");
    env.git(&web, &["add", "-A"]);
    // Still live at T0 + 30m: refused.
    let refused = env.run_at("git", &web, T0 + 1800, &["commit", "-qm", "touch x"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    // Two hours later it counts nowhere.
    let listed = env
        .cn_at(&root, later, &["reservations", "--json"])
        .expect(0);
    assert_eq!(listed.stdout.trim(), "[]");
    let all = env
        .cn_at(&root, later, &["reservations", "--all"])
        .expect(0);
    assert!(all.stdout.contains(&format!("{id}  api")), "{}", all.stdout);
    assert!(
        all.stdout.contains("expired") && all.stdout.contains("1h ago"),
        "{}",
        all.stdout
    );
    let commit = env.run_at("git", &web, later, &["commit", "-qm", "touch x"]);
    assert_eq!(commit.code, 0, "{}", commit.stderr);
    // The next reservation prunes the expired file in its own commit.
    assert_eq!(
        reservation_files(&env, &root),
        [common::reservation_path(&id)]
    );
    let mine = env
        .cn_at(&root, later, &["--as", "web", "reserve", "src/foo*"])
        .expect(0);
    let mine = mine.stdout.trim();
    assert_eq!(
        reservation_files(&env, &root),
        [common::reservation_path(mine)]
    );
    assert_eq!(env.git(&root, &["rev-list", "--count", "comm"]), "3");
}

#[test]
fn a_release_prunes_expired_reservations_in_its_own_commit() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    let old = env
        .cn_at(
            &root,
            T0,
            &["--as", "web", "reserve", "web/**", "--ttl", "10m"],
        )
        .expect(0)
        .stdout;
    let mine = reserve(&env, &root, "api", &["api/**"]);
    let commits = env.git(&root, &["rev-list", "--count", "comm"]);
    env.cn_at(&root, T0 + 3600, &["--as", "api", "release", &mine])
        .expect(0);
    assert!(
        reservation_files(&env, &root).is_empty(),
        "{old} was not pruned"
    );
    let after: u64 = env
        .git(&root, &["rev-list", "--count", "comm"])
        .parse()
        .unwrap();
    assert_eq!(after, commits.parse::<u64>().unwrap() + 1);
}

#[test]
fn a_forced_release_reaches_the_holders_inbox() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    let id = reserve(&env, &root, "api", &["src/*.py"]);
    let before = tip(&env, &root);
    // A domain may neither release another's reservation nor force it.
    let r = env.cn(&root, &["--as", "web", "release", &id]).expect(1);
    assert!(r.stderr.contains("held by `api`"), "{}", r.stderr);
    let r = env
        .cn(&root, &["--as", "web", "release", &id, "--force"])
        .expect(1);
    assert!(r.stderr.contains("may not break"), "{}", r.stderr);
    let r = env
        .cn(&env.worktree("web"), &["release", &id, "--force"])
        .expect(1);
    assert!(r.stderr.contains("may not break"), "{}", r.stderr);
    assert_eq!(tip(&env, &root), before);
    // The human may.
    env.cn(
        &root,
        &[
            "--as",
            "human",
            "release",
            &id,
            "--force",
            "--reason",
            "web needs x.py for the hotfix",
        ],
    )
    .expect(0);
    assert!(reservation_files(&env, &root).is_empty());
    assert_eq!(trailer(&env, &root, "comm", "Comm-To"), "api");
    let inbox = env.cn(&root, &["--as", "api", "inbox", "--json"]).expect(0);
    let inbox: Value = serde_json::from_str(&inbox.stdout).unwrap();
    let items = inbox.as_array().unwrap();
    assert_eq!(items.len(), 1, "{inbox:#}");
    assert_eq!(items[0]["kind"], "release");
    assert_eq!(items[0]["from"], "human");
    assert!(items[0]["subject"].as_str().unwrap().contains(&id));
    assert_eq!(items[0]["body"], "web needs x.py for the hotfix");
    // web's inbox does not get it.
    let web_inbox = env.cn(&root, &["--as", "web", "inbox", "--json"]).expect(0);
    assert_eq!(web_inbox.stdout.trim(), "[]");
}

#[test]
fn release_all_releases_only_ones_own() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    reserve(&env, &root, "api", &["src/a.py"]);
    reserve(&env, &root, "api", &["api/**"]);
    let theirs = reserve(&env, &root, "web", &["src/b.py"]);
    let out = env
        .cn(&root, &["--as", "api", "release", "--all", "--json"])
        .expect(0);
    let out: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(out["released"].as_array().unwrap().len(), 2);
    assert_eq!(
        reservation_files(&env, &root),
        [common::reservation_path(&theirs)]
    );
    let before = tip(&env, &root);
    let again = env
        .cn(&root, &["--as", "api", "release", "--all"])
        .expect(0);
    assert!(
        again.stdout.contains("api holds no reservations"),
        "{}",
        again.stdout
    );
    assert_eq!(
        tip(&env, &root),
        before,
        "nothing to release wrote an event"
    );
}

/// Eight domains that all may change `common/**`.
fn eight_domains() -> String {
    let mut config = String::from(
        "project: app\nshared: [\"common/**\", \"src/**\", \"Cargo.lock\"]\ndomains:\n",
    );
    for i in 0..8 {
        config.push_str(&format!("  d{i}:\n    scope: [\"d{i}/**\"]\n"));
    }
    config
}

#[test]
fn racing_exclusive_reservers_one_wins_and_seven_are_refused() {
    // Pairwise overlapping (all match common/a.md), each from its own domain.
    const GLOBS: [&str; 8] = [
        "common/**",
        "common/*",
        "common/a*",
        "common/*.md",
        "common/[a-z]*",
        "common/?*",
        "common/{a,b}*",
        "common/a*.md",
    ];
    let env = Env::new();
    let root = setup(&env, &eight_domains());
    for round in 0..3 {
        let children: Vec<Child> = GLOBS
            .iter()
            .enumerate()
            .map(|(i, glob)| {
                let mut cmd = Command::new(BIN);
                cmd.args(["--as", &format!("d{i}"), "reserve", glob])
                    .current_dir(&root)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                env.hermetic(&mut cmd);
                cmd.spawn().unwrap()
            })
            .collect();
        let outs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let winners: Vec<String> = outs
            .iter()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        for o in outs.iter().filter(|o| !o.status.success()) {
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{stderr}");
            assert!(
                stderr.contains("cannot reserve") && stderr.contains(&winners[0]),
                "{stderr}"
            );
        }
        assert_eq!(
            reservation_files(&env, &root),
            [common::reservation_path(&winners[0])]
        );
        env.cn(&root, &["--as", "human", "release", "--force", &winners[0]])
            .expect(0);
    }
    env.git(&root, &["fsck", "--strict", "--no-dangling"]);
}

#[test]
fn reservers_killed_mid_append_leave_a_sound_bus() {
    let env = Env::new();
    let root = setup(&env, &eight_domains());
    for (round, delay_ms) in [120u64, 260, 400].into_iter().enumerate() {
        let children: Vec<common::GroupChild> = (0..4)
            .map(|p| {
                // Each loop reserves fresh non-overlapping files and releases them.
                let script = format!(
                    "i=0; while true; do i=$((i+1)); id=$(\"$0\" --as d{p} reserve \"d{p}/r{round}/f$i/**\") || exit 1; \"$0\" --as d{p} release \"$id\" >/dev/null || exit 1; done"
                );
                env.spawn_loop(&root, &script, Stdio::null(), Stdio::null())
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        common::kill_loops(children, "kill -9");
        env.git(&root, &["fsck", "--strict"]);
        // Every file on comm parses; a fresh reservation and release work.
        listing(&env, &root, &["--all"]);
        let id = reserve(&env, &root, "d0", &["d0/after/**"]);
        env.cn(&root, &["--as", "d0", "release", &id]).expect(0);
        assert!(!root.join(".git/refs/heads/comm.lock").exists());
        env.git(&root, &["fsck", "--strict"]);
    }
}

#[test]
fn a_cache_that_is_deleted_or_garbage_changes_nothing() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    let a = reserve(&env, &root, "api", &["src/a.py"]);
    let b = reserve(&env, &root, "web", &["src/b.py"]);
    let cache = root.join(".git/comm-node/reservations-v3");
    assert!(cache.exists());
    std::fs::write(&cache, "garbage\nnot\tjson\n").unwrap();
    let ids: Vec<String> = listing(&env, &root, &[])
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(ids, want);
    std::fs::remove_file(&cache).unwrap();
    env.cn(&root, &["--as", "web", "reserve", "src/a.py"])
        .expect(1);
}

#[test]
fn the_cache_reserve_and_release_record_lists_what_a_rebuild_lists() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    // What the cache with its journal lists equals what a rebuild lists.
    let rebuilt = |at: i64| assert_equals_rebuilt_at(&env, &root, at);
    let brief = reserve(&env, &root, "api", &["src/a.py", "--ttl", "1m"]);
    let escaped = reserve(
        &env,
        &root,
        "web",
        &["web/{a,b}/**", "--reason", "commas, a \\ and a\ttab"],
    );
    reserve(&env, &root, "api", &["api/**", "--shared"]);
    rebuilt(T0);
    // An hour later: the next reserve prunes the expired one and records
    // the state without it.
    env.cn_at(&root, T0 + 3600, &["--as", "web", "reserve", "src/a.py"])
        .expect(0);
    assert!(!rebuilt(T0 + 3600).contains(&brief));
    env.cn_at(&root, T0 + 3600, &["--as", "web", "release", &escaped])
        .expect(0);
    assert!(!rebuilt(T0 + 3600).contains(&escaped));
}

/// A bare remote seeded from a fresh repository, and two clones synced
/// with it (a plain path remote: the local transport).
fn two_clones(env: &Env) -> (PathBuf, PathBuf) {
    let seed = setup(env, CONFIG);
    let remote = env.bare_remote(&seed, env.dir.path());
    let remote = remote.to_str().unwrap();
    let clones: Vec<PathBuf> = ["a", "b"]
        .iter()
        .map(|name| env.synced_clone(remote, name, &format!("clone {name}"), name))
        .collect();
    (clones[0].clone(), clones[1].clone())
}

#[test]
fn a_replayed_reservation_that_now_conflicts_is_rejected() {
    let env = Env::new();
    let (a, b) = two_clones(&env);
    let won = reserve(&env, &a, "api", &["src/*.py"]);
    let lost = reserve(&env, &b, "web", &["src/foo*"]);
    let kept = reserve(&env, &b, "web", &["web/**"]);
    env.cn(&a, &["sync"]).expect(0);
    let report = env.cn(&b, &["sync", "--json"]).expect(0);
    let report: Value = serde_json::from_str(&report.stdout).unwrap();
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{report:#}");
    let reason = rejected[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&won) && reason.contains("`api`"),
        "{reason}"
    );
    assert_eq!(report["replayed"], 1);
    let mut want = vec![
        common::reservation_path(&won),
        common::reservation_path(&kept),
    ];
    want.sort();
    assert_eq!(reservation_files(&env, &b), want);
    assert!(!reservation_files(&env, &b).contains(&common::reservation_path(&lost)));
    env.cn(&a, &["sync"]).expect(0);
    assert_eq!(tip(&env, &a), tip(&env, &b));
}

#[test]
fn a_replayed_release_of_a_reservation_already_gone_is_a_no_op() {
    let env = Env::new();
    let (a, b) = two_clones(&env);
    let id = reserve(&env, &a, "api", &["src/*.py"]);
    env.cn(&a, &["sync"]).expect(0);
    env.cn(&b, &["sync"]).expect(0);
    // Both sides release it: the holder in a, the human (forced) in b.
    env.cn(&a, &["--as", "api", "release", &id]).expect(0);
    env.cn(&b, &["--as", "human", "release", "--force", &id])
        .expect(0);
    env.cn(&a, &["sync"]).expect(0);
    let report = env.cn(&b, &["sync", "--json"]).expect(0);
    let report: Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(report["replayed"], 0, "{report:#}");
    assert_eq!(report["rejected"].as_array().unwrap().len(), 0);
    assert!(reservation_files(&env, &b).is_empty());
    assert_eq!(tip(&env, &a), tip(&env, &b));
}
