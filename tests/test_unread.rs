//! The unread cache (`.git/comm-node/unread-v1`): `status` counts and
//! `inbox` lists equal a from-scratch reading of comm's history after every
//! step of a scripted history, across acks, broadcasts, a sync that replays
//! local events, and a cache deleted or damaged; and once the cache is
//! built, a reader that never read costs no walk of the history.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use common::daemon::Daemon;
use common::{with_domains, Env, API_WEB};
use serde_json::Value;

const READERS: [&str; 4] = ["api", "web", "docs", "human"];

fn cache_file(dir: &Path) -> PathBuf {
    dir.join(".git/comm-node/unread-v1")
}

/// A seeded three-domain repository served by a git daemon, and two clones.
fn two_clones(env: &Env) -> (Daemon, PathBuf, PathBuf) {
    let config = with_domains(API_WEB, &["docs"]);
    let seed = env.repo(
        "seed",
        &[("comm.yaml", config.as_str()), ("api/a.ts", "export {};\n")],
    );
    env.cn(&seed, &["init"]).expect(0);
    let base = env.path("served");
    env.bare_remote(&seed, &base);
    let daemon = Daemon::start(env, &base);
    let a = env.synced_clone(&daemon.url, "a", "clone a", "a");
    let b = env.synced_clone(&daemon.url, "b", "clone b", "b");
    (daemon, a, b)
}

