//! What `comm-node sync` promises when it replays local events on top of
//! another clone's: every replayed event re-applies its intent on the state
//! it lands on (a dependency added offline never reverts a claim made
//! elsewhere, a lapse never reopens finished work), task ids do not collide
//! across clones, an event that built on a rejected one is rejected with
//! it, and every rejection reaches its author's inbox. Real binary, real
//! clones of a bare remote.

mod common;

use std::path::{Path, PathBuf};

use common::{with_domains, Env, API_WEB_HEALTH};
use serde_json::Value;

/// api, web and ops, with health timings.
fn config() -> String {
    with_domains(API_WEB_HEALTH, &["ops"])
}

/// The author of the events sync writes on no one's behalf.
const SYSTEM: &str = "comm-node";

/// A seeded repository pushed to a bare `remote.git`, and one clone per
/// name, each synced once.
fn clones(env: &Env, names: &[&str]) -> Vec<PathBuf> {
    let seed = env.repo(
        "seed",
        &[
            ("comm.yaml", &config()),
            ("api/a.ts", "export {};\n"),
            ("web/w.ts", "export {};\n"),
        ],
    );
    env.cn(&seed, &["init"]).expect(0);
    let remote = env.bare_remote(&seed, env.dir.path());
    let remote = remote.to_str().unwrap();
    names
        .iter()
        .map(|name| env.synced_clone(remote, name, &format!("clone {name}"), name))
        .collect()
}

