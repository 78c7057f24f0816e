//! `comm-node completions SHELL`: a completion script generated from the
//! same definitions as `--help`.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CliError, Ctx, Kind};

const BIN: &str = "comm-node";

/// Print a shell completion script for comm-node to stdout.
///
/// Install it where your shell looks for completions, for example:
///
///   comm-node completions bash > ~/.local/share/bash-completion/completions/comm-node
///   comm-node completions zsh  > "${fpath[1]}/_comm-node"
///   comm-node completions fish > ~/.config/fish/completions/comm-node.fish
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(_ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let script = match args.shell {
        Shell::Bash => bash_script(),
        shell => generate(shell, BIN),
    };
    std::io::stdout()
        .write_all(script.as_bytes())
        .map_err(|e| CliError::new(Kind::Failure, format!("cannot write the script: {e}")))
}

fn generate(shell: Shell, bin: &str) -> String {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), bin, &mut script);
    String::from_utf8_lossy(&script).into_owned()
}

/// clap_complete's bash script spells a binary name holding `-` two ways in
/// its case labels, so subcommands would complete nothing: generate it for a
/// plain name and register the function for the real binary.
fn bash_script() -> String {
    const PLAIN: &str = "commnode";
    let script = generate(Shell::Bash, PLAIN);
    script
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("complete -F") {
                line.replace(&format!(" {PLAIN}"), &format!(" {BIN}"))
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
