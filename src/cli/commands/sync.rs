//! `comm-node sync [REMOTE] [--dry-run]`: exchange the comm branch with a
//! remote, or show what that would send.

use comm_node::comm::{self, outgoing};
use comm_node::git::Repo;
use comm_node::text::count;

use crate::cli::{ui, CliError, Ctx};

/// The remote a sync without an argument uses.
const DEFAULT_REMOTE: &str = "origin";

/// Exchange the comm branch with a remote: fetch its comm, replay local
/// events that it does not have on top (re-checking each one), and push
/// without force, retrying when another clone pushed first. Works over any
/// transport git supports. Also adds a fetch refspec so that a plain
/// `git fetch REMOTE` brings comm.
///
/// Every message, task and reservation on comm goes to the remote, so the
/// first sync with a remote that has no comm yet must name the remote
/// (`comm-node sync origin`); `--dry-run` lists what would go.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The remote to sync with (default: origin, once it has a comm branch).
    remote: Option<String>,
    /// Show what would be pushed and fetched; push nothing, change nothing
    /// but the remote-tracking ref.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let named = args.remote.is_some();
    let remote = args.remote.unwrap_or_else(|| DEFAULT_REMOTE.to_owned());
    if args.dry_run {
        return dry_run(ctx, &repo, &remote);
    }
    let report = comm::sync_to(&repo, &remote, named)?;
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

fn dry_run(ctx: &Ctx, repo: &Repo, remote: &str) -> Result<(), CliError> {
    let preview = outgoing::preview(repo, remote)?;
    if ctx.json {
        return Ok(ui::print_json(&preview)?);
    }
    let pushing = count(preview.outgoing.len(), "event");
    let mut out = match (&preview.remote_tip, preview.outgoing.is_empty()) {
        (None, _) => format!(
            "`{remote}` has no comm branch yet: `comm-node sync {remote}` would create it with {pushing}:\n"
        ),
        (Some(_), true) => format!("`{remote}` has every local event: nothing to push\n"),
        (Some(_), false) => format!(
            "`comm-node sync {remote}` would push {pushing} (replayed on its comm, each re-checked):\n"
        ),
    };
    for e in &preview.outgoing {
        out.push_str(&format!(
            "  {} {:<9} {} → {}: {}\n",
            &e.commit[..7],
            e.kind,
            e.from,
            if e.to.is_empty() {
                "-".to_owned()
            } else {
                e.to.join(",")
            },
            e.subject
        ));
    }
    if preview.incoming > 0 {
        out.push_str(&format!(
            "and fetch {} this clone does not have\n",
            count(preview.incoming, "event")
        ));
    }
    out.push_str("dry run: nothing was pushed\n");
    Ok(ui::print(&out)?)
}
