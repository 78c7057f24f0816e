//! `comm-node hook NAME`: what the installed git hook shims call.

use comm_node::hooks;

use crate::cli::commands::check;
use crate::cli::{ui, CliError, Ctx, Kind};

/// Run a git hook's checks (called by the shims `comm-node init` installs).
///
/// pre-commit: the staged change must stay in this worktree's domain scope
/// and respect the import boundaries; generated instruction files are
/// refused, and so are files another domain reserved (a commit outside
/// any domain only gets a warning). While a merge of main (a catch-up)
/// is being committed after conflicts, the scope and reservation rules see
/// only what the domain changed relative to both parents. pre-merge-commit:
/// the files a merge brings in must respect the import boundaries.
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
    let mut err = CliError::new(
        Kind::Refused,
        format!("comm-node {}: commit refused", args.name),
    );
    let (_, loaded) = ctx.load()?;
    let actor = ctx.optional_actor(&repo, &loaded)?;
    let with_scope = args.name == "pre-commit";
    let (report, staged) = check::run_staged_check(&repo, &loaded, with_scope, actor.as_deref())?;
    for r in hooks::generated_files(&repo, &staged)? {
        err.causes
            .push(format!("{}: {}: {}", r.file, r.rule, r.message));
        err.hints.push(r.hint);
    }
    for v in &report.violations {
        if v.severity != "error" {
            ui::eprint(&format!(
                "warning: {}: {}: {}
",
                v.file, v.rule, v.message
            ));
        }
    }
    for v in report.violations.iter().filter(|v| v.severity == "error") {
        err.causes.push(format!(
            "{}:{}:{}: {}: {}",
            v.file, v.line, v.column, v.rule, v.message
        ));
        err.hints.push(v.hint.clone());
    }
    if err.causes.is_empty() {
        return Ok(());
    }
    err.hints.dedup();
    Err(err)
}
