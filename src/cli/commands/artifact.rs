//! `comm-node artifact get DOMAIN/NAME`: read a published artifact.

use std::path::PathBuf;

use comm_node::comm;

use crate::cli::{ui, CliError, Ctx};

/// Read artifacts that domains published on the comm branch.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Print an artifact (or write it with -o).
    Get {
        /// DOMAIN/NAME, e.g. api/openapi.yaml.
        artifact: String,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let Command::Get { artifact, output } = args.command;
    let repo = ctx.repo()?;
    let bytes = comm::get_artifact(&repo, &artifact)?;
    match output {
        Some(path) => std::fs::write(ctx.cwd.join(path), bytes)?,
        None => ui::print_bytes(&bytes)?,
    }
    Ok(())
}
