//! `comm-node sync [REMOTE]`: exchange the comm branch with a remote.

use comm_node::comm;

use crate::cli::{ui, CliError, Ctx};

/// Exchange the comm branch with a remote: fetch its comm, replay local
/// events that it does not have on top (re-checking each one), and push
/// without force, retrying when another clone pushed first. Works over any
/// transport git supports. Also adds a fetch refspec so that a plain
/// `git fetch REMOTE` brings comm.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The remote to sync with.
    #[arg(default_value = "origin")]
    remote: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let report = comm::sync(&repo, &args.remote)?;
    if ctx.json {
        return Ok(ui::print_json(&report)?);
    }
    let mut out = format!(
        "synced comm with {}: {} received, {} replayed, {} already there{}\n",
        report.remote,
        report.received,
        report.replay.replayed,
        report.replay.duplicates,
        if report.pushed { ", pushed" } else { "" }
    );
    for r in &report.replay.rejected {
        out.push_str(&format!(
            "rejected {} ({}): {}\n",
            r.id, r.subject, r.reason
        ));
    }
    for r in &report.replay.narrowed {
        out.push_str(&format!(
            "landed in part {} ({}): {}\n",
            r.id, r.subject, r.reason
        ));
    }
    if !(report.replay.rejected.is_empty() && report.replay.narrowed.is_empty()) {
        out.push_str("(each author has these in their inbox)\n");
    }
    Ok(ui::print(&out)?)
}
