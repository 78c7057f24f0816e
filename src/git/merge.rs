//! Trial merges that give exactly the tree `git merge-tree --write-tree`
//! (git's `ort` strategy) gives, without a worktree or an index file.
//!
//! The rule. A merge is computed in memory only when its result cannot
//! depend on anything `ort` decides: there is one merge base (or none), and
//! the paths each side changed against it are disjoint, except paths both
//! sides changed to the same blob and mode that exist in the base. Then the
//! result is simply the base with both sides' changes applied, which is what
//! every three-way merge gives. One more thing must hold, because `ort`
//! looks past single paths: every directory above a changed path must, on
//! the other side, be a directory or be what it was in the base (a file
//! there is a file/directory conflict; a directory the other side removed
//! may be a directory rename, which `ort` follows into its new place).
//!
//! Everything else goes to `git merge-tree --write-tree` as a subprocess:
//! criss-cross histories (libgit2 and `ort` build the virtual base
//! differently); files both sides changed (libgit2's text merge conflicts
//! where git's is clean on real histories, whatever git's diff algorithm,
//! and only git honours `.gitattributes` merge drivers); a path one side
//! deleted that the other changed or also deleted (renames: libgit2 names
//! rename conflicts differently and has no directory rename detection).
//! The fallback also honours the user's merge configuration
//! (`merge.renames`, `merge.directoryRenames`). BENCHMARKS.md records the
//! replay of 15,820 real merges that checks this rule against git.
//!
//! A clean in-memory merge writes only the trees of its result; the git
//! fallback also writes the objects of a conflicted result, unreferenced
//! (`git gc` prunes them).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use git2::{ErrorCode, FileMode, Oid, Tree, TreeEntry};

use super::{command, Context, Repo, Result};

/// The result of merging one commit into another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrialMerge {
    /// The merge is clean; its tree is written to the object database.
    Clean { tree: Oid },
    /// The merge conflicts on these paths (sorted, each once), as
    /// `git merge-tree --name-only` lists them.
    Conflict { paths: Vec<String> },
}

/// Which engine computed a trial merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeEngine {
    /// In memory: the sides changed disjoint paths.
    InMemory,
    /// `git merge-tree --write-tree`, for this reason.
    Git(GitReason),
}

/// Why a trial merge was handed to git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitReason {
    /// The commits have several merge bases (criss-cross history).
    CrissCross,
    /// Both sides changed (or deleted) this path differently.
    BothChanged(String),
    /// One side changed this path while the other replaced or removed a
    /// directory above it (file/directory conflict or directory rename).
    DirectoryChanged(String),
}

/// A tree entry: blob, link, tree or gitlink id and its mode.
type Entry = (Oid, i32);

/// What one side did to each path it changed: its new entry, `None` for a deletion.
type SideChanges = BTreeMap<Vec<u8>, Option<Entry>>;

