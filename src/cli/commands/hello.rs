//! `comm-node hello`: an agent announces itself.

use comm_node::{clock, comm};

use crate::cli::{ui, CliError, Ctx};

/// Announce that an agent is now working in this domain. `status` shows it;
/// later activity (commits on the domain's branch, events on comm) keeps the
/// domain counted as alive, so there is no need to say hello again.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The agent's name, e.g. claude-code or codex.
    #[arg(long)]
    agent: Option<String>,
    /// One line: what it is about to do.
    #[arg(long)]
    note: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let me = ctx.actor(&repo)?;
    let appended = comm::hello(
        &repo,
        &me,
        args.agent.as_deref(),
        args.note.as_deref(),
        clock::now(),
    )?;
    if ctx.json {
        return Ok(ui::print_json(&serde_json::json!({
            "id": appended.event.id,
            "commit": appended.commit.to_string(),
            "subject": appended.event.subject,
        }))?);
    }
    Ok(ui::print(&format!("{}\n", appended.event.subject))?)
}
