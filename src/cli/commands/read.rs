//! `comm-node read ID`: one message, in its thread.

use comm_node::comm;

use crate::cli::{ui, CliError, Ctx, Kind};

/// Show one message and the rest of its thread. Does not mark it read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The message id (from `comm-node inbox` or `comm-node log`), or any
    /// unique prefix of it.
    id: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let message = comm::find_message(&repo, &args.id)?.ok_or_else(|| {
        CliError::new(Kind::Usage, format!("no message with id `{}`", args.id))
            .hint("comm-node inbox and comm-node log list message ids")
    })?;
    let thread = comm::thread_messages(&repo, &message.thread)?;
    if ctx.json {
        return Ok(ui::print_json(
            &serde_json::json!({ "message": message, "thread": thread }),
        )?);
    }
    let mut out = ui::render_message(&message);
    let others: Vec<_> = thread.iter().filter(|m| m.id != message.id).collect();
    if !others.is_empty() {
        out.push_str(&format!(
            "\nthread {} ({}):\n",
            message.thread,
            comm_node::text::count(thread.len(), "message")
        ));
        for m in thread {
            let mark = if m.id == message.id { "*" } else { " " };
            out.push_str(&format!(
                "{mark} {}  {} → {}  {}\n",
                m.id,
                m.from,
                m.to.join(", "),
                m.subject
            ));
        }
    }
    Ok(ui::print(&out)?)
}
