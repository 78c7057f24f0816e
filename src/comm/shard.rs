//! Where a task or a reservation lives on `comm`: the one place that builds
//! `tasks/...` and `reservations/...` paths.
//!
//! Each file sits in a folder named after the first characters of its id's
//! random part (`tasks/4k/T-4k7qm2x9ta.yaml`, `reservations/3/R-3f9a1c.yaml`),
//! so an event rewrites the `tasks/` tree (at most 1,024 folders) and one
//! folder of about n/1,024 files instead of one tree of every task: at
//! 100,000 tasks no tree holds more than about 1,100 entries. Ids are
//! `T-`/`R-` plus letters of a 32-letter alphabet; the folder is the two
//! (tasks) or one (reservations, few and short-lived) letters after the
//! first `-` (the whole id when there is none), padded with `_` and with
//! `.` written `_` (git refuses the tree names `.` and `..`), so `T-1`
//! lives in `tasks/1_/`.
//!
//! Versions before this one wrote every file directly in its folder
//! (`tasks/<id>.yaml`, the *flat* layout). Readers accept both: a lookup
//! falls back to the flat path, a listing takes files at both depths. The
//! first event the new version writes on a flat state is preceded, in the
//! same compare-and-swap, by one `migrate` event from `comm-node` that moves
//! every flat file to its folder unchanged; `verify` checks that it did
//! exactly that, and that no other event mixes the layouts.

use std::collections::BTreeMap;

use git2::Oid;

use super::{CommError, Event, SYSTEM_ACTOR};
use crate::git::{Repo, TreeEdit};

/// The state folders kept in shards.
pub const DIRS: [&str; 2] = ["tasks", "reservations"];
/// The event kind of a migration from the flat layout.
pub const MIGRATE_KIND: &str = "migrate";
/// Characters of the id a folder of `dir` is named after: two for tasks
/// (1,024 folders, about 100 files each at 100,000 tasks), one for
/// reservations, which expire and are pruned (32 folders of about 30
/// files at 1,000 live ones: a reader lists 33 small trees, not 640).
fn width(dir: &str) -> usize {
    if dir == "reservations" {
        1
    } else {
        2
    }
}

/// The shard folder of `id` in state folder `dir`.
pub fn shard(dir: &str, id: &str) -> String {
    let width = width(dir);
    let random = match id.split_once('-') {
        Some((_, rest)) if !rest.is_empty() => rest,
        _ => id,
    };
    let mut out: String = random
        .chars()
        .take(width)
        .map(|c| if c == '.' { '_' } else { c })
        .collect();
    while out.chars().count() < width {
        out.push('_');
    }
    out
}

/// The file of entity `id` in state folder `dir` (`tasks/4k/T-4k7q.yaml`).
pub fn path(dir: &str, id: &str) -> String {
    format!("{dir}/{}/{id}.yaml", shard(dir, id))
}

/// The folder and id of a task or reservation file, in either layout.
pub fn entity(path: &str) -> Option<(&'static str, &str)> {
    let (dir, rest) = path.split_once('/')?;
    let dir = DIRS.into_iter().find(|d| *d == dir)?;
    let name = match rest.split_once('/') {
        None => rest,
        Some((folder, name)) if !name.contains('/') && !folder.is_empty() => name,
        Some(_) => return None,
    };
    let id = name.strip_suffix(".yaml").filter(|id| !id.is_empty())?;
    Some((dir, id))
}

/// Whether `path` is a file of state folder `dir`, in either layout.
pub fn is_in(path: &str, dir: &str) -> bool {
    entity(path).is_some_and(|(d, _)| d == dir)
}

/// Whether `path` is a file written directly in a sharded folder (the
/// layout of older versions).
pub fn is_flat(path: &str) -> bool {
    entity(path).is_some() && path.matches('/').count() == 1
}

/// Where the file at `path` lives in the sharded layout (other paths are
/// returned unchanged).
pub fn canonical(path: &str) -> String {
    match entity(path) {
        Some((dir, id)) => self::path(dir, id),
        None => path.to_owned(),
    }
}

/// `edits` with every task and reservation path where this version keeps
/// it (an older version's commit wrote them flat).
pub fn canonical_edits(edits: impl IntoIterator<Item = TreeEdit>) -> Vec<TreeEdit> {
    edits
        .into_iter()
        .map(|e| match e {
            TreeEdit::Put { path, bytes } => TreeEdit::Put {
                path: canonical(&path),
                bytes,
            },
            TreeEdit::Remove { path } => TreeEdit::Remove {
                path: canonical(&path),
            },
        })
        .collect()
}

