//! Claims on real repositories: processes racing for tasks (exactly one
//! wins each), agents killed mid-claim, and the task cache and the journal a claim appends to.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;

use common::bus::json;
use common::tasks::{add, bus, claim_count, ids, outputs, spawn};
use common::{write, Env};
use serde_json::Value;

#[test]
fn eight_racing_claims_of_one_task_have_exactly_one_winner() {
    let env = Env::new();
    let root = bus(&env);
    let id = add(&env, &root, &["the one task"]);
    let domains = ["api", "web", "docs", "api", "web", "docs", "api", "web"];
    let racers: Vec<_> = domains
        .iter()
        .map(|d| spawn(&env, &root, &["--as", d, "task", "claim", &id]))
        .collect();
    let results = outputs(racers);
    let winners: Vec<_> = results.iter().filter(|r| r.0 == 0).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (code, _, stderr) in results.iter().filter(|r| r.0 != 0) {
        assert_eq!(*code, 1, "{stderr}");
        assert!(
            stderr.contains(&format!("task {id} is already claimed by")),
            "{stderr}"
        );
    }
    assert_eq!(claim_count(&env, &root), 1);
    env.git(&root, &["fsck", "--strict", "--no-dangling"]);
}

#[test]
fn eight_racing_task_next_calls_share_eight_tasks_exactly_once() {
    let env = Env::new();
    let root = bus(&env);
    let pool: BTreeSet<String> = (0..8)
        .map(|i| add(&env, &root, &[&format!("job {i}")]))
        .collect();
    let domains = ["api", "web", "docs", "api", "web", "docs", "api", "web"];
    let racers: Vec<_> = domains
        .iter()
        .map(|d| spawn(&env, &root, &["--as", d, "--json", "task", "next"]))
        .collect();
    let mut claimed = BTreeSet::new();
    for (code, stdout, stderr) in outputs(racers) {
        assert_eq!(code, 0, "{stderr}");
        let task: Value = serde_json::from_str(&stdout).unwrap();
        assert!(
            claimed.insert(task["id"].as_str().unwrap().to_owned()),
            "claimed twice: {task}"
        );
    }
    assert_eq!(claimed, pool);
    let list = json(
        &env.cn(&root, &["task", "list", "--status", "claimed", "--json"])
            .expect(0),
    );
    assert_eq!(ids(&list).len(), 8);
    env.cn(&root, &["--as", "api", "task", "next"]).expect(1);
}

#[test]
fn agents_killed_mid_claim_leave_every_task_claimed_at_most_once() {
    let env = Env::new();
    let root = bus(&env);
    let jsonl: String = (0..300)
        .map(|i| {
            format!(
                "{{\"id\":\"job-{i}\",\"title\":\"job {i}\",\"priority\":{}}}\n",
                i % 5
            )
        })
        .collect();
    let file = env.path("jobs.jsonl");
    write(&file, &jsonl);
    env.cn(
        &root,
        &[
            "--as",
            "human",
            "task",
            "import",
            "--beads",
            file.to_str().unwrap(),
        ],
    )
    .expect(0);
    for (round, delay_ms) in [300u64, 150, 450].into_iter().enumerate() {
        let claims_before = claim_count(&env, &root);
        let mut children = Vec::new();
        for p in 0..8 {
            let who = ["api", "web", "docs"][p % 3];
            let script = format!(
                "while true; do id=$(\"$0\" --as {who} task next | head -1) || exit 1; \"$0\" --as {who} task done \"$id\" >/dev/null || exit 1; done"
            );
            children.push(env.spawn_loop(&root, &script, Stdio::null(), Stdio::null()));
        }
        // Kill mid-flight, but only once a claim of this round has landed:
        // a loaded machine may take longer than the delay to start them.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while claim_count(&env, &root) <= claims_before && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        common::kill_loops(children, &format!("round {round}"));
        env.git(&root, &["fsck", "--strict", "--no-dangling"]);
        // Each task was claimed at most once, and the state agrees with the history.
        let claims = env.git(&root, &["log", "--format=%(trailers:key=Comm-Action,valueonly,separator=)|%(trailers:key=Comm-Task,valueonly,separator=)|%(trailers:key=Comm-From,valueonly,separator=)", "comm"]);
        let mut claimed = std::collections::BTreeMap::new();
        for line in claims.lines() {
            let parts: Vec<&str> = line.split('|').collect();
            if parts[0] == "claim" {
                assert!(
                    claimed
                        .insert(parts[1].to_owned(), parts[2].to_owned())
                        .is_none(),
                    "{} claimed twice",
                    parts[1]
                );
            }
        }
        assert!(
            !claimed.is_empty(),
            "round {round}: no claim landed before the kill"
        );
        let all = json(&env.cn(&root, &["task", "list", "--json"]).expect(0));
        for t in all.as_array().unwrap() {
            let id = t["id"].as_str().unwrap();
            match t["status"].as_str().unwrap() {
                "open" => assert!(!claimed.contains_key(id), "{id} is open but was claimed"),
                _ => assert_eq!(
                    t["assignee"].as_str(),
                    claimed.get(id).map(String::as_str),
                    "{id}"
                ),
            }
        }
        // Work goes on.
        let next = json(
            &env.cn(&root, &["--as", "api", "--json", "task", "next"])
                .expect(0),
        );
        env.cn(
            &root,
            &["--as", "api", "task", "done", next["id"].as_str().unwrap()],
        )
        .expect(0);
    }
}

