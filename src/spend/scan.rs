//! `usage --scan`: sessions run by hand count too. Reads Claude Code
//! transcripts (`projects/**/*.jsonl`) and Codex rollouts
//! (`sessions/**/rollout-*.jsonl`) whose recorded working directory (the
//! `cwd` in their lines, never the folder name) is inside a domain
//! worktree, and records what they hold beyond what earlier scans counted
//! as `turn` events of that domain, marked `Comm-Source: transcript` and
//! priced from the price table.
//!
//! The traps, and how each is kept out:
//! - Claude Code writes one API response as several lines sharing
//!   `message.id` + `requestId`: counted once (the largest figure of each
//!   kind its lines carry), across all files, so a forked session's
//!   replayed copy of its parent's responses is counted in one session
//!   only (the one that started first; on a tie, one already counted).
//! - Codex's `token_count` totals are cumulative and re-emitted unchanged:
//!   a session's usage is the deltas of its cumulative total. A fork
//!   (`session_meta.forked_from_id`) replays its parent's totals first:
//!   its own usage starts after the last total it shares with its parent.
//! - What was counted per session and model is kept on comm
//!   (`scanned` in `usage/<domain>.yaml`, checked by verify): a scan
//!   records only the part beyond it, so a second scan adds nothing and
//!   lines appended since add only their own.
//! - Sessions `up` ran (a `Comm-Session` of a turn not from a transcript)
//!   are skipped: their turns are on comm already.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::prices;
use super::SpendError;
use crate::comm::{self, COMM_REF};
use crate::config::Prices;
use crate::git::Repo;
use crate::runtime::stream::Tokens;
use crate::runtime::usage::{record_turn, CostSource, Turn, Usage, UNKNOWN_MODEL};

/// Where the transcripts are.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Claude Code's `projects` folder (`$CLAUDE_CONFIG_DIR/projects`).
    pub claude: Option<PathBuf>,
    /// Codex's `sessions` folder (`$CODEX_HOME/sessions`).
    pub codex: Option<PathBuf>,
}

/// One turn the scan records (or would, with `--dry-run`).
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub domain: String,
    pub cli: String,
    pub session: String,
    pub model: String,
    #[serde(flatten)]
    pub tokens: Tokens,
    /// API responses (Claude) or growths of the cumulative total (Codex).
    pub calls: u64,
    /// The newest line counted, RFC 3339.
    pub at: String,
    pub cost_usd: f64,
    /// `prices` or `unpriced`.
    pub cost_source: &'static str,
    /// The event recorded, unless a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// What a scan read and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scanned {
    pub dry_run: bool,
    /// Transcript files read.
    pub files: usize,
    /// Sessions whose working directory is in no domain worktree.
    pub outside: usize,
    /// Sessions `up` ran, skipped.
    pub skipped_up: Vec<String>,
    pub turns: Vec<Found>,
}

