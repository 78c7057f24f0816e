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
use std::path::PathBuf;
use std::time::{Duration, Instant};

use git2::Oid;

use super::bisect::bisect;
use super::current::Stage;
use super::decision::{self, Decision, Verdict};
use super::land::{follow_checkouts, move_branch, repair_checkouts};
use super::progress::{bisect_runs, Observer, Step};
use super::report::{DecisionView, RunReport, TestRun};
use super::runner::{Phase, Place, Timing};
use super::stack::{self, Layer};
use super::workspace::Workspace;
use super::{entry, held, leftovers, push, runner, untested, Entry, Failure, QueueError};
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

/// What every step of one run works with.
struct Ctx<'a> {
    repo: &'a Repo,
    config: &'a Config,
    opts: &'a Options,
    workspace: &'a Workspace,
    observe: Observer<'a>,
}

/// A batch's decisions, each with the log of the test run that decided it.
type Decided = Vec<(Decision, Option<PathBuf>)>;

/// What a test run of a batch's first layers leaves for its decisions.
struct Tested {
    log: PathBuf,
    timings: Vec<Timing>,
}

/// Processes the queue until it is empty, telling `observe` each step.
pub fn run(
    repo: &Repo,
    config: &Config,
    opts: &Options,
    observe: Observer,
) -> Result<RunReport, QueueError> {
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
        observe,
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
        observe,
    } = *ctx;
    let base = match &opts.push {
        Some(remote) => {
            workspace.steps().enter(&Stage::Fetch);
            observe(&Step::Fetching { remote });
            push::prepare(repo, config, workspace, remote, report)?
        }
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
    let entries = held::hold(
        &snapshot,
        entry::pending(&snapshot)?,
        observe,
        &mut report.waiting,
    )?;
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
            let verdict = Verdict::Landed {
                main: base,
                from: None,
                merge: None,
            };
            recovered.push((Decision::untested(e, verdict), None));
        } else {
            candidates.push(e);
        }
    }
    if !recovered.is_empty() {
        observe(&Step::Recovering {
            entries: recovered.len(),
        });
        return finish(ctx, base, None, recovered, report);
    }
    if opts.batch > 0 {
        candidates.truncate(opts.batch);
    }
    observe(&Step::Batch {
        number: report.batches + report.restarts + 1,
        base,
        candidates: &candidates,
    });
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
) -> Result<(Option<Oid>, Decided), QueueError> {
    let (repo, config) = (ctx.repo, ctx.config);
    let stack = stack::build(repo, config, base, candidates, ctx.workspace.steps())?;
    let mut decisions: Decided = stack
        .refused
        .into_iter()
        .map(|(entry, refusal)| (Decision::untested(entry, Verdict::Refused(refusal)), None))
        .collect();
    let layers = stack.layers;
    let n = layers.len();
    if n == 0 {
        return Ok((None, decisions));
    }
    let mut failures: HashMap<usize, (Failure, String)> = HashMap::new();
    let mut tested: HashMap<usize, Tested> = HashMap::new();
    let mut test = |k: usize| -> Result<bool, QueueError> {
        let (outcome, run) = test_layer(ctx, &layers[..k], n)?;
        report.test_runs += 1;
        let (log, timings) = (run.log.clone(), run.commands.clone());
        tested.insert(k, Tested { log, timings });
        report.runs.push(run);
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
        if n > 1 {
            (ctx.observe)(&Step::Bisecting {
                candidates: n,
                runs: bisect_runs(n),
            });
        }
        let found = bisect(n, &mut test)?;
        let culprit = &layers[found.culprit - 1];
        let (failure, tail) = failures
            .remove(&found.culprit)
            .expect("the first failing layer was tested");
        let verdict = Verdict::TestsFailed {
            tested: culprit.commit,
            failure,
            tail,
        };
        let entry = culprit.entry.clone();
        let run = tested
            .remove(&found.culprit)
            .expect("the first failing layer was tested");
        let decision = Decision {
            entry,
            verdict,
            timings: run.timings,
        };
        decisions.push((decision, Some(run.log)));
        found.good
    };
    if good == 0 {
        return Ok((None, decisions));
    }
    let landed = layers[good - 1].commit;
    let run = tested.remove(&good).expect("the landed layers were tested");
    decisions.extend(layers[..good].iter().map(|layer| {
        let verdict = Verdict::Landed {
            main: landed,
            from: Some(base),
            merge: Some(layer.commit),
        };
        let decision = Decision {
            entry: layer.entry.clone(),
            verdict,
            timings: run.timings.clone(),
        };
        (decision, Some(run.log.clone()))
    }));
    Ok((Some(landed), decisions))
}

