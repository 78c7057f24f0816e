//! Command-line definitions (clap) and dispatch. One file per command under
//! `commands/`; this module only parses, finds the repository, and turns
//! results into exit codes.

mod commands;
mod error;
mod mcp;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use comm_node::comm;
use comm_node::config::{Limits, Loaded};
use comm_node::git::Repo;
use comm_node::project;

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
    /// Act as this domain, or `human`, outside a domain worktree (inside one,
    /// the worktree's own domain acts and naming another is refused; the
    /// process's real working directory decides, whatever -C says). In the
    /// main checkout `human` acts by default. Default: $COMM_NODE_AS.
    #[arg(long = "as", value_name = "NAME", global = true)]
    as_name: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Init(commands::init::Args),
    Uninstall(commands::uninstall::Args),
    Status(commands::status::Args),
    Send(commands::send::Args),
    Inbox(commands::inbox::Args),
    Read(commands::read::Args),
    Ack(commands::ack::Args),
    Log(commands::log::Args),
    Thread(commands::thread::Args),
    Publish(commands::publish::Args),
    Artifact(commands::artifact::Args),
    Sync(commands::sync::Args),
    Repair(commands::repair::Args),
    Check(commands::check::Args),
    Graph(commands::graph::Args),
    Demo(commands::demo::Args),
    Hook(commands::hook::Args),
    Imports(commands::imports::Args),
    Task(commands::task::Args),
    Hello(commands::hello::Args),
    Conflicts(commands::conflicts::Args),
    Reserve(commands::reserve::Args),
    Release(commands::release::Args),
    Reservations(commands::reservations::Args),
    Submit(commands::submit::Args),
    #[command(visible_alias = "catch-up")]
    Update(commands::update::Args),
    Queue(commands::queue::Args),
    Completions(commands::completions::Args),
    Man(commands::man::Args),
    Verify(commands::verify::Args),
    Up(commands::up::Args),
    Logs(commands::logs::Args),
    Usage(commands::usage::Args),
    Report(commands::report::Args),
    Attach(commands::attach::Args),
    Halt(commands::halt::Args),
    Resume(commands::resume::Args),
    Inject(commands::inject::Args),
    Budget(commands::budget::Args),
    Mcp(commands::mcp::Args),
    Watch(commands::watch::Args),
}

/// What every command gets: where it runs and how to print.
pub struct Ctx {
    pub cwd: PathBuf,
    /// The process's real working directory (identity comes from it, not from `-C`).
    pub launch_dir: Option<PathBuf>,
    pub json: bool,
    pub as_name: Option<String>,
}

impl Ctx {
    /// The repository containing the working directory.
    pub fn repo(&self) -> Result<Repo, CliError> {
        Repo::discover(&self.cwd).map_err(|e| {
            let error = match e.code() {
                git2::ErrorCode::NotFound => CliError::new(
                    Kind::Usage,
                    format!(
                        "not inside a git repository: {} (nor any folder above it)",
                        self.cwd.display()
                    ),
                ),
                _ => CliError::new(Kind::Usage, &e),
            };
            error.hint(
                "run comm-node inside a git repository (`git init` makes one), or pass -C DIR",
            )
        })
    }

    /// The repository and its validated `comm.yaml` (from the main
    /// checkout, or committed on `main`: see [`comm_node::project`]).
    pub fn load(&self) -> Result<(Repo, Loaded), CliError> {
        let repo = self.repo()?;
        let Some(loaded) = project::load_config_if_any(&repo)? else {
            let root = repo
                .main_workdir()
                .unwrap_or_else(|| repo.common_dir().to_path_buf());
            return Err(CliError::new(
                Kind::Usage,
                format!(
                    "no {} in {} (nor committed on {})",
                    comm_node::config::FILE_NAME,
                    root.components().as_path().display(),
                    repo.main_head().map_or("main".to_owned(), |(b, _)| b)
                ),
            )
            .hint(
                "write one at the repository root to declare the domains (and commit it); `comm-node init --help` prints a complete example",
            ));
        };
        let current = repo.main_head().map(|(branch, _)| branch);
        loaded.check_main(
            |b| matches!(repo.branch_tip(b), Ok(Some(_))),
            current.as_deref(),
        )?;
        Ok((repo, loaded))
    }

