//! The layout of tasks and reservations on comm: each file in a folder named
//! after two letters of its id (`tasks/4k/T-4k7q….yaml`), and a comm that
//! an older version wrote flat (`tasks/<id>.yaml`) keeps working: read as
//! it is, migrated by one `migrate` event before the first write, and
//! synced with clones that migrated already.
//!
//! The flat comm is made from a sharded one by rewriting its history with
//! `git fast-export`/`fast-import`, moving every task and reservation file
//! up a folder: the bytes, messages, authors and dates stay, so the result
//! is what the previous version wrote for the same events (and rewriting
//! the same history twice gives the same commits).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Env, Run, API_WEB};
use serde_json::Value;

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn add(env: &Env, root: &Path, title: &str) -> String {
    let run = env
        .cn(
            root,
            &[
                "--as", "human", "--json", "task", "add", title, "--domain", "api",
            ],
        )
        .expect(0);
    json(&run)["id"].as_str().unwrap().to_owned()
}

/// The task and reservation files at the tip of comm.
fn state_files(env: &Env, root: &Path) -> Vec<String> {
    env.git(
        root,
        &[
            "ls-tree",
            "-r",
            "--name-only",
            "comm",
            "tasks/",
            "reservations/",
        ],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// The flat path of a task or reservation file (`tasks/<id>.yaml`).
fn flat(path: &str) -> Option<String> {
    let (dir, rest) = path.split_once('/')?;
    if dir != "tasks" && dir != "reservations" {
        return None;
    }
    let (_, name) = rest.split_once('/')?;
    (!name.contains('/') && name.ends_with(".yaml")).then(|| format!("{dir}/{name}"))
}

/// Rewrites the whole history of comm in `root` as the previous version
/// wrote it: every task and reservation file directly in its folder.
fn flatten_comm(env: &Env, root: &Path) {
    let mut export = Command::new("git");
    export.args(["fast-export", "refs/heads/comm"]);
    export.current_dir(root);
    env.hermetic(&mut export);
    let out = export.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stream = out.stdout;
    // Rewrite the file commands, copying `data` blocks byte for byte.
    let mut rewritten = Vec::with_capacity(stream.len());
    let mut at = 0;
    while at < stream.len() {
        let end = stream[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(stream.len(), |i| at + i + 1);
        let line = String::from_utf8_lossy(&stream[at..end]).into_owned();
        at = end;
        if let Some(len) = line.strip_prefix("data ") {
            let len: usize = len.trim().parse().unwrap();
            rewritten.extend_from_slice(line.as_bytes());
            rewritten.extend_from_slice(&stream[at..at + len]);
            at += len;
            continue;
        }
        let body = line.trim_end_matches('\n');
        let fixed = if let Some(rest) = body.strip_prefix("M ") {
            let mut parts = rest.splitn(3, ' ');
            let (mode, data, path) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            flat(path).map(|p| format!("M {mode} {data} {p}\n"))
        } else if let Some(path) = body.strip_prefix("D ") {
            flat(path).map(|p| format!("D {p}\n"))
        } else {
            None
        };
        rewritten.extend_from_slice(fixed.unwrap_or(line).as_bytes());
    }
    let mut import = Command::new("git");
    import.args(["fast-import", "--force", "--quiet"]);
    import.current_dir(root).stdin(Stdio::piped());
    env.hermetic(&mut import);
    let mut child = import.spawn().unwrap();
    child.stdin.take().unwrap().write_all(&rewritten).unwrap();
    assert!(child.wait().unwrap().success());
    let files = state_files(env, root);
    assert!(
        !files.is_empty() && files.iter().all(|f| flat(f).is_none()),
        "{files:?}"
    );
}

/// The kinds of the events on comm, oldest first.
fn kinds(env: &Env, root: &Path) -> Vec<String> {
    env.git(
        root,
        &[
            "log",
            "--reverse",
            "--format=%(trailers:key=Comm-Kind,valueonly)",
            "comm",
        ],
    )
    .lines()
    .filter(|l| !l.is_empty())
    .map(str::to_owned)
    .collect()
}

#[test]
fn task_and_reservation_files_live_in_two_letter_folders_of_their_id() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let id = add(&env, &root, "sharded");
    let reserved = env
        .cn(&root, &["--as", "api", "reserve", "api/**"])
        .expect(0);
    let reservation = reserved.stdout.trim().to_owned();
    assert_eq!(
        state_files(&env, &root),
        [
            common::reservation_path(&reservation),
            common::task_path(&id)
        ]
    );
    assert!(common::task_path(&id).starts_with(&format!("tasks/{}/", &id[2..4])));
    let shown = env.git(
        &root,
        &["show", &format!("comm:{}", common::task_path(&id))],
    );
    assert!(shown.contains(&format!("id: {id}")), "{shown}");
    env.cn(&root, &["verify"]).expect(0);
}

#[test]
fn a_comm_written_flat_by_the_previous_version_is_read_claimed_migrated_and_verified() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let first = add(&env, &root, "first");
    let second = add(&env, &root, "second");
    let reserved = env
        .cn(&root, &["--as", "api", "reserve", "api/**"])
        .expect(0);
    let reservation = reserved.stdout.trim().to_owned();
    flatten_comm(&env, &root);
    let events = kinds(&env, &root).len();

    // Reading changes nothing: the flat files are found where they are.
    env.cn(&root, &["verify"]).expect(0);
    let listed = json(&env.cn(&root, &["--json", "task", "list"]).expect(0));
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let shown = json(&env.cn(&root, &["--json", "task", "show", &first]).expect(0));
    assert_eq!(shown["title"], "first");
    let held = env.cn(&root, &["--json", "reservations"]).expect(0);
    assert!(held.stdout.contains(&reservation), "{}", held.stdout);
    assert_eq!(kinds(&env, &root).len(), events);

    // The first write moves every file first, in one event of its own.
    env.cn(&root, &["--as", "api", "task", "claim", &second])
        .expect(0);
    let after = kinds(&env, &root);
    assert_eq!(after[events..], ["migrate", "task"]);
    let mut expected = [
        common::reservation_path(&reservation),
        common::task_path(&first),
        common::task_path(&second),
    ];
    expected.sort();
    assert_eq!(state_files(&env, &root), expected);
    let claimed = json(
        &env.cn(&root, &["--json", "task", "show", &second])
            .expect(0),
    );
    assert_eq!(claimed["status"], "claimed");
    env.cn(&root, &["verify"]).expect(0);
    // The reservation still counts after the move.
    let refused = env.cn(&root, &["--as", "human", "reserve", "api/x"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains(&reservation), "{}", refused.stderr);
}

#[test]
fn verify_refuses_a_migration_that_changes_a_file_it_moves() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let id = add(&env, &root, "moved");
    flatten_comm(&env, &root);
    env.cn(&root, &["--as", "api", "task", "claim", &id])
        .expect(0);
    // Rewrite the migration so that it also edits the task it moves.
    let migrate = env.git(&root, &["rev-parse", "comm~1"]);
    let path = common::task_path(&id);
    let yaml = env.git(&root, &["show", &format!("{migrate}:{path}")]);
    let tampered = yaml.replace("title: moved", "title: renamed");
    let side = env.path("side");
    env.git(
        &root,
        &["worktree", "add", "-q", side.to_str().unwrap(), &migrate],
    );
    std::fs::write(side.join(&path), tampered).unwrap();
    let message = env.git(&root, &["log", "-1", "--format=%B", &migrate]);
    env.git(
        &side,
        &["commit", "-qa", "--amend", "-m", &message, "--no-verify"],
    );
    let forged = env.git(&side, &["rev-parse", "HEAD"]);
    env.git(&root, &["update-ref", "refs/heads/comm", &forged]);
    let run = env.cn(&root, &["verify"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        (run.stdout.clone() + &run.stderr).contains("a migration must move every flat"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn sync_between_a_flat_clone_and_a_migrated_one_keeps_both_sides_events() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let shared = add(&env, &root, "shared");
    let bare = env.empty_origin(&root);
    env.cn(&root, &["sync", "origin"]).expect(0);
    let url = bare.to_str().unwrap();
    let other = env.synced_clone(url, "other", "other", "other");
    // `root` stays on the previous version: it adds a task, unsynced.
    let late = add(&env, &root, "late");
    // Both clones hold the history as the previous version wrote it (the
    // same commits: rewriting is deterministic); the remote too.
    flatten_comm(&env, &root);
    flatten_comm(&env, &other);
    let flat_base = env.git(&other, &["rev-parse", "comm"]);
    assert_eq!(env.git(&root, &["rev-parse", "comm~1"]), flat_base);
    env.git(&other, &["push", "-q", "--force", "origin", "comm"]);

    // The upgraded clone claims (migrating first) and syncs.
    env.cn(&other, &["--as", "api", "task", "claim", &shared])
        .expect(0);
    env.cn(&other, &["sync"]).expect(0);
    // The flat clone's own event is replayed on the migrated remote.
    env.cn(&root, &["sync"]).expect(0);
    env.cn(&other, &["sync"]).expect(0);
    for clone in [&root, &other] {
        assert_eq!(
            env.git(clone, &["rev-parse", "comm"]),
            env.git(&root, &["rev-parse", "comm"])
        );
        env.cn(clone, &["verify"]).expect(0);
        let files = state_files(&env, clone);
        let mut expected = [common::task_path(&late), common::task_path(&shared)];
        expected.sort();
        assert_eq!(files, expected);
        let claimed = json(
            &env.cn(clone, &["--json", "task", "show", &shared])
                .expect(0),
        );
        assert_eq!(claimed["status"], "claimed");
        let added = json(&env.cn(clone, &["--json", "task", "show", &late]).expect(0));
        assert_eq!(added["status"], "open");
    }
    assert_eq!(
        kinds(&env, &root)
            .iter()
            .filter(|k| *k == "migrate")
            .count(),
        1
    );
}
