//! Bad input from a peer gets a clear error (exit 2) and changes nothing:
//! a hostile or broken `comm.yaml`, oversized fields, worktrees in the
//! wrong place, artifacts that collide with each other.

mod common;

use std::path::PathBuf;

use common::{Env, Run};

const SMALL: &str = "project: app
domains:
  api:
    scope: [\"api/**\"]
  web:
    scope: [\"web/**\"]
";

/// The two-domain repository `app` after `comm-node init`.
fn bus(env: &Env) -> PathBuf {
    env.app(&[("comm.yaml", SMALL), ("api/a.ts", "export {};\n")])
}

/// Runs `init` on a repository holding `yaml` as comm.yaml; it must be
/// refused with exit 2 mentioning `wanted`, and leave every ref as it was.
#[track_caller]
fn config_refused(yaml: &str, wanted: &str) -> Run {
    let env = Env::new();
    let root = env.repo("repo", &[("comm.yaml", yaml)]);
    let before = env.refs(&root);
    let run = env.cn(&root, &["init"]).expect(2);
    assert!(
        run.stderr.contains(wanted),
        "want `{wanted}` in:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert_eq!(env.refs(&root), before);
    run
}

fn domains(count: usize) -> String {
    let mut yaml = String::from("project: shop\ndomains:\n");
    for i in 0..count {
        yaml.push_str(&format!("  d{i}:\n    scope: [\"d{i}/**\"]\n"));
    }
    yaml
}

#[test]
fn a_comm_yaml_nested_100k_deep_is_refused_at_the_depth_limit() {
    let deep = 100_000;
    let yaml = format!(
        "project: shop\ndomains:\n  web:\n    scope: {}{}\n",
        "[".repeat(deep),
        "]".repeat(deep)
    );
    config_refused(&yaml, "nested deeper than 32 levels (MAX_DEPTH)");
    let mut block =
        String::from("project: shop\ndomains:\n  web:\n    scope: [\"w/**\"]\nlimits:\n");
    for level in 1..40 {
        block.push_str(&format!("{}k{level}:\n", "  ".repeat(level)));
    }
    config_refused(&block, "comm.yaml:37:68: nested deeper than 32 levels");
}

#[test]
fn a_comm_yaml_over_one_mebibyte_is_refused() {
    let yaml = format!("{}\n# {}\n", domains(1), "x".repeat(1024 * 1024));
    config_refused(
        &yaml,
        "comm.yaml:1:1: the file is larger than 1048576 bytes (MAX_FILE_BYTES)",
    );
}

#[test]
fn a_comm_yaml_with_more_than_1000_domains_is_refused_at_the_first_too_many() {
    let ok = domains(1000);
    let env = Env::new();
    let root = env.repo("repo", &[("comm.yaml", &ok)]);
    env.cn(&root, &["init", "--dry-run"]).expect(0);
    // The 1001st domain's key is on line 2 + 2 * 1000 + 1.
    config_refused(
        &domains(1001),
        "comm.yaml:2003:3: more than 1000 domains (MAX_DOMAINS)",
    );
}

#[test]
fn a_list_longer_than_1000_items_is_refused() {
    let globs: Vec<String> = (0..1001).map(|i| format!("\"w/{i}/**\"")).collect();
    let yaml = format!(
        "project: shop\ndomains:\n  web:\n    scope: [{}]\n",
        globs.join(", ")
    );
    config_refused(
        &yaml,
        "`domains.web.scope` lists more than 1000 items (MAX_LIST_ITEMS)",
    );
}

#[test]
fn scopes_that_would_be_compared_pairwise_without_end_are_refused() {
    let mut yaml = String::from("project: shop\ndomains:\n");
    for i in 0..1000 {
        yaml.push_str(&format!("  d{i}:\n    scope: [\"**/*.x{i}\"]\n"));
    }
    config_refused(
        &yaml,
        "pairs of scope globs could overlap (MAX_SCOPE_PAIRS)",
    );
}

#[test]
fn overlaps_are_still_found_between_folders_and_wildcard_scopes() {
    let yaml = "project: shop\ndomains:\n  api:\n    scope: [\"services/api/**\"]\n  docs:\n    scope: [\"**/*.md\"]\n  web:\n    scope: [\"services/**\"]\n";
    let run = config_refused(yaml, "domains `api` and `docs` both own `services/api/");
    assert!(
        run.stderr.contains("domains `api` and `web` both own"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("domains `docs` and `web` both own"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_duplicated_domain_is_refused_with_both_lines() {
    let yaml =
        "project: shop\ndomains:\n  web:\n    scope: [\"a/**\"]\n  web:\n    scope: [\"b/**\"]\n";
    config_refused(
        yaml,
        "comm.yaml:5:3: duplicate key `web` in `domains`: first at line 3:3, again at line 5:3",
    );
}

#[test]
fn a_duplicated_key_anywhere_in_comm_yaml_is_refused_with_both_lines() {
    config_refused(
        "project: shop\nproject: other\ndomains:\n  web:\n    scope: [\"a/**\"]\n",
        "comm.yaml:2:1: duplicate key `project` at the top level: first at line 1:1, again at line 2:1",
    );
    config_refused(
        "project: shop\ndomains:\n  web:\n    scope: [\"a/**\"]\n    scope: [\"b/**\"]\n",
        "duplicate key `scope` in `domains.web`: first at line 4:5, again at line 5:5",
    );
    config_refused(
        "project: shop\ndomains:\n  web: {scope: [\"a/**\"]}\nrules:\n  - forbid: {from: \"a/**\", to: \"b/**\", to: \"c/**\"}\n",
        "duplicate key `to` in `rules[0].forbid`",
    );
}

#[test]
fn an_artifact_that_collides_with_another_as_file_and_folder_is_refused_naming_it() {
    let env = Env::new();
    let root = bus(&env);
    let api = env.worktree("api");
    std::fs::write(api.join("bytes.txt"), "x\n").unwrap();
    env.cn(&api, &["publish", "nest", "bytes.txt"]).expect(0);
    env.cn(&api, &["publish", "deep/y", "bytes.txt"]).expect(0);
    let before = env.refs(&root);
    for (name, wanted) in [
        (
            "nest/y",
            "cannot publish `api/nest/y`: artifact `api/nest` is a file where its folder would be",
        ),
        (
            "deep",
            "cannot publish `api/deep`: artifact `api/deep/y` is inside a folder of that name",
        ),
    ] {
        let run = env.cn(&api, &["publish", name, "bytes.txt"]).expect(2);
        assert!(run.stderr.contains(wanted), "{}", run.stderr);
        assert_eq!(env.refs(&root), before);
    }
    // Beside each other, both shapes still publish.
    env.cn(&api, &["publish", "deep/z", "bytes.txt"]).expect(0);
}

#[test]
fn worktrees_inside_git_or_a_scope_or_far_above_are_refused_and_an_absolute_path_is_allowed() {
    let with = |dir: &str| format!("{SMALL}worktrees: {dir}\n");
    config_refused(
        &with(".git/wt"),
        "comm.yaml:7:12: worktrees `.git/wt` is inside `.git`",
    );
    config_refused(&with("./.GIT"), "worktrees `./.GIT` is inside `.git`");
    config_refused(
        &with("api/wt"),
        "comm.yaml:7:12: worktrees `api/wt` is inside the scope of `api` (`api/**`)",
    );
    config_refused(
        &with("../../.."),
        "comm.yaml:7:12: worktrees `../../..` leaves the folder that holds the repository",
    );
    let env = Env::new();
    let root = env.repo("repo", &[("comm.yaml", &with("../beside"))]);
    env.cn(&root, &["init", "--dry-run"]).expect(0);
    let far = env.path("far/away");
    let root = env.repo("other", &[("comm.yaml", &with(far.to_str().unwrap()))]);
    let run = env.cn(&root, &["init", "--dry-run"]).expect(0);
    assert!(run.stdout.contains("far/away"), "{}", run.stdout);
    let inside = env.path("third/api/wt");
    let root = env.repo("third", &[("comm.yaml", &with(inside.to_str().unwrap()))]);
    let run = env.cn(&root, &["init", "--dry-run"]).expect(2);
    assert!(
        run.stderr.contains("is inside the scope of `api`"),
        "{}",
        run.stderr
    );
}

/// Runs `comm-node ARGS` in `dir` with `stdin` fed in.
fn cn_with_stdin(env: &Env, dir: &std::path::Path, args: &[&str], stdin: &[u8]) -> Run {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(common::BIN);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    env.hermetic(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    // The command may refuse before reading everything: ignore a broken pipe.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts `run` was refused with exit 2 naming `wanted`.
#[track_caller]
fn refused(run: Run, wanted: &str) {
    let run = run.expect(2);
    assert!(
        run.stderr.contains(wanted),
        "want `{wanted}` in:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn every_peer_written_field_has_a_limit_and_an_oversized_one_writes_nothing() {
    let env = Env::new();
    let root = bus(&env);
    let api = env.worktree("api");
    let before = env.refs(&root);
    let ten_mb = vec![b'x'; 10 * 1024 * 1024];
    refused(
        cn_with_stdin(
            &env,
            &api,
            &["task", "add", "big", "--description", "-"],
            &ten_mb,
        ),
        "the task description is 10485760 bytes; the limit is 65536 (TASK_DESCRIPTION)",
    );
    let mut add = vec!["task", "add", "many criteria"];
    let criteria: Vec<String> = (0..257).map(|i| format!("criterion {i}")).collect();
    for c in &criteria {
        add.extend(["--done-when", c]);
    }
    refused(
        env.cn(&api, &add),
        "is 257 items; the limit is 256 (TASK_LIST)",
    );
    let long_skill = "s".repeat(65);
    refused(
        env.cn(&api, &["task", "add", "skilled", "--skill", &long_skill]),
        "(NAME)",
    );

    let globs: Vec<String> = (0..2000).map(|i| format!("api/f{i}.ts")).collect();
    let mut reserve = vec!["reserve"];
    reserve.extend(globs.iter().map(String::as_str));
    refused(
        env.cn(&api, &reserve),
        "the reservation is 2000 globs; the limit is 256 (RESERVE_GLOBS)",
    );
    let long_glob = format!("api/{}", "g".repeat(2000));
    refused(env.cn(&api, &["reserve", &long_glob]), "(RESERVE_GLOB)");

    let huge = "d".repeat(20 * 1024 * 1024);
    let record = format!(r#"{{"_type":"issue","id":"bd-1","title":"t","description":"{huge}"}}"#);
    let file = env.path("big.jsonl");
    common::write(&file, &format!("{record}\n"));
    let import = [
        "--as",
        "human",
        "task",
        "import",
        "--beads",
        file.to_str().unwrap(),
    ];
    refused(env.cn(&root, &import), "line 1: the import record is");
    let desc = "d".repeat(100 * 1024);
    let record = format!(r#"{{"_type":"issue","id":"bd-1","title":"t","description":"{desc}"}}"#);
    common::write(&file, &format!("{record}\n"));
    refused(
        env.cn(&root, &import),
        "issue bd-1: the task description is 102400 bytes",
    );
    let title = "t".repeat(201);
    common::write(
        &file,
        &format!(r#"{{"_type":"issue","id":"bd-1","title":"{title}"}}"#),
    );
    refused(env.cn(&root, &import), "(TASK_TITLE)");
    assert_eq!(env.refs(&root), before, "a refusal wrote something");

    let out = env
        .cn(&api, &["task", "add", "flaky", "--domain", "api", "--json"])
        .expect(0);
    let id = serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.cn(&api, &["task", "claim", &id]).expect(0);
    let claimed = env.refs(&root);
    let reason = "r".repeat(5000);
    refused(
        env.cn(&api, &["task", "fail", &id, "--reason", &reason]),
        "the failure reason is 5000 bytes; the limit is 4096 (TASK_REASON)",
    );
    let subject = "s".repeat(201);
    refused(
        env.cn(&api, &["send", "--to", "web", &subject]),
        "longer than 200 characters",
    );
    assert_eq!(env.refs(&root), claimed, "a refusal wrote something");
}
