//! `comm-node release`: give reservations back.

use comm_node::clock;
use comm_node::comm::reservation::{self, ReleaseRequest};

use crate::cli::{ui, CliError, Ctx};

/// Release reservations of the acting domain, by id or all of them.
///
/// With --force (only as human) another domain's reservation is broken;
/// the holder finds a message in its inbox saying who broke it and why.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Reservation ids, as printed by reserve and listed by reservations.
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Release every reservation the acting domain holds.
    #[arg(long)]
    all: bool,
    /// Break reservations held by other domains (only the human, in the main checkout).
    #[arg(long)]
    force: bool,
    /// Why, in one line (sent to the holder of a broken reservation).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let actor = ctx.actor(&repo)?;
    let req = ReleaseRequest {
        actor,
        ids: args.ids,
        all: args.all,
        force: args.force,
        reason: args.reason,
    };
    let released = reservation::release(&repo, &req, clock::now())?
        .map(|(_, released)| released)
        .unwrap_or_default();
    if ctx.json {
        return Ok(ui::print_json(
            &serde_json::json!({ "released": released }),
        )?);
    }
    if released.is_empty() {
        return Ok(ui::print(&format!(
            "{} holds no reservations\n",
            req.actor
        ))?);
    }
    let mut out = String::new();
    for r in &released {
        out.push_str(&format!(
            "released {} ({}: {})\n",
            r.id,
            r.domain,
            r.globs.join(", ")
        ));
    }
    Ok(ui::print(&out)?)
}
