//! `comm-node status`: every domain on one screen.

use comm_node::clock::{self, format_duration};
use comm_node::health;
use comm_node::queue::{self, prune::Usage};
use comm_node::status::{self, Status};
use comm_node::text::{count, size};

use crate::cli::{ui, CliError, Ctx};

/// Show each domain's agent, held tasks, unread messages, last activity,
/// branch and worktree, and the task graph's counts.
///
/// VS MAIN counts the commits a domain's branch has that main lacks (+)
/// and lacks of main (-); a branch behind main gets a hint to catch up
/// (`comm-node update`) before its next change.
///
/// A domain that holds a task and has been quiet (no commit on its branch,
/// no event on comm) for `health.stall_after` is shown as stalled; past
/// `health.lease` its claims go back to the pool, and status records that on
/// comm (one `lease lapsed` event addressed to the domain).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also show the room comm-node's own files take under .git/comm-node/
    /// (the queue's scratch worktree, its test logs, caches).
    #[arg(long, short)]
    verbose: bool,
    /// Keep going: print the status again each time comm or `up`'s state
    /// changes (the triggers of `comm-node watch`), as plain text for dumb
    /// terminals and logs: redrawn in place on a terminal, appended under
    /// a time line otherwise (`--json`: one document per line).
    #[arg(long)]
    watch: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    if args.watch {
        return watch(ctx, &args);
    }
    let (repo, loaded) = ctx.load()?;
    Ok(ui::print(&once(ctx, &repo, &loaded, &args)?)?)
}

/// Prints the status on every change until interrupted or the pipe closes.
fn watch(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    use std::io::{IsTerminal, Write};
    let (repo, loaded) = ctx.load()?;
    let (tx, rx) = std::sync::mpsc::channel();
    comm_node::cockpit::watch(&repo, &loaded.config, move || {
        let _ = tx.send(());
    })?;
    let tty = std::io::stdout().is_terminal();
    let mut last = String::new();
    loop {
        let text = once(ctx, &repo, &loaded, args)?;
        if text != last {
            if tty {
                // Home and clear: the one escape this writes itself.
                let mut out = std::io::stdout().lock();
                out.write_all(b"\x1b[H\x1b[2J")?;
                out.flush()?;
            } else if !ctx.json {
                ui::print(&format!("--- {}\n", clock::format_rfc3339(clock::now())))?;
            }
            ui::print(&text)?;
            last = text;
        }
        // Ages and leases move on without events: look again each minute.
        match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
        while rx.try_recv().is_ok() {}
    }
}

/// The status once, as text (or one line of JSON under `--json --watch`,
/// pretty JSON otherwise).
fn once(
    ctx: &Ctx,
    repo: &comm_node::git::Repo,
    loaded: &comm_node::config::Loaded,
    args: &Args,
) -> Result<String, CliError> {
    let now = clock::now();
    let (liveness, lapsed) = if repo.ref_tip(comm_node::comm::COMM_REF)?.is_some() {
        let live = health::liveness(repo, &loaded.config, now)?;
        match health::reap(repo, &loaded.config, &live, now)? {
            // The lapse changed who holds what: look again.
            Some(event) => (health::liveness(repo, &loaded.config, now)?, Some(event)),
            None => (live, None),
        }
    } else {
        (Default::default(), None)
    };
    let mut status = status::gather(repo, loaded, now, liveness)?;
    if args.verbose {
        status.disk = Some(queue::prune::usage(repo));
    }
    if ctx.json {
        let text = if args.watch {
            serde_json::to_string(&status)
        } else {
            serde_json::to_string_pretty(&status)
        };
        return Ok(format!("{}\n", text.expect("the status always serializes")));
    }
    let mut out = String::new();
    if let Some(event) = lapsed {
        out.push_str(&format!("{}\n", event.event.subject));
    }
    out.push_str(&render(&status, now));
    if let Some(disk) = &status.disk {
        out.push_str(&render_disk(disk));
    }
    Ok(out)
}

/// The room `.git/comm-node/` takes, part by part, and how to free it.
fn render_disk(disk: &Usage) -> String {
    let mut out = format!("{} takes {}\n", disk.dir.display(), size(disk.bytes));
    for part in &disk.parts {
        out.push_str(&format!(
            "  {:>9}  {}{}\n",
            size(part.bytes),
            part.name,
            if part.prunable { " (prunable)" } else { "" }
        ));
    }
    let prunable: u64 = disk
        .parts
        .iter()
        .filter(|p| p.prunable)
        .map(|p| p.bytes)
        .sum();
    if prunable > 0 {
        out.push_str(&format!(
            "`comm-node queue prune` frees {} (the queue's scratch worktree and test logs)\n",
            size(prunable)
        ));
    }
    out
}

