//! `comm-node usage`: reports from the totals on comm after real turns
//! (`up` with the real Claude Code and Codex CLIs against the scripted
//! model server, and `usage --scan` over transcripts written in the CLIs'
//! own line shapes, with their duplicate traps), the price table, and bad
//! input.

mod common;

use std::path::Path;

use common::up::*;
use common::Env;
use serde_json::{json, Value};

/// The price table's sonnet 4.5 and gpt-5.1-codex, per million tokens
/// (input, output, cache read, cache write).
const SONNET: [f64; 4] = [3.0, 15.0, 0.30, 3.75];
const HAIKU: [f64; 4] = [1.0, 5.0, 0.10, 1.25];
const CODEX: [f64; 4] = [1.25, 10.0, 0.125, 1.25];

fn price(p: [f64; 4], t: [u64; 4]) -> f64 {
    let usd =
        (t[0] as f64 * p[0] + t[1] as f64 * p[1] + t[2] as f64 * p[2] + t[3] as f64 * p[3]) / 1e6;
    (usd * 1e6).round() / 1e6
}

/// One assistant line of a Claude Code transcript.
fn claude_line(
    session: &str,
    cwd: &Path,
    msg: &str,
    req: &str,
    model: &str,
    t: [u64; 4],
    at: &str,
) -> String {
    json!({
        "parentUuid": null, "isSidechain": false, "userType": "external",
        "cwd": cwd, "sessionId": session, "version": "2.1.328", "gitBranch": "domain/x",
        "message": {
            "id": msg, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": null, "stop_sequence": null,
            "usage": {
                "input_tokens": t[0], "output_tokens": t[1],
                "cache_read_input_tokens": t[2], "cache_creation_input_tokens": t[3],
                "service_tier": "standard"
            }
        },
        "requestId": req, "type": "assistant", "uuid": format!("u-{msg}-{at}"), "timestamp": at
    })
    .to_string()
}

fn user_line(session: &str, cwd: &Path, at: &str) -> String {
    json!({"type": "user", "sessionId": session, "cwd": cwd, "timestamp": at,
           "message": {"role": "user", "content": "go"}, "uuid": format!("q-{at}")})
    .to_string()
}

fn session_meta(id: &str, cwd: &Path, forked_from: Option<&str>, at: &str) -> String {
    let mut payload = json!({"id": id, "timestamp": at, "cwd": cwd, "originator": "codex_cli_rs",
                             "cli_version": "0.169.0", "instructions": null});
    if let Some(p) = forked_from {
        payload["forked_from_id"] = json!(p);
    }
    json!({"timestamp": at, "type": "session_meta", "payload": payload}).to_string()
}

fn turn_context(cwd: &Path, model: &str, at: &str) -> String {
    json!({"timestamp": at, "type": "turn_context",
           "payload": {"cwd": cwd, "approval_policy": "never", "model": model, "summary": "auto"}})
    .to_string()
}

/// A `token_count` event: cumulative (input incl. cached, cached, output).
fn token_count(total: [u64; 3], at: &str) -> String {
    let usage = |t: [u64; 3]| {
        json!({"input_tokens": t[0], "cached_input_tokens": t[1], "output_tokens": t[2],
               "reasoning_output_tokens": 0, "total_tokens": t[0] + t[2]})
    };
    json!({"timestamp": at, "type": "event_msg", "payload": {"type": "token_count",
           "info": {"total_token_usage": usage(total), "last_token_usage": usage(total),
                    "model_context_window": 258400},
           "rate_limits": {"primary": {"used_percent": 1.0, "window_minutes": 300, "resets_at": 1}}}})
    .to_string()
}

fn append(path: &Path, lines: &[String]) {
    use std::io::Write;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn row<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {key}: {report}"))
}

fn tokens(v: &Value) -> [u64; 4] {
    [
        v["input_tokens"].as_u64().unwrap(),
        v["output_tokens"].as_u64().unwrap(),
        v["cache_read_tokens"].as_u64().unwrap(),
        v["cache_write_tokens"].as_u64().unwrap(),
    ]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 2e-6
}

