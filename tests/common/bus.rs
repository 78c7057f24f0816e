//! The message bus harness: a small two-domain repository, raw runs with
//! stdin, and readers of comm's trailers (`test_bus.rs`,
//! `test_bus_writers.rs`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Env, Run, BIN};
use serde_json::Value;

pub const SMALL: &str = "project: app
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
pub fn bus(env: &Env, extra: &str) -> PathBuf {
    let config = format!("{SMALL}{extra}");
    env.app(&[
        ("comm.yaml", config.as_str()),
        ("api/a.ts", "export const a = 1;\n"),
        ("web/w.ts", "export {};\n"),
    ])
}

/// Runs `program ARGS` in `dir` with `stdin` fed in; raw stdout bytes.
pub fn run_raw(
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
pub fn cn_stdin(env: &Env, dir: &Path, args: &[&str], stdin: &str) -> Run {
    let (code, stdout, stderr) = run_raw(env, dir, BIN, args, stdin.as_bytes());
    Run {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
    }
}

pub fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout))
}

pub fn tip(env: &Env, root: &Path) -> String {
    env.git(root, &["rev-parse", "comm"])
}

/// The value of trailer `key` of commit `rev`, as git's own parser reads it
/// (one line per occurrence).
pub fn trailer(env: &Env, root: &Path, rev: &str, key: &str) -> String {
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
pub fn trailers_on_comm(env: &Env, root: &Path, key: &str) -> Vec<String> {
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
pub fn assert_seq_contiguous(env: &Env, root: &Path) {
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
pub fn sent_id(run: Run) -> String {
    let run = run.expect(0);
    let id = run.stdout.trim().to_owned();
    assert!(looks_like_id(&id), "not an id: {:?}", run.stdout);
    id
}

pub fn looks_like_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 2
        && !parts[0].is_empty()
        && parts[1].len() == 10
        && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

pub fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts that `id` is carried by exactly one commit on comm, which is a
/// `msg` from `from` to `to` with all the message trailers.
#[track_caller]
pub fn assert_one_msg_commit(env: &Env, root: &Path, id: &str, from: &str, to: &str) {
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
