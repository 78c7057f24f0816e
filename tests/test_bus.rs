//! The message bus on real repositories: `send`, `inbox`, `ack`, `read`,
//! `thread`, `log`, `publish` and `artifact get`, who may act as whom, bad
//! input, many concurrent writers, and writers killed mid-append.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{write, Env, Run, BIN};
use serde_json::Value;

const SMALL: &str = "project: app
domains:
  api:
    role: The API
    scope: [\"api/**\"]
  web:
    role: The web app
    scope: [\"web/**\"]
    may_import: [api]
";

/// The small two-domain repository after `comm-node init`; `extra` is
/// appended to its comm.yaml (e.g. a `limits:` block).
fn bus(env: &Env, extra: &str) -> PathBuf {
    let config = format!("{SMALL}{extra}");
    env.app(&[
        ("comm.yaml", config.as_str()),
        ("api/a.ts", "export const a = 1;\n"),
        ("web/w.ts", "export {};\n"),
    ])
}

/// Runs `program ARGS` in `dir` with `stdin` fed in; raw stdout bytes.
fn run_raw(
    env: &Env,
    dir: &Path,
    program: &str,
    args: &[&str],
    stdin: &[u8],
) -> (i32, Vec<u8>, String) {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    env.hermetic(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `comm-node ARGS` in `dir` with `stdin` on its standard input.
fn cn_stdin(env: &Env, dir: &Path, args: &[&str], stdin: &str) -> Run {
    let (code, stdout, stderr) = run_raw(env, dir, BIN, args, stdin.as_bytes());
    Run {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
    }
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout))
}

fn tip(env: &Env, root: &Path) -> String {
    env.git(root, &["rev-parse", "comm"])
}

/// The value of trailer `key` of commit `rev`, as git's own parser reads it
/// (one line per occurrence).
fn trailer(env: &Env, root: &Path, rev: &str, key: &str) -> String {
    env.git(
        root,
        &[
            "log",
            "-1",
            &format!("--format=%(trailers:key={key},valueonly)"),
            rev,
        ],
    )
}

/// Trailer `key` of every commit on comm, newest first (commits without it
/// are skipped).
fn trailers_on_comm(env: &Env, root: &Path, key: &str) -> Vec<String> {
    env.git(
        root,
        &[
            "log",
            &format!("--format=%(trailers:key={key},valueonly,separator=%x2C)"),
            "comm",
        ],
    )
    .lines()
    .filter(|l| !l.is_empty())
    .map(str::to_owned)
    .collect()
}

/// Asserts that trailer Comm-Seq runs exactly 1..=N over the whole of comm.
#[track_caller]
fn assert_seq_contiguous(env: &Env, root: &Path) {
    let commits: usize = env
        .git(root, &["rev-list", "--count", "comm"])
        .parse()
        .unwrap();
    let mut seqs: Vec<u64> = trailers_on_comm(env, root, "Comm-Seq")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(seqs.len(), commits, "every commit carries a Comm-Seq");
    seqs.sort_unstable();
    let expected: Vec<u64> = (1..=commits as u64).collect();
    assert_eq!(seqs, expected, "Comm-Seq is not 1..={commits}");
}

/// The id a successful `send` prints.
#[track_caller]
fn sent_id(run: Run) -> String {
    let run = run.expect(0);
    let id = run.stdout.trim().to_owned();
    assert!(looks_like_id(&id), "not an id: {:?}", run.stdout);
    id
}

fn looks_like_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 2
        && !parts[0].is_empty()
        && parts[1].len() == 10
        && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts that `id` is carried by exactly one commit on comm, which is a
/// `msg` from `from` to `to` with all the message trailers.
#[track_caller]
fn assert_one_msg_commit(env: &Env, root: &Path, id: &str, from: &str, to: &str) {
    let commits = env.git(
        root,
        &[
            "log",
            "--format=%H",
            "--fixed-strings",
            &format!("--grep=Comm-Id: {id}"),
            "comm",
        ],
    );
    let commits: Vec<&str> = commits.lines().collect();
    assert_eq!(commits.len(), 1, "{id} is on {} commits", commits.len());
    let c = commits[0];
    assert_eq!(trailer(env, root, c, "Comm-Kind"), "msg");
    assert_eq!(trailer(env, root, c, "Comm-From"), from);
    assert_eq!(trailer(env, root, c, "Comm-To"), to);
    assert_eq!(trailer(env, root, c, "Comm-Id"), id);
    let seq: u64 = trailer(env, root, c, "Comm-Seq").parse().unwrap();
    assert!(seq > 1, "{seq}");
    let tokens: u64 = trailer(env, root, c, "Comm-Tokens").parse().unwrap();
    assert!(tokens > 0);
}

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
fn bad_input_is_a_usage_error_that_writes_nothing() {
    let env = Env::new();
    let root = bus(&env, "limits:\n  body_bytes: 100\n  artifact_bytes: 50\n");
    let api = env.worktree("api");
    let web = env.worktree("web");
    let known = sent_id(env.cn(&api, &["send", "--to", "web", "known"]));

    let subject_201 = "é".repeat(201);
    let subject_200 = "é".repeat(200);
    let body_101 = "x".repeat(101);
    let body_100 = "y".repeat(100);
    let big = api.join("big.bin");
    std::fs::write(&big, vec![b'z'; 51]).unwrap();
    let fits = api.join("fits.bin");
    std::fs::write(&fits, vec![b'z'; 50]).unwrap();
    std::fs::write(api.join("small.txt"), "small\n").unwrap();

    let cases: Vec<(&Path, Vec<&str>, &str)> = vec![
        (
            &api,
            vec!["send", "--to", "nosuch", "hi"],
            "unknown recipient `nosuch`",
        ),
        (
            &api,
            vec!["send", "--to", "web,nosuch", "hi"],
            "unknown recipient `nosuch`",
        ),
        (
            &api,
            vec!["send", "--to", "web", ""],
            "the subject is empty",
        ),
        (
            &api,
            vec!["send", "--to", "web", "   "],
            "the subject is empty",
        ),
        (
            &api,
            vec!["send", "--to", "web", "two\nlines"],
            "the subject spans several lines",
        ),
        (
            &api,
            vec!["send", "--to", "web", "cr\rline"],
            "the subject spans several lines",
        ),
        (
            &api,
            vec!["send", "--to", "web", &subject_201],
            "the subject is longer than 200 characters",
        ),
        (
            &api,
            vec!["send", "--to", "web", "big", &body_101],
            "the body is 101 bytes; the limit is 100",
        ),
        (
            &api,
            vec!["publish", "../x", "small.txt"],
            "artifact name `../x` contains `.` or `..`",
        ),
        (
            &api,
            vec!["publish", "/etc/passwd", "small.txt"],
            "artifact name `/etc/passwd` is absolute",
        ),
        (
            &api,
            vec!["publish", "a/../b", "small.txt"],
            "artifact name `a/../b` contains `.` or `..`",
        ),
        (
            &api,
            vec!["publish", ".git/config", "small.txt"],
            "artifact name `.git/config` contains a name git reserves (`.git`)",
        ),
        (
            &api,
            vec!["publish", "a//b", "small.txt"],
            "artifact name `a//b` has an empty path segment",
        ),
        (
            &api,
            vec!["publish", "big.bin", "big.bin"],
            "the artifact is 51 bytes; the limit is 50",
        ),
        (
            &api,
            vec!["publish", "x.txt", "no-such-file"],
            "cannot read",
        ),
        (
            &web,
            vec!["ack", "0000000000-nosuchid00"],
            "no message with id `0000000000-nosuchid00`",
        ),
        (&web, vec!["ack"], "nothing to acknowledge"),
        (
            &web,
            vec![
                "send",
                "--to",
                "api",
                "--reply-to",
                "0000000000-nosuchid00",
                "re",
            ],
            "no message with id `0000000000-nosuchid00`",
        ),
        (
            &web,
            vec!["send", "--to", "api", "--task", "T 1", "t"],
            "`T 1` is not a valid id",
        ),
        (
            &web,
            vec!["send", "--to", "api", "--thread", "a b", "t"],
            "`a b` is not a valid id",
        ),
        (
            &web,
            vec!["read", "0000000000-nosuchid00"],
            "no message with id `0000000000-nosuchid00`",
        ),
        (
            &web,
            vec!["thread", "nosuch-thread"],
            "no thread or message `nosuch-thread`",
        ),
        (
            &web,
            vec!["artifact", "get", "api/../x"],
            "artifact name `../x` contains `.` or `..`",
        ),
    ];
    for (dir, args, message) in &cases {
        let before = tip(&env, &root);
        let run = env.cn(dir, args);
        assert_eq!(
            run.code, 2,
            "{args:?}: expected exit 2\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout, run.stderr
        );
        assert!(
            run.stderr.contains(&format!("error: {message}")),
            "{args:?}: stderr lacks {message:?}:\n{}",
            run.stderr
        );
        if !message.starts_with("cannot read") {
            assert!(
                run.stderr.contains("hint:"),
                "{args:?}: no hint:\n{}",
                run.stderr
            );
        }
        assert_eq!(tip(&env, &root), before, "{args:?} changed comm");
        assert_eq!(run.stdout, "", "{args:?}");
    }
    // Bodies over the limit through standard input too.
    let before = tip(&env, &root);
    let run = cn_stdin(
        &env,
        &api,
        &["send", "--to", "web", "piped", "-"],
        &body_101,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("the body is 101 bytes"),
        "{}",
        run.stderr
    );
    assert_eq!(tip(&env, &root), before);

    // Exactly at the limits is fine.
    let at_limit = sent_id(env.cn(&api, &["send", "--to", "web", "fits", &body_100]));
    sent_id(env.cn(&api, &["send", "--to", "human", &subject_200]));
    assert_eq!(
        env.git(&root, &["log", "-1", "--format=%s", "comm"]),
        format!("api → human: {subject_200}")
    );
    env.cn(&api, &["publish", "fits.bin", "fits.bin"]).expect(0);
    assert_eq!(trailer(&env, &root, "comm", "Comm-Size"), "50");
    // And the good ids still work.
    sent_id(env.cn(
        &web,
        &[
            "send",
            "--to",
            "api",
            "--reply-to",
            &known,
            "--task",
            "T-1",
            "re",
        ],
    ));
    let acked = json(
        &env.cn(&web, &["ack", &known, &at_limit, "--json"])
            .expect(0),
    );
    assert_eq!(acked["acked"], serde_json::json!([known, at_limit]));
    env.git(&root, &["fsck", "--strict", "--no-dangling"]);
}

#[test]
fn publishing_to_an_unknown_recipient_is_refused() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");
    std::fs::write(api.join("small.txt"), "small\n").unwrap();
    let before = tip(&env, &root);
    let run = env.cn(
        &api,
        &["publish", "small.txt", "small.txt", "--to", "nosuch"],
    );
    assert_eq!(
        run.code, 2,
        "send refuses unknown recipients; publish should too\n--- stdout\n{}\n--- stderr\n{}\n--- comm\n{}",
        run.stdout,
        run.stderr,
        env.git(&root, &["log", "-1", "--format=%B", "comm"])
    );
    assert!(
        run.stderr.contains("unknown recipient `nosuch`"),
        "{}",
        run.stderr
    );
    assert_eq!(tip(&env, &root), before);
}

/// Publishes each of `names` in a fresh repository and lists the ways it
/// went wrong: anything but exit 2 naming the artifact, comm unchanged, and
/// `git fsck --strict` clean afterwards.
fn misjudged_artifact_names(names: &[&str]) -> Vec<String> {
    let mut wrong = Vec::new();
    for name in names {
        // A fresh repository each time, so one bad tree does not taint the next.
        let env = Env::new();
        let root = bus(&env, "");
        let api = env.worktree("api");
        std::fs::write(api.join("small.txt"), "small\n").unwrap();
        let before = tip(&env, &root);
        let run = env.cn(&api, &["publish", name, "small.txt"]);
        let fsck = env.git_run(&root, &["fsck", "--strict", "--no-dangling"]);
        let named = run
            .stderr
            .contains(&format!("error: artifact name `{}`", name.escape_debug()));
        let unchanged = tip(&env, &root) == before;
        if (run.code, fsck.code, named, unchanged) != (2, 0, true, true) {
            wrong.push(format!(
                "publish {name:?}: exit {} (want 2), comm {}, then git fsck --strict exit {} (want 0)\n  stderr: {}\n  fsck: {}",
                run.code,
                if unchanged { "unchanged" } else { "CHANGED" },
                fsck.code,
                run.stderr.trim_end(),
                fsck.stderr.trim_end()
            ));
        }
    }
    wrong
}

/// NTFS short names and a trailing dot or space: libgit2 refuses to build
/// the tree, which must be reported as the usage error it is (exit 2, with
/// the hint), not as a failure of git (exit 3).
#[test]
fn artifact_names_git_cannot_store_are_usage_errors() {
    let wrong = misjudged_artifact_names(&["git~1/config", "GIT~1/config", ".git. /config"]);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// HFS+ ignorable code points (U+200C, U+FEFF) inside `.git`: git reads
/// these as `.git`, so `git fsck --strict` (and any host that checks pushed
/// objects) rejects the comm branch once such a tree is on it.
#[test]
fn artifact_names_spelling_dot_git_with_ignorable_code_points_are_refused() {
    let wrong = misjudged_artifact_names(&[".gi\u{200c}t/config", ".git\u{feff}/config"]);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn concurrent_senders_make_one_linear_history() {
    const PROCS: usize = 8;
    const EACH: usize = 200;
    let env = Env::new();
    let root = bus(&env, "");
    let mut children = Vec::new();
    for p in 0..PROCS {
        let who = if p % 2 == 0 { "api" } else { "web" };
        let script = format!(
            "for i in $(seq 1 {EACH}); do \"$0\" --as {who} send --to all \"m $i from {p}\" || exit 1; done"
        );
        let log = File::create(env.path(&format!("stderr-{p}"))).unwrap();
        children.push(env.spawn_loop(&root, &script, Stdio::null(), Stdio::from(log)));
    }
    let statuses: Vec<_> = children.iter_mut().map(|c| c.wait().unwrap()).collect();
    for (p, status) in statuses.iter().enumerate() {
        assert!(
            status.success(),
            "sender {p} failed ({status}):\n{}",
            common::read(&env.path(&format!("stderr-{p}")))
        );
    }

    let total = PROCS * EACH;
    let kinds = trailers_on_comm(&env, &root, "Comm-Kind");
    assert_eq!(kinds.iter().filter(|k| *k == "msg").count(), total);
    let others: Vec<&String> = kinds.iter().filter(|k| *k != "msg").collect();
    assert_eq!(others, ["kickoff"]);
    let ids = trailers_on_comm(&env, &root, "Comm-Id");
    assert_eq!(ids.len(), total + 1);
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        total + 1,
        "duplicate Comm-Id"
    );
    assert_eq!(env.git(&root, &["rev-list", "--merges", "comm"]), "");
    assert_seq_contiguous(&env, &root);

    // Every send landed exactly once, from the right sender.
    let lines = env.git(
        &root,
        &[
            "log",
            "--format=%s%x09%(trailers:key=Comm-From,valueonly,separator=%x2C)",
            "comm",
        ],
    );
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines.lines() {
        let (subject, from) = line.split_once('\t').unwrap();
        if let Some(text) = subject.strip_prefix(&format!("{from} → all: ")) {
            seen.entry(text.to_owned())
                .or_default()
                .push(from.to_owned());
        }
    }
    assert_eq!(seen.len(), total);
    for (text, froms) in &seen {
        let p: usize = text.rsplit(' ').next().unwrap().parse().unwrap();
        let who = if p.is_multiple_of(2) { "api" } else { "web" };
        assert_eq!(froms, &[who], "{text}");
    }
    for p in 0..PROCS {
        for i in 1..=EACH {
            assert!(
                seen.contains_key(&format!("m {i} from {p}")),
                "m {i} from {p} is missing"
            );
        }
    }
    // Each sender's messages are on comm in the order it sent them.
    let oldest_first: Vec<String> = lines
        .lines()
        .rev()
        .filter_map(|l| {
            let (subject, _) = l.split_once('\t')?;
            subject.split_once(": m ").map(|(_, t)| t.to_owned())
        })
        .collect();
    for p in 0..PROCS {
        let order: Vec<usize> = oldest_first
            .iter()
            .filter_map(|t| {
                let (i, from) = t.split_once(" from ")?;
                (from == p.to_string()).then(|| i.parse().unwrap())
            })
            .collect();
        assert_eq!(order, (1..=EACH).collect::<Vec<_>>(), "sender {p}");
    }
    env.git(&root, &["fsck", "--strict"]);
    // The bus still works, and every domain sees the others' messages.
    let inbox = json(
        &env.cn(&root, &["inbox", "--as", "human", "--json"])
            .expect(0),
    );
    assert_eq!(inbox.as_array().unwrap().len(), total);
    sent_id(env.cn(&root, &["send", "--as", "api", "--to", "web", "after"]));
}

#[test]
fn senders_killed_mid_append_leave_a_sound_bus() {
    const PROCS: usize = 8;
    let env = Env::new();
    let root = bus(&env, "");
    let mut printed: Vec<String> = Vec::new();
    for (round, delay_ms) in [300u64, 150, 450].into_iter().enumerate() {
        let mut children = Vec::new();
        for p in 0..PROCS {
            let who = if p % 2 == 0 { "api" } else { "web" };
            let script = format!(
                "i=0; while true; do i=$((i+1)); \"$0\" --as {who} send --to all \"r{round} m $i from {p}\" || exit 1; done"
            );
            let log = File::create(env.path(&format!("stderr-{round}-{p}"))).unwrap();
            children.push(env.spawn_loop(&root, &script, Stdio::piped(), Stdio::from(log)));
        }
        // Drain the pipes while the senders run.
        let readers: Vec<_> = children
            .iter_mut()
            .map(|c| {
                let mut out = c.stdout.take().unwrap();
                std::thread::spawn(move || {
                    let mut text = String::new();
                    let _ = out.read_to_string(&mut text);
                    text
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // SIGKILL each whole process group: the shell and the send it runs.
        for c in &children {
            common::kill_group(c);
        }
        for (p, c) in children.iter_mut().enumerate() {
            let status = c.wait().unwrap();
            assert_eq!(
                status.signal(),
                Some(9),
                "sender {p} ended by itself ({status}):\n{}",
                common::read(&env.path(&format!("stderr-{round}-{p}")))
            );
        }
        for r in readers {
            let text = r.join().unwrap();
            for line in text.lines() {
                assert!(looks_like_id(line), "sender printed {line:?}");
                printed.push(line.to_owned());
            }
        }

        // What was reported sent is on comm, once, and the repository is sound.
        env.git(&root, &["fsck", "--strict"]);
        let ids = trailers_on_comm(&env, &root, "Comm-Id");
        let on_comm: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(
            on_comm.len(),
            ids.len(),
            "duplicate Comm-Id after round {round}"
        );
        for id in &printed {
            assert!(on_comm.contains(id), "{id} was printed but is not on comm");
        }
        assert_eq!(env.git(&root, &["rev-list", "--merges", "comm"]), "");
        assert_seq_contiguous(&env, &root);

        // The next send succeeds (breaking a lock a killed writer left).
        let after = sent_id(env.cn(
            &root,
            &["send", "--as", "api", "--to", "web", "after the crash"],
        ));
        assert_eq!(trailer(&env, &root, "comm", "Comm-Id"), after);
        assert!(!root.join(".git/refs/heads/comm.lock").exists());
        env.cn(&root, &["inbox", "--as", "web", "--json"]).expect(0);
        env.cn(&root, &["ack", "--all", "--as", "web"]).expect(0);
        env.git(&root, &["fsck", "--strict"]);
    }
    assert!(!printed.is_empty(), "no sender printed an id in time");
}

#[test]
fn recipients_are_checked_against_the_registered_domains() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");
    let before = tip(&env, &root);
    env.cn(&api, &["send", "--to", "docs", "hi"]).expect(2);
    assert_eq!(tip(&env, &root), before);
    write(
        &root.join("comm.yaml"),
        &format!("{SMALL}  docs:\n    role: Docs\n    scope: [\"docs/**\"]\n"),
    );
    env.cn(&root, &["init"]).expect(0);
    let id = sent_id(env.cn(&api, &["send", "--to", "docs", "hi"]));
    let inbox = json(
        &env.cn(&env.worktree("docs"), &["inbox", "--json"])
            .expect(0),
    );
    assert_eq!(ids_of(&inbox), [id]);
}

#[test]
fn bodies_git_cannot_store_are_usage_errors() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");
    let mut wrong = Vec::new();
    let inputs: [(&str, &[u8]); 2] = [
        ("a NUL byte", b"hello\0world\n"),
        ("invalid UTF-8", b"caf\xe9\n"),
    ];
    for (what, body) in inputs {
        let before = tip(&env, &root);
        let (code, _, stderr) = run_raw(&env, &api, BIN, &["send", "--to", "web", "x", "-"], body);
        if code != 2 || !stderr.contains("hint:") || tip(&env, &root) != before {
            wrong.push(format!(
                "a body with {what}: exit {code} (want 2 with a hint, comm unchanged)\n  stderr: {}",
                stderr.trim_end()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    env.git(&root, &["fsck", "--strict", "--no-dangling"]);
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

/// A writer killed while it held the ref lock leaves `comm.lock` behind; the
/// next append waits it out, breaks it once stale, and lands.
#[test]
fn a_lock_left_by_a_killed_writer_is_broken() {
    let env = Env::new();
    let root = bus(&env, "");
    let lock = root.join(".git/refs/heads/comm.lock");
    let before = tip(&env, &root);
    // What a killed writer leaves: the new value it never renamed into place.
    std::fs::write(&lock, "0000000000000000000000000000000000000000\n").unwrap();
    // git itself refuses to move the ref while the lock is there.
    let blocked = env.git_run(&root, &["update-ref", "refs/heads/comm", &before, &before]);
    assert_ne!(blocked.code, 0);
    let id = sent_id(env.cn(
        &root,
        &["send", "--as", "api", "--to", "web", "after a crash"],
    ));
    assert!(!lock.exists());
    assert_eq!(trailer(&env, &root, "comm", "Comm-Id"), id);
    assert_eq!(env.git(&root, &["rev-parse", "comm~1"]), before);
    assert_seq_contiguous(&env, &root);
    env.git(&root, &["fsck", "--strict", "--no-dangling"]);
}
