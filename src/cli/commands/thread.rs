//! `comm-node thread ID`: every message of a thread.

use comm_node::comm;

use crate::cli::{ui, CliError, Ctx, Kind};

/// Show every message of a thread, oldest first. ID is a thread name or the
/// id (or any unique prefix of the id) of any message in the thread.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Thread name or message id (any unique prefix).
    id: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    // A thread's own name first, then a message id or unique prefix of one.
    let mut thread = args.id.clone();
    let mut messages = comm::thread_messages(&repo, &thread)?;
    if messages.is_empty() {
        if let Some(m) = comm::find_message(&repo, &args.id)? {
            thread = m.thread;
            messages = comm::thread_messages(&repo, &thread)?;
        }
    }
    if messages.is_empty() {
        return Err(
            CliError::new(Kind::Usage, format!("no thread or message `{}`", args.id))
                .hint("comm-node log lists message ids"),
        );
    }
    if ctx.json {
        return Ok(ui::print_json(&messages)?);
    }
    let mut out = format!(
        "thread {thread} ({}):\n",
        comm_node::text::count(messages.len(), "message")
    );
    for m in &messages {
        out.push_str(&ui::render_message(m));
    }
    Ok(ui::print(&out)?)
}
