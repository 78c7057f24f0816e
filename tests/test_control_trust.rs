//! The hand of god against forgeries and across clones: `verify` refuses
//! steering events and halts written by anyone but the human, and claims
//! made in a halted domain; `sync` replays the human's events by intent.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::control::{add, comm_tip, inbox, json, show};
use common::{Env, API_WEB};
use serde_json::Value;

/// Writes a commit on comm by hand: `path` set to `text`, signed `from`.
fn forge(env: &Env, root: &Path, path: &str, text: &str, message: &str) -> String {
    let index = env.path("forge.index");
    let git = |args: &[&str], input: &str| {
        use std::io::Write;
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(root)
            .env("GIT_INDEX_FILE", &index);
        env.hermetic(&mut cmd);
        cmd.env("GIT_INDEX_FILE", &index);
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    git(&["read-tree", "comm"], "");
    let blob = git(&["hash-object", "-w", "--stdin"], text);
    git(
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("100644,{blob},{path}"),
        ],
        "",
    );
    let tree = git(&["write-tree"], "");
    let commit = git(&["commit-tree", &tree, "-p", "comm", "-F", "-"], message);
    env.git(root, &["update-ref", "refs/heads/comm", &commit]);
    commit
}

#[test]
fn verify_refuses_a_halt_forged_by_a_domain() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    env.cn(&root, &["verify"]).expect(0);
    let seq = env.seq_of(&root, "comm") + 1;
    let halt = "domain: web\nreason: mine now\nby: api\nat: 1\nevent: forged-1\n";
    let message = format!(
        "halt web by api: mine now\n\nComm-Kind: halt\nComm-From: api\nComm-To: web\nComm-Id: forged-1\nComm-Seq: {seq}\nComm-Domains: web\n"
    );
    let bad = forge(&env, &root, "halts/web.yaml", halt, &message);
    let run = env.cn(&root, &["--json", "verify"]).expect(1);
    let found = json(&run.stdout);
    assert_eq!(found["bad"]["commit"], bad.as_str(), "{found}");
    let rule = found["bad"]["rule"].as_str().unwrap();
    assert!(
        rule.contains("only the human may write a halt, not `api`"),
        "{rule}"
    );
}

#[test]
fn verify_refuses_a_claim_forged_in_a_halted_domain() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let id = add(&env, &root, "the job", &["--domain", "api"]);
    env.cn(&root, &["halt", "api", "--reason", "stop"])
        .expect(0);
    env.cn(&root, &["verify"]).expect(0);
    let path = common::task_path(&id);
    let yaml = env.git(&root, &["show", &format!("comm:{path}")]);
    let claimed = yaml.replace("status: open", "status: claimed") + "\nassignee: api\n";
    let seq = env.seq_of(&root, "comm") + 1;
    let message = format!(
        "task {id} claimed by api\n\nComm-Kind: task\nComm-From: api\nComm-Id: forged-2\nComm-Seq: {seq}\nComm-Task: {id}\nComm-Action: claim\n"
    );
    forge(&env, &root, &path, &claimed, &message);
    let run = env.cn(&root, &["--json", "verify"]).expect(1);
    let rule = json(&run.stdout)["bad"]["rule"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(rule.contains("while it is halted"), "{rule}");
}

/// Two clones of one remote (a plain path), each synced once.
fn two_clones(env: &Env) -> (PathBuf, PathBuf) {
    let seed = env.repo(
        "seed",
        &[("comm.yaml", API_WEB), ("api/a.ts", "export {};\n")],
    );
    env.cn(&seed, &["init"]).expect(0);
    let remote = env.bare_remote(&seed, env.dir.path());
    let remote = remote.to_str().unwrap();
    (
        env.synced_clone(remote, "a", "clone a", "a"),
        env.synced_clone(remote, "b", "clone b", "b"),
    )
}

#[test]
fn a_claim_made_apart_from_a_halt_is_rejected_when_the_clones_sync() {
    let env = Env::new();
    let (a, b) = two_clones(&env);
    let id = add(&env, &a, "the job", &["--as", "human", "--domain", "api"]);
    env.cn(&a, &["sync"]).expect(0);
    env.cn(&b, &["sync"]).expect(0);
    // Apart: the human halts api on a; api claims on b, which cannot know.
    env.cn(&a, &["--as", "human", "halt", "api", "--reason", "audit"])
        .expect(0);
    env.cn(&b, &["--as", "api", "task", "claim", &id]).expect(0);
    env.cn(&a, &["sync"]).expect(0);
    let report = json(&env.cn(&b, &["--json", "sync"]).expect(0).stdout);
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{report}");
    let reason = rejected[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("domain `api` is halted by human") && reason.contains("audit"),
        "{reason}"
    );
    let task = show(&env, &b, &id);
    assert_eq!(
        (task["status"].as_str(), task["assignee"].as_str()),
        (Some("open"), None)
    );
    let notices = inbox(&env, &b, "api");
    assert!(
        notices
            .iter()
            .any(|s| s.starts_with("sync: rejected for api")),
        "{notices:?}"
    );
    env.cn(&a, &["sync"]).expect(0);
    assert_eq!(comm_tip(&env, &a), comm_tip(&env, &b));
    env.cn(&a, &["verify"]).expect(0);
    env.cn(&b, &["verify"]).expect(0);
}

