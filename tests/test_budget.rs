//! `comm-node budget`, `budget request`, `budget grant` and the message
//! budget: real repositories, the real binary. What `up` does with budgets
//! is in `test_budget_up`.

mod common;

use std::path::Path;
use std::process::Command;

use common::up::{add_task, up_command, FAKE_CLAUDE};
use common::{write, Env};
use serde_json::Value;

const CONFIG: &str = "project: app\ndomains:\n  api:\n    scope: [\"api/**\"]\n  web:\n    scope: [\"web/**\"]\nbudget:\n  total: { usd: 100 }\n  per_domain: { usd: 10, tokens: 2000000 }\n  per_task: { usd: 2 }\n  messages_per_task: 400\n  domains:\n    web: { per_domain: { usd: 3 } }\n";

fn json(run: common::Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The `budget --json` line of `scope`/`name` in `unit`.
fn line(env: &Env, root: &Path, scope: &str, name: &str, unit: &str) -> Value {
    let shown = json(env.cn(root, &["--json", "budget"]).expect(0));
    shown["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["scope"] == scope && l["name"] == name && l["unit"] == unit)
        .unwrap_or_else(|| panic!("no {scope} {name} {unit} in {shown}"))
        .clone()
}

#[test]
fn budget_shows_each_budget_and_a_grant_raises_the_one_it_names() {
    let env = Env::new();
    let root = env.app(&[("comm.yaml", CONFIG)]);
    let text = env.cn(&root, &["budget"]).expect(0).stdout;
    assert!(text.contains("total"), "{text}");
    assert!(text.contains("domain web"), "{text}");
    assert_eq!(line(&env, &root, "domain", "web", "usd")["budget"], 3.0);
    assert_eq!(line(&env, &root, "domain", "api", "usd")["budget"], 10.0);
    assert_eq!(
        line(&env, &root, "domain", "api", "tokens")["budget"],
        2000000.0
    );

    env.cn(&root, &["budget", "grant", "web", "$1.5"]).expect(0);
    env.cn(&root, &["budget", "grant", "web", "2"]).expect(0);
    let web = line(&env, &root, "domain", "web", "usd");
    assert_eq!(web["granted"], 3.5);
    assert_eq!(web["budget"], 6.5);
    let task = add_task(&env, &root, "api", "schema", &[]);
    env.cn(&root, &["budget", "grant", &task, "50ktokens"])
        .expect(0);
    assert_eq!(
        line(&env, &root, "task", &task, "tokens")["granted"],
        50000.0
    );
    let grants = env.git(&root, &["show", "comm:grants.yaml"]);
    assert!(grants.contains("web:"), "{grants}");
    assert!(grants.contains(&format!("{task}:")), "{grants}");
    env.cn(&root, &["verify"]).expect(0);
}

#[test]
fn a_request_tells_the_human_the_domains_efficiency() {
    let env = Env::new();
    let root = env.app(&[("comm.yaml", CONFIG)]);
    env.cn(
        &root,
        &[
            "--as",
            "api",
            "budget",
            "request",
            "5",
            "--reason",
            "the schema grew",
        ],
    )
    .expect(0);
    let inbox = json(env.cn(&root, &["--json", "inbox"]).expect(0));
    let request = &inbox.as_array().unwrap()[0];
    assert_eq!(request["kind"], "budget");
    assert_eq!(request["from"], "api");
    let body = request["body"].as_str().unwrap();
    assert!(body.contains("the schema grew"), "{body}");
    assert!(body.contains("cost per task done"), "{body}");
    assert!(body.contains("cost per landed change"), "{body}");
    assert!(body.contains("comm-node budget grant api 5"), "{body}");
    // The human grants; a request changes no budget.
    assert_eq!(line(&env, &root, "domain", "api", "usd")["granted"], 0.0);
    env.cn(&root, &["verify"]).expect(0);
}

#[test]
fn bad_grants_and_requests_are_refused_and_change_nothing() {
    let env = Env::new();
    let root = env.app(&[("comm.yaml", CONFIG)]);
    let before = env.refs(&root);
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["--as", "api", "budget", "grant", "api", "5"],
            1,
            "only the human grants",
        ),
        (
            &["budget", "grant", "payments", "5"],
            2,
            "not a registered domain",
        ),
        (
            &["budget", "grant", "T-0000000000", "5"],
            2,
            "does not exist",
        ),
        (
            &["budget", "grant", "api", "--", "-5"],
            2,
            "is not an amount",
        ),
        (&["budget", "grant", "api", "0"], 2, "is not an amount"),
        (&["budget", "grant", "api", "1e12"], 2, "is not an amount"),
        (&["budget", "grant", "api", "lots"], 2, "is not an amount"),
        (
            &["budget", "request", "5", "--reason", "x"],
            2,
            "requests come from domains",
        ),
        (
            &["--as", "api", "budget", "request", "5", "--reason", " "],
            2,
            "needs a reason",
        ),
    ];
    for (args, code, says) in cases {
        let run = env.cn(&root, args).expect(*code);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("hint:"), "{args:?}: {}", run.stderr);
    }
    assert_eq!(env.refs(&root), before);
}