/// Scans `sources` for sessions in the worktrees of `domains` (name and
/// path) and records what is new, or only says what with `dry_run`.
pub fn scan(
    repo: &Repo,
    domains: &[(String, PathBuf)],
    sources: &Sources,
    price_list: &Prices,
    dry_run: bool,
) -> Result<Scanned, SpendError> {
    let worktrees: Vec<(String, PathBuf)> = domains
        .iter()
        .map(|(d, p)| (d.clone(), p.canonicalize().unwrap_or_else(|_| p.clone())))
        .collect();
    // Two recording scans at once would both count what neither has
    // recorded yet: the second waits for the first, then finds it on comm.
    let _lock = if dry_run {
        None
    } else {
        Some(scan_lock(repo).map_err(|e| SpendError::Io(e.to_string()))?)
    };
    let totals = super::read_totals(repo)?;
    let mut out = Scanned {
        dry_run,
        ..Scanned::default()
    };
    let mut sessions: Vec<Session> = Vec::new();
    if let Some(dir) = &sources.claude {
        let files = jsonl_files(dir, |_| true);
        out.files += files.len();
        sessions.extend(claude_sessions(&files, &totals));
    }
    if let Some(dir) = &sources.codex {
        let files = jsonl_files(dir, |name| name.starts_with("rollout-"));
        out.files += files.len();
        sessions.extend(codex_sessions(&files));
    }
    let up_sessions = up_sessions(repo)?;
    for session in sessions {
        let Some(domain) = session
            .cwd
            .as_deref()
            .and_then(|c| domain_of(c, &worktrees))
        else {
            out.outside += 1;
            continue;
        };
        if up_sessions.contains(&session.id) {
            out.skipped_up.push(session.id.clone());
            continue;
        }
        let counted = totals
            .get(&domain)
            .and_then(|u| u.scanned.get(&session.id))
            .cloned()
            .unwrap_or_default();
        for (model, seen) in &session.by_model {
            let before = counted.get(model).copied().unwrap_or_default();
            let tokens = Tokens {
                input: seen.tokens.input.saturating_sub(before.input_tokens),
                output: seen.tokens.output.saturating_sub(before.output_tokens),
                cache_read: seen
                    .tokens
                    .cache_read
                    .saturating_sub(before.cache_read_tokens),
                cache_write: seen
                    .tokens
                    .cache_write
                    .saturating_sub(before.cache_write_tokens),
            };
            if tokens == Tokens::default() {
                continue;
            }
            let mut turn = Turn {
                domain: domain.clone(),
                cli: session.cli.to_owned(),
                session: session.id.clone(),
                task: None,
                tokens,
                cost_usd: 0.0,
                cost_text: "0".into(),
                cost_reported: false,
                cost_source: CostSource::Unpriced,
                transcript: true,
                duration_ms: 0,
                outcome: "transcript".into(),
                calls: seen.calls.saturating_sub(before.calls),
                model: Some(model.clone()),
                parent: None,
                at: Some(seen.at),
            };
            prices::price_turn(&mut turn, price_list);
            let event = if dry_run {
                None
            } else {
                Some(record_turn(repo, &turn)?.event.id)
            };
            out.turns.push(Found {
                domain: domain.clone(),
                cli: turn.cli.clone(),
                session: turn.session.clone(),
                model: model.clone(),
                tokens,
                calls: turn.calls,
                at: crate::clock::format_rfc3339(seen.at),
                cost_usd: turn.cost_usd,
                cost_source: turn.cost_source.field().unwrap_or("cli"),
                event,
            });
        }
    }
    Ok(out)
}

/// The lock one recording scan at a time holds (`.git/comm-node/usage-scan.lock`).
fn scan_lock(repo: &Repo) -> std::io::Result<std::fs::File> {
    use std::os::unix::io::AsRawFd;
    let path = repo.state_path("usage-scan.lock");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&path)?;
    // SAFETY: flock on a descriptor owned by `file`; released when it drops.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(file)
}

/// One session found in transcripts: where it ran and what it used, per model.
#[derive(Debug, Default)]
struct Session {
    cli: &'static str,
    id: String,
    cwd: Option<String>,
    by_model: BTreeMap<String, Seen>,
}

/// A session's usage of one model, all told.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    tokens: Tokens,
    calls: u64,
    /// The newest line counted (seconds).
    at: i64,
}

impl Seen {
    fn add(&mut self, tokens: &Tokens, at: i64) {
        self.tokens.input += tokens.input;
        self.tokens.output += tokens.output;
        self.tokens.cache_read += tokens.cache_read;
        self.tokens.cache_write += tokens.cache_write;
        self.calls += 1;
        self.at = self.at.max(at);
    }
}

/// The domain whose worktree holds `cwd` (the deepest, if nested).
fn domain_of(cwd: &str, worktrees: &[(String, PathBuf)]) -> Option<String> {
    let path = Path::new(cwd);
    let canonical = path.canonicalize().ok();
    worktrees
        .iter()
        .filter(|(_, wt)| {
            path.starts_with(wt) || canonical.as_ref().is_some_and(|c| c.starts_with(wt))
        })
        .max_by_key(|(_, wt)| wt.as_os_str().len())
        .map(|(d, _)| d.clone())
}

