//! Trial-merge benchmark and correctness replay.
//!
//! `cargo bench --bench merge` (speed): a generated 10k-file repository
//! with two branches changing 50 files each; p50/p90 of `Repo::trial_merge`
//! in process, of the same call when both branches also edit one shared
//! file (the case handed to git), and of `git merge-tree --write-tree` as a
//! process (the peer); repeated merges of one pair, then first merges of
//! fresh pairs (which write their result trees).
//!
//! `cargo bench --bench merge -- --replay GITDIR [--limit N]` (correctness):
//! for every two-parent merge commit of GITDIR (a bare clone, left
//! untouched: results go to a scratch repository borrowing its objects),
//! compares `Repo::trial_merge` and libgit2's plain `merge_commits` with
//! `git merge-tree --write-tree`: same clean/conflict verdict, identical
//! trees when clean, same conflicting paths otherwise.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use comm_node::git::{MergeEngine, Repo, TrialMerge};
use git2::Oid;

mod common;

use common::{report, Hermetic};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .skip_while(|a| *a != flag)
            .nth(1)
            .map(String::as_str)
    };
    match value("--replay") {
        Some(gitdir) => {
            let limit = value("--limit").and_then(|n| n.parse().ok());
            replay(Path::new(gitdir), limit);
        }
        None => speed(),
    }
}

