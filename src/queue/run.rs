//! One queue run: take the entries in order, build the stack, test its
//! tip, bisect on failure, land the tested prefix, record the decisions,
//! and go on until the queue is empty.
//!
//! Crash safety comes from the order of writes. The only ref writes are
//! the compare-and-swap of `main` (to a commit whose tests passed, built
//! before the swap) and then the decisions on `comm`. A run killed before
//! the swap leaves `main` untouched and the entries queued; killed between
//! the swap and the decisions, the next run finds entries whose head `main`
//! already contains and records them as landed (commits on `main` that are
//! not the queue's own merges are reported first, see [`super::untested`]).
//! With `--push` the remote is
//! the reference: `main` and `comm` go in one atomic push, and the local
//! refs follow only after it succeeded.

use std::collections::HashMap;
use std::time::Duration;

use git2::Oid;
use serde::Serialize;

use super::bisect::bisect;
use super::decision::{self, Decision, Verdict};
use super::land::{follow_checkouts, move_branch, repair_checkouts, CheckoutNote};
use super::stack::{self, Layer};
use super::workspace::Workspace;
use super::{entry, leftovers, push, runner, untested, Entry, Failure, QueueError, Untested};
use crate::comm::{self, CommError, Snapshot};
use crate::config::Config;
use crate::git::Repo;

/// Times `main` may move under a run before it gives up.
const MAX_RESTARTS: usize = 20;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Candidates per batch (0: all of them).
    pub batch: usize,
    /// Limit on each setup or test command.
    pub timeout: Duration,
    /// Fetch from and push `main` and `comm` atomically to this remote.
    pub push: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// `main` when the run ended.
    pub main: Option<String>,
    pub batches: usize,
    /// Test runs (each: setup, then the test commands, on one merge commit).
    pub test_runs: usize,
    pub decisions: Vec<DecisionView>,
    /// Checkouts of `main` and what happened to them when it moved.
    pub checkouts: Vec<CheckoutNote>,
    /// Batches redone because `main` moved while they were tested.
    pub restarts: usize,
    /// Atomic pushes the remote rejected (and that were retried).
    pub push_retries: usize,
    /// The process group of a killed run's setup or test command, still
    /// running in the scratch worktree, that this run killed first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub killed_leftover: Option<i32>,
    /// Commits on `main` the queue did not land, reported by this run to
    /// `human` (it builds on them all the same).
    pub untested: Vec<Untested>,
}

/// A decision as shown to users and scripts.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionView {
    pub entry: String,
    pub domain: String,
    pub head: String,
    pub task: Option<String>,
    /// `landed` or `rejected`.
    pub outcome: &'static str,
    /// `conflict`, `boundary`, `tests`, `timeout` or `missing` for a rejection.
    pub reason: Option<&'static str>,
    pub summary: String,
    /// The commit `main` moved to, for a landing.
    pub main: Option<String>,
    /// The test log tail on comm (`artifacts/...`), for a test failure.
    pub artifact: Option<String>,
}

impl DecisionView {
    fn of(d: &Decision, main_branch: &str) -> DecisionView {
        let main = match &d.verdict {
            Verdict::Landed { main, .. } => Some(main.to_string()),
            _ => None,
        };
        DecisionView {
            entry: d.entry.id.clone(),
            domain: d.entry.domain.clone(),
            head: d.entry.head.clone(),
            task: d.entry.task.clone(),
            outcome: if main.is_some() {
                decision::LANDED_KIND
            } else {
                decision::REJECTED_KIND
            },
            reason: d.reason(),
            summary: d.summary(main_branch),
            main,
            artifact: d.artifact().map(|a| format!("artifacts/{a}")),
        }
    }
}

/// What every step of one run works with.
struct Ctx<'a> {
    repo: &'a Repo,
    config: &'a Config,
    opts: &'a Options,
    workspace: &'a Workspace,
}

/// Processes the queue until it is empty.
pub fn run(repo: &Repo, config: &Config, opts: &Options) -> Result<RunReport, QueueError> {
    let workspace = Workspace::lock(repo)?;
    let mut report = RunReport {
        killed_leftover: leftovers::reap_group(&workspace.test_group())?.map(|g| g.pgid),
        checkouts: repair_checkouts(repo, &workspace, &config.main)?,
        ..RunReport::default()
    };
    let ctx = Ctx {
        repo,
        config,
        opts,
        workspace: &workspace,
    };
    while step(&ctx, &mut report)? {
        if report.restarts > MAX_RESTARTS {
            return Err(CommError::Contention(MAX_RESTARTS).into());
        }
    }
    report.main = repo.branch_tip(&config.main)?.map(|m| m.to_string());
    Ok(report)
}

