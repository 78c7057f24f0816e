//! `comm-node submit`: put this domain's branch head in the merge queue.

use comm_node::comm::HUMAN;
use comm_node::git::Repo;
use comm_node::queue::{self, finish, SubmitRequest, Submitted};
use serde::Serialize;

use crate::cli::commands::update;
use crate::cli::{ui, CliError, Ctx, Kind};

/// Put the head of this domain's branch (domain/<name>) in the merge queue.
///
/// Run it in the domain's worktree (or pass --as DOMAIN). The entry is
/// `queue/<domain>.yaml` on comm; submitting again replaces it. Refused when
/// the branch has nothing that main lacks, while a merge or rebase is
/// unfinished in the domain's worktree, and when --task names a task
/// already done. Submitting a head the queue just rejected is accepted
/// with a warning giving the reason. `comm-node queue run` then merges,
/// checks and tests it, and lands it on main or tells you why not.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The task this work completes (marked done when it lands).
    #[arg(long)]
    task: Option<String>,
    /// 0 (most urgent, goes first) to 4, as for tasks; equal priorities go
    /// in order of arrival. Default: the task's priority, else 2.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=4))]
    priority: Option<u8>,
}

/// `submit --json`: the submission, whether the worktree had uncommitted
/// changes (which were not queued), and the queue's rejection of this very
/// head, if it was the latest decision about the domain.
#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    submitted: &'a Submitted,
    uncommitted_changes: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected_before: Option<Rejected<'a>>,
}

#[derive(Serialize)]
struct Rejected<'a> {
    summary: &'a str,
    reason: &'a str,
    event: &'a str,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let domain = ctx.actor(&repo)?;
    if domain == HUMAN {
        return Err(
            CliError::new(Kind::Refused, "only a domain submits to the merge queue")
                .hint("run submit in a domain worktree, or pass --as DOMAIN"),
        );
    }
    // A half-done merge is not what the agent means to submit.
    if let Some(wt) = repo.find_worktree(&domain)?.filter(|w| w.present) {
        update::refuse_unfinished(&Repo::open(&wt.path)?, &wt.path)
            .map_err(|e| e.hint("then comm-node submit"))?;
    }
    let req = SubmitRequest {
        domain,
        task: args.task,
        priority: args.priority,
    };
    let submitted = queue::submit(&repo, &loaded.config, &req)?;
    let e = &submitted.entry;
    let rejection = finish::last_rejection(&repo, &e.domain, &e.head)?;
    if let Some(r) = &rejection {
        ui::eprint(&format!(
            "warning: the queue rejected this very head: {} ({}); comm-node read {} says why\n",
            r.summary, r.reason, r.id
        ));
    }
    let uncommitted = match repo.workdir() {
        Some(dir) if ctx.in_domain_worktree(&repo)? => Repo::is_dirty(dir)?,
        _ => false,
    };
    if ctx.json {
        return Ok(ui::print_json(&Output {
            submitted: &submitted,
            uncommitted_changes: uncommitted,
            rejected_before: rejection.as_ref().map(|r| Rejected {
                summary: &r.summary,
                reason: &r.reason,
                event: &r.id,
            }),
        })?);
    }
    let mut out = format!(
        "queued {} {} ({} commit{} ahead of {}) as entry {}, position {}\n",
        e.branch,
        e.short(),
        submitted.ahead,
        if submitted.ahead == 1 { "" } else { "s" },
        loaded.config.main,
        e.id,
        submitted.position
    );
    if let Some(old) = &submitted.replaced {
        out.push_str(&format!("replaces entry {} ({})\n", old.id, old.short()));
    }
    if uncommitted {
        out.push_str(
            "note: this worktree has uncommitted changes; only committed work was queued\n",
        );
    }
    Ok(ui::print(&out)?)
}