/// The `.jsonl` files under `dir` whose name passes `keep`, sorted.
fn jsonl_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.ends_with(".jsonl") && keep(&name) {
                    out.push(path);
                }
            }
        }
    }
    out.sort();
    out
}

/// The cache of the sessions `up` recorded turns of, under
/// `.git/comm-node/`: the comm tip it was computed at, then one session
/// per line. A later scan walks only the events after that tip (the
/// whole history again if comm was rewritten under it).
pub const UP_SESSIONS_CACHE: &str = "usage-up-sessions";

/// Sessions `up` recorded turns of (their turns are not from transcripts).
fn up_sessions(repo: &Repo) -> Result<HashSet<String>, SpendError> {
    let tip = repo.ref_tip(COMM_REF).map_err(comm::CommError::from)?;
    let Some(tip) = tip else {
        return Ok(HashSet::new());
    };
    let path = repo.state_path(UP_SESSIONS_CACHE);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut lines = text.lines();
    let cached_tip = lines.next().and_then(|l| git2::Oid::from_str(l).ok());
    let mut out = HashSet::new();
    let mut reached = false;
    comm::walk(repo, Some(tip), |logged| {
        if Some(logged.commit) == cached_tip {
            reached = true;
            return ControlFlow::Break(());
        }
        if let Some(turn) = Turn::from_event(&logged.event) {
            if !turn.transcript {
                out.insert(turn.session);
            }
        }
        ControlFlow::Continue(())
    })?;
    if reached {
        out.extend(lines.map(str::to_owned));
    }
    if cached_tip != Some(tip) {
        let mut text = format!("{tip}\n");
        let mut sorted: Vec<&String> = out.iter().collect();
        sorted.sort();
        for s in sorted {
            // Session ids are the CLIs' own: keep only what fits a line.
            if !s.contains(['\n', '\r']) {
                text.push_str(s);
                text.push('\n');
            }
        }
        let _ = crate::cachefile::write_atomic(&path, &text);
    }
    Ok(out)
}

/// Reads `path` line by line, giving each line that contains one of
/// `needles` (a cheap filter before parsing JSON).
fn lines_with(path: &Path, needles: &[&str], mut each: impl FnMut(&str)) {
    let Ok(file) = std::fs::File::open(path) else {
        return;
    };
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if needles.iter().any(|n| line.contains(n)) {
                    each(&line);
                }
            }
        }
    }
}

// ---- Claude Code transcripts ----

#[derive(Deserialize)]
struct ClaudeLine {
    #[serde(rename = "type")]
    kind: Option<String>,
    cwd: Option<String>,
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
    timestamp: Option<String>,
    #[serde(rename = "requestId")]
    request_id: Option<String>,
    message: Option<ClaudeMessage>,
}

#[derive(Deserialize)]
struct ClaudeMessage {
    id: Option<String>,
    model: Option<String>,
    usage: Option<ClaudeUsage>,
}

#[derive(Deserialize, Default)]
struct ClaudeUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
}

/// One API response, however many lines wrote it.
struct Response {
    tokens: Tokens,
    model: String,
    at: i64,
    /// The sessions whose transcripts hold it (more than one after a fork).
    sessions: Vec<u32>,
}

fn key_of(message: &str, request: &str) -> (u64, u64) {
    let mut a = std::collections::hash_map::DefaultHasher::new();
    (message, request).hash(&mut a);
    let mut b = std::collections::hash_map::DefaultHasher::new();
    (request, message, 1u8).hash(&mut b);
    (a.finish(), b.finish())
}

