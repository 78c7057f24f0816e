//! What the index stages against `HEAD`, for `check --staged` and the
//! pre-commit hook.
//!
//! The index is read by [`index_file`] and compared with `HEAD` folder by
//! folder: a folder whose cache-tree id (git keeps one per folder until a
//! change under it) is `HEAD`'s own is skipped whole, so a commit of 20
//! files in a 10,000-file tree reads a handful of `HEAD`'s trees. The
//! answer is libgit2's `diff_tree_to_index` (default options), delta for
//! delta and in its order; libgit2 still reads what this reader does not
//! (split and sparse indexes, a case-insensitive checkout's own index).

use std::cmp::Ordering;
use std::path::PathBuf;

use git2::{Oid, Repository, Tree};

use super::index_file::{self, CacheTree, Entry, IndexFile};
use super::{Context, GitError, Repo, Result, StagedChange};

/// The index git is using, as read for a staged check.
pub(crate) enum StagedIndex {
    File(IndexFile),
    Libgit2(git2::Index),
}

impl StagedIndex {
    /// The merged (stage 0) entries, in index order: path, mode, blob.
    pub(crate) fn merged_entries(&self) -> Vec<(String, i32, Oid)> {
        match self {
            StagedIndex::File(file) => file
                .entries
                .iter()
                .filter(|e| e.stage() == 0)
                .map(|e| (lossy(e.path(&file.paths)), e.mode as i32, e.id))
                .collect(),
            StagedIndex::Libgit2(index) => index
                .iter()
                .filter(|e| (e.flags & 0x3000) == 0)
                .map(|e| (lossy(&e.path), e.mode as i32, e.id))
                .collect(),
        }
    }
}

fn lossy(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

impl Repo {
    /// Paths staged in the index (`GIT_INDEX_FILE` when a hook runs) that
    /// differ from `HEAD`, with the staged blob id (`None` for a deletion).
    pub fn staged_changes(&self) -> Result<Vec<StagedChange>> {
        self.staged_diff(&self.staged_index()?)
    }

    /// The index git is using: `GIT_INDEX_FILE` when a hook runs, else the
    /// checkout's own; a missing file is an empty index, as for git.
    pub(crate) fn staged_index(&self) -> Result<StagedIndex> {
        let (path, own) = match std::env::var_os("GIT_INDEX_FILE") {
            Some(file) => (
                self.workdir()
                    .map_or(PathBuf::from(&file), |w| w.join(&file)),
                false,
            ),
            None => (self.git_dir().join("index"), true),
        };
        // libgit2 sorts a case-insensitive checkout's own index (and its
        // diff) without regard to case.
        if self.inner.is_bare() || (own && self.config_bool("core.ignorecase")) {
            return self.libgit2_index(&path, own);
        }
        let what = || format!("cannot read the index {}", path.display());
        let data = match std::fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(StagedIndex::File(IndexFile::default()))
            }
            Err(e) => return Err(git2::Error::from_str(&e.to_string())).context(what),
        };
        let file = index_file::parse(&data).map_err(|e| GitError {
            context: what(),
            source: git2::Error::from_str(&format!(
                "{e}; if `git status` cannot read it either, `rm {0} && git reset` \
                 rebuilds it from HEAD (unstaging every change)",
                path.display()
            )),
        })?;
        if file.unsupported.is_some() {
            return self.libgit2_index(&path, own);
        }
        Ok(StagedIndex::File(file))
    }

    fn libgit2_index(&self, path: &std::path::Path, own: bool) -> Result<StagedIndex> {
        let index = if own {
            self.inner.index()
        } else {
            git2::Index::open(path)
        };
        index
            .map(StagedIndex::Libgit2)
            .context(|| format!("cannot open the index {}", path.display()))
    }

    fn config_bool(&self, key: &str) -> bool {
        self.inner
            .config()
            .and_then(|c| c.get_bool(key))
            .unwrap_or(false)
    }

    /// What `index` changes against `HEAD`.
    pub(crate) fn staged_diff(&self, index: &StagedIndex) -> Result<Vec<StagedChange>> {
        let head = match self.inner.head() {
            Ok(head) => Some(head.peel_to_tree().context(|| "cannot read HEAD".into())?),
            Err(_) => None,
        };
        match index {
            StagedIndex::File(file) => {
                let mut walk = Walk {
                    repo: &self.inner,
                    paths: &file.paths,
                    out: Vec::new(),
                };
                let head = head.as_ref().map(Tree::id);
                walk.folder(&[], &file.entries, file.tree.as_ref(), head)?;
                Ok(walk.out)
            }
            StagedIndex::Libgit2(index) => self.libgit2_diff(head.as_ref(), index),
        }
    }

    fn libgit2_diff(&self, head: Option<&Tree>, index: &git2::Index) -> Result<Vec<StagedChange>> {
        let diff = self
            .inner
            .diff_tree_to_index(head, Some(index), None)
            .context(|| "cannot diff the index against HEAD".into())?;
        Ok(diff
            .deltas()
            .filter_map(|d| {
                let file = d.new_file();
                let path = file.path().or_else(|| d.old_file().path())?;
                let id = (d.status() != git2::Delta::Deleted).then(|| file.id());
                Some((path.to_string_lossy().into_owned(), id))
            })
            .collect())
    }
}

/// The comparison of the index with `HEAD`'s trees, in path order.
struct Walk<'r> {
    repo: &'r Repository,
    paths: &'r [u8],
    out: Vec<StagedChange>,
}

