//! Conflicts before they happen: every domain branch with work ahead of
//! `main` is trial-merged with `main`, and every pair of them is merged the
//! way the merge queue would land them, so two domains learn that they edit
//! the same lines before either submits.
//!
//! A pair is merged on `main`'s tip: `main + a`, then `+ b`, exactly the
//! stack the queue builds. A conflict there is one the queue would reject,
//! and it is caused by the pair, since each side already merged cleanly with
//! `main` alone. When either side conflicts with `main` itself, that stack
//! cannot be built; the pair is then merged on its own merge base, which
//! still shows whether the two branches clash with each other.
//!
//! Only reads refs and writes unreferenced objects (trial results); never
//! moves a ref or touches a worktree.

use serde::Serialize;

use crate::config::{Config, Loaded};
use crate::git::{GitError, Repo, TrialMerge};

/// A domain branch with commits that `main` does not have.
#[derive(Debug, Clone, Serialize)]
pub struct LiveBranch {
    pub domain: String,
    pub branch: String,
    /// Commits on the branch that are not on `main`.
    pub ahead: usize,
    /// Commits on `main` that are not on the branch.
    pub behind: usize,
}

/// Where a pair was merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MergedOn {
    /// A domain branch merged into `main`.
    Main,
    /// Two branches stacked on `main`'s tip, as the queue would land them.
    MainTip,
    /// Two branches merged on their merge base (one of them conflicts with `main`).
    MergeBase,
}

/// The trial merge of two branches (`left` is `main` or a domain).
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub left: String,
    pub right: String,
    pub merged_on: MergedOn,
    /// Conflicting paths, as git names them; empty when the merge is clean.
    pub paths: Vec<String>,
}

impl Pair {
    /// Whether this trial merge conflicts.
    pub fn conflicts(&self) -> bool {
        !self.paths.is_empty()
    }
}

/// Every live branch and every trial merge made.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub main: String,
    pub branches: Vec<LiveBranch>,
    /// Each branch with `main` first, then each pair of branches.
    pub pairs: Vec<Pair>,
}

impl Report {
    /// The pairs that conflict.
    pub fn conflicts(&self) -> impl Iterator<Item = &Pair> {
        self.pairs.iter().filter(|p| p.conflicts())
    }
}

/// Why the conflicts could not be looked for.
#[derive(Debug, thiserror::Error)]
pub enum ConflictsError {
    #[error("branch {0}, the main branch in comm.yaml, does not exist")]
    NoMain(String),
    #[error(transparent)]
    Git(#[from] GitError),
}

/// Trial-merges every live domain branch with `main` and with each other.
pub fn find(repo: &Repo, loaded: &Loaded) -> Result<Report, ConflictsError> {
    let main_name = &loaded.config.main;
    let main = repo
        .branch_tip(main_name)?
        .ok_or_else(|| ConflictsError::NoMain(main_name.clone()))?;
    let mut branches = Vec::new();
    let mut tips = Vec::new();
    for domain in loaded.config.domains.keys() {
        let branch = Config::domain_branch(domain);
        let Some(tip) = repo.branch_tip(&branch)? else {
            continue;
        };
        let distance = repo.ahead_behind(tip, main)?;
        if distance.ahead > 0 {
            branches.push(LiveBranch {
                domain: domain.clone(),
                branch,
                ahead: distance.ahead,
                behind: distance.behind,
            });
            tips.push(tip);
        }
    }
    let mut pairs = Vec::new();
    let mut with_main = Vec::new();
    for (branch, tip) in branches.iter().zip(&tips) {
        let merge = repo.trial_merge(main, *tip)?;
        let stacked = match &merge {
            TrialMerge::Clean { tree } => Some(repo.commit_tree_with_parents(
                *tree,
                &[main, *tip],
                &format!("trial: {} onto {main_name}", branch.branch),
            )?),
            TrialMerge::Conflict { .. } => None,
        };
        pairs.push(pair(main_name, &branch.domain, MergedOn::Main, merge));
        with_main.push(stacked);
    }
    for i in 0..branches.len() {
        for j in i + 1..branches.len() {
            let (merge, on) = match with_main[i] {
                Some(stack) if with_main[j].is_some() => {
                    (repo.trial_merge(stack, tips[j])?, MergedOn::MainTip)
                }
                _ => (repo.trial_merge(tips[i], tips[j])?, MergedOn::MergeBase),
            };
            pairs.push(pair(&branches[i].domain, &branches[j].domain, on, merge));
        }
    }
    Ok(Report {
        main: main_name.clone(),
        branches,
        pairs,
    })
}

fn pair(left: &str, right: &str, merged_on: MergedOn, merge: TrialMerge) -> Pair {
    let paths = match merge {
        TrialMerge::Clean { .. } => Vec::new(),
        TrialMerge::Conflict { paths } => paths,
    };
    Pair {
        left: left.to_owned(),
        right: right.to_owned(),
        merged_on,
        paths,
    }
}
