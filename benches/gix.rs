//! git2 against gix, in the same run, on the reads comm-node repeats most:
//! (a) a cold `check --all`: list a 10k-file tree and read every blob,
//! serially and on 2 threads (one handle per thread), from a pack after
//! `git gc` and from loose objects; (b) the inbox walk: 100k commits of a
//! comm-like branch, each message read; (c) status: open the repository,
//! resolve `comm` and read a handful of files at its tip.
//!
//! Run with `cargo bench --bench gix` (`-- --files N --commits N --rounds N`).
//! The variants run alternately, round after round, so a loaded machine
//! weighs on all of them alike; the ratios to git2 are the figures to read.

use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::Hermetic;

fn main() {
    let files: usize = common::arg("files", 10_000);
    let commits: usize = common::arg("commits", 100_000);
    let rounds: usize = common::arg("rounds", 7);
    let dir = tempfile::tempdir().unwrap();
    let env = Hermetic::in_dir(dir.path());

    let packed = dir.path().join("tree-packed");
    let tip = tree_repo(&env, &packed, files);
    let loose = dir.path().join("tree-loose");
    unpack_loose(&env, &packed, &loose, &tip);
    for (label, repo) in [("packed", &packed), ("loose", &loose)] {
        let variants: Vec<Variant> = vec![
            ("git2 serial", Box::new(|| git2_serial(repo, &tip))),
            ("gix serial", Box::new(|| gix_serial(repo, &tip))),
            ("git2 2 threads", Box::new(|| git2_parallel(repo, &tip, 2))),
            ("gix 2 threads", Box::new(|| gix_parallel(repo, &tip, 2))),
            (
                "git2 list, gix 2 threads",
                Box::new(|| mixed_parallel(repo, &tip, 2)),
            ),
        ];
        let title = format!("(a) list {files} files and read every blob, {label}");
        compare(&title, rounds, &variants);
    }

    let comm = dir.path().join("comm");
    let comm_tip = comm_repo(&env, &comm, commits);
    let walk: Vec<Variant> = vec![
        ("git2 Revwalk", Box::new(|| git2_walk(&comm, &comm_tip))),
        ("gix rev_walk", Box::new(|| gix_walk(&comm, &comm_tip))),
    ];
    compare(
        &format!("(b) walk {commits} commits, read each message"),
        rounds,
        &walk,
    );
    let status: Vec<Variant> = vec![
        (
            "git2",
            Box::new(|| (0..100).map(|_| git2_status(&comm)).sum()),
        ),
        (
            "gix",
            Box::new(|| (0..100).map(|_| gix_status(&comm)).sum()),
        ),
    ];
    compare(
        "(c) 100 × (open, resolve comm, read 5 files at its tip)",
        rounds,
        &status,
    );
}

/// A named measurement returning a checksum (bytes read), equal across variants.
type Variant<'a> = (&'a str, Box<dyn Fn() -> usize + 'a>);

/// Runs every variant once per round, alternately; prints median and
/// minimum wall and CPU (user + system of the whole process) time, and the
/// ratio of the median wall time to the first variant's.
fn compare(title: &str, rounds: usize, variants: &[Variant]) {
    let mut wall = vec![Vec::new(); variants.len()];
    let mut cpu = vec![Vec::new(); variants.len()];
    let mut sums = vec![0; variants.len()];
    for _ in 0..rounds {
        for (i, (_, run)) in variants.iter().enumerate() {
            let (t, c) = (Instant::now(), process_cpu());
            sums[i] = run();
            wall[i].push(t.elapsed());
            cpu[i].push(process_cpu() - c);
        }
    }
    assert!(
        sums.iter().all(|s| *s == sums[0]),
        "{title}: the variants read different bytes: {sums:?}"
    );
    println!("\n{title} ({} bytes, {rounds} rounds)", sums[0]);
    println!(
        "{:<26} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "", "wall p50", "wall min", "cpu p50", "cpu min", "ratio"
    );
    let base = median(&mut wall[0]);
    for (i, (name, _)) in variants.iter().enumerate() {
        let w = median(&mut wall[i]);
        let c = median(&mut cpu[i]);
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "{name:<26} {:>10} {:>10} {:>10} {:>10} {:>7.2}",
            ms(w),
            ms(wall[i][0]),
            ms(c),
            ms(cpu[i][0]),
            w.as_secs_f64() / base.as_secs_f64()
        );
    }
}

/// Sorts `times` and returns the median.
fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[(times.len() - 1) / 2]
}

