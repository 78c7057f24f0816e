//! The lines `comm-node queue run` prints as it works, one per step of the
//! run (see `comm_node::queue::progress`): the batch and its candidates,
//! each test run and command with its outcome, the bisection, the landing
//! and each decision. Under `--json` they go to stderr, so stdout stays
//! one JSON document.

use std::cell::Cell;
use std::time::Duration;

use comm_node::clock::format_duration;
use comm_node::queue::Step;
use comm_node::text::{count, noun_for};

use crate::cli::ui;

/// Prints each step as it comes: on stdout, or on stderr under `--json`.
pub struct Printer {
    pub json: bool,
    /// The branch the queue lands on.
    pub main: String,
    /// A watching run found nothing to do last round: the fetch every
    /// round starts with is not worth a line each time.
    pub idle: Cell<bool>,
}

impl Printer {
    pub fn step(&self, step: &Step) {
        if self.idle.get() && matches!(step, Step::Fetching { .. }) {
            return;
        }
        self.say(&line(step, &self.main));
    }

    /// Prints one line of the run's progress.
    pub fn say(&self, text: &str) {
        let text = format!("{text}\n");
        if self.json {
            ui::eprint(&text);
        } else {
            // A closed stdout must not stop the run; the report says the rest.
            let _ = ui::print(&text);
        }
    }
}

fn short(id: impl ToString) -> String {
    let id = id.to_string();
    id[..id.len().min(7)].to_owned()
}

fn took(d: Duration) -> String {
    match d.as_millis() {
        ms if ms < 1000 => format!("{ms}ms"),
        _ => format_duration(d.as_secs()),
    }
}

/// The line for one step of a run landing on `main`.
pub fn line(step: &Step, main: &str) -> String {
    match step {
        Step::Batch {
            number,
            base,
            candidates,
        } => {
            let names: Vec<String> = candidates
                .iter()
                .map(|e| format!("{} {}{}", e.domain, e.short(), e.task_suffix()))
                .collect();
            format!(
                "batch {number}: {} on {main} ({}): {}",
                count(candidates.len(), "candidate"),
                short(base),
                names.join(", ")
            )
        }
        Step::Fetching { remote } => {
            format!("syncing comm with {remote} and fetching its {main}")
        }
        Step::Recovering { entries } => format!(
            "{} already in {main}: recording them as landed",
            count(*entries, "entry")
        ),
        Step::Testing {
            commit,
            domains,
            layer,
            of,
            bisecting,
        } => format!(
            "{}testing {} at {} ({layer} of {of} stacked)",
            if *bisecting { "bisecting: " } else { "" },
            domains.join("+"),
            short(commit)
        ),
        Step::Command { command } => format!("  $ {command}"),
        Step::CommandDone {
            command,
            failure: None,
            took: t,
        } => format!("  passed in {}: {command}", took(*t)),
        Step::CommandDone {
            command,
            failure: Some(f),
            took: t,
        } => format!("  FAILED in {} ({}): {command}", took(*t), f.reason),
        Step::Tested {
            commit,
            passed,
            log,
        } => format!(
            "{} on {}; log: {}",
            if *passed {
                "tests passed"
            } else {
                "tests failed"
            },
            short(commit),
            log.display()
        ),
        Step::Bisecting { candidates, runs } => format!(
            "bisecting {} to find the culprit (at most {runs} more {})",
            count(*candidates, "candidate"),
            noun_for(*runs, "test run")
        ),
        Step::Landed { from, to } => {
            format!("{main} moved from {} to {}", short(from), short(to))
        }
        Step::Pushed { remote } => {
            format!("pushed {main} and comm to {remote} (one atomic push)")
        }
        Step::Restarting => format!("{main} moved during the batch: redoing it on the new {main}"),
        Step::Waiting { entry, why } => format!(
            "waiting: {} {}{} stays queued ({why}; it lands after comm-node resume {})",
            entry.domain,
            entry.short(),
            entry.task_suffix(),
            entry.domain
        ),
        Step::Decided {
            summary,
            artifact: None,
        } => (*summary).to_owned(),
        Step::Decided {
            summary,
            artifact: Some(a),
        } => format!("{summary}\n    log tail: git show comm:{a}"),
    }
}
