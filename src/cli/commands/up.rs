//! `comm-node up`: run one agent per domain, fed from comm.

use comm_node::runtime::{self, Options, Progress};

use crate::cli::{ui, CliError, Ctx, Kind};

/// Run the domains' agents headless, each in its worktree, until stopped.
///
/// For every selected domain (default: all), `up` dispatches a turn to its
/// agent whenever comm holds work it has not been given yet (unread inbox
/// items, tasks ready for it or held by it, queue rejections), and waits
/// for comm to move when there is none. Each turn is recorded on comm as a
/// `turn` event with its tokens and cost. Agents are configured under
/// `agents:` in comm.yaml (Claude Code by default). Ctrl-C stops every
/// agent cleanly.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Domains to run (default: every declared domain).
    #[arg(value_name = "DOMAIN")]
    domains: Vec<String>,
    /// Return when no selected domain has work and no turn runs.
    #[arg(long)]
    once: bool,
    /// Print what would be dispatched to each domain now, and why; run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Exchange comm with REMOTE before every dispatch, after every turn and
    /// every 2 s while waiting, and push the domains' branches there (run
    /// other domains on other machines the same way).
    #[arg(long, value_name = "REMOTE")]
    sync: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    if comm_node::comm::registrations(&repo)?.is_empty() {
        return Err(
            CliError::new(Kind::Usage, "the comm branch does not exist yet")
                .hint("run comm-node init in the main checkout first"),
        );
    }
    let config = &loaded.config;
    if args.dry_run {
        let planned = runtime::dry_run(&repo, config, &args.domains).map_err(from_runtime)?;
        if ctx.json {
            return Ok(ui::print_json(&planned)?);
        }
        let mut out = String::new();
        for p in &planned {
            let w = &p.work;
            match &p.prompt {
                None => out.push_str(&format!(
                    "{}: nothing to dispatch ({} waiting: given already, or notifications only)\n",
                    w.domain,
                    w.items.len()
                )),
                Some(prompt) if p.resumes.is_some() => {
                    out.push_str(&format!(
                        "{}: would resume session {} ({}), whose turn a previous `up` left unfinished; its work is not dispatched again\n  prompt:\n",
                        w.domain,
                        p.resumes.as_deref().unwrap_or_default(),
                        p.cli
                    ));
                    for line in prompt.lines() {
                        out.push_str(&format!("    | {}\n", ui::sanitize(line)));
                    }
                }
                Some(prompt) => {
                    let kind = if w.kickoff { "kickoff" } else { "turn" };
                    out.push_str(&format!(
                        "{}: would dispatch a {kind} ({}) because:\n",
                        w.domain, p.cli
                    ));
                    for item in &w.new {
                        out.push_str(&format!("  - {}\n", ui::sanitize(&item.line())));
                    }
                    out.push_str("  prompt:\n");
                    for line in prompt.lines() {
                        out.push_str(&format!("    | {}\n", ui::sanitize(line)));
                    }
                }
            }
        }
        return Ok(ui::print(&out)?);
    }
    let options = Options {
        domains: args.domains,
        once: args.once,
        sync: args.sync,
    };
    let json = ctx.json;
    let summary = runtime::run(&repo, config, &options, |p| {
        let _ = if json {
            // One compact JSON object per line (NDJSON), as they happen.
            ui::print(&format!(
                "{}\n",
                serde_json::to_string(p).unwrap_or_default()
            ))
        } else {
            ui::print(&render(p))
        };
    })
    .map_err(from_runtime)?;
    if !json {
        ui::print(&format!(
            "up: {} turn{}{}{}\n",
            summary.turns,
            if summary.turns == 1 { "" } else { "s" },
            if summary.interrupted {
                ", stopped by a signal"
            } else {
                ""
            },
            if summary.failed.is_empty() {
                String::new()
            } else {
                format!(", failed: {}", summary.failed.join(", "))
            }
        ))?;
    }
    if summary.failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            Kind::Refused,
            format!("domain agents failed: {}", summary.failed.join(", ")),
        )
        .hint("`comm-node inbox --as human` holds each failure with the agent's last error lines"))
    }
}

fn render(p: &Progress) -> String {
    match p {
        Progress::Started { domains } => format!("up: running {}\n", domains.join(", ")),
        Progress::Dispatched {
            domain,
            turn,
            resume,
            reasons,
            ..
        } => format!(
            "{domain}: turn {turn} dispatched{} ({})\n",
            if *resume { "" } else { ", new session" },
            reasons.len()
        ),
        Progress::TurnEnded { turn, .. } => format!(
            "{}: turn ended: {}, {} in / {} out tokens, ${}, {} ms\n",
            turn.domain,
            ui::sanitize(&turn.outcome),
            turn.tokens.input,
            turn.tokens.output,
            turn.cost_text,
            turn.duration_ms
        ),
        Progress::Restarting {
            domain,
            attempt,
            delay_ms,
            why,
        } => format!("{domain}: agent {why}; restart {attempt} in {delay_ms} ms\n"),
        Progress::Failed { domain, why } => {
            format!("{domain}: failed ({why}); the human was told\n")
        }
        Progress::Reaped { domain, pids } => format!(
            "{domain}: killed {} process(es) a previous `up` left behind\n",
            pids.len()
        ),
        Progress::Resumed {
            domain,
            session,
            recorded,
        } => {
            format!(
            "{domain}: resuming session {session}, whose turn a previous `up` left unfinished{}\n",
            if *recorded { " (its turn recorded now)" } else { "" }
        )
        }
        Progress::Synced {
            remote,
            received,
            replayed,
            rejected,
        } => {
            let mut line =
                format!("up: synced with {remote}: {received} received, {replayed} sent\n");
            for r in rejected {
                line.push_str(&format!(
                    "up: rejected by the remote's state: {}\n",
                    ui::sanitize(r)
                ));
            }
            line
        }
        Progress::SyncFailed { remote, why } => {
            format!("up: sync with {remote} failed: {}\n", ui::sanitize(why))
        }
        Progress::Halted {
            domain,
            why,
            suspended,
        } => format!(
            "{domain}: {}{}; nothing is dispatched to it until comm-node resume {domain}\n",
            ui::sanitize(why),
            if *suspended {
                "; its turn is suspended"
            } else {
                ""
            }
        ),
        Progress::Unhalted { domain, continued } => format!(
            "{domain}: resumed{}\n",
            if *continued {
                "; its suspended turn continues"
            } else {
                ""
            }
        ),
        Progress::Held { domains, why } => {
            format!("{}: held: {}\n", domains.join(", "), ui::sanitize(why))
        }
        Progress::Waiting => "up: waiting for comm to move\n".into(),
        Progress::Stopping => "up: stopping the agents\n".into(),
    }
}

pub(crate) fn from_runtime(e: runtime::RuntimeError) -> CliError {
    use runtime::RuntimeError;
    let hint = e.hint();
    match e {
        RuntimeError::Comm(c) => c.into(),
        RuntimeError::Busy { .. } | RuntimeError::TurnRunning { .. } => {
            CliError::new(Kind::Refused, &e).hint(hint)
        }
        RuntimeError::Io(_) => CliError::failure(&e).hint(hint),
        _ => CliError::new(Kind::Usage, &e).hint(hint),
    }
}
