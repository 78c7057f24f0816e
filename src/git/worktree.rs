//! Linked worktrees: creating them, finding them, and the per-worktree
//! marker file that records which domain a worktree belongs to.

use std::path::{Path, PathBuf};

use git2::{Repository, StatusOptions, WorktreeAddOptions};

use super::{Context, GitError, Repo, Result};

/// The file, in a worktree's private git dir, naming the domain it serves.
/// It lives outside the work tree, so it can never be committed.
const DOMAIN_MARKER: &str = "comm-node-domain";

/// What a linked worktree says about the domain it serves; each can be
/// lost or edited on its own, so identity weighs them together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainClues {
    /// The name in the worktree's marker file, written by `init`.
    pub marker: Option<String>,
    /// The branch checked out (`domain/<name>` for a domain worktree).
    pub branch: Option<String>,
    /// The worktree's name (`init` names a domain's worktree after it).
    pub worktree: Option<String>,
}

/// A linked worktree as git knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeInfo {
    pub name: String,
    pub path: PathBuf,
    /// False when git still lists it but its folder is gone.
    pub present: bool,
}

/// What is on disk for a worktree name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorktreeState {
    /// Git knows no worktree of that name.
    Absent,
    /// A creation that was interrupted (its admin dir is still locked, or
    /// lacks its `gitdir` file). It never held user work.
    HalfMade { path: Option<PathBuf> },
    /// Git lists it, but its folder is gone.
    Missing { path: PathBuf },
    /// A complete worktree.
    Present { path: PathBuf },
}

impl Repo {
    /// The linked worktree called `name`, if git knows one.
    pub fn find_worktree(&self, name: &str) -> Result<Option<WorktreeInfo>> {
        let names = self
            .inner
            .worktrees()
            .context(|| "cannot list worktrees".into())?;
        if !names.iter().any(|n| matches!(n, Ok(Some(n)) if n == name)) {
            return Ok(None);
        }
        let wt = self
            .inner
            .find_worktree(name)
            .context(|| format!("cannot open worktree {name}"))?;
        Ok(Some(WorktreeInfo {
            name: name.to_owned(),
            path: wt.path().to_path_buf(),
            present: wt.validate().is_ok(),
        }))
    }

    /// Classifies what exists for worktree `name`.
    pub fn worktree_state(&self, name: &str) -> Result<WorktreeState> {
        let admin = self.worktree_git_dir(name);
        if !admin.exists() {
            return Ok(WorktreeState::Absent);
        }
        let gitdir = std::fs::read_to_string(admin.join("gitdir")).ok();
        // `gitdir` names the worktree's `.git` file; its parent is the worktree.
        let path = gitdir
            .as_deref()
            .map(|g| PathBuf::from(g.trim()))
            .and_then(|g| g.parent().map(Path::to_path_buf));
        let ours = !admin.join(DOMAIN_MARKER).exists();
        if gitdir.is_none() || (ours && admin.join("locked").exists()) {
            return Ok(WorktreeState::HalfMade { path });
        }
        Ok(match self.find_worktree(name)? {
            Some(wt) if wt.present => WorktreeState::Present { path: wt.path },
            Some(wt) => WorktreeState::Missing { path: wt.path },
            None => WorktreeState::HalfMade { path },
        })
    }

    /// Whether the folder at `path` is what a creation of worktree `name`
    /// leaves when killed before git recorded the folder: nothing but a
    /// `.git` file that is empty (cut off mid-write) or links to `name`.
    pub fn is_half_made_folder(&self, path: &Path, name: &str) -> bool {
        let only_link = std::fs::read_dir(path).is_ok_and(|entries| {
            let names: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .collect();
            names == [".git"]
        });
        let Ok(link) = std::fs::read_to_string(path.join(".git")) else {
            return false;
        };
        if !only_link {
            return false;
        }
        let Some(target) = link.trim().strip_prefix("gitdir: ") else {
            return link.trim().is_empty();
        };
        let admin = self.worktree_git_dir(name);
        match (PathBuf::from(target).canonicalize(), admin.canonicalize()) {
            (Ok(t), Ok(a)) => t == a,
            _ => false,
        }
    }

