//! Trial merges against the reference: every case is built with real git,
//! merged with `Repo::trial_merge`, and compared with
//! `git merge-tree --write-tree` (clean: identical tree id; conflict: the
//! same paths as `--name-only`). Each case also pins which engine ran, so
//! a change to the in-memory rule shows up here.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use comm_node::git::{GitReason, MergeEngine, Repo, TrialMerge};
use common::Env;
use git2::Oid;

/// A repository whose `main` holds `base`, with branches `ours` and
/// `theirs` made from it by the shell scripts `ours` and `theirs`.
fn sides(base: &str, ours: &str, theirs: &str) -> (Env, PathBuf) {
    let env = Env::new();
    let root = env.repo("r", &[]);
    commit(&env, &root, base);
    env.git(&root, &["checkout", "-qb", "ours"]);
    commit(&env, &root, ours);
    env.git(&root, &["checkout", "-qb", "theirs", "main"]);
    commit(&env, &root, theirs);
    (env, root)
}

/// Runs `script` with `sh` in `root`, then commits everything.
fn commit(env: &Env, root: &Path, script: &str) {
    let mut cmd = Command::new("sh");
    cmd.args(["-ec", script]).current_dir(root);
    env.hermetic(&mut cmd);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.git(root, &["add", "-A"]);
    env.git(root, &["commit", "-qm", script, "--allow-empty"]);
}

/// What `git merge-tree --write-tree` says about merging `theirs` into `ours`.
fn reference(env: &Env, root: &Path, ours: &str, theirs: &str) -> TrialMerge {
    let args = [
        "merge-tree",
        "--write-tree",
        "-z",
        "--name-only",
        "--no-messages",
        "--allow-unrelated-histories",
        ours,
        theirs,
    ];
    let run = env.git_run(root, &args);
    assert!(
        run.code == 0 || run.code == 1,
        "git merge-tree: {}",
        run.stderr
    );
    let mut fields = run.stdout.split('\0').filter(|f| !f.is_empty());
    let tree = Oid::from_str(fields.next().unwrap()).unwrap();
    match run.code {
        0 => TrialMerge::Clean { tree },
        1 => TrialMerge::Conflict {
            paths: fields
                .map(str::to_owned)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        },
        code => panic!("git merge-tree exited {code}: {}", run.stderr),
    }
}

/// Merges `theirs` into `ours` both ways, checks the result against git,
/// and returns it with the engine that computed it.
#[track_caller]
fn merge(env: &Env, root: &Path, ours: &str, theirs: &str) -> (TrialMerge, MergeEngine) {
    let repo = Repo::open(root).unwrap();
    let id = |rev: &str| Oid::from_str(&env.git(root, &["rev-parse", rev])).unwrap();
    let (ours, theirs) = (id(ours), id(theirs));
    assert_ne!(ours, theirs, "both sides are the same commit");
    let (ours_hex, theirs_hex) = (ours.to_string(), theirs.to_string());
    let (got, engine) = repo.trial_merge_explained(ours, theirs).unwrap();
    assert_eq!(
        got,
        reference(env, root, &ours_hex, &theirs_hex),
        "ours + theirs"
    );
    let (flipped, _) = repo.trial_merge_explained(theirs, ours).unwrap();
    let expected = reference(env, root, &theirs_hex, &ours_hex);
    assert_eq!(flipped, expected, "theirs + ours");
    (got, engine)
}

#[track_caller]
fn assert_clean(result: &TrialMerge, env: &Env, root: &Path, files: &[(&str, &str)]) {
    let TrialMerge::Clean { tree } = result else {
        panic!("expected a clean merge, got {result:?}");
    };
    for (path, text) in files {
        let shown = env.git(root, &["cat-file", "-p", &format!("{tree}:{path}")]);
        assert_eq!(shown, *text, "{path} in the merged tree");
    }
}

#[track_caller]
fn assert_conflict(result: &TrialMerge, paths: &[&str]) {
    assert_eq!(
        result,
        &TrialMerge::Conflict {
            paths: paths.iter().map(|p| p.to_string()).collect()
        }
    );
}

fn both_changed(path: &str) -> MergeEngine {
    MergeEngine::Git(GitReason::BothChanged(path.into()))
}

