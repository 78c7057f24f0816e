//! `comm-node inbox`: the unread messages of the acting domain.

use comm_node::comm;

use crate::cli::{ui, CliError, Ctx};

/// Show the messages addressed to this domain (or `all`) that it has not
/// acknowledged yet, oldest first. Reading does not mark them read:
/// `comm-node ack ID...` or `comm-node ack --all` does.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let me = ctx.actor(&repo)?;
    let unread = comm::inbox(&repo, &me)?;
    if ctx.json {
        return Ok(ui::print_json(&unread)?);
    }
    let mut out = match unread.len() {
        0 => format!("no unread messages for {me}\n"),
        n => format!("{n} unread for {me} (comm-node ack --all marks them read):\n"),
    };
    for m in &unread {
        out.push_str(&ui::render_message(m));
    }
    Ok(ui::print(&out)?)
}
