//! Messages as agents use them: replies that need no `--to`, ids given by
//! any unique prefix, inbox filters, token estimates on every event, the
//! time in `log`, and a hello's note in `status`.

mod common;

use std::path::{Path, PathBuf};

use common::{with_domains, Env, Run, API_WEB};
use serde_json::Value;

fn app(env: &Env) -> PathBuf {
    let config = with_domains(API_WEB, &["docs"]);
    env.api_web_app(&config, &[("docs/d.md", "# docs\n")])
}

fn json(run: Run) -> Value {
    let run = run.expect(0);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// Sends as the domain whose worktree `dir` is; the message as JSON.
fn send(env: &Env, dir: &Path, args: &[&str]) -> Value {
    let mut full = vec!["send", "--json"];
    full.extend_from_slice(args);
    json(env.cn(dir, &full))
}

fn inbox(env: &Env, dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut full = vec!["inbox", "--json"];
    full.extend_from_slice(args);
    json(env.cn(dir, &full)).as_array().unwrap().clone()
}

fn ids(messages: &[Value]) -> Vec<&str> {
    messages.iter().map(|m| m["id"].as_str().unwrap()).collect()
}

#[test]
fn a_reply_without_to_reaches_the_sender_and_other_recipients_and_inherits_the_task() {
    let env = Env::new();
    let _root = app(&env);
    let (api, web, docs) = (
        env.worktree("api"),
        env.worktree("web"),
        env.worktree("docs"),
    );
    let original = send(
        &env,
        &api,
        &[
            "--to",
            "web,docs",
            "--task",
            "T-12",
            "contract ready",
            "see the artifact",
        ],
    );
    let id = original["id"].as_str().unwrap();
    let reply = send(
        &env,
        &web,
        &["--reply-to", &id[..16], "thanks, wiring it up"],
    );
    assert_eq!(reply["to"], serde_json::json!(["api", "docs"]));
    assert_eq!(reply["task"], "T-12");
    assert_eq!(reply["reply_to"], id);
    assert_eq!(reply["thread"], id);
    let reply_id = reply["id"].as_str().unwrap();
    assert!(ids(&inbox(&env, &api, &[])).contains(&reply_id));
    assert!(ids(&inbox(&env, &docs, &[])).contains(&reply_id));
    assert!(!ids(&inbox(&env, &web, &[])).contains(&reply_id));
    // An explicit --to and --task still win.
    let narrow = send(
        &env,
        &web,
        &[
            "--reply-to",
            id,
            "--to",
            "api",
            "--task",
            "T-13",
            "just you",
        ],
    );
    assert_eq!(narrow["to"], serde_json::json!(["api"]));
    assert_eq!(narrow["task"], "T-13");
    // Replying to one's own message to nobody else needs a --to.
    let own = send(&env, &api, &["--to", "api", "note to self"]);
    let run = env.cn(
        &api,
        &["send", "--reply-to", own["id"].as_str().unwrap(), "x"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--to"), "{}", run.stderr);
}

#[test]
fn any_unique_id_prefix_names_a_message_and_an_ambiguous_one_lists_the_candidates() {
    let env = Env::new();
    let _root = app(&env);
    let (api, web) = (env.worktree("api"), env.worktree("web"));
    let first = send(&env, &api, &["--to", "web", "first"]);
    let second = send(&env, &api, &["--to", "web", "second"]);
    let first = first["id"].as_str().unwrap();
    let second = second["id"].as_str().unwrap();
    let unique = &first[..first.len() - 3];

    let read = env.cn(&web, &["read", unique]).expect(0);
    assert!(read.stdout.contains("first"), "{}", read.stdout);
    let thread = env.cn(&web, &["thread", unique]).expect(0);
    assert!(thread.stdout.contains(first), "{}", thread.stdout);

    // Both ids start with the same milliseconds.
    let common_len = first
        .chars()
        .zip(second.chars())
        .take_while(|(a, b)| a == b)
        .count();
    assert!(common_len >= 4, "{first} {second}");
    let ambiguous = &first[..common_len];
    let run = env.cn(&web, &["read", ambiguous]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("ambiguous"), "{}", run.stderr);
    assert!(
        run.stderr.contains(first) && run.stderr.contains(second),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    let run = env.cn(&web, &["ack", ambiguous]);
    assert_eq!(run.code, 2, "{}", run.stderr);

    env.cn(&web, &["ack", unique]).expect(0);
    assert_eq!(ids(&inbox(&env, &web, &[])), vec![second]);
    let run = env.cn(&web, &["read", "ffffffff"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no message"), "{}", run.stderr);
}

#[test]
fn inbox_filters_by_sender_and_kind() {
    let env = Env::new();
    let root = app(&env);
    let (api, web, docs) = (
        env.worktree("api"),
        env.worktree("web"),
        env.worktree("docs"),
    );
    let from_api = send(&env, &api, &["--to", "web", "from api"]);
    let from_docs = send(&env, &docs, &["--to", "web", "from docs"]);
    let from_human = send(&env, &root, &["--to", "web", "from human"]);
    let id = |m: &Value| m["id"].as_str().unwrap().to_owned();
    assert_eq!(inbox(&env, &web, &[]).len(), 3);
    assert_eq!(
        ids(&inbox(&env, &web, &["--from", "human"])),
        vec![id(&from_human)]
    );
    assert_eq!(
        ids(&inbox(&env, &web, &["--from", "api,docs"])),
        vec![id(&from_api), id(&from_docs)]
    );
    assert_eq!(inbox(&env, &web, &["--kind", "msg"]).len(), 3);
    assert!(inbox(&env, &web, &["--kind", "queue"]).is_empty());
    let text = env.cn(&web, &["inbox", "--from", "docs"]).expect(0).stdout;
    assert!(text.contains("1 of the 3 unread for web"), "{text}");
    assert!(!text.contains("from api"), "{text}");
}

#[test]
fn every_events_token_estimate_counts_its_body() {
    let env = Env::new();
    let root = app(&env);
    let api = env.worktree("api");
    let reason = "the sandbox has no network, so npm ci cannot fetch the packages it needs; \
                  the registry mirror is down since this morning and nothing else works";
    env.cn(&root, &["task", "add", "Install deps", "--domain", "api"])
        .expect(0);
    let task = json(env.cn(&api, &["task", "next", "--json"]));
    let task = task["id"].as_str().unwrap();
    env.cn(&api, &["task", "fail", task, "--reason", reason])
        .expect(0);
    let notices = inbox(&env, &root, &["--kind", "task"]);
    let failed = notices
        .iter()
        .find(|m| m["body"].as_str().unwrap().contains("sandbox"))
        .expect("the failure notice reaches the human");
    assert!(
        failed["tokens"].as_u64().unwrap() as usize >= reason.len() / 4,
        "{failed}"
    );
    let text = env.cn(&root, &["inbox"]).expect(0).stdout;
    assert!(!text.contains("~0 tokens"), "{text}");
    for event in json(env.cn(&root, &["log", "--json", "-n", "100"]))
        .as_array()
        .unwrap()
    {
        let body = event["body"].as_str().unwrap().len() as u64;
        assert!(event["tokens"].as_u64().unwrap() >= body / 4, "{event}");
    }
}

#[test]
fn log_shows_the_time_and_id_of_every_event() {
    let env = Env::new();
    let root = app(&env);
    let sent = send(&env, &env.worktree("api"), &["--to", "web", "hello web"]);
    let log = env.cn(&root, &["log"]).expect(0).stdout;
    let line = log.lines().find(|l| l.contains("hello web")).expect(&log);
    assert!(line.contains(sent["id"].as_str().unwrap()), "{line}");
    // `2026-12-06 20:14:21 UTC`
    let time = line.split_whitespace().skip(1).take(3).collect::<Vec<_>>();
    assert_eq!(time.len(), 3, "{line}");
    assert!(
        time[0].len() == 10 && time[0].chars().filter(|c| *c == '-').count() == 2,
        "{line}"
    );
    assert!(
        time[1].len() == 8 && time[1].chars().filter(|c| *c == ':').count() == 2,
        "{line}"
    );
    assert_eq!(time[2], "UTC", "{line}");
}

#[test]
fn a_hellos_note_shows_in_status() {
    let env = Env::new();
    let root = app(&env);
    env.cn(
        &env.worktree("api"),
        &[
            "hello",
            "--agent",
            "codex",
            "--note",
            "wiring the orders endpoint",
        ],
    )
    .expect(0);
    let status = env.cn(&root, &["status"]).expect(0).stdout;
    let line = status
        .lines()
        .find(|l| l.contains("wiring the orders endpoint"))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(line.trim_start().starts_with("api"), "{line}");
    let json = json(env.cn(&root, &["status", "--json"]));
    let api = json["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "api")
        .unwrap();
    assert_eq!(api["agent"]["note"], "wiring the orders endpoint");
}
