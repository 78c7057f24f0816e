//! The reservation harness: a two-domain repository whose shared files
//! both may reserve, reserving at a fixed time, and readers of comm
//! (`test_reserve.rs`, `test_reserve_lifecycle.rs`).

use std::path::{Path, PathBuf};

use super::Env;
use serde_json::Value;

/// Two domains with their own folders; `src/**`, `docs/**` and `Cargo.lock`
/// are shared, so both may reserve there and their reservations can meet.
pub const CONFIG: &str = "project: app
shared: [\"Cargo.lock\", \"src/**\", \"docs/**\"]
domains:
  api:
    scope: [\"api/**\"]
  web:
    scope: [\"web/**\"]
";

/// A fixed "now" for the tests that move the clock.
pub const T0: i64 = 1_800_000_000;

/// The repository of `config` with a file in each folder it names.
pub fn setup(env: &Env, config: &str) -> PathBuf {
    env.app(&[
        ("comm.yaml", config),
        ("api/a.py", "a = 1\n"),
        ("web/w.py", "w = 1\n"),
        ("src/x.py", "x = 1\n"),
        ("Cargo.lock", "# lock\n"),
    ])
}

/// Reserves as `who` at `T0`; returns the id printed.
#[track_caller]
pub fn reserve(env: &Env, root: &Path, who: &str, args: &[&str]) -> String {
    let mut all = vec!["--as", who, "reserve"];
    all.extend_from_slice(args);
    let run = env.cn_at(root, T0, &all).expect(0);
    let id = run.stdout.trim().to_owned();
    assert!(looks_like_reservation_id(&id), "not an id: {id:?}");
    id
}

/// `R-` and 10 random letters (digits and lowercase letters).
pub fn looks_like_reservation_id(id: &str) -> bool {
    id.strip_prefix("R-").is_some_and(|h| {
        h.len() == 10
            && h.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    })
}

/// The files under `reservations/` at the tip of comm.
pub fn reservation_files(env: &Env, root: &Path) -> Vec<String> {
    env.git(
        root,
        &["ls-tree", "-r", "--name-only", "comm", "reservations/"],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// `reservations --json ARGS`, parsed.
pub fn listing(env: &Env, root: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["reservations", "--json"];
    all.extend_from_slice(args);
    let run = env.cn(root, &all).expect(0);
    serde_json::from_str::<Value>(&run.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The reservation cache file and its journal.
pub fn cache_files(root: &Path) -> (PathBuf, PathBuf) {
    let cache = root.join(".git/comm-node/reservations-v3");
    let journal = cache.with_extension("log");
    (cache, journal)
}

/// Every reservation, as `reservations --all --json` lists them at `at`.
pub fn listed_at(env: &Env, root: &Path, at: i64) -> String {
    let run = env.cn_at(root, at, &["reservations", "--all", "--json"]);
    run.expect(0).stdout
}

/// Asserts that the cache with its journal lists at `at` what one rebuilt
/// from comm lists, then leaves the rebuilt one; returns the listing.
pub fn assert_equals_rebuilt_at(env: &Env, root: &Path, at: i64) -> String {
    let journalled = listed_at(env, root, at);
    let (cache, journal) = cache_files(root);
    std::fs::remove_file(&cache).unwrap();
    let _ = std::fs::remove_file(journal);
    assert_eq!(listed_at(env, root, at), journalled);
    journalled
}