/// Checks the top of `layers` (of a stack of `of`) out in the scratch
/// worktree and runs `setup`, `test` and the stacked domains' own tests;
/// the failure and log tail, and the run as reported.
fn test_layer(
    ctx: &Ctx,
    layers: &[Layer],
    of: usize,
) -> Result<(Option<(Failure, String)>, TestRun), QueueError> {
    let Ctx {
        repo,
        config,
        opts,
        workspace,
        observe,
    } = *ctx;
    let top = layers.last().expect("a stack has a layer").commit;
    let domains: Vec<&str> = layers.iter().map(|l| l.entry.domain.as_str()).collect();
    let bisecting = layers.len() < of;
    observe(&Step::Testing {
        commit: top,
        domains: domains.clone(),
        layer: layers.len(),
        of,
        bisecting,
    });
    let started = Instant::now();
    let dir = workspace.worktree();
    workspace.steps().enter(&Stage::Checkout);
    repo.scratch_checkout(&dir, top)?;
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
    let log = workspace.new_log(top)?;
    let group = workspace.test_group();
    let place = Place {
        dir: &dir,
        log: &log,
        group_file: &group,
        steps: Some(workspace.steps()),
    };
    let run_phase = |phase, commands: &[String]| {
        runner::run_phase(&place, phase, commands, opts.timeout, observe)
            .map_err(|e| QueueError::io(&log, e))
    };
    let mut ran = run_phase(Phase::Setup, &config.setup)?;
    if ran.failure.is_none() {
        let tests = run_phase(Phase::Test, &tests)?;
        ran.failure = tests.failure;
        ran.timings.extend(tests.timings);
    }
    let outcome = ran.failure;
    observe(&Step::Tested {
        commit: top,
        passed: outcome.is_none(),
        log: &log,
    });
    let run = TestRun {
        commit: top.to_string(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        passed: outcome.is_none(),
        bisecting,
        log: log.clone(),
        seconds: started.elapsed().as_secs(),
        commands: ran.timings,
    };
    match outcome {
        None => Ok((None, run)),
        Some(failure) => {
            let tail = runner::tail(&log).map_err(|e| QueueError::io(&log, e))?;
            Ok((Some((failure, tail)), run))
        }
    }
}

/// Lands `land` (if any) and records `decisions`; true to go on.
fn finish(
    ctx: &Ctx,
    base: Oid,
    land: Option<Oid>,
    decided: Decided,
    report: &mut RunReport,
) -> Result<bool, QueueError> {
    let Ctx {
        repo,
        config,
        opts,
        workspace,
        observe,
    } = *ctx;
    let (decisions, logs): (Vec<Decision>, Vec<Option<PathBuf>>) = decided.into_iter().unzip();
    let main = &config.main;
    // Halted while the batch was tested: the batch is redone without it
    // (the next round reports the entry as waiting).
    if land.is_some() && held::halted_meanwhile(repo, &decisions)? {
        report.restarts += 1;
        return Ok(true);
    }
    let follow = |report: &mut RunReport, new: Oid| -> Result<(), QueueError> {
        let notes = follow_checkouts(repo, workspace, main, base, new)?;
        report.checkouts.extend(notes);
        Ok(())
    };
    match &opts.push {
        Some(remote) => {
            workspace.steps().enter(&Stage::Push);
            let Some(moved) = push::publish(repo, remote, main, base, land, &decisions, report)?
            else {
                observe(&Step::Restarting);
                report.restarts += 1;
                return Ok(true);
            };
            observe(&Step::Pushed { remote });
            if let (true, Some(new)) = (moved, land) {
                observe(&Step::Landed {
                    from: base,
                    to: new,
                });
                follow(report, new)?;
            }
        }
        None => {
            if let Some(new) = land {
                workspace.steps().enter(&Stage::Land);
                if !move_branch(repo, main, base, new)? {
                    observe(&Step::Restarting);
                    report.restarts += 1;
                    return Ok(true);
                }
                observe(&Step::Landed {
                    from: base,
                    to: new,
                });
                follow(report, new)?;
            }
            workspace.steps().enter(&Stage::Record);
            decision::publish(repo, &decisions, main)?;
        }
    }
    report.batches += 1;
    for (d, log) in decisions.iter().zip(logs) {
        let view = DecisionView::of(d, main, log);
        observe(&Step::Decided {
            summary: &view.summary,
            artifact: view.artifact.as_deref(),
        });
        report.decisions.push(view);
    }
    Ok(true)
}
