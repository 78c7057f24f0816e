//! The message bus on real repositories: `send`, `inbox`, `ack`, `read`,
//! `thread`, `log`, `publish` and `artifact get`, and who may act as whom
//! (bad input: `test_bus_input.rs`; many writers: `test_bus_writers.rs`).

mod common;

use std::path::Path;

use common::bus::*;
use common::{Env, BIN};
use serde_json::Value;

#[test]
fn messages_flow_between_domains_through_comm() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");
    let web = env.worktree("web");

    // A message with its body as an argument: exactly one commit on comm.
    let count = |env: &Env| -> u64 {
        env.git(&root, &["rev-list", "--count", "comm"])
            .parse()
            .unwrap()
    };
    assert_eq!(count(&env), 1);
    let first = sent_id(env.cn(
        &api,
        &[
            "send",
            "--to",
            "web",
            "login contract ready",
            "See **openapi**.",
        ],
    ));
    assert_eq!(count(&env), 2);
    let first_commit = tip(&env, &root);
    assert_eq!(trailer(&env, &root, "comm", "Comm-Id"), first);
    assert_eq!(trailer(&env, &root, "comm", "Comm-Seq"), "2");
    assert_eq!(
        env.git(&root, &["log", "-1", "--format=%s", "comm"]),
        "api → web: login contract ready"
    );

    // A body from standard input.
    let stdin_body = "line one\n\nline two\n";
    let second = sent_id(cn_stdin(
        &env,
        &api,
        &["send", "--to", "web", "second", "-"],
        stdin_body,
    ));
    assert_eq!(count(&env), 3);
    let second_commit = tip(&env, &root);

    let inbox = json(&env.cn(&web, &["inbox", "--json"]).expect(0));
    assert_eq!(ids_of(&inbox), [first.clone(), second.clone()]);
    let m = &inbox[0];
    for key in [
        "id", "kind", "from", "to", "subject", "body", "task", "thread", "reply_to", "tokens",
        "time", "commit",
    ] {
        assert!(m.get(key).is_some(), "no key {key} in {m}");
    }
    assert_eq!(m["id"], first.as_str());
    assert_eq!(m["kind"], "msg");
    assert_eq!(m["from"], "api");
    assert_eq!(m["to"], serde_json::json!(["web"]));
    assert_eq!(m["subject"], "login contract ready");
    assert_eq!(m["body"], "See **openapi**.");
    assert_eq!(m["task"], Value::Null);
    assert_eq!(m["thread"], first.as_str());
    assert_eq!(m["reply_to"], Value::Null);
    assert!(m["tokens"].as_u64().unwrap() > 0, "{m}");
    assert_eq!(
        m["tokens"].as_u64().unwrap().to_string(),
        trailer(&env, &root, &first_commit, "Comm-Tokens")
    );
    assert!(m["time"].as_i64().unwrap() > 0, "{m}");
    assert_eq!(m["commit"], first_commit.as_str());
    let m2 = &inbox[1];
    assert_eq!(m2["subject"], "second");
    // Trailing blank space is trimmed; everything else is kept.
    assert_eq!(m2["body"], "line one\n\nline two");
    assert_eq!(m2["commit"], second_commit.as_str());
    // The sender does not see its own message.
    assert_eq!(
        json(&env.cn(&api, &["inbox", "--json"]).expect(0)),
        serde_json::json!([])
    );

    // Text output names the sender and the subject.
    let text = env.cn(&web, &["inbox"]).expect(0).stdout;
    assert!(text.contains("2 unread for web"), "{text}");
    assert!(
        text.contains(&format!("{first}  api → web  login contract ready")),
        "{text}"
    );

    // Acknowledging everything empties the inbox, with one ack event.
    let acked = json(&env.cn(&web, &["ack", "--all", "--json"]).expect(0));
    assert_eq!(acked["acked"], serde_json::json!([first, second]));
    assert_eq!(trailer(&env, &root, "comm", "Comm-Kind"), "ack");
    assert_eq!(trailer(&env, &root, "comm", "Comm-From"), "web");
    assert_eq!(
        json(&env.cn(&web, &["inbox", "--json"]).expect(0)),
        serde_json::json!([])
    );
    let again = env.cn(&web, &["ack", "--all"]).expect(0);
    assert!(again.stdout.contains("nothing unread"), "{}", again.stdout);

    // A reply joins the thread of the message it answers.
    let reply = sent_id(env.cn(
        &web,
        &[
            "send",
            "--to",
            "api",
            "--reply-to",
            &first,
            "thanks, using it",
            "ok",
        ],
    ));
    assert_eq!(trailer(&env, &root, "comm", "Comm-Thread"), first);
    assert_eq!(trailer(&env, &root, "comm", "Comm-Reply-To"), first);
    let api_inbox = json(&env.cn(&api, &["inbox", "--json"]).expect(0));
    assert_eq!(ids_of(&api_inbox), [reply.as_str()]);
    assert_eq!(api_inbox[0]["thread"], first.as_str());
    assert_eq!(api_inbox[0]["reply_to"], first.as_str());
    assert_eq!(api_inbox[0]["from"], "web");
    assert_eq!(api_inbox[0]["to"], serde_json::json!(["api"]));

    // read ID: the message and its whole thread, oldest first.
    let read = json(&env.cn(&root, &["read", &first, "--json"]).expect(0));
    assert_eq!(read["message"]["id"], first.as_str());
    assert_eq!(read["message"]["body"], "See **openapi**.");
    assert_eq!(ids_of(&read["thread"]), [first.clone(), reply.clone()]);
    let read_reply = json(&env.cn(&api, &["read", &reply, "--json"]).expect(0));
    assert_eq!(read_reply["message"]["id"], reply.as_str());
    assert_eq!(
        ids_of(&read_reply["thread"]),
        [first.clone(), reply.clone()]
    );
    // Reading does not mark anything read.
    assert_eq!(
        ids_of(&json(&env.cn(&api, &["inbox", "--json"]).expect(0))),
        [reply.as_str()]
    );

    // thread ID, by the first message or by the reply.
    for by in [&first, &reply] {
        let thread = json(&env.cn(&web, &["thread", by, "--json"]).expect(0));
        assert_eq!(ids_of(&thread), [first.clone(), reply.clone()]);
    }
    let text = env.cn(&web, &["thread", &first]).expect(0).stdout;
    assert!(text.contains("(2 messages)"), "{text}");

    // A task id is carried along.
    let tasked = sent_id(env.cn(&api, &["send", "--to", "web", "--task", "T-1", "about T-1"]));
    assert_eq!(trailer(&env, &root, "comm", "Comm-Task"), "T-1");
    let inbox = json(&env.cn(&web, &["inbox", "--json"]).expect(0));
    assert_eq!(ids_of(&inbox), [tasked.as_str()]);
    assert_eq!(inbox[0]["task"], "T-1");
    assert_eq!(inbox[0]["body"], "");

    // log: every event, newest first.
    let log = json(&env.cn(&root, &["log", "--json"]).expect(0));
    let events = log.as_array().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=count(&env)).rev().collect();
    assert_eq!(seqs, expected);
    assert_eq!(events[0]["id"], tasked.as_str());
    assert_eq!(events[0]["commit"], tip(&env, &root).as_str());
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["msg", "msg", "ack", "msg", "msg", "kickoff"]);
    let limited = json(&env.cn(&root, &["log", "-n", "2", "--json"]).expect(0));
    assert_eq!(ids_of(&limited), ids_of(&log)[..2]);

    // Each message is exactly one commit with the full set of trailers.
    assert_one_msg_commit(&env, &root, &first, "api", "web");
    assert_one_msg_commit(&env, &root, &second, "api", "web");
    assert_one_msg_commit(&env, &root, &reply, "web", "api");
    assert_one_msg_commit(&env, &root, &tasked, "api", "web");
    let kinds = trailers_on_comm(&env, &root, "Comm-Kind");
    assert_eq!(kinds.iter().filter(|k| *k == "msg").count(), 4);
    assert_eq!(env.git(&root, &["rev-list", "--merges", "comm"]), "");
    assert_seq_contiguous(&env, &root);
    env.git(&root, &["fsck", "--strict", "--no-dangling"]);
}