/// The merge base of two commits, as far as a trial merge is concerned.
enum Base<'r> {
    One(Tree<'r>),
    Unrelated(Tree<'r>),
    Several,
}

impl Repo {
    /// Merges `theirs` into `ours` the way `git merge-tree --write-tree`
    /// would (unrelated histories allowed), without touching any worktree
    /// or index file. See the module doc for when git itself is asked.
    pub fn trial_merge(&self, ours: Oid, theirs: Oid) -> Result<TrialMerge> {
        Ok(self.trial_merge_explained(ours, theirs)?.0)
    }

    /// [`Repo::trial_merge`], also saying which engine computed it.
    pub fn trial_merge_explained(
        &self,
        ours: Oid,
        theirs: Oid,
    ) -> Result<(TrialMerge, MergeEngine)> {
        let ours_tree = self.tree_of(ours)?;
        let theirs_tree = self.tree_of(theirs)?;
        let (base, unrelated) = match self.merge_base_tree(ours, theirs)? {
            Base::One(tree) => (tree, false),
            Base::Unrelated(tree) => (tree, true),
            Base::Several => {
                let merge = self.git_merge_tree(ours, theirs, false)?;
                return Ok((merge, MergeEngine::Git(GitReason::CrissCross)));
            }
        };
        match self.disjoint_changes(&base, &ours_tree, &theirs_tree)? {
            Ok(theirs_changes) => {
                let tree = self.apply_changes(&ours_tree, &theirs_changes)?;
                Ok((TrialMerge::Clean { tree }, MergeEngine::InMemory))
            }
            Err(reason) => {
                let merge = self.git_merge_tree(ours, theirs, unrelated)?;
                Ok((merge, MergeEngine::Git(reason)))
            }
        }
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

    pub(super) fn tree_of(&self, commit: Oid) -> Result<Tree<'_>> {
        self.inner
            .find_commit(commit)
            .and_then(|c| c.tree())
            .context(|| format!("cannot read the tree of {commit}"))
    }

    fn merge_base_tree(&self, ours: Oid, theirs: Oid) -> Result<Base<'_>> {
        let bases = match self.inner.merge_bases(ours, theirs) {
            Ok(bases) => bases,
            Err(e) if e.code() == ErrorCode::NotFound => {
                let empty = self
                    .inner
                    .treebuilder(None)
                    .and_then(|b| b.write())
                    .and_then(|id| self.inner.find_tree(id))
                    .context(|| "cannot write the empty tree".into())?;
                return Ok(Base::Unrelated(empty));
            }
            Err(e) => {
                return Err(e)
                    .context(|| format!("cannot find the merge bases of {ours} and {theirs}"))
            }
        };
        match bases.len() {
            1 => Ok(Base::One(self.tree_of(bases[0])?)),
            _ => Ok(Base::Several),
        }
    }

    /// What `theirs` changed against `base`, when the merge result cannot
    /// depend on how it is merged with what `ours` changed; otherwise why not.
    fn disjoint_changes(
        &self,
        base: &Tree,
        ours: &Tree,
        theirs: &Tree,
    ) -> Result<std::result::Result<SideChanges, GitReason>> {
        let ours_changes = self.side_changes(base, ours)?;
        let theirs_changes = self.side_changes(base, theirs)?;
        for (path, theirs_entry) in &theirs_changes {
            if let Some(ours_entry) = ours_changes.get(path) {
                let same_edit = ours_entry.is_some() && ours_entry == theirs_entry;
                if !same_edit || base.get_path(as_path(path)).is_err() {
                    return Ok(Err(GitReason::BothChanged(lossy(path))));
                }
            }
        }
        for (changes, other) in [(&ours_changes, theirs), (&theirs_changes, ours)] {
            if let Some(path) = directory_clash(changes, base, other) {
                return Ok(Err(GitReason::DirectoryChanged(path)));
            }
        }
        Ok(Ok(theirs_changes))
    }

    /// Every path `side` changed against `base`, without rename detection.
    fn side_changes(&self, base: &Tree, side: &Tree) -> Result<SideChanges> {
        let mut changes = SideChanges::new();
        self.diff_trees(Some(base), Some(side), b"", &mut changes)?;
        Ok(changes)
    }

    /// Adds to `out` what changed from `old` to `new` (trees at `prefix`),
    /// descending only into subtrees whose ids differ. Both entry lists are
    /// in git's tree order, so one merging pass pairs them.
    fn diff_trees(
        &self,
        old: Option<&Tree>,
        new: Option<&Tree>,
        prefix: &[u8],
        out: &mut SideChanges,
    ) -> Result<()> {
        let (old, new) = (tree_entries(old), tree_entries(new));
        let (mut i, mut j) = (0, 0);
        loop {
            let (was, is) = match (old.get(i), new.get(j)) {
                (None, None) => return Ok(()),
                (Some(a), Some(b)) if entry(a) == entry(b) && a.name_bytes() == b.name_bytes() => {
                    (i, j) = (i + 1, j + 1);
                    continue;
                }
                (Some(a), Some(b)) => match tree_order(a, b) {
                    Ordering::Less => (Some(a), None),
                    Ordering::Greater => (None, Some(b)),
                    Ordering::Equal => (Some(a), Some(b)),
                },
                (a, b) => (a, b),
            };
            i += usize::from(was.is_some());
            j += usize::from(is.is_some());
            let name = was.or(is).map(TreeEntry::name_bytes).unwrap_or_default();
            let mut path = prefix.to_vec();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(name);
            self.diff_entry(was.map(entry), is.map(entry), path, out)?;
        }
    }

    /// Adds to `out` the change of one name from `was` to `is` (differing).
    fn diff_entry(
        &self,
        was: Option<Entry>,
        is: Option<Entry>,
        path: Vec<u8>,
        out: &mut SideChanges,
    ) -> Result<()> {
        if was == is {
            return Ok(());
        }
        match (is, was) {
            (Some(entry), _) if !is_tree(entry) => {
                out.insert(path.clone(), Some(entry));
            }
            (_, Some(entry)) if !is_tree(entry) => {
                out.insert(path.clone(), None);
            }
            _ => {}
        }
        let subtree = |entry: Option<Entry>| match entry.filter(|e| is_tree(*e)) {
            Some((id, _)) => self
                .inner
                .find_tree(id)
                .map(Some)
                .context(|| format!("cannot read tree {id}")),
            None => Ok(None),
        };
        let (was_tree, is_tree_now) = (subtree(was)?, subtree(is)?);
        if was_tree.is_none() && is_tree_now.is_none() {
            return Ok(());
        }
        self.diff_trees(was_tree.as_ref(), is_tree_now.as_ref(), &path, out)
    }

    /// `ours` with `changes` applied. When a file turns into a directory or
    /// back, the removals go first (libgit2 refuses both in one update).
    fn apply_changes(&self, ours: &Tree, changes: &SideChanges) -> Result<Oid> {
        let all: Vec<_> = changes.iter().collect();
        if !changes.keys().any(|path| has_changes_below(changes, path)) {
            return self.update_tree(ours, &all);
        }
        let (removals, upserts): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, e)| e.is_none());
        let removed = self.update_tree(ours, &removals)?;
        let removed = self
            .inner
            .find_tree(removed)
            .context(|| format!("cannot read tree {removed}"))?;
        self.update_tree(&removed, &upserts)
    }

    fn update_tree(&self, tree: &Tree, changes: &[(&Vec<u8>, &Option<Entry>)]) -> Result<Oid> {
        let mut update = git2::build::TreeUpdateBuilder::new();
        for (path, entry) in changes {
            match entry {
                Some((id, mode)) => update.upsert(path.to_vec(), *id, file_mode(*mode)),
                None => update.remove(path.to_vec()),
            };
        }
        update
            .create_updated(&self.inner, tree)
            .context(|| "cannot write the merged tree".into())
    }

    /// Merges with `git merge-tree --write-tree`, the reference this module matches.
    fn git_merge_tree(&self, ours: Oid, theirs: Oid, unrelated: bool) -> Result<TrialMerge> {
        let mut cmd = command::git();
        cmd.arg("--git-dir").arg(self.inner.path()).args([
            "merge-tree",
            "--write-tree",
            "-z",
            "--name-only",
            "--no-messages",
        ]);
        if unrelated {
            cmd.arg("--allow-unrelated-histories");
        }
        let ours_hex = ours.to_string();
        let theirs_hex = theirs.to_string();
        cmd.args([&ours_hex, &theirs_hex]);
        let out = command::run(&mut cmd)?;
        let mut fields = out.stdout.split(|b| *b == 0).filter(|f| !f.is_empty());
        let tree = fields
            .next()
            .and_then(|f| std::str::from_utf8(f).ok())
            .and_then(|hex| Oid::from_str(hex.trim()).ok());
        match (out.status.code(), tree) {
            (Some(0), Some(tree)) => Ok(TrialMerge::Clean { tree }),
            (Some(1), Some(_)) => {
                let paths: BTreeSet<String> = fields.map(lossy).collect();
                Ok(TrialMerge::Conflict {
                    paths: paths.into_iter().collect(),
                })
            }
            _ => Err(command::failed(
                &format!("git merge-tree --write-tree {ours} {theirs} (git 2.38 or later)"),
                &out.stderr,
            )),
        }
    }
}