/// Clones `a` and `b`; the human adds `tasks` (title, domain) on a and
/// both clones sync. The clones and the tasks' ids, in order.
fn tasks_on_both<const N: usize>(
    env: &Env,
    tasks: [(&str, Option<&str>); N],
) -> (Vec<PathBuf>, [String; N]) {
    let dirs = clones(env, &["a", "b"]);
    let ids = tasks.map(|(title, domain)| add(env, &dirs[0], "human", title, domain));
    sync(env, &dirs[0]);
    sync(env, &dirs[1]);
    (dirs, ids)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn json(env: &Env, dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = env.cn(dir, &all).expect(0);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// `comm-node sync --json`.
fn sync(env: &Env, dir: &Path) -> Value {
    json(env, dir, &["sync"])
}

/// Adds a task as `by` (for `domain`, if any) and returns its id.
fn add(env: &Env, dir: &Path, by: &str, title: &str, domain: Option<&str>) -> String {
    let mut args = vec!["--as", by, "task", "add", title];
    if let Some(d) = domain {
        args.extend(["--domain", d]);
    }
    json(env, dir, &args)["id"].as_str().unwrap().to_owned()
}

fn task(env: &Env, dir: &Path, id: &str) -> Value {
    json(env, dir, &["task", "show", id])
}

fn run(env: &Env, dir: &Path, args: &[&str]) {
    env.cn(dir, args).expect(0);
}

/// The unread items of `who` that sync wrote about rejected events.
fn rejection_notices(env: &Env, dir: &Path, who: &str) -> Vec<Value> {
    let inbox = json(env, dir, &["--as", who, "inbox"]);
    inbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["from"] == SYSTEM && m["kind"] == "sync-rejected")
        .cloned()
        .collect()
}

fn rejected(report: &Value) -> Vec<Value> {
    report["rejected"].as_array().unwrap().clone()
}

/// `comm-node verify` passes and `git fsck` finds nothing.
fn clean(env: &Env, dir: &Path) {
    let verified = json(env, dir, &["verify"]);
    assert!(verified["bad"].is_null(), "{verified}");
    env.git(dir, &["fsck", "--strict", "--no-progress"]);
}

fn same_tip(env: &Env, dirs: &[&PathBuf]) {
    let tips: Vec<String> = dirs
        .iter()
        .map(|d| env.git(d, &["rev-parse", "comm"]))
        .collect();
    assert!(tips.windows(2).all(|w| w[0] == w[1]), "{tips:?}");
}

#[test]
fn replayed_dep_keeps_the_remote_claim() {
    let env = Env::new();
    let (dirs, [t, d]) = tasks_on_both(
        &env,
        [("login page", Some("web")), ("auth API", Some("api"))],
    );
    let (a, b) = (&dirs[0], &dirs[1]);
    // web claims T on b and pushes; a, offline, makes T wait for D.
    run(&env, b, &["--as", "web", "task", "claim", &t]);
    sync(&env, b);
    run(&env, a, &["--as", "human", "task", "dep", &t, "--on", &d]);
    let report = sync(&env, a);
    assert_eq!(rejected(&report), Vec::<Value>::new(), "{report}");
    assert_eq!(report["replayed"], 1, "{report}");
    let shown = task(&env, a, &t);
    assert_eq!(shown["status"], "claimed", "{shown}");
    assert_eq!(shown["assignee"], "web", "{shown}");
    assert_eq!(shown["deps"], serde_json::json!([d]), "{shown}");
    sync(&env, b);
    same_tip(&env, &[a, b]);
    clean(&env, a);
}

#[test]
fn replayed_lapse_never_reopens_finished_work() {
    let env = Env::new();
    let (dirs, [t, kept]) = tasks_on_both(
        &env,
        [("login page", Some("web")), ("signup page", Some("web"))],
    );
    let (a, b) = (&dirs[0], &dirs[1]);
    run(&env, b, &["--as", "web", "task", "claim", &t]);
    run(&env, b, &["--as", "web", "task", "claim", &kept]);
    sync(&env, b);
    sync(&env, a);
    // Two hours later on a, web looks quiet: both its leases lapse there...
    let status = env.cn_at(a, now() + 7200, &["status"]).expect(0);
    assert!(status.stdout.contains("lease lapsed"), "{}", status.stdout);
    assert_eq!(task(&env, a, &t)["status"], "open");
    // ...while web finished T on b and pushed first.
    run(&env, b, &["--as", "web", "task", "done", &t]);
    sync(&env, b);
    let report = sync(&env, a);
    assert_eq!(rejected(&report), Vec::<Value>::new(), "{report}");
    let shown = task(&env, a, &t);
    assert_eq!(shown["status"], "done", "{shown}");
    assert_eq!(shown["assignee"], "web", "{shown}");
    // web was busy on b, which a could not see: its other claim stays too.
    assert_eq!(task(&env, a, &kept)["status"], "claimed");
    sync(&env, b);
    same_tip(&env, &[a, b]);
    assert_eq!(task(&env, b, &t)["status"], "done");
    clean(&env, b);
}

#[test]
fn task_ids_are_long_enough_never_to_collide_and_old_short_ids_still_work() {
    let env = Env::new();
    let dirs = clones(&env, &["a"]);
    let a = &dirs[0];
    let id = add(&env, a, "human", "login page", None);
    let random = id.strip_prefix("T-").expect("task ids start with T-");
    // At least 50 random bits even on an empty board.
    assert!(random.len() >= 10, "{id} is too short to be unique");
    // Ids of older versions (4 hex digits) still import, show and claim.
    let file = env.path("old.jsonl");
    common::write(
        &file,
        "{\"id\":\"T-3f9a\",\"title\":\"old style\",\"status\":\"open\"}\n",
    );
    let file = file.to_str().unwrap();
    run(
        &env,
        a,
        &["--as", "human", "task", "import", "--beads", file],
    );
    run(&env, a, &["--as", "web", "task", "claim", "T-3f9a"]);
    assert_eq!(task(&env, a, "T-3f9a")["assignee"], "web");
}

#[test]
fn dependent_events_are_rejected_with_their_cause() {
    let env = Env::new();
    let dirs = clones(&env, &["a", "b"]);
    let (a, b) = (&dirs[0], &dirs[1]);
    // On b, web adds a task, claims it and finishes it, offline.
    let id = add(&env, b, "web", "web's own chore", Some("web"));
    run(&env, b, &["--as", "web", "task", "claim", &id]);
    run(&env, b, &["--as", "web", "task", "done", &id]);
    // Meanwhile an unrelated task with the same id reaches the remote
    // (ids are random: an import is the one way to force the collision).
    let file = env.path("collide.jsonl");
    common::write(
        &file,
        &format!("{{\"id\":\"{id}\",\"title\":\"human's task\",\"status\":\"open\"}}\n"),
    );
    let file = file.to_str().unwrap();
    run(
        &env,
        a,
        &["--as", "human", "task", "import", "--beads", file],
    );
    sync(&env, a);
    let report = sync(&env, b);
    let rejected = rejected(&report);
    assert_eq!(rejected.len(), 3, "add, claim and done: {report}");
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("task id {id} was taken by another clone")),
        "{report}"
    );
    for dependent in &rejected[1..] {
        let reason = dependent["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!(
                "it builds on {}",
                rejected[0]["id"].as_str().unwrap()
            )),
            "{report}"
        );
        assert!(reason.contains("was taken by another clone"), "{report}");
    }
    // The human's task is untouched by web's claim and done.
    let shown = task(&env, b, &id);
    assert_eq!(shown["title"], "human's task");
    assert_eq!(shown["status"], "open", "{shown}");
    // web hears about all three.
    let notices = rejection_notices(&env, b, "web");
    assert_eq!(notices.len(), 1, "{notices:?}");
    for r in &rejected {
        let event = r["id"].as_str().unwrap();
        assert!(notices[0]["body"].as_str().unwrap().contains(event));
    }
    clean(&env, b);
}