/// What the task cache answers: every task, the ready ones, and those
/// each domain may take.
fn views(env: &Env, root: &std::path::Path) -> Vec<String> {
    let mut out = vec![
        env.cn(root, &["task", "list", "--json"]).expect(0).stdout,
        env.cn(root, &["task", "ready", "--json"]).expect(0).stdout,
    ];
    for d in ["api", "web", "docs"] {
        out.push(
            env.cn(root, &["--as", d, "task", "ready", "--json"])
                .expect(0)
                .stdout,
        );
    }
    out
}

/// Asserts that the cache with its claims journal answers like one
/// rebuilt from comm, then leaves the rebuilt one.
fn assert_equals_rebuilt(env: &Env, root: &std::path::Path) {
    let journalled = views(env, root);
    let cache = root.join(".git/comm-node/tasks-v3");
    std::fs::remove_file(&cache).unwrap();
    let _ = std::fs::remove_file(cache.with_extension("log"));
    assert_eq!(views(env, root), journalled);
}

#[test]
fn a_claim_appends_to_the_journal_and_leaves_the_cache_file_alone() {
    let env = Env::new();
    let root = bus(&env);
    let convoy = add(&env, &root, &["convoy"]);
    let first = add(
        &env,
        &root,
        &["first", "--domain", "api", "--parent", &convoy],
    );
    add(&env, &root, &["second", "--domain", "web", "--dep", &first]);
    add(
        &env,
        &root,
        &["third, with a comma \\ and a backslash", "--domain", "api"],
    );
    let cache = root.join(".git/comm-node/tasks-v3");
    env.cn(&root, &["task", "ready"]).expect(0);
    let before = std::fs::read(&cache).unwrap();
    env.cn(&root, &["--as", "api", "task", "claim", &first])
        .expect(0);
    assert_eq!(std::fs::read(&cache).unwrap(), before);
    let journal = std::fs::read_to_string(cache.with_extension("log")).unwrap();
    assert!(journal.contains(&format!("\t{first}\t")), "{journal}");
    let ready = ids(&json(
        &env.cn(&root, &["task", "ready", "--json"]).expect(0),
    ));
    assert!(!ready.contains(&first));
    assert_equals_rebuilt(&env, &root);
}

#[test]
fn the_journalled_cache_equals_a_rebuilt_one_after_racing_claims_dones_and_a_torn_line() {
    let env = Env::new();
    let root = bus(&env);
    for i in 0..12 {
        let domain = ["api", "web", "docs", "none"][i % 4];
        let title = format!("job {i}");
        match domain {
            "none" => add(&env, &root, &[&title]),
            d => add(&env, &root, &[&title, "--domain", d]),
        };
    }
    env.cn(&root, &["task", "ready"]).expect(0);
    let claimers = ["api", "web", "docs", "api", "web", "docs"];
    let racers: Vec<_> = claimers
        .iter()
        .map(|d| spawn(&env, &root, &["--as", d, "--json", "task", "next"]))
        .collect();
    let mut taken = Vec::new();
    for ((code, stdout, stderr), d) in outputs(racers).into_iter().zip(claimers) {
        assert_eq!(code, 0, "{stderr}");
        let task: Value = serde_json::from_str(&stdout).unwrap();
        taken.push((d, task["id"].as_str().unwrap().to_owned()));
    }
    assert_equals_rebuilt(&env, &root);
    // Claims journalled on the rebuilt cache, then dones from several
    // processes at once (a done rewrites the cache on its next read).
    for d in ["api", "web", "docs"] {
        env.cn(&root, &["--as", d, "task", "next"]).expect(0);
    }
    let finishers: Vec<_> = taken
        .iter()
        .map(|(d, id)| spawn(&env, &root, &["--as", d, "task", "done", id]))
        .collect();
    for (code, _, stderr) in outputs(finishers) {
        assert_eq!(code, 0, "{stderr}");
    }
    env.cn(&root, &["task", "ready"]).expect(0);
    env.cn(&root, &["--as", "api", "task", "next"]).expect(0);
    // A claim killed mid-append leaves half a line; the next one lands on it.
    let journal = root.join(".git/comm-node/tasks-v3.log");
    let text = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(&journal, format!("{text}{}", &text[..text.len() / 2])).unwrap();
    let next = env.cn(&root, &["--as", "web", "--json", "task", "next"]);
    let id = json(&next.expect(0))["id"].as_str().unwrap().to_owned();
    // The claim starts a line of its own after the torn one.
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.ends_with('\n') && text.lines().last().unwrap().contains(&id));
    assert_equals_rebuilt(&env, &root);
}

