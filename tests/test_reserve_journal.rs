//! The reservation cache's journal on real repositories: a reserve or
//! release appends one line beside the cache instead of rewriting it, and
//! what the cache with its journal lists equals a rebuild after racing
//! reservers and releasers, a torn line, and a compaction.

mod common;

use std::path::Path;

use common::reserve::{
    assert_equals_rebuilt_at, cache_files as files, listed_at, reserve, setup, CONFIG, T0,
};
use common::tasks::{outputs, spawn};
use common::Env;

/// Every reservation, as `reservations --all --json` lists them at `T0`.
fn view(env: &Env, root: &Path) -> String {
    listed_at(env, root, T0)
}

/// Asserts that the cache with its journal lists what one rebuilt from
/// comm lists, then leaves the rebuilt one.
fn assert_equals_rebuilt(env: &Env, root: &Path) {
    assert_equals_rebuilt_at(env, root, T0);
}

#[test]
fn a_reserve_and_a_release_append_to_the_journal_and_leave_the_cache_file_alone() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    let first = reserve(&env, &root, "api", &["src/a.py"]);
    let (cache, journal) = files(&root);
    let before = std::fs::read(&cache).unwrap();
    let second = reserve(
        &env,
        &root,
        "web",
        &["web/**", "--reason", "a tab\\there, a comma"],
    );
    let tail = env.cn_at(&root, T0, &["--as", "api", "release", &first]);
    tail.expect(0);
    view(&env, &root);
    assert_eq!(std::fs::read(&cache).unwrap(), before);
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(lines.contains(&format!("\t{second}\t")), "{lines}");
    assert!(!view(&env, &root).contains(&first));
    assert_equals_rebuilt(&env, &root);
}

#[test]
fn the_journalled_cache_equals_a_rebuilt_one_after_racing_reservers_releasers_and_a_torn_line() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    let held: Vec<(&str, String)> = (0..4)
        .map(|i| {
            let who = ["api", "web"][i % 2];
            (
                who,
                reserve(&env, &root, who, &[&format!("{who}/held{i}/**")]),
            )
        })
        .collect();
    let mut racers = Vec::new();
    for i in 0..4 {
        let who = ["api", "web"][i % 2];
        let glob = format!("{who}/raced{i}/**");
        racers.push(spawn(&env, &root, &["--as", who, "reserve", &glob]));
    }
    for (who, id) in &held {
        racers.push(spawn(&env, &root, &["--as", who, "release", id]));
    }
    for (code, _, stderr) in outputs(racers) {
        assert_eq!(code, 0, "{stderr}");
    }
    assert_equals_rebuilt(&env, &root);
    // Journalled on the rebuilt cache; then a reserve killed mid-append
    // leaves half a line, and the next one lands after it.
    let kept = reserve(&env, &root, "api", &["src/kept.py"]);
    reserve(&env, &root, "web", &["docs/**", "--shared"]);
    let (_, journal) = files(&root);
    let text = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(&journal, format!("{text}{}", &text[..text.len() / 2])).unwrap();
    let last = reserve(&env, &root, "web", &["web/last/**"]);
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.ends_with('\n') && text.lines().last().unwrap().contains(&last));
    env.cn_at(&root, T0, &["--as", "api", "release", &kept])
        .expect(0);
    assert_equals_rebuilt(&env, &root);
}

#[test]
fn a_reserve_past_the_journal_limit_writes_the_cache_a_rebuild_would() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    reserve(&env, &root, "api", &["src/a.py"]);
    reserve(&env, &root, "web", &["web/**"]);
    // Lines no reader applies (their checksums fail) fill the journal
    // after the step of the second reserve.
    let (cache, journal) = files(&root);
    let text = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(&journal, text + &"torn\n".repeat(5000)).unwrap();
    reserve(&env, &root, "api", &["api/**", "--shared"]);
    assert!(!journal.exists(), "the journal went with the compaction");
    let compacted = std::fs::read(&cache).unwrap();
    std::fs::remove_file(&cache).unwrap();
    view(&env, &root);
    assert_eq!(std::fs::read(&cache).unwrap(), compacted);
}