#[test]
fn sync_rejection_reaches_the_authors_inbox() {
    let env = Env::new();
    let (dirs, [id]) = tasks_on_both(&env, [("the one task", None)]);
    let (a, b) = (&dirs[0], &dirs[1]);
    // Both clones claim it while apart; api's claim on a reaches the remote first.
    run(&env, a, &["--as", "api", "task", "claim", &id]);
    run(&env, b, &["--as", "web", "task", "claim", &id]);
    sync(&env, a);
    let report = sync(&env, b);
    assert_eq!(rejected(&report).len(), 1, "{report}");
    let claim = rejected(&report)[0]["id"].as_str().unwrap().to_owned();
    // web's inbox says what was rejected and why, on both clones.
    sync(&env, a);
    for dir in [a, b] {
        let notices = rejection_notices(&env, dir, "web");
        assert_eq!(notices.len(), 1, "{notices:?}");
        let body = notices[0]["body"].as_str().unwrap();
        assert!(body.contains(&claim), "{body}");
        assert!(
            body.contains(&format!("task {id} is already claimed by api")),
            "{body}"
        );
        assert_eq!(notices[0]["to"], serde_json::json!(["web"]));
        // Nobody else is bothered with it.
        assert!(rejection_notices(&env, dir, "api").is_empty());
    }
    same_tip(&env, &[a, b]);
    clean(&env, a);
}

