//! `comm-node repair`: make the comm branch a line of events again.

use comm_node::comm;

use crate::cli::{ui, CliError, Ctx};

/// Make the comm branch a line of events again after a `git merge`,
/// `git pull` or plain commit on it (appends refuse to build on such a tip,
/// because events added there would hide what the merge brought in from
/// every inbox).
///
/// The line is rebuilt from the last event before the oldest foreign commit:
/// a merge's first-parent side is kept, and the events only its other
/// parents have are replayed after it, re-checked like `sync` does, with
/// their ids (an event both sides have is written once); a commit without
/// Comm-* trailers is dropped together with its file changes. Sequence
/// numbers run on; an event that no longer holds on the rebuilt state (a
/// task both sides claimed) is reported as rejected, as by `sync`. Commits
/// already pushed change their hashes: run `comm-node sync` afterwards,
/// never `git push --force`.
/// On a comm that is already a line, it changes nothing.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let report = comm::repair(&repo)?;
    if ctx.json {
        return Ok(ui::print_json(&report)?);
    }
    if !report.repaired {
        return Ok(ui::print("comm is a line of events; nothing to repair\n")?);
    }
    let mut out = String::new();
    for d in &report.dropped {
        out.push_str(&format!(
            "dropped {} ({}): {}\n",
            d.commit, d.subject, d.reason
        ));
    }
    for r in &report.replay.rejected {
        out.push_str(&format!(
            "rejected {} ({}): {}\n",
            r.id, r.subject, r.reason
        ));
    }
    out.push_str(&format!(
        "repaired comm: {} replayed, {} already there; run comm-node sync to share it\n",
        comm_node::text::count(report.replay.replayed, "event"),
        report.replay.duplicates
    ));
    Ok(ui::print(&out)?)
}