#[test]
fn a_claim_past_the_journal_limit_writes_the_cache_a_rebuild_would() {
    let env = Env::new();
    let root = bus(&env);
    let first = add(&env, &root, &["first", "--domain", "api"]);
    add(&env, &root, &["second", "--domain", "web", "--dep", &first]);
    add(&env, &root, &["third"]);
    env.cn(&root, &["task", "ready"]).expect(0);
    // Lines no reader applies (their checksums fail) fill the journal.
    let cache = root.join(".git/comm-node/tasks-v3");
    let journal = cache.with_extension("log");
    std::fs::write(&journal, "torn\n".repeat(5000)).unwrap();
    env.cn(&root, &["--as", "api", "task", "claim", &first])
        .expect(0);
    assert!(!journal.exists(), "the journal went with the compaction");
    let compacted = std::fs::read(&cache).unwrap();
    std::fs::remove_file(&cache).unwrap();
    env.cn(&root, &["task", "ready"]).expect(0);
    assert_eq!(std::fs::read(&cache).unwrap(), compacted);
}

#[test]
fn task_next_takes_tasks_in_the_order_task_ready_lists_them() {
    let env = Env::new();
    let root = bus(&env);
    let tasks: [&[&str]; 8] = [
        &["web, later", "--domain", "web", "--priority", "2"],
        &["web, urgent", "--domain", "web", "--priority", "1"],
        &["web, urgent too", "--domain", "web", "--priority", "1"],
        &["anyone", "--priority", "1"],
        &["css work", "--skill", "css", "--priority", "0"],
        &["rust work", "--skill", "rust", "--priority", "0"],
        &["api's", "--domain", "api", "--priority", "0"],
        &["web, least", "--domain", "web", "--priority", "4"],
    ];
    for args in tasks {
        add(&env, &root, args);
    }
    let ready = env.cn(&root, &["--as", "web", "--json", "task", "ready"]);
    let listed = ids(&json(&ready.expect(0)));
    assert_eq!(listed.len(), 6, "{listed:?}");
    let taken: Vec<String> = listed
        .iter()
        .map(|_| {
            let next = env.cn(&root, &["--as", "web", "--json", "task", "next"]);
            json(&next.expect(0))["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(taken, listed);
    env.cn(&root, &["--as", "web", "task", "next"]).expect(1);
}

#[test]
fn task_next_first_returns_a_claim_whose_lease_lapsed() {
    let env = Env::new();
    let root = bus(&env);
    let id = add(&env, &root, &["anyone's"]);
    let t0 = 1_800_000_000;
    env.cn_at(&root, t0, &["--as", "web", "task", "claim", &id])
        .expect(0);
    // An hour on, web's claim holds (the default lease is 2h), though
    // api and docs never wrote a thing.
    env.cn_at(&root, t0 + 3600, &["--as", "api", "task", "next"])
        .expect(1);
    let next = env.cn_at(
        &root,
        t0 + 3 * 3600,
        &["--as", "api", "--json", "task", "next"],
    );
    assert_eq!(json(&next.expect(0))["id"], id.as_str());
    assert_eq!(claim_count(&env, &root), 2);
}

#[test]
fn task_next_keeps_the_claims_of_a_domain_that_claimed_within_the_lease() {
    let env = Env::new();
    let root = bus(&env);
    let first = add(&env, &root, &["web's first", "--domain", "web"]);
    let second = add(&env, &root, &["web's second", "--domain", "web"]);
    let anyone = add(&env, &root, &["anyone's"]);
    let t0 = 1_800_000_000;
    let hours = |h: i64| t0 + h * 3600;
    for (at, id) in [(t0, &first), (hours(3), &second)] {
        env.cn_at(&root, at, &["--as", "web", "task", "claim", id])
            .expect(0);
    }
    let open = || {
        let list = env.cn(&root, &["task", "list", "--status", "open", "--json"]);
        ids(&json(&list.expect(0)))
    };
    // Web's first claim is past the lease (2h), its second is not: web
    // is not lapsed, and api takes the one task it may.
    let next = env.cn_at(&root, hours(4), &["--as", "api", "--json", "task", "next"]);
    assert_eq!(json(&next.expect(0))["id"], anyone.as_str());
    assert!(!open().contains(&first) && !open().contains(&second));
    // Past the lease of both, both go back to the pool.
    env.cn_at(&root, hours(6), &["--as", "docs", "task", "next"]);
    assert!(open().contains(&first) && open().contains(&second));
}
