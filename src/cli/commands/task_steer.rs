//! `comm-node task reassign|edit|cancel`: the human's task changes (see
//! `comm::task::steer`); their clap definitions sit in `task.rs`.

use comm_node::comm::task::{self, TaskEdit};
use comm_node::git::Repo;

use super::task::changed;
use crate::cli::{ui, CliError, Ctx};

#[derive(Debug, clap::Args)]
pub struct ReassignArgs {
    id: String,
    /// The domain that takes it over.
    #[arg(long, value_name = "DOMAIN")]
    to: String,
    /// Why, for both domains' inboxes.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct EditArgs {
    id: String,
    /// A new title (one line).
    #[arg(long)]
    title: Option<String>,
    /// 0 (most urgent) to 4.
    #[arg(long)]
    priority: Option<u8>,
    /// Give it to another domain (an open task; a claimed one is reassigned).
    #[arg(long)]
    domain: Option<String>,
    /// Replace the acceptance criteria (repeat for several).
    #[arg(long = "done-when", value_name = "TEXT")]
    done_when: Vec<String>,
    /// A new description (`-` reads standard input).
    #[arg(long)]
    description: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    id: String,
    /// Why the work is dropped.
    #[arg(long, value_name = "TEXT")]
    reason: String,
}

pub(super) fn reassign(ctx: &Ctx, repo: &Repo, a: ReassignArgs, now: i64) -> Result<(), CliError> {
    let me = ctx.actor(repo)?;
    let outcome = task::reassign(repo, &me, &a.id, &a.to, a.reason.as_deref(), now)?;
    changed(ctx, repo, outcome)
}

pub(super) fn edit(ctx: &Ctx, repo: &Repo, a: EditArgs, now: i64) -> Result<(), CliError> {
    let me = ctx.actor(repo)?;
    let description = match a.description {
        Some(d) => Some(ui::text_or_stdin(&d)?),
        None => None,
    };
    let edit = TaskEdit {
        title: a.title,
        priority: a.priority,
        domain: a.domain,
        done_when: (!a.done_when.is_empty()).then_some(a.done_when),
        description,
    };
    changed(ctx, repo, task::edit(repo, &me, &a.id, &edit, now)?)
}

pub(super) fn cancel(ctx: &Ctx, repo: &Repo, a: CancelArgs, now: i64) -> Result<(), CliError> {
    let me = ctx.actor(repo)?;
    changed(ctx, repo, task::cancel(repo, &me, &a.id, &a.reason, now)?)
}
