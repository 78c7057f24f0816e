//! `comm-node verify` and the checks `sync` runs on what it adopts: a comm
//! built by legitimate commands passes; commits forged by hand with git
//! plumbing (what any process of the same user can write) are reported at
//! their commit, writers refuse to build on them, and `sync` refuses to
//! adopt a remote tip holding one.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::daemon::Daemon;
use common::{Env, Run};
use serde_json::Value;

const CONFIG: &str = "project: app
shared: [\"Cargo.lock\"]
domains:
  api:
    scope: [\"api/**\"]
  web:
    scope: [\"web/**\"]
  ops:
    scope: [\"ops/**\"]
";

fn app(env: &Env) -> PathBuf {
    env.api_web_app(
        CONFIG,
        &[("Cargo.lock", "# lock\n"), ("ops/o.sh", "true\n")],
    )
}

/// Runs `git ARGS` in `dir` with its own index file and `stdin`; stdout.
fn git_plumbing(env: &Env, dir: &Path, index: &Path, args: &[&str], stdin: &str) -> String {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    env.hermetic(&mut cmd);
    cmd.env("GIT_INDEX_FILE", index);
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Writes a commit by hand on top of `parent`: its tree with `files`
/// replaced (`None`: removed), with `message`; moves comm to it.
fn forge(
    env: &Env,
    root: &Path,
    parent: &str,
    files: &[(&str, Option<&str>)],
    message: &str,
) -> String {
    let index = env.path("forge.index");
    let _ = std::fs::remove_file(&index);
    let git = |args: &[&str], stdin: &str| git_plumbing(env, root, &index, args, stdin);
    git(&["read-tree", parent], "");
    for (path, content) in files {
        match content {
            Some(text) => {
                let blob = git(&["hash-object", "-w", "--stdin"], text);
                let info = format!("100644,{blob},{path}");
                git(&["update-index", "--add", "--cacheinfo", &info], "");
            }
            None => {
                git(&["update-index", "--force-remove", path], "");
            }
        }
    }
    let tree = git(&["write-tree"], "");
    let commit = git(&["commit-tree", &tree, "-p", parent, "-F", "-"], message);
    env.git(root, &["update-ref", "refs/heads/comm", &commit]);
    commit
}

/// The commit message of an event, as comm-node writes it.
fn event_message(
    subject: &str,
    kind: &str,
    from: &str,
    seq: u64,
    fields: &[(&str, &str)],
) -> String {
    let mut msg = format!(
        "{subject}\n\nComm-Kind: {kind}\nComm-From: {from}\nComm-Id: forged-{seq}\nComm-Seq: {seq}\n"
    );
    for (k, v) in fields {
        msg.push_str(&format!("Comm-{k}: {v}\n"));
    }
    msg
}

fn first_line(run: Run) -> String {
    run.stdout.lines().next().unwrap_or_default().to_owned()
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout))
}

/// `verify --json` reports `commit` as bad, and says which rule it broke.
#[track_caller]
fn reported_at(env: &Env, root: &Path, commit: &str, rule: &str) {
    let run = env.cn(root, &["verify", "--json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let found = json(&run);
    assert_eq!(found["bad"]["commit"], commit, "{found}");
    let said = found["bad"]["rule"].as_str().unwrap();
    assert!(said.contains(rule), "rule `{said}` should mention `{rule}`");
}

/// An open task with no owning domain, added by the human.
fn open_task(env: &Env, root: &Path) -> String {
    first_line(
        env.cn(root, &["--as", "human", "task", "add", "anyone's job"])
            .expect(0),
    )
}

#[test]
fn a_claim_signed_by_another_domain_is_reported_and_blocks_writers_until_resolved() {
    let env = Env::new();
    let root = app(&env);
    let task = open_task(&env, &root);
    env.cn(&root, &["verify"]).expect(0);
    let path = common::task_path(&task);
    let yaml = env.git(&root, &["show", &format!("comm:{path}")]);
    let claimed = yaml.replace("status: open", "status: claimed") + "\nassignee: web\n";
    let seq = env.seq_of(&root, "comm") + 1;
    let message = event_message(
        &format!("task {task} claimed by web"),
        "task",
        "api",
        seq,
        &[("Task", &task), ("Action", "claim")],
    );
    let bad = forge(&env, &root, "comm", &[(&path, Some(&claimed))], &message);
    reported_at(&env, &root, &bad, "gives it to `web`, but `api` signed it");

    // Nobody builds on it: a send is refused and says what to run.
    let run = env.cn(&root, &["--as", "api", "send", "--to", "web", "hi"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&bad) && run.stderr.contains("verify --accept"),
        "{}",
        run.stderr
    );
    assert_eq!(env.git(&root, &["rev-parse", "comm"]), bad);

    // The human resets comm to before it: verification passes, writers write.
    env.git(
        &root,
        &["update-ref", "refs/heads/comm", &format!("{bad}^")],
    );
    env.cn(&root, &["verify"]).expect(0);
    env.cn(&root, &["--as", "api", "send", "--to", "web", "hi"])
        .expect(0);
}

#[test]
fn the_human_can_accept_a_reported_commit() {
    let env = Env::new();
    let root = app(&env);
    let seq = env.seq_of(&root, "comm") + 1;
    let message = event_message("msg api → web: note", "msg", "api", seq, &[]);
    let bad = forge(
        &env,
        &root,
        "comm",
        &[(common::task_path("T-beef").as_str(), Some("garbage: ["))],
        &message,
    );
    reported_at(&env, &root, &bad, "does not parse");
    let api = env.worktree("api");
    let run = env.cn(&api, &["verify", "--accept", &bad]);
    assert_eq!(run.code, 1, "a domain cannot accept: {}", run.stderr);
    env.cn(&root, &["--as", "human", "verify", "--accept", &bad])
        .expect(0);
    env.cn(&api, &["send", "--to", "web", "go on"]).expect(0);
}

#[test]
fn a_reservation_outside_its_holders_scope_is_reported_at_its_commit() {
    let env = Env::new();
    let root = app(&env);
    let seq = env.seq_of(&root, "comm") + 1;
    let forever = "id: R-f0f0f0\ndomain: web\nglobs:\n- api/**\nmode: exclusive\ncreated: 0\nexpires: 9223372036854775807\n";
    let message = event_message(
        "web reserved api/** (exclusive, forever)",
        "reserve",
        "web",
        seq,
        &[("Reservation", "R-f0f0f0")],
    );
    let bad = forge(
        &env,
        &root,
        "comm",
        &[(common::reservation_path("R-f0f0f0").as_str(), Some(forever))],
        &message,
    );
    // Trusted as it is, it blocks api's own commits in api's scope.
    let api = env.worktree("api");
    common::write(&api.join("api/a.ts"), "export const a = 2;\n");
    env.git(&api, &["add", "-A"]);
    let commit = env.git_run(&api, &["commit", "-qm", "change"]);
    assert_ne!(commit.code, 0, "the forged reservation blocks api");

    reported_at(&env, &root, &bad, "outside its scope");
}

#[test]
fn an_overlapping_exclusive_reservation_is_reported() {
    let env = Env::new();
    let root = app(&env);
    env.cn(&root, &["--as", "api", "reserve", "Cargo.lock"])
        .expect(0);
    let seq = env.seq_of(&root, "comm") + 1;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let overlapping = format!(
        "id: R-0a0a0a\ndomain: web\nglobs:\n- Cargo.lock\nmode: exclusive\ncreated: {now}\nexpires: {}\n",
        now + 3600
    );
    let message = event_message(
        "web reserved Cargo.lock",
        "reserve",
        "web",
        seq,
        &[("Reservation", "R-0a0a0a")],
    );
    let bad = forge(
        &env,
        &root,
        "comm",
        &[(
            common::reservation_path("R-0a0a0a").as_str(),
            Some(&overlapping),
        )],
        &message,
    );
    reported_at(&env, &root, &bad, "overlaps the live exclusive reservation");
}

#[test]
fn structural_forgeries_are_reported_at_their_commit() {
    type Forgery = fn(&Env, &Path, u64) -> (String, &'static str);
    let cases: [Forgery; 4] = [
        // A message that edits state.
        |env, root, seq| {
            let m = event_message("msg api → web: hi", "msg", "api", seq, &[]);
            let c = forge(
                env,
                root,
                "comm",
                &[("agents/web.yaml", Some("since: 1\n"))],
                &m,
            );
            (c, "a message changes no state")
        },
        // A sequence number that skips.
        |env, root, seq| {
            let m = event_message("msg api → web: hi", "msg", "api", seq + 5, &[]);
            (forge(env, root, "comm", &[], &m), "Comm-Seq")
        },
        // A merge.
        |env, root, seq| {
            let m = event_message("msg api → web: hi", "msg", "api", seq, &[]);
            let tree = env.git(root, &["rev-parse", "comm^{tree}"]);
            let c = env.git(
                root,
                &["commit-tree", &tree, "-p", "comm", "-p", "comm^", "-m", &m],
            );
            env.git(root, &["update-ref", "refs/heads/comm", &c]);
            (c, "merge")
        },
        // A registration signed by a domain (widening its own scope).
        |env, root, seq| {
            let m = event_message("register domains: updated web", "register", "web", seq, &[]);
            let reg = "domain: web\nbranch: domain/web\nscope:\n- '**'\n";
            let c = forge(env, root, "comm", &[("domains/web.yaml", Some(reg))], &m);
            (c, "only the human registers domains")
        },
    ];
    for forgery in cases {
        let env = Env::new();
        let root = app(&env);
        env.cn(&root, &["--as", "api", "send", "--to", "web", "ok"])
            .expect(0);
        let seq = env.seq_of(&root, "comm") + 1;
        let (bad, rule) = forgery(&env, &root, seq);
        reported_at(&env, &root, &bad, rule);
    }
}

/// A bare remote served by `git daemon`, seeded from `root`, and a clone of it.
fn served(env: &Env, root: &Path) -> (Daemon, PathBuf) {
    let base = env.path("served");
    env.bare_remote(root, &base);
    env.git(
        &base.join("remote.git"),
        &["config", "receive.denyNonFastForwards", "false"],
    );
    let daemon = Daemon::start(env, &base);
    env.git(env.dir.path(), &["clone", "-q", &daemon.url, "clone"]);
    let clone = env.path("clone");
    env.git(&clone, &["config", "user.name", "clone"]);
    env.git(&clone, &["config", "user.email", "clone@test.invalid"]);
    (daemon, clone)
}

#[test]
fn sync_refuses_a_force_pushed_rewrite_that_flips_a_claim() {
    let env = Env::new();
    let root = app(&env);
    let task = open_task(&env, &root);
    let (daemon, clone) = served(&env, &root);
    env.cn(&clone, &["sync"]).expect(0);
    env.cn(&clone, &["--as", "api", "task", "claim", &task])
        .expect(0);
    env.cn(&clone, &["sync"]).expect(0);
    env.git(&root, &["remote", "add", "origin", &daemon.url]);
    env.cn(&root, &["sync"]).expect(0);
    let genuine = env.git(&root, &["rev-parse", "comm"]);

    // Someone rewrites the genuine claim (same Comm-Id, same signer) to
    // give the task to web, and force-pushes it.
    let path = common::task_path(&task);
    let yaml = env.git(&clone, &["show", &format!("comm:{path}")]);
    let flipped = yaml.replace("assignee: api", "assignee: web");
    let message = env.git(&clone, &["log", "-1", "--format=%B", "comm"]);
    let rewrite = forge(&env, &clone, "comm^", &[(&path, Some(&flipped))], &message);
    env.git(&clone, &["push", "-q", "--force", "origin", "comm"]);
    reported_at(
        &env,
        &clone,
        &rewrite,
        "gives it to `web`, but `api` signed it",
    );

    let run = env.cn(&root, &["sync"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&rewrite),
        "names the commit: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("git show {rewrite}")),
        "says what to run: {}",
        run.stderr
    );
    assert_eq!(
        env.git(&root, &["rev-parse", "comm"]),
        genuine,
        "nothing adopted"
    );

    // A fresh clone refuses it as well.
    env.git(env.dir.path(), &["clone", "-q", &daemon.url, "fresh"]);
    let run = env.cn(&env.path("fresh"), &["sync"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        env.git_run(
            &env.path("fresh"),
            &["rev-parse", "--verify", "-q", "refs/heads/comm"]
        )
        .code
            != 0
    );
}

/// A small deterministic generator (the test is seeded, not random).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

#[test]
fn verify_passes_a_comm_built_by_a_thousand_legitimate_commands() {
    let env = Env::new();
    let root = app(&env);
    let domains = ["api", "web", "ops"];
    let dirs: Vec<PathBuf> = domains.iter().map(|d| env.worktree(d)).collect();
    let mut rng = Lcg(20261206);
    let mut claimed: Vec<Vec<String>> = vec![Vec::new(); 3];
    let mut held: Vec<Vec<String>> = vec![Vec::new(); 3];
    for step in 0..1000 {
        let who = rng.below(3);
        let dir = &dirs[who];
        let me = domains[who];
        let other = domains[(who + 1 + rng.below(2)) % 3];
        let n = step.to_string();
        let args: Vec<String> = match rng.below(10) {
            0 | 1 => vec![
                "send".into(),
                "--to".into(),
                other.into(),
                format!("note {n}"),
            ],
            2 => vec!["ack".into(), "--all".into()],
            3 => {
                let owner = if rng.below(2) == 0 { me } else { other };
                vec![
                    "task".into(),
                    "add".into(),
                    "--domain".into(),
                    owner.into(),
                    format!("job {n}"),
                ]
            }
            4 => vec!["task".into(), "next".into()],
            5 => match claimed[who].pop() {
                Some(t) if rng.below(4) == 0 => {
                    vec![
                        "task".into(),
                        "fail".into(),
                        t,
                        "--reason".into(),
                        "no".into(),
                    ]
                }
                Some(t) => vec!["task".into(), "done".into(), t],
                None => vec!["hello".into()],
            },
            6 => {
                let glob = match rng.below(3) {
                    0 => "Cargo.lock".to_owned(),
                    _ => format!("{me}/f{}.txt", rng.below(5)),
                };
                let mut a = vec!["reserve".into(), glob, "--ttl".into(), "1h".into()];
                if rng.below(2) == 0 {
                    a.push("--shared".into());
                }
                a
            }
            7 => match held[who].pop() {
                Some(r) => vec!["release".into(), r],
                None => vec!["release".into(), "--all".into()],
            },
            8 => vec![
                "publish".into(),
                format!("doc{}", rng.below(3)),
                root.join("comm.yaml").display().to_string(),
            ],
            _ => vec![
                "send".into(),
                "--to".into(),
                "all".into(),
                format!("status {n}"),
            ],
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = env.cn(dir, &args);
        assert!(
            run.code == 0 || run.code == 1,
            "{me} {args:?}: {}",
            run.stderr
        );
        if run.code == 0 {
            let out = first_line(run);
            match args.as_slice() {
                ["task", "next", ..] => claimed[who].push(out),
                ["reserve", ..] => held[who].push(out),
                _ => {}
            }
        }
    }
    let events: usize = env
        .git(&root, &["rev-list", "--count", "comm"])
        .parse()
        .unwrap();
    let run = env.cn(&root, &["verify", "--json"]).expect(0);
    let found = json(&run);
    assert_eq!(found["bad"], Value::Null, "{found}");
    assert_eq!(found["checked"], events as u64, "{found}");
    assert!(events > 900, "most commands wrote an event: {events}");
    let kinds = env.git(
        &root,
        &["log", "comm", "--format=%(trailers:key=Comm-Kind,valueonly,separator=)/%(trailers:key=Comm-Action,valueonly,separator=)"],
    );
    for kind in [
        "msg/",
        "ack/",
        "task/add",
        "task/claim",
        "task/done",
        "task/failed",
        "reserve/",
        "release/",
        "artifact/",
        "hello/",
    ] {
        assert!(kinds.lines().any(|k| k == kind), "the mix has no {kind}");
    }
    // A rerun checks nothing new.
    let again = json(&env.cn(&root, &["verify", "--json"]).expect(0));
    assert_eq!(again["checked"], 0, "{again}");
}

/// The trailers of a successful claude turn in `session` that used 100
/// tokens in, 10 out and cost $0.5 over one second.
fn turn_fields(session: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("Cli", "claude"),
        ("Session", session),
        ("Tokens-In", "100"),
        ("Tokens-Out", "10"),
        ("Cache-Read", "0"),
        ("Cache-Write", "0"),
        ("Cost-Usd", "0.5"),
        ("Duration-Ms", "1000"),
        ("Outcome", "success"),
    ]
}

/// `usage/api.yaml` after one turn with `input` tokens in, its newest turn
/// named `last`.
fn usage_after_one_turn(input: u64, last: &str) -> String {
    format!("domain: api\nturns: 1\ninput_tokens: {input}\noutput_tokens: 10\ncache_read_tokens: 0\ncache_write_tokens: 0\ncost_usd: 0.5\nduration_ms: 1000\nlast_turn: {last:?}\n")
}

#[test]
fn a_turn_whose_usage_totals_do_not_add_up_is_reported() {
    let fields = turn_fields("s-1");
    // The honest turn passes; one claiming fewer tokens in its totals,
    // naming another turn as the newest, or signed by the human, is reported.
    for (input, last, from, rule) in [
        (100, "turn api 1: success", "api", None),
        (
            1,
            "turn api 1: success",
            "api",
            Some("does not hold the totals"),
        ),
        (
            100,
            "turn api 7: success",
            "api",
            Some("does not hold the totals"),
        ),
        (100, "turn api 1: success", "human", Some("may not sign")),
    ] {
        let env = Env::new();
        let root = app(&env);
        let seq = env.seq_of(&root, "comm") + 1;
        let m = event_message("turn api 1: success", "turn", from, seq, &fields);
        let totals = usage_after_one_turn(input, last);
        let c = forge(
            &env,
            &root,
            "comm",
            &[("usage/api.yaml", Some(&totals))],
            &m,
        );
        match rule {
            None => {
                env.cn(&root, &["verify"]).expect(0);
            }
            Some(rule) => reported_at(&env, &root, &c, rule),
        }
    }
}

#[test]
fn a_turn_missing_from_its_breakdowns_is_reported() {
    let mut fields = turn_fields("s-1");
    fields.extend([
        ("Task", "T-1"),
        ("Model", "m-1"),
        ("At", "2026-12-06T10:00:00Z"),
    ]);
    let one = "  T-1:\n    turns: 1\n    input_tokens: 100\n    output_tokens: 10\n    cache_read_tokens: 0\n    cache_write_tokens: 0\n    cost_usd: 0.5\n";
    let whole = |task: &str, day: &str| {
        format!(
            "{}by_task:\n{}by_day:\n{}by_model:\n{}",
            usage_after_one_turn(100, "turn api 1: success"),
            one.replace("T-1", task),
            one.replace("T-1", day),
            one.replace("T-1", "m-1"),
        )
    };
    // The turn counted under its task, day and model passes; counted under
    // another task, or another day, is reported.
    for (totals, rule) in [
        (whole("T-1", "2026-12-06"), None),
        (whole("T-2", "2026-12-06"), Some("does not hold the totals")),
        (whole("T-1", "2026-12-05"), Some("does not hold the totals")),
    ] {
        let env = Env::new();
        let root = app(&env);
        let seq = env.seq_of(&root, "comm") + 1;
        let m = event_message("turn api 1: success", "turn", "api", seq, &fields);
        let c = forge(
            &env,
            &root,
            "comm",
            &[("usage/api.yaml", Some(&totals))],
            &m,
        );
        match rule {
            None => {
                env.cn(&root, &["verify"]).expect(0);
            }
            Some(rule) => reported_at(&env, &root, &c, rule),
        }
    }
}

#[test]
fn a_turn_handed_off_from_its_own_session_is_reported() {
    let fields = |parent: &'static str| {
        let mut fields = turn_fields("s-2");
        fields.push(("Session-Parent", parent));
        fields
    };
    let totals = usage_after_one_turn(100, "turn api 1: success");
    for (parent, rule) in [("s-1", None), ("s-2", Some("names its own session"))] {
        let env = Env::new();
        let root = app(&env);
        let seq = env.seq_of(&root, "comm") + 1;
        let m = event_message("turn api 1: success", "turn", "api", seq, &fields(parent));
        let c = forge(
            &env,
            &root,
            "comm",
            &[("usage/api.yaml", Some(&totals))],
            &m,
        );
        match rule {
            None => {
                env.cn(&root, &["verify"]).expect(0);
            }
            Some(rule) => reported_at(&env, &root, &c, rule),
        }
    }
}
