//! Publishing comm to a remote is a deliberate act: `sync --dry-run` shows
//! what would go and pushes nothing, and the first sync with a remote that
//! has no comm yet needs the remote named. Real repositories, the real
//! binary, a bare remote on disk.

mod common;

use std::path::PathBuf;

use common::Env;
use serde_json::Value;

const CONFIG: &str =
    "project: app\ndomains:\n  api:\n    scope: [\"api/**\"]\n  web:\n    scope: [\"web/**\"]\n";

/// An initialised repository with one message on comm, and an empty bare
/// repository as its `origin`.
fn with_empty_origin(env: &Env) -> (PathBuf, PathBuf) {
    let root = env.app(&[("comm.yaml", CONFIG)]);
    env.cn(
        &root,
        &["--as", "api", "send", "--to", "web", "contract ready"],
    )
    .expect(0);
    let bare = env.empty_origin(&root);
    env.git(&root, &["push", "-q", "origin", "main"]);
    (root, bare)
}

fn has_comm(env: &Env, repo: &std::path::Path) -> bool {
    env.git_run(repo, &["rev-parse", "--verify", "-q", "refs/heads/comm"])
        .code
        == 0
}

#[test]
fn sync_dry_run_to_a_new_remote_pushes_nothing_and_lists_what_would_go() {
    let env = Env::new();
    let (root, bare) = with_empty_origin(&env);
    let before = env.refs(&root);
    let config_before = env.git(&root, &["config", "--list", "--local"]);

    let text = env.cn(&root, &["sync", "--dry-run"]).expect(0).stdout;
    let json = env
        .cn(&root, &["--json", "sync", "--dry-run", "origin"])
        .expect(0);

    assert!(!has_comm(&env, &bare), "nothing was pushed");
    assert_eq!(env.refs(&root), before, "no local ref moved");
    assert_eq!(
        env.git(&root, &["config", "--list", "--local"]),
        config_before
    );
    let events = env.git(&root, &["rev-list", "--count", "comm"]);
    assert!(
        text.starts_with(&format!(
            "`origin` has no comm branch yet: `comm-node sync origin` would create it with {events} events:\n"
        )),
        "{text}"
    );
    assert!(text.contains(" msg "), "{text}");
    assert!(text.contains("api → web: contract ready"), "{text}");
    assert!(text.contains("kickoff app: 2 domains (api, web)"), "{text}");
    assert!(text.ends_with("dry run: nothing was pushed\n"), "{text}");
    let preview: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(preview["remote_tip"], Value::Null);
    let outgoing = preview["outgoing"].as_array().unwrap();
    assert_eq!(outgoing.len().to_string(), events);
    assert_eq!(outgoing[0]["kind"], "kickoff", "oldest first");
    assert_eq!(
        outgoing.last().unwrap()["subject"],
        "api → web: contract ready"
    );

    // Once the remote has comm, a dry run lists only what it lacks.
    env.cn(&root, &["sync", "origin"]).expect(0);
    env.cn(&root, &["--as", "web", "send", "--to", "api", "thanks"])
        .expect(0);
    let json = env.cn(&root, &["--json", "sync", "--dry-run"]).expect(0);
    let preview: Value = serde_json::from_str(&json.stdout).unwrap();
    let subjects: Vec<&str> = preview["outgoing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["web → api: thanks"]);
    assert_ne!(
        env.git(&bare, &["rev-parse", "comm"]),
        env.git(&root, &["rev-parse", "comm"]),
        "still not pushed"
    );
}

#[test]
fn the_first_sync_to_a_remote_without_comm_needs_the_remote_named() {
    let env = Env::new();
    let (root, bare) = with_empty_origin(&env);

    let config = env.git(&root, &["config", "--list", "--local"]);
    let refused = env.cn(&root, &["sync"]).expect(1);

    assert!(!has_comm(&env, &bare), "nothing was published");
    assert_eq!(
        env.git(&root, &["config", "--list", "--local"]),
        config,
        "no fetch refspec was added either"
    );
    let events = env.git(&root, &["rev-list", "--count", "comm"]);
    assert!(
        refused.stderr.starts_with(&format!(
            "error: `origin` has no comm branch yet: a first sync would publish the whole coordination history there ({events} coordination events: "
        )),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(
            "hint: `comm-node sync --dry-run origin` lists them; `comm-node sync origin` publishes them"
        ),
        "{}",
        refused.stderr
    );
    // Named, it publishes; afterwards the plain form works.
    env.cn(&root, &["sync", "origin"]).expect(0);
    assert_eq!(
        env.git(&bare, &["rev-parse", "comm"]),
        env.git(&root, &["rev-parse", "comm"])
    );
    env.cn(&root, &["--as", "web", "send", "--to", "api", "thanks"])
        .expect(0);
    env.cn(&root, &["sync"]).expect(0);
    assert_eq!(
        env.git(&bare, &["rev-parse", "comm"]),
        env.git(&root, &["rev-parse", "comm"])
    );
}
