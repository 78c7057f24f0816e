//! `comm-node reserve`: claim files for the acting domain for a while.

use comm_node::clock;
use comm_node::comm::reservation::{self, Mode, ReserveRequest};

use crate::cli::{ui, CliError, Ctx, Kind};

/// Reserve files so other domains keep off them until you release them or
/// the reservation expires.
///
/// Each glob must lie in what the acting domain may change (its scope and
/// the shared files of comm.yaml). An exclusive reservation (the default)
/// is refused when it overlaps a live reservation of another domain; a
/// shared one only when it overlaps an exclusive one. While it lives, the
/// pre-commit hook refuses other domains' commits that touch its files.
/// Prints the reservation id.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Globs of the files, relative to the repository root (quote them):
    /// 'src/api/**', 'src/*.py', 'Cargo.lock'.
    #[arg(value_name = "GLOB")]
    globs: Vec<String>,
    /// A shared reservation: other domains may hold shared ones on the same
    /// files and their commits are not blocked; only exclusive reservations
    /// are kept off (say that you depend on the files staying put).
    #[arg(long)]
    shared: bool,
    /// How long the reservation lasts: 90s, 30m, 2h, 1d, 1h30m.
    #[arg(long, value_name = "DURATION", default_value = "2h")]
    ttl: String,
    /// The task the reservation is for (released when the task is done).
    #[arg(long, value_name = "ID")]
    task: Option<String>,
    /// Why, in one line (shown to whoever it blocks).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let ttl = clock::parse_duration(&args.ttl).map_err(|e| {
        CliError::new(Kind::Usage, format!("--ttl: {e}")).hint("for example --ttl 2h")
    })?;
    let (repo, loaded) = ctx.load()?;
    let domain = ctx.actor(&repo)?;
    let req = ReserveRequest {
        domain,
        globs: args.globs,
        mode: if args.shared {
            Mode::Shared
        } else {
            Mode::Exclusive
        },
        ttl,
        task: args.task,
        reason: args.reason,
    };
    let now = clock::now();
    let (_, made) = reservation::reserve(&repo, &loaded.config, &req, now)?;
    if ctx.json {
        return Ok(ui::print_json(&made)?);
    }
    Ok(ui::print(&format!("{}\n", made.id))?)
}
