//! `Repo::staged_changes` (comm-node's own index reader and cache-tree
//! walk) against libgit2's `diff_tree_to_index`, over histories written by
//! the real git: every answer must be the same, delta for delta, in order.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use comm_node::git::{Repo, StagedChange};
use common::{write, Env};

/// `GIT_INDEX_FILE` is process-wide: comparisons take turns.
static INDEX_VAR: Mutex<()> = Mutex::new(());

/// What libgit2 makes of the index, as comm-node used to compute it.
fn libgit2(root: &Path, index: Option<&Path>) -> Result<Vec<StagedChange>, git2::Error> {
    let repo = git2::Repository::open(root)?;
    let index = match index {
        Some(file) => git2::Index::open(file)?,
        None => repo.index()?,
    };
    let head = repo.head().ok().map(|h| h.peel_to_tree()).transpose()?;
    let diff = repo.diff_tree_to_index(head.as_ref(), Some(&index), None)?;
    Ok(diff
        .deltas()
        .map(|d| {
            let file = d.new_file();
            let path = file.path().or_else(|| d.old_file().path()).unwrap();
            let id = (d.status() != git2::Delta::Deleted).then(|| file.id());
            (path.to_string_lossy().into_owned(), id)
        })
        .collect())
}

/// Asserts comm-node's staged changes are libgit2's; returns them.
#[track_caller]
fn same(root: &Path, index: Option<&Path>, what: &str) -> Vec<StagedChange> {
    compare(root, index, what, false)
}

/// [`same`], where both may also fail alike (an index libgit2 may refuse:
/// split, sparse).
#[track_caller]
fn same_or_both_fail(root: &Path, index: Option<&Path>, what: &str) {
    compare(root, index, what, true);
}

#[track_caller]
fn compare(root: &Path, index: Option<&Path>, what: &str, may_fail: bool) -> Vec<StagedChange> {
    let _turn = INDEX_VAR.lock().unwrap_or_else(|e| e.into_inner());
    let expected = libgit2(root, index);
    match index {
        Some(file) => std::env::set_var("GIT_INDEX_FILE", file),
        None => std::env::remove_var("GIT_INDEX_FILE"),
    }
    let ours = Repo::open(root).and_then(|r| r.staged_changes());
    std::env::remove_var("GIT_INDEX_FILE");
    match (expected, ours) {
        (Ok(expected), Ok(ours)) => {
            assert_eq!(ours, expected, "{what}");
            ours
        }
        (Err(_), Err(_)) if may_fail => Vec::new(),
        (expected, ours) => {
            panic!(
                "{what}: libgit2 gave {expected:?}, comm-node {:?}",
                ours.map_err(|e| e.to_string())
            )
        }
    }
}

fn repo(env: &Env) -> std::path::PathBuf {
    let root = env.path("r");
    std::fs::create_dir_all(&root).unwrap();
    env.git(&root, &["init", "-q", "-b", "main"]);
    root
}

