//! Kickoff and health on real repositories: `hello`, `status` per domain,
//! stalls and lapsed leases (with the clock moved by `COMM_NODE_NOW`), and
//! no heartbeat commits.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Env, Run, API_WEB_HEALTH};
use serde_json::Value;

fn bus(env: &Env) -> PathBuf {
    env.api_web_app(API_WEB_HEALTH, &[])
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn domain<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap()
}

fn add_task(env: &Env, root: &Path, title: &str, domain: &str) -> String {
    let run = env.cn(
        root,
        &[
            "--as", "human", "--json", "task", "add", title, "--domain", domain,
        ],
    );
    json(&run.expect(0))["id"].as_str().unwrap().to_owned()
}

#[test]
fn status_shows_each_domains_agent_task_unread_and_activity() {
    let env = Env::new();
    let root = bus(&env);
    let web = env.worktree("web");
    let id = add_task(&env, &root, "login page", "web");
    let hello = env
        .cn(
            &web,
            &[
                "hello",
                "--agent",
                "claude-code",
                "--note",
                "on the login page",
            ],
        )
        .expect(0);
    assert_eq!(
        hello.stdout.trim(),
        "hello from web (claude-code): on the login page"
    );
    env.cn(&web, &["task", "claim", &id]).expect(0);
    env.cn(
        &env.worktree("api"),
        &["send", "--to", "web", "contract is ready"],
    )
    .expect(0);

    let status = json(&env.cn(&root, &["status", "--json"]).expect(0));
    let w = domain(&status, "web");
    assert_eq!(w["registered"], true);
    assert_eq!(w["agent"]["agent"], "claude-code");
    assert_eq!(w["claimed"], serde_json::json!([id]));
    // The task-added notice and the message.
    assert_eq!(w["unread"], 2);
    assert_eq!(w["last_activity"]["source"], "comm");
    assert_eq!(w["stalled"], false);
    assert_eq!(status["tasks"]["claimed"], 1);
    assert_eq!(status["health"]["stall_after"], 600);
    assert_eq!(w["reservations"], serde_json::json!([]));
    assert_eq!(w["queued"], Value::Null);
    let a = domain(&status, "api");
    assert_eq!(a["agent"], Value::Null);
    assert_eq!(a["claimed"], serde_json::json!([]));

    let text = env.cn(&root, &["status"]).expect(0).stdout;
    assert!(text.contains("claude-code"), "{text}");
    assert!(text.contains("1 claimed"), "{text}");
    // The counts agree with each domain's own inbox, before and after an ack.
    let inbox_len = |dir: &Path| {
        json(&env.cn(dir, &["inbox", "--json"]).expect(0))
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(inbox_len(&web), 2);
    let api = env.worktree("api");
    let api_unread = domain(&status, "api")["unread"].as_u64().unwrap() as usize;
    assert_eq!(api_unread, inbox_len(&api));
    env.cn(&web, &["ack", "--all"]).expect(0);
    let after = json(&env.cn(&root, &["status", "--json"]).expect(0));
    assert_eq!(domain(&after, "web")["unread"], 0);
    // Only an agent in a domain says hello.
    env.cn(&root, &["--as", "human", "hello"]).expect(2);
}

#[test]
fn a_quiet_domain_stalls_then_its_claim_lapses_back_to_ready() {
    let env = Env::new();
    let root = bus(&env);
    let web = env.worktree("web");
    let id = add_task(&env, &root, "login page", "web");
    env.cn(&web, &["task", "claim", &id]).expect(0);
    let tip = |env: &Env| env.git(&root, &["rev-parse", "comm"]);
    let before = tip(&env);

    // 5 minutes later: fine. 20 minutes: stalled. Reading status writes nothing.
    let at5 = json(
        &env.cn_at(&root, now() + 300, &["status", "--json"])
            .expect(0),
    );
    assert_eq!(domain(&at5, "web")["stalled"], false);
    let at20 = json(
        &env.cn_at(&root, now() + 1200, &["status", "--json"])
            .expect(0),
    );
    assert_eq!(domain(&at20, "web")["stalled"], true);
    assert!(env
        .cn_at(&root, now() + 1200, &["status"])
        .expect(0)
        .stdout
        .contains("STALLED"));
    assert_eq!(
        tip(&env),
        before,
        "liveness must not write heartbeat commits"
    );

    // Two hours: the lease ran out; one event returns the task to ready.
    let lapsed = env.cn_at(&root, now() + 7200, &["status"]).expect(0);
    assert!(
        lapsed
            .stdout
            .contains(&format!("lease lapsed: {id} back to ready (web)")),
        "{}",
        lapsed.stdout
    );
    assert_eq!(
        env.git(&root, &["rev-list", "--count", &format!("{before}..comm")]),
        "1"
    );
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
        "web"
    );
    let from = [
        "log",
        "-1",
        "--format=%(trailers:key=Comm-From,valueonly)",
        "comm",
    ];
    assert_eq!(env.git(&root, &from), "comm-node");
    let task = json(&env.cn(&root, &["task", "show", &id, "--json"]).expect(0));
    assert_eq!(task["status"], "open");
    assert_eq!(task["assignee"], Value::Null);
    assert!(
        task["reason"].as_str().unwrap().contains("web quiet"),
        "{task}"
    );
    // The domain hears about it, and can take the task again.
    let inbox = env.cn(&web, &["inbox"]).expect(0).stdout;
    assert!(inbox.contains("lease lapsed"), "{inbox}");
    env.cn(&web, &["task", "claim", &id]).expect(0);
    // A second look records nothing more.
    let again = tip(&env);
    env.cn_at(&root, now() + 600, &["status"]).expect(0);
    assert_eq!(tip(&env), again);
}

