//! `comm-node reservations`: who holds which files, until when.

use comm_node::clock;
use comm_node::comm::{reservation, Snapshot};
use serde::Serialize;

use crate::cli::{ui, CliError, Ctx};

/// List the live file reservations: id, holder, mode, globs, task and
/// expiry. Expired ones no longer count anywhere and are hidden unless
/// --all (the next reserve or release prunes them).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also show expired reservations, marked as such.
    #[arg(long)]
    all: bool,
}

/// One line of the listing (`--json`).
#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    reservation: reservation::Reservation,
    live: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let now = clock::now();
    let snapshot = Snapshot::take(&repo)?;
    let rows: Vec<Row> = reservation::all(&snapshot)?
        .into_iter()
        .map(|r| Row {
            live: r.is_live(now),
            reservation: r,
        })
        .filter(|row| args.all || row.live)
        .collect();
    if ctx.json {
        return Ok(ui::print_json(&rows)?);
    }
    if rows.is_empty() {
        return Ok(ui::print("no live reservations\n")?);
    }
    let mut out = String::new();
    for Row { reservation: r, .. } in &rows {
        let task = r
            .task
            .as_ref()
            .map(|t| format!("  task {t}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{}  {}  {}  {}{task}  {}\n",
            r.id,
            r.domain,
            r.mode,
            r.globs.join(" "),
            r.describe_expiry(now)
        ));
        if let Some(reason) = &r.reason {
            out.push_str(&format!("    {reason}\n"));
        }
    }
    Ok(ui::print(&out)?)
}