    /// The bus limits from comm.yaml (the defaults when there is none).
    pub fn limits(&self, repo: &Repo) -> Result<Limits, CliError> {
        Ok(project::load_config_if_any(repo)?
            .map(|l| l.config.limits)
            .unwrap_or_default())
    }

    /// Who is acting: this process's domain, or `--as` outside one.
    pub fn actor(&self, repo: &Repo) -> Result<String, CliError> {
        let registered = registered_names(repo)?;
        if registered.is_empty() {
            return Err(
                CliError::new(Kind::Usage, "the comm branch does not exist yet")
                    .hint("run comm-node init in the main checkout first"),
            );
        }
        let known: Vec<&str> = registered.iter().map(String::as_str).collect();
        let own = self.own_domain(repo, &known)?;
        Ok(comm::resolve_actor(
            own,
            self.as_name.as_deref(),
            &known,
            outside(repo),
        )?)
    }

    /// The acting domain for checks: this process's, or `--as DOMAIN`;
    /// `None` for the human or when nobody is named.
    pub fn optional_actor(&self, repo: &Repo, loaded: &Loaded) -> Result<Option<String>, CliError> {
        let known: Vec<&str> = loaded.config.domains.keys().map(String::as_str).collect();
        let own = self.own_domain(repo, &known)?;
        if own.is_none() && self.as_name.is_none() {
            return Ok(None);
        }
        let actor = comm::resolve_actor(own, self.as_name.as_deref(), &known, outside(repo))?;
        Ok((actor != comm::HUMAN).then_some(actor))
    }

    /// Whether this process acts in a domain worktree (its own, whatever `-C` says).
    pub fn in_domain_worktree(&self, repo: &Repo) -> Result<bool, CliError> {
        let registered = registered_names(repo)?;
        let known: Vec<&str> = registered.iter().map(String::as_str).collect();
        Ok(self.own_domain(repo, &known)?.is_some())
    }

    /// The domain worktree this process really runs in decides, whatever
    /// `-C` says; outside one, the checkout `-C` names.
    fn own_domain(&self, repo: &Repo, known: &[&str]) -> Result<Option<String>, CliError> {
        // Without -C the process runs where `repo` was found: no second discovery.
        if self.launch_dir.as_deref() == Some(self.cwd.as_path()) {
            return Ok(comm::acting_domain(Some(repo), repo, known)?);
        }
        let launched = self
            .launch_dir
            .as_deref()
            .and_then(|dir| Repo::discover(dir).ok());
        Ok(comm::acting_domain(launched.as_ref(), repo, known)?)
    }
}

/// The names of the registered domains: the files of `domains/` on the comm
/// tip, listed without parsing them (who acts needs only the names).
fn registered_names(repo: &Repo) -> Result<Vec<String>, CliError> {
    Ok(comm::Snapshot::take(repo)?.domains()?)
}

/// Where a command runs when it is not in a domain worktree: the main
/// checkout (where `human` acts by default) or elsewhere.
fn outside(repo: &Repo) -> comm::Outside {
    if repo.workdir().is_some() && !repo.is_linked_worktree() {
        comm::Outside::MainCheckout
    } else {
        comm::Outside::Elsewhere
    }
}

/// The variable that names who acts, for scripts and CI (`--as` wins).
pub const AS_VAR: &str = "COMM_NODE_AS";

/// Parses the command line and runs it.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let cwd = match cli
        .dir
        .clone()
        .map(Ok)
        .unwrap_or_else(std::env::current_dir)
    {
        Ok(dir) => dir,
        Err(e) => {
            return report(
                CliError::new(
                    Kind::Failure,
                    format!("cannot read the working directory: {e}"),
                ),
                cli.json,
            )
        }
    };
    let ctx = Ctx {
        cwd,
        launch_dir: std::env::current_dir().ok(),
        json: cli.json,
        as_name: cli
            .as_name
            .or_else(|| std::env::var(AS_VAR).ok().filter(|v| !v.is_empty())),
    };
    match dispatch(&ctx, cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(e, ctx.json),
    }
}