fn directory_changed(path: &str) -> MergeEngine {
    MergeEngine::Git(GitReason::DirectoryChanged(path.into()))
}

/// Ten numbered lines, for edits that touch one of them.
const LINES: &str = "seq 1 10 > f";

#[test]
fn disjoint_edits_merge_in_memory() {
    let (env, root) = sides(
        "echo a > a; mkdir -p d/e; echo b > d/e/b",
        "echo A > a; echo new > n",
        "echo B > d/e/b; echo other > d/o",
    );
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, MergeEngine::InMemory);
    assert_clean(
        &result,
        &env,
        &root,
        &[("a", "A"), ("d/e/b", "B"), ("n", "new"), ("d/o", "other")],
    );
}

#[test]
fn one_side_deleting_a_whole_directory_merges_in_memory() {
    let (env, root) = sides(
        "mkdir -p d e; echo x > d/x; echo y > e/y",
        "rm -r d",
        "echo Y > e/y",
    );
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, MergeEngine::InMemory);
    assert_clean(&result, &env, &root, &[("e/y", "Y")]);
    let TrialMerge::Clean { tree } = result else {
        unreachable!()
    };
    assert_eq!(
        env.git(&root, &["ls-tree", "-r", "--name-only", &tree.to_string()]),
        "e/y"
    );
}

#[test]
fn non_overlapping_hunks_in_one_file_go_to_git_and_merge() {
    let (env, root) = sides(LINES, "sed -i 2s/.*/two/ f", "sed -i 9s/.*/nine/ f");
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, both_changed("f"));
    assert_clean(
        &result,
        &env,
        &root,
        &[("f", "1\ntwo\n3\n4\n5\n6\n7\n8\nnine\n10")],
    );
}

#[test]
fn overlapping_hunks_conflict() {
    let (env, root) = sides(LINES, "sed -i 5s/.*/five/ f", "sed -i 5s/.*/FIVE/ f");
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, both_changed("f"));
    assert_conflict(&result, &["f"]);
}

#[test]
fn add_add_with_the_same_content_is_clean() {
    let (env, root) = sides(
        "echo a > a",
        "echo same > n; echo o > o",
        "echo same > n; echo t > t",
    );
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, both_changed("n"));
    assert_clean(&result, &env, &root, &[("n", "same")]);
}

#[test]
fn add_add_with_different_content_conflicts() {
    let (env, root) = sides("echo a > a", "echo one > n", "echo two > n");
    let (result, _) = merge(&env, &root, "ours", "theirs");
    assert_conflict(&result, &["n"]);
}

#[test]
fn identical_edits_on_both_sides_merge_in_memory() {
    let (env, root) = sides(
        "echo a > a; echo b > b",
        "echo A > a",
        "echo A > a; echo B > b",
    );
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, MergeEngine::InMemory);
    assert_clean(&result, &env, &root, &[("a", "A"), ("b", "B")]);
}

#[test]
fn modify_delete_conflicts() {
    let (env, root) = sides(LINES, "sed -i 5s/.*/five/ f", "git rm -q f");
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, both_changed("f"));
    assert_conflict(&result, &["f"]);
}

#[test]
fn delete_delete_is_clean() {
    let (env, root) = sides(
        &format!("{LINES}; echo k > k"),
        "git rm -q f; echo o > o",
        "git rm -q f; echo t > t",
    );
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, both_changed("f"));
    assert_clean(&result, &env, &root, &[("k", "k")]);
}

#[test]
fn rename_on_one_side_follows_an_edit_on_the_other() {
    let (env, root) = sides(LINES, "git mv f g", "sed -i 5s/.*/five/ f");
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, both_changed("f"));
    assert_clean(
        &result,
        &env,
        &root,
        &[("g", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10")],
    );
}

#[test]
fn rename_to_the_same_path_on_both_sides_is_clean() {
    let (env, root) = sides(LINES, "git mv f g", "git mv f g; sed -i 1s/.*/one/ g");
    let (result, _) = merge(&env, &root, "ours", "theirs");
    assert_clean(
        &result,
        &env,
        &root,
        &[("g", "one\n2\n3\n4\n5\n6\n7\n8\n9\n10")],
    );
}

#[test]
fn rename_to_different_paths_on_both_sides_conflicts() {
    let (env, root) = sides(LINES, "git mv f g", "git mv f h");
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, both_changed("f"));
    assert_conflict(&result, &["f", "g", "h"]);
}

