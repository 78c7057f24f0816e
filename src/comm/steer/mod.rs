//! The hand of god: what only the human may do to steer the agents.
//!
//! - [`halt`] and [`resume`] stop and restart a domain: while
//!   `halts/<domain>.yaml` is on `comm`, the domain claims no task
//!   (re-checked inside every claim's compare-and-swap, and again when a
//!   claim is replayed at sync), the merge queue lands none of its entries,
//!   and `comm-node up` dispatches no turn to it and keeps its running turn
//!   stopped (SIGSTOP) until the halt is lifted.
//! - [`inject`] publishes an artifact into a domain's namespace as the
//!   human (the corrected API contract), telling that domain and the
//!   domains of the tasks that wait on it.
//! - Task `reassign`, `edit` and `cancel` live with the other task changes
//!   (`comm::task::steer`).
//!
//! Every one of them is a single event written by `human` and refused to
//! anyone else, both when it is made and by `verify` (`verify::steer`),
//! which also keeps the state files here to these events alone.

mod halt;
mod inject;

pub use halt::{
    halt, halt_of, halts, refuse_if_halted, replay_halt, replay_resume, resume, Halt, Target,
    HALT_DIR, HALT_KIND, RESUME_KIND,
};
pub use inject::{inject, replay_inject, waiting_on, Injected, INJECT_KIND};

use super::{CommError, HUMAN};

/// Refuses anyone but the human: `what` is the action, as the error says it.
pub fn require_human(by: &str, what: &str) -> Result<(), CommError> {
    if by == HUMAN {
        return Ok(());
    }
    Err(CommError::Refused {
        message: format!("only the human may {what}; `{by}` is a domain"),
        hint: "run it in the main checkout (where the human acts), or with --as human outside any domain worktree; an agent asks the human with `comm-node send --to human ...`".into(),
    })
}

/// The registered domain `name`, or a clear error listing the known ones.
pub(crate) fn known_domain(domains: &[String], name: &str) -> Result<(), CommError> {
    if domains.iter().any(|d| d == name) {
        return Ok(());
    }
    Err(CommError::invalid(
        format!("unknown domain `{name}`"),
        format!("domains are: {}", domains.join(", ")),
    ))
}
