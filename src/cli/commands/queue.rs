//! `comm-node queue run|status`: process the merge queue, or show it.

use std::time::Duration;

use comm_node::clock::{format_duration, parse_duration};
use comm_node::comm::Snapshot;
use comm_node::queue::{self, Options, RunReport};
use comm_node::text::{count, size};
use serde::Serialize;

use super::queue_progress::Printer;
use crate::cli::{ui, CliError, Ctx, Kind};

/// The merge queue: `run` lands submitted work on main, `status` shows it.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    Run(RunArgs),
    /// Show the queued entries in the order a run takes them, and whether a
    /// run is active.
    Status,
    /// Remove the queue's scratch worktree (.git/comm-node/queue/worktree,
    /// with the build caches `setup` left there) and its test logs, to free
    /// disk space; the next run recreates the worktree. Refused while a run
    /// is active. `comm-node status --verbose` shows the sizes.
    Prune,
}

/// Process the queue: merge the candidates in memory onto main (priority,
/// then arrival), re-check boundaries, test the exact merge commit in a
/// scratch worktree (.git/comm-node/queue/worktree) with comm.yaml's
/// `setup` then `test` (plus each candidate domain's `test`), and move main
/// to it with a compare-and-swap. A failing batch is bisected: the passing
/// prefix lands, the culprit is rejected with its log tail on comm.
///
/// Every decision is an event on comm, addressed to the owner (a landing
/// also tells the other domains that main moved). Clean checkouts of main
/// follow it; dirty ones are left alone and reported. Killed at any point,
/// main is at the old tip or at a tested commit; run again to resume (it
/// kills the test processes a killed run left and finishes its checkout
/// update).
///
/// Commits on main the queue did not land (a branch pushed straight to
/// main, a rewritten main) are reported once to `human` as an `untested`
/// event and shown by `queue status`; the queue still builds on that main,
/// since its work is already there; protect main so only the queue pushes.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Process what is queued now, then exit (without it, keep watching
    /// for submissions).
    #[arg(long)]
    once: bool,
    /// Candidates per batch (0: all queued).
    #[arg(long, default_value_t = 0, value_name = "N")]
    batch: usize,
    /// Fetch main and comm from REMOTE first; push both with one atomic
    /// push (never forced; retried when another clone pushed first).
    #[arg(long, value_name = "REMOTE")]
    push: Option<String>,
    /// Limit on each setup or test command; its whole process group is
    /// killed after it (default: `queue.timeout` in comm.yaml, else 30m).
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Without --once: how often to look for new submissions.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    interval: String,
}

/// Default limit on a queue command.
const DEFAULT_TIMEOUT: &str = "30m";

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    match args.command {
        Sub::Run(run) => run_queue(ctx, run),
        Sub::Status => status(ctx),
        Sub::Prune => prune(ctx),
    }
}

fn duration(text: &str, flag: &str) -> Result<Duration, CliError> {
    parse_duration(text)
        .map(Duration::from_secs)
        .map_err(|e| CliError::new(Kind::Usage, format!("{flag}: {e}")))
}

fn run_queue(ctx: &Ctx, args: RunArgs) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let config = &loaded.config;
    let timeout_text = args
        .timeout
        .clone()
        .or_else(|| config.queue.timeout.clone())
        .unwrap_or_else(|| DEFAULT_TIMEOUT.to_owned());
    let timeout = duration(&timeout_text, "--timeout")?;
    if timeout.is_zero() {
        return Err(CliError::new(Kind::Usage, "--timeout must be more than 0s"));
    }
    let interval = duration(&args.interval, "--interval")?;
    if let Some(remote) = &args.push {
        if !repo.has_remote(remote) {
            return Err(
                CliError::new(Kind::Usage, format!("no remote named `{remote}`"))
                    .hint("add one with `git remote add origin URL`, or name an existing remote"),
            );
        }
    }
    let opts = Options {
        batch: args.batch,
        timeout,
        push: args.push,
    };
    let printer = Printer {
        json: ctx.json,
        main: config.main.clone(),
        idle: Default::default(),
    };
    loop {
        let report = queue::run(&repo, config, &opts, &|step| printer.step(step))?;
        // While watching, only rounds that did something are reported.
        let quiet = report.decisions.is_empty()
            && report.checkouts.is_empty()
            && report.untested.is_empty();
        if args.once || !quiet {
            if ctx.json {
                ui::print_json(&report)?;
            } else {
                ui::print(&render(
                    &report,
                    &config.main,
                    repo.state_path("queue/logs"),
                ))?;
            }
        }
        if args.once {
            return Ok(());
        }
        if quiet && !printer.idle.get() {
            printer.say(&watching(&config.main, opts.push.as_deref(), interval));
        }
        printer.idle.set(quiet);
        std::thread::sleep(interval.max(Duration::from_millis(100)));
    }
}

