//! `comm-node uninstall`: remove what init set up.

use comm_node::scaffold::uninstall::{self, Options, Plan};
use serde::Serialize;

use crate::cli::{ui, CliError, Ctx, Kind};

/// Remove what `comm-node init` set up in this repository.
///
/// Takes out the domain worktrees (and the queue's scratch worktree), the
/// hook shims (a hook that was there before init is put back), comm-node's
/// block in .git/info/exclude and its state folder .git/comm-node/. The
/// branches (domain/<name> and comm) are kept unless --branches is given.
/// comm.yaml and everything tracked are never touched.
///
/// Nothing that holds work is lost without --force: a worktree with
/// uncommitted changes, or (with --branches) a domain branch main does not
/// contain, refuses the whole uninstall and changes nothing. Run it in the
/// main checkout; --dry-run prints the plan first.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also delete the domain/<name> branches and comm (a remote keeps its copy).
    #[arg(long)]
    branches: bool,
    /// Remove dirty worktrees and unmerged branches too (their work is lost).
    #[arg(long)]
    force: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    dry_run: bool,
    changed: bool,
    #[serde(flatten)]
    plan: &'a Plan,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    if repo.is_linked_worktree() {
        return Err(CliError::new(
            Kind::Usage,
            "uninstall removes the domain worktrees, so it cannot run inside one",
        )
        .hint("run it in the main checkout, or pass -C <main checkout>"));
    }
    let main = match ctx.load() {
        Ok((_, loaded)) => loaded.config.main,
        Err(_) => "main".to_owned(),
    };
    let options = Options {
        branches: args.branches,
        force: args.force,
    };
    let plan = uninstall::plan(&repo, &main, options)?;
    let refused = !plan.refusals.is_empty();
    let changed = !args.dry_run && !refused && !plan.removals.is_empty();
    if changed {
        uninstall::apply(&repo, &plan)?;
    }
    if ctx.json {
        ui::print_json(&Report {
            dry_run: args.dry_run,
            changed,
            plan: &plan,
        })?;
    } else {
        ui::print(&render(&plan, args.dry_run, refused))?;
    }
    if refused && !args.dry_run {
        return Err(CliError::new(Kind::Refused, "uninstall refused; nothing was changed").quiet());
    }
    Ok(())
}

fn render(plan: &Plan, dry_run: bool, refused: bool) -> String {
    let mut out = String::new();
    if plan.removals.is_empty() {
        out.push_str("nothing to remove: comm-node is not set up here\n");
    } else {
        let verb = if dry_run || refused { "would" } else { "did" };
        out.push_str(&format!("comm-node uninstall: {verb}\n"));
        for removal in &plan.removals {
            out.push_str(&format!("  {removal}\n"));
        }
    }
    for refusal in &plan.refusals {
        out.push_str(&format!("refused: {refusal}\n"));
    }
    for note in &plan.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    if refused {
        out.push_str("nothing was changed\n");
    } else if dry_run {
        out.push_str("dry run: nothing was changed\n");
    }
    out
}
