//! Building a batch in memory: `M0 = main`, `Mi = merge(Mi-1, candidate_i)`
//! with no worktree and no index. Each candidate's own diff (from its fork
//! point with main) is boundary-checked as its domain, since hooks can be
//! skipped; a candidate that breaks a boundary or conflicts is refused and
//! the stack goes on without it.

use git2::Oid;

use super::current::{Stage, StepFile};
use super::untested::MERGE_MARK;
use super::{Entry, QueueError};
use crate::boundary::commits::Checker;
use crate::config::Config;
use crate::git::{Repo, TrialMerge};

/// One layer of the stack: the merge commit that adds `entry` on top of
/// the layer below.
#[derive(Debug, Clone)]
pub struct Layer {
    pub entry: Entry,
    pub commit: Oid,
}

/// Why a candidate was left out of the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Merging it conflicts on these paths.
    Conflict { paths: Vec<String> },
    /// Its diff breaks these boundary rules (`file:line:col: rule: message`).
    Boundary { violations: Vec<String> },
    /// The submitted commit is not in this repository.
    Missing,
}

/// The stack over one base.
#[derive(Debug, Default)]
pub struct Stack {
    pub layers: Vec<Layer>,
    pub refused: Vec<(Entry, Refusal)>,
}

/// Stacks `entries` (in queue order) on `base`, naming each check and
/// merge in the run's step file.
pub fn build(
    repo: &Repo,
    config: &Config,
    base: Oid,
    entries: &[Entry],
    steps: &StepFile,
) -> Result<Stack, QueueError> {
    let mut stack = Stack::default();
    let checker = Checker::new(config);
    let mut top = base;
    for entry in entries {
        let head = entry.head_oid()?;
        if !repo.has_commit(head) {
            stack.refused.push((entry.clone(), Refusal::Missing));
            continue;
        }
        steps.enter(&Stage::Check(&entry.domain));
        let report = checker.check_range(repo, base, head, Some(&entry.domain))?;
        if report.has_errors() {
            let violations = report
                .violations
                .iter()
                .filter(|v| v.severity == "error")
                .map(|v| {
                    format!(
                        "{}:{}:{}: {}: {}",
                        v.file, v.line, v.column, v.rule, v.message
                    )
                })
                .collect();
            stack
                .refused
                .push((entry.clone(), Refusal::Boundary { violations }));
            continue;
        }
        steps.enter(&Stage::Merge(&entry.domain));
        match repo.trial_merge(top, head)? {
            TrialMerge::Conflict { paths } => {
                stack
                    .refused
                    .push((entry.clone(), Refusal::Conflict { paths }));
            }
            TrialMerge::Clean { tree } => {
                let message = format!(
                    "Merge {} {} into {}{}{MERGE_MARK}{}).\n",
                    entry.branch,
                    entry.short(),
                    config.main,
                    entry.task_suffix(),
                    entry.id
                );
                top = repo.commit_tree_with_parents(tree, &[top, head], &message)?;
                stack.layers.push(Layer {
                    entry: entry.clone(),
                    commit: top,
                });
            }
        }
    }
    Ok(stack)
}