fn claude_sessions(files: &[PathBuf], totals: &BTreeMap<String, Usage>) -> Vec<Session> {
    let mut ids: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut cwd: Vec<Option<String>> = Vec::new();
    let mut start: Vec<i64> = Vec::new();
    let mut responses: HashMap<(u64, u64), Response> = HashMap::new();
    let mut unkeyed = 0u64;
    for file in files {
        lines_with(file, &["\"usage\""], |line| {
            let Ok(l) = serde_json::from_str::<ClaudeLine>(line) else {
                return;
            };
            if l.kind.as_deref() != Some("assistant") {
                return;
            }
            let (Some(session), Some(message)) = (l.session_id, l.message) else {
                return;
            };
            let Some(usage) = message.usage else { return };
            let model = message.model.unwrap_or_else(|| UNKNOWN_MODEL.to_owned());
            if model == "<synthetic>" {
                return;
            }
            let at = l
                .timestamp
                .as_deref()
                .and_then(crate::clock::parse_rfc3339)
                .unwrap_or(0);
            let s = *index.entry(session.clone()).or_insert_with(|| {
                ids.push(session);
                cwd.push(None);
                start.push(i64::MAX);
                (ids.len() - 1) as u32
            });
            let si = s as usize;
            if cwd[si].is_none() {
                cwd[si] = l.cwd;
            }
            start[si] = start[si].min(at);
            let tokens = Tokens {
                input: usage.input_tokens,
                output: usage.output_tokens,
                cache_read: usage.cache_read_input_tokens,
                cache_write: usage.cache_creation_input_tokens,
            };
            let key = match (&message.id, &l.request_id) {
                (Some(m), Some(r)) => key_of(m, r),
                // Without both ids a line cannot be matched: its own response.
                _ => {
                    unkeyed += 1;
                    (u64::MAX, unkeyed)
                }
            };
            let r = responses.entry(key).or_insert_with(|| Response {
                tokens: Tokens::default(),
                model,
                at,
                sessions: Vec::new(),
            });
            r.tokens.input = r.tokens.input.max(tokens.input);
            r.tokens.output = r.tokens.output.max(tokens.output);
            r.tokens.cache_read = r.tokens.cache_read.max(tokens.cache_read);
            r.tokens.cache_write = r.tokens.cache_write.max(tokens.cache_write);
            r.at = r.at.min(at);
            if !r.sessions.contains(&s) {
                r.sessions.push(s);
            }
        });
    }
    // Sessions a scan counted before keep what they counted.
    let counted: BTreeSet<&str> = totals
        .values()
        .flat_map(|u| u.scanned.keys().map(String::as_str))
        .collect();
    let rank = |s: u32| {
        let i = s as usize;
        (start[i], !counted.contains(ids[i].as_str()), ids[i].clone())
    };
    let mut sessions: Vec<Session> = ids
        .iter()
        .zip(cwd)
        .map(|(id, cwd)| Session {
            cli: "claude",
            id: id.clone(),
            cwd,
            by_model: BTreeMap::new(),
        })
        .collect();
    for r in responses.values() {
        let owner = if r.sessions.len() == 1 {
            r.sessions[0]
        } else {
            *r.sessions
                .iter()
                .min_by_key(|s| rank(**s))
                .expect("a response has a session")
        };
        sessions[owner as usize]
            .by_model
            .entry(r.model.clone())
            .or_default()
            .add(&r.tokens, r.at);
    }
    sessions
}

// ---- Codex rollouts ----

#[derive(Deserialize)]
struct CodexLine {
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    payload: Option<CodexPayload>,
}

#[derive(Deserialize)]
struct CodexPayload {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    cwd: Option<String>,
    forked_from_id: Option<String>,
    model: Option<String>,
    info: Option<CodexInfo>,
}

#[derive(Deserialize)]
struct CodexInfo {
    total_token_usage: Option<CodexUsage>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Hash, Default)]
struct CodexUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    cached_input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