#[test]
fn replays_on_three_clones_keep_every_intent_and_report_every_rejection() {
    let env = Env::new();
    let dirs = clones(&env, &["h", "w", "p"]);
    let (h, w, p) = (&dirs[0], &dirs[1], &dirs[2]);
    // The human plans on h; web works on w, api on p.
    let login = add(&env, h, "human", "login page", Some("web"));
    let signup = add(&env, h, "human", "signup page", Some("web"));
    let auth = add(&env, h, "human", "auth API", Some("api"));
    let tokens = add(&env, h, "human", "token API", Some("api"));
    let schema = add(&env, h, "human", "schema", Some("api"));
    let shared = add(&env, h, "human", "shared chore", None);
    let deploy = add(&env, h, "human", "deploy script", Some("ops"));
    sync(&env, h);
    for d in [w, p] {
        sync(&env, d);
    }
    // ops claims on p, then goes quiet for good.
    run(&env, p, &["--as", "ops", "task", "claim", &deploy]);
    run(&env, w, &["--as", "web", "task", "claim", &login]);
    run(&env, w, &["--as", "web", "task", "claim", &signup]);
    run(&env, p, &["--as", "api", "task", "claim", &auth]);
    run(&env, p, &["--as", "api", "task", "claim", &tokens]);
    sync(&env, w);
    sync(&env, p);
    sync(&env, h);

    // Offline on h: dependencies, lapses two hours on (web, api and ops all
    // look quiet from there), an import that
    // rewrites a claimed task and brings a new one.
    run(
        &env,
        h,
        &["--as", "human", "task", "dep", &login, "--on", &schema],
    );
    let lapsed = env.cn_at(h, now() + 7200, &["status"]).expect(0);
    assert!(lapsed.stdout.contains("lease lapsed"), "{}", lapsed.stdout);
    let file = env.path("plan.jsonl");
    common::write(
        &file,
        &format!(
            "{{\"id\":\"{signup}\",\"title\":\"signup page, reworded\",\"status\":\"open\"}}\n\
             {{\"id\":\"T-imported1\",\"title\":\"imported work\",\"status\":\"open\"}}\n"
        ),
    );
    let file = file.to_str().unwrap();
    run(
        &env,
        h,
        &["--as", "human", "task", "import", "--beads", file],
    );
    run(
        &env,
        h,
        &["--as", "human", "task", "dep", &tokens, "--on", &schema],
    );

    // Meanwhile web and api finish work and race for the shared chore.
    run(&env, w, &["--as", "web", "task", "done", &login]);
    run(&env, w, &["--as", "web", "task", "done", &signup]);
    run(&env, p, &["--as", "api", "task", "done", &auth]);
    run(&env, p, &["--as", "api", "task", "claim", &shared]);
    run(&env, w, &["--as", "web", "task", "claim", &shared]);

    let mut reports = Vec::new();
    for d in [p, w, h, p, w, h] {
        reports.push(sync(&env, d));
    }
    same_tip(&env, &[h, w, p]);

    // No claim reverted, no finished task reopened.
    for (id, status, assignee) in [
        (&login, "done", "web"),
        (&signup, "done", "web"),
        (&auth, "done", "api"),
        (&shared, "claimed", "api"),
    ] {
        let shown = task(&env, h, id);
        assert_eq!(shown["status"], status, "{id}: {shown}");
        assert_eq!(shown["assignee"], assignee, "{id}: {shown}");
    }
    // The offline intents that still held are there.
    assert_eq!(task(&env, h, &login)["deps"], serde_json::json!([schema]));
    let tokens_now = task(&env, h, &tokens);
    assert_eq!(
        tokens_now["status"], "claimed",
        "api was busy on p: {tokens_now}"
    );
    assert_eq!(tokens_now["deps"], serde_json::json!([schema]));
    let deploy_now = task(&env, h, &deploy);
    assert_eq!(
        deploy_now["status"], "open",
        "ops's quiet claim lapsed: {deploy_now}"
    );
    assert_eq!(task(&env, h, "T-imported1")["title"], "imported work");
    assert_eq!(task(&env, h, &signup)["title"], "signup page");

    // Every rejection is in its author's inbox.
    let all: Vec<Value> = reports.iter().flat_map(rejected).collect();
    assert!(!all.is_empty(), "web's lost race is rejected");
    for r in &all {
        let author = r["author"].as_str().unwrap();
        let notices = rejection_notices(&env, h, author);
        let event = r["id"].as_str().unwrap();
        assert!(
            notices
                .iter()
                .any(|n| n["body"].as_str().unwrap().contains(event)),
            "{author} was not told about {r}"
        );
    }
    let narrowed: Vec<Value> = reports
        .iter()
        .flat_map(|r| r["narrowed"].as_array().unwrap().clone())
        .collect();
    assert_eq!(
        narrowed.len(),
        1,
        "the import left out {signup}: {narrowed:?}"
    );
    assert!(narrowed[0]["reason"].as_str().unwrap().contains(&signup));
    let human = rejection_notices(&env, h, "human");
    assert!(
        human
            .iter()
            .any(|n| n["body"].as_str().unwrap().contains(&signup)),
        "{human:?}"
    );
    for d in [h, w, p] {
        clean(&env, d);
    }
}

#[test]
fn a_replayed_hello_keeps_the_newer_presence() {
    let env = Env::new();
    let dirs = clones(&env, &["a", "b"]);
    let (a, b) = (&dirs[0], &dirs[1]);
    let hello = |dir: &Path, at: i64, agent: &str| {
        env.cn_at(dir, at, &["--as", "web", "hello", "--agent", agent])
            .expect(0);
    };
    // web said hello on a an hour ago (offline), and again on b just now.
    hello(a, now() - 3600, "old-session");
    hello(b, now(), "new-session");
    sync(&env, b);
    let report = sync(&env, a);
    assert_eq!(report["replayed"], 1, "the hello still counts as activity");
    let presence = env.git(a, &["show", "comm:agents/web.yaml"]);
    assert!(presence.contains("new-session"), "{presence}");
    clean(&env, a);
}

#[test]
fn work_finished_after_a_rejected_reservation_still_lands() {
    let env = Env::new();
    let (dirs, [t]) = tasks_on_both(&env, [("login page", Some("web"))]);
    let (a, b) = (&dirs[0], &dirs[1]);
    // On b, web claims T, reserves its files for it and finishes it...
    run(&env, b, &["--as", "web", "task", "claim", &t]);
    run(&env, b, &["--as", "web", "reserve", "web/**", "--task", &t]);
    run(&env, b, &["--as", "web", "task", "done", &t]);
    // ...while the human holds those files on a and pushes first.
    run(&env, a, &["--as", "human", "reserve", "web/**"]);
    sync(&env, a);
    let report = sync(&env, b);
    // Only the reservation is rejected: finishing the task released it,
    // which builds on nothing.
    let rejected = rejected(&report);
    assert_eq!(rejected.len(), 1, "{report}");
    assert!(rejected[0]["subject"]
        .as_str()
        .unwrap()
        .contains("reserved"));
    assert_eq!(task(&env, b, &t)["status"], "done");
    assert_eq!(rejection_notices(&env, b, "web").len(), 1);
    clean(&env, b);
}