/// The status as aligned tables.
pub fn render(status: &Status, now: i64) -> String {
    let mut rows = vec![vec![
        "DOMAIN".to_owned(),
        "AGENT".to_owned(),
        "TASKS".to_owned(),
        "UNREAD".to_owned(),
        "LAST ACTIVE".to_owned(),
        "RESERVED".to_owned(),
        "QUEUED".to_owned(),
        format!("VS {}", status.main.to_uppercase()),
        "STATE".to_owned(),
    ]];
    for d in &status.domains {
        let vs_main = match d.main {
            Some(ab) => format!("+{} -{}", ab.ahead, ab.behind),
            None => "-".to_owned(),
        };
        let mut state = match (d.branch_exists, d.dirty) {
            (false, _) => "no branch (run init)",
            (true, None) => "no worktree (run init)",
            (true, Some(true)) => "dirty",
            (true, Some(false)) => "clean",
        }
        .to_owned();
        if !d.registered {
            state.push_str(", unregistered");
        }
        if d.stalled {
            state.push_str(", STALLED");
        }
        if d.halted.is_some() {
            state.push_str(", HALTED");
        }
        let last = match d.last_activity {
            Some(a) => format!(
                "{} ago ({})",
                format_duration((now - a.at).max(0) as u64),
                match a.source {
                    health::Source::Branch => "commit",
                    health::Source::Comm => "comm",
                }
            ),
            None => "-".to_owned(),
        };
        rows.push(vec![
            d.name.clone(),
            d.agent
                .as_ref()
                .map(|a| a.agent.clone().unwrap_or_else(|| "said hello".to_owned()))
                .unwrap_or_else(|| "-".to_owned()),
            if d.claimed.is_empty() {
                "-".to_owned()
            } else {
                d.claimed.join(",")
            },
            d.unread.to_string(),
            last,
            match d.reservations.len() {
                0 => "-".to_owned(),
                1 => d.reservations[0].clone(),
                n => format!("{n} reservations"),
            },
            d.queued.clone().unwrap_or_else(|| "-".to_owned()),
            vs_main,
            state,
        ]);
    }
    let mut out = format!(
        "{}: {}, main is `{}`, comm {}\n",
        status.project,
        count(status.domains.len(), "domain"),
        status.main,
        if status.comm {
            "initialized"
        } else {
            "missing (run comm-node init)"
        }
    );
    out.push_str(&table(&rows));
    for d in &status.domains {
        if let Some(h) = &d.halted {
            out.push_str(&format!(
                "{} is {} (comm-node resume {} lifts it)\n",
                d.name,
                ui::sanitize(&h.describe()),
                d.name
            ));
        }
    }
    for d in &status.domains {
        if d.runtime.is_none() && d.usage.is_none() {
            continue;
        }
        let mut parts = Vec::new();
        if let Some(r) = &d.runtime {
            parts.push(format!("{} under up here, {} turns", r.state, r.turns));
        }
        if let Some(u) = &d.usage {
            parts.push(format!(
                "{} turns on comm: {} in / {} out tokens, ${:.4}",
                u.turns, u.input_tokens, u.output_tokens, u.cost_usd
            ));
        }
        if let Some(r) = &d.runtime {
            if let Some(tool) = &r.tool {
                parts.push(format!("now {}", ui::sanitize(tool)));
            }
            if let Some(session) = &r.session {
                parts.push(format!("session {}", ui::sanitize(session)));
            }
        }
        if let Some(turn) = &d.last_turn {
            parts.push(format!("last {}", ui::sanitize(turn)));
        }
        out.push_str(&format!("agent {}: {}\n", d.name, parts.join("; ")));
    }
    let t = status.tasks;
    out.push_str(&format!(
        "tasks: {} open ({} ready), {} claimed, {} done, {} failed, {} cancelled; stalled after {} quiet, claims lapse after {}\n",
        t.open,
        t.ready,
        t.claimed,
        t.done,
        t.failed,
        t.cancelled,
        format_duration(status.health.stall_after),
        format_duration(status.health.lease)
    ));
    if let Some(line) = status.coverage.as_ref().and_then(|c| c.summary()) {
        out.push_str(&format!("{line}\n"));
    }
    for d in &status.domains {
        out.push_str(&format!("  {:<10} {}", d.name, d.worktree.display()));
        if let Some(note) = d.agent.as_ref().and_then(|a| a.note.as_deref()) {
            out.push_str(&format!("  (hello: {note})"));
        }
        out.push('\n');
    }
    out.push_str(&catch_up_hints(status));
    out
}

/// One line per domain whose branch lacks commits of main: catch up first.
fn catch_up_hints(status: &Status) -> String {
    let mut out = String::new();
    for d in &status.domains {
        let Some(ab) = d.main.filter(|ab| ab.behind > 0) else {
            continue;
        };
        out.push_str(&format!(
            "hint: {} is {} commit{} behind {}: catch up before your next change (comm-node update in {})\n",
            d.branch,
            ab.behind,
            if ab.behind == 1 { "" } else { "s" },
            status.main,
            d.worktree.display()
        ));
    }
    out
}

/// Rows as left-aligned columns (the last column unpadded).
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < columns {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}
