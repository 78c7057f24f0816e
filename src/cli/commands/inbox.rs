//! `comm-node inbox`: the unread messages of the acting domain.

use comm_node::comm;

use crate::cli::{ui, CliError, Ctx};

/// Show the messages addressed to this domain (or `all`) that it has not
/// acknowledged yet, oldest first. Reading does not mark them read:
/// `comm-node ack ID...` or `comm-node ack --all` does.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only what these senders wrote (domains, `human`, `comm-node` for
    /// the queue's decisions), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    from: Vec<String>,
    /// Only these kinds of event (`msg`, `queue`, `untested`...), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "KIND")]
    kind: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let me = ctx.actor(&repo)?;
    let unread = comm::inbox(&repo, &me)?;
    let total = unread.len();
    let shown: Vec<comm::Message> = unread
        .into_iter()
        .filter(|m| args.from.is_empty() || args.from.contains(&m.from))
        .filter(|m| args.kind.is_empty() || args.kind.contains(&m.kind))
        .collect();
    if ctx.json {
        return Ok(ui::print_json(&shown)?);
    }
    let filtered = !args.from.is_empty() || !args.kind.is_empty();
    let mut out = match (shown.len(), filtered) {
        (0, false) => format!("no unread messages for {me}\n"),
        (0, true) => format!("none of the {total} unread for {me} match\n"),
        (n, false) => format!("{n} unread for {me} (comm-node ack --all marks them read):\n"),
        (n, true) => format!(
            "{n} of the {total} unread for {me} match (comm-node ack ID... marks them read):\n"
        ),
    };
    for m in &shown {
        out.push_str(&ui::render_message(m));
    }
    Ok(ui::print(&out)?)
}
