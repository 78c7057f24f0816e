//! A read-only view of the files of one tree or of the index, for checks
//! that must see exactly what git records (not the work tree).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};
use indexmap::IndexSet;

use super::{Context, Repo, Result, StagedChange};

/// Regular files of a tree or the index, and its symbolic links (kept
/// apart: a link is a blob of mode 120000 holding its target path).
/// Submodules are left out.
pub struct FileSnapshot {
    git_dir: PathBuf,
    paths: Paths,
    /// The blob of each path, at the same position.
    blobs: Vec<Oid>,
    links: HashMap<String, String>,
    reader: Mutex<Repository>,
}

/// File paths in byte order, each held once and found by hash: a staged
/// check of a 10k-file tree builds and frees this set in every hook, and
/// resolving imports asks it whether a file exists some 100k times in a
/// whole-tree check.
#[derive(Debug)]
pub struct Paths(IndexSet<String>);

impl Paths {
    /// Whether `path` is one of them.
    pub fn contains(&self, path: &str) -> bool {
        self.0.contains(path)
    }

    /// In order.
    pub fn iter(&self) -> indexmap::set::Iter<'_, String> {
        self.0.iter()
    }

    fn position(&self, path: &str) -> Option<usize> {
        self.0.get_index_of(path)
    }
}

