//! Verifying `comm`: every event's state change must be one its kind and
//! author may make ([`rules`]). Anyone who can write the repository can
//! write git objects and move refs by hand, so a forged claim or
//! reservation cannot be prevented, only found: `comm-node verify` finds
//! it, `sync` refuses to adopt a remote tip that holds one, and once one
//! is found on the local `comm` every writer refuses to build on it until
//! the human resolves it.
//!
//! Verification is incremental: the last verified commit is remembered in
//! `.git/comm-node/verified`, so a rerun checks only the newer events; a
//! bad commit is recorded in `.git/comm-node/bad-commit`, which writers
//! check with one failed `open` when there is none. Nothing here runs in
//! the hot path of `send`.

mod rules;

use std::path::Path;

use git2::Oid;
use serde::Serialize;

use super::{CommError, Event, COMM_REF};
use crate::git::Repo;
use crate::pathglob::PathGlob;

/// Allowed clock skew between clones when judging expiry (seconds).
const SKEW: i64 = 600;
/// Where the last verified commit is remembered.
const VERIFIED_FILE: &str = "verified";
/// Where a bad commit found on the local `comm` is recorded.
const BAD_FILE: &str = "bad-commit";

/// The first commit that breaks a rule.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    pub commit: String,
    pub subject: String,
    pub rule: String,
}

/// What a verification found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Events checked this time.
    pub checked: usize,
    /// The commit verification started after (`None`: the kickoff).
    pub since: Option<String>,
    /// The tip verified up to.
    pub tip: Option<String>,
    /// The first bad commit, if any (nothing after it was checked).
    pub bad: Option<Violation>,
}

/// Verifies the local `comm` after `since` (default: after the last
/// verified commit). Records a bad commit for the writers, or forgets an
/// old one when the tip no longer contains it.
pub fn verify(repo: &Repo, since: Option<Oid>) -> Result<Verification, CommError> {
    let tip = repo.ref_tip(COMM_REF)?;
    let start = match since {
        Some(rev) => Some(rev),
        None => remembered_start(repo, tip)?,
    };
    let (checked, bad) = match tip {
        Some(tip) => check_range(repo, start, tip)?,
        None => (0, None),
    };
    match &bad {
        Some((good, violation)) => {
            remember(repo, VERIFIED_FILE, *good)?;
            write_state(repo, BAD_FILE, &format!("{}\n", violation.commit))?;
        }
        None => {
            if let Some(tip) = tip {
                remember(repo, VERIFIED_FILE, Some(tip))?;
            }
            forget(repo, BAD_FILE)?;
        }
    }
    Ok(Verification {
        checked,
        since: start.map(|s| s.to_string()),
        tip: tip.map(|t| t.to_string()),
        bad: bad.map(|(_, v)| v),
    })
}

/// The human's decision that `commit` (the recorded bad one) is legitimate:
/// verification goes on after it and writers build on it again.
pub fn accept(repo: &Repo, commit: Oid) -> Result<(), CommError> {
    let tip = repo.ref_tip(COMM_REF)?;
    if !tip.is_some_and(|t| repo.is_ancestor(commit, t).unwrap_or(false)) {
        return Err(CommError::invalid(
            format!("{commit} is not on comm"),
            "accept the bad commit comm-node verify reported",
        ));
    }
    remember(repo, VERIFIED_FILE, Some(commit))?;
    forget(repo, BAD_FILE)
}

/// Refuses to build on a `tip` that contains a recorded bad commit (what
/// every writer calls before appending).
pub fn refuse_bad_base(repo: &Repo, tip: Option<Oid>) -> Result<(), CommError> {
    let Ok(text) = std::fs::read_to_string(repo.state_path(BAD_FILE)) else {
        return Ok(());
    };
    let (Some(tip), Ok(bad)) = (tip, Oid::from_str(text.trim())) else {
        return Ok(());
    };
    if !repo.is_ancestor(bad, tip).unwrap_or(false) {
        return Ok(());
    }
    Err(CommError::Refused {
        message: format!(
            "comm holds the bad commit {bad} found by comm-node verify; nothing is written on top of it"
        ),
        hint: format!(
            "the human resolves it: `comm-node verify` says what is wrong; reset comm to before it (git update-ref refs/heads/comm {bad}^ and replay what should stay), or accept it with `comm-node verify --accept {bad}` in the main checkout"
        ),
    })
}

