//! `comm-node send`: post a message on the comm branch.

use comm_node::comm::{self, SendRequest};

use crate::cli::{ui, CliError, Ctx};

/// Send a message to one or more domains, `human`, or `all`.
///
/// The sender is the domain of the worktree this runs in (`--as NAME`
/// outside one). The message is one commit on `comm`, readable with
/// `git log comm`; prints its id.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recipients: domain names, `human` or `all`, comma-separated (a
    /// reply's default: the original's sender and other recipients).
    #[arg(long, value_delimiter = ',', required_unless_present = "reply_to")]
    to: Vec<String>,
    /// The task this message is about (a reply's default: the original's).
    #[arg(long)]
    task: Option<String>,
    /// Put the message in this thread.
    #[arg(long)]
    thread: Option<String>,
    /// Answer this message (any unique prefix of its id): joins its thread.
    #[arg(long, value_name = "ID")]
    reply_to: Option<String>,
    /// One-line subject.
    subject: String,
    /// Markdown body; `-` reads it from standard input.
    body: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let from = ctx.actor(&repo)?;
    // One read of comm.yaml: the bus limits and the message budget.
    let loaded = comm_node::project::load_config_if_any(&repo)?;
    let limits = loaded.as_ref().map(|l| l.config.limits).unwrap_or_default();
    let task_budget = loaded
        .as_ref()
        .filter(|_| from != comm::HUMAN)
        .and_then(|l| l.config.budget.messages_per_task(&from));
    let body = match &args.body {
        Some(b) => ui::text_or_stdin(b)?,
        None => String::new(),
    };
    let req = SendRequest {
        from,
        to: args.to,
        subject: args.subject,
        body,
        task: args.task,
        thread: args.thread,
        reply_to: args.reply_to,
    };
    let sent = comm::send(&repo, &req, &limits, task_budget)?;
    if ctx.json {
        let logged = comm::Logged {
            commit: sent.commit,
            time: 0,
            event: sent.event,
        };
        let mut message = comm::Message::from_logged(&logged);
        message.time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        ui::print_json(&message)?;
    } else {
        ui::print(&format!("{}\n", sent.event.id))?;
    }
    Ok(())
}
