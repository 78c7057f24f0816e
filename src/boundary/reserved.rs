//! The `reservation` rule: a change must not touch files another domain
//! has reserved exclusively. Commits made outside any domain (the human on
//! `main`) are not blocked; they get a warning.

use super::rules::Violation;
use crate::comm::reservation::{blocking, Reservation};

/// Violations for the `changed` files that lie under a live exclusive
/// reservation of a domain other than `actor` (`None`: a commit outside any
/// domain, reported as warnings).
pub fn check_reserved(
    live: &[Reservation],
    actor: Option<&str>,
    changed: &[String],
    now: i64,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for file in changed {
        for (holder, glob) in blocking(live, actor, file) {
            out.push(Violation {
                file: file.clone(),
                line: 1,
                column: 1,
                rule: "reservation",
                domain: actor.map(str::to_owned),
                import: None,
                target: Some(holder.domain.clone()),
                message: format!(
                    "{file} is reserved by `{}` (reservation {}, `{glob}`); it {}",
                    holder.domain,
                    holder.id,
                    holder.describe_expiry(now)
                ),
                hint: format!(
                    "ask {0} to release it: comm-node send --to {0} \"...\"; or wait until it expires",
                    holder.domain
                ),
                severity: if actor.is_some() { "error" } else { "warning" },
                type_only: false,
            });
        }
    }
    out
}
