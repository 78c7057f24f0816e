//! File reservations on real repositories: `reserve`, `release`,
//! `reservations`, the overlap and containment rules, enforcement by the
//! pre-commit hook and `check --staged`, expiry through `COMM_NODE_NOW`,
//! forced releases, racing reservers, bad input and writers killed mid-append.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{write, Env, BIN};
use serde_json::Value;

/// Two domains with their own folders; `src/**`, `docs/**` and `Cargo.lock`
/// are shared, so both may reserve there and their reservations can meet.
const CONFIG: &str = "project: app
shared: [\"Cargo.lock\", \"src/**\", \"docs/**\"]
domains:
  api:
    scope: [\"api/**\"]
  web:
    scope: [\"web/**\"]
";

/// A fixed "now" for the tests that move the clock.
const T0: i64 = 1_800_000_000;

fn setup(env: &Env, config: &str) -> PathBuf {
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
fn reserve(env: &Env, root: &Path, who: &str, args: &[&str]) -> String {
    let mut all = vec!["--as", who, "reserve"];
    all.extend_from_slice(args);
    let run = env.cn_at(root, T0, &all).expect(0);
    let id = run.stdout.trim().to_owned();
    assert!(looks_like_reservation_id(&id), "not an id: {id:?}");
    id
}

/// `R-` and 10 random letters (digits and lowercase letters).
fn looks_like_reservation_id(id: &str) -> bool {
    id.strip_prefix("R-").is_some_and(|h| {
        h.len() == 10
            && h.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    })
}

fn tip(env: &Env, root: &Path) -> String {
    env.git(root, &["rev-parse", "comm"])
}

/// The files under `reservations/` at the tip of comm.
fn reservation_files(env: &Env, root: &Path) -> Vec<String> {
    env.git(
        root,
        &["ls-tree", "-r", "--name-only", "comm", "reservations/"],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

fn listing(env: &Env, root: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["reservations", "--json"];
    all.extend_from_slice(args);
    let run = env.cn(root, &all).expect(0);
    serde_json::from_str::<Value>(&run.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn overlap_table_through_the_cli() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    // (first holder, its globs, second holder, its globs, shared flags, conflict?)
    type Case<'a> = (&'a str, &'a str, &'a str, &'a str, (bool, bool), bool);
    let table: &[Case] = &[
        ("api", "src/*.py", "web", "src/foo*", (false, false), true),
        ("api", "src/a/**", "web", "src/b/**", (false, false), false),
        (
            "api",
            "src/**",
            "web",
            "src/deep/er/y.rs",
            (false, false),
            true,
        ),
        (
            "api",
            "src/**/*.rs",
            "web",
            "src/lib.rs",
            (false, false),
            true,
        ),
        (
            "api",
            "src/**/*.rs",
            "web",
            "src/**/*.py",
            (false, false),
            false,
        ),
        (
            "api",
            "src/[a-c]*.ts",
            "web",
            "src/b.ts",
            (false, false),
            true,
        ),
        (
            "api",
            "src/[a-c]*",
            "web",
            "src/[d-z]*",
            (false, false),
            false,
        ),
        ("api", "src/?.py", "web", "src/ab.py", (false, false), false),
        ("api", "src/?.py", "web", "src/x.py", (false, false), true),
        (
            "api",
            "src/{a,b}/**",
            "web",
            "src/b/c.py",
            (false, false),
            true,
        ),
        (
            "api",
            "src/{a,b}/**",
            "web",
            "src/c/**",
            (false, false),
            false,
        ),
        ("api", "src/*.py", "web", "src/*.ts", (false, false), false),
        ("api", "src/*", "web", "src/x/y", (false, false), false),
        (
            "api",
            "Cargo.lock",
            "web",
            "Cargo.lock",
            (false, false),
            true,
        ),
        ("api", "src/*.py", "web", "src/[!a]*", (false, false), true),
        ("api", "docs/**", "web", "docs/**", (true, true), false),
        ("api", "docs/**", "web", "docs/a.md", (true, false), true),
        ("api", "docs/a.md", "web", "docs/**", (false, true), true),
        ("api", "src/**", "api", "src/x.py", (false, false), false),
        ("api", "api/**", "api", "api/a.py", (false, false), false),
    ];
    let mut wrong = Vec::new();
    for &(a, ga, b, gb, (sa, sb), conflict) in table {
        let mut first = vec![ga];
        if sa {
            first.push("--shared");
        }
        let held = reserve(&env, &root, a, &first);
        let before = tip(&env, &root);
        let mut second = vec!["--as", b, "reserve", gb];
        if sb {
            second.push("--shared");
        }
        let r = env.cn_at(&root, T0, &second);
        let ok = if conflict {
            r.code == 1
                && r.stderr.contains(&held)
                && r.stderr.contains(&format!("`{a}`"))
                && r.stderr.contains("expires")
                && r.stderr.contains("in 2h")
                && r.stderr.contains("both match")
                && tip(&env, &root) == before
        } else {
            r.code == 0
        };
        if !ok {
            wrong.push(format!(
                "{a} {ga} then {b} {gb} (shared {sa}/{sb}): exit {} (want conflict {conflict})\n{}",
                r.code, r.stderr
            ));
        }
        for id in listing(&env, &root, &[]) {
            let (id, holder) = (id["id"].as_str().unwrap(), id["domain"].as_str().unwrap());
            env.cn(&root, &["--as", holder, "release", id]).expect(0);
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_conflict_names_holder_globs_expiry_id_and_a_witness() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    let held = env
        .cn_at(
            &root,
            T0,
            &["--as", "api", "reserve", "src/*.py", "--ttl", "1h5m"],
        )
        .expect(0)
        .stdout;
    let held = held.trim();
    let r = env
        .cn_at(&root, T0, &["--as", "web", "reserve", "src/foo*"])
        .expect(1);
    assert!(
        r.stderr.contains(&format!(
            "exclusive reservation {held} of `api` on src/*.py"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("both match src/foo.py"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("expires 2027-01-15 09:05:00 UTC (in 1h05m)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("comm-node send --to api"), "{}", r.stderr);
}

#[test]
fn reservations_lie_in_what_the_domain_may_change() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    let before = tip(&env, &root);
    let r = env
        .cn(&root, &["--as", "web", "reserve", "web/**", "api/**"])
        .expect(2);
    assert!(
        r.stderr
            .contains("`web` may not reserve `api/**`: it matches api/a"),
        "{}",
        r.stderr
    );
    let r = env
        .cn(&root, &["--as", "web", "reserve", "**/*.py"])
        .expect(2);
    assert!(
        r.stderr.contains("it matches .py, which lies outside"),
        "{}",
        r.stderr
    );
    assert_eq!(
        tip(&env, &root),
        before,
        "a refused reservation changed comm"
    );
    // The shared files are allowed to every domain, and in one's own scope.
    reserve(&env, &root, "web", &["Cargo.lock", "--shared"]);
    reserve(&env, &root, "api", &["Cargo.lock", "--shared"]);
    reserve(&env, &root, "web", &["web/**", "src/ui/*.ts"]);
    // The human may reserve anything.
    reserve(&env, &root, "human", &["api/**"]);
    let holders: Vec<String> = listing(&env, &root, &[])
        .iter()
        .map(|r| r["domain"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(holders.len(), 4, "{holders:?}");
}

#[test]
fn reservation_files_are_readable_state_on_comm() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    let added = env
        .cn(
            &root,
            &[
                "--as",
                "human",
                "--json",
                "task",
                "add",
                "move the router",
                "--domain",
                "api",
            ],
        )
        .expect(0);
    let task: serde_json::Value = serde_json::from_str(&added.stdout).unwrap();
    let task = task["id"].as_str().unwrap().to_owned();
    let id = env
        .cn_at(
            &root,
            T0,
            &[
                "--as",
                "api",
                "reserve",
                "api/**",
                "src/api.py",
                "--task",
                &task,
                "--reason",
                "moving the router",
            ],
        )
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    let yaml = env.git(
        &root,
        &["show", &format!("comm:{}", common::reservation_path(&id))],
    );
    assert_eq!(
        yaml,
        format!("id: {id}\ndomain: api\nglobs:\n- api/**\n- src/api.py\nmode: exclusive\ntask: {task}\ncreated: {T0}\nexpires: {}\nreason: moving the router", T0 + 7200)
    );
    let trailers = env.git(&root, &["log", "-1", "--format=%(trailers:key=Comm-Kind,valueonly)%(trailers:key=Comm-Reservation,valueonly)%(trailers:key=Comm-Task,valueonly)", "comm"]);
    assert_eq!(trailers, format!("reserve\n{id}\n{task}"));
    let text = env.cn_at(&root, T0, &["reservations"]).expect(0).stdout;
    assert!(
        text.contains(&format!(
            "{id}  api  exclusive  api/** src/api.py  task {task}  expires"
        )),
        "{text}"
    );
    assert!(text.contains("moving the router"), "{text}");
}

#[test]
fn pre_commit_refuses_files_another_domain_reserved() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    let id = reserve(&env, &root, "api", &["src/*.py", "--reason", "renaming x"]);
    let web = env.worktree("web");
    write(&web.join("src/x.py"), "x = 2\n");
    write(&web.join("web/w.py"), "w = 2\n");
    env.git(&web, &["add", "-A"]);
    let head = env.git(&web, &["rev-parse", "HEAD"]);
    let commit = env.run_at("git", &web, T0, &["commit", "-qm", "touch x"]);
    assert_eq!(commit.code, 1, "{}", commit.stderr);
    for needle in [
        "src/x.py is reserved by `api`",
        id.as_str(),
        "expires",
        "in 2h",
        "comm-node send --to api",
    ] {
        assert!(
            commit.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            commit.stderr
        );
    }
    assert_eq!(
        env.git(&web, &["rev-parse", "HEAD"]),
        head,
        "the commit landed"
    );
    // check --staged says the same, under rule `reservation`.
    let check = env.cn(&web, &["check", "--staged", "--json"]).expect(1);
    let report: Value = serde_json::from_str(&check.stdout).unwrap();
    let rules: Vec<&str> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["reservation"]);
    // The holder itself commits freely.
    let api = env.worktree("api");
    write(&api.join("src/x.py"), "x = 3\n");
    env.git(&api, &["add", "-A"]);
    env.git(&api, &["commit", "-qm", "api changes x"]);
    // After the release the commit passes.
    env.cn(&root, &["--as", "api", "release", &id]).expect(0);
    env.git(&web, &["commit", "-qm", "touch x"]);
    assert_ne!(env.git(&web, &["rev-parse", "HEAD"]), head);
}

#[test]
fn deleting_a_reserved_file_is_refused_too() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    reserve(&env, &root, "api", &["src/x.py"]);
    let web = env.worktree("web");
    env.git(&web, &["rm", "-q", "src/x.py"]);
    let commit = env.git_run(&web, &["commit", "-qm", "drop x"]);
    assert_eq!(commit.code, 1, "{}", commit.stderr);
    assert!(
        commit.stderr.contains("src/x.py is reserved by `api`"),
        "{}",
        commit.stderr
    );
}

#[test]
fn a_commit_outside_any_domain_only_gets_a_warning() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    let id = reserve(&env, &root, "api", &["src/*.py"]);
    write(&root.join("src/x.py"), "x = 9\n");
    env.git(&root, &["add", "-A"]);
    let commit = env.git_run(&root, &["commit", "-qm", "human edits x"]);
    assert_eq!(commit.code, 0, "{}", commit.stderr);
    assert!(
        commit.stderr.contains("warning: src/x.py"),
        "{}",
        commit.stderr
    );
    assert!(commit.stderr.contains(&id), "{}", commit.stderr);
}

#[test]
fn shared_reservations_do_not_block_commits() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    reserve(&env, &root, "api", &["src/*.py", "--shared"]);
    let web = env.worktree("web");
    write(&web.join("src/x.py"), "x = 2\n");
    env.git(&web, &["add", "-A"]);
    env.git(&web, &["commit", "-qm", "touch x"]);
    assert_eq!(env.git(&web, &["log", "-1", "--format=%s"]), "touch x");
    // The same hook does refuse once api holds the file exclusively.
    reserve(&env, &root, "api", &["src/x.py"]);
    write(&web.join("src/x.py"), "x = 3\n");
    env.git(&web, &["add", "-A"]);
    let refused = env.run_at("git", &web, T0, &["commit", "-qm", "touch x again"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("reserved by `api`"),
        "{}",
        refused.stderr
    );
}

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
    assert_eq!(
        env.git(
            &root,
            &[
                "log",
                "-1",
                "--format=%(trailers:key=Comm-To,valueonly)",
                "comm"
            ]
        ),
        "api"
    );
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

#[test]
fn bad_input_changes_nothing() {
    let env = Env::new();
    let root = setup(&env, CONFIG);
    let held = reserve(&env, &root, "api", &["src/a.py"]);
    let before = env.refs(&root);
    let cases: &[(&[&str], &str)] = &[
        (&["--as", "web", "reserve", "src/[ab"], "not a valid glob"),
        (&["--as", "web", "reserve", "src/{a,b"], "not a valid glob"),
        (&["--as", "web", "reserve"], "no glob to reserve"),
        (&["--as", "web", "reserve", ""], "not a valid glob"),
        (&["--as", "web", "reserve", "/etc/**"], "matches no path"),
        (
            &["--as", "web", "reserve", "web/**", "--ttl", "5x"],
            "not a duration",
        ),
        (
            &["--as", "web", "reserve", "web/**", "--ttl", "0"],
            "positive --ttl",
        ),
        (
            &["--as", "web", "reserve", "web/**", "--task", "a b"],
            "`a b` is not a task id",
        ),
        (
            &["--as", "web", "reserve", "web/**", "--reason", "two\nlines"],
            "one non-empty line",
        ),
        (
            &["--as", "nobody", "reserve", "web/**"],
            "not a registered domain",
        ),
        (
            &["--as", "web", "release", "R-000000"],
            "no reservation `R-000000`",
        ),
        (
            &["--as", "api", "release", "R-000000", &held],
            "no reservation `R-000000`",
        ),
        (&["--as", "web", "release"], "nothing to release"),
    ];
    let mut wrong = Vec::new();
    for (args, needle) in cases {
        let r = env.cn(&root, args);
        if r.code != 2 || !r.stderr.contains(needle) || !r.stderr.contains("hint:") {
            wrong.push(format!(
                "{args:?}: exit {} (want 2 and {needle:?})\n{}",
                r.code, r.stderr
            ));
        }
        if env.refs(&root) != before {
            wrong.push(format!("{args:?} changed a ref"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        reservation_files(&env, &root),
        [common::reservation_path(&held)]
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
        for c in &children {
            common::kill_group(c);
        }
        for mut c in children {
            assert_eq!(
                c.wait().unwrap().signal(),
                Some(9),
                "a loop ended by itself"
            );
        }
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
    let cache = root.join(".git/comm-node/reservations-v2");
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