/// What a watching run says when it has nothing to do.
fn watching(main: &str, remote: Option<&str>, interval: Duration) -> String {
    let source = match remote {
        Some(remote) => format!("{remote}'s comm and {main}"),
        None => "comm".to_owned(),
    };
    format!(
        "idle: nothing queued; watching {source} for submissions every {} (Ctrl-C stops)",
        format_duration(interval.as_secs().max(1))
    )
}

/// What is left to say once the steps were printed: warnings, checkouts,
/// and the totals with where the logs are.
fn render(report: &RunReport, main: &str, logs: std::path::PathBuf) -> String {
    let mut out = String::new();
    for u in &report.untested {
        out.push_str(&format!(
            "warning: {} (told human; the queue builds on it)\n",
            u.summary(main)
        ));
    }
    if let Some(group) = report.killed_leftover {
        out.push_str(&format!(
            "killed process group {group}: a test command a killed run left running\n"
        ));
    }
    for c in &report.checkouts {
        out.push_str(&format!(
            "checkout {} ({}): {}\n",
            c.path.display(),
            c.state,
            c.detail
        ));
    }
    if report.decisions.is_empty() && !report.waiting.is_empty() {
        out.push_str(&format!(
            "nothing landed: {} waiting for their halted domains\n",
            count(report.waiting.len(), "entry")
        ));
    } else if report.decisions.is_empty() {
        out.push_str("the merge queue is empty\n");
    } else {
        let landed = report.decisions.iter().filter(|d| d.main.is_some()).count();
        out.push_str(&format!(
            "{landed} landed, {} rejected, {}; {main} is at {}\n",
            report.decisions.len() - landed,
            count(report.test_runs, "test run"),
            report.main.as_deref().map_or("?", |m| &m[..7.min(m.len())])
        ));
    }
    if !report.runs.is_empty() {
        out.push_str(&format!(
            "the whole log of every test run is kept in {}\n",
            logs.display()
        ));
    }
    out
}

fn prune(ctx: &Ctx) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let pruned = queue::prune::prune(&repo)?;
    if ctx.json {
        return Ok(ui::print_json(&pruned)?);
    }
    let mut out = String::new();
    if let Some(group) = pruned.killed_leftover {
        out.push_str(&format!(
            "killed process group {group}: a test command a killed run left running\n"
        ));
    }
    for part in &pruned.removed {
        out.push_str(&format!(
            "removed .git/comm-node/{} ({})\n",
            part.name,
            size(part.bytes)
        ));
    }
    out.push_str(&match pruned.removed.len() {
        0 => "nothing to prune: the queue has no scratch worktree or logs\n".to_owned(),
        _ => format!(
            "freed {}; the next queue run recreates the worktree\n",
            size(pruned.freed)
        ),
    });
    Ok(ui::print(&out)?)
}

/// `queue status --json`.
#[derive(Serialize)]
struct Status {
    main: String,
    tip: Option<String>,
    running: bool,
    /// The step the run in progress is at.
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<queue::CurrentStep>,
    /// Commits on main the queue did not land, since its last landing.
    #[serde(skip_serializing_if = "Option::is_none")]
    untested: Option<queue::Untested>,
    entries: Vec<queue::Entry>,
}

fn status(ctx: &Ctx) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let snapshot = Snapshot::take(&repo)?;
    let tip = repo.branch_tip(&loaded.config.main)?;
    let untested = match tip {
        Some(tip) => queue::untested::current(&repo, &snapshot, tip)?,
        None => None,
    };
    let status = Status {
        main: loaded.config.main.clone(),
        tip: tip.map(|t| t.to_string()),
        running: queue::is_running(&repo),
        step: queue::current::current(&repo),
        untested,
        entries: queue::pending(&snapshot)?,
    };
    if ctx.json {
        return Ok(ui::print_json(&status)?);
    }
    let now = comm_node::clock::now();
    let running = match (&status.step, status.running) {
        (Some(s), _) => format!(
            " (a run is active: {} for {})",
            s.step,
            format_duration(now.saturating_sub(s.since).max(0) as u64)
        ),
        (None, true) => " (a run is active)".to_owned(),
        (None, false) => String::new(),
    };
    let mut out = format!(
        "merge queue onto {}: {}{running}\n",
        status.main,
        count(status.entries.len(), "entry"),
    );
    if let Some(u) = &status.untested {
        out.push_str(&format!(
            "warning: {} ({})\n",
            u.summary(&status.main),
            match &u.event {
                Some(id) => format!("reported to human as {id}; the queue builds on it"),
                None => "the next queue run reports it to human".to_owned(),
            }
        ));
    }
    for (i, e) in status.entries.iter().enumerate() {
        let age = format_duration(now.saturating_sub(e.submitted).max(0) as u64);
        out.push_str(&format!(
            "{:>3}. {:<12} {} {}priority {}  {age} ago  {}\n",
            i + 1,
            e.domain,
            e.short(),
            e.task
                .as_deref()
                .map_or(String::new(), |t| format!("{t}  ")),
            e.priority,
            e.id
        ));
    }
    Ok(ui::print(&out)?)
}