#[cfg(unix)]
fn symlink(target: &str, at: &Path) {
    let _ = std::fs::remove_file(at);
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, at).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn scripted_histories_match_libgit2() {
    let env = Env::new();
    let root = repo(&env);
    let p = |rel: &str| root.join(rel);
    let files = [
        "a.txt", "a-b/x", "a.b/x", "a/b/c.py", "a/b/d.py", "a/e", "z/y/x", "top",
    ];
    for f in files {
        write(&p(f), &format!("{f}\n"));
    }
    env.git(&root, &["add", "-A"]);
    let unborn = same(&root, None, "unborn HEAD");
    assert_eq!(unborn.len(), files.len());
    env.git(&root, &["commit", "-qm", "one"]);
    assert!(same(&root, None, "just committed").is_empty());

    write(&p("a/b/c.py"), "changed\n");
    write(&p("a/new/n"), "new\n");
    std::fs::remove_file(p("top")).unwrap();
    env.git(&root, &["add", "-A"]);
    assert_eq!(same(&root, None, "modify, add, delete").len(), 3);

    env.git(&root, &["mv", "a.b/x", "a-b/moved"]);
    chmod(&p("a/e"), 0o755);
    env.git(&root, &["add", "-A"]);
    same(&root, None, "rename and mode change");

    // Kind changes: file to link, file to folder, folder to file.
    symlink("a.txt", &p("z/y/x"));
    std::fs::remove_file(p("a/e")).unwrap();
    write(&p("a/e/inner"), "now a folder\n");
    std::fs::remove_dir_all(p("a-b")).unwrap();
    write(&p("a-b"), "now a file\n");
    env.git(&root, &["add", "-A"]);
    same(&root, None, "kind changes");
    env.git(&root, &["commit", "-qm", "two"]);
    assert!(same(&root, None, "committed again").is_empty());

    // Intent to add, assume-unchanged and skip-worktree entries, a submodule.
    write(&p("a/b/ita"), "later\n");
    env.git(&root, &["add", "-N", "a/b/ita"]);
    assert_eq!(same(&root, None, "intent to add").len(), 1);
    write(&p("a/b/hidden"), "hidden\n");
    env.git(&root, &["add", "a/b/hidden"]);
    env.git(&root, &["update-index", "--assume-unchanged", "a/b/hidden"]);
    write(&p("a/b/d.py"), "skipped\n");
    env.git(&root, &["add", "a/b/d.py"]);
    env.git(&root, &["update-index", "--skip-worktree", "a/b/d.py"]);
    let head = env.git(&root, &["rev-parse", "HEAD"]);
    let gitlink = format!("160000,{head},sub/module");
    env.git(&root, &["update-index", "--add", "--cacheinfo", &gitlink]);
    same(&root, None, "flags and a submodule");
    env.git(&root, &["commit", "-qm", "three"]);
    let gitlink = format!(
        "160000,{},sub/module",
        env.git(&root, &["rev-parse", "HEAD~2"])
    );
    env.git(&root, &["update-index", "--cacheinfo", &gitlink]);
    same(&root, None, "a submodule moved");
    env.git(&root, &["commit", "-qm", "four"]);

    for version in ["4", "3", "2", "4"] {
        write(&p("a/b/c.py"), &format!("version {version}\n"));
        env.git(&root, &["add", "a/b/c.py"]);
        env.git(&root, &["update-index", "--index-version", version]);
        same(&root, None, &format!("index version {version}"));
    }
    env.git(&root, &["-c", "feature.manyFiles=true", "add", "-A"]);
    write(&p("a/many"), "many\n");
    env.git(&root, &["-c", "feature.manyFiles=true", "add", "-A"]);
    same(&root, None, "feature.manyFiles (v4, no checksum)");

    // No cache tree: read-tree drops it, add -A keeps none for changed folders.
    env.git(&root, &["read-tree", "--empty"]);
    same(&root, None, "an empty index");
    env.git(&root, &["read-tree", "HEAD"]);
    same(&root, None, "read-tree HEAD");
    env.git(&root, &["read-tree", "--empty"]);
    env.git(&root, &["add", "-A"]);
    same(&root, None, "add -A after read-tree --empty");

    // An alternate index, as a hook gets it.
    let alt = env.path("alt-index");
    let git_alt = |args: &[&str]| {
        let mut cmd = Command::new("git");
        cmd.args(args).current_dir(&root);
        env.hermetic(&mut cmd);
        assert!(cmd.env("GIT_INDEX_FILE", &alt).status().unwrap().success());
    };
    git_alt(&["read-tree", "HEAD~2"]);
    write(&p("alt-only"), "alt\n");
    git_alt(&["add", "alt-only"]);
    assert!(!same(&root, Some(&alt), "GIT_INDEX_FILE").is_empty());
    std::fs::remove_file(p("alt-only")).unwrap();

    // A split index: libgit2 reads it (or fails) for both.
    env.git(&root, &["commit", "-qm", "five"]);
    env.git(&root, &["update-index", "--split-index"]);
    write(&p("a/split"), "split\n");
    env.git(&root, &["add", "a/split"]);
    same_or_both_fail(&root, None, "split index");
    env.git(&root, &["update-index", "--no-split-index"]);
    same_or_both_fail(&root, None, "split index undone");
    // A sparse index (folders as entries): libgit2 again.
    env.git(
        &root,
        &["sparse-checkout", "set", "--cone", "--sparse-index", "a/b"],
    );
    write(&p("a/b/sparse"), "sparse\n");
    env.git(&root, &["add", "a/b/sparse"]);
    same_or_both_fail(&root, None, "sparse index");
    env.git(&root, &["sparse-checkout", "disable"]);
    env.git(&root, &["config", "core.ignorecase", "true"]);
    same_or_both_fail(&root, None, "core.ignorecase");
}

