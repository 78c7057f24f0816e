//! File reservations on real repositories: `reserve`, `reservations`, the
//! overlap and containment rules, enforcement by the pre-commit hook and
//! `check --staged`, and bad input. Expiry, releases, races, crashes and
//! sync: `test_reserve_lifecycle.rs`.

mod common;

use common::bus::tip;
use common::reserve::{listing, reservation_files, reserve, setup, CONFIG, T0};
use common::{write, Env};
use serde_json::Value;

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
