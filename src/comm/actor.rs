//! Who is acting: the domain of the worktree the process really runs in,
//! or the `--as NAME` (or `COMM_NODE_AS`) given outside any domain
//! worktree, or `human` in the main checkout when nobody is named. A domain can never
//! act as another: inside a domain worktree `--as` may only repeat its own
//! name, and `-C` cannot lead out of it (the process's own working
//! directory decides, wherever `-C` points).
//!
//! A worktree's domain is read from three clues that `init` leaves and
//! that each survive the loss of the others: the marker file in its private
//! git dir, its checked-out `domain/<name>` branch, and its worktree name.
//! Clues that disagree are refused rather than guessed between.

use super::CommError;
use crate::config::Config;
use crate::git::{DomainClues, Repo};

/// The name the person steering acts as.
pub const HUMAN: &str = "human";

/// The domain a checkout serves, if it is a domain worktree; `known` are
/// the domain names (a worktree name counts only when it is one of them).
pub fn checkout_domain(repo: &Repo, known: &[&str]) -> Result<Option<String>, CommError> {
    let DomainClues {
        marker,
        branch,
        worktree,
    } = repo.domain_clues();
    let from_branch = branch.and_then(|b| {
        let prefix = Config::domain_branch("");
        b.strip_prefix(&prefix).map(str::to_owned)
    });
    let from_name = worktree.filter(|w| known.contains(&w.as_str()));
    let mut clues = [marker, from_branch, from_name].into_iter().flatten();
    let Some(first) = clues.next() else {
        return Ok(None);
    };
    if let Some(other) = clues.find(|c| *c != first) {
        return Err(CommError::Refused {
            message: format!(
                "this worktree's identity is inconsistent: it says both `{first}` and `{other}`"
            ),
            hint: "the human restores it: check out the domain's own branch here, then run comm-node init in the main checkout".into(),
        });
    }
    Ok(Some(first))
}

/// The domain the process acts in on `target` (the repository `-C` named):
/// the domain worktree the process really runs in (`launched`, the
/// repository of its own working directory) wins over `target`'s.
pub fn acting_domain(
    launched: Option<&Repo>,
    target: &Repo,
    known: &[&str],
) -> Result<Option<String>, CommError> {
    if let Some(launched) = launched {
        if let Some(own) = checkout_domain(launched, known)? {
            if !launched.same_repository(target) {
                return Err(CommError::Refused {
                    message: format!(
                        "this process runs in domain `{own}`'s worktree; it cannot act in another repository"
                    ),
                    hint: "drop -C, or run the command from outside any domain worktree".into(),
                });
            }
            return Ok(Some(own));
        }
    }
    checkout_domain(target, known)
}

/// Where a command runs, when that is not a domain worktree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    /// The repository's main checkout: the person steering works here, so
    /// `human` acts unless `--as` names someone else.
    MainCheckout,
    /// Anywhere else (a bare clone on CI, another linked worktree): someone
    /// must be named.
    Elsewhere,
}

/// Resolves the acting name from the process's domain (see
/// [`acting_domain`]) and the `--as` flag (or `COMM_NODE_AS`); `known` are
/// the domain names `--as` may name; `outside` says where the command runs
/// when it is not in a domain worktree.
pub fn resolve_actor(
    own: Option<String>,
    as_flag: Option<&str>,
    known: &[&str],
    outside: Outside,
) -> Result<String, CommError> {
    match (own, as_flag) {
        (Some(own), None) => Ok(own),
        (Some(own), Some(other)) if other == own => Ok(own),
        (Some(own), Some(other)) => Err(CommError::Refused {
            message: format!("this worktree belongs to domain `{own}`; it cannot act as `{other}`"),
            hint: "drop --as (and unset COMM_NODE_AS), or run the command in the other domain's worktree".into(),
        }),
        (None, Some(name)) if name == HUMAN || known.contains(&name) => Ok(name.to_owned()),
        (None, Some(name)) => Err(CommError::invalid(
            format!("`{name}` is not a registered domain"),
            format!("use --as human or one of: {}", known.join(", ")),
        )),
        (None, None) if outside == Outside::MainCheckout => Ok(HUMAN.to_owned()),
        (None, None) => Err(CommError::invalid(
            "this is neither the main checkout nor a domain worktree, so it is not known who is acting",
            format!(
                "pass --as human (the person steering) or --as DOMAIN (one of: {}), or set COMM_NODE_AS for scripts and CI",
                known.join(", ")
            ),
        )),
    }
}