struct Scan<'e> {
    env: &'e Env,
    root: std::path::PathBuf,
    claude: std::path::PathBuf,
    codex: std::path::PathBuf,
}

impl Scan<'_> {
    fn run(&self, args: &[&str]) -> common::Run {
        let claude = self.claude.to_str().unwrap();
        let codex = self.codex.to_str().unwrap();
        self.env.cn_env(
            &self.root,
            &[("CLAUDE_CONFIG_DIR", claude), ("CODEX_HOME", codex)],
            args,
        )
    }
}

#[test]
fn a_scan_counts_hand_run_sessions_once_through_every_duplicate_and_only_new_lines_after() {
    let env = Env::new();
    let root = app(&env, "");
    let api = env.worktree("api").canonicalize().unwrap();
    let web = env.worktree("web").canonicalize().unwrap();
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let scan = Scan {
        env: &env,
        root: root.clone(),
        claude: env.path("claude-config"),
        codex: env.path("codex-home"),
    };
    let projects = scan.claude.join("projects");
    let sonnet = "claude-sonnet-4-5-20250929";
    let (t1, t2, t3) = (
        "2026-11-30T10:00:00.000Z",
        "2026-11-30T10:01:00.000Z",
        "2026-12-01T09:00:00.000Z",
    );

    // s1 in api: response 1 written as three lines (content blocks), response 2 once.
    let r1 = [10, 100, 1000, 200];
    let r2 = [5, 50, 2000, 0];
    let s1 = projects.join("-api/s1.jsonl");
    let s1_lines = vec![
        user_line("s1", &api, t1),
        claude_line("s1", &api, "msg_1", "req_1", sonnet, r1, t1),
        claude_line("s1", &api, "msg_1", "req_1", sonnet, r1, t1),
        claude_line("s1", &api, "msg_1", "req_1", sonnet, r1, t1),
        claude_line("s1", &api, "msg_2", "req_2", sonnet, r2, t2),
    ];
    append(&s1, &s1_lines);
    // s3 forked s1 (same folder: the slug is never decoded): it replays
    // s1's responses, then makes its own.
    let r3 = [1, 10, 500, 60];
    let mut s3_lines: Vec<String> = s1_lines
        .iter()
        .map(|l| l.replace("\"s1\"", "\"s3\""))
        .collect();
    s3_lines.push(claude_line("s3", &api, "msg_3", "req_3", sonnet, r3, t3));
    append(&projects.join("-api/s3.jsonl"), &s3_lines);
    // s2 in a folder below web's worktree, another model.
    let r4 = [2, 20, 0, 100];
    let sub = web.join("src");
    std::fs::create_dir_all(&sub).unwrap();
    append(
        &projects.join("-web-src/s2.jsonl"),
        &[claude_line(
            "s2",
            &sub,
            "msg_4",
            "req_4",
            "claude-haiku-4-5-20251001",
            r4,
            t3,
        )],
    );
    // Outside every worktree: ignored.
    append(
        &projects.join("-elsewhere/s9.jsonl"),
        &[claude_line(
            "s9",
            &elsewhere,
            "msg_9",
            "req_9",
            sonnet,
            [9, 9, 9, 9],
            t3,
        )],
    );

    // Codex: c1 in api, cumulative totals re-emitted unchanged; c2 in web
    // forked from c1, replaying c1's totals before its own.
    let sessions = scan.codex.join("sessions/2026/11/30");
    let c1 = sessions.join("rollout-2026-11-30T10-00-00-c1.jsonl");
    let c1_lines = vec![
        session_meta("c1", &api, None, t1),
        turn_context(&api, "gpt-5.1-codex", t1),
        json!({"timestamp": t1, "type": "event_msg", "payload": {"type": "token_count", "info": null, "rate_limits": null}}).to_string(),
        token_count([1000, 400, 50], t1),
        token_count([1000, 400, 50], t1),
        token_count([1800, 900, 80], t2),
        token_count([1800, 900, 80], t2),
    ];
    append(&c1, &c1_lines);
    let mut c2_lines = vec![session_meta("c2", &web, Some("c1"), t3)];
    c2_lines.extend(c1_lines.iter().cloned());
    c2_lines.push(turn_context(&web, "gpt-5.1-codex", t3));
    c2_lines.push(token_count([2500, 1200, 100], t3));
    append(
        &sessions.join("rollout-2026-12-01T09-00-00-c2.jsonl"),
        &c2_lines,
    );
    // A rollout outside: ignored.
    append(
        &sessions.join("rollout-2026-11-30T10-00-00-c9.jsonl"),
        &[
            session_meta("c9", &elsewhere, None, t1),
            token_count([5, 0, 5], t1),
        ],
    );

    // A dry run says what it would record and records nothing.
    let before = env.refs(&root);
    let dry = scan
        .run(&["--json", "usage", "--scan", "--dry-run"])
        .expect(0);
    assert_eq!(env.refs(&root), before, "a dry run changes nothing");
    let dry = json_of(&dry.stdout);
    assert_eq!(dry["scan"]["turns"].as_array().unwrap().len(), 5, "{dry}");
    assert_eq!(dry["scan"]["outside"], 2, "{dry}");
    assert_eq!(dry["total"]["turns"], 0, "{dry}");

    let first = json_of(&scan.run(&["--json", "usage", "--scan"]).expect(0).stdout);
    let sum = |a: [u64; 4], b: [u64; 4]| [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]];
    let c1_own = [900, 80, 900, 0];
    let c2_own = [400, 20, 300, 0];
    let api_claude = sum(sum(r1, r2), r3);
    assert_eq!(
        tokens(row(&first, "api")),
        sum(api_claude, c1_own),
        "{first}"
    );
    assert_eq!(tokens(row(&first, "web")), sum(r4, c2_own), "{first}");
    assert_eq!(row(&first, "api")["turns"], 3); // s1, s3, c1
    assert_eq!(row(&first, "web")["turns"], 2);
    assert_eq!(row(&first, "api")["transcript_turns"], 3);
    let api_cost = price(SONNET, sum(r1, r2)) + price(SONNET, r3) + price(CODEX, c1_own);
    let web_cost = price(HAIKU, r4) + price(CODEX, c2_own);
    assert!(
        close(row(&first, "api")["cost_usd"].as_f64().unwrap(), api_cost),
        "{first}"
    );
    assert!(
        close(
            row(&first, "web")["priced_cost_usd"].as_f64().unwrap(),
            web_cost
        ),
        "{first}"
    );
    assert!(close(
        first["total"]["cost_usd"].as_f64().unwrap(),
        api_cost + web_cost
    ));
    assert_eq!(first["total"]["estimated"], true);
    let turns = events(&env, &root, "turn");
    assert_eq!(turns.len(), 5);
    for (_, _, _, t) in &turns {
        assert_eq!(trailer(t, "Source"), "transcript");
        assert_eq!(trailer(t, "Cost-Source"), "prices");
        assert_eq!(trailer(t, "Cost-Reported"), "no");
    }

    // Per model and per day, from the same state.
    let by_model = json_of(
        &scan
            .run(&["--json", "usage", "--by", "model"])
            .expect(0)
            .stdout,
    );
    assert_eq!(tokens(row(&by_model, sonnet)), api_claude, "{by_model}");
    assert_eq!(tokens(row(&by_model, "gpt-5.1-codex")), sum(c1_own, c2_own));
    let by_day = json_of(
        &scan
            .run(&["--json", "usage", "--by", "day"])
            .expect(0)
            .stdout,
    );
    // s1 and c1's newest lines are on 11-30; s3, s2 and c2 on 12-01.
    assert_eq!(
        tokens(row(&by_day, "2026-11-30")),
        sum(sum(r1, r2), c1_own),
        "{by_day}"
    );
    assert_eq!(tokens(row(&by_day, "2026-12-01")), sum(sum(r3, r4), c2_own));
    let since = json_of(
        &scan
            .run(&["--json", "usage", "--since", "2026-12-01"])
            .expect(0)
            .stdout,
    );
    assert_eq!(tokens(row(&since, "api")), r3, "{since}");
    assert_eq!(tokens(&since["total"]), sum(sum(r3, r4), c2_own));
    let by_task = json_of(
        &scan
            .run(&["--json", "usage", "--by", "task"])
            .expect(0)
            .stdout,
    );
    assert_eq!(by_task["rows"].as_array().unwrap().len(), 1, "{by_task}");
    assert_eq!(tokens(row(&by_task, "(no task)")), tokens(&first["total"]));
    let text = scan.run(&["usage"]).expect(0).stdout;
    assert!(text.contains("TOTAL") && text.contains('~'), "{text}");

    // A second scan adds nothing.
    let tip = env.git(&root, &["rev-parse", "comm"]);
    let again = json_of(&scan.run(&["--json", "usage", "--scan"]).expect(0).stdout);
    assert_eq!(
        again["scan"]["turns"].as_array().unwrap().len(),
        0,
        "{again}"
    );
    assert_eq!(env.git(&root, &["rev-parse", "comm"]), tip);

    // New lines add only their own part: one new response (and a repeat
    // of an old one) in s1, one new total in c1.
    let r5 = [3, 30, 100, 0];
    append(
        &s1,
        &[
            claude_line("s1", &api, "msg_2", "req_2", sonnet, r2, t2),
            claude_line("s1", &api, "msg_5", "req_5", sonnet, r5, t3),
        ],
    );
    append(
        &c1,
        &[
            token_count([2000, 1000, 90], t3),
            token_count([2000, 1000, 90], t3),
        ],
    );
    let third = json_of(&scan.run(&["--json", "usage", "--scan"]).expect(0).stdout);
    let added = third["scan"]["turns"].as_array().unwrap();
    assert_eq!(added.len(), 2, "{third}");
    let by_session = |s: &str| added.iter().find(|t| t["session"] == s).unwrap();
    assert_eq!(tokens_of_found(by_session("s1")), r5);
    assert_eq!(tokens_of_found(by_session("c1")), [100, 10, 100, 0]);
    assert_eq!(by_session("s1")["calls"], 1);
    assert_eq!(
        tokens(row(&third, "api")),
        sum(sum(api_claude, r5), [1000, 90, 1000, 0]),
        "{third}"
    );
    env.cn(&root, &["verify"]).expect(0);

    // What the scan counted is checked: the newest turn (c1's) rewritten
    // to claim more calls counted than it added is reported.
    let usage = env.git(&root, &["show", "comm:usage/api.yaml"]);
    let at = usage.find("  c1:").unwrap();
    let calls = at + usage[at..].find("calls: ").unwrap() + "calls: ".len();
    let end = calls + usage[calls..].find('\n').unwrap();
    let forged = format!("{}99{}", &usage[..calls], &usage[end..]);
    let message = env.git(&root, &["log", "-1", "--format=%B", "comm"]);
    let parent = env.git(&root, &["rev-parse", "comm~1"]);
    let index = env.path("forge.index");
    let git = |args: &[&str], stdin: &str| git_plumbing(&env, &root, &index, args, stdin);
    let blob = git(&["hash-object", "-w", "--stdin"], &forged);
    git(&["read-tree", "comm"], "");
    let info = format!("100644,{blob},usage/api.yaml");
    git(&["update-index", "--cacheinfo", &info], "");
    let tree = git(&["write-tree"], "");
    let commit = git(&["commit-tree", &tree, "-p", &parent, "-F", "-"], &message);
    env.git(&root, &["update-ref", "refs/heads/comm", &commit]);
    let run = env.cn(&root, &["verify"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        format!("{}{}", run.stdout, run.stderr)
            .contains("does not hold the totals before it plus this turn"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

/// Runs `git ARGS` in `dir` with its own index file and `stdin`; stdout.
fn git_plumbing(env: &Env, dir: &Path, index: &Path, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
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

fn tokens_of_found(v: &Value) -> [u64; 4] {
    [
        v["input"].as_u64().unwrap(),
        v["output"].as_u64().unwrap(),
        v["cache_read"].as_u64().unwrap(),
        v["cache_write"].as_u64().unwrap(),
    ]
}

#[test]
fn usage_reports_up_turns_by_domain_and_task_and_a_scan_skips_the_sessions_up_ran() {
    let env = Env::new();
    let root = app(
        &env,
        "agents:\n  default:\n    permission_mode: bypassPermissions\n",
    );
    let task = add_task(&env, &root, "api", "build the api", &[]);
    let server = ModelServer::start(&env, AGENT_SCRIPT);
    up(&env, &root, Some(&server), &["--once", "api"]).expect(0);
    let turns = events(&env, &root, "turn");
    assert!(!turns.is_empty());
    let mut sum = [0u64; 4];
    let mut cost = 0.0;
    for (_, _, _, t) in &turns {
        for (i, key) in ["Tokens-In", "Tokens-Out", "Cache-Read", "Cache-Write"]
            .iter()
            .enumerate()
        {
            sum[i] += trailer(t, key).parse::<u64>().unwrap();
        }
        cost += trailer(t, "Cost-Usd").parse::<f64>().unwrap();
    }
    assert!(sum[1] > 0, "{turns:?}");
    let report = json_of(&env.cn(&root, &["--json", "usage"]).expect(0).stdout);
    assert_eq!(report["by"], "domain");
    assert_eq!(tokens(row(&report, "api")), sum, "{report}");
    assert_eq!(tokens(&report["total"]), sum);
    assert_eq!(report["total"]["turns"], turns.len() as u64);
    assert!(close(report["total"]["cost_usd"].as_f64().unwrap(), cost));
    // The CLI's own accounting: nothing estimated.
    assert_eq!(report["total"]["estimated"], false);
    let by_task = json_of(
        &env.cn(&root, &["--json", "usage", "--by", "task"])
            .expect(0)
            .stdout,
    );
    assert_eq!(tokens(row(&by_task, &task)), sum, "{by_task}");
    let today = json_of(
        &env.cn(&root, &["--json", "usage", "--by", "day", "--since", "1d"])
            .expect(0)
            .stdout,
    );
    assert_eq!(tokens(&today["total"]), sum, "{today}");
    let future = json_of(
        &env.cn(&root, &["--json", "usage", "--since", "2099-01-01"])
            .expect(0)
            .stdout,
    );
    assert_eq!(future["total"]["turns"], 0, "{future}");

    // A transcript of the session up ran is skipped by the scan.
    let session = trailer(&turns[0].3, "Session").to_owned();
    let api = env.worktree("api").canonicalize().unwrap();
    let config = env.path("claude-config");
    append(
        &config
            .join("projects/-api")
            .join(format!("{session}.jsonl")),
        &[claude_line(
            &session,
            &api,
            "msg_x",
            "req_x",
            "claude-sonnet-4-5",
            [1, 2, 3, 4],
            "2026-12-01T00:00:00Z",
        )],
    );
    let tip = env.git(&root, &["rev-parse", "comm"]);
    let run = env
        .cn_env(
            &root,
            &[
                ("CLAUDE_CONFIG_DIR", config.to_str().unwrap()),
                ("CODEX_HOME", env.path("none").to_str().unwrap()),
            ],
            &["--json", "usage", "--scan"],
        )
        .expect(0);
    let scanned = json_of(&run.stdout);
    assert_eq!(scanned["scan"]["skipped_up"], json!([session]), "{scanned}");
    assert_eq!(scanned["scan"]["turns"], json!([]));
    assert_eq!(env.git(&root, &["rev-parse", "comm"]), tip);
    env.cn(&root, &["verify"]).expect(0);
    drop(server);
    assert_no_process_left(&env);
}

/// Runs one Codex turn through `up` with `model` and `more` comm.yaml,
/// returning the turn's trailers.
fn codex_turn(env: &Env, model: &str, more: &str) -> (std::path::PathBuf, String) {
    let server = ModelServer::start(env, AGENT_SCRIPT);
    let agents = codex_agents(server.port).replace("model: fake-model", &format!("model: {model}"));
    let root = app(env, &format!("{agents}{more}"));
    add_task(env, &root, "api", "build the api", &[]);
    codex_up(env, &root, &["--once", "api"]).expect(0);
    let turns = events(env, &root, "turn");
    drop(server);
    assert_no_process_left(env);
    (root, turns[0].3.clone())
}

fn trailer_tokens(t: &str) -> [u64; 4] {
    let n = |k: &str| trailer(t, k).parse::<u64>().unwrap();
    [
        n("Tokens-In"),
        n("Tokens-Out"),
        n("Cache-Read"),
        n("Cache-Write"),
    ]
}

#[test]
fn a_codex_turn_is_priced_from_the_table_and_comm_yaml_prices_override_it() {
    let env = Env::new();
    let (root, t) = codex_turn(&env, "gpt-5.1-codex", "");
    assert_eq!(trailer(&t, "Cost-Reported"), "no");
    assert_eq!(trailer(&t, "Cost-Source"), "prices");
    let cost: f64 = trailer(&t, "Cost-Usd").parse().unwrap();
    assert!(
        cost > 0.0 && close(cost, price(CODEX, trailer_tokens(&t))),
        "{t}"
    );
    let report = json_of(&env.cn(&root, &["--json", "usage"]).expect(0).stdout);
    assert!(
        close(report["total"]["priced_cost_usd"].as_f64().unwrap(), cost),
        "{report}"
    );
    assert!(env.cn(&root, &["usage"]).expect(0).stdout.contains('~'));
    env.cn(&root, &["verify"]).expect(0);

    let env = Env::new();
    let more =
        "prices:\n  gpt-5.1-codex: { input: 100, output: 0, cache_read: 0, cache_write: 0 }\n";
    let (root, t) = codex_turn(&env, "gpt-5.1-codex", more);
    let cost: f64 = trailer(&t, "Cost-Usd").parse().unwrap();
    assert!(
        close(cost, price([100.0, 0.0, 0.0, 0.0], trailer_tokens(&t))),
        "{t}"
    );
    env.cn(&root, &["verify"]).expect(0);

    // An unknown model costs 0, and says so.
    let env = Env::new();
    let (_, t) = codex_turn(&env, "fake-model", "");
    assert_eq!(trailer(&t, "Cost-Source"), "unpriced");
    assert_eq!(trailer(&t, "Cost-Usd"), "0");
}

#[test]
fn bad_by_and_since_are_usage_errors_that_change_nothing() {
    let env = Env::new();
    let root = app(&env, "");
    let before = env.refs(&root);
    for (args, says) in [
        (&["usage", "--by", "week"][..], "week"),
        (&["usage", "--since", "yesterday"], "yesterday"),
        (&["usage", "--since", "2026-02-31"], "2026-02-31"),
        (
            &["usage", "--by", "task", "--since", "7d"],
            "--by task --since",
        ),
        (
            &["usage", "--by", "model", "--since", "7d", "--scan"],
            "--by model --since",
        ),
        (&["usage", "--dry-run"], "--scan"),
    ] {
        let run = env.cn(&root, args).expect(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    let run = env.cn(&root, &["usage", "--since", "7x"]).expect(2);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert_eq!(env.refs(&root), before);
    let help = env.cn(&root, &["usage", "--help"]).expect(0).stdout;
    assert!(
        help.contains("Examples:") && help.contains("--since 7d"),
        "{help}"
    );
}

/// A turn read from a transcript, by hand: `extra` trailers replace or add
/// to an honest one's, `scanned_calls` is what its file says it counted.
fn forged_turn(env: &Env, root: &Path, extra: &[(&str, &str)], scanned_calls: u64) -> common::Run {
    let mut fields: Vec<(&str, &str)> = vec![
        ("Cli", "claude"),
        ("Session", "s-1"),
        ("Tokens-In", "100"),
        ("Tokens-Out", "10"),
        ("Cache-Read", "0"),
        ("Cache-Write", "0"),
        ("Cost-Usd", "0.5"),
        ("Duration-Ms", "0"),
        ("Outcome", "transcript"),
        ("Calls", "2"),
        ("Cost-Reported", "no"),
        ("Cost-Source", "prices"),
        ("Source", "transcript"),
        ("Model", "m-1"),
        ("At", "2026-12-06T10:00:00Z"),
    ];
    for (k, v) in extra {
        fields.retain(|(key, _)| key != k);
        if !v.is_empty() {
            fields.push((k, v));
        }
    }
    let seq: u64 = env
        .git(
            root,
            &[
                "log",
                "-1",
                "--format=%(trailers:key=Comm-Seq,valueonly)",
                "comm",
            ],
        )
        .parse()
        .unwrap();
    let mut message = format!(
        "turn api 1: transcript\n\nComm-Kind: turn\nComm-From: api\nComm-Id: forged-1\nComm-Seq: {}\n",
        seq + 1
    );
    for (k, v) in &fields {
        message.push_str(&format!("Comm-{k}: {v}\n"));
    }
    let t = "{turns: 1, input_tokens: 100, output_tokens: 10, cache_read_tokens: 0, cache_write_tokens: 0, cost_usd: 0.5, priced_cost_usd: 0.5, transcript_turns: 1}";
    let usage = format!(
        "domain: api\nturns: 1\ninput_tokens: 100\noutput_tokens: 10\ncache_read_tokens: 0\ncache_write_tokens: 0\ncost_usd: 0.5\npriced_cost_usd: 0.5\ntranscript_turns: 1\nduration_ms: 0\nlast_turn: \"turn api 1: transcript\"\nby_day:\n  2026-12-06: {t}\nby_model:\n  m-1: {t}\nscanned:\n  s-1:\n    m-1: {{turns: 1, calls: {scanned_calls}, input_tokens: 100, output_tokens: 10, cache_read_tokens: 0, cache_write_tokens: 0}}\n"
    );
    let index = env.path("forge.index");
    let _ = std::fs::remove_file(&index);
    let git = |args: &[&str], stdin: &str| git_plumbing(env, root, &index, args, stdin);
    let blob = git(&["hash-object", "-w", "--stdin"], &usage);
    git(&["read-tree", "comm"], "");
    let info = format!("100644,{blob},usage/api.yaml");
    git(&["update-index", "--add", "--cacheinfo", &info], "");
    let tree = git(&["write-tree"], "");
    let commit = git(&["commit-tree", &tree, "-p", "comm", "-F", "-"], &message);
    env.git(root, &["update-ref", "refs/heads/comm", &commit]);
    env.cn(root, &["verify"])
}

/// Trailers to change, the calls its file says were counted, the rule broken.
type Case<'a> = (&'a [(&'a str, &'a str)], u64, Option<&'a str>);

#[test]
fn verify_checks_where_a_turns_cost_comes_from_and_what_a_scan_counted() {
    let cases: [Case; 5] = [
        (&[], 2, None),
        (&[], 3, Some("does not hold the totals")),
        (
            &[("Cost-Source", "unpriced")],
            2,
            Some("an unpriced turn costs 0"),
        ),
        (
            &[("Cost-Reported", "")],
            2,
            Some("lacks Comm-Cost-Reported: no"),
        ),
        (
            &[("Cost-Source", "")],
            2,
            Some("is priced from the price table"),
        ),
    ];
    for (extra, calls, rule) in cases {
        let env = Env::new();
        let root = app(&env, "");
        let run = forged_turn(&env, &root, extra, calls);
        let all = format!("{}{}", run.stdout, run.stderr);
        match rule {
            None => assert_eq!(run.code, 0, "{extra:?}: {all}"),
            Some(rule) => {
                assert_ne!(run.code, 0, "{extra:?}: {all}");
                assert!(all.contains(rule), "{extra:?}: {all}");
            }
        }
    }
}