/// libgit2 has no directory rename detection: it would put `d/new` back
/// in the directory `ours` renamed away, cleanly, where git moves it to
/// `e/new` and reports the move as a conflict. The in-memory rule must
/// not take this case.
#[test]
fn directory_rename_goes_to_git() {
    let (env, root) = sides(
        "mkdir d; seq 1 20 > d/x; seq 30 50 > d/y",
        "git mv d e",
        "echo new > d/new",
    );
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, directory_changed("d/new"));
    assert_conflict(&result, &["e/new"]);
}

#[test]
fn file_replaced_by_a_directory_while_edited_conflicts() {
    let (env, root) = sides(
        LINES,
        "git rm -q f; mkdir f; echo x > f/x",
        "sed -i 5s/.*/five/ f",
    );
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, both_changed("f"));
    let TrialMerge::Conflict { paths } = result else {
        panic!("expected a conflict, got {result:?}");
    };
    // git keeps the directory and moves the edited file aside as f~<commit>.
    assert!(paths.iter().all(|p| p.starts_with("f~")), "{paths:?}");
}

#[test]
fn file_added_where_the_other_side_adds_a_directory_conflicts() {
    let (env, root) = sides("echo a > a", "echo file > p", "mkdir p; echo x > p/x");
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, directory_changed("p/x"));
    assert!(matches!(result, TrialMerge::Conflict { .. }), "{result:?}");
}

#[test]
fn file_turned_into_a_directory_on_one_side_merges_in_memory() {
    let (env, root) = sides(
        "echo p > p; echo a > a",
        "git rm -q p; mkdir p; echo x > p/x",
        "echo A > a",
    );
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, MergeEngine::InMemory);
    assert_clean(&result, &env, &root, &[("p/x", "x"), ("a", "A")]);
}

#[test]
fn directory_turned_into_a_file_on_one_side_merges_in_memory() {
    let (env, root) = sides(
        "mkdir p; echo x > p/x; echo y > p/y; echo a > a",
        "git rm -rq p; echo file > p",
        "echo A > a",
    );
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, MergeEngine::InMemory);
    assert_clean(&result, &env, &root, &[("p", "file"), ("a", "A")]);
}

#[test]
fn executable_bit_and_edit_merge() {
    let (env, root) = sides(LINES, "chmod +x f", "sed -i 5s/.*/five/ f");
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, both_changed("f"));
    let TrialMerge::Clean { tree } = result else {
        panic!("expected a clean merge, got {result:?}");
    };
    let entry = env.git(&root, &["ls-tree", &tree.to_string(), "f"]);
    assert!(entry.starts_with("100755 blob"), "{entry}");
}

#[test]
fn executable_bit_on_one_side_merges_in_memory() {
    let (env, root) = sides("echo a > a; echo b > b", "chmod +x a", "echo B > b");
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, MergeEngine::InMemory);
    let TrialMerge::Clean { tree } = result else {
        panic!("expected a clean merge, got {result:?}");
    };
    let entry = env.git(&root, &["ls-tree", &tree.to_string(), "a"]);
    assert!(entry.starts_with("100755 blob"), "{entry}");
}

#[test]
fn symlink_on_one_side_merges_in_memory() {
    let (env, root) = sides("echo a > a", "ln -s a link", "echo A > a");
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, MergeEngine::InMemory);
    assert_clean(&result, &env, &root, &[("link", "a"), ("a", "A")]);
}

#[test]
fn symlink_retargeted_differently_on_both_sides_conflicts() {
    let (env, root) = sides(
        "echo a > a; ln -s a link",
        "ln -sfn b link",
        "ln -sfn c link",
    );
    let (result, _) = merge(&env, &root, "ours", "theirs");
    assert_conflict(&result, &["link"]);
}

#[test]
fn binary_changed_on_both_sides_conflicts() {
    let (env, root) = sides(
        "printf 'a\\000b\\n' > bin",
        "printf 'a\\000c\\n' > bin",
        "printf 'a\\000d\\n' > bin",
    );
    let (result, _) = merge(&env, &root, "ours", "theirs");
    assert_conflict(&result, &["bin"]);
}