/// Checks what adopting the remote tip `theirs` would bring in (the
/// commits not reachable from `ours`); refused at the first bad one.
pub fn check_remote(
    repo: &Repo,
    remote: &str,
    ours: Option<Oid>,
    theirs: Oid,
) -> Result<(), CommError> {
    let base = match ours {
        Some(o) => repo.merge_base(o, theirs)?,
        None => None,
    };
    let Some((_, v)) = check_range(repo, base, theirs)?.1 else {
        return Ok(());
    };
    Err(CommError::Refused {
        message: format!(
            "the comm of `{remote}` holds a commit that breaks the rules; nothing was adopted:\n  {} {}: {}",
            v.commit, v.subject, v.rule
        ),
        hint: format!(
            "inspect it with `git show {}`; the human repairs {remote}'s comm (push it back to before that commit), then run comm-node sync again",
            v.commit
        ),
    })
}

/// How many events were checked, and the first bad one with the last good
/// commit before it.
type Found = (usize, Option<(Option<Oid>, Violation)>);

/// Checks the events after `start` up to `tip`, oldest first.
fn check_range(repo: &Repo, start: Option<Oid>, tip: Oid) -> Result<Found, CommError> {
    let mut commits = Vec::new();
    repo.walk_first_parent(tip, |id, _, _| {
        if Some(id) == start {
            return std::ops::ControlFlow::Break(());
        }
        commits.push(id);
        std::ops::ControlFlow::Continue(())
    })?;
    let judge = rules::Judge {
        repo,
        shared: shared_globs(repo),
        horizon: crate::clock::now().saturating_add(SKEW),
    };
    let checked = commits.len();
    let mut good = start;
    for (n, commit) in commits.into_iter().rev().enumerate() {
        if let Some(rule) = judge.judge(commit)? {
            let message = repo.commit_message(commit)?;
            let subject = Event::parse(&message)
                .map(|e| e.subject)
                .unwrap_or_else(|| message.lines().next().unwrap_or_default().to_owned());
            let violation = Violation {
                commit: commit.to_string(),
                subject,
                rule,
            };
            return Ok((n + 1, Some((good, violation))));
        }
        good = Some(commit);
    }
    Ok((checked, None))
}

/// Where an incremental run starts: after the remembered commit when the
/// tip still contains it, else after where the tip and it part (a rewrite).
fn remembered_start(repo: &Repo, tip: Option<Oid>) -> Result<Option<Oid>, CommError> {
    let remembered = std::fs::read_to_string(repo.state_path(VERIFIED_FILE))
        .ok()
        .and_then(|t| Oid::from_str(t.trim()).ok())
        .filter(|id| repo.has_commit(*id));
    let (Some(seen), Some(tip)) = (remembered, tip) else {
        return Ok(None);
    };
    Ok(repo.merge_base(seen, tip)?)
}

/// The `shared` globs of the project's comm.yaml (none without one).
fn shared_globs(repo: &Repo) -> Vec<PathGlob> {
    crate::project::load_config(repo)
        .map(|l| l.config.shared)
        .unwrap_or_default()
        .iter()
        .filter_map(|g| PathGlob::new(g).ok())
        .collect()
}

fn remember(repo: &Repo, name: &str, commit: Option<Oid>) -> Result<(), CommError> {
    match commit {
        Some(c) => write_state(repo, name, &format!("{c}\n")),
        None => forget(repo, name),
    }
}

fn write_state(repo: &Repo, name: &str, text: &str) -> Result<(), CommError> {
    let path = repo.state_path(name);
    crate::cachefile::write_atomic(&path, text).map_err(|e| io_error(&path, e))
}

fn forget(repo: &Repo, name: &str) -> Result<(), CommError> {
    let path = repo.state_path(name);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(&path, e)),
        _ => Ok(()),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> CommError {
    CommError::Git(crate::git::GitError {
        context: format!("cannot write {}", path.display()),
        source: git2::Error::from_str(&e.to_string()),
    })
}