#[test]
fn clones_racing_for_tasks_converge_and_every_loser_is_told() {
    let env = Env::new();
    let dirs = clones(&env, &["h", "w", "p"]);
    let (h, w, p) = (&dirs[0], &dirs[1], &dirs[2]);
    let rounds = 8;
    let (added, reports): (Vec<String>, Vec<Value>) = std::thread::scope(|s| {
        let env = &env;
        let planner = s.spawn(move || {
            let mut ids = Vec::new();
            let mut reports = Vec::new();
            for i in 0..rounds * 2 {
                ids.push(add(env, h, "human", &format!("chore {i}"), None));
                if i % 2 == 1 {
                    reports.push(sync(env, h));
                }
            }
            (ids, reports)
        });
        let workers: Vec<_> = [(w, "web"), (p, "api")]
            .into_iter()
            .map(|(dir, me)| {
                s.spawn(move || {
                    let mut reports = Vec::new();
                    for _ in 0..rounds {
                        let next = env.cn(dir, &["--as", me, "--json", "task", "next"]);
                        if next.code == 0 {
                            let id = serde_json::from_str::<Value>(&next.stdout).unwrap()["id"]
                                .as_str()
                                .unwrap()
                                .to_owned();
                            run(env, dir, &["--as", me, "task", "done", &id]);
                        }
                        reports.push(sync(env, dir));
                    }
                    reports
                })
            })
            .collect();
        let (ids, mut reports) = planner.join().unwrap();
        for worker in workers {
            reports.extend(worker.join().unwrap());
        }
        (ids, reports)
    });
    let mut reports = reports;
    for _ in 0..3 {
        for d in [h, w, p] {
            reports.push(sync(&env, d));
        }
    }
    same_tip(&env, &[h, w, p]);
    // No id was ever taken twice.
    let rejections: Vec<Value> = reports.iter().flat_map(rejected).collect();
    for r in &rejections {
        let reason = r["reason"].as_str().unwrap();
        assert!(!reason.contains("was taken"), "{r}");
    }
    // Every finished task was finished once, by the domain that holds it.
    let log = env.git(
        h,
        &[
            "log",
            "comm",
            "--format=%(trailers:key=Comm-Task,valueonly,separator=)|%(trailers:key=Comm-Action,valueonly,separator=)|%(trailers:key=Comm-From,valueonly,separator=)",
        ],
    );
    for id in &added {
        let done: Vec<&str> = log
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{id}|done|")))
            .collect();
        let shown = task(&env, h, id);
        match shown["status"].as_str().unwrap() {
            "done" => assert_eq!(done, [shown["assignee"].as_str().unwrap()], "{shown}"),
            _ => assert!(done.is_empty(), "{id} reopened after {done:?}: {shown}"),
        }
    }
    // Every loser heard of it.
    for r in &rejections {
        let author = r["author"].as_str().unwrap();
        let event = r["id"].as_str().unwrap();
        let told = rejection_notices(&env, h, author)
            .iter()
            .filter(|n| n["body"].as_str().unwrap().contains(event))
            .count();
        assert_eq!(told, 1, "{author} told {told} times about {r}");
    }
    for d in [h, w, p] {
        clean(&env, d);
    }
}

#[test]
fn a_replayed_submission_queues_behind_what_the_remote_queued() {
    let env = Env::new();
    let dirs = clones(&env, &["a", "b"]);
    let (a, b) = (&dirs[0], &dirs[1]);
    let commit_on = |dir: &Path, domain: &str, file: &str| {
        let branch = format!("domain/{domain}");
        let upstream = format!("origin/{branch}");
        env.git(dir, &["checkout", "-q", "-b", &branch, &upstream]);
        common::write(&dir.join(file), "export const x = 1;\n");
        env.git(dir, &["add", "-A"]);
        env.git(dir, &["commit", "-qm", "work", "--no-verify"]);
    };
    commit_on(a, "api", "api/x.ts");
    commit_on(b, "web", "web/x.ts");
    // api submits on a first, offline; web submits on b and pushes first.
    run(&env, a, &["--as", "api", "submit"]);
    run(&env, b, &["--as", "web", "submit"]);
    sync(&env, b);
    sync(&env, a);
    let seq = |domain: &str| {
        let entry = env.git(a, &["show", &format!("comm:queue/{domain}.yaml")]);
        let line = entry.lines().find(|l| l.starts_with("seq: ")).unwrap();
        line["seq: ".len()..].parse::<u64>().unwrap()
    };
    assert!(
        seq("api") > seq("web"),
        "api's submission reached the shared queue after web's"
    );
    clean(&env, a);
}