/// The first path in `changes` below a directory that `other` turned into
/// something else than a directory, or removed, while `base` had it.
fn directory_clash(changes: &SideChanges, base: &Tree, other: &Tree) -> Option<String> {
    let mut checked = BTreeSet::new();
    for path in changes.keys() {
        for (i, _) in path.iter().enumerate().filter(|(_, b)| **b == b'/') {
            let dir = &path[..i];
            if !checked.insert(dir) {
                continue;
            }
            let there = entry_at(other, dir);
            if !there.is_some_and(is_tree) && there != entry_at(base, dir) {
                return Some(lossy(path));
            }
        }
    }
    None
}

/// Whether `changes` holds a path below the directory `dir`.
fn has_changes_below(changes: &SideChanges, dir: &[u8]) -> bool {
    let mut start = dir.to_vec();
    start.push(b'/');
    let mut end = dir.to_vec();
    end.push(b'/' + 1);
    changes.range(start..end).next().is_some()
}

fn entry(e: &TreeEntry) -> Entry {
    (e.id(), e.filemode())
}

/// git's order of tree entries: by name, a tree's name read as if it ended in `/`.
fn tree_order(a: &TreeEntry, b: &TreeEntry) -> Ordering {
    order_key(a).cmp(order_key(b))
}

fn order_key<'e>(e: &'e TreeEntry) -> impl Iterator<Item = u8> + 'e {
    let end = if is_tree(entry(e)) { b'/' } else { 0 };
    e.name_bytes().iter().copied().chain(std::iter::once(end))
}

fn tree_entries<'t>(tree: Option<&'t Tree>) -> Vec<TreeEntry<'t>> {
    tree.map(|t| t.iter().collect()).unwrap_or_default()
}

fn is_tree((_, mode): Entry) -> bool {
    mode == i32::from(FileMode::Tree)
}

fn entry_at(tree: &Tree, path: &[u8]) -> Option<Entry> {
    let entry = tree.get_path(as_path(path)).ok()?;
    Some((entry.id(), entry.filemode()))
}

fn file_mode(mode: i32) -> FileMode {
    match mode {
        m if m == i32::from(FileMode::BlobExecutable) => FileMode::BlobExecutable,
        m if m == i32::from(FileMode::Link) => FileMode::Link,
        m if m == i32::from(FileMode::Commit) => FileMode::Commit,
        m if m == i32::from(FileMode::Tree) => FileMode::Tree,
        _ => FileMode::Blob,
    }
}

fn as_path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
