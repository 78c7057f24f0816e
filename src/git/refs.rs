//! Refs and commits: reading a branch's files and compare-and-swap updates.

use std::path::Path;
use std::time::{Duration, Instant};

use git2::{ErrorCode, FileMode, ObjectType, Oid, Repository};

use super::{reflock, Context, Repo, Result};

/// One change to a tree: write a file, or remove one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeEdit {
    Put { path: String, bytes: Vec<u8> },
    Remove { path: String },
}

/// A ref lock file older than this, found while holding comm-node's own
/// lock of the ref, was left by a killed process: git holds one for
/// microseconds.
const STALE_LOCK: Duration = Duration::from_secs(2);

/// Signs a commit object's bytes, returning an armored signature.
pub type Sign<'a, E> = &'a mut dyn FnMut(&[u8]) -> std::result::Result<String, E>;

/// Names in a tree with the objects they point at.
pub type Named = Vec<(String, Oid)>;

/// The result of a compare-and-swap ref update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    /// The ref now points at the new commit.
    Updated,
    /// Someone else moved the ref; re-read and retry.
    Lost,
}

pub(super) fn resolve(repo: &Repository, name: &str) -> Result<Option<Oid>> {
    match repo.refname_to_id(name) {
        Ok(id) => Ok(Some(id)),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e).context(|| format!("cannot read {name}")),
    }
}

impl Repo {
    /// The commit a full ref name points at.
    pub fn ref_tip(&self, name: &str) -> Result<Option<Oid>> {
        resolve(&self.inner, name)
    }

    /// The bytes of `path` in `commit`'s tree, if it is a file there.
    pub fn read_file_at(&self, commit: Oid, path: &str) -> Result<Option<Vec<u8>>> {
        match self.file_id_at(commit, path)? {
            Some(id) => self.blob(id).map(Some),
            None => Ok(None),
        }
    }

    /// Names of the entries of directory `dir` in `commit`'s tree.
    pub fn list_dir_at(&self, commit: Oid, dir: &str) -> Result<Vec<String>> {
        let Some(id) = self.dir_id_at(commit, dir)? else {
            return Ok(Vec::new());
        };
        let sub = self
            .inner
            .find_tree(id)
            .context(|| format!("cannot read tree {id}"))?;
        Ok(sub
            .iter()
            .filter_map(|e| e.name().ok().map(str::to_owned))
            .collect())
    }

    /// The files directly inside directory `dir` of `commit`'s tree, with
    /// their blob ids (read the bytes with [`Repo::blob`]).
    pub fn list_blobs_at(&self, commit: Oid, dir: &str) -> Result<Vec<(String, Oid)>> {
        match self.dir_id_at(commit, dir)? {
            Some(tree) => self.dir_blobs(tree),
            None => Ok(Vec::new()),
        }
    }

    /// Writes a commit whose tree is `parent`'s with `edits` applied (an
    /// empty tree without a parent); no ref moves. With `like`, the author
    /// and committer are copied from that commit (a replay keeps who and when).
    pub fn commit_edits(
        &self,
        parent: Option<Oid>,
        edits: &[TreeEdit],
        message: &str,
        like: Option<Oid>,
    ) -> Result<Oid> {
        self.commit_edits_signed(parent, edits, message, like, None)
    }