    /// Removes an interrupted worktree creation: its admin dir and, if
    /// given, the folder it was checking out into.
    pub fn remove_half_made_worktree(
        &self,
        name: &str,
        path: Option<&Path>,
    ) -> std::io::Result<()> {
        if let Some(path) = path.filter(|p| p.exists()) {
            std::fs::remove_dir_all(path)?;
        }
        std::fs::remove_dir_all(self.worktree_git_dir(name))
    }

    /// Forgets a worktree whose folder no longer exists.
    pub fn prune_missing_worktree(&self, name: &str) -> Result<()> {
        let wt = self
            .inner
            .find_worktree(name)
            .context(|| format!("cannot open worktree {name}"))?;
        let mut opts = git2::WorktreePruneOptions::new();
        opts.valid(false);
        wt.prune(Some(&mut opts))
            .context(|| format!("cannot prune worktree {name}"))
    }

    /// Checks `branch` out into a new linked worktree `name` at `path`. The
    /// worktree stays locked until its checkout is complete, so a creation
    /// killed half-way is recognisable ([`WorktreeState::HalfMade`]).
    pub fn add_worktree(&self, name: &str, path: &Path, branch: &str) -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| GitError {
                context: format!("cannot create {}", parent.display()),
                source: git2::Error::from_str(&e.to_string()),
            })?;
        }
        // git creates the folder itself and refuses an existing one, even
        // empty (as left by a creation killed right after making it).
        if std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none()) {
            let _ = std::fs::remove_dir(path);
        }
        let reference = self
            .inner
            .find_reference(&format!("refs/heads/{branch}"))
            .context(|| format!("cannot find branch {branch}"))?;
        let mut opts = WorktreeAddOptions::new();
        opts.reference(Some(&reference)).lock(true);
        let wt = self
            .inner
            .worktree(name, path, Some(&opts))
            .context(|| format!("cannot add worktree {name} at {}", path.display()))?;
        wt.unlock()
            .context(|| format!("cannot unlock worktree {name}"))
    }

    /// The private git dir of linked worktree `name`.
    pub fn worktree_git_dir(&self, name: &str) -> PathBuf {
        self.common_dir().join("worktrees").join(name)
    }

    /// What this checkout says about the domain it serves (nothing for the
    /// main checkout: only linked worktrees serve a domain).
    pub fn domain_clues(&self) -> DomainClues {
        if !self.is_linked_worktree() {
            return DomainClues::default();
        }
        let marker = std::fs::read_to_string(self.git_dir().join(DOMAIN_MARKER))
            .ok()
            .map(|text| text.trim().to_owned())
            .filter(|name| !name.is_empty());
        let branch = self.inner.find_reference("HEAD").ok().and_then(|head| {
            let target = head.symbolic_target().ok()??;
            target.strip_prefix("refs/heads/").map(String::from)
        });
        let worktree = self
            .git_dir()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        DomainClues {
            marker,
            branch,
            worktree,
        }
    }

    /// Whether `other` is the same repository (they share one `.git`).
    pub fn same_repository(&self, other: &Repo) -> bool {
        match (
            self.common_dir().canonicalize(),
            other.common_dir().canonicalize(),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }

    /// The domain recorded for worktree `name`, if any.
    pub fn recorded_domain_of(&self, name: &str) -> Option<String> {
        let file = self.worktree_git_dir(name).join(DOMAIN_MARKER);
        let text = std::fs::read_to_string(file).ok()?;
        Some(text.trim().to_owned())
    }

    /// Records that worktree `name` belongs to `domain`.
    pub fn record_domain(&self, name: &str, domain: &str) -> std::io::Result<()> {
        std::fs::write(
            self.worktree_git_dir(name).join(DOMAIN_MARKER),
            format!("{domain}\n"),
        )
    }

    /// Whether the checkout at `path` has uncommitted changes (untracked
    /// files count; ignored ones do not).
    pub fn is_dirty(path: &Path) -> Result<bool> {
        let repo = Repository::open(path).context(|| format!("cannot open {}", path.display()))?;
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .include_ignored(false)
            .exclude_submodules(true);
        let statuses = repo
            .statuses(Some(&mut opts))
            .context(|| format!("cannot read the status of {}", path.display()))?;
        Ok(!statuses.is_empty())
    }
}
