//! The one-screen picture of a coordinated repository: each domain's
//! branch, worktree, distance from `main` and cleanliness.
//!
//! Gathering only reads; `comm-node status` renders the result.

use std::path::PathBuf;

use serde::Serialize;

use crate::comm::{self, CommError};
use crate::config::{Config, Loaded};
use crate::git::{AheadBehind, GitError, Repo};
use crate::scaffold;

/// The status of every declared domain.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub project: String,
    pub main: String,
    /// Whether `comm` exists (init has run).
    pub comm: bool,
    pub domains: Vec<DomainStatus>,
}

/// One domain's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct DomainStatus {
    pub name: String,
    pub branch: String,
    /// False until `init` has created the branch.
    pub branch_exists: bool,
    /// Commits ahead of and behind `main`.
    pub main: Option<AheadBehind>,
    pub worktree: PathBuf,
    pub worktree_exists: bool,
    /// Uncommitted changes in the worktree (`None` when it does not exist).
    pub dirty: Option<bool>,
    /// Registered on the `comm` branch.
    pub registered: bool,
}

/// Why status could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Comm(#[from] CommError),
}

/// Reads the status of every domain declared in `loaded`.
pub fn gather(repo: &Repo, loaded: &Loaded) -> Result<Status, StatusError> {
    let config = &loaded.config;
    let root = repo
        .main_workdir()
        .unwrap_or_else(|| repo.common_dir().to_path_buf());
    let main_tip = repo.branch_tip(&config.main)?;
    let registered = comm::registrations(repo)?;
    let mut domains = Vec::new();
    for name in config.domains.keys() {
        let branch = Config::domain_branch(name);
        let tip = repo.branch_tip(&branch)?;
        let main = match (tip, main_tip) {
            (Some(t), Some(m)) => Some(repo.ahead_behind(t, m)?),
            _ => None,
        };
        let known = repo.find_worktree(name)?.filter(|w| w.present);
        let worktree = scaffold::worktree_path(repo, &root, config, name)?;
        let dirty = match &known {
            Some(w) => Some(Repo::is_dirty(&w.path)?),
            None => None,
        };
        domains.push(DomainStatus {
            name: name.clone(),
            branch,
            branch_exists: tip.is_some(),
            main,
            worktree,
            worktree_exists: known.is_some(),
            dirty,
            registered: registered.contains_key(name),
        });
    }
    Ok(Status {
        project: config.project.clone(),
        main: config.main.clone(),
        comm: repo.ref_tip(comm::COMM_REF)?.is_some(),
        domains,
    })
}