    /// [`Repo::commit_edits`], signed when `sign` is given: it receives the
    /// commit object's bytes and returns an armored signature, stored in
    /// the `gpgsig` header as `git commit -S` does (so `git verify-commit`
    /// and `git log --show-signature` check it).
    pub fn commit_edits_signed<E: From<super::GitError>>(
        &self,
        parent: Option<Oid>,
        edits: &[TreeEdit],
        message: &str,
        like: Option<Oid>,
        sign: Option<Sign<'_, E>>,
    ) -> std::result::Result<Oid, E> {
        let repo = &self.inner;
        let base = match parent {
            Some(p) => self.commit_tree(p)?,
            None => {
                let empty = repo
                    .treebuilder(None)
                    .and_then(|b| b.write())
                    .context(|| "cannot write an empty tree".into())?;
                repo.find_tree(empty)
                    .context(|| "cannot read the empty tree".into())?
            }
        };
        let mut update = git2::build::TreeUpdateBuilder::new();
        for edit in edits {
            match edit {
                TreeEdit::Put { path, bytes } => {
                    let blob = repo
                        .blob(bytes)
                        .context(|| format!("cannot write {path}"))?;
                    update.upsert(path.as_str(), blob, FileMode::Blob);
                }
                TreeEdit::Remove { path } => {
                    update.remove(path.as_str());
                }
            }
        }
        let tree_id = update
            .create_updated(repo, &base)
            .context(|| "cannot build the new tree".into())?;
        let tree = repo
            .find_tree(tree_id)
            .context(|| "cannot read the new tree".into())?;
        let (author, committer) = match like {
            Some(original) => {
                let c = repo
                    .find_commit(original)
                    .context(|| format!("cannot read {original}"))?;
                let author = c.author().to_owned();
                let committer = c.committer().to_owned();
                (author, committer)
            }
            None => {
                let signature = self.signature()?;
                (signature.clone(), signature)
            }
        };
        let parent_commit = match parent {
            Some(p) => Some(repo.find_commit(p).context(|| format!("cannot read {p}"))?),
            None => None,
        };
        let parents: Vec<&git2::Commit> = parent_commit.iter().collect();
        let Some(sign) = sign else {
            return Ok(repo
                .commit(None, &author, &committer, message, &tree, &parents)
                .context(|| "cannot write the commit".into())?);
        };
        let buffer = repo
            .commit_create_buffer(&author, &committer, message, &tree, &parents)
            .context(|| "cannot build the commit".into())?;
        let signature = sign(&buffer)?;
        let content = std::str::from_utf8(&buffer)
            .map_err(|e| git2::Error::from_str(&e.to_string()))
            .context(|| "the commit to sign is not UTF-8".into())?;
        // git writes the armored lines without a final empty continuation.
        Ok(repo
            .commit_signed(content, signature.trim_end(), None)
            .context(|| "cannot write the signed commit".into())?)
    }