#[test]
fn a_grant_written_by_a_domain_fails_verify() {
    let env = Env::new();
    let root = env.app(&[("comm.yaml", CONFIG)]);
    env.cn(&root, &["budget", "grant", "api", "1"]).expect(0);
    env.cn(&root, &["verify"]).expect(0);
    // The same commit, re-signed as `api` by hand.
    let message = env.git(&root, &["log", "-1", "--format=%B", "comm"]);
    let forged = message.replace("Comm-From: human", "Comm-From: api");
    let tree = env.git(&root, &["rev-parse", "comm^{tree}"]);
    let parent = env.git(&root, &["rev-parse", "comm~1"]);
    let mut cmd = Command::new("git");
    cmd.args([
        "commit-tree",
        tree.trim(),
        "-p",
        parent.trim(),
        "-m",
        &forged,
    ])
    .current_dir(&root);
    env.hermetic(&mut cmd);
    let out = cmd.output().unwrap();
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    env.git(&root, &["update-ref", "refs/heads/comm", &commit]);
    let run = env.cn(&root, &["verify"]).expect(1);
    assert!(
        run.stdout.contains("only the human grants budget")
            || run.stderr.contains("only the human grants budget"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn messages_past_the_task_budget_are_refused_with_a_hint() {
    let env = Env::new();
    let root = env.app(&[("comm.yaml", CONFIG)]);
    let task = add_task(&env, &root, "api", "schema", &[]);
    let body: String = (1..=20)
        .map(|i| format!("error line {i}: the build failed in module foo bar baz\n"))
        .collect();
    let send = |subject: &str| {
        env.cn(
            &root,
            &[
                "--as", "api", "send", "--to", "web", "--task", &task, subject, &body,
            ],
        )
    };
    send("first log").expect(0);
    let counted = env.git(&root, &["show", "comm:budget/api.yaml"]);
    assert!(counted.contains(&format!("{task}: ")), "{counted}");
    let before = env.refs(&root);
    let refused = send("second log").expect(1);
    assert!(
        refused.stderr.contains("budget.messages_per_task"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("be concise"), "{}", refused.stderr);
    assert!(refused.stderr.contains("publish"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("budget request"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.refs(&root), before, "nothing was written");
    let shown = line(&env, &root, "messages", &format!("api {task}"), "tokens");
    assert_eq!(shown["budget"], 400.0, "{shown}");
    assert!(shown["spent"].as_f64().unwrap() > 250.0, "{shown}");
    // A grant of tokens to the task makes room.
    env.cn(&root, &["budget", "grant", &task, "300tokens"])
        .expect(0);
    send("second log").expect(0);
    // Messages about no task, and other domains' messages, are not counted.
    env.cn(
        &root,
        &["--as", "api", "send", "--to", "web", "no task", &body],
    )
    .expect(0);
    env.cn(
        &root,
        &[
            "--as",
            "web",
            "send",
            "--to",
            "api",
            "--task",
            &task,
            "web's log",
            &body,
        ],
    )
    .expect(0);
    env.cn(&root, &["verify"]).expect(0);
}

#[test]
fn a_twenty_line_body_counts_in_comm_tokens() {
    let env = Env::new();
    let root = env.app(&[("comm.yaml", CONFIG)]);
    let body: String = (1..=20)
        .map(|i| format!("error line {i}: the build failed in module foo bar baz\n"))
        .collect();
    env.cn(&root, &["--as", "api", "send", "--to", "web", "log", &body])
        .expect(0);
    let tokens: u64 = env
        .git(
            &root,
            &[
                "log",
                "-1",
                "--format=%(trailers:key=Comm-Tokens,valueonly)",
                "comm",
            ],
        )
        .trim()
        .parse()
        .unwrap();
    assert!(tokens as usize >= body.len() / 4, "{tokens}");
    let inbox = env.cn(&root, &["--as", "web", "inbox"]).expect(0).stdout;
    assert!(!inbox.contains("~0 tokens"), "{inbox}");
}

/// A stand-in `claude` (it reports $0.5 a turn), ready for `up`.
fn fake_claude(env: &Env) -> (std::path::PathBuf, std::path::PathBuf) {
    let (fake, args) = (env.path("fake-claude"), env.path("claude-args"));
    write(&fake, FAKE_CLAUDE);
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    (fake, args)
}

#[test]
fn a_grant_on_one_clone_and_spend_on_the_other_both_hold_after_sync() {
    let env = Env::new();
    let root = env.app(&[("comm.yaml", CONFIG)]);
    let bare = env.empty_origin(&root);
    env.git(&root, &["push", "-q", "origin", "main"]);
    env.cn(&root, &["sync", "origin"]).expect(0);
    let other = env.synced_clone(bare.to_str().unwrap(), "b/other", "other", "other");
    env.cn(&other, &["init"]).expect(0);

    // A grant on `root`, not pushed yet, and a message of api about a task
    // on each clone (each counted where it was sent).
    env.cn(&root, &["budget", "grant", "api", "4"]).expect(0);
    let task = add_task(&env, &root, "web", "shared", &[]);
    env.cn(&root, &["sync"]).expect(0);
    env.cn(&other, &["sync"]).expect(0);
    env.cn(&root, &["budget", "grant", "api", "4"]).expect(0);
    for clone in [&root, &other] {
        env.cn(
            clone,
            &[
                "--as",
                "api",
                "send",
                "--to",
                "web",
                "--task",
                &task,
                "note",
                "twelve chars",
            ],
        )
        .expect(0);
    }
    // Spend on `other`: one turn of api at $0.5, pushed first.
    let (fake, args) = fake_claude(&env);
    add_task(&env, &other, "api", "schema", &[]);
    let out = up_command(&env, &other, None, &["api", "--once"])
        .env("COMM_NODE_CLAUDE", &fake)
        .env("FAKE_CLAUDE_ARGS", &args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.cn(&other, &["sync"]).expect(0);
    // The grant is replayed on top of the spend.
    env.cn(&root, &["sync"]).expect(0);
    let kinds = env.git(
        &root,
        &[
            "log",
            "--format=%(trailers:key=Comm-Kind,valueonly)",
            "comm",
        ],
    );
    let kinds: Vec<&str> = kinds.split_whitespace().collect();
    let at = |k: &str| kinds.iter().position(|x| *x == k).unwrap();
    assert!(
        at("budget") < at("turn"),
        "the grant comes after the turn: {kinds:?}"
    );
    env.cn(&other, &["sync"]).expect(0);

    for clone in [&root, &other] {
        let api = line(&env, clone, "domain", "api", "usd");
        assert_eq!(api["granted"], 8.0, "{api}");
        assert_eq!(api["budget"], 18.0, "{api}");
        let counted = env.git(clone, &["show", "comm:budget/api.yaml"]);
        // Two messages of 1 + 3 tokens (subject and body, bytes / 4).
        assert!(counted.contains(&format!("{task}: 8")), "{counted}");
        assert_eq!(api["spent"], 0.5, "{api}");
        assert_eq!(line(&env, clone, "total", "", "usd")["spent"], 0.5);
        env.cn(clone, &["verify"]).expect(0);
    }
}

#[test]
fn a_message_that_miscounts_its_tokens_fails_verify() {
    let env = Env::new();
    let root = env.app(&[("comm.yaml", CONFIG)]);
    let task = add_task(&env, &root, "api", "schema", &[]);
    env.cn(
        &root,
        &[
            "--as", "api", "send", "--to", "web", "--task", &task, "hi", "short",
        ],
    )
    .expect(0);
    env.cn(&root, &["verify"]).expect(0);
    // The same message, rewritten to count 1 token instead of its own.
    let git = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(&root)
            .env("GIT_INDEX_FILE", env.path("forged-index"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        env.hermetic(&mut cmd);
        cmd.env("GIT_INDEX_FILE", env.path("forged-index"));
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or("").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["read-tree", "comm"], None);
    let blob = git(
        &["hash-object", "-w", "--stdin"],
        Some(&format!("domain: api\nmessages:\n  {task}: 1\n")),
    );
    git(
        &[
            "update-index",
            "--cacheinfo",
            &format!("100644,{blob},budget/api.yaml"),
        ],
        None,
    );
    let tree = git(&["write-tree"], None);
    let message = env.git(&root, &["log", "-1", "--format=%B", "comm"]);
    let commit = git(
        &["commit-tree", &tree, "-p", "comm~1", "-m", &message],
        None,
    );
    env.git(&root, &["update-ref", "refs/heads/comm", &commit]);
    let run = env.cn(&root, &["verify"]).expect(1);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("budget/api.yaml does not hold"), "{said}");
}
