//! Checkouts the merge queue drives: its own scratch worktree (detached,
//! reused between runs), and the user's checkouts of a branch the queue
//! moves, which must follow the ref or be left alone knowingly.
//!
//! File updates run the `git` executable (`worktree add`, `checkout`,
//! `clean`, `read-tree -m -u`, `checkout-index`), so they behave exactly as
//! git's own commands do with the user's attributes, filters and hooks
//! settings. The `read-tree` that updates a user's checkout runs in a
//! process group of its own, named to the caller before it starts, and an
//! update it was killed in the middle of can be rewound and done again.

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

    /// Whether `path` is a linked worktree of this repository.
    pub fn is_our_worktree(&self, path: &Path) -> bool {
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
        if let Some(main) = self.main_repository() {
            if let Some(dir) = main.workdir().filter(|_| on_branch(main)) {
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
    /// The `git read-tree` runs in a process group of its own, whose id
    /// `started` is told before it touches anything.
    pub fn follow_move(
        path: &Path,
        old: Oid,
        new: Oid,
        started: &mut dyn FnMut(u32),
    ) -> Result<Follow> {
        let repo = open(path)?;
        if matches_commit(&repo, path, new)? {
            return Ok(Follow::Current);
        }
        if !matches_commit(&repo, path, old)? {
            return Ok(Follow::Dirty);
        }
        let out = command::run_in_group(
            &mut git_command(
                path,
                &["read-tree", "-m", "-u", &old.to_string(), &new.to_string()],
            ),
            started,
        )?;
        Ok(if out.status.success() {
            Follow::Updated
        } else {
            Follow::Failed(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        })
    }

    /// The index lock of the checkout at `path` (`<git dir>/index.lock`).
    pub fn index_lock(path: &Path) -> Result<PathBuf> {
        Ok(open(path)?.path().join("index.lock"))
    }

    /// Undoes what an interrupted `git read-tree -m -u OLD NEW` (one killed
    /// before it wrote the index) did to the files of the checkout at
    /// `path`: a file it changed or created goes back to `old` (or away),
    /// so that the move can be done again. Files are compared through
    /// git's filters. `Err(why)` (nothing touched) when the index no longer
    /// matches `old` on a moved path, or a file is neither as in `old` nor
    /// as in `new` (someone changed it since).
    pub fn rewind_move(path: &Path, old: Oid, new: Oid) -> Result<std::result::Result<(), String>> {
        let repo = open(path)?;
        let tree = |id: Oid| {
            repo.find_commit(id)
                .and_then(|c| c.tree())
                .context(|| format!("cannot read the tree of {id}"))
        };
        let (old_tree, new_tree) = (tree(old)?, tree(new)?);
        let moved = repo
            .diff_tree_to_tree(Some(&old_tree), Some(&new_tree), None)
            .context(|| format!("cannot diff {old} and {new}"))?;
        let mut paths: Vec<PathBuf> = moved
            .deltas()
            .flat_map(|d| [d.old_file().path(), d.new_file().path()])
            .flatten()
            .map(Path::to_path_buf)
            .collect();
        paths.dedup();
        if paths.is_empty() {
            return Ok(Ok(()));
        }
        let index = repo
            .index()
            .context(|| format!("cannot read the index of {}", path.display()))?;
        let staged = repo
            .diff_tree_to_index(Some(&old_tree), Some(&index), Some(&mut only(&paths)))
            .context(|| format!("cannot diff the index of {}", path.display()))?;
        if let Some(d) = staged.deltas().next() {
            let p = d.new_file().path().or(d.old_file().path()).unwrap_or(path);
            return Ok(Err(format!(
                "its index no longer has {} as in {old}",
                p.display()
            )));
        }
        let differs = |t: &git2::Tree| -> Result<Vec<PathBuf>> {
            let diff = repo
                .diff_tree_to_workdir(Some(t), Some(&mut only(&paths)))
                .context(|| format!("cannot diff the files of {}", path.display()))?;
            Ok(diff
                .deltas()
                .filter_map(|d| d.new_file().path().or(d.old_file().path()))
                .map(Path::to_path_buf)
                .collect())
        };
        let (from_old, from_new) = (differs(&old_tree)?, differs(&new_tree)?);
        if let Some(p) = from_old.iter().find(|p| from_new.contains(p)) {
            return Ok(Err(format!(
                "{} is neither as in {old} nor as in {new}",
                p.display()
            )));
        }
        let (restore, remove): (Vec<&PathBuf>, Vec<&PathBuf>) =
            from_old.iter().partition(|p| old_tree.get_path(p).is_ok());
        for p in remove {
            let file = path.join(p);
            std::fs::remove_file(&file).map_err(|e| io_error(&file, e))?;
        }
        if !restore.is_empty() {
            let mut args = vec!["checkout-index", "-f", "-u", "--"];
            let names: Vec<String> = restore
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            args.extend(names.iter().map(String::as_str));
            git_ok(path, &args)?;
        }
        Ok(Ok(()))
    }
}

/// Opens the checkout at `path`.
fn open(path: &Path) -> Result<Repository> {
    Repository::open(path).context(|| format!("cannot open {}", path.display()))
}

/// Diff options restricted to exactly `paths` (no pattern matching),
/// untracked and ignored files included.
fn only(paths: &[PathBuf]) -> git2::DiffOptions {
    let mut opts = git2::DiffOptions::new();
    opts.disable_pathspec_match(true)
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(true)
        .include_typechange(true);
    for p in paths {
        opts.pathspec(p);
    }
    opts
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
    command::run(&mut git_command(dir, args))
}

fn git_command(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = command::git();
    cmd.arg("-C")
        .arg(dir)
        .args(["-c", "core.hooksPath=/dev/null"])
        .args(args);
    cmd
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