    /// The signature of a commit (its `gpgsig` header) and the bytes it
    /// signs, or `None` for an unsigned commit.
    pub fn commit_signature(&self, commit: Oid) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        match self.inner.extract_signature(&commit, None) {
            Ok((signature, signed)) => Ok(Some((signature.to_vec(), signed.to_vec()))),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e).context(|| format!("cannot read the signature of {commit}")),
        }
    }

    /// Points `name` at `new` only if it still points at `expected`
    /// (`None`: only if it does not exist yet). A held lock is waited out
    /// (see [`Repo::update_ref`]), so `Lost` means the ref really moved.
    pub fn cas_ref(
        &self,
        name: &str,
        expected: Option<Oid>,
        new: Oid,
        log: &str,
    ) -> Result<CasOutcome> {
        let result = self.update_ref(name, new, || self.cas_once(name, expected, new, log));
        match result {
            Ok(()) => Ok(CasOutcome::Updated),
            Err(e) if is_race(&e) => Ok(CasOutcome::Lost),
            Err(e) => Err(e).context(|| format!("cannot update {name}")),
        }
    }

    /// One compare-and-swap under git's `<ref>.lock`, held by a transaction
    /// while the current value is compared.
    fn cas_once(
        &self,
        name: &str,
        expected: Option<Oid>,
        new: Oid,
        log: &str,
    ) -> std::result::Result<(), git2::Error> {
        let mut tx = self.inner.transaction()?;
        tx.lock_ref(name)?;
        reflock::test_stall();
        let current = self.inner.refname_to_id(name).ok();
        if current != expected {
            return Err(moved(name, current));
        }
        let signature = self.signature().map_err(|e| e.source)?;
        tx.set_target(name, new, Some(&signature), log)?;
        tx.commit()
    }

    /// The message of a commit.
    pub fn commit_message(&self, id: Oid) -> Result<String> {
        let commit = self
            .inner
            .find_commit(id)
            .context(|| format!("cannot read {id}"))?;
        Ok(String::from_utf8_lossy(commit.message_bytes()).into_owned())
    }

    /// Visits commits from `start` along first parents, newest first, with
    /// their commit time (seconds) and message, until `visit` says stop.
    pub fn walk_first_parent(
        &self,
        start: Oid,
        mut visit: impl FnMut(Oid, i64, &str) -> std::ops::ControlFlow<()>,
    ) -> Result<()> {
        let mut next = Some(start);
        while let Some(id) = next {
            let commit = self
                .inner
                .find_commit(id)
                .context(|| format!("cannot read {id}"))?;
            let message = String::from_utf8_lossy(commit.message_bytes());
            if visit(id, commit.time().seconds(), &message).is_break() {
                break;
            }
            next = commit.parent_id(0).ok();
        }
        Ok(())
    }

    /// The parents of a commit, first parent first.
    pub fn parent_ids(&self, id: Oid) -> Result<Vec<Oid>> {
        let commit = self
            .inner
            .find_commit(id)
            .context(|| format!("cannot read {id}"))?;
        Ok(commit.parent_ids().collect())
    }

    /// The commits reachable from `from` but not from `hide`, oldest first
    /// (parents before children).
    pub fn commits_only_in(&self, from: Oid, hide: Oid) -> Result<Vec<Oid>> {
        let context = || format!("cannot list the commits of {from} not in {hide}");
        let mut walk = self.inner.revwalk().context(context)?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
            .context(context)?;
        walk.push(from).context(context)?;
        walk.hide(hide).context(context)?;
        walk.collect::<std::result::Result<Vec<_>, _>>()
            .context(context)
    }

    /// The committer time of a commit, in seconds since the epoch.
    pub fn commit_time(&self, id: Oid) -> Result<i64> {
        let commit = self
            .inner
            .find_commit(id)
            .context(|| format!("cannot read {id}"))?;
        Ok(commit.time().seconds())
    }

    /// Whether `ancestor` is reachable from `descendant` (or equal to it).
    pub fn is_ancestor(&self, ancestor: Oid, descendant: Oid) -> Result<bool> {
        if ancestor == descendant {
            return Ok(true);
        }
        self.inner
            .graph_descendant_of(descendant, ancestor)
            .context(|| format!("cannot compare {ancestor} with {descendant}"))
    }

    /// The best common ancestor of two commits, if any.
    pub fn merge_base(&self, a: Oid, b: Oid) -> Result<Option<Oid>> {
        match self.inner.merge_base(a, b) {
            Ok(id) => Ok(Some(id)),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e).context(|| format!("cannot find the merge base of {a} and {b}")),
        }
    }

    /// What `commit` changed against its first parent, as tree edits.
    pub fn commit_edits_of(&self, commit: Oid) -> Result<Vec<TreeEdit>> {
        let repo = &self.inner;
        let c = repo
            .find_commit(commit)
            .context(|| format!("cannot read {commit}"))?;
        let new_tree = c
            .tree()
            .context(|| format!("cannot read the tree of {commit}"))?;
        let old_tree = match c.parent(0) {
            Ok(p) => Some(
                p.tree()
                    .context(|| format!("cannot read the parent of {commit}"))?,
            ),
            Err(_) => None,
        };
        let diff = repo
            .diff_tree_to_tree(old_tree.as_ref(), Some(&new_tree), None)
            .context(|| format!("cannot diff {commit}"))?;
        let mut edits = Vec::new();
        for delta in diff.deltas() {
            let file = delta.new_file();
            let Some(path) = file.path().or_else(|| delta.old_file().path()) else {
                continue;
            };
            let path = path.to_string_lossy().into_owned();
            if delta.status() == git2::Delta::Deleted {
                edits.push(TreeEdit::Remove { path });
            } else {
                edits.push(TreeEdit::Put {
                    bytes: self.blob(file.id())?,
                    path,
                });
            }
        }
        Ok(edits)
    }

    /// Removes `<ref>.lock` if it is older than [`STALE_LOCK`]. Only
    /// called holding comm-node's own lock of the ref ([`reflock`]), so no
    /// live comm-node can be holding it.
    fn break_stale_ref_lock(&self, name: &str) {
        let lock = self.common_dir().join(format!("{name}.lock"));
        let stale = std::fs::metadata(&lock)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE_LOCK));
        if stale {
            let _ = std::fs::remove_file(&lock);
        }
    }

    /// Runs `update`, a git2 call that points ref `name` at `new`, holding
    /// comm-node's lock of the ref: git's `<ref>.lock` is waited out and
    /// broken once stale. The outcome is what the ref really shows: an
    /// update reported failed that put `new` in place succeeded, and one
    /// reported done that did not is an error.
    pub(super) fn update_ref(
        &self,
        name: &str,
        new: Oid,
        mut update: impl FnMut() -> std::result::Result<(), git2::Error>,
    ) -> std::result::Result<(), git2::Error> {
        let _held = reflock::RefLock::acquire(self.common_dir(), name)?;
        let start = Instant::now();
        let mut attempt = 0;
        loop {
            let before = self.inner.refname_to_id(name).ok();
            let result = update();
            let after = self.inner.refname_to_id(name).ok();
            match result {
                Err(_) if before != Some(new) && after == Some(new) => return Ok(()),
                Ok(()) if after != Some(new) => return Err(moved(name, after)),
                Err(e) if e.code() == ErrorCode::Locked && start.elapsed() < 2 * STALE_LOCK => {
                    self.break_stale_ref_lock(name);
                    std::thread::sleep(crate::retry::backoff(attempt));
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// The blob id of file `path` in `commit`'s tree (without reading it).
    pub fn file_id_at(&self, commit: Oid, path: &str) -> Result<Option<Oid>> {
        self.object_at(commit, path, ObjectType::Blob)
    }

    /// The id of directory `dir`'s tree in `commit` (`None` when absent).
    pub fn dir_id_at(&self, commit: Oid, dir: &str) -> Result<Option<Oid>> {
        self.object_at(commit, dir, ObjectType::Tree)
    }

    /// The id of the object at `path` in `commit`'s tree, when there is one
    /// of `kind` there.
    fn object_at(&self, commit: Oid, path: &str, kind: ObjectType) -> Result<Option<Oid>> {
        let tree = self.commit_tree(commit)?;
        match tree.get_path(Path::new(path)) {
            Ok(entry) => Ok((entry.kind() == Some(kind)).then(|| entry.id())),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e).context(|| format!("cannot look up {path}")),
        }
    }

    /// The files directly in tree `dir` with their blob ids, sorted by name.
    pub fn dir_blobs(&self, dir: Oid) -> Result<Vec<(String, Oid)>> {
        let tree = self
            .inner
            .find_tree(dir)
            .context(|| format!("cannot read tree {dir}"))?;
        Ok(tree
            .iter()
            .filter(|e| e.kind() == Some(ObjectType::Blob))
            .filter_map(|e| Some((e.name().ok()?.to_owned(), e.id())))
            .collect())
    }

    /// The files (with their blobs) and the folders (with their trees)
    /// directly in tree `dir`, each sorted by name.
    pub fn dir_entries(&self, dir: Oid) -> Result<(Named, Named)> {
        let tree = self
            .inner
            .find_tree(dir)
            .context(|| format!("cannot read tree {dir}"))?;
        let (mut files, mut folders) = (Vec::new(), Vec::new());
        for e in tree.iter() {
            let Ok(name) = e.name() else { continue };
            match e.kind() {
                Some(ObjectType::Blob) => files.push((name.to_owned(), e.id())),
                Some(ObjectType::Tree) => folders.push((name.to_owned(), e.id())),
                _ => {}
            }
        }
        Ok((files, folders))
    }

    /// Whether tree `dir` holds any file directly.
    pub fn tree_has_blob(&self, dir: Oid) -> Result<bool> {
        let tree = self
            .inner
            .find_tree(dir)
            .context(|| format!("cannot read tree {dir}"))?;
        let found = tree.iter().any(|e| e.kind() == Some(ObjectType::Blob));
        Ok(found)
    }

    fn commit_tree(&self, commit: Oid) -> Result<git2::Tree<'_>> {
        self.inner
            .find_commit(commit)
            .and_then(|c| c.tree())
            .context(|| format!("cannot read the tree of {commit}"))
    }
}

/// The error for a ref found elsewhere than an update expected.
fn moved(name: &str, now: Option<Oid>) -> git2::Error {
    let now = now.map_or("absent".to_owned(), |id| id.to_string());
    git2::Error::new(
        ErrorCode::Modified,
        git2::ErrorClass::Reference,
        format!("{name} is {now}: another writer moved it"),
    )
}

/// Errors that mean another writer got there first.
fn is_race(e: &git2::Error) -> bool {
    matches!(
        e.code(),
        ErrorCode::Modified | ErrorCode::Locked | ErrorCode::Exists
    ) || (e.class() == git2::ErrorClass::Reference && e.message().contains("old reference value"))
}
