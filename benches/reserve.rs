//! Reservation benchmarks: `reserve` as a whole CLI process on a `comm`
//! branch holding 1,000 live reservations (built through the library), warm
//! (the parsed-reservation cache under `.git/comm-node/` is current) and
//! cold (cache deleted before each run), plus a refused reservation and the
//! `reservations` listing.
//!
//! Run with `cargo bench --bench reserve` (add `-- --live N` for another
//! count). Results go to stdout; BENCHMARKS.md records them.

use std::path::Path;
use std::time::Instant;

mod common;

use comm_node::comm::reservation::{self, Mode, ReserveRequest};
use comm_node::config::Config;
use comm_node::git::Repo;
use common::{children_cpu, report, Hermetic};

const DOMAINS: [&str; 5] = ["api", "web", "shared", "pricing", "engine"];

fn main() {
    let live: usize = common::arg("live", 1000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let env = Hermetic::in_dir(dir.path());

    let t = Instant::now();
    setup(&env, &root, live);
    println!(
        "setup: {live} live reservations on comm in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let cache = root.join(".git/comm-node/reservations-v3");

    let mut warm = Vec::new();
    let cpu = children_cpu();
    for i in 0..200 {
        let glob = format!("api/bench/w{i}/**");
        let (d, out) = env.time(&root, &["--as", "api", "reserve", &glob]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        warm.push(d);
    }
    let cpu = (children_cpu() - cpu) / warm.len() as u32;
    report(
        &format!("reserve, warm cache (CLI process, {live}+ live reservations)"),
        &mut warm,
    );
    println!(
        "  CPU per reserve process (user + system): {:.1} ms",
        cpu.as_secs_f64() * 1000.0
    );

    let mut cold = Vec::new();
    for i in 0..50 {
        std::fs::remove_file(&cache).unwrap();
        let glob = format!("web/bench/c{i}/**");
        let (d, out) = env.time(&root, &["--as", "web", "reserve", &glob]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        cold.push(d);
    }
    report(
        &format!("reserve, cold cache (CLI process, {live}+ live reservations)"),
        &mut cold,
    );

    let mut refused = Vec::new();
    for _ in 0..50 {
        let (d, out) = env.time(&root, &["--as", "web", "reserve", "Cargo.lock"]);
        assert_eq!(out.status.code(), Some(1));
        refused.push(d);
    }
    report(
        &format!("reserve refused by a conflict (CLI process, {live}+ live)"),
        &mut refused,
    );

    // The pre-commit hook's check: 20 staged files in api's worktree, none
    // of them reserved by another domain (each checked against all).
    let worktree = root.parent().unwrap().join("bench.worktrees/api");
    for i in 0..20 {
        let file = worktree.join(format!("api/m{i}/f.py"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, format!("x = {i}\n")).unwrap();
    }
    env.git(&worktree, &["add", "-A"]);
    let mut staged = Vec::new();
    for _ in 0..50 {
        let (d, out) = env.time(&worktree, &["check", "--staged"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        staged.push(d);
    }
    report(
        &format!("check --staged, 20 files (CLI process, {live}+ live)"),
        &mut staged,
    );

    let mut list = Vec::new();
    for _ in 0..50 {
        let (d, out) = env.time(&root, &["reservations", "--json"]);
        assert!(out.status.success());
        list.push(d);
    }
    report(
        &format!("reservations --json (CLI process, {live}+ live)"),
        &mut list,
    );
}

/// A repository whose `comm` holds `live` reservations spread over five
/// domains, each on its own folder, made with the library's `reserve`.
fn setup(env: &Hermetic, root: &Path, live: usize) {
    std::fs::create_dir_all(root).unwrap();
    env.git(root, &["init", "-q", "-b", "main"]);
    env.git(root, &["config", "user.name", "bench"]);
    env.git(root, &["config", "user.email", "bench@bench.invalid"]);
    let mut config = String::from("project: bench\nshared: [\"Cargo.lock\"]\ndomains:\n");
    for d in DOMAINS {
        config.push_str(&format!("  {d}: {{scope: [\"{d}/**\"]}}\n"));
    }
    std::fs::write(root.join("comm.yaml"), &config).unwrap();
    common::commit_and_init(env, root);

    let repo = Repo::open(root).unwrap();
    let config = Config::load(&root.join("comm.yaml")).unwrap().config;
    let now = comm_node::clock::now();
    for i in 0..live {
        let domain = DOMAINS[i % DOMAINS.len()];
        let req = ReserveRequest {
            domain: domain.to_owned(),
            globs: vec![format!("{domain}/m{i}/**"), format!("{domain}/m{i}.py")],
            mode: if i % 4 == 0 {
                Mode::Shared
            } else {
                Mode::Exclusive
            },
            ttl: 86_400,
            task: None,
            reason: Some(format!("bench reservation {i}")),
        };
        reservation::reserve(&repo, &config, &req, now).unwrap();
    }
    let lock = ReserveRequest {
        domain: "api".to_owned(),
        globs: vec!["Cargo.lock".to_owned()],
        mode: Mode::Exclusive,
        ttl: 86_400,
        task: None,
        reason: None,
    };
    reservation::reserve(&repo, &config, &lock, now).unwrap();
    env.git(root, &["repack", "-adq"]);
}