#[test]
fn binary_changed_on_one_side_merges_in_memory() {
    let (env, root) = sides(
        "printf 'a\\000b' > bin; echo t > t",
        "printf 'a\\000c' > bin",
        "echo T > t",
    );
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, MergeEngine::InMemory);
    let TrialMerge::Clean { tree } = result else {
        panic!("expected a clean merge, got {result:?}");
    };
    let blob = env.git(&root, &["rev-parse", &format!("{tree}:bin")]);
    assert_eq!(blob, env.git(&root, &["rev-parse", "ours:bin"]));
}

/// Two merge bases: each side merged the other's first commit.
#[test]
fn criss_cross_history_goes_to_git() {
    let (env, root) = sides(LINES, "sed -i 2s/.*/two/ f", "sed -i 9s/.*/nine/ f");
    env.git(&root, &["branch", "-q", "ours1", "ours"]);
    env.git(&root, &["branch", "-q", "theirs1", "theirs"]);
    env.git(&root, &["checkout", "-q", "ours"]);
    env.git(&root, &["merge", "-q", "--no-edit", "theirs1"]);
    commit(&env, &root, "echo o > o");
    env.git(&root, &["checkout", "-q", "theirs"]);
    env.git(&root, &["merge", "-q", "--no-edit", "ours1"]);
    commit(&env, &root, "echo t > t");
    let bases = env.git(&root, &["merge-base", "--all", "ours", "theirs"]);
    assert_eq!(bases.lines().count(), 2, "{bases}");
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, MergeEngine::Git(GitReason::CrissCross));
    assert_clean(
        &result,
        &env,
        &root,
        &[
            ("o", "o"),
            ("t", "t"),
            ("f", "1\ntwo\n3\n4\n5\n6\n7\n8\nnine\n10"),
        ],
    );
}

#[test]
fn unrelated_histories_merge_like_allow_unrelated_histories() {
    let (env, root) = sides("echo a > a", "echo A > a", "true");
    env.git(&root, &["checkout", "-q", "--orphan", "other"]);
    env.git(&root, &["rm", "-rqf", "."]);
    commit(&env, &root, "echo z > z");
    let (result, engine) = merge(&env, &root, "ours", "other");
    assert_eq!(engine, MergeEngine::InMemory);
    assert_clean(&result, &env, &root, &[("a", "A"), ("z", "z")]);
    commit(&env, &root, "echo mine > a");
    let (result, engine) = merge(&env, &root, "ours", "other");
    assert_eq!(engine, both_changed("a"));
    assert_conflict(&result, &["a"]);
}

#[test]
fn merging_a_commit_with_its_ancestor_gives_the_descendant_tree() {
    let (env, root) = sides("echo a > a", "echo A > a", "true");
    let (result, engine) = merge(&env, &root, "ours", "main");
    assert_eq!(engine, MergeEngine::InMemory);
    let TrialMerge::Clean { tree } = result else {
        panic!("expected a clean merge, got {result:?}");
    };
    assert_eq!(
        tree.to_string(),
        env.git(&root, &["rev-parse", "ours^{tree}"])
    );
}

#[test]
fn a_missing_commit_is_an_error_naming_it() {
    let (_env, root) = sides("echo a > a", "true", "true");
    let repo = Repo::open(&root).unwrap();
    let ghost = Oid::from_str("1234567890123456789012345678901234567890").unwrap();
    let head = repo.branch_tip("main").unwrap().unwrap();
    let err = repo.trial_merge(head, ghost).unwrap_err().to_string();
    assert!(
        err.contains("1234567890123456789012345678901234567890"),
        "{err}"
    );
}

#[test]
fn non_utf8_file_names_merge_in_memory() {
    let (env, root) = sides(
        "echo a > a",
        "echo x > \"$(printf 'caf\\351')\"",
        "echo A > a",
    );
    let (result, engine) = merge(&env, &root, "ours", "theirs");
    assert_eq!(engine, MergeEngine::InMemory);
    let TrialMerge::Clean { tree } = result else {
        panic!("expected a clean merge, got {result:?}");
    };
    let names = env.git(&root, &["ls-tree", "--name-only", &tree.to_string()]);
    assert_eq!(names, "a\n\"caf\\351\"");
}