/// Each reader's unread ids computed from scratch: comm's first-parent
/// history read by git, and the reader's cursor file at the tip.
fn from_scratch(env: &Env, dir: &Path) -> BTreeMap<String, Vec<String>> {
    let fields = ["Kind", "From", "To", "Id", "Seq"]
        .map(|k| format!("%(trailers:key=Comm-{k},valueonly,separator=)"))
        .join("%x1f");
    let log = env.git(
        dir,
        &[
            "log",
            "--first-parent",
            "--reverse",
            "comm",
            &format!("--format={fields}"),
        ],
    );
    let events: Vec<Vec<&str>> = log.lines().map(|l| l.split('\u{1f}').collect()).collect();
    READERS
        .iter()
        .map(|reader| {
            let cursor = env
                .git_run(dir, &["show", &format!("comm:cursors/{reader}.yaml")])
                .stdout;
            let cursor: Value = serde_yaml::from_str(&cursor).unwrap_or(Value::Null);
            let seq = cursor["seq"].as_u64().unwrap_or(0);
            let acked: BTreeSet<&str> = cursor["acked"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let unread = events
                .iter()
                .filter(|e| !["kickoff", "register"].contains(&e[0]) && e[1] != *reader)
                .filter(|e| e[2].split(", ").any(|t| t == *reader || t == "all"))
                .filter(|e| e[4].parse::<u64>().unwrap() > seq && !acked.contains(e[3]))
                .map(|e| e[3].to_owned())
                .collect();
            ((*reader).to_owned(), unread)
        })
        .collect()
}

/// Each reader's unread ids from `inbox`, checked against `status`'s counts.
fn from_cli(env: &Env, dir: &Path) -> BTreeMap<String, Vec<String>> {
    let status: Value =
        serde_json::from_str(&env.cn(dir, &["status", "--json"]).expect(0).stdout).unwrap();
    let counts: BTreeMap<&str, u64> = status["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap(), d["unread"].as_u64().unwrap()))
        .collect();
    READERS
        .iter()
        .map(|reader| {
            let run = env.cn(dir, &["--as", reader, "inbox", "--json"]).expect(0);
            let inbox: Value = serde_json::from_str(&run.stdout).unwrap();
            let ids: Vec<String> = inbox
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect();
            if let Some(&count) = counts.get(reader) {
                assert_eq!(count, ids.len() as u64, "status count of {reader}");
            }
            ((*reader).to_owned(), ids)
        })
        .collect()
}

fn assert_matches(env: &Env, dir: &Path, step: &str) {
    assert_eq!(from_cli(env, dir), from_scratch(env, dir), "after {step}");
}

fn send(env: &Env, dir: &Path, from: &str, to: &str, subject: &str) -> String {
    let run = env.cn(dir, &["--as", from, "send", "--to", to, subject]);
    run.expect(0).stdout.trim().to_owned()
}

#[test]
fn counts_and_inbox_equal_a_from_scratch_reading_after_every_step() {
    let env = Env::new();
    let (_daemon, a, b) = two_clones(&env);
    assert_matches(&env, &a, "a fresh clone");

    let m1 = send(&env, &a, "api", "web", "one reader");
    send(&env, &a, "api", "web,docs", "two readers");
    send(&env, &a, "web", "all", "a broadcast");
    send(&env, &a, "human", "api,web", "from the human");
    assert_matches(&env, &a, "sends to several readers and a broadcast");

    env.cn(&a, &["--as", "web", "ack", &m1]).expect(0);
    assert_matches(&env, &a, "an ack by id");
    env.cn(&a, &["--as", "docs", "ack", "--all"]).expect(0);
    assert_matches(&env, &a, "an ack of everything");
    env.cn(&a, &["--as", "api", "hello"]).expect(0);
    send(&env, &a, "docs", "web", "after the cursor moved");
    assert_matches(&env, &a, "events that are not messages");

    // b publishes first; a's local events are replayed on top, so the
    // cached tip leaves a's history.
    send(&env, &b, "api", "all", "from the other clone");
    env.cn(&b, &["--as", "human", "ack", "--all"]).expect(0);
    env.cn(&b, &["sync"]).expect(0);
    let before = env.git(&a, &["rev-parse", "comm"]);
    env.cn(&a, &["sync"]).expect(0);
    let kept = env.git_run(&a, &["merge-base", "--is-ancestor", &before, "comm"]);
    assert_ne!(kept.code, 0, "the sync replayed a's events");
    assert_matches(&env, &a, "a sync that replayed local events");
    env.cn(&b, &["sync"]).expect(0);
    assert_matches(&env, &b, "a sync that fast-forwarded");
    env.cn(&b, &["--as", "web", "ack", "--all"]).expect(0);
    send(&env, &b, "docs", "web", "after web read all");
    assert_matches(&env, &b, "an ack and a send after the fast-forward");

    fs::remove_file(cache_file(&a)).unwrap();
    assert_matches(&env, &a, "the cache file deleted");
    let cache = fs::read_to_string(cache_file(&a)).unwrap();
    fs::write(cache_file(&a), &cache[..cache.len() - 30]).unwrap();
    assert_matches(&env, &a, "the cache file cut short");
    let mut damaged = cache.clone();
    damaged.replace_range(cache.len() - 2..cache.len() - 1, "z");
    fs::write(cache_file(&a), damaged).unwrap();
    assert_matches(&env, &a, "the cache file damaged");
    fs::write(cache_file(&a), "comm-node unread v0\n").unwrap();
    assert_matches(&env, &a, "a cache file of another version");

    // Readers and senders at once: each reader saves the cache whole.
    std::thread::scope(|s| {
        for (i, reader) in READERS.iter().enumerate() {
            let env = &env;
            let a = &a;
            s.spawn(move || {
                for n in 0..3 {
                    let to = READERS[(i + 1) % READERS.len()];
                    send(env, a, reader, to, &format!("{reader} #{n}"));
                    env.cn(a, &["status"]).expect(0);
                    env.cn(a, &["--as", reader, "inbox"]).expect(0);
                }
            });
        }
    });
    assert_matches(&env, &a, "readers and senders at once");
}

#[test]
fn status_never_walks_history_for_a_reader_that_never_read() {
    let env = Env::new();
    let config = with_domains(API_WEB, &["docs"]);
    let root = env.app(&[("comm.yaml", config.as_str())]);
    let older = env.git(&root, &["rev-list", "--first-parent", "comm"]);
    let first = send(&env, &root, "api", "web", "before the cache");
    send(&env, &root, "api", "docs", "for docs");
    env.cn(&root, &["status"]).expect(0);
    env.cn(&root, &["--as", "human", "inbox"]).expect(0);
    assert!(cache_file(&root).exists(), "status saved the cache");

    // The events before the first message become unreadable: a walk down
    // to the cursors of web, docs or the human (all at 0) would fail.
    for commit in older.lines() {
        let (dir, file) = commit.split_at(2);
        fs::remove_file(root.join(".git/objects").join(dir).join(file)).unwrap();
    }
    let walk = env.git_run(&root, &["log", "--first-parent", "comm"]);
    assert_ne!(walk.code, 0, "the history can no longer be walked");
    let later = send(&env, &root, "docs", "web,human", "after the cache");
    // (status's activity column walks back only until it has seen every
    // domain, which web's message is the last to complete.)
    send(&env, &root, "web", "api", "web speaks");

    let status: Value =
        serde_json::from_str(&env.cn(&root, &["status", "--json"]).expect(0).stdout).unwrap();
    let unread: BTreeMap<&str, u64> = status["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap(), d["unread"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        unread,
        BTreeMap::from([("api", 1), ("docs", 1), ("web", 2)])
    );
    let inbox = env
        .cn(&root, &["--as", "human", "inbox", "--json"])
        .expect(0);
    let inbox: Value = serde_json::from_str(&inbox.stdout).unwrap();
    assert_eq!(inbox[0]["id"], later.as_str());
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    let web = env.cn(&root, &["--as", "web", "inbox", "--json"]).expect(0);
    assert!(web.stdout.contains(&first) && web.stdout.contains(&later));
}
