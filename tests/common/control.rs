//! Helpers for the steering tests (`test_control*.rs`): tasks, inboxes
//! and refusals through the real binary.

use std::path::Path;

use serde_json::Value;

use super::Env;

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Adds a task as the human (`args` after the title); its id.
pub fn add(env: &Env, root: &Path, title: &str, args: &[&str]) -> String {
    let mut all = vec!["--json", "task", "add", title];
    all.extend_from_slice(args);
    json(&env.cn(root, &all).expect(0).stdout)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub fn show(env: &Env, root: &Path, id: &str) -> Value {
    json(
        &env.cn(root, &["--json", "task", "show", id])
            .expect(0)
            .stdout,
    )
}

/// The subjects of `domain`'s unread inbox.
pub fn inbox(env: &Env, root: &Path, domain: &str) -> Vec<String> {
    let run = env.cn(root, &["--as", domain, "--json", "inbox"]).expect(0);
    json(&run.stdout)
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_owned())
        .collect()
}

pub fn comm_tip(env: &Env, root: &Path) -> String {
    env.git(root, &["rev-parse", "comm"])
}

/// Runs `args`, expects exit `code` with `said` on stderr, and checks that
/// comm did not move.
#[track_caller]
pub fn refused(env: &Env, root: &Path, args: &[&str], code: i32, said: &str) {
    let before = comm_tip(env, root);
    let run = env.cn(root, args).expect(code);
    assert!(run.stderr.contains(said), "{args:?}: {}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{args:?}: {}", run.stderr);
    assert_eq!(comm_tip(env, root), before, "{args:?} changed comm");
}
