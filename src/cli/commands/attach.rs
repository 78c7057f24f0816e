//! `comm-node attach`: open a domain's agent session interactively.

use comm_node::runtime;

use crate::cli::{CliError, Ctx, Kind};

/// Open a domain's Claude Code session (the one `comm-node up` runs) in
/// its worktree, interactively. While you are attached, `up` dispatches
/// nothing to that domain; when you exit, the domain is handed back and
/// `up` goes on from where the session is.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The domain whose session to open.
    domain: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let (attached, inv) =
        runtime::attach(&repo, &loaded.config, &args.domain).map_err(super::up::from_runtime)?;
    let status = std::process::Command::new(&inv.program)
        .args(&inv.args)
        .current_dir(&inv.cwd)
        .status()
        .map_err(|e| {
            CliError::new(
                Kind::Failure,
                format!("cannot start `{}`: {e}", inv.program),
            )
            .hint("install Claude Code, or set COMM_NODE_CLAUDE to its path")
        })?;
    drop(attached);
    if status.success() {
        Ok(())
    } else {
        Err(CliError::new(
            Kind::Failure,
            format!("`{}` exited with {status}", inv.program),
        ))
    }
}
