//! Who is acting: the domain of the worktree a command runs in, or the
//! `--as NAME` given outside any domain worktree. A domain can never act as
//! another: inside a domain worktree `--as` may only repeat its own name.

use super::CommError;
use crate::git::Repo;

/// The name the person steering acts as.
pub const HUMAN: &str = "human";

/// Resolves the acting name from the checkout and the `--as` flag;
/// `known` are the domain names `--as` may name.
pub fn resolve_actor(
    repo: &Repo,
    as_flag: Option<&str>,
    known: &[&str],
) -> Result<String, CommError> {
    match (repo.recorded_domain(), as_flag) {
        (Some(own), None) => Ok(own),
        (Some(own), Some(other)) if other == own => Ok(own),
        (Some(own), Some(other)) => Err(CommError::Refused {
            message: format!("this worktree belongs to domain `{own}`; it cannot act as `{other}`"),
            hint: "drop --as, or run the command in the other domain's worktree".into(),
        }),
        (None, Some(name)) if name == HUMAN || known.contains(&name) => Ok(name.to_owned()),
        (None, Some(name)) => Err(CommError::invalid(
            format!("`{name}` is not a registered domain"),
            format!("use --as human or one of: {}", known.join(", ")),
        )),
        (None, None) => Err(CommError::invalid(
            "this checkout is not a domain worktree, so it is not known who is acting",
            format!(
                "pass --as human (the person steering) or --as DOMAIN (one of: {})",
                known.join(", ")
            ),
        )),
    }
}
