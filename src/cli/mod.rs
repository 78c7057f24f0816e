//! Command-line definitions (clap) and dispatch. One file per command under
//! `commands/`; this module only parses, finds the repository, and turns
//! results into exit codes.

mod commands;
mod error;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use comm_node::config::{self, Config, Loaded};
use comm_node::git::Repo;

pub use error::{CliError, Kind};

const ABOUT: &str = "Git-native coordination for several coding agents working on one repository.

Each domain of comm.yaml gets a branch (domain/<name>) and a worktree with
role instructions for its agent; coordination events are commits on the
`comm` branch, so `git log comm` is the history and any remote syncs it.";

const EXIT_CODES: &str = "Exit codes: 0 ok, 1 refused (a rule said no), 2 usage or comm.yaml error, 3 failure (git, file system).";

/// comm-node command line.
#[derive(Debug, Parser)]
#[command(name = "comm-node", version, about = ABOUT, after_help = EXIT_CODES)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Run as if started in DIR (like `git -C`).
    #[arg(short = 'C', value_name = "DIR", global = true)]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Init(commands::init::Args),
    Status(commands::status::Args),
    Demo(commands::demo::Args),
    Hook(commands::hook::Args),
}

/// What every command gets: where it runs and how to print.
pub struct Ctx {
    pub cwd: PathBuf,
    pub json: bool,
}

impl Ctx {
    /// The repository containing the working directory.
    pub fn repo(&self) -> Result<Repo, CliError> {
        Repo::discover(&self.cwd).map_err(|e| {
            CliError::new(Kind::Usage, &e)
                .hint("run comm-node inside a git repository, or pass -C DIR")
        })
    }

    /// The repository and its validated `comm.yaml` (read from the main checkout).
    pub fn load(&self) -> Result<(Repo, Loaded), CliError> {
        let repo = self.repo()?;
        let root = repo.main_workdir().ok_or_else(|| {
            CliError::new(
                Kind::Usage,
                "this repository has no main checkout to read comm.yaml from",
            )
        })?;
        let loaded = Config::load(&root.join(config::FILE_NAME))?;
        loaded.check_main(|b| matches!(repo.branch_tip(b), Ok(Some(_))))?;
        Ok((repo, loaded))
    }
}

/// Parses the command line and runs it.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let cwd = match cli
        .dir
        .clone()
        .map(Ok)
        .unwrap_or_else(std::env::current_dir)
    {
        Ok(dir) => dir,
        Err(e) => {
            return report(CliError::new(
                Kind::Failure,
                format!("cannot read the working directory: {e}"),
            ))
        }
    };
    let ctx = Ctx {
        cwd,
        json: cli.json,
    };
    let result = match cli.command {
        Command::Init(args) => commands::init::run(&ctx, args),
        Command::Status(args) => commands::status::run(&ctx, args),
        Command::Demo(args) => commands::demo::run(&ctx, args),
        Command::Hook(args) => commands::hook::run(&ctx, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(e),
    }
}

fn report(e: CliError) -> ExitCode {
    // A closed pipe (`comm-node log | head`) is a clean exit, not an error.
    if e.kind == Kind::Failure && e.message.contains("Broken pipe") {
        return ExitCode::SUCCESS;
    }
    eprint!("{}", e.render());
    e.exit_code()
}