#[test]
fn several_recipients_and_all_reach_each_inbox() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");
    let web = env.worktree("web");
    let both = sent_id(env.cn(&api, &["send", "--to", "web,human,web", "to two"]));
    // Recipients are sorted and deduplicated.
    assert_eq!(trailer(&env, &root, "comm", "Comm-To"), "human, web");
    let everyone = sent_id(env.cn(&web, &["send", "--to", "all", "to everyone"]));
    assert_eq!(trailer(&env, &root, "comm", "Comm-To"), "all");

    let inbox = |dir: &Path, args: &[&str]| ids_of(&json(&env.cn(dir, args).expect(0)));
    assert_eq!(inbox(&web, &["inbox", "--json"]), [both.as_str()]);
    assert_eq!(inbox(&api, &["inbox", "--json"]), [everyone.as_str()]);
    assert_eq!(
        inbox(&root, &["inbox", "--json", "--as", "human"]),
        [both.clone(), everyone.clone()]
    );
    let m = json(&env.cn(&root, &["read", &both, "--json"]).expect(0));
    assert_eq!(m["message"]["to"], serde_json::json!(["human", "web"]));
    assert_eq!(m["message"]["subject"], "to two");
}

#[test]
fn acking_some_messages_leaves_the_others_unread() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");
    let web = env.worktree("web");
    let ids: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|s| sent_id(env.cn(&api, &["send", "--to", "web", s])))
        .collect();
    let unread = |env: &Env| ids_of(&json(&env.cn(&web, &["inbox", "--json"]).expect(0)));

    let acked = json(&env.cn(&web, &["ack", &ids[1], "--json"]).expect(0));
    assert_eq!(acked["acked"], serde_json::json!([ids[1]]));
    assert_eq!(unread(&env), [ids[0].clone(), ids[2].clone()]);
    // Acking an already-read message records nothing.
    let before = tip(&env, &root);
    let again = json(&env.cn(&web, &["ack", &ids[1], "--json"]).expect(0));
    assert_eq!(again["acked"], serde_json::json!([]));
    assert_eq!(tip(&env, &root), before);

    // A second partial ack must not bring back the first one.
    env.cn(&web, &["ack", &ids[0]]).expect(0);
    assert_eq!(
        unread(&env),
        [ids[2].as_str()],
        "cursor after two partial acks:\n{}",
        env.git(&root, &["show", "comm:cursors/web.yaml"])
    );
    env.cn(&web, &["ack", &ids[2]]).expect(0);
    assert_eq!(unread(&env), Vec::<String>::new());
}