/// User + system CPU time of this process (all threads).
fn process_cpu() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A repository whose `main` holds `files` Python-like files (1-6 KB, many
/// alike, so `git gc` stores deltas) in 100 folders of 10 subfolders; packed
/// by `git gc`. Returns the commit.
fn tree_repo(env: &Hermetic, root: &Path, files: usize) -> String {
    std::fs::create_dir_all(root).unwrap();
    env.git(root, &["init", "-q", "-b", "main"]);
    let mut import = common::fast_import(env, root);
    let mut out = String::from("commit refs/heads/main\n");
    out.push_str("committer bench <bench@bench.invalid> 1700000000 +0000\ndata 5\ntree\n");
    for n in 0..files {
        let path = format!("pkg{}/sub{}/mod_{n}.py", n % 100, n / 100 % 10);
        let mut body = String::new();
        for i in 0..(n * 7 % 5 + 1) {
            body.push_str(&format!(
                "from pkg{}.sub{} import mod_{}\n",
                (n + i) % 100,
                i,
                n / 3
            ));
        }
        for f in 0..(20 + n * 13 % 100) {
            body.push_str(&format!(
                "\ndef handler_{f}(request, context):\n    value = request.get(\"field_{f}\")\n    return context.apply(value, {n})\n"
            ));
        }
        out.push_str(&format!(
            "M 100644 inline {path}\ndata {}\n{body}\n",
            body.len()
        ));
    }
    use std::io::Write;
    import
        .stdin
        .take()
        .unwrap()
        .write_all(out.as_bytes())
        .unwrap();
    assert!(import.wait().unwrap().success());
    env.git(root, &["gc", "-q"]);
    env.git(root, &["rev-parse", "main"])
}

/// A copy of `packed`'s objects as loose objects in a new repository at `root`.
fn unpack_loose(env: &Hermetic, packed: &Path, root: &Path, tip: &str) {
    std::fs::create_dir_all(root).unwrap();
    env.git(root, &["init", "-q", "-b", "main"]);
    let pack_dir = packed.join(".git/objects/pack");
    for entry in std::fs::read_dir(&pack_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pack") {
            let status = env
                .cmd("git", root)
                .args(["unpack-objects", "-q"])
                .stdin(std::fs::File::open(&path).unwrap())
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
    env.git(root, &["update-ref", "refs/heads/main", tip]);
}

/// A `comm` branch of `commits` linear commits, each an event that rewrites
/// one of 100 task files, with a message and trailers like comm-node's.
fn comm_repo(env: &Hermetic, root: &Path, commits: usize) -> String {
    std::fs::create_dir_all(root).unwrap();
    env.git(root, &["init", "-q", "-b", "main"]);
    let mut import = common::fast_import(env, root);
    let mut stdin = import.stdin.take().unwrap();
    use std::io::Write;
    for n in 0..commits {
        let message = format!(
            "task claim T-{}\n\nComm-Seq: {}\nComm-Event: task.claim\nComm-Domain: api\nComm-Agent: agent-{}\n",
            n % 100,
            n + 1,
            n % 7
        );
        let file = format!(
            "id: T-{}\nstatus: claimed\nowner: agent-{}\nseq: {n}\n",
            n % 100,
            n % 7
        );
        let stream = format!(
            "commit refs/heads/comm\ncommitter bench <bench@bench.invalid> {} +0000\ndata {}\n{message}M 100644 inline tasks/T-{}.yaml\ndata {}\n{file}\n",
            1_700_000_000 + n,
            message.len(),
            n % 100,
            file.len()
        );
        stdin.write_all(stream.as_bytes()).unwrap();
    }
    drop(stdin);
    assert!(import.wait().unwrap().success());
    env.git(root, &["gc", "-q"]);
    env.git(root, &["rev-parse", "comm"])
}

/// The blobs of `tip`'s tree, listed with git2.
fn git2_list(repo: &git2::Repository, tip: &str) -> Vec<git2::Oid> {
    let commit = repo.find_commit(git2::Oid::from_str(tip).unwrap()).unwrap();
    let mut blobs = Vec::new();
    commit
        .tree()
        .unwrap()
        .walk(git2::TreeWalkMode::PreOrder, |_, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob) {
                blobs.push(entry.id());
            }
            git2::TreeWalkResult::Ok
        })
        .unwrap();
    blobs
}

fn git2_read(repo: &git2::Repository, blobs: &[git2::Oid]) -> usize {
    blobs
        .iter()
        .map(|id| repo.find_blob(*id).unwrap().content().len())
        .sum()
}

fn git2_serial(path: &Path, tip: &str) -> usize {
    let repo = git2::Repository::open(path).unwrap();
    git2_read(&repo, &git2_list(&repo, tip))
}

