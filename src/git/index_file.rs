//! A reader for git's index file (`.git/index`, versions 2 to 4) and its
//! cache-tree extension, for `check --staged` and the pre-commit hook.
//!
//! libgit2 hashes the whole file on every read to verify its trailing
//! checksum; that was most of a staged check's cost in a large tree. Like
//! git with `index.skipHash`, this reader does not verify it: it checks
//! every length instead, so a torn or short file is an error, never a
//! partial answer.

use git2::Oid;

/// What reading an index file found wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IndexError {
    #[error("the file is {len} bytes, too short for an index (at least 32)")]
    TooShort { len: usize },
    #[error("it does not start with git's index signature DIRC")]
    Signature,
    #[error("index version {0} is not one git writes (2, 3 or 4)")]
    Version(u32),
    #[error("entry {entry} of {count} runs past the end of the entries (the file is cut short)")]
    Truncated { entry: u32, count: u32 },
    #[error("entry {entry} has a malformed path")]
    Path { entry: u32 },
    #[error("extension `{0}` runs past the end of the file (the file is cut short)")]
    Extension(String),
    #[error("required extension `{0}` is unknown to comm-node")]
    Required(String),
    #[error("the cache-tree extension is malformed")]
    CacheTree,
}

/// One index entry; its path is in [`IndexFile::paths`].
#[derive(Debug, Clone)]
pub struct Entry {
    start: usize,
    end: usize,
    pub mode: u32,
    pub id: Oid,
    flags: u16,
    extended: u16,
}

/// The assume-valid bit of an entry's flags (`git update-index --assume-unchanged`).
const ASSUME_VALID: u16 = 0x8000;
/// An entry has a second flags word (index version 3 and up).
const EXTENDED: u16 = 0x4000;
/// `git add -N`: in the extended flags.
const INTENT_TO_ADD: u16 = 0x2000;
/// The path length field of an entry's flags; all ones means "look for the NUL".
const NAME_MASK: u16 = 0x0fff;

impl Entry {
    /// The entry's path, from its index's [`IndexFile::paths`].
    pub fn path<'p>(&self, paths: &'p [u8]) -> &'p [u8] {
        &paths[self.start..self.end]
    }

    /// 0 for a merged entry, 1 to 3 for the sides of a conflict.
    pub fn stage(&self) -> u16 {
        (self.flags >> 12) & 3
    }

    /// Marked `--assume-unchanged`.
    pub fn assume_valid(&self) -> bool {
        self.flags & ASSUME_VALID != 0
    }

    /// Added with `git add -N`: in the index but in no tree git writes.
    pub fn intent_to_add(&self) -> bool {
        self.extended & INTENT_TO_ADD != 0
    }
}

/// A node of the cache-tree extension: the tree one folder of the index
/// would write, if still known.
#[derive(Debug, Default)]
pub struct CacheTree {
    /// How many index entries the folder holds; negative when invalidated.
    entry_count: i64,
    /// The tree id, when valid.
    pub id: Option<Oid>,
    /// Subfolders, sorted by name.
    children: Vec<(Vec<u8>, CacheTree)>,
}

impl CacheTree {
    /// The tree id when it is still valid for exactly `entries` entries.
    pub fn valid_for(&self, entries: usize) -> Option<Oid> {
        (usize::try_from(self.entry_count) == Ok(entries))
            .then_some(self.id)
            .flatten()
    }

    /// The node of subfolder `name`.
    pub fn child(&self, name: &[u8]) -> Option<&CacheTree> {
        let at = self
            .children
            .binary_search_by(|(n, _)| n.as_slice().cmp(name))
            .ok()?;
        Some(&self.children[at].1)
    }
}

/// A parsed index: its entries in index order and its cache tree.
#[derive(Debug, Default)]
pub struct IndexFile {
    pub entries: Vec<Entry>,
    /// Every entry's path, one after the other (one allocation, not one each).
    pub paths: Vec<u8>,
    pub tree: Option<CacheTree>,
    /// Why this reader cannot answer for this index (a split or sparse
    /// index, entries out of order): libgit2 must read it.
    pub unsupported: Option<&'static str>,
}

const HEADER: usize = 12;
const HASH: usize = 20;
/// ctime, mtime, dev, ino, mode, uid, gid, size, then the id and flags.
const FIXED: usize = 40 + HASH + 2;

