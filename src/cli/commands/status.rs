//! `comm-node status`: every domain on one screen.

use comm_node::status::{self, Status};

use crate::cli::{ui, CliError, Ctx};

/// Show each domain's branch, worktree, distance from main and whether its
/// worktree has uncommitted changes.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let status = status::gather(&repo, &loaded)?;
    if ctx.json {
        ui::print_json(&status)?;
    } else {
        ui::print(&render(&status))?;
    }
    Ok(())
}

/// The status as an aligned table.
pub fn render(status: &Status) -> String {
    let mut rows = vec![[
        "DOMAIN".to_owned(),
        "BRANCH".to_owned(),
        format!("VS {}", status.main.to_uppercase()),
        "STATE".to_owned(),
        "WORKTREE".to_owned(),
    ]];
    for d in &status.domains {
        let vs_main = match d.main {
            Some(ab) => format!("+{} -{}", ab.ahead, ab.behind),
            None => "-".to_owned(),
        };
        let state = match (d.branch_exists, d.dirty) {
            (false, _) => "no branch (run init)",
            (true, None) => "no worktree (run init)",
            (true, Some(true)) => "dirty",
            (true, Some(false)) => "clean",
        };
        rows.push([
            d.name.clone(),
            d.branch.clone(),
            vs_main,
            state.to_owned(),
            d.worktree.display().to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "{}: {} domains, main is `{}`, comm {}\n",
        status.project,
        status.domains.len(),
        status.main,
        if status.comm {
            "initialized"
        } else {
            "missing (run comm-node init)"
        }
    );
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < 4 {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}
