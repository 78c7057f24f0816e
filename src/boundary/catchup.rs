//! A catch-up merge as the pre-commit hook sees it.
//!
//! When a merge of `main` into a domain branch stops on conflicts, the
//! agent resolves them and runs `git commit`; the staged change then holds
//! every file `main` brought in, most of them other domains'. Those are not
//! the domain's changes: they are already on `main`, checked and landed by
//! the queue. While such a merge is in progress, the change rules (scope,
//! reservations) apply only to what the domain itself changed: the paths
//! whose staged content differs from both parents. The import rules still
//! see every staged file. A merge of anything `main` does not contain
//! (another domain's unlanded branch) gets no such allowance.

use git2::Oid;

use crate::git::{GitError, Repo, StagedChange};

/// The staged changes the domain itself makes when a catch-up merge of
/// `main_branch` is in progress (`None`: no such merge, every staged change
/// is the domain's).
pub fn own_changes(
    repo: &Repo,
    main_branch: &str,
    staged: &[StagedChange],
) -> Result<Option<Vec<StagedChange>>, GitError> {
    let heads = repo.merge_heads()?;
    if heads.is_empty() || !all_on_main(repo, main_branch, &heads)? {
        return Ok(None);
    }
    let mut own = Vec::new();
    for (path, blob) in staged {
        let mut from_main = true;
        for head in &heads {
            if repo.blob_in(*head, path)? != *blob {
                from_main = false;
                break;
            }
        }
        if !from_main {
            own.push((path.clone(), *blob));
        }
    }
    Ok(Some(own))
}

/// Whether every one of `heads` is contained in `main_branch`, locally or
/// as fetched from `origin`.
fn all_on_main(repo: &Repo, main_branch: &str, heads: &[Oid]) -> Result<bool, GitError> {
    let mut tips = Vec::new();
    for name in [
        format!("refs/heads/{main_branch}"),
        format!("refs/remotes/origin/{main_branch}"),
    ] {
        tips.extend(repo.ref_tip(&name)?);
    }
    for head in heads {
        let mut contained = false;
        for tip in &tips {
            if repo.is_ancestor(*head, *tip)? {
                contained = true;
                break;
            }
        }
        if !contained {
            return Ok(false);
        }
    }
    Ok(true)
}
