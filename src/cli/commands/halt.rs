//! `comm-node halt`: the human stops domains (see `comm::steer`).

use comm_node::clock;
use comm_node::comm::steer::{self, Target};

use crate::cli::{ui, CliError, Ctx};

/// Stop domains now (the human only): a halted domain claims no task
/// (`task next` and `task claim` are refused), the merge queue lands none
/// of its entries (they wait in the queue), and `comm-node up` dispatches
/// no turn to it and suspends the turn it is running (SIGSTOP of the
/// turn's process group) until `comm-node resume`, which continues that
/// turn where it stopped. The halt is one event on comm
/// (`halts/<domain>.yaml`), so it holds on every clone after `sync`, with
/// or without `up` running.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  comm-node halt api --reason 'it is rewriting the auth schema; wait for the new contract'
  comm-node halt --all --reason 'main is red, nobody lands until it is fixed'
  comm-node status          # lists the halted domains with their reasons
  comm-node resume api      # lifts the halt; a suspended turn continues")]
pub struct Args {
    /// The domains to halt.
    #[arg(value_name = "DOMAIN", required_unless_present = "all")]
    domains: Vec<String>,
    /// Halt every registered domain.
    #[arg(long, conflicts_with = "domains")]
    all: bool,
    /// Why, in one line: the halted domains read it, and so does `status`.
    #[arg(long, value_name = "TEXT")]
    reason: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let me = ctx.actor(&repo)?;
    let target = target(args.all, args.domains);
    let (appended, halted) = steer::halt(&repo, &me, &target, &args.reason, clock::now())?;
    if ctx.json {
        return Ok(ui::print_json(&serde_json::json!({
            "id": appended.event.id,
            "commit": appended.commit.to_string(),
            "halted": halted,
            "reason": args.reason.trim(),
        }))?);
    }
    Ok(ui::print(&format!(
        "{}\nlift it with: comm-node resume {}\n",
        appended.event.subject,
        if args.all {
            "--all".to_owned()
        } else {
            halted.join(" ")
        }
    ))?)
}

/// `--all` or the named domains; the library refuses an empty list.
pub(super) fn target(all: bool, domains: Vec<String>) -> Target {
    if all {
        Target::All
    } else {
        Target::Domains(domains)
    }
}