/// A name in one folder of the index: a file (one entry, or the sides of
/// a conflict) or a subfolder (every entry under it).
enum Item<'e> {
    File(&'e [Entry]),
    Folder(&'e [u8], &'e [Entry]),
}

impl Item<'_> {
    /// How many index entries it covers.
    fn len(&self) -> usize {
        match self {
            Item::File(entries) | Item::Folder(_, entries) => entries.len(),
        }
    }
}

const TREE_MODE: i32 = 0o040000;
const TYPE_MASK: u32 = 0o170000;

impl Walk<'_> {
    /// Compares the `entries` of the folder `prefix` (empty or ending in
    /// `/`) with `HEAD`'s tree `head` of that folder.
    fn folder(
        &mut self,
        prefix: &[u8],
        entries: &[Entry],
        cache: Option<&CacheTree>,
        head: Option<Oid>,
    ) -> Result<()> {
        // Entries git leaves out of the trees it writes (intent-to-add,
        // conflicts) are reported even when the cache tree matches.
        let unchanged = cache.and_then(|c| c.valid_for(entries.len())) == head
            && head.is_some()
            && entries.iter().all(|e| e.stage() == 0 && !e.intent_to_add());
        if unchanged {
            return Ok(());
        }
        let tree = head
            .map(|id| self.repo.find_tree(id))
            .transpose()
            .context(|| format!("cannot read HEAD's tree of {}", lossy(prefix)))?;
        let mut theirs = tree.iter().flat_map(Tree::iter).peekable();
        let mut at = 0;
        loop {
            let ours = item(self.paths, prefix, &entries[at..]);
            let cmp = match (&ours, theirs.peek()) {
                (None, None) => return Ok(()),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(ours), Some(t)) => {
                    let (name, dir) = match ours {
                        Item::File(e) => (&e[0].path(self.paths)[prefix.len()..], false),
                        Item::Folder(name, _) => (*name, true),
                    };
                    name_order(name, dir, t.name_bytes(), t.filemode() == TREE_MODE)
                }
            };
            match ours {
                Some(ours) if cmp != Ordering::Greater => {
                    at += ours.len();
                    let head_entry = (cmp == Ordering::Equal).then(|| theirs.next()).flatten();
                    let head_entry = head_entry.map(|t| (t.id(), t.filemode() as u32));
                    match ours {
                        Item::File(group) => self.file(group, head_entry),
                        Item::Folder(name, sub) => {
                            let path = [prefix, name, b"/"].concat();
                            let node = cache.and_then(|c| c.child(name));
                            self.folder(&path, sub, node, head_entry.map(|(id, _)| id))?;
                        }
                    }
                }
                _ => {
                    let Some(t) = theirs.next() else {
                        return Ok(());
                    };
                    let path = [prefix, t.name_bytes()].concat();
                    if t.filemode() == TREE_MODE {
                        self.folder(&[&path[..], b"/"].concat(), &[], None, Some(t.id()))?;
                    } else {
                        self.out.push((lossy(&path), None));
                    }
                }
            }
        }
    }

    /// Reports a file of the index against `HEAD`'s entry of the same name
    /// (id and mode), the way libgit2 does.
    fn file(&mut self, group: &[Entry], head: Option<(Oid, u32)>) {
        let first = &group[0];
        let path = lossy(first.path(self.paths));
        match head {
            // An added file marked assume-unchanged is not reported.
            None if first.assume_valid() => {}
            None => self.out.push((path, Some(first.id))),
            // A conflict against HEAD's file carries no id (zeros).
            Some(_) if first.stage() > 0 => self.out.push((path, Some(Oid::ZERO_SHA1))),
            // A change of kind (file, link, submodule) is a deletion and an addition.
            Some((_, mode)) if mode & TYPE_MASK != first.mode & TYPE_MASK => {
                self.out.push((path.clone(), None));
                self.out.push((path, Some(first.id)));
            }
            Some((id, mode)) if id == first.id && mode == first.mode => {}
            Some(_) => self.out.push((path, Some(first.id))),
        }
    }
}

/// The next name of `entries`, all under `prefix`.
fn item<'e>(paths: &'e [u8], prefix: &[u8], entries: &'e [Entry]) -> Option<Item<'e>> {
    let first = entries.first()?;
    let path = first.path(paths);
    let rest = &path[prefix.len()..];
    if let Some(slash) = rest.iter().position(|&b| b == b'/') {
        let under = &path[..prefix.len() + slash + 1];
        let end = entries.partition_point(|e| e.path(paths).starts_with(under));
        return Some(Item::Folder(&rest[..slash], &entries[..end]));
    }
    let end = if first.stage() == 0 {
        1
    } else {
        entries
            .iter()
            .take_while(|e| e.path(paths) == path && e.stage() > 0)
            .count()
    };
    Some(Item::File(&entries[..end]))
}

/// git's order of names in a tree: a folder sorts as if its name ended
/// in `/`.
fn name_order(a: &[u8], a_dir: bool, b: &[u8], b_dir: bool) -> Ordering {
    let n = a.len().min(b.len());
    a[..n].cmp(&b[..n]).then_with(|| {
        let end = |name: &[u8], dir: bool| name.get(n).copied().or(dir.then_some(b'/'));
        end(a, a_dir).cmp(&end(b, b_dir))
    })
}