/// One batch; false when the queue was empty.
fn step(ctx: &Ctx, report: &mut RunReport) -> Result<bool, QueueError> {
    let Ctx {
        repo,
        config,
        opts,
        workspace,
    } = *ctx;
    let base = match &opts.push {
        Some(remote) => push::prepare(repo, config, workspace, remote, report)?,
        None => repo
            .branch_tip(&config.main)?
            .ok_or_else(|| QueueError::NoMain(config.main.clone()))?,
    };
    if let Some(untested) = untested::report(repo, &config.main, base)? {
        if let Some(remote) = &opts.push {
            comm::sync(repo, remote)?;
        }
        report.untested.push(untested);
    }
    let snapshot = Snapshot::take(repo)?;
    // Decisions are recorded on comm after main moves: refuse before
    // landing anything rather than land work whose decision cannot be written.
    snapshot.check_writable()?;
    let entries = entry::pending(&snapshot)?;
    if entries.is_empty() {
        return Ok(false);
    }
    if let Some(remote) = &opts.push {
        push::fetch_heads(repo, remote, &entries)?;
    }
    let mut recovered = Vec::new();
    let mut candidates = Vec::new();
    for e in entries {
        let head = e.head_oid()?;
        if repo.has_commit(head) && repo.is_ancestor(head, base)? {
            recovered.push(Decision {
                entry: e,
                verdict: Verdict::Landed {
                    main: base,
                    from: None,
                },
            });
        } else {
            candidates.push(e);
        }
    }
    if !recovered.is_empty() {
        return finish(ctx, base, None, recovered, report);
    }
    if opts.batch > 0 {
        candidates.truncate(opts.batch);
    }
    let (land, decisions) = process(ctx, base, &candidates, report)?;
    finish(ctx, base, land, decisions, report)
}

/// Builds and tests one batch on `base`: the commit to land (if any) and
/// the decisions.
fn process(
    ctx: &Ctx,
    base: Oid,
    candidates: &[Entry],
    report: &mut RunReport,
) -> Result<(Option<Oid>, Vec<Decision>), QueueError> {
    let (repo, config) = (ctx.repo, ctx.config);
    let stack = stack::build(repo, config, base, candidates)?;
    let mut decisions: Vec<Decision> = stack
        .refused
        .into_iter()
        .map(|(entry, refusal)| Decision {
            entry,
            verdict: Verdict::Refused(refusal),
        })
        .collect();
    let layers = stack.layers;
    let n = layers.len();
    if n == 0 {
        return Ok((None, decisions));
    }
    let mut failures: HashMap<usize, (Failure, String)> = HashMap::new();
    let mut test = |k: usize| -> Result<bool, QueueError> {
        let outcome = test_layer(ctx, &layers[..k])?;
        report.test_runs += 1;
        Ok(match outcome {
            None => true,
            Some(failed) => {
                failures.insert(k, failed);
                false
            }
        })
    };
    let good = if test(n)? {
        n
    } else {
        let found = bisect(n, &mut test)?;
        let culprit = &layers[found.culprit - 1];
        let (failure, tail) = failures
            .remove(&found.culprit)
            .expect("the first failing layer was tested");
        decisions.push(Decision {
            entry: culprit.entry.clone(),
            verdict: Verdict::TestsFailed {
                tested: culprit.commit,
                failure,
                tail,
            },
        });
        found.good
    };
    if good == 0 {
        return Ok((None, decisions));
    }
    let landed = layers[good - 1].commit;
    decisions.extend(layers[..good].iter().map(|layer| Decision {
        entry: layer.entry.clone(),
        verdict: Verdict::Landed {
            main: landed,
            from: Some(base),
        },
    }));
    Ok((Some(landed), decisions))
}

/// Checks the top of `layers` out in the scratch worktree and runs `setup`,
/// `test` and the stacked domains' own tests; the failure and log tail.
fn test_layer(ctx: &Ctx, layers: &[Layer]) -> Result<Option<(Failure, String)>, QueueError> {
    let Ctx {
        repo,
        config,
        opts,
        workspace,
    } = *ctx;
    let top = layers.last().expect("a stack has a layer").commit;
    let dir = workspace.worktree();
    repo.scratch_checkout(&dir, top)?;
    let mut commands = config.setup.clone();
    let mut tests = config.test.clone();
    for layer in layers {
        if let Some(domain) = config.domains.get(&layer.entry.domain) {
            for command in &domain.test {
                if !tests.contains(command) {
                    tests.push(command.clone());
                }
            }
        }
    }
    commands.extend(tests);
    let log = workspace.log();
    let _ = std::fs::remove_file(&log);
    match runner::run_commands(&dir, &commands, opts.timeout, &log, &workspace.test_group())
        .map_err(|e| QueueError::io(&log, e))?
    {
        None => Ok(None),
        Some(failure) => {
            let tail = runner::tail(&log).map_err(|e| QueueError::io(&log, e))?;
            Ok(Some((failure, tail)))
        }
    }
}

/// Lands `land` (if any) and records `decisions`; true to go on.
fn finish(
    ctx: &Ctx,
    base: Oid,
    land: Option<Oid>,
    decisions: Vec<Decision>,
    report: &mut RunReport,
) -> Result<bool, QueueError> {
    let Ctx {
        repo,
        config,
        opts,
        workspace,
    } = *ctx;
    let main = &config.main;
    let follow = |report: &mut RunReport, new: Oid| -> Result<(), QueueError> {
        let notes = follow_checkouts(repo, workspace, main, base, new)?;
        report.checkouts.extend(notes);
        Ok(())
    };
    match &opts.push {
        Some(remote) => {
            let Some(moved) = push::publish(repo, remote, main, base, land, &decisions, report)?
            else {
                report.restarts += 1;
                return Ok(true);
            };
            if let (true, Some(new)) = (moved, land) {
                follow(report, new)?;
            }
        }
        None => {
            if let Some(new) = land {
                if !move_branch(repo, main, base, new)? {
                    report.restarts += 1;
                    return Ok(true);
                }
                follow(report, new)?;
            }
            decision::publish(repo, &decisions, main)?;
        }
    }
    report.batches += 1;
    report
        .decisions
        .extend(decisions.iter().map(|d| DecisionView::of(d, main)));
    Ok(true)
}