#[test]
fn published_artifacts_are_files_on_comm() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");
    let web = env.worktree("web");
    // Bytes that are not UTF-8 must survive unchanged.
    let mut bytes = b"openapi: 3.1.0\npaths:\n  /login: {}\n".to_vec();
    bytes.extend_from_slice(&[0, 0xff, 0xfe, b'\n']);
    let file = api.join("openapi.yaml");
    std::fs::write(&file, &bytes).unwrap();

    let run = env
        .cn(
            &api,
            &["publish", "openapi.yaml", "openapi.yaml", "-m", "login"],
        )
        .expect(0);
    assert!(
        run.stdout.contains("published api/openapi.yaml"),
        "{}",
        run.stdout
    );
    assert_eq!(trailer(&env, &root, "comm", "Comm-Kind"), "artifact");
    assert_eq!(trailer(&env, &root, "comm", "Comm-From"), "api");
    assert_eq!(trailer(&env, &root, "comm", "Comm-To"), "all");
    assert_eq!(
        trailer(&env, &root, "comm", "Comm-Artifact"),
        "api/openapi.yaml"
    );
    assert_eq!(
        trailer(&env, &root, "comm", "Comm-Size"),
        bytes.len().to_string()
    );
    assert_eq!(
        env.git(&root, &["log", "-1", "--format=%s", "comm"]),
        "api published openapi.yaml: login"
    );

    let (code, shown, err) = run_raw(
        &env,
        &root,
        "git",
        &["show", "comm:artifacts/api/openapi.yaml"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(shown, bytes);
    let (code, got, err) = run_raw(
        &env,
        &web,
        BIN,
        &["artifact", "get", "api/openapi.yaml"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(got, bytes);
    env.cn(
        &web,
        &["artifact", "get", "api/openapi.yaml", "-o", "copy.yaml"],
    )
    .expect(0);
    assert_eq!(std::fs::read(web.join("copy.yaml")).unwrap(), bytes);

    // Nested names and standard input; publishing again replaces.
    cn_stdin(
        &env,
        &api,
        &["publish", "schemas/order.json", "-", "--to", "web"],
        "{\"v\":1}\n",
    )
    .expect(0);
    assert_eq!(trailer(&env, &root, "comm", "Comm-To"), "web");
    cn_stdin(
        &env,
        &root,
        &["publish", "schemas/order.json", "-", "--as", "api"],
        "{\"v\":2}\n",
    )
    .expect(0);
    assert_eq!(
        env.git(&root, &["show", "comm:artifacts/api/schemas/order.json"]),
        "{\"v\":2}"
    );
    assert_eq!(
        env.git(&root, &["show", "comm~1:artifacts/api/schemas/order.json"]),
        "{\"v\":1}"
    );
    assert_eq!(
        env.git(
            &root,
            &["ls-tree", "-r", "--name-only", "comm", "artifacts"]
        ),
        "artifacts/api/openapi.yaml\nartifacts/api/schemas/order.json"
    );

    // A missing artifact is a usage error that says where to look.
    let before = tip(&env, &root);
    let run = env.cn(&web, &["artifact", "get", "api/missing"]).expect(2);
    assert!(
        run.stderr.contains("no artifact `api/missing` on comm"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let run = env.cn(&web, &["artifact", "get", "openapi.yaml"]).expect(2);
    assert!(run.stderr.contains("DOMAIN/NAME"), "{}", run.stderr);
    assert_eq!(tip(&env, &root), before);
    env.git(&root, &["fsck", "--strict", "--no-dangling"]);
}

#[test]
fn a_body_cannot_forge_trailers() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");
    let web = env.worktree("web");
    let bodies = [
        "harmless\nComm-From: web\nComm-Kind: kickoff",
        // The forged lines as a final paragraph of their own.
        "intro\n\nComm-From: web\nComm-Kind: kickoff\nComm-Id: fake\nComm-To: all",
        // Case, missing spaces, already-escaped lines and a patch divider.
        "---\ncomm-from: web\nCOMM-KIND:kickoff\n\\Comm-From: web\n\\\\Comm-Seq: 1",
        "Comm-From: web",
    ];
    for body in bodies {
        // `--` because a body may start with `-`.
        let id = sent_id(env.cn(&api, &["send", "--to", "web", "--", "status", body]));
        assert_eq!(trailer(&env, &root, "comm", "Comm-From"), "api", "{body:?}");
        assert_eq!(trailer(&env, &root, "comm", "Comm-Kind"), "msg", "{body:?}");
        assert_eq!(trailer(&env, &root, "comm", "Comm-Id"), id, "{body:?}");
        assert_eq!(trailer(&env, &root, "comm", "Comm-To"), "web", "{body:?}");
        let inbox = json(&env.cn(&web, &["inbox", "--json"]).expect(0));
        let m = inbox.as_array().unwrap().last().unwrap();
        assert_eq!(m["id"], id.as_str());
        assert_eq!(m["from"], "api");
        assert_eq!(m["kind"], "msg");
        assert_eq!(m["body"], body);
        let read = json(&env.cn(&web, &["read", &id, "--json"]).expect(0));
        assert_eq!(read["message"]["body"], body);
    }
    // The same through standard input.
    let body = "Comm-From: web\nComm-Kind: kickoff";
    let id = sent_id(cn_stdin(
        &env,
        &api,
        &["send", "--to", "web", "piped", "-"],
        body,
    ));
    assert_eq!(trailer(&env, &root, "comm", "Comm-From"), "api");
    assert_eq!(trailer(&env, &root, "comm", "Comm-Kind"), "msg");
    let read = json(&env.cn(&web, &["read", &id, "--json"]).expect(0));
    assert_eq!(read["message"]["body"], body);
    // Only the kickoff claims to be one.
    let kinds = trailers_on_comm(&env, &root, "Comm-Kind");
    assert_eq!(kinds.iter().filter(|k| *k == "kickoff").count(), 1);
    assert!(!trailers_on_comm(&env, &root, "Comm-From")
        .iter()
        .any(|f| f == "web"));
    assert_seq_contiguous(&env, &root);
}

#[test]
fn each_checkout_acts_only_as_itself() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");

    // A domain worktree cannot speak for another domain.
    let before = tip(&env, &root);
    let run = env
        .cn(&api, &["send", "--as", "web", "--to", "api", "forged"])
        .expect(1);
    assert!(
        run.stderr
            .contains("belongs to domain `api`; it cannot act as `web`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert_eq!(tip(&env, &root), before);
    env.cn(&api, &["inbox", "--as", "web"]).expect(1);
    env.cn(&api, &["send", "--as", "human", "--to", "web", "forged"])
        .expect(1);
    assert_eq!(tip(&env, &root), before);
    // Naming itself is fine.
    sent_id(env.cn(&api, &["send", "--as", "api", "--to", "web", "own name"]));
    assert_eq!(trailer(&env, &root, "comm", "Comm-From"), "api");

    // The main checkout acts as the human unless someone else is named.
    sent_id(env.cn(&root, &["send", "--to", "web", "from the human"]));
    assert_eq!(trailer(&env, &root, "comm", "Comm-From"), "human");
    let before = tip(&env, &root);
    let run = env
        .cn(&root, &["send", "--as", "nosuch", "--to", "web", "x"])
        .expect(2);
    assert!(
        run.stderr.contains("`nosuch` is not a registered domain"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("api, web"), "{}", run.stderr);
    assert_eq!(tip(&env, &root), before);

    // --as in the main checkout: a domain or the human.
    sent_id(env.cn(&root, &["send", "--as", "web", "--to", "api", "from main"]));
    assert_eq!(trailer(&env, &root, "comm", "Comm-From"), "web");
    let to_human = sent_id(env.cn(&api, &["send", "--to", "human", "for you"]));
    let to_all = sent_id(env.cn(&api, &["send", "--to", "all", "for all"]));
    sent_id(env.cn(&api, &["send", "--to", "web", "not for you"]));
    let by_human = sent_id(env.cn(
        &root,
        &["send", "--as", "human", "--to", "all", "hello all"],
    ));
    assert_eq!(trailer(&env, &root, "comm", "Comm-From"), "human");
    let inbox = json(
        &env.cn(&root, &["inbox", "--as", "human", "--json"])
            .expect(0),
    );
    assert_eq!(ids_of(&inbox), [to_human, to_all.clone()]);
    // Everyone else sees the human's message to all.
    let web_inbox = json(&env.cn(&root, &["inbox", "--as", "web", "--json"]).expect(0));
    let web_ids = ids_of(&web_inbox);
    assert!(
        web_ids.contains(&by_human) && web_ids.contains(&to_all),
        "{web_ids:?}"
    );
    env.cn(&root, &["ack", "--all", "--as", "human"]).expect(0);
    assert_eq!(trailer(&env, &root, "comm", "Comm-From"), "human");
    assert_eq!(
        json(
            &env.cn(&root, &["inbox", "--as", "human", "--json"])
                .expect(0)
        ),
        serde_json::json!([])
    );
}

#[test]
fn log_shows_exactly_the_requested_number_of_events() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");
    for s in ["one", "two", "three"] {
        sent_id(env.cn(&api, &["send", "--to", "web", s]));
    }
    for n in [3usize, 2, 1, 0] {
        let log = json(
            &env.cn(&root, &["log", "-n", &n.to_string(), "--json"])
                .expect(0),
        );
        let seqs: Vec<u64> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        let expected: Vec<u64> = (5 - n as u64..=4).rev().collect();
        assert_eq!(seqs, expected, "log -n {n}");
    }
    let all = json(&env.cn(&root, &["log", "-n", "100", "--json"]).expect(0));
    assert_eq!(all.as_array().unwrap().len(), 4);
}
