//! `comm-node ack`: mark messages read.

use comm_node::comm;

use crate::cli::{ui, CliError, Ctx, Kind};

/// Mark messages read for the acting domain, advancing its read cursor on
/// the comm branch.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Message ids (or unique prefixes) to mark read.
    ids: Vec<String>,
    /// Mark every unread message read.
    #[arg(long, conflicts_with = "ids")]
    all: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    if !args.all && args.ids.is_empty() {
        return Err(
            CliError::new(Kind::Usage, "nothing to acknowledge").hint("pass message ids, or --all")
        );
    }
    let repo = ctx.repo()?;
    let me = ctx.actor(&repo)?;
    let ids = (!args.all).then_some(args.ids.as_slice());
    let acked = comm::ack(&repo, &me, ids)?;
    let ids: Vec<String> = acked
        .as_ref()
        .and_then(|a| a.event.field("Acked"))
        .map(|s| s.split(' ').map(str::to_owned).collect())
        .unwrap_or_default();
    if ctx.json {
        return Ok(ui::print_json(&serde_json::json!({ "acked": ids }))?);
    }
    Ok(ui::print(&match ids.len() {
        0 => "nothing unread to acknowledge\n".to_owned(),
        n => format!("marked {n} message{} read\n", if n == 1 { "" } else { "s" }),
    })?)
}
