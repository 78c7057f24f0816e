//! `comm-node submit`: put this domain's branch head in the merge queue.

use comm_node::comm::HUMAN;
use comm_node::queue::{self, SubmitRequest};

use crate::cli::{ui, CliError, Ctx, Kind};

/// Put the head of this domain's branch (domain/<name>) in the merge queue.
///
/// Run it in the domain's worktree (or pass --as DOMAIN). The entry is
/// `queue/<domain>.yaml` on comm; submitting again replaces it. Refused when
/// the branch has nothing that main lacks. `comm-node queue run` then
/// merges, checks and tests it, and lands it on main or tells you why not.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The task this work completes (marked done when it lands).
    #[arg(long)]
    task: Option<String>,
    /// Higher goes first; equal priorities go in order of arrival.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    priority: i64,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let domain = ctx.actor(&repo)?;
    if domain == HUMAN {
        return Err(
            CliError::new(Kind::Refused, "only a domain submits to the merge queue")
                .hint("run submit in a domain worktree, or pass --as DOMAIN"),
        );
    }
    let req = SubmitRequest {
        domain,
        task: args.task,
        priority: args.priority,
    };
    let submitted = queue::submit(&repo, &loaded.config, &req)?;
    if ctx.json {
        return Ok(ui::print_json(&submitted)?);
    }
    let e = &submitted.entry;
    let mut out = format!(
        "queued {} {} ({} commit{} ahead of {}) as entry {}, position {}\n",
        e.branch,
        e.short(),
        submitted.ahead,
        if submitted.ahead == 1 { "" } else { "s" },
        loaded.config.main,
        e.id,
        submitted.position
    );
    if let Some(old) = &submitted.replaced {
        out.push_str(&format!("replaces entry {} ({})\n", old.id, old.short()));
    }
    Ok(ui::print(&out)?)
}
