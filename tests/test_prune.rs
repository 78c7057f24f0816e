//! The room comm-node's own files take (`status --verbose`) and
//! `queue prune`, which frees the queue's scratch worktree and logs but
//! never while a run is live. Real repositories, the real binary.

mod common;

use std::path::Path;
use std::time::Duration;

use common::queue::{commit, project, queue_run, submit, CONFIG, TEST};
use common::{read, Env};
use serde_json::Value;

/// Bytes of the "build cache" the setup command leaves in the scratch worktree.
const CACHE_BYTES: u64 = 2_000_000;

fn disk(env: &Env, root: &Path) -> Value {
    let run = env.cn(root, &["--json", "status", "--verbose"]).expect(0);
    let status: Value = serde_json::from_str(&run.stdout).unwrap();
    status["disk"].clone()
}

fn part(disk: &Value, name: &str) -> Option<Value> {
    disk["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
}

#[test]
fn status_verbose_reports_the_size_of_comm_nodes_files_and_prune_frees_the_scratch_worktree() {
    let env = Env::new();
    let setup = format!(
        "setup: [\"mkdir -p node_modules && head -c {CACHE_BYTES} /dev/zero > node_modules/big\"]\n{TEST}"
    );
    let root = env.app(&[
        ("comm.yaml", &CONFIG.replace(TEST, &setup)),
        (".gitignore", "node_modules/\n"),
        ("api/config.txt", "port = 80\n"),
    ]);
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    submit(&env, "api");
    queue_run(&env, &root, &[]);
    let worktree = root.join(".git/comm-node/queue/worktree");
    assert!(worktree.join("node_modules/big").exists());

    let before = disk(&env, &root);
    let scratch = part(&before, "queue/worktree").expect("the scratch worktree is listed");
    assert!(
        scratch["bytes"].as_u64().unwrap() >= CACHE_BYTES,
        "{before}"
    );
    assert_eq!(scratch["prunable"], true);
    assert!(part(&before, "queue/logs").is_some(), "{before}");
    assert!(before["bytes"].as_u64().unwrap() >= CACHE_BYTES);
    let text = env.cn(&root, &["status", "--verbose"]).expect(0).stdout;
    assert!(text.contains("/.git/comm-node/ takes "), "{text}");
    assert!(text.contains(" MB  queue/worktree (prunable)"), "{text}");
    assert!(text.contains("`comm-node queue prune` frees "), "{text}");
    let plain = env.cn(&root, &["status"]).expect(0).stdout;
    assert!(
        !plain.contains("comm-node/ takes"),
        "only with --verbose: {plain}"
    );

    let run = env.cn(&root, &["--json", "queue", "prune"]).expect(0);
    let pruned: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(pruned["freed"].as_u64().unwrap() >= CACHE_BYTES, "{pruned}");
    let names: Vec<&str> = pruned["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["queue/worktree", "queue/logs"]);
    assert!(!worktree.exists());
    let worktrees = env.git(&root, &["worktree", "list", "--porcelain"]);
    assert!(!worktrees.contains("comm-node/queue"), "{worktrees}");
    assert!(disk(&env, &root)["bytes"].as_u64().unwrap() < CACHE_BYTES);
    let again = env.cn(&root, &["queue", "prune"]).expect(0).stdout;
    assert!(again.starts_with("nothing to prune"), "{again}");

    // The next run recreates what it needs and lands.
    commit(&env, "web", &[("web/b.txt", "b\n")], "web: b");
    submit(&env, "web");
    let report = queue_run(&env, &root, &[]);
    assert_eq!(report["decisions"][0]["outcome"], "landed", "{report}");
    assert!(worktree.join("node_modules/big").exists());
}

#[test]
fn prune_is_refused_while_a_queue_run_is_live() {
    let env = Env::new();
    let started = env.path("started");
    let stop = env.path("stop");
    let test = format!(
        "test: [\"touch {}; while [ ! -e {} ]; do sleep 0.05; done\"]",
        started.display(),
        stop.display()
    );
    let root = project(&env, &CONFIG.replace(TEST, &test));
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    submit(&env, "api");
    let mut run = env.spawn_loop(
        &root,
        "exec \"$0\" queue run --once",
        std::process::Stdio::null(),
        std::process::Stdio::null(),
    );
    for _ in 0..1500 {
        if started.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(started.exists(), "the run's test started");

    let refused = env.cn(&root, &["queue", "prune"]).expect(1);
    let json = env.cn(&root, &["--json", "queue", "prune"]).expect(1);

    common::write(&stop, "");
    assert!(run.wait().unwrap().success(), "the live run finished");
    assert!(
        refused
            .stderr
            .contains("error: another queue run is active in this repository"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("hint: wait for it to finish"));
    let error: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(error["exit"], 1);
    let worktree = root.join(".git/comm-node/queue/worktree");
    assert!(
        worktree.join("api/a.txt").exists(),
        "the worktree was left alone"
    );
    assert_eq!(read(&worktree.join("api/a.txt")), "a\n");
}
