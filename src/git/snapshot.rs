//! A read-only view of the files of one tree or of the index, for checks
//! that must see exactly what git records (not the work tree).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use super::{Context, Repo, Result};

/// Regular files (no symlinks, no submodules) of a tree or the index.
pub struct FileSnapshot {
    git_dir: PathBuf,
    paths: BTreeSet<String>,
    blobs: HashMap<String, Oid>,
    reader: Mutex<Repository>,
}

/// A handle for reading blobs on one thread.
pub struct BlobReader(Repository);

impl BlobReader {
    /// The bytes of a blob, `None` if it cannot be read.
    pub fn read(&self, id: Oid) -> Option<Vec<u8>> {
        self.0.find_blob(id).ok().map(|b| b.content().to_vec())
    }
}

const FILE_MODES: [i32; 2] = [0o100644, 0o100755];

impl FileSnapshot {
    fn new(git_dir: &Path, blobs: HashMap<String, Oid>) -> Result<FileSnapshot> {
        let reader =
            Repository::open(git_dir).context(|| format!("cannot open {}", git_dir.display()))?;
        Ok(FileSnapshot {
            git_dir: git_dir.to_owned(),
            paths: blobs.keys().cloned().collect(),
            blobs,
            reader: Mutex::new(reader),
        })
    }

    /// Every file path.
    pub fn paths(&self) -> &BTreeSet<String> {
        &self.paths
    }

    /// The blob id of a file.
    pub fn blob_id(&self, path: &str) -> Option<Oid> {
        self.blobs.get(path).copied()
    }

    /// The bytes of a file (through a shared handle; use [`FileSnapshot::reader`] in bulk).
    pub fn read(&self, path: &str) -> Option<Vec<u8>> {
        let id = self.blob_id(path)?;
        let repo = self.reader.lock().ok()?;
        repo.find_blob(id).ok().map(|b| b.content().to_vec())
    }

    /// A blob reader for one worker thread.
    pub fn reader(&self) -> Result<BlobReader> {
        Repository::open(&self.git_dir)
            .map(BlobReader)
            .context(|| format!("cannot open {}", self.git_dir.display()))
    }
}

impl Repo {
    /// The files of `commit`'s tree.
    pub fn snapshot_commit(&self, commit: Oid) -> Result<FileSnapshot> {
        let tree = self
            .inner
            .find_commit(commit)
            .and_then(|c| c.tree())
            .context(|| format!("cannot read the tree of {commit}"))?;
        let mut blobs = HashMap::new();
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(ObjectType::Blob) && FILE_MODES.contains(&entry.filemode()) {
                let name = String::from_utf8_lossy(entry.name_bytes());
                blobs.insert(format!("{dir}{name}"), entry.id());
            }
            TreeWalkResult::Ok
        })
        .context(|| format!("cannot walk the tree of {commit}"))?;
        FileSnapshot::new(self.common_dir(), blobs)
    }

    /// The files staged in the index (`GIT_INDEX_FILE` when a hook runs) and
    /// every staged change against `HEAD` (`None`: a deletion), from one read.
    pub fn snapshot_staged(&self) -> Result<(FileSnapshot, Vec<super::StagedChange>)> {
        let index = self.current_index()?;
        let changes = self.staged_diff(&index)?;
        Ok((self.snapshot_of_index(&index)?, changes))
    }

    fn snapshot_of_index(&self, index: &git2::Index) -> Result<FileSnapshot> {
        let blobs = index
            .iter()
            .filter(|e| FILE_MODES.contains(&(e.mode as i32)) && (e.flags & 0x3000) == 0)
            .map(|e| (String::from_utf8_lossy(&e.path).into_owned(), e.id))
            .collect();
        FileSnapshot::new(self.common_dir(), blobs)
    }

    /// Files added or modified from `from` (nothing: everything) to `to`.
    pub fn changed_files(&self, from: Option<Oid>, to: Oid) -> Result<Vec<String>> {
        let tree_of = |id: Oid| {
            self.inner
                .find_commit(id)
                .and_then(|c| c.tree())
                .context(|| format!("cannot read the tree of {id}"))
        };
        let old = from.map(tree_of).transpose()?;
        let new = tree_of(to)?;
        let diff = self
            .inner
            .diff_tree_to_tree(old.as_ref(), Some(&new), None)
            .context(|| "cannot diff the range".into())?;
        Ok(diff
            .deltas()
            .filter(|d| d.status() != git2::Delta::Deleted)
            .filter_map(|d| {
                d.new_file()
                    .path()
                    .map(|p| p.to_string_lossy().into_owned())
            })
            .collect())
    }

    /// Resolves a revision (`main`, `HEAD~2`, an id) to a commit.
    pub fn resolve_commit(&self, rev: &str) -> Result<Oid> {
        self.inner
            .revparse_single(rev)
            .and_then(|o| o.peel_to_commit())
            .map(|c| c.id())
            .context(|| format!("`{rev}` does not name a commit"))
    }

    /// The commit `HEAD` points at (`None` on an unborn branch).
    pub fn head_commit(&self) -> Option<Oid> {
        self.inner
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .map(|c| c.id())
    }
}