/// What `commit` changed against its first parent, with task and
/// reservation paths as this version names them (see [`canonical_edits`]).
pub fn edits_of(repo: &Repo, commit: Oid) -> Result<Vec<TreeEdit>, CommError> {
    Ok(canonical_edits(repo.commit_edits_of(commit)?))
}

/// The flat path of a sharded entity file (`tasks/T-1.yaml` for
/// `tasks/1_/T-1.yaml`), to read a state written by an older version.
pub fn flat_of(path: &str) -> Option<String> {
    if is_flat(path) {
        return None;
    }
    entity(path).map(|(dir, id)| format!("{dir}/{id}.yaml"))
}

/// The `<name>.yaml` files of state folder tree `tree`, in either layout,
/// with their blobs: the files directly in it and those one folder down.
/// A name found in both places is taken from its shard.
pub fn files(repo: &Repo, tree: Oid) -> Result<Vec<(String, Oid)>, CommError> {
    let (mut files, folders) = repo.dir_entries(tree)?;
    if folders.is_empty() {
        return Ok(files);
    }
    let flat = files.len();
    for (_, folder) in folders {
        files.extend(repo.dir_blobs(folder)?);
    }
    if flat > 0 {
        let unique: BTreeMap<String, Oid> = files.into_iter().collect();
        files = unique.into_iter().collect();
    }
    Ok(files)
}