/// Reads an index file's bytes.
pub fn parse(data: &[u8]) -> Result<IndexFile, IndexError> {
    if data.len() < HEADER + HASH {
        return Err(IndexError::TooShort { len: data.len() });
    }
    if &data[..4] != b"DIRC" {
        return Err(IndexError::Signature);
    }
    let version = be32(&data[4..8]);
    if !(2..=4).contains(&version) {
        return Err(IndexError::Version(version));
    }
    let count = be32(&data[8..12]);
    // Everything but the trailing checksum, which is not verified.
    let body = &data[..data.len() - HASH];
    let mut at = HEADER;
    let mut entries: Vec<Entry> = Vec::with_capacity((count as usize).min(body.len() / FIXED));
    let mut paths = Vec::with_capacity(body.len());
    let mut out_of_order = false;
    for n in 0..count {
        let truncated = IndexError::Truncated {
            entry: n + 1,
            count,
        };
        let last = entries.last();
        let (entry, next) =
            read_entry(body, at, version, &mut paths, last, n + 1)?.ok_or(truncated)?;
        if let Some(last) = last {
            let key = |e: &Entry| (e.path(&paths), e.stage());
            out_of_order |= key(last) >= key(&entry);
        }
        entries.push(entry);
        at = next;
    }
    let mut index = IndexFile {
        entries,
        paths,
        tree: None,
        unsupported: out_of_order.then_some("its entries are out of order"),
    };
    while at < body.len() {
        let name = body.get(at..at + 4).unwrap_or(&body[at..]);
        let shown = String::from_utf8_lossy(name).into_owned();
        let size = body.get(at + 4..at + 8).map(be32).map(|s| s as usize);
        let ext = size
            .and_then(|s| body.get(at + 8..(at + 8).checked_add(s)?))
            .ok_or_else(|| IndexError::Extension(shown.clone()))?;
        match name {
            b"TREE" => index.tree = Some(parse_cache_tree(ext)?),
            b"link" => index.unsupported = Some("it is a split index"),
            b"sdir" => index.unsupported = Some("it is a sparse index"),
            [b'A'..=b'Z', ..] => {}
            _ => return Err(IndexError::Required(shown)),
        }
        at += 8 + ext.len();
    }
    Ok(index)
}

/// The entry at `at` (its path appended to `paths`) and where the next
/// one starts; `None` if it does not fit in `body`.
fn read_entry(
    body: &[u8],
    at: usize,
    version: u32,
    paths: &mut Vec<u8>,
    last: Option<&Entry>,
    n: u32,
) -> Result<Option<(Entry, usize)>, IndexError> {
    let Some(fixed) = body.get(at..at + FIXED) else {
        return Ok(None);
    };
    let flags = u16::from_be_bytes([fixed[60], fixed[61]]);
    let (extended, path_at) = if flags & EXTENDED != 0 {
        let Some(word) = body.get(at + FIXED..at + FIXED + 2) else {
            return Ok(None);
        };
        (u16::from_be_bytes([word[0], word[1]]), at + FIXED + 2)
    } else {
        (0, at + FIXED)
    };
    let bad_path = IndexError::Path { entry: n };
    let rest = &body[path_at..];
    let start = paths.len();
    let next = if version < 4 {
        let Some(len) = rest.iter().position(|&b| b == 0) else {
            return Ok(None);
        };
        let named = usize::from(flags & NAME_MASK);
        if named != usize::from(NAME_MASK) && named != len {
            return Err(bad_path);
        }
        // NUL padding to a multiple of 8 bytes, at least one.
        let size = (path_at - at + len + 8) & !7;
        if at + size > body.len() {
            return Ok(None);
        }
        paths.extend_from_slice(&rest[..len]);
        at + size
    } else {
        let Some((strip, used)) = varint(rest) else {
            return Ok(None);
        };
        let Some(len) = rest[used..].iter().position(|&b| b == 0) else {
            return Ok(None);
        };
        let prefix = last.map_or(0..0, |e| e.start..e.end);
        let keep = usize::try_from(strip)
            .ok()
            .and_then(|s| prefix.len().checked_sub(s))
            .ok_or(bad_path)?;
        paths.extend_from_within(prefix.start..prefix.start + keep);
        paths.extend_from_slice(&rest[used..used + len]);
        path_at + used + len + 1
    };
    if paths.len() == start {
        return Err(IndexError::Path { entry: n });
    }
    let id = Oid::from_bytes(&fixed[40..60]).map_err(|_| IndexError::Path { entry: n })?;
    let entry = Entry {
        start,
        end: paths.len(),
        mode: be32(&fixed[24..28]),
        id,
        flags,
        extended,
    };
    Ok(Some((entry, next)))
}

/// Git's offset varint (index v4's prefix length): value and bytes used.
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            value = value.checked_add(1)?.checked_mul(128)?;
        }
        value |= u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Deepest folder nesting accepted in a cache tree.
const MAX_DEPTH: usize = 2048;

fn parse_cache_tree(data: &[u8]) -> Result<CacheTree, IndexError> {
    let mut at = 0;
    let (_, root) = cache_tree_node(data, &mut at, 0)?;
    if at != data.len() {
        return Err(IndexError::CacheTree);
    }
    Ok(root)
}

