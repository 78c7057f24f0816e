//! `comm-node hook NAME`: what the installed git hook shims call.

use comm_node::hooks;

use crate::cli::{CliError, Ctx, Kind};

/// Run a git hook's checks (called by the shims `comm-node init` installs).
#[derive(Debug, clap::Args)]
#[command(hide = true)]
pub struct Args {
    /// The hook: pre-commit or pre-merge-commit.
    #[arg(value_parser = hooks::HOOK_NAMES)]
    name: String,
    /// Arguments git passed to the hook.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let refusals = hooks::check_staged(&repo)?;
    if refusals.is_empty() {
        return Ok(());
    }
    let mut err = CliError::new(
        Kind::Refused,
        format!("comm-node {}: commit refused", args.name),
    );
    for r in refusals {
        err.causes
            .push(format!("{}: {}: {}", r.file, r.rule, r.message));
        err.hints.push(r.hint);
    }
    Err(err)
}