/// The `<name>.yaml` files whose blob differs between two trees of a state
/// folder (`None` on a side: the folder is absent), each with its new blob
/// (`None`: gone), sorted by name. Only the shard folders whose tree id
/// changed are read; when either side holds flat files, both are listed
/// whole (see [`files`]).
pub fn changes(
    repo: &Repo,
    old: Option<Oid>,
    new: Option<Oid>,
) -> Result<Vec<(String, Option<Oid>)>, CommError> {
    if old == new {
        return Ok(Vec::new());
    }
    let entries = |tree: Option<Oid>| match tree {
        Some(t) => repo.dir_entries(t),
        None => Ok((Vec::new(), Vec::new())),
    };
    let (old_flat, old_folders) = entries(old)?;
    let (new_flat, new_folders) = entries(new)?;
    if !old_flat.is_empty() || !new_flat.is_empty() {
        let listing = |tree: Option<Oid>| match tree {
            Some(t) => files(repo, t),
            None => Ok(Vec::new()),
        };
        return Ok(diff(listing(old)?, listing(new)?));
    }
    let old_folders: BTreeMap<String, Oid> = old_folders.into_iter().collect();
    let new_folders: BTreeMap<String, Oid> = new_folders.into_iter().collect();
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> =
        old_folders.keys().chain(new_folders.keys()).collect();
    for name in names {
        let (before, after) = (old_folders.get(name), new_folders.get(name));
        if before == after {
            continue;
        }
        let blobs = |tree: Option<&Oid>| tree.map_or(Ok(Vec::new()), |t| repo.dir_blobs(*t));
        out.extend(diff(blobs(before)?, blobs(after)?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The names whose blob differs between two listings, with the new blob.
fn diff(old: Vec<(String, Oid)>, new: Vec<(String, Oid)>) -> Vec<(String, Option<Oid>)> {
    let mut old: BTreeMap<String, Oid> = old.into_iter().collect();
    let mut out: Vec<(String, Option<Oid>)> = new
        .into_iter()
        .filter(|(name, blob)| old.remove(name) != Some(*blob))
        .map(|(name, blob)| (name, Some(blob)))
        .collect();
    out.extend(old.into_keys().map(|name| (name, None)));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The files of state folder `dir` at `commit` (see [`files`]).
pub fn files_at(repo: &Repo, commit: Oid, dir: &str) -> Result<Vec<(String, Oid)>, CommError> {
    match repo.dir_id_at(commit, dir)? {
        Some(tree) => files(repo, tree),
        None => Ok(Vec::new()),
    }
}

/// The edits moving every flat file of `tip` to its shard, unchanged;
/// empty when nothing is flat.
pub fn migration(repo: &Repo, tip: Option<Oid>) -> Result<Vec<TreeEdit>, CommError> {
    let Some(tip) = tip else {
        return Ok(Vec::new());
    };
    let mut edits = Vec::new();
    for dir in DIRS {
        let Some(tree) = repo.dir_id_at(tip, dir)? else {
            continue;
        };
        // Every write asks: answer the usual "nothing flat" without copying names.
        if !repo.tree_has_blob(tree)? {
            continue;
        }
        let (flat, _) = repo.dir_entries(tree)?;
        for (name, blob) in flat {
            let Some(id) = name.strip_suffix(".yaml") else {
                continue;
            };
            edits.push(TreeEdit::Remove {
                path: format!("{dir}/{name}"),
            });
            edits.push(TreeEdit::Put {
                path: path(dir, id),
                bytes: repo.blob(blob)?,
            });
        }
    }
    Ok(edits)
}

/// The event recording a migration of `files` files.
pub fn migrate_event(files: usize) -> Event {
    let mut event = Event::new(
        MIGRATE_KIND,
        SYSTEM_ACTOR,
        format!("migrate: {files} task and reservation files moved into shard folders"),
    );
    event.body = "Written by a newer comm-node before its first event on this state: \
                  tasks/<id>.yaml is now tasks/<2 letters of the id>/<id>.yaml, and so \
                  for reservations/. The files are unchanged."
        .to_owned();
    event
}

/// Why the edits of a `migrate` event on `before` are not exactly the move
/// of every flat file to its shard, if they are not.
pub fn migrate_problem(
    repo: &Repo,
    before: Option<Oid>,
    edits: &[TreeEdit],
) -> Result<Option<String>, CommError> {
    let mut expected = migration(repo, before)?;
    if expected.is_empty() {
        return Ok(Some("a migration of a state that has no flat files".into()));
    }
    let mut got = edits.to_vec();
    let key = |e: &TreeEdit| match e {
        TreeEdit::Put { path, .. } | TreeEdit::Remove { path } => path.clone(),
    };
    expected.sort_by_key(key);
    got.sort_by_key(key);
    Ok((expected != got).then(|| {
        "a migration must move every flat task and reservation file to its shard, \
         unchanged, and change nothing else"
            .to_owned()
    }))
}

/// Why an event other than a migration, written on `before`, mixes the
/// layouts, if it does: on a state with flat files it writes into shards
/// (a migration should have come first), or on a state with shard folders
/// it writes a flat file. On a state with neither, either layout goes (an
/// older version's first task was flat).
pub fn layout_problem(
    repo: &Repo,
    before: Option<Oid>,
    edits: &[TreeEdit],
) -> Result<Option<String>, CommError> {
    let written: Vec<&String> = edits
        .iter()
        .filter_map(|e| match e {
            TreeEdit::Put { path, .. } if entity(path).is_some() => Some(path),
            _ => None,
        })
        .collect();
    let Some(before) = before.filter(|_| !written.is_empty()) else {
        return Ok(None);
    };
    let (mut flat, mut sharded) = (false, false);
    for dir in DIRS {
        if let Some(tree) = repo.dir_id_at(before, dir)? {
            let (files, folders) = repo.dir_entries(tree)?;
            flat |= !files.is_empty();
            sharded |= !folders.is_empty();
        }
    }
    let bad = written
        .into_iter()
        .find(|p| if is_flat(p) { sharded } else { flat });
    Ok(bad.map(|p| {
        if is_flat(p) {
            format!("it writes {p} in the flat layout, which this state no longer uses")
        } else {
            format!("it writes {p} into a shard while the state still holds flat files")
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_the_first_letters_of_the_random_part() {
        assert_eq!(path("tasks", "T-4k7qm2x9ta"), "tasks/4k/T-4k7qm2x9ta.yaml");
        assert_eq!(path("tasks", "T-1"), "tasks/1_/T-1.yaml");
        assert_eq!(path("tasks", "T-.a"), "tasks/_a/T-.a.yaml");
        assert_eq!(path("tasks", "bd..x"), "tasks/bd/bd..x.yaml");
        assert_eq!(path("tasks", "..x"), "tasks/__/..x.yaml");
        assert_eq!(
            path("reservations", "R-3f9a1c"),
            "reservations/3/R-3f9a1c.yaml"
        );
    }

    #[test]
    fn both_layouts_name_the_same_entity() {
        assert_eq!(entity("tasks/T-1.yaml"), Some(("tasks", "T-1")));
        assert_eq!(entity("tasks/1_/T-1.yaml"), Some(("tasks", "T-1")));
        assert_eq!(entity("tasks/a/b/T-1.yaml"), None);
        assert_eq!(entity("queue/api.yaml"), None);
        assert_eq!(canonical("tasks/T-1.yaml"), "tasks/1_/T-1.yaml");
        assert_eq!(canonical("queue/api.yaml"), "queue/api.yaml");
        assert_eq!(
            flat_of("tasks/1_/T-1.yaml").as_deref(),
            Some("tasks/T-1.yaml")
        );
        assert_eq!(flat_of("tasks/T-1.yaml"), None);
        assert!(is_flat("reservations/R-1.yaml"));
        assert!(!is_flat("reservations/1/R-1.yaml"));
    }
}
