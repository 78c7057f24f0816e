//! Checkouts the merge queue drives: its own scratch worktree (detached,
//! reused between runs), and the user's checkouts of a branch the queue
//! moves, which must follow the ref or be left alone knowingly.
//!
//! File updates run the `git` executable (`worktree add`, `checkout`,
//! `clean`, `read-tree -m -u`), so they behave exactly as git's own
//! commands do with the user's attributes, filters and hooks settings.

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use super::{command, Context, GitError, Repo, Result};

/// What happened to one checkout of a branch that moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follow {
    /// Its index and files now match the new tip.
    Updated,
    /// Its index and files already matched the new tip.
    Current,
    /// It had uncommitted changes to tracked files; nothing was touched.
    Dirty,
    /// Git refused to update it (e.g. an untracked file is in the way).
    Failed(String),
}

impl Repo {
    /// Makes `path` a detached linked worktree at `commit` whose tracked
    /// files match the commit exactly and whose untracked files are gone.
    /// Ignored files (build caches) are kept. A folder left broken by a
    /// killed run is removed and recreated.
    pub fn scratch_checkout(&self, path: &Path, commit: Oid) -> Result<()> {
        if !self.is_our_worktree(path) {
            if path.exists() {
                std::fs::remove_dir_all(path).map_err(|e| io_error(path, e))?;
            }
            let git_dir = self.common_dir().to_string_lossy().into_owned();
            git_ok(
                self.common_dir(),
                &["--git-dir", &git_dir, "worktree", "prune"],
            )?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
            }
            let target = path.to_string_lossy();
            let id = commit.to_string();
            git_ok(
                self.common_dir(),
                &[
                    "--git-dir",
                    &git_dir,
                    "worktree",
                    "add",
                    // Twice: also over a creation that was killed while
                    // git held it locked (a "missing but locked" worktree).
                    "--force",
                    "--force",
                    "--detach",
                    "--no-checkout",
                    "-q",
                    &target,
                    &id,
                ],
            )?;
        }
        // The caller holds the queue's run lock, so an index lock here was
        // left by a killed run.
        if let Ok(repo) = Repository::open(path) {
            let _ = std::fs::remove_file(repo.path().join("index.lock"));
        }
        let id = commit.to_string();
        git_ok(path, &["checkout", "--detach", "--force", "-q", &id])?;
        git_ok(path, &["clean", "-fdq"])?;
        Ok(())
    }

    /// The latest move of ref `name` recorded in its reflog: old id, new
    /// id and message (`None` without a reflog entry).
    pub fn last_ref_move(&self, name: &str) -> Result<Option<(Oid, Oid, String)>> {
        let reflog = self
            .inner
            .reflog(name)
            .context(|| format!("cannot read the reflog of {name}"))?;
        Ok(reflog.get(0).map(|e| {
            (
                e.id_old(),
                e.id_new(),
                String::from_utf8_lossy(e.message_bytes().unwrap_or_default()).into_owned(),
            )
        }))
    }

    fn is_our_worktree(&self, path: &Path) -> bool {
        let Ok(repo) = Repository::open(path) else {
            return false;
        };
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        repo.is_worktree() && same(repo.commondir(), self.common_dir())
    }

    /// The work trees (main checkout and linked worktrees) that have
    /// `refs/heads/<branch>` checked out.
    pub fn checkouts_of(&self, branch: &str) -> Result<Vec<PathBuf>> {
        let full = format!("refs/heads/{branch}");
        let on_branch = |repo: &Repository| {
            repo.find_reference("HEAD")
                .ok()
                .map(|h| matches!(h.symbolic_target(), Ok(Some(t)) if t == full))
                .unwrap_or(false)
        };
        let mut out = Vec::new();
        if let Ok(main) = Repository::open(self.common_dir()) {
            if let Some(dir) = main.workdir().filter(|_| on_branch(&main)) {
                // git2 ends a work tree with `/`; show it as users write it.
                out.push(dir.components().collect());
            }
        }
        let names = self
            .inner
            .worktrees()
            .context(|| "cannot list worktrees".into())?;
        for name in names.iter().filter_map(|n| n.ok().flatten()) {
            let Ok(wt) = self.inner.find_worktree(name) else {
                continue;
            };
            if let Ok(repo) = Repository::open(wt.path()) {
                if on_branch(&repo) {
                    out.push(wt.path().to_path_buf());
                }
            }
        }
        Ok(out)
    }

    /// Brings the checkout at `path`, whose branch just moved from `old` to
    /// `new`, up to date the way `git read-tree -m -u OLD NEW` does, if its
    /// index and tracked files still match `old`; otherwise leaves it alone.
    pub fn follow_move(path: &Path, old: Oid, new: Oid) -> Result<Follow> {
        let repo = Repository::open(path).context(|| format!("cannot open {}", path.display()))?;
        if matches_commit(&repo, path, new)? {
            return Ok(Follow::Current);
        }
        if !matches_commit(&repo, path, old)? {
            return Ok(Follow::Dirty);
        }
        let out = git(
            path,
            &["read-tree", "-m", "-u", &old.to_string(), &new.to_string()],
        )?;
        Ok(if out.status.success() {
            Follow::Updated
        } else {
            Follow::Failed(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        })
    }
}

/// Whether the index and tracked files of the checkout match `commit`.
fn matches_commit(repo: &Repository, path: &Path, commit: Oid) -> Result<bool> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .context(|| format!("cannot read the tree of {commit}"))?;
    let index = repo
        .index()
        .context(|| format!("cannot read the index of {}", path.display()))?;
    let staged = repo
        .diff_tree_to_index(Some(&tree), Some(&index), None)
        .context(|| format!("cannot diff the index of {}", path.display()))?;
    if staged.deltas().len() > 0 {
        return Ok(false);
    }
    let mut opts = git2::DiffOptions::new();
    opts.include_untracked(false);
    let unstaged = repo
        .diff_index_to_workdir(Some(&index), Some(&mut opts))
        .context(|| format!("cannot diff the files of {}", path.display()))?;
    Ok(unstaged.deltas().len() == 0)
}

/// Runs `git ARGS` in `dir` with the environment of a plain invocation and
/// no hooks: the queue's checkouts run `setup` explicitly, and a user's
/// `post-checkout` hook has no business in the scratch worktree.
fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output> {
    command::run(
        command::git()
            .arg("-C")
            .arg(dir)
            .args(["-c", "core.hooksPath=/dev/null"])
            .args(args),
    )
}

fn git_ok(dir: &Path, args: &[&str]) -> Result<()> {
    let out = git(dir, args)?;
    if out.status.success() {
        return Ok(());
    }
    let what = format!("git {} in {}", args.join(" "), dir.display());
    Err(command::failed(&what, &out.stderr))
}

fn io_error(path: &Path, e: std::io::Error) -> GitError {
    GitError {
        context: format!("cannot prepare {}", path.display()),
        source: git2::Error::from_str(&e.to_string()),
    }
}