/// The node at `*at` with its name, advancing past it and its subtrees.
fn cache_tree_node(
    data: &[u8],
    at: &mut usize,
    depth: usize,
) -> Result<(Vec<u8>, CacheTree), IndexError> {
    let bad = || IndexError::CacheTree;
    if depth > MAX_DEPTH {
        return Err(bad());
    }
    let rest = &data[*at..];
    let nul = rest.iter().position(|&b| b == 0).ok_or_else(bad)?;
    let name = rest[..nul].to_vec();
    let line_end = rest[nul..]
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(bad)?
        + nul;
    let line = std::str::from_utf8(&rest[nul + 1..line_end]).map_err(|_| bad())?;
    let (count, subtrees) = line.split_once(' ').ok_or_else(bad)?;
    let entry_count: i64 = count.parse().map_err(|_| bad())?;
    let subtrees: usize = subtrees.parse().map_err(|_| bad())?;
    *at += line_end + 1;
    let id = if entry_count >= 0 {
        let raw = data.get(*at..*at + HASH).ok_or_else(bad)?;
        *at += HASH;
        Some(Oid::from_bytes(raw).map_err(|_| bad())?)
    } else {
        None
    };
    let mut children = Vec::with_capacity(subtrees.min(data.len()));
    for _ in 0..subtrees {
        children.push(cache_tree_node(data, at, depth + 1)?);
    }
    children.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let node = CacheTree {
        entry_count,
        id,
        children,
    };
    Ok((name, node))
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// The index git writes for a few nested files, in `version`.
    fn git_index(version: &str) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", dir.path())
                .env_remove("GIT_INDEX_FILE")
                .env_remove("GIT_DIR")
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap()
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        for f in ["a/b/c", "a/b/d", "a/e", "a.txt", "z"] {
            let path = dir.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, f).unwrap();
        }
        git(&["add", "-A"]);
        git(&["write-tree"]);
        git(&["update-index", "--index-version", version]);
        std::fs::read(dir.path().join(".git/index")).unwrap()
    }

    fn paths(index: &IndexFile) -> Vec<&[u8]> {
        index.entries.iter().map(|e| e.path(&index.paths)).collect()
    }

    #[test]
    fn reads_every_version_the_same() {
        for version in ["2", "3", "4"] {
            let index = parse(&git_index(version)).unwrap();
            let want: [&[u8]; 5] = [b"a.txt", b"a/b/c", b"a/b/d", b"a/e", b"z"];
            assert_eq!(paths(&index), want, "version {version}");
            let tree = index.tree.as_ref().expect("write-tree left a cache tree");
            assert!(tree.valid_for(5).is_some());
            assert!(tree
                .child(b"a")
                .unwrap()
                .child(b"b")
                .unwrap()
                .valid_for(2)
                .is_some());
            assert!(index.unsupported.is_none());
        }
    }

    /// A file cut anywhere is an error, or (cut after the entries) the
    /// same entries: never a panic, never other entries.
    #[test]
    fn a_cut_file_is_an_error_or_the_same_entries() {
        for version in ["2", "4"] {
            let data = git_index(version);
            let whole = parse(&data).unwrap();
            for len in 0..data.len() {
                if let Ok(cut) = parse(&data[..len]) {
                    assert_eq!(paths(&cut), paths(&whole), "{len} of {} bytes", data.len());
                }
            }
        }
    }

    #[test]
    fn bad_headers_and_extensions_are_named() {
        let data = git_index("2");
        assert_eq!(
            parse(&data[..10]).unwrap_err(),
            IndexError::TooShort { len: 10 }
        );
        let mut bad = data.clone();
        bad[0] = b'X';
        assert_eq!(parse(&bad).unwrap_err(), IndexError::Signature);
        bad = data.clone();
        bad[7] = 5;
        assert_eq!(parse(&bad).unwrap_err(), IndexError::Version(5));
        // A required (lowercase) extension comm-node does not know.
        let body = &data[..data.len() - HASH];
        let with = |name: &[u8; 4]| [body, name, &[0, 0, 0, 0], &[0; HASH]].concat();
        let err = parse(&with(b"abcd")).unwrap_err();
        assert_eq!(err, IndexError::Required("abcd".into()));
        assert!(
            parse(&with(b"ABCD")).is_ok(),
            "optional extensions are skipped"
        );
        assert!(parse(&with(b"link")).unwrap().unsupported.is_some());
        // v4: a prefix longer than the previous path.
        let v4 = git_index("4");
        let first_path = HEADER + FIXED;
        let mut bad = v4.clone();
        bad[first_path] = 9;
        assert_eq!(parse(&bad).unwrap_err(), IndexError::Path { entry: 1 });
    }

    #[test]
    fn entries_out_of_order_are_left_to_libgit2() {
        let data = git_index("2");
        // a/b/c and a/b/d, 72 bytes each, swapped.
        let (c, d) = (HEADER + 72, HEADER + 144);
        let swapped = [&data[..c], &data[d..d + 72], &data[c..d], &data[d + 72..]].concat();
        assert!(parse(&data).unwrap().unsupported.is_none());
        let index = parse(&swapped).unwrap();
        assert_eq!(index.entries[1].path(&index.paths), b"a/b/d");
        assert!(index.unsupported.is_some());
    }
}
