//! `comm-node log`: the coordination history, newest first.

use comm_node::clock;
use comm_node::comm::{self, Message};

use crate::cli::{ui, CliError, Ctx};

/// Show the events on the comm branch, newest first (a readable layer over
/// `git log comm`): sequence number, time (UTC), kind, id (give any
/// unique prefix of it to `read`, `thread`, `ack` or `send --reply-to`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many events to show.
    #[arg(short = 'n', long, default_value_t = 30)]
    limit: usize,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let events: Vec<Message> = comm::history(&repo, args.limit)?
        .iter()
        .map(Message::from_logged)
        .collect();
    if ctx.json {
        return Ok(ui::print_json(&events)?);
    }
    let mut out = String::new();
    for e in &events {
        let headline = if e.kind == "msg" {
            format!("{} → {}: {}", e.from, e.to.join(", "), e.subject)
        } else {
            e.subject.clone()
        };
        out.push_str(&format!(
            "{:>6}  {}  {:<8} {}  {headline}\n",
            e.seq,
            clock::format_timestamp(e.time),
            e.kind,
            &e.id
        ));
    }
    Ok(ui::print(&out)?)
}