/// One rollout as read: its session, where it ran, and its cumulative
/// totals in order with the model in use at each.
#[derive(Default)]
struct Rollout {
    id: Option<String>,
    cwd: Option<String>,
    forked_from: Option<String>,
    totals: Vec<(CodexUsage, String, i64)>,
}

fn read_rollout(path: &Path) -> Rollout {
    let mut r = Rollout::default();
    let mut model = UNKNOWN_MODEL.to_owned();
    lines_with(
        path,
        &["\"session_meta\"", "\"turn_context\"", "\"token_count\""],
        |line| {
            let Ok(l) = serde_json::from_str::<CodexLine>(line) else {
                return;
            };
            let Some(p) = l.payload else { return };
            match l.kind.as_str() {
                // The first is the session's own; a fork then replays its parent's.
                "session_meta" if r.id.is_none() => {
                    r.id = p.id;
                    r.cwd = p.cwd;
                    r.forked_from = p.forked_from_id;
                }
                "turn_context" => {
                    if let Some(m) = p.model {
                        model = m;
                    }
                    if r.cwd.is_none() {
                        r.cwd = p.cwd;
                    }
                }
                "event_msg" if p.kind.as_deref() == Some("token_count") => {
                    if let Some(total) = p.info.and_then(|i| i.total_token_usage) {
                        let at = l
                            .timestamp
                            .as_deref()
                            .and_then(crate::clock::parse_rfc3339)
                            .unwrap_or(0);
                        r.totals.push((total, model.clone(), at));
                    }
                }
                _ => {}
            }
        },
    );
    r
}

fn codex_sessions(files: &[PathBuf]) -> Vec<Session> {
    let rollouts: Vec<Rollout> = files.iter().map(|f| read_rollout(f)).collect();
    let by_id: HashMap<&str, &Rollout> = rollouts
        .iter()
        .filter_map(|r| r.id.as_deref().map(|id| (id, r)))
        .collect();
    let mut sessions: BTreeMap<String, Session> = BTreeMap::new();
    for r in &rollouts {
        let Some(id) = &r.id else { continue };
        // A fork's own usage starts after the last total it shares with
        // its parent (the replayed prefix); without its parent's rollout,
        // after its first total (the start of the replay).
        let replayed = r.forked_from.as_ref().and_then(|parent| {
            let shared: HashSet<CodexUsage> = by_id
                .get(parent.as_str())
                .map(|p| p.totals.iter().map(|t| t.0).collect())
                .unwrap_or_default();
            if shared.is_empty() {
                (!r.totals.is_empty()).then_some(0)
            } else {
                r.totals.iter().rposition(|t| shared.contains(&t.0))
            }
        });
        let (mut prev, from) = match replayed {
            Some(i) => (r.totals[i].0, i + 1),
            None => (CodexUsage::default(), 0),
        };
        let session = sessions.entry(id.clone()).or_insert_with(|| Session {
            cli: "codex",
            id: id.clone(),
            cwd: r.cwd.clone(),
            by_model: BTreeMap::new(),
        });
        for (total, model, at) in r.totals.iter().skip(from) {
            let grew = |now: u64, was: u64| now.saturating_sub(was);
            let input = grew(total.input_tokens, prev.input_tokens);
            let cached = grew(total.cached_input_tokens, prev.cached_input_tokens);
            let output = grew(total.output_tokens, prev.output_tokens);
            prev = CodexUsage {
                input_tokens: prev.input_tokens.max(total.input_tokens),
                cached_input_tokens: prev.cached_input_tokens.max(total.cached_input_tokens),
                output_tokens: prev.output_tokens.max(total.output_tokens),
            };
            if input == 0 && cached == 0 && output == 0 {
                // Re-emitted unchanged.
                continue;
            }
            let tokens = Tokens {
                // Codex's input count includes the cached part.
                input: input.saturating_sub(cached),
                output,
                cache_read: cached,
                cache_write: 0,
            };
            session
                .by_model
                .entry(model.clone())
                .or_default()
                .add(&tokens, *at);
        }
    }
    sessions.into_values().collect()
}