impl FromIterator<String> for Paths {
    fn from_iter<I: IntoIterator<Item = String>>(paths: I) -> Paths {
        let mut paths: Vec<String> = paths.into_iter().collect();
        paths.sort_unstable();
        paths.dedup();
        Paths(paths.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Paths {
    type Item = &'a String;
    type IntoIter = indexmap::set::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
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
const LINK_MODE: i32 = 0o120000;

impl FileSnapshot {
    /// A snapshot of `entries` (path, mode, blob); link targets are read here.
    fn new(
        git_dir: &Path,
        entries: impl Iterator<Item = (String, i32, Oid)>,
    ) -> Result<FileSnapshot> {
        let reader =
            Repository::open(git_dir).context(|| format!("cannot open {}", git_dir.display()))?;
        // At most as many files as entries (a filtered index says so).
        let room = entries.size_hint().1.unwrap_or_default();
        let mut files = Vec::with_capacity(room);
        let mut links = HashMap::new();
        for (path, mode, id) in entries {
            if FILE_MODES.contains(&mode) {
                files.push((path, id));
            } else if mode == LINK_MODE {
                let target = reader
                    .find_blob(id)
                    .context(|| format!("cannot read the symlink {path}"))?;
                links.insert(path, String::from_utf8_lossy(target.content()).into_owned());
            }
        }
        let files = sorted(files);
        let mut paths = IndexSet::with_capacity(files.len());
        let mut blobs = Vec::with_capacity(files.len());
        for (path, blob) in files {
            paths.insert(path);
            blobs.push(blob);
        }
        Ok(FileSnapshot {
            git_dir: git_dir.to_owned(),
            paths: Paths(paths),
            blobs,
            links,
            reader: Mutex::new(reader),
        })
    }

    /// The target of the symbolic link at `path`, as git records it.
    pub fn link_target(&self, path: &str) -> Option<&str> {
        self.links.get(path).map(String::as_str)
    }

    /// Whether the snapshot holds any symbolic link.
    pub fn has_links(&self) -> bool {
        !self.links.is_empty()
    }

    /// Every file path.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The blob id of a file.
    pub fn blob_id(&self, path: &str) -> Option<Oid> {
        self.paths.position(path).map(|at| self.blobs[at])
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

/// `files` in path order, the last of a path given twice kept. The index
/// and a tree walk already give that order (git sorts trees as if folders
/// ended in `/`, which is byte order of whole paths), so this only checks.
fn sorted(mut files: Vec<(String, Oid)>) -> Vec<(String, Oid)> {
    if files.windows(2).all(|w| w[0].0 < w[1].0) {
        return files;
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(String, Oid)> = Vec::with_capacity(files.len());
    for file in files {
        match out.last_mut() {
            Some(last) if last.0 == file.0 => *last = file,
            _ => out.push(file),
        }
    }
    out
}

impl Repo {
    /// The files of `commit`'s tree.
    pub fn snapshot_commit(&self, commit: Oid) -> Result<FileSnapshot> {
        let tree = self.tree_of(commit)?;
        let mut entries = Vec::new();
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(ObjectType::Blob) {
                let name = String::from_utf8_lossy(entry.name_bytes());
                entries.push((format!("{dir}{name}"), entry.filemode(), entry.id()));
            }
            TreeWalkResult::Ok
        })
        .context(|| format!("cannot walk the tree of {commit}"))?;
        FileSnapshot::new(self.common_dir(), entries.into_iter())
    }

    /// The files staged in the index (`GIT_INDEX_FILE` when a hook runs),
    /// every staged change against `HEAD` (`None`: a deletion), from one
    /// read, and what `scan` makes of the files, run during the diff.
    pub fn snapshot_staged<T: Send>(
        &self,
        scan: impl FnOnce(&FileSnapshot) -> T + Send,
    ) -> Result<(FileSnapshot, Vec<super::StagedChange>, T)> {
        let index = self.staged_index()?;
        let entries = index.merged_entries();
        let git_dir = self.common_dir().to_owned();
        // The snapshot's maps are built and scanned while the index is
        // compared with HEAD: neither needs the other.
        std::thread::scope(|s| {
            let snapshot = s.spawn(move || {
                let snapshot = FileSnapshot::new(&git_dir, entries.into_iter())?;
                let scanned = scan(&snapshot);
                Ok::<_, super::GitError>((snapshot, scanned))
            });
            let changes = self.staged_diff(&index);
            let (snapshot, scanned) = snapshot
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            Ok((snapshot, changes?, scanned))
        })
    }

    /// Every path changed from `from` (nothing: everything) to `to`, with
    /// its new blob (`None`: deleted, which a rename's old path is too).
    pub fn tree_changes(&self, from: Option<Oid>, to: Oid) -> Result<Vec<StagedChange>> {
        let old = from.map(|id| self.tree_of(id)).transpose()?;
        self.path_changes(old.as_ref(), &self.tree_of(to)?)
    }

    /// The commits reachable from `head` but not from `base`, each with the
    /// paths it changes itself: against its parent, or for a merge, the
    /// paths that differ from every parent (what the merge itself wrote).
    pub fn commit_changes(&self, base: Oid, head: Oid) -> Result<Vec<(Oid, Vec<String>)>> {
        let mut walk = self
            .inner
            .revwalk()
            .context(|| "cannot walk the range".into())?;
        walk.push(head)
            .and_then(|()| walk.hide(base))
            .context(|| format!("cannot walk {base}..{head}"))?;
        let mut out = Vec::new();
        for id in walk {
            let id = id.context(|| "cannot walk the range".into())?;
            let commit = self
                .inner
                .find_commit(id)
                .context(|| format!("cannot read commit {id}"))?;
            let tree = self.tree_of(id)?;
            let mut paths: Option<BTreeSet<String>> = None;
            let parents: Vec<Option<Oid>> = match commit.parent_count() {
                0 => vec![None],
                _ => commit.parent_ids().map(Some).collect(),
            };
            for parent in parents {
                let old = parent.map(|p| self.tree_of(p)).transpose()?;
                let changed: BTreeSet<String> = self
                    .path_changes(old.as_ref(), &tree)?
                    .into_iter()
                    .map(|(path, _)| path)
                    .collect();
                paths = Some(match paths {
                    None => changed,
                    Some(seen) => seen.intersection(&changed).cloned().collect(),
                });
            }
            out.push((id, paths.unwrap_or_default().into_iter().collect()));
        }
        Ok(out)
    }

    fn path_changes(
        &self,
        old: Option<&git2::Tree>,
        new: &git2::Tree,
    ) -> Result<Vec<StagedChange>> {
        let diff = self
            .inner
            .diff_tree_to_tree(old, Some(new), None)
            .context(|| "cannot diff the range".into())?;
        Ok(diff
            .deltas()
            .filter_map(|d| {
                let deleted = d.status() == git2::Delta::Deleted;
                let file = if deleted { d.old_file() } else { d.new_file() };
                let path = file.path()?.to_string_lossy().into_owned();
                Some((path, (!deleted).then(|| file.id())))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap()
    }

    #[test]
    fn files_come_out_in_byte_order_with_the_last_of_a_repeated_path() {
        let given = vec![
            ("a0".to_owned(), oid(1)),
            ("a/x".to_owned(), oid(2)),
            ("a.b".to_owned(), oid(3)),
            ("a/x".to_owned(), oid(4)),
        ];
        let want = vec![
            ("a.b".to_owned(), oid(3)),
            ("a/x".to_owned(), oid(4)),
            ("a0".to_owned(), oid(1)),
        ];
        assert_eq!(sorted(given), want);
        assert_eq!(sorted(want.clone()), want);
    }

    #[test]
    fn paths_are_found_and_listed_in_byte_order() {
        let paths: Paths = ["b", "a/x", "a.b", "b"]
            .map(String::from)
            .into_iter()
            .collect();
        assert_eq!(paths.iter().collect::<Vec<_>>(), ["a.b", "a/x", "b"]);
        assert!(paths.contains("a/x"));
        assert!(!paths.contains("a"));
        assert_eq!(paths.position("b"), Some(2));
    }
}
