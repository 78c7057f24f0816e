//! Taking apart what `init` made: listing linked worktrees with their
//! branches, removing them, deleting branches. Removal runs the `git`
//! executable, which knows every corner of a worktree's admin files.

use std::path::{Path, PathBuf};

use super::command::{failed, git, run};
use super::{Context, Repo, Result};

/// A linked worktree with the branch it has checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedWorktree {
    /// The admin dir's name under `.git/worktrees/`.
    pub name: String,
    pub path: PathBuf,
    /// `domain/api` for `refs/heads/domain/api`; `None` when detached.
    pub branch: Option<String>,
    /// False when git still lists it but its folder is gone.
    pub present: bool,
}

impl Repo {
    /// Every linked worktree of the repository.
    pub fn linked_worktrees(&self) -> Result<Vec<LinkedWorktree>> {
        let names = self
            .inner
            .worktrees()
            .context(|| "cannot list worktrees".into())?;
        let mut out = Vec::new();
        for name in names.iter().flatten().flatten() {
            let Ok(wt) = self.inner.find_worktree(name) else {
                continue;
            };
            let head = std::fs::read_to_string(self.worktree_git_dir(name).join("HEAD"));
            let branch = head
                .ok()
                .and_then(|h| h.trim().strip_prefix("ref: refs/heads/").map(str::to_owned));
            out.push(LinkedWorktree {
                name: name.to_owned(),
                path: wt.path().to_path_buf(),
                branch,
                present: wt.validate().is_ok(),
            });
        }
        Ok(out)
    }

    /// Removes the worktree at `path` (`git worktree remove`; `force` also
    /// removes one with uncommitted changes), or forgets it if its folder
    /// is already gone.
    pub fn remove_worktree(&self, path: &Path, force: bool) -> Result<()> {
        let mut cmd = git();
        cmd.arg("--git-dir")
            .arg(self.common_dir())
            .args(["worktree", "remove"]);
        if force {
            // Twice: also removes a locked worktree.
            cmd.args(["--force", "--force"]);
        }
        let out = run(cmd.arg(path))?;
        if !out.status.success() && path.exists() {
            return Err(failed(
                &format!("git worktree remove {}", path.display()),
                &out.stderr,
            ));
        }
        let out = run(git()
            .arg("--git-dir")
            .arg(self.common_dir())
            .args(["worktree", "prune"]))?;
        if !out.status.success() {
            return Err(failed("git worktree prune", &out.stderr));
        }
        Ok(())
    }

    /// Deletes local branch `name` (whatever it holds: callers decide).
    pub fn delete_branch(&self, name: &str) -> Result<()> {
        self.inner
            .find_branch(name, git2::BranchType::Local)
            .and_then(|mut b| b.delete())
            .context(|| format!("cannot delete branch {name}"))
    }
}
