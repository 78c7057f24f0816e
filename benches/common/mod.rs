//! What the bench binaries share: a hermetic environment for running git
//! and comm-node, an initialised repository whose comm history is then
//! written with `git fast-import`, and percentile reports.

#![allow(dead_code)] // each bench uses a different part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_comm-node");

/// Runs git and comm-node with their own HOME and no system config.
pub struct Hermetic {
    pub home: PathBuf,
}

impl Hermetic {
    pub fn cmd(&self, program: &str, dir: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir)
            .env_remove("CLAUDE_CONFIG_DIR")
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "bench")
            .env("GIT_AUTHOR_EMAIL", "bench@bench.invalid")
            .env("GIT_COMMITTER_NAME", "bench")
            .env("GIT_COMMITTER_EMAIL", "bench@bench.invalid");
        cmd
    }

    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.cmd("git", dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn time(&self, dir: &Path, args: &[&str]) -> (Duration, std::process::Output) {
        let t = Instant::now();
        let out = self.cmd(BIN, dir).args(args).output().unwrap();
        (t.elapsed(), out)
    }
}

/// The value after `--NAME` on the bench's command line, or `default`.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let flag = format!("--{name}");
    std::env::args()
        .skip_while(|a| *a != flag)
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Hermetic {
    /// A hermetic environment whose HOME is `dir/home` (created).
    pub fn in_dir(dir: &Path) -> Hermetic {
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        Hermetic { home }
    }
}

/// Prints percentiles of `times` (sorted in place) in milliseconds; the
/// median.
pub fn report(what: &str, times: &mut [Duration]) -> Duration {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
    println!(
        "{what}: n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms min={:.2} ms",
        times.len(),
        pick(0.5),
        pick(0.9),
        pick(0.99),
        ms(times[0])
    );
    times[(times.len() - 1) / 2]
}

/// CPU time (user + system) of the finished child processes so far, from
/// `/proc/self/stat` (clock ticks of 10 ms): differences over many runs give
/// a per-process CPU cost that other load on the machine does not inflate.
pub fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; cutime and cstime are
    // fields 16 and 17 of the whole line.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(13).copied().unwrap_or(0) + fields.get(14).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Where a history written with `git fast-import` continues: the comm tip
/// after `comm-node init` and its `Comm-Seq`.
pub struct Kickoff {
    pub commit: String,
    pub seq: u64,
}

/// A repository at `root` whose `main` holds `config` as comm.yaml, after
/// `comm-node init`.
pub fn initialised(env: &Hermetic, root: &Path, config: &str) -> Kickoff {
    std::fs::create_dir_all(root).unwrap();
    env.git(root, &["init", "-q", "-b", "main"]);
    std::fs::write(root.join("comm.yaml"), config).unwrap();
    commit_and_init(env, root);
    let trailer = "--format=%(trailers:key=Comm-Seq,valueonly)";
    Kickoff {
        commit: env.git(root, &["rev-parse", "comm"]),
        seq: env
            .git(root, &["log", "-1", trailer, "comm"])
            .trim()
            .parse()
            .unwrap(),
    }
}

/// Commits everything in `root` on its `main` and runs `comm-node init`.
pub fn commit_and_init(env: &Hermetic, root: &Path) {
    env.git(root, &["add", "-A"]);
    env.git(root, &["commit", "-qm", "bench repo"]);
    let out = env.cmd(BIN, root).arg("init").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes, in the fast-import commit being built on `stdin`, each of
/// `readers`' cursor at `seq` (everything up to it read).
pub fn write_cursors<'a>(
    stdin: &mut impl std::io::Write,
    readers: impl IntoIterator<Item = &'a str>,
    seq: u64,
) {
    let cursor = format!("seq: {seq}\nacked: []\n");
    for reader in readers {
        writeln!(
            stdin,
            "M 100644 inline cursors/{reader}.yaml\ndata {}\n{cursor}",
            cursor.len()
        )
        .unwrap();
    }
}

/// `git fast-import --quiet --force` in `root`, reading commits on its stdin.
pub fn fast_import(env: &Hermetic, root: &Path) -> std::process::Child {
    env.cmd("git", root)
        .args(["fast-import", "--quiet", "--force"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Imports `tasks` tasks spread evenly over `domains` as beads JSONL
/// (files under `scratch`): a third closed, 0-3 `blocks` dependencies on
/// earlier tasks, convoys of 50 (`parent-child`); the same board every run.
pub fn import_beads_board(
    env: &Hermetic,
    root: &Path,
    scratch: &Path,
    domains: &[String],
    tasks: usize,
) {
    let per_domain = tasks / domains.len();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut rand = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for (d, domain) in domains.iter().enumerate() {
        let mut jsonl = String::new();
        for i in 0..per_domain {
            let n = d * per_domain + i;
            let status = if rand(3) == 0 { "closed" } else { "open" };
            let mut deps = Vec::new();
            for _ in 0..rand(4) {
                if n > 0 {
                    let target = rand(n);
                    deps.push(format!(
                        "{{\"issue_id\":\"bd-{n}\",\"depends_on_id\":\"bd-{target}\",\"type\":\"blocks\"}}"
                    ));
                }
            }
            if i % 50 != 0 && rand(5) == 0 {
                let parent = d * per_domain + i / 50 * 50;
                deps.push(format!(
                    "{{\"issue_id\":\"bd-{n}\",\"depends_on_id\":\"bd-{parent}\",\"type\":\"parent-child\"}}"
                ));
            }
            jsonl.push_str(&format!(
                "{{\"_type\":\"issue\",\"id\":\"bd-{n}\",\"title\":\"{domain} work item {i}: implement the next piece\",\"status\":\"{status}\",\"priority\":{},\"issue_type\":\"task\",\"created_at\":\"2026-01-01T00:00:00Z\",\"updated_at\":\"2026-01-01T00:00:00Z\",\"dependencies\":[{}]}}\n",
                rand(5),
                deps.join(",")
            ));
        }
        let file = scratch.join(format!("{domain}.jsonl"));
        std::fs::write(&file, jsonl).unwrap();
        let out = env
            .cmd(BIN, root)
            .args(["--as", "human", "task", "import", "--beads"])
            .arg(&file)
            .args(["--domain", domain])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