#[test]
fn a_replayed_publish_that_now_clashes_is_rejected_and_told() {
    let env = Env::new();
    let dirs = clones(&env, &["a", "b"]);
    let (a, b) = (&dirs[0], &dirs[1]);
    common::write(&env.path("spec.txt"), "v1\n");
    let spec = env.path("spec.txt");
    let spec = spec.to_str().unwrap();
    // web publishes `nest` on a and `nest/y` on b: one path cannot be both.
    run(&env, a, &["--as", "web", "publish", "nest", spec]);
    run(&env, b, &["--as", "web", "publish", "nest/y", spec]);
    sync(&env, a);
    let report = sync(&env, b);
    let rejected = rejected(&report);
    assert_eq!(rejected.len(), 1, "{report}");
    let reason = rejected[0]["reason"].as_str().unwrap();
    assert!(reason.contains("artifact `web/nest`"), "{reason}");
    assert_eq!(rejection_notices(&env, b, "web").len(), 1);
    clean(&env, b);
}

#[test]
fn a_replayed_lapse_yields_to_the_holders_activity_elsewhere() {
    let env = Env::new();
    let (dirs, [t]) = tasks_on_both(&env, [("login page", Some("web"))]);
    let (a, b) = (&dirs[0], &dirs[1]);
    run(&env, b, &["--as", "web", "task", "claim", &t]);
    sync(&env, b);
    sync(&env, a);
    // a judges web quiet; web, on b, is talking to api.
    env.cn_at(a, now() + 7200, &["status"]).expect(0);
    assert_eq!(task(&env, a, &t)["status"], "open");
    run(
        &env,
        b,
        &["--as", "web", "send", "--to", "api", "halfway there"],
    );
    sync(&env, b);
    sync(&env, a);
    let shown = task(&env, a, &t);
    assert_eq!(shown["status"], "claimed", "{shown}");
    assert_eq!(shown["assignee"], "web", "{shown}");
    // Still quiet two hours on, as a now sees it: the lease lapses again.
    let later = env.cn_at(a, now() + 7200, &["status"]).expect(0);
    assert!(later.stdout.contains("lease lapsed"), "{}", later.stdout);
    clean(&env, a);
}

#[test]
fn a_replayed_landing_marks_the_task_done_as_it_now_is() {
    let env = Env::new();
    let config = format!("{}test: [\"true\"]\n", config());
    let seed = env.app(&[("comm.yaml", &config), ("web/w.ts", "export {};\n")]);
    let t = add(&env, &seed, "human", "login page", Some("web"));
    let d = add(&env, &seed, "human", "auth API", Some("api"));
    let web = env.worktree("web");
    run(&env, &web, &["task", "claim", &t]);
    common::write(&web.join("web/login.ts"), "export const login = 1;\n");
    env.git(&web, &["add", "-A"]);
    env.git(&web, &["commit", "-qm", "login page", "--no-verify"]);
    run(&env, &web, &["submit", "--task", &t]);
    let remote = env.bare_remote(&seed, env.dir.path());
    let clone = |name: &str| env.synced_clone(remote.to_str().unwrap(), name, name, "x");
    let (ci, other) = (clone("ci"), clone("other"));
    // The human makes T wait for D on one clone while the queue lands T on another.
    run(
        &env,
        &other,
        &["--as", "human", "task", "dep", &t, "--on", &d],
    );
    sync(&env, &other);
    run(&env, &ci, &["queue", "run", "--once"]);
    assert_eq!(task(&env, &ci, &t)["status"], "done");
    let report = sync(&env, &ci);
    assert_eq!(rejected(&report), Vec::<Value>::new(), "{report}");
    let shown = task(&env, &ci, &t);
    assert_eq!(shown["status"], "done", "{shown}");
    assert_eq!(shown["deps"], serde_json::json!([d]), "{shown}");
    clean(&env, &ci);
}