#[test]
fn conflicts_match_libgit2() {
    let env = Env::new();
    let root = repo(&env);
    let p = |rel: &str| root.join(rel);
    for f in ["both", "ours-deletes", "theirs-deletes", "keep/k"] {
        write(&p(f), "base\n");
    }
    env.git(&root, &["add", "-A"]);
    env.git(&root, &["commit", "-qm", "base"]);
    env.git(&root, &["checkout", "-qb", "side"]);
    write(&p("both"), "side\n");
    write(&p("ours-deletes"), "side\n");
    std::fs::remove_file(p("theirs-deletes")).unwrap();
    write(&p("added/twice"), "side\n");
    env.git(&root, &["add", "-A"]);
    env.git(&root, &["commit", "-qm", "side"]);
    env.git(&root, &["checkout", "-q", "main"]);
    write(&p("both"), "main\n");
    std::fs::remove_file(p("ours-deletes")).unwrap();
    write(&p("theirs-deletes"), "main\n");
    write(&p("added/twice"), "main\n");
    env.git(&root, &["add", "-A"]);
    env.git(&root, &["commit", "-qm", "main"]);
    assert_ne!(env.git_run(&root, &["merge", "side"]).code, 0);
    let conflicted = same(&root, None, "a merge stopped on conflicts");
    assert_eq!(conflicted.len(), 4, "{conflicted:?}");
    env.git(&root, &["update-index", "--index-version", "4"]);
    same(&root, None, "conflicts in a v4 index");
    env.git(&root, &["add", "both"]);
    same(&root, None, "one conflict resolved");
}

/// A deterministic generator for the random histories.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn random_histories_match_libgit2() {
    // Folder names that sort around `/` ('-' and '.' come before it).
    let dirs = ["", "a/", "a/b/", "a-b/", "a.b/", "a/b/c/", "z/"];
    let names = ["f", "f.txt", "g-1", "G", "h.py"];
    for seed in 1..=4u64 {
        let env = Env::new();
        let root = repo(&env);
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for round in 0..40 {
            for _ in 0..1 + rng.below(4) {
                let path = format!(
                    "{}{}",
                    dirs[rng.below(dirs.len())],
                    names[rng.below(names.len())]
                );
                let file = root.join(&path);
                let kind = std::fs::symlink_metadata(&file).ok().map(|m| m.file_type());
                // `a/b/c` is a folder or a file: the other goes first.
                let c = root.join("a/b/c");
                if path.starts_with("a/b/c/") && c.is_file() {
                    std::fs::remove_file(&c).unwrap();
                }
                match (rng.below(7), kind) {
                    (0, Some(_)) => std::fs::remove_file(&file).unwrap(),
                    (1, Some(k)) if k.is_file() => chmod(&file, 0o755 ^ 0o644 ^ mode(&file)),
                    (2, _) => symlink("f", &file),
                    (3, _) if c.is_dir() => {
                        std::fs::remove_dir_all(&c).unwrap();
                        write(&c, "a file where a folder was\n");
                    }
                    (_, kind) => {
                        if kind.is_some_and(|k| k.is_symlink()) {
                            std::fs::remove_file(&file).unwrap();
                        }
                        write(&file, &format!("{seed} {round}\n"));
                    }
                }
            }
            match rng.below(4) {
                // Stages one folder (git refuses a folder gone from both sides).
                0 => drop(env.git_run(&root, &["add", "-A", dirs[1 + rng.below(dirs.len() - 1)]])),
                1 => drop(env.git(&root, &["add", "-N", "."])),
                _ => drop(env.git(&root, &["add", "-A"])),
            }
            if rng.below(5) == 0 {
                let version = ["2", "3", "4"][rng.below(3)];
                env.git(&root, &["update-index", "--index-version", version]);
            }
            same(&root, None, &format!("seed {seed}, round {round}"));
            if rng.below(3) == 0 {
                env.git(&root, &["add", "-A"]);
                env.git(&root, &["commit", "-qm", "round", "--allow-empty"]);
                assert!(same(&root, None, "after a commit").is_empty());
            }
        }
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_damaged_index_is_a_clear_error() {
    let env = Env::new();
    let root = repo(&env);
    // The hook loads the project before it reads the index.
    write(
        &root.join("comm.yaml"),
        "project: t\ndomains:\n  a: {scope: [\"a/**\"]}\n",
    );
    write(&root.join("a/b"), "x\n");
    env.git(&root, &["add", "-A"]);
    env.git(&root, &["commit", "-qm", "one"]);
    let index = root.join(".git/index");
    let good = std::fs::read(&index).unwrap();
    let cases: [(&str, Vec<u8>); 3] = [
        ("cut short", good[..good.len() - 30].to_vec()),
        (
            "not an index",
            b"not an index file at all, only text".to_vec(),
        ),
        ("version 9", [&good[..7], &[9], &good[8..]].concat()),
    ];
    for (what, bytes) in cases {
        std::fs::write(&index, bytes).unwrap();
        let run = env.cn(&root, &["hook", "pre-commit"]);
        assert_eq!(run.code, 3, "{what}: {}", run.stderr);
        assert!(
            run.stderr.contains("cannot read the index") && run.stderr.contains("git reset"),
            "{what}: {}",
            run.stderr
        );
    }
}
