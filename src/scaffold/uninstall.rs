//! `comm-node uninstall`: take out what `init` put in, and nothing else.
//!
//! Like init, it is a [`plan`] (read only, what `--dry-run` prints) and an
//! [`apply`]. Anything that would lose work (a worktree with uncommitted
//! changes, a branch `main` does not contain) refuses the whole plan unless
//! forced, so a refused uninstall changes nothing.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{hook_dirs, instructions, io_err, mcp, ScaffoldError};
use crate::comm::{self, COMM_REF};
use crate::git::Repo;
use crate::hooks::{self, HookRemoval};

/// What the user asked uninstall to take.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Also delete the `domain/<name>` branches and `comm`.
    pub branches: bool,
    /// Remove dirty worktrees and unmerged branches too.
    pub force: bool,
}

/// One step of uninstall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Removal {
    RemoveWorktree {
        name: String,
        path: PathBuf,
        dirty: bool,
    },
    RemoveHook(HookRemoval),
    DropExcludeBlock {
        path: PathBuf,
    },
    RemoveState {
        path: PathBuf,
        bytes: u64,
    },
    DeleteBranch {
        branch: String,
        merged: bool,
    },
    /// Take out what registered `comm-node mcp` with an agent.
    UnregisterMcp {
        #[serde(flatten)]
        step: mcp::McpAction,
    },
}

impl std::fmt::Display for Removal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Removal::RemoveWorktree { path, dirty, .. } => write!(
                f,
                "remove worktree {}{}",
                path.display(),
                if *dirty {
                    " (its uncommitted changes are lost)"
                } else {
                    ""
                }
            ),
            Removal::RemoveHook(h) => match &h.restore {
                Some(old) => write!(
                    f,
                    "remove hook {} and put {} back",
                    h.path.display(),
                    old.display()
                ),
                None => write!(f, "remove hook {}", h.path.display()),
            },
            Removal::DropExcludeBlock { path } => {
                write!(f, "drop comm-node's block from {}", path.display())
            }
            Removal::RemoveState { path, bytes } => {
                write!(
                    f,
                    "remove {} ({})",
                    path.display(),
                    crate::text::size(*bytes)
                )
            }
            Removal::UnregisterMcp { step } => f.write_str(&step.removal()),
            Removal::DeleteBranch { branch, merged } => write!(
                f,
                "delete branch {branch}{}",
                if *merged {
                    ""
                } else {
                    " (not merged: its commits are lost)"
                }
            ),
        }
    }
}

/// Everything uninstall would do, and what stops it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub removals: Vec<Removal>,
    /// Reasons the plan cannot run without `--force`; empty when it can.
    pub refusals: Vec<String>,
    pub notes: Vec<String>,
}

/// Plans the uninstall of `repo`, whose main branch is `main`.
pub fn plan(repo: &Repo, main: &str, options: Options) -> Result<Plan, ScaffoldError> {
    let root = repo.main_workdir().ok_or(ScaffoldError::Bare)?;
    let state = repo.common_dir().join("comm-node");
    let registered = comm::registrations(repo)?;
    let mut plan = Plan::default();
    let mut roots = Vec::new();
    let mut branches: Vec<String> = registered.values().map(|r| r.branch.clone()).collect();
    for wt in repo.linked_worktrees()? {
        let scratch = wt.path.starts_with(&state);
        let ours = scratch
            || repo.recorded_domain_of(&wt.name).is_some()
            || wt.branch.as_deref().is_some_and(|b| {
                b.strip_prefix("domain/")
                    .is_some_and(|d| registered.contains_key(d))
            });
        if !ours {
            continue;
        }
        let dirty = !scratch && wt.present && Repo::is_dirty(&wt.path)?;
        if dirty && !options.force {
            plan.refusals.push(format!(
                "worktree {} has uncommitted changes (commit or stash them, or pass --force)",
                wt.path.display()
            ));
        }
        if let Some(b) = wt.branch.filter(|b| b.starts_with("domain/")) {
            branches.push(b);
        }
        roots.push(wt.path.clone());
        plan.removals.push(Removal::RemoveWorktree {
            name: wt.name,
            path: wt.path,
            dirty,
        });
    }
    let dirs = hook_dirs(repo, &root, &roots)?;
    let shims = hooks::removal_plan(&dirs).map_err(io_err(&dirs[0]))?;
    plan.removals
        .extend(shims.into_iter().map(Removal::RemoveHook));
    let exclude = repo.common_dir().join("info").join("exclude");
    if fs::read_to_string(&exclude).is_ok_and(|t| t.contains(&instructions::exclude_block())) {
        plan.removals
            .push(Removal::DropExcludeBlock { path: exclude });
    }
    plan.removals.extend(
        mcp::removal_plan(&root, repo.common_dir())
            .into_iter()
            .map(|step| Removal::UnregisterMcp { step }),
    );
    if state.exists() {
        plan.removals.push(Removal::RemoveState {
            bytes: dir_size(&state),
            path: state,
        });
    }
    branches.sort();
    branches.dedup();
    if options.branches {
        plan_branches(repo, main, &branches, options, &mut plan)?;
    } else if !branches.is_empty() || repo.ref_tip(COMM_REF)?.is_some() {
        plan.notes.push(format!(
            "branches {} and comm are kept (--branches deletes them)",
            branches.join(", ")
        ));
    }
    Ok(plan)
}

fn plan_branches(
    repo: &Repo,
    main: &str,
    branches: &[String],
    options: Options,
    plan: &mut Plan,
) -> Result<(), ScaffoldError> {
    let main_tip = repo.branch_tip(main)?;
    for branch in branches {
        let Some(tip) = repo.branch_tip(branch)? else {
            continue;
        };
        let merged = match main_tip {
            Some(m) => repo.is_ancestor(tip, m)?,
            None => false,
        };
        if !merged && !options.force {
            plan.refusals.push(format!(
                "branch {branch} has commits {main} does not contain (land them, or pass --force)"
            ));
        }
        plan.removals.push(Removal::DeleteBranch {
            branch: branch.clone(),
            merged,
        });
    }
    if repo.ref_tip(COMM_REF)?.is_some() {
        plan.notes
            .push("comm is deleted here only; a remote's copy keeps the history".to_owned());
        plan.removals.push(Removal::DeleteBranch {
            branch: "comm".to_owned(),
            merged: true,
        });
    }
    Ok(())
}

/// Carries out a plan that has no refusals, in order.
pub fn apply(repo: &Repo, plan: &Plan) -> Result<(), ScaffoldError> {
    debug_assert!(plan.refusals.is_empty(), "apply of a refused plan");
    for removal in &plan.removals {
        match removal {
            Removal::RemoveWorktree { path, .. } => repo.remove_worktree(path, true)?,
            Removal::RemoveHook(h) => hooks::remove(h).map_err(io_err(&h.path))?,
            Removal::DropExcludeBlock { path } => {
                let text = fs::read_to_string(path).map_err(io_err(path))?;
                let kept = text.replacen(&instructions::exclude_block(), "", 1);
                fs::write(path, kept).map_err(io_err(path))?;
            }
            Removal::RemoveState { path, .. } => {
                fs::remove_dir_all(path).map_err(io_err(path))?;
            }
            Removal::DeleteBranch { branch, .. } => repo.delete_branch(branch)?,
            Removal::UnregisterMcp { step } => mcp::remove(step)?,
        }
    }
    Ok(())
}

/// Bytes of the files under `dir`, not following symlinks.
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}