/// Runs one parsed command (the CLI's and `comm-node mcp`'s one way in).
fn dispatch(ctx: &Ctx, command: Command) -> Result<(), CliError> {
    match command {
        Command::Init(args) => commands::init::run(ctx, args),
        Command::Uninstall(args) => commands::uninstall::run(ctx, args),
        Command::Status(args) => commands::status::run(ctx, args),
        Command::Send(args) => commands::send::run(ctx, args),
        Command::Inbox(args) => commands::inbox::run(ctx, args),
        Command::Read(args) => commands::read::run(ctx, args),
        Command::Ack(args) => commands::ack::run(ctx, args),
        Command::Log(args) => commands::log::run(ctx, args),
        Command::Thread(args) => commands::thread::run(ctx, args),
        Command::Publish(args) => commands::publish::run(ctx, args),
        Command::Artifact(args) => commands::artifact::run(ctx, args),
        Command::Sync(args) => commands::sync::run(ctx, args),
        Command::Repair(args) => commands::repair::run(ctx, args),
        Command::Check(args) => commands::check::run(ctx, args),
        Command::Graph(args) => commands::graph::run(ctx, args),
        Command::Demo(args) => commands::demo::run(ctx, args),
        Command::Hook(args) => commands::hook::run(ctx, args),
        Command::Imports(args) => commands::imports::run(ctx, args),
        Command::Task(args) => commands::task::run(ctx, args),
        Command::Hello(args) => commands::hello::run(ctx, args),
        Command::Conflicts(args) => commands::conflicts::run(ctx, args),
        Command::Reserve(args) => commands::reserve::run(ctx, args),
        Command::Release(args) => commands::release::run(ctx, args),
        Command::Reservations(args) => commands::reservations::run(ctx, args),
        Command::Submit(args) => commands::submit::run(ctx, args),
        Command::Update(args) => commands::update::run(ctx, args),
        Command::Queue(args) => commands::queue::run(ctx, args),
        Command::Completions(args) => commands::completions::run(ctx, args),
        Command::Man(args) => commands::man::run(ctx, args),
        Command::Verify(args) => commands::verify::run(ctx, args),
        Command::Up(args) => commands::up::run(ctx, args),
        Command::Logs(args) => commands::logs::run(ctx, args),
        Command::Attach(args) => commands::attach::run(ctx, args),
        Command::Mcp(args) => commands::mcp::run(ctx, args),
        Command::Usage(args) => commands::usage::run(ctx, args),
        Command::Report(args) => commands::report::run(ctx, args),
        Command::Watch(args) => commands::watch::run(ctx, args),
        Command::Halt(args) => commands::halt::run(ctx, args),
        Command::Resume(args) => commands::resume::run(ctx, args),
        Command::Inject(args) => commands::inject::run(ctx, args),
        Command::Budget(args) => commands::budget::run(ctx, args),
    }
}

/// Shows an error: as text on stderr, or under `--json` as one JSON
/// document on stdout (`{"error", "hint", "exit", "causes"}`) unless the
/// command already printed its JSON result there.
fn report(e: CliError, json: bool) -> ExitCode {
    // A closed pipe (`comm-node log | head`) is a clean exit, not an error.
    if e.kind == Kind::Failure && e.message.contains("Broken pipe") {
        return ExitCode::SUCCESS;
    }
    // A command that printed its JSON result before failing (verify
    // finding a bad commit) keeps stdout one document.
    if json && !e.quiet && !ui::printed_json() {
        if ui::print_json(&e.to_json()).is_err() {
            ui::eprint(&e.render());
        }
    } else {
        ui::eprint(&e.render());
    }
    e.exit_code()
}

/// A command line clap could not parse: its own output (help and version
/// included) unless `--json` was asked for, then the JSON error shape.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let shown = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if shown || !std::env::args_os().any(|a| a == "--json") {
        e.exit();
    }
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    let message = first.strip_prefix("error: ").unwrap_or(first);
    report(
        CliError::new(Kind::Usage, message)
            .hint("`comm-node help` lists the commands and their arguments"),
        true,
    )
}
