//! `usage` benchmarks: the report as a whole CLI process on a `comm`
//! branch with 100k `turn` events (16 domains, 4,000 tasks, 90 days, 3
//! models), beside `--version` as the floor; and `usage --scan` over
//! generated Claude Code transcripts (1 GB by default) side by side with
//! `ccusage` (npm, pinned) on the same files.
//!
//! Run with `cargo bench --bench usage` (`-- --events N` for another
//! history size; `COMM_NODE_BENCH_SCAN_BYTES=100000000` for a quicker
//! scan part, `0` to skip it). Results go to stdout; BENCHMARKS.md
//! records them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use comm_node::comm::Event;
use comm_node::runtime::stream::Tokens;
use comm_node::runtime::usage::{CostSource, Turn, Usage, TURN_KIND};
use common::{fast_import, initialised, report, Hermetic, BIN};

/// The pinned ccusage release compared against (20.0.26 is newer on npm,
/// but its native linux-x64 package stops at 20.0.24).
const CCUSAGE_VERSION: &str = "20.0.24";
const DOMAINS: usize = 16;
const TASKS: u64 = 4_000;
const MODELS: [&str; 3] = [
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-5-20251101",
    "gpt-5.1-codex",
];

fn main() {
    let events: u64 = common::arg("events", 100_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let env = Hermetic::in_dir(dir.path());

    let t = Instant::now();
    let totals = setup(&env, &root, events);
    println!(
        "setup: {events} turn events on comm in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let want_turns: u64 = totals.values().map(|u| u.turns).sum();
    let want_out: u64 = totals.values().map(|u| u.output_tokens).sum();

    let mut floor = Vec::new();
    let mut by = BTreeMap::<&str, Vec<Duration>>::new();
    let cases: [(&str, &[&str]); 4] = [
        ("usage (by domain)", &["usage", "--json"]),
        ("usage --by task", &["usage", "--json", "--by", "task"]),
        ("usage --by model", &["usage", "--json", "--by", "model"]),
        (
            "usage --by day --since 30d",
            &["usage", "--json", "--by", "day", "--since", "30d"],
        ),
    ];
    for _ in 0..50 {
        let (d, out) = env.time(&root, &["--version"]);
        assert!(out.status.success());
        floor.push(d);
        for (name, args) in cases {
            let (d, out) = env.time(&root, args);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            if !args.contains(&"--since") {
                assert_eq!(v["total"]["turns"], want_turns, "{name}");
                assert_eq!(v["total"]["output_tokens"], want_out, "{name}");
            }
            by.entry(name).or_default().push(d);
        }
    }
    let floor = report("comm-node --version (the process floor)", &mut floor);
    for (name, mut times) in by {
        let p50 = report(&format!("{name} (CLI process, {events} turns)"), &mut times);
        println!(
            "  {name}: {:.2}x the floor (p50)",
            p50.as_secs_f64() / floor.as_secs_f64()
        );
    }

    // Cold: the report's cache removed before each run, so every
    // usage/<domain>.yaml is parsed again (what the first report after
    // turns in every domain pays).
    let cache = root.join(".git/comm-node/usage-v2");
    let mut cold = Vec::new();
    for _ in 0..20 {
        std::fs::remove_file(&cache).unwrap();
        let (d, out) = env.time(&root, &["usage", "--json"]);
        assert!(out.status.success());
        cold.push(d);
    }
    report(
        &format!("usage, cache removed first (CLI process, {events} turns)"),
        &mut cold,
    );

    let bytes: u64 = std::env::var("COMM_NODE_BENCH_SCAN_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    if bytes > 0 {
        scan(&env, &root, dir.path(), bytes);
    }
}

fn config() -> String {
    let mut c = String::from("project: bench\ndomains:\n");
    for d in 0..DOMAINS {
        c.push_str(&format!("  d{d:02}: {{scope: [\"d{d:02}/**\"]}}\n"));
    }
    c
}

/// The `i`th turn of the history: real shapes, spread over domains,
/// tasks, 90 days and three models (the Codex one priced from the table).
fn turn(i: u64) -> Turn {
    let task = i % TASKS;
    let domain = format!("d{:02}", task % DOMAINS as u64);
    let model = MODELS[(i % 3) as usize];
    let tokens = Tokens {
        input: 10 + i % 7,
        output: 200 + i % 13,
        cache_read: 20_000 + i % 101,
        cache_write: 1_000 + i % 17,
    };
    let codex = model.starts_with("gpt");
    let mut turn = Turn {
        domain,
        cli: if codex { "codex" } else { "claude" }.into(),
        session: format!("session-{}", i / 10),
        task: Some(format!("T-{task:04}")),
        tokens,
        cost_usd: 0.0,
        cost_text: "0".into(),
        cost_reported: !codex,
        cost_source: CostSource::Cli,
        transcript: false,
        duration_ms: 30_000,
        outcome: "success".into(),
        calls: 3,
        model: Some(model.into()),
        parent: None,
        // 90 days back from 2026-12-06.
        at: Some(1_796_947_200 - 90 * 86_400 + (i as i64 * 77) % (90 * 86_400)),
    };
    if codex {
        comm_node::spend::prices::price_turn(&mut turn, &Default::default());
    } else {
        turn.cost_usd = 0.0123;
        turn.cost_text = "0.0123".into();
    }
    turn
}

/// A repository whose comm holds `events` turn events (git fast-import,
/// packed) and, at the tip, the `usage/<domain>.yaml` totals those turns
/// produce (`Usage::plus`, what `record_turn` writes).
fn setup(env: &Hermetic, root: &Path, events: u64) -> BTreeMap<String, Usage> {
    let kickoff = initialised(env, root, &config());
    let mut child = fast_import(env, root);
    let mut stdin = std::io::BufWriter::new(child.stdin.take().unwrap());
    let mut totals: BTreeMap<String, Usage> = BTreeMap::new();
    for i in 0..events {
        let turn = turn(i);
        let usage = totals.entry(turn.domain.clone()).or_default();
        *usage = usage.plus(&turn);
        let mut event = Event::new(
            TURN_KIND,
            &turn.domain,
            format!(
                "turn {} {}: success, {} in / {} out tokens, ${}",
                turn.domain, usage.turns, turn.tokens.input, turn.tokens.output, turn.cost_text
            ),
        );
        usage.last_turn = Some(event.subject.clone());
        event.seq = kickoff.seq + 1 + i;
        event.fields = turn.fields();
        let msg = event.to_message();
        writeln!(stdin, "commit refs/heads/comm").unwrap();
        writeln!(
            stdin,
            "committer bench <bench@bench.invalid> {} +0000",
            turn.at.unwrap()
        )
        .unwrap();
        writeln!(stdin, "data {}\n{msg}", msg.len()).unwrap();
        if i == 0 {
            writeln!(stdin, "from {}", kickoff.commit).unwrap();
        }
        if i + 1 == events {
            for (domain, usage) in &totals {
                let yaml = serde_yaml::to_string(usage).unwrap();
                writeln!(
                    stdin,
                    "M 100644 inline usage/{domain}.yaml\ndata {}\n{yaml}",
                    yaml.len()
                )
                .unwrap();
            }
        }
        writeln!(stdin).unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    env.git(root, &["repack", "-adq"]);
    let bytes: usize = totals
        .values()
        .map(|u| serde_yaml::to_string(u).unwrap().len())
        .sum();
    println!(
        "usage/*.yaml on the tip: {} files, {} KiB",
        totals.len(),
        bytes / 1024
    );
    totals
}

/// `ccusage` from npm, installed once into the target dir.
fn ccusage() -> PathBuf {
    let prefix = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ccusage-npm");
    let bin = prefix.join("node_modules/.bin/ccusage");
    let version = |bin: &Path| {
        Command::new(bin)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    if !version(&bin).contains(CCUSAGE_VERSION) {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&prefix)
            .arg(format!("ccusage@{CCUSAGE_VERSION}"))
            .status()
            .expect("npm is installed");
        assert!(status.success(), "npm install ccusage failed");
    }
    assert!(version(&bin).contains(CCUSAGE_VERSION), "{}", version(&bin));
    bin
}

/// Writes about `bytes` of Claude Code transcripts for sessions in the
/// domains' worktrees (each API response as two lines sharing its ids,
/// as the CLI writes a response with two content blocks), returning the
/// deduplicated totals (input, output, cache read, cache write).
fn transcripts(projects: &Path, worktrees: &[PathBuf], bytes: u64) -> [u64; 4] {
    let pad = "x".repeat(700);
    let mut written = 0u64;
    let mut sum = [0u64; 4];
    let mut session = 0u64;
    let per_session = 8 << 20;
    while written < bytes {
        let cwd = &worktrees[(session % worktrees.len() as u64) as usize];
        let id = format!("00000000-0000-4000-8000-{session:012}");
        let path = projects
            .join(format!("-bench-{session}"))
            .join(format!("{id}.jsonl"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut here = 0u64;
        let mut n = 0u64;
        while here < per_session && written + here < bytes {
            let day = 1 + (session + n / 500) % 28;
            let at = format!(
                "2026-11-{day:02}T{:02}:{:02}:{:02}.000Z",
                n / 3600 % 24,
                n / 60 % 60,
                n % 60
            );
            let t = [3 + n % 5, 100 + n % 300, 20_000 + n % 997, 500 + n % 89];
            for k in 0..4 {
                sum[k] += t[k];
            }
            let user = format!(
                r#"{{"parentUuid":null,"isSidechain":false,"userType":"external","cwd":"{}","sessionId":"{id}","version":"2.1.328","type":"user","message":{{"role":"user","content":"{pad}"}},"uuid":"q{n}","timestamp":"{at}"}}"#,
                cwd.display()
            );
            writeln!(out, "{user}").unwrap();
            here += user.len() as u64 + 1;
            for block in 0..2 {
                let line = format!(
                    r#"{{"parentUuid":"q{n}","isSidechain":false,"userType":"external","cwd":"{}","sessionId":"{id}","version":"2.1.328","gitBranch":"domain/x","message":{{"id":"msg_{session}_{n}","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{{"type":"text","text":"{pad} {block}"}}],"stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":{},"cache_creation_input_tokens":{},"cache_read_input_tokens":{},"output_tokens":{},"service_tier":"standard"}}}},"requestId":"req_{session}_{n}","type":"assistant","uuid":"a{n}-{block}","timestamp":"{at}"}}"#,
                    cwd.display(),
                    t[0],
                    t[3],
                    t[2],
                    t[1]
                );
                writeln!(out, "{line}").unwrap();
                here += line.len() as u64 + 1;
            }
            n += 1;
        }
        written += here;
        session += 1;
    }
    println!(
        "transcripts: {:.0} MB in {session} sessions",
        written as f64 / 1e6
    );
    sum
}

fn scan(env: &Hermetic, root: &Path, dir: &Path, bytes: u64) {
    let worktrees: Vec<PathBuf> = (0..DOMAINS)
        .map(|d| {
            dir.join(format!("bench.worktrees/d{d:02}"))
                .canonicalize()
                .unwrap()
        })
        .collect();
    let config = dir.join("claude-config");
    let t = Instant::now();
    let want = transcripts(&config.join("projects"), &worktrees, bytes);
    println!("  written in {:.1} s", t.elapsed().as_secs_f64());
    let codex_home = dir.join("no-codex");
    let run = |program: &Path, args: &[&str]| {
        let t = Instant::now();
        let out = env
            .cmd(program.to_str().unwrap(), root)
            .args(args)
            .env("CLAUDE_CONFIG_DIR", &config)
            .env("CODEX_HOME", &codex_home)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            t.elapsed(),
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        )
    };
    let bin = Path::new(BIN);
    let ccusage = ccusage();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut last = (serde_json::Value::Null, serde_json::Value::Null);
    for _ in 0..3 {
        let (d, v) = run(bin, &["--json", "usage", "--scan", "--dry-run"]);
        ours.push(d);
        last.0 = v;
        let (d, v) = run(&ccusage, &["claude", "daily", "--json", "--offline"]);
        theirs.push(d);
        last.1 = v;
    }
    let mb = bytes as f64 / 1e6;
    let a = report(
        &format!("usage --scan --dry-run over {mb:.0} MB"),
        &mut ours,
    );
    let b = report(
        &format!("ccusage {CCUSAGE_VERSION} claude daily --json --offline over {mb:.0} MB"),
        &mut theirs,
    );
    println!(
        "  comm-node {:.0} MB/s, ccusage {:.0} MB/s; ccusage takes {:.2}x comm-node's time",
        mb / a.as_secs_f64(),
        mb / b.as_secs_f64(),
        b.as_secs_f64() / a.as_secs_f64()
    );
    let mut got = [0u64; 4];
    let mut cost = 0.0;
    for t in last.0["scan"]["turns"].as_array().unwrap() {
        for (k, key) in ["input", "output", "cache_read", "cache_write"]
            .iter()
            .enumerate()
        {
            got[k] += t[key].as_u64().unwrap();
        }
        cost += t["cost_usd"].as_f64().unwrap();
    }
    let c = &last.1["totals"];
    let theirs = [
        c["inputTokens"].as_u64().unwrap_or(0),
        c["outputTokens"].as_u64().unwrap_or(0),
        c["cacheReadTokens"].as_u64().unwrap_or(0),
        c["cacheCreationTokens"].as_u64().unwrap_or(0),
    ];
    println!("  tokens (in, out, cache read, cache write): written {want:?}, comm-node {got:?}, ccusage {theirs:?}");
    println!(
        "  cost: comm-node ${cost:.2} (price table), ccusage ${:.2}",
        c["totalCost"].as_f64().unwrap_or(0.0)
    );
    assert_eq!(got, want, "comm-node counts each response once");
    // One real scan: record the sessions as turn events.
    let (d, v) = run(bin, &["--json", "usage", "--scan"]);
    println!(
        "usage --scan (recording {} turns): {:.2} s",
        v["scan"]["turns"].as_array().unwrap().len(),
        d.as_secs_f64()
    );
    let (d, v) = run(bin, &["--json", "usage", "--scan"]);
    assert_eq!(v["scan"]["turns"], serde_json::json!([]));
    println!("usage --scan again (nothing new): {:.2} s", d.as_secs_f64());
}
