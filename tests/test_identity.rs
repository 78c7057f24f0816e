//! Who a process acts as: the domain worktree it really runs in decides,
//! whatever `-C` says, and a worktree keeps its identity when its marker
//! file is lost or edited.

mod common;

use std::path::PathBuf;

use common::{Env, Run, API_WEB};

fn app(env: &Env) -> PathBuf {
    env.api_web_app(API_WEB, &[])
}

fn refused(run: &Run, what: &str) {
    assert_eq!(run.code, 1, "{what}: {}{}", run.stdout, run.stderr);
}

#[test]
fn dash_c_cannot_lead_a_domain_worktree_out_of_its_identity() {
    let env = Env::new();
    let root = app(&env);
    let web = env.worktree("web");
    let main = root.to_str().unwrap();
    let tip = env.git(&root, &["rev-parse", "comm"]);
    let run = env.cn(
        &web,
        &["-C", main, "--as", "api", "send", "--to", "web", "hi"],
    );
    refused(&run, "send as api from web's worktree through -C");
    assert!(run.stderr.contains("`web`"), "{}", run.stderr);
    let run = env.cn(
        &web,
        &["-C", main, "--as", "human", "send", "--to", "api", "x"],
    );
    refused(&run, "send as human from web's worktree through -C");
    assert_eq!(env.git(&root, &["rev-parse", "comm"]), tip);

    // Without --as, -C into the main checkout still acts as web.
    env.cn(&web, &["-C", main, "send", "--to", "api", "from web"])
        .expect(0);
    assert_eq!(env.last_sender(&root), "web");
}

#[test]
fn only_the_human_outside_domain_worktrees_can_force_a_release() {
    let env = Env::new();
    let root = app(&env);
    let api = env.worktree("api");
    let web = env.worktree("web");
    let id = env
        .cn(&api, &["reserve", "api/**", "--json"])
        .expect(0)
        .stdout;
    let id: serde_json::Value = serde_json::from_str(&id).unwrap();
    let id = id["id"].as_str().unwrap().to_owned();
    let main = root.to_str().unwrap();
    let run = env.cn(
        &web,
        &["-C", main, "--as", "human", "release", "--force", &id],
    );
    refused(&run, "forced release as human from web's worktree");
    let held = env.cn(&root, &["reservations", "--json"]).expect(0).stdout;
    assert!(held.contains(&id), "{held}");
    env.cn(&root, &["--as", "human", "release", "--force", &id])
        .expect(0);
}

#[test]
fn a_worktree_keeps_its_identity_when_its_marker_is_deleted() {
    let env = Env::new();
    let root = app(&env);
    let web = env.worktree("web");
    let marker = root.join(".git/worktrees/web/comm-node-domain");
    std::fs::remove_file(&marker).unwrap();
    let run = env.cn(&web, &["--as", "api", "send", "--to", "web", "hi"]);
    refused(&run, "send as api in web's worktree without its marker");
    env.cn(&web, &["send", "--to", "api", "still web"])
        .expect(0);
    assert_eq!(env.last_sender(&root), "web");

    // Detached as well: the worktree's name still says web.
    env.git(&web, &["checkout", "-q", "--detach"]);
    let run = env.cn(&web, &["--as", "api", "send", "--to", "web", "hi"]);
    refused(
        &run,
        "send as api in web's detached worktree without its marker",
    );
}

#[test]
fn a_marker_rewritten_to_another_domain_is_refused() {
    let env = Env::new();
    let root = app(&env);
    let web = env.worktree("web");
    let tip = env.git(&root, &["rev-parse", "comm"]);
    std::fs::write(root.join(".git/worktrees/web/comm-node-domain"), "api\n").unwrap();
    for args in [
        &["send", "--to", "web", "hi"][..],
        &["--as", "api", "send", "--to", "web", "hi"][..],
    ] {
        let run = env.cn(&web, args);
        refused(&run, "a worktree whose clues disagree");
        assert!(run.stderr.contains("inconsistent"), "{}", run.stderr);
    }
    assert_eq!(env.git(&root, &["rev-parse", "comm"]), tip);
}

#[test]
fn a_process_in_a_domain_worktree_cannot_act_in_another_repository() {
    let env = Env::new();
    let root = app(&env);
    let web = env.worktree("web");
    let clone = env.path("clone");
    env.git(
        env.dir.path(),
        &[
            "clone",
            "-q",
            root.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    env.git(&clone, &["branch", "comm", "origin/comm"]);
    let run = env.cn(
        &web,
        &["-C", clone.to_str().unwrap(), "--as", "api", "inbox"],
    );
    refused(&run, "acting in another repository from web's worktree");
    assert!(run.stderr.contains("another repository"), "{}", run.stderr);
}

#[test]
fn outside_domain_worktrees_dash_c_and_as_still_work() {
    let env = Env::new();
    let root = app(&env);
    let api = env.worktree("api");
    // From the main checkout into api's worktree: api acts.
    env.cn(
        &root,
        &["-C", api.to_str().unwrap(), "send", "--to", "web", "x"],
    )
    .expect(0);
    assert_eq!(env.last_sender(&root), "api");
    env.cn(&root, &["--as", "web", "send", "--to", "api", "y"])
        .expect(0);
    assert_eq!(env.last_sender(&root), "web");
}

/// What a hostile peer writes: a clipboard write, a title change and a
/// screen clear.
const HOSTILE: &str = "\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}]0;owned\u{7}\u{1b}[2J";

/// The first line of a command's output (the id commands print).
fn first_line(run: Run) -> String {
    run.stdout.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn escape_sequences_from_other_domains_never_reach_the_terminal() {
    let env = Env::new();
    app(&env);
    let api = env.worktree("api");
    let web = env.worktree("web");
    let body = format!("look{HOSTILE}\nsecond line\twith a tab");
    let id = first_line(
        env.cn(&api, &["send", "--to", "web", "hello", &body])
            .expect(0),
    );
    env.cn(
        &api,
        &["reserve", "api/**", "--reason", &format!("moving{HOSTILE}")],
    )
    .expect(0);
    let task = first_line(
        env.cn(&api, &["task", "add", "--domain", "api", "risky"])
            .expect(0),
    );
    env.cn(&api, &["task", "claim", &task]).expect(0);
    env.cn(
        &api,
        &[
            "task",
            "fail",
            &task,
            "--reason",
            &format!("broke{HOSTILE}"),
        ],
    )
    .expect(0);

    let views: [&[&str]; 5] = [
        &["inbox"],
        &["read", &id],
        &["thread", &id],
        &["reservations"],
        &["task", "show", &task],
    ];
    for args in views {
        let run = env.cn(&web, args).expect(0);
        assert!(
            !run.stdout.contains(['\u{1b}', '\u{7}']),
            "{args:?} printed a raw control character:\n{:?}",
            run.stdout
        );
        assert!(
            run.stdout.contains("\\x1b]52;c;"),
            "{args:?}: {}",
            run.stdout
        );
    }
    let read = env.cn(&web, &["read", &id]).expect(0).stdout;
    assert!(read.contains("second line\twith a tab"), "{read}");

    // JSON is data: it keeps the exact text.
    let json = env.cn(&web, &["read", &id, "--json"]).expect(0).stdout;
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let text = value.to_string();
    assert!(
        text.contains(&serde_json::to_string(HOSTILE).unwrap()[1..20]),
        "{text}"
    );
}