/// Lists with git2, then reads on `threads` threads, one `Repository` each
/// (a git2 `Repository` is not `Sync`): what `check` does today.
fn git2_parallel(path: &Path, tip: &str, threads: usize) -> usize {
    let blobs = git2_list(&git2::Repository::open(path).unwrap(), tip);
    std::thread::scope(|s| {
        let chunk = blobs.len().div_ceil(threads);
        let handles: Vec<_> = blobs
            .chunks(chunk)
            .map(|part| s.spawn(move || git2_read(&git2::Repository::open(path).unwrap(), part)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

/// The blobs of `tip`'s tree, listed with gix.
fn gix_list(repo: &gix::Repository, tip: &str) -> Vec<gix::ObjectId> {
    let id = gix::ObjectId::from_hex(tip.as_bytes()).unwrap();
    let tree = repo.find_commit(id).unwrap().tree().unwrap();
    let files = tree.traverse().breadthfirst.files().unwrap();
    files
        .into_iter()
        .filter(|e| e.mode.is_blob_or_symlink())
        .map(|e| e.oid)
        .collect()
}

fn gix_read(repo: &gix::Repository, blobs: &[gix::ObjectId]) -> usize {
    blobs
        .iter()
        .map(|id| repo.find_blob(*id).unwrap().data.len())
        .sum()
}

fn gix_serial(path: &Path, tip: &str) -> usize {
    let repo = gix::open(path).unwrap();
    gix_read(&repo, &gix_list(&repo, tip))
}

/// Lists with gix, then reads on `threads` threads, each with a thread-local
/// handle on one shared object store.
fn gix_parallel(path: &Path, tip: &str, threads: usize) -> usize {
    let repo = gix::open(path).unwrap();
    let blobs = gix_list(&repo, tip);
    gix_read_parallel(repo.into_sync(), &blobs, threads)
}

/// Lists with git2 (as `check` does today), reads with gix on `threads` threads.
fn mixed_parallel(path: &Path, tip: &str, threads: usize) -> usize {
    let blobs: Vec<gix::ObjectId> = git2_list(&git2::Repository::open(path).unwrap(), tip)
        .into_iter()
        .map(|id| gix::ObjectId::try_from(id.as_bytes()).unwrap())
        .collect();
    gix_read_parallel(gix::open(path).unwrap().into_sync(), &blobs, threads)
}

fn gix_read_parallel(
    repo: gix::ThreadSafeRepository,
    blobs: &[gix::ObjectId],
    threads: usize,
) -> usize {
    let repo = &repo;
    std::thread::scope(|s| {
        let chunk = blobs.len().div_ceil(threads);
        let handles: Vec<_> = blobs
            .chunks(chunk)
            .map(|part| s.spawn(move || gix_read(&repo.to_thread_local(), part)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

fn git2_walk(path: &Path, tip: &str) -> usize {
    let repo = git2::Repository::open(path).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push(git2::Oid::from_str(tip).unwrap()).unwrap();
    walk.map(|id| repo.find_commit(id.unwrap()).unwrap().message_bytes().len())
        .sum()
}

fn gix_walk(path: &Path, tip: &str) -> usize {
    let repo = gix::open(path).unwrap();
    let tip = gix::ObjectId::from_hex(tip.as_bytes()).unwrap();
    repo.rev_walk([tip])
        .all()
        .unwrap()
        .map(|info| info.unwrap().object().unwrap().message_raw_sloppy().len())
        .sum()
}

/// The task files `status` reads at the tip of `comm`.
const STATUS_FILES: [&str; 5] = [
    "tasks/T-1.yaml",
    "tasks/T-12.yaml",
    "tasks/T-42.yaml",
    "tasks/T-77.yaml",
    "tasks/T-99.yaml",
];

fn git2_status(path: &Path) -> usize {
    let repo = git2::Repository::open(path).unwrap();
    let tree = repo
        .find_reference("refs/heads/comm")
        .unwrap()
        .peel_to_tree()
        .unwrap();
    STATUS_FILES
        .iter()
        .map(|file| {
            let entry = tree.get_path(Path::new(file)).unwrap();
            repo.find_blob(entry.id()).unwrap().content().len()
        })
        .sum()
}

fn gix_status(path: &Path) -> usize {
    let repo = gix::open(path).unwrap();
    let tree = repo
        .find_reference("refs/heads/comm")
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .tree()
        .unwrap();
    STATUS_FILES
        .iter()
        .map(|file| {
            let entry = tree.lookup_entry_by_path(file).unwrap().unwrap();
            repo.find_blob(entry.object_id()).unwrap().data.len()
        })
        .sum()
}
