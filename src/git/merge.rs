//! Trial merges in memory: no worktree, no index file, nothing on disk but
//! the objects of a clean result.

use git2::{MergeOptions, Oid};

use super::{Context, Repo, Result};

/// The result of merging one commit into another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrialMerge {
    /// The merge is clean; its tree is written to the object database.
    Clean { tree: Oid },
    /// The merge conflicts on these paths (sorted, each once); nothing is written.
    Conflict { paths: Vec<String> },
}

impl Repo {
    /// Merges `theirs` into `ours` in memory, the way `git merge` would
    /// (recursive merge base, rename detection), without touching any
    /// worktree or index file.
    pub fn trial_merge(&self, ours: Oid, theirs: Oid) -> Result<TrialMerge> {
        let repo = &self.inner;
        let find = |id: Oid| repo.find_commit(id).context(|| format!("cannot read {id}"));
        let (a, b) = (find(ours)?, find(theirs)?);
        let mut opts = MergeOptions::new();
        opts.find_renames(true);
        let mut index = repo
            .merge_commits(&a, &b, Some(&opts))
            .context(|| format!("cannot merge {theirs} into {ours}"))?;
        if index.has_conflicts() {
            let conflicts = index
                .conflicts()
                .context(|| "cannot list merge conflicts".into())?;
            let mut paths = Vec::new();
            for conflict in conflicts {
                let conflict = conflict.context(|| "cannot read a merge conflict".into())?;
                let sides = [conflict.our, conflict.their, conflict.ancestor];
                if let Some(entry) = sides.into_iter().flatten().next() {
                    paths.push(String::from_utf8_lossy(&entry.path).into_owned());
                }
            }
            paths.sort();
            paths.dedup();
            return Ok(TrialMerge::Conflict { paths });
        }
        let tree = index
            .write_tree_to(repo)
            .context(|| format!("cannot write the merge of {theirs} into {ours}"))?;
        Ok(TrialMerge::Clean { tree })
    }

    /// Writes a commit with `tree` and `parents` (first parent first); no ref moves.
    pub fn commit_tree_with_parents(
        &self,
        tree: Oid,
        parents: &[Oid],
        message: &str,
    ) -> Result<Oid> {
        let repo = &self.inner;
        let tree = repo
            .find_tree(tree)
            .context(|| format!("cannot read tree {tree}"))?;
        let parents = parents
            .iter()
            .map(|p| repo.find_commit(*p).context(|| format!("cannot read {p}")))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        let sig = self.signature()?;
        repo.commit(None, &sig, &sig, message, &tree, &refs)
            .context(|| "cannot write the merge commit".into())
    }
}
