//! `comm-node conflicts`: which domain branches would conflict with `main`
//! or with each other, before anyone submits.

use comm_node::conflicts::{self, ConflictsError, MergedOn, Pair, Report};
use comm_node::text::count;

use crate::cli::{ui, CliError, Ctx, Kind};

/// Trial-merge every domain branch that is ahead of main: with main, and
/// with every other such branch as the merge queue would stack them on
/// main's tip. Nothing is checked out and no ref moves. Exits 1 when any
/// pair conflicts, listing the files, so the domains can agree (send a
/// message, reserve the file, rebase) before submitting.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let report = conflicts::find(&repo, &loaded).map_err(|e| match e {
        ConflictsError::NoMain(_) => CliError::new(Kind::Usage, &e)
            .hint("create the branch, or name the right one under main: in comm.yaml"),
        ConflictsError::Git(git) => CliError::from(git),
    })?;
    if ctx.json {
        ui::print_json(&report)?;
    } else {
        ui::print(&render(&report))?;
    }
    if report.conflicts().next().is_some() {
        return Err(CliError::new(Kind::Refused, "trial merges conflict").quiet());
    }
    Ok(())
}

/// The report as text: each conflict with its files, a summary, and what to do.
pub fn render(report: &Report) -> String {
    let main = &report.main;
    let branches = match report.branches.len() {
        0 => return format!("no domain branch is ahead of {main}: nothing to merge\n"),
        n => format!("{} ahead of {main}", count(n, "domain branch")),
    };
    let conflicts: Vec<&Pair> = report.conflicts().collect();
    if conflicts.is_empty() {
        return format!(
            "no conflicts: {branches}, {}, all clean\n",
            count(report.pairs.len(), "trial merge")
        );
    }
    let mut out = String::new();
    for pair in &conflicts {
        out.push_str(&format!(
            "{} + {}: {}{}\n",
            pair.left,
            pair.right,
            count(pair.paths.len(), "conflicting file"),
            match pair.merged_on {
                MergedOn::Main => String::new(),
                MergedOn::MainTip => format!(" (when both land on {main})"),
                MergedOn::MergeBase => " (on their merge base)".to_owned(),
            }
        ));
        for path in &pair.paths {
            out.push_str(&format!("    {path}\n"));
        }
    }
    out.push_str(&format!(
        "{} of {} trial merges conflict ({branches})\n",
        conflicts.len(),
        report.pairs.len()
    ));
    if conflicts.iter().any(|p| p.merged_on == MergedOn::Main) {
        out.push_str(&format!(
            "hint: a branch that conflicts with {main}: in its worktree run comm-node update (it merges {main} in and lists the files), resolve them, git commit\n"
        ));
    }
    if let Some(pair) = conflicts.iter().find(|p| p.merged_on != MergedOn::Main) {
        out.push_str(&format!(
            "hint: two domains edit the same lines: agree who changes what first, e.g. comm-node --as {} send --to {} \"{}: who edits what?\"\n",
            pair.left, pair.right, pair.paths[0]
        ));
        out.push_str(&format!(
            "hint: then reserve the file before editing it (comm-node reserve PATH); the other domain catches up with {main} (comm-node update) once yours has landed\n",
        ));
    }
    out
}
