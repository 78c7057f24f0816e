//! Catching a domain branch up with `main`, and what an unfinished git
//! operation (a merge, a rebase) left in a checkout.
//!
//! The catch-up itself is git's own `merge` (or `rebase`) run in the
//! domain's worktree, so the agent resolves conflicts with the tools it
//! already knows, and the worktree's hooks (comm-node's included) see the
//! merge commit exactly as they would see one made by hand.

use std::path::Path;

use git2::{Oid, RepositoryState};

use super::command::{self, git};
use super::{Context, Repo, Result};

/// A git operation a checkout is in the middle of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InProgress {
    Merge,
    Rebase,
    CherryPick,
    Revert,
    Bisect,
}

impl InProgress {
    /// The git command that finishes or abandons it.
    pub fn name(self) -> &'static str {
        match self {
            InProgress::Merge => "merge",
            InProgress::Rebase => "rebase",
            InProgress::CherryPick => "cherry-pick",
            InProgress::Revert => "revert",
            InProgress::Bisect => "bisect",
        }
    }
}

/// How to bring `main` into a domain branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Merge,
    Rebase,
}

/// What a catch-up did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatchUp {
    /// The branch now contains main (fast-forward, merge commit or rebase).
    Done { head: Oid },
    /// Git stopped on conflicts (or on a refusing hook) and left the
    /// operation in progress in the worktree; `conflicts` lists the
    /// unmerged paths, `said` what git printed.
    Stopped {
        conflicts: Vec<String>,
        said: String,
    },
}

impl Repo {
    /// The operation this checkout is in the middle of, if any.
    pub fn in_progress(&self) -> Option<InProgress> {
        match self.inner.state() {
            RepositoryState::Clean => None,
            RepositoryState::Merge => Some(InProgress::Merge),
            RepositoryState::Revert | RepositoryState::RevertSequence => Some(InProgress::Revert),
            RepositoryState::CherryPick | RepositoryState::CherryPickSequence => {
                Some(InProgress::CherryPick)
            }
            RepositoryState::Bisect => Some(InProgress::Bisect),
            RepositoryState::Rebase
            | RepositoryState::RebaseInteractive
            | RepositoryState::RebaseMerge
            | RepositoryState::ApplyMailbox
            | RepositoryState::ApplyMailboxOrRebase => Some(InProgress::Rebase),
        }
    }

    /// The commits an unfinished merge brings in (`MERGE_HEAD`); empty when
    /// no merge is in progress.
    pub fn merge_heads(&self) -> Result<Vec<Oid>> {
        if self.inner.state() != RepositoryState::Merge {
            return Ok(Vec::new());
        }
        // git writes one commit id a line (several for an octopus merge).
        let file = self.git_dir().join("MERGE_HEAD");
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(command::failed(
                    &format!("reading {}", file.display()),
                    e.to_string().as_bytes(),
                ))
            }
        };
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| Oid::from_str(l).context(|| format!("MERGE_HEAD holds `{l}`")))
            .collect()
    }

    /// The blob `path` has in `commit` (`None`: no such file there).
    pub fn blob_in(&self, commit: Oid, path: &str) -> Result<Option<Oid>> {
        let tree = self.tree_of(commit)?;
        Ok(tree
            .get_path(Path::new(path))
            .ok()
            .filter(|e| e.kind() == Some(git2::ObjectType::Blob))
            .map(|e| e.id()))
    }
}

/// Brings branch `main` into the branch checked out at `worktree` with
/// git's own merge (`--no-edit`; a fast-forward when possible) or rebase.
/// Conflicts are not an error: the operation is left in progress for the
/// agent (see [`abort_operation`]).
pub fn catch_up(worktree: &Path, main: &str, method: Method) -> Result<CatchUp> {
    let mut cmd = git();
    cmd.arg("-C").arg(worktree);
    match method {
        Method::Merge => cmd.args(["merge", "--no-edit", main]),
        Method::Rebase => cmd.args(["rebase", main]),
    };
    let out = command::run(&mut cmd)?;
    let repo = Repo::open(worktree)?;
    if repo.in_progress().is_some() {
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return Ok(CatchUp::Stopped {
            conflicts: unmerged(worktree)?,
            said: said.trim().to_owned(),
        });
    }
    if !out.status.success() {
        let what = match method {
            Method::Merge => format!("git merge {main}"),
            Method::Rebase => format!("git rebase {main}"),
        };
        return Err(command::failed(&what, &[out.stdout, out.stderr].concat()));
    }
    let head = repo
        .head_commit()
        .ok_or_else(|| command::failed("git merge", b"HEAD has no commit"))?;
    Ok(CatchUp::Done { head })
}

/// Abandons the merge or rebase in progress at `worktree`, restoring the
/// branch and the files as they were before it started.
pub fn abort_operation(worktree: &Path, op: InProgress) -> Result<()> {
    let out = command::run(git().arg("-C").arg(worktree).args([op.name(), "--abort"]))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(command::failed(
            &format!("git {} --abort", op.name()),
            &out.stderr,
        ))
    }
}

/// The paths with unresolved conflicts in the index at `worktree`.
fn unmerged(worktree: &Path) -> Result<Vec<String>> {
    let out = command::run(git().arg("-C").arg(worktree).args([
        "diff",
        "--name-only",
        "--diff-filter=U",
        "-z",
    ]))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect())
}
