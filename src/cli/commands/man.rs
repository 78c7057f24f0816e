//! `comm-node man [--out DIR]`: manual pages generated from the same
//! definitions as `--help`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::{Cli, CliError, Ctx, Kind};

/// Print the comm-node(1) manual page, or write one page per command.
///
/// Without --out, the top-level page goes to stdout (`comm-node man | man -l -`).
/// With --out DIR, DIR receives comm-node.1 and one comm-node-<command>.1 per
/// command (comm-node-task-add.1 for nested ones), ready for a MANPATH folder:
///
///   comm-node man --out ~/.local/share/man/man1
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Write every page into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let mut command = Cli::command();
    // Building propagates the global flags (--json, -C, --as) to every
    // subcommand, so each page lists them and stands on its own.
    command.build();
    match args.out {
        None => {
            let mut page = Vec::new();
            render(&command, &mut page)?;
            std::io::stdout().write_all(&page).map_err(write_error)
        }
        Some(dir) => {
            let dir = ctx.cwd.join(dir);
            std::fs::create_dir_all(&dir).map_err(|e| {
                CliError::new(
                    Kind::Failure,
                    format!("cannot create {}: {e}", dir.display()),
                )
            })?;
            let written = write_pages(&command, &dir)?;
            if ctx.json {
                crate::cli::ui::print_json(&serde_json::json!({ "dir": dir, "pages": written }))?;
            } else {
                crate::cli::ui::print(&format!(
                    "wrote {} manual pages to {}\n",
                    written.len(),
                    dir.display()
                ))?;
            }
            Ok(())
        }
    }
}

/// Writes the page of `command` and of every subcommand below it; returns
/// the file names written.
fn write_pages(command: &clap::Command, dir: &Path) -> Result<Vec<String>, CliError> {
    let mut written = Vec::new();
    let mut stack = vec![(command.get_name().to_owned(), command.clone())];
    while let Some((name, cmd)) = stack.pop() {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let full = format!("{name}-{}", sub.get_name());
            stack.push((full.clone(), sub.clone().name(full)));
        }
        let file = format!("{name}.1");
        let mut page = Vec::new();
        render(&cmd, &mut page)?;
        std::fs::write(dir.join(&file), page).map_err(write_error)?;
        written.push(file);
    }
    written.sort();
    Ok(written)
}

fn render(command: &clap::Command, out: &mut Vec<u8>) -> Result<(), CliError> {
    clap_mangen::Man::new(command.clone())
        .render(out)
        .map_err(write_error)
}

fn write_error(e: std::io::Error) -> CliError {
    CliError::new(Kind::Failure, format!("cannot write the manual page: {e}"))
}