#[test]
fn commits_on_the_domain_branch_count_as_activity() {
    let env = Env::new();
    let root = bus(&env);
    let web = env.worktree("web");
    let id = add_task(&env, &root, "login page", "web");
    env.cn(&web, &["task", "claim", &id]).expect(0);
    // A commit 50 minutes after the claim keeps web alive at 55 minutes.
    common::write(&web.join("web/page.ts"), "export const page = 1;\n");
    env.git(&web, &["add", "-A"]);
    let stamp = format!("@{} +0000", now() + 3000);
    let mut cmd = Command::new("git");
    cmd.args(["commit", "-qm", "page"]).current_dir(&web);
    env.hermetic(&mut cmd);
    cmd.env("GIT_COMMITTER_DATE", &stamp)
        .env("GIT_AUTHOR_DATE", &stamp);
    assert!(cmd.status().unwrap().success());
    let status = json(
        &env.cn_at(&root, now() + 3300, &["status", "--json"])
            .expect(0),
    );
    let w = domain(&status, "web");
    assert_eq!(w["stalled"], false);
    assert_eq!(w["last_activity"]["source"], "branch");
    assert_eq!(w["claimed"], serde_json::json!([id]));
}

#[test]
fn a_lapsed_domain_loses_its_reservations_with_its_claims() {
    let env = Env::new();
    let root = bus(&env);
    let web = env.worktree("web");
    let id = add_task(&env, &root, "login page", "web");
    env.cn(&web, &["task", "claim", &id]).expect(0);
    env.cn(&web, &["reserve", "web/**", "--ttl", "1d"])
        .expect(0);
    // api cannot take web's files while the reservation holds...
    let live = json(&env.cn(&root, &["reservations", "--json"]).expect(0));
    assert_eq!(live.as_array().unwrap().len(), 1);
    let status = json(&env.cn(&root, &["status", "--json"]).expect(0));
    let held = domain(&status, "web")["reservations"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        held.starts_with("R-") && held.ends_with(" web/**"),
        "{held}"
    );
    // ...and after web's lease lapses, nothing holds them.
    env.cn_at(&root, now() + 7200, &["status"]).expect(0);
    let live = json(
        &env.cn_at(&root, now() + 7200, &["reservations", "--json"])
            .expect(0),
    );
    assert_eq!(live.as_array().unwrap().len(), 0, "{live}");
}
