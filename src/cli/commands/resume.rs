//! `comm-node resume`: the human lifts halts (see `comm::steer`).

use comm_node::comm::steer;

use crate::cli::{ui, CliError, Ctx};

/// Lift the halt of domains (the human only): they claim work again, the
/// merge queue lands their waiting entries on its next run, and
/// `comm-node up` continues a turn it suspended (SIGCONT) and dispatches
/// to them again.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  comm-node resume api
  comm-node resume --all    # every halted domain")]
pub struct Args {
    /// The domains to resume.
    #[arg(value_name = "DOMAIN", required_unless_present = "all")]
    domains: Vec<String>,
    /// Resume every halted domain.
    #[arg(long, conflicts_with = "domains")]
    all: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let me = ctx.actor(&repo)?;
    let target = super::halt::target(args.all, args.domains);
    let (appended, resumed) = steer::resume(&repo, &me, &target)?;
    if ctx.json {
        return Ok(ui::print_json(&serde_json::json!({
            "id": appended.event.id,
            "commit": appended.commit.to_string(),
            "resumed": resumed,
        }))?);
    }
    Ok(ui::print(&format!("{}\n", appended.event.subject))?)
}
