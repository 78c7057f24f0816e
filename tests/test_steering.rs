//! The person steering works in the main checkout: there comm-node acts as
//! `human` without `--as`, `COMM_NODE_AS` names someone else for scripts
//! and CI, and a domain worktree still cannot be made to act as anyone
//! else. comm.yaml is found from every checkout.

mod common;

use std::path::PathBuf;

use common::{with_domains, Env, API_WEB};

fn app(env: &Env) -> PathBuf {
    env.api_web_app(API_WEB, &[])
}

#[test]
fn the_main_checkout_acts_as_human_without_as() {
    let env = Env::new();
    let root = app(&env);
    let run = env
        .cn(
            &root,
            &["task", "add", "Plan the release", "--domain", "api"],
        )
        .expect(0);
    assert_eq!(env.last_sender(&root), "human", "{}", run.stdout);
    let list = env.cn(&root, &["task", "list"]).expect(0).stdout;
    assert!(list.contains("Plan the release"), "{list}");
    env.cn(&root, &["reservations"]).expect(0);
    env.cn(
        env.worktree("api").as_path(),
        &["send", "--to", "human", "hi"],
    )
    .expect(0);
    let inbox = env.cn(&root, &["inbox"]).expect(0).stdout;
    assert!(inbox.contains("1 unread for human"), "{inbox}");
    env.cn(&root, &["send", "--to", "web", "from the main checkout"])
        .expect(0);
    assert_eq!(env.last_sender(&root), "human");
}

#[test]
fn comm_node_as_names_who_acts_in_the_main_checkout() {
    let env = Env::new();
    let root = app(&env);
    env.cn_env(
        &root,
        &[("COMM_NODE_AS", "api")],
        &["send", "--to", "web", "x"],
    )
    .expect(0);
    assert_eq!(env.last_sender(&root), "api");
    // --as wins over the variable.
    env.cn_env(
        &root,
        &[("COMM_NODE_AS", "api")],
        &["--as", "web", "send", "--to", "api", "y"],
    )
    .expect(0);
    assert_eq!(env.last_sender(&root), "web");
    let run = env.cn_env(&root, &[("COMM_NODE_AS", "nobody")], &["inbox"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("`nobody`"), "{}", run.stderr);
}

#[test]
fn comm_node_as_naming_another_domain_is_refused_in_a_domain_worktree() {
    let env = Env::new();
    let root = app(&env);
    let web = env.worktree("web");
    let tip = env.git(&root, &["rev-parse", "comm"]);
    for who in ["api", "human"] {
        let run = env.cn_env(
            &web,
            &[("COMM_NODE_AS", who)],
            &["send", "--to", "api", "x"],
        );
        assert_eq!(run.code, 1, "COMM_NODE_AS={who}: {}", run.stderr);
        assert!(run.stderr.contains("COMM_NODE_AS"), "{}", run.stderr);
    }
    assert_eq!(env.git(&root, &["rev-parse", "comm"]), tip);
    env.cn_env(
        &web,
        &[("COMM_NODE_AS", "web")],
        &["send", "--to", "api", "x"],
    )
    .expect(0);
    assert_eq!(env.last_sender(&root), "web");
}

#[test]
fn a_bare_clone_must_name_who_acts() {
    let env = Env::new();
    let root = app(&env);
    let bare = env.path("bare.git");
    env.git(
        env.dir.path(),
        &["clone", "-q", "--bare", root.to_str().unwrap(), "bare.git"],
    );
    env.git(&bare, &["fetch", "-q", root.to_str().unwrap(), "comm:comm"]);
    let run = env.cn(&bare, &["send", "--to", "api", "x"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("COMM_NODE_AS"), "{}", run.stderr);
    env.cn_env(
        &bare,
        &[("COMM_NODE_AS", "human")],
        &["send", "--to", "api", "x"],
    )
    .expect(0);
}

#[test]
fn a_domain_worktree_reads_comm_yaml_from_the_main_checkout_not_its_own_copy() {
    let env = Env::new();
    let root = app(&env);
    let web = env.worktree("web");
    // The agent's own copy does not count, even broken.
    common::write(&web.join("comm.yaml"), "project: [broken\n");
    let status = env.cn(&web, &["status"]).expect(0).stdout;
    assert!(status.contains("app: 2 domains"), "{status}");
    // An uncommitted edit in the main checkout counts at once.
    common::write(&root.join("comm.yaml"), &with_domains(API_WEB, &["docs"]));
    let status = env.cn(&web, &["status"]).expect(0).stdout;
    assert!(status.contains("app: 3 domains"), "{status}");
}

#[test]
fn comm_yaml_is_read_from_main_when_the_main_checkout_has_none() {
    let env = Env::new();
    let root = app(&env);
    let web = env.worktree("web");
    std::fs::remove_file(root.join("comm.yaml")).unwrap();
    for dir in [&web, &root] {
        let status = env.cn(dir, &["status"]).expect(0).stdout;
        assert!(status.contains("app: 2 domains"), "{status}");
    }
    // The pre-commit hook finds it too.
    common::write(&web.join("web/w.ts"), "export const w = 2;\n");
    env.git(&web, &["commit", "-qam", "web change"]);
    // A mistake in the committed file is reported against `main:comm.yaml`.
    env.git(&root, &["checkout", "-q", "comm.yaml"]);
    common::write(
        &root.join("comm.yaml"),
        "project: app\ndomains: {}\nbogus: 1\n",
    );
    env.git(&root, &["commit", "-qam", "break comm.yaml", "--no-verify"]);
    std::fs::remove_file(root.join("comm.yaml")).unwrap();
    let run = env.cn(&web, &["status"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("main:comm.yaml:"), "{}", run.stderr);
}