#[test]
fn a_resume_made_apart_never_lifts_a_halt_the_other_clone_made_meanwhile() {
    let env = Env::new();
    let (a, b) = two_clones(&env);
    env.cn(&a, &["--as", "human", "halt", "api", "--reason", "first"])
        .expect(0);
    env.cn(&a, &["sync"]).expect(0);
    env.cn(&b, &["sync"]).expect(0);
    // Apart: b lifts the old halt; a halts api again, for a new reason.
    env.cn(&b, &["--as", "human", "resume", "api"]).expect(0);
    env.cn(&a, &["--as", "human", "halt", "api", "--reason", "second"])
        .expect(0);
    env.cn(&a, &["sync"]).expect(0);
    let report = json(&env.cn(&b, &["--json", "sync"]).expect(0).stdout);
    let reason = report["rejected"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("api stay halted"), "{report}");
    let file = env.git(&b, &["show", "comm:halts/api.yaml"]);
    assert!(file.contains("reason: second"), "{file}");
    env.cn(&b, &["verify"]).expect(0);
}

#[test]
fn the_humans_task_changes_replay_by_intent_at_sync() {
    let env = Env::new();
    let (a, b) = two_clones(&env);
    let [edited, moved, dropped] = ["orders", "client", "legacy"]
        .map(|title| add(&env, &a, title, &["--as", "human", "--domain", "api"]));
    env.cn(&a, &["sync"]).expect(0);
    env.cn(&b, &["sync"]).expect(0);
    // Apart: the human steers on b while api works on a.
    let human = ["--as", "human"];
    for args in [
        &["task", "edit", &edited, "--priority", "0"][..],
        &["task", "reassign", &moved, "--to", "web"],
        &["task", "cancel", &dropped, "--reason", "not needed"],
    ] {
        env.cn(&b, &[&human[..], args].concat()).expect(0);
    }
    env.cn(&a, &["--as", "api", "task", "claim", &moved])
        .expect(0);
    env.cn(&a, &["--as", "api", "task", "claim", &dropped])
        .expect(0);
    env.cn(&a, &["--as", "api", "task", "done", &dropped])
        .expect(0);
    env.cn(&a, &["sync"]).expect(0);

    let report = json(&env.cn(&b, &["--json", "sync"]).expect(0).stdout);
    assert_eq!(report["replayed"], 2, "{report}");
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{report}");
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("already done"),
        "{report}"
    );
    assert_eq!(show(&env, &b, &edited)["priority"], 0);
    let task = show(&env, &b, &moved);
    assert_eq!(
        (task["domain"].as_str(), task["status"].as_str()),
        (Some("web"), Some("open"))
    );
    assert_eq!(
        task["assignee"],
        Value::Null,
        "the claim made apart is dropped too"
    );
    assert_eq!(show(&env, &b, &dropped)["status"], "done");
    env.cn(&a, &["sync"]).expect(0);
    assert_eq!(comm_tip(&env, &a), comm_tip(&env, &b));
    env.cn(&a, &["verify"]).expect(0);
    env.cn(&b, &["verify"]).expect(0);
}

#[test]
fn an_inject_made_apart_tells_the_tasks_that_wait_on_it_now() {
    let env = Env::new();
    let (a, b) = two_clones(&env);
    // Apart: a task waiting on api's contract is added on a; the human
    // injects the contract on b, which cannot know the task.
    let waiting = add(
        &env,
        &a,
        "client",
        &[
            "--as",
            "human",
            "--domain",
            "web",
            "--needs-artifact",
            "api/openapi.yaml",
        ],
    );
    let file = env.path("openapi.yaml");
    common::write(&file, "openapi: 3.1.0\n");
    env.cn(
        &b,
        &[
            "--as",
            "human",
            "inject",
            "api",
            "openapi.yaml",
            file.to_str().unwrap(),
        ],
    )
    .expect(0);
    env.cn(&a, &["sync"]).expect(0);
    let report = json(&env.cn(&b, &["--json", "sync"]).expect(0).stdout);
    assert_eq!(report["replayed"], 1, "{report}");
    let trailers = env.git(&b, &["log", "-1", "--format=%(trailers)", "comm"]);
    assert!(trailers.contains("Comm-To: api, web"), "{trailers}");
    assert!(
        trailers.contains(&format!("Comm-Waiting: {waiting}")),
        "{trailers}"
    );
    assert_eq!(show(&env, &b, &waiting)["ready"], true);
    assert!(inbox(&env, &b, "web")
        .iter()
        .any(|s| s.starts_with("human injected api/openapi.yaml")));
    env.cn(&b, &["verify"]).expect(0);
}