/// Runs `git merge-tree --write-tree` as a process: the reference result.
fn git_merge_tree(gitdir: &Path, ours: Oid, theirs: Oid) -> TrialMerge {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(gitdir)
        .args(["merge-tree", "--write-tree", "-z", "--name-only"])
        .args(["--no-messages", "--allow-unrelated-histories"])
        .args([ours.to_string(), theirs.to_string()])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    let mut fields = out
        .stdout
        .split(|b| *b == 0)
        .filter(|f| !f.is_empty())
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let tree = Oid::from_str(&fields.next().expect("merge-tree printed no tree")).unwrap();
    match out.status.code() {
        Some(0) => TrialMerge::Clean { tree },
        Some(1) => TrialMerge::Conflict {
            paths: fields.collect::<BTreeSet<_>>().into_iter().collect(),
        },
        _ => panic!(
            "git merge-tree {ours} {theirs}: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// libgit2's own merge (`merge_commits` with rename detection), the
/// in-memory engine one would use without this module's rule.
fn libgit2_merge(repo: &git2::Repository, ours: Oid, theirs: Oid) -> TrialMerge {
    let a = repo.find_commit(ours).unwrap();
    let b = repo.find_commit(theirs).unwrap();
    let mut opts = git2::MergeOptions::new();
    opts.find_renames(true);
    let mut index = repo.merge_commits(&a, &b, Some(&opts)).unwrap();
    if !index.has_conflicts() {
        return TrialMerge::Clean {
            tree: index.write_tree_to(repo).unwrap(),
        };
    }
    let mut paths = BTreeSet::new();
    for conflict in index.conflicts().unwrap() {
        let c = conflict.unwrap();
        if let Some(entry) = [c.our, c.their, c.ancestor].into_iter().flatten().next() {
            paths.insert(String::from_utf8_lossy(&entry.path).into_owned());
        }
    }
    TrialMerge::Conflict {
        paths: paths.into_iter().collect(),
    }
}

#[derive(Default)]
struct Tally {
    agree: usize,
    /// One side clean, the other conflicting.
    verdict: usize,
    /// Both clean, different trees.
    tree: usize,
    /// Both conflicting, different paths.
    paths: usize,
    disagree: Vec<String>,
}

impl Tally {
    fn count(&mut self, merge: Oid, ours: &TrialMerge, reference: &TrialMerge) {
        if ours == reference {
            self.agree += 1;
        } else {
            match (ours, reference) {
                (TrialMerge::Clean { .. }, TrialMerge::Clean { .. }) => self.tree += 1,
                (TrialMerge::Conflict { .. }, TrialMerge::Conflict { .. }) => self.paths += 1,
                _ => self.verdict += 1,
            }
            self.disagree
                .push(format!("{merge}: got {ours:?}, git gives {reference:?}"));
        }
    }

    fn print(&self, what: &str) {
        println!(
            "{what}: agree {}, disagree {} (clean vs conflict {}, different trees {}, different paths {})",
            self.agree,
            self.disagree.len(),
            self.verdict,
            self.tree,
            self.paths
        );
        for line in self.disagree.iter().take(5) {
            println!("  {line}");
        }
    }
}

/// Correctness: every two-parent merge of `gitdir`, three engines compared.
fn replay(gitdir: &Path, limit: Option<usize>) {
    let gitdir = gitdir.canonicalize().expect("no such git directory");
    let scratch = tempfile::tempdir().unwrap();
    let work = scratch.path().join("replay.git");
    run_git(&work, &["init", "-q", "--bare", work.to_str().unwrap()]);
    std::fs::write(
        work.join("objects/info/alternates"),
        format!("{}\n", gitdir.join("objects").display()),
    )
    .unwrap();
    let commits = run_git(&gitdir, &["rev-list", "--all", "--count"]);
    let listing = run_git(&gitdir, &["rev-list", "--all", "--merges", "--parents"]);
    let merges: Vec<Vec<Oid>> = listing
        .lines()
        .map(|l| l.split(' ').map(|h| Oid::from_str(h).unwrap()).collect())
        .filter(|ids: &Vec<Oid>| ids.len() == 3)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    println!(
        "replay {}: {} commits, {} two-parent merges replayed",
        gitdir.display(),
        commits.trim(),
        merges.len()
    );
    let repo = Repo::open(&work).unwrap();
    let raw = git2::Repository::open(&work).unwrap();
    let (mut clean, mut conflicting) = (0, 0);
    let (mut ours_tally, mut libgit2_tally) = (Tally::default(), Tally::default());
    let (mut memory_times, mut handed_times, mut git_times) = (Vec::new(), Vec::new(), Vec::new());
    for (i, ids) in merges.iter().enumerate() {
        let (merge, p1, p2) = (ids[0], ids[1], ids[2]);
        // trial_merge first: it writes the result trees, git then finds them.
        let t = Instant::now();
        let (ours, engine) = repo.trial_merge_explained(p1, p2).unwrap();
        match engine {
            MergeEngine::InMemory => memory_times.push(t.elapsed()),
            MergeEngine::Git(_) => handed_times.push(t.elapsed()),
        }
        let t = Instant::now();
        let reference = git_merge_tree(&work, p1, p2);
        git_times.push(t.elapsed());
        match reference {
            TrialMerge::Clean { .. } => clean += 1,
            TrialMerge::Conflict { .. } => conflicting += 1,
        }
        ours_tally.count(merge, &ours, &reference);
        libgit2_tally.count(merge, &libgit2_merge(&raw, p1, p2), &reference);
        if (i + 1) % 500 == 0 {
            eprintln!("  {} merges…", i + 1);
        }
    }
    println!("git merge-tree: clean {clean}, conflicting {conflicting}");
    println!(
        "trial_merge engines: in memory {}, git {}",
        memory_times.len(),
        handed_times.len()
    );
    ours_tally.print("trial_merge vs git merge-tree");
    libgit2_tally.print("libgit2 merge_commits (renames on) vs git merge-tree");
    if !memory_times.is_empty() {
        report("trial_merge, computed in memory", &mut memory_times);
    }
    if !handed_times.is_empty() {
        report(
            "trial_merge, handed to git (classify + process)",
            &mut handed_times,
        );
    }
    report(
        "git merge-tree --write-tree (process), all merges",
        &mut git_times,
    );
}

fn run_git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const FILES: usize = 10_000;
const CHANGED: usize = 50;
/// Branches merged once each, for first-merge timings.
const FRESH: usize = 30;

/// Speed: the 10k-file repository, in process and as a process.
fn speed() {
    let dir = tempfile::tempdir().unwrap();
    let env = Hermetic::in_dir(dir.path());
    let root = dir.path().join("repo");
    let t = Instant::now();
    generate(&env, &root);
    println!(
        "setup: {FILES} files, branches a and b change {CHANGED} files each (plus one shared file on a2/b2) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let gitdir = root.join(".git");
    let repo = Repo::open(&root).unwrap();
    let tip = |b: &str| repo.branch_tip(b).unwrap().unwrap();
    for (a, b, expect) in [("a", "b", "disjoint"), ("a2", "b2", "shared file")] {
        let (ours, theirs) = (tip(a), tip(b));
        let (result, engine) = repo.trial_merge_explained(ours, theirs).unwrap();
        assert_eq!(result, git_merge_tree(&gitdir, ours, theirs));
        let mut times = time(200, || {
            repo.trial_merge(ours, theirs).unwrap();
        });
        report(
            &format!("trial_merge {a}+{b} ({expect}, engine {engine:?}), in process"),
            &mut times,
        );
        let mut times = time(50, || {
            git_merge_tree(&gitdir, ours, theirs);
        });
        report(
            &format!("git merge-tree --write-tree {a} {b}, as a process"),
            &mut times,
        );
    }
    // First merges: each writes its result trees anew (the queue's case).
    let fresh =
        |prefix: &str| -> Vec<Oid> { (0..FRESH).map(|k| tip(&format!("{prefix}{k}"))).collect() };
    let ours = tip("a");
    let mut times = fresh("f")
        .into_iter()
        .map(|theirs| {
            let t = Instant::now();
            repo.trial_merge(ours, theirs).unwrap();
            t.elapsed()
        })
        .collect::<Vec<_>>();
    report(
        "trial_merge a+f<k> (disjoint, first merge of each pair: writes its trees), in process",
        &mut times,
    );
    let mut times = fresh("g")
        .into_iter()
        .map(|theirs| {
            let t = Instant::now();
            git_merge_tree(&gitdir, ours, theirs);
            t.elapsed()
        })
        .collect::<Vec<_>>();
    report(
        "git merge-tree --write-tree a g<k> (first merge of each pair), as a process",
        &mut times,
    );
}

fn time(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    f(); // warm the object cache once
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

/// A 10k-file repository (100 directories of 100 files, packed) with
/// branches `a` and `b` changing 50 different files each, `a2`/`b2`
/// doing the same plus each editing its own end of one shared file, and
/// `f0…`/`g0…` changing 50 other files each (merged once with `a`).
fn generate(env: &Hermetic, root: &PathBuf) {
    std::fs::create_dir_all(root).unwrap();
    env.git(root, &["init", "-q", "-b", "main"]);
    let mut stream = String::new();
    let file = |i: usize| format!("src/m{:02}/f{:03}.py", i / 100, i % 100);
    let body = |i: usize, tag: &str| {
        let lines: String = (0..30).map(|l| format!("line {l} of file {i}\n")).collect();
        format!("# {tag}\n{lines}")
    };
    let mut commit = |branch: &str, from: Option<&str>, edits: Vec<(String, String)>| {
        stream.push_str(&format!(
            "commit refs/heads/{branch}\ncommitter bench <b@b.invalid> 1700000000 +0000\ndata 6\nbench\n"
        ));
        if let Some(from) = from {
            stream.push_str(&format!("from refs/heads/{from}\n"));
        }
        for (path, text) in edits {
            stream.push_str(&format!(
                "M 100644 inline {path}\ndata {}\n{text}\n",
                text.len()
            ));
        }
    };
    let shared = |tag: &str, first: bool| {
        let lines: Vec<String> = (0..40)
            .map(|l| match (l, first) {
                (2, true) | (37, false) => format!("edited by {tag}"),
                _ => format!("shared line {l}"),
            })
            .collect();
        lines.join("\n") + "\n"
    };
    let mut base: Vec<(String, String)> = (0..FILES).map(|i| (file(i), body(i, "base"))).collect();
    base.push((
        "shared.txt".into(),
        shared("base", true).replace("edited by base", "shared line 2"),
    ));
    commit("main", None, base);
    let side = |tag: &str, offset: usize| -> Vec<(String, String)> {
        (0..CHANGED)
            .map(|k| {
                let i = offset + k * (FILES / CHANGED);
                (file(i), body(i, tag))
            })
            .collect()
    };
    commit("a", Some("main"), side("a", 0));
    commit("b", Some("main"), side("b", 7));
    let mut a2 = side("a", 0);
    a2.push(("shared.txt".into(), shared("a2", true)));
    commit("a2", Some("main"), a2);
    let mut b2 = side("b", 7);
    b2.push(("shared.txt".into(), shared("b2", false)));
    commit("b2", Some("main"), b2);
    for k in 0..FRESH {
        for (prefix, offset) in [("f", 10), ("g", 50)] {
            let name = format!("{prefix}{k}");
            commit(&name, Some("main"), side(&name, offset + k));
        }
    }
    let mut child = env
        .cmd("git", root)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    env.git(root, &["repack", "-adq"]);
}
