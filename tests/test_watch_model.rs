//! The cockpit's model across redraws, as `watch` keeps it: the task
//! graph's part brought up to date from only the task files that changed,
//! and the feed from only the new events, must equal a fresh read after
//! every kind of task change and a sync that rewrites comm; the redraw
//! triggers must cover a domain's runtime folder made after `watch` started.

mod common;

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use comm_node::cockpit::model::Cache;
use comm_node::cockpit::Model;
use comm_node::git::Repo;
use comm_node::project;
use common::{Env, API_WEB};

/// Adds a task as the human with extra `args`; its id.
fn add(env: &Env, root: &Path, title: &str, args: &[&str]) -> String {
    let mut all = vec!["--as", "human", "--json", "task", "add", title];
    all.extend(args);
    let out = env.cn(root, &all).expect(0).stdout;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// Reads the model of `root` on `cache`, as `watch` does after `what`, and
/// checks its task part against a model read from nothing.
#[track_caller]
fn kept_equals_fresh(root: &Path, cache: &mut Cache, what: &str) -> Model {
    let repo = Repo::discover(root).unwrap();
    let loaded = project::load_config_if_any(&repo).unwrap().unwrap();
    let kept = Model::gather_cached(&repo, &loaded, 0, cache).unwrap();
    let fresh = Model::gather(&repo, &loaded, 0).unwrap();
    let (k, f) = (&kept.work, &fresh.work);
    assert_eq!(k.counts, f.counts, "counts after {what}");
    assert_eq!(kept.status.tasks, fresh.status.tasks, "status after {what}");
    assert_eq!(k.active, f.active, "active tasks after {what}");
    assert_eq!(k.convoys, f.convoys, "convoys after {what}");
    assert_eq!(k.chains, f.chains, "chains after {what}");
    let claimed = |m: &Model| {
        m.domains
            .iter()
            .map(|d| (d.name.clone(), d.task.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(claimed(&kept), claimed(&fresh), "claims after {what}");
    let feed = |m: &Model| {
        m.feed
            .iter()
            .map(|f| (f.seq, f.id.clone(), f.subject.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(feed(&kept), feed(&fresh), "feed after {what}");
    kept
}

#[test]
fn the_board_kept_across_task_changes_equals_a_fresh_read() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let mut cache = Cache::default();
    kept_equals_fresh(&root, &mut cache, "init");

    let a = add(&env, &root, "the api", &["--domain", "api"]);
    let b = add(&env, &root, "the page", &["--domain", "web", "--dep", &a]);
    let convoy = add(&env, &root, "the release", &["--domain", "api"]);
    let c = add(&env, &root, "notes", &["--parent", &convoy]);
    let d = add(
        &env,
        &root,
        "styles",
        &["--domain", "web", "--parent", &convoy],
    );
    let m = kept_equals_fresh(&root, &mut cache, "adds");
    assert_eq!(m.work.counts.open, 5);
    assert_eq!(m.work.chains[0].links.len(), 2, "{:?}", m.work.chains);

    env.cn(&root, &["--as", "api", "task", "claim", &a])
        .expect(0);
    kept_equals_fresh(&root, &mut cache, "a claim");
    env.cn(&root, &["--as", "api", "task", "done", &a])
        .expect(0);
    let m = kept_equals_fresh(&root, &mut cache, "a done");
    assert!(m.work.active.iter().any(|t| t.id == b && t.ready));
    env.cn(&root, &["--as", "web", "task", "claim", &c])
        .expect(0);
    kept_equals_fresh(&root, &mut cache, "a claim of a task of no domain");
    env.cn(
        &root,
        &["--as", "human", "task", "cancel", &d, "--reason", "later"],
    )
    .expect(0);
    kept_equals_fresh(&root, &mut cache, "a cancel in a convoy");
    env.cn(&root, &["--as", "web", "task", "dep", &b, "--on", &c])
        .expect(0);
    kept_equals_fresh(&root, &mut cache, "a dependency added");
    env.cn(
        &root,
        &["--as", "human", "task", "edit", &b, "--domain", "api"],
    )
    .expect(0);
    kept_equals_fresh(&root, &mut cache, "a domain edited");
    env.cn(
        &root,
        &["--as", "human", "task", "reassign", &c, "--to", "api"],
    )
    .expect(0);
    kept_equals_fresh(&root, &mut cache, "a reassign");
    add(
        &env,
        &root,
        "after the notes",
        &["--dep", &c, "--parent", &convoy],
    );
    kept_equals_fresh(&root, &mut cache, "a child added to a convoy");

    // A sync that replays the local events on the other clone's: comm is
    // rewritten, tasks change on both sides.
    env.empty_origin(&root);
    env.cn(&root, &["sync", "origin"]).expect(0);
    let url = env.path("remote.git");
    let other = env.synced_clone(url.to_str().unwrap(), "other", "other", "other");
    add(&env, &other, "from the other clone", &["--domain", "web"]);
    env.cn(&other, &["sync"]).expect(0);
    add(&env, &root, "from this clone", &["--domain", "api"]);
    kept_equals_fresh(&root, &mut cache, "an add before the sync");
    env.cn(&root, &["sync"]).expect(0);
    let m = kept_equals_fresh(&root, &mut cache, "a sync that replays");
    assert!(m
        .work
        .active
        .iter()
        .any(|t| t.title == "from the other clone"));
}

#[test]
fn a_domain_folder_made_after_watch_started_wakes_it() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let repo = Repo::discover(&root).unwrap();
    let loaded = project::load_config_if_any(&repo).unwrap().unwrap();
    let dir = comm_node::runtime::agent_dir(&repo, "web");
    assert!(!dir.exists());
    let (tx, rx) = mpsc::channel();
    comm_node::cockpit::watch(&repo, &loaded.config, move || {
        let _ = tx.send(());
    })
    .unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the new folder wakes the cockpit");
    while rx.recv_timeout(Duration::from_millis(300)).is_ok() {}
    // What `up` writes there now wakes it too.
    std::fs::write(dir.join("state"), "idle\n").unwrap();
    rx.recv_timeout(Duration::from_secs(10))
        .expect("a file written in the new folder wakes the cockpit");
}
