//! Many writers on the bus at once: concurrent senders make one linear
//! history, and writers killed mid-append (or holding the ref lock) leave
//! a sound bus.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use common::bus::*;
use common::Env;

#[test]
fn concurrent_senders_make_one_linear_history() {
    const PROCS: usize = 8;
    const EACH: usize = 200;
    let env = Env::new();
    let root = bus(&env, "");
    let mut children = Vec::new();
    for p in 0..PROCS {
        let who = if p % 2 == 0 { "api" } else { "web" };
        let script = format!(
            "for i in $(seq 1 {EACH}); do \"$0\" --as {who} send --to all \"m $i from {p}\" || exit 1; done"
        );
        let log = File::create(env.path(&format!("stderr-{p}"))).unwrap();
        children.push(env.spawn_loop(&root, &script, Stdio::null(), Stdio::from(log)));
    }
    let statuses: Vec<_> = children.iter_mut().map(|c| c.wait().unwrap()).collect();
    for (p, status) in statuses.iter().enumerate() {
        assert!(
            status.success(),
            "sender {p} failed ({status}):\n{}",
            common::read(&env.path(&format!("stderr-{p}")))
        );
    }

    let total = PROCS * EACH;
    let kinds = trailers_on_comm(&env, &root, "Comm-Kind");
    assert_eq!(kinds.iter().filter(|k| *k == "msg").count(), total);
    let others: Vec<&String> = kinds.iter().filter(|k| *k != "msg").collect();
    assert_eq!(others, ["kickoff"]);
    let ids = trailers_on_comm(&env, &root, "Comm-Id");
    assert_eq!(ids.len(), total + 1);
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        total + 1,
        "duplicate Comm-Id"
    );
    assert_eq!(env.git(&root, &["rev-list", "--merges", "comm"]), "");
    assert_seq_contiguous(&env, &root);

    // Every send landed exactly once, from the right sender.
    let lines = env.git(
        &root,
        &[
            "log",
            "--format=%s%x09%(trailers:key=Comm-From,valueonly,separator=%x2C)",
            "comm",
        ],
    );
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines.lines() {
        let (subject, from) = line.split_once('\t').unwrap();
        if let Some(text) = subject.strip_prefix(&format!("{from} → all: ")) {
            seen.entry(text.to_owned())
                .or_default()
                .push(from.to_owned());
        }
    }
    assert_eq!(seen.len(), total);
    for (text, froms) in &seen {
        let p: usize = text.rsplit(' ').next().unwrap().parse().unwrap();
        let who = if p.is_multiple_of(2) { "api" } else { "web" };
        assert_eq!(froms, &[who], "{text}");
    }
    for p in 0..PROCS {
        for i in 1..=EACH {
            assert!(
                seen.contains_key(&format!("m {i} from {p}")),
                "m {i} from {p} is missing"
            );
        }
    }
    // Each sender's messages are on comm in the order it sent them.
    let oldest_first: Vec<String> = lines
        .lines()
        .rev()
        .filter_map(|l| {
            let (subject, _) = l.split_once('\t')?;
            subject.split_once(": m ").map(|(_, t)| t.to_owned())
        })
        .collect();
    for p in 0..PROCS {
        let order: Vec<usize> = oldest_first
            .iter()
            .filter_map(|t| {
                let (i, from) = t.split_once(" from ")?;
                (from == p.to_string()).then(|| i.parse().unwrap())
            })
            .collect();
        assert_eq!(order, (1..=EACH).collect::<Vec<_>>(), "sender {p}");
    }
    env.git(&root, &["fsck", "--strict"]);
    // The bus still works, and every domain sees the others' messages.
    let inbox = json(
        &env.cn(&root, &["inbox", "--as", "human", "--json"])
            .expect(0),
    );
    assert_eq!(inbox.as_array().unwrap().len(), total);
    sent_id(env.cn(&root, &["send", "--as", "api", "--to", "web", "after"]));
}

#[test]
fn senders_killed_mid_append_leave_a_sound_bus() {
    const PROCS: usize = 8;
    let env = Env::new();
    let root = bus(&env, "");
    let mut printed: Vec<String> = Vec::new();
    for (round, delay_ms) in [300u64, 150, 450].into_iter().enumerate() {
        let mut children = Vec::new();
        for p in 0..PROCS {
            let who = if p % 2 == 0 { "api" } else { "web" };
            let script = format!(
                "i=0; while true; do i=$((i+1)); \"$0\" --as {who} send --to all \"r{round} m $i from {p}\" || exit 1; done"
            );
            let log = File::create(env.path(&format!("stderr-{round}-{p}"))).unwrap();
            children.push(env.spawn_loop(&root, &script, Stdio::piped(), Stdio::from(log)));
        }
        // Drain the pipes while the senders run.
        let readers: Vec<_> = children
            .iter_mut()
            .map(|c| {
                let mut out = c.stdout.take().unwrap();
                std::thread::spawn(move || {
                    let mut text = String::new();
                    let _ = out.read_to_string(&mut text);
                    text
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // SIGKILL each whole process group: the shell and the send it runs.
        for c in &children {
            common::kill_group(c);
        }
        for (p, c) in children.iter_mut().enumerate() {
            let status = c.wait().unwrap();
            assert_eq!(
                status.signal(),
                Some(9),
                "sender {p} ended by itself ({status}):\n{}",
                common::read(&env.path(&format!("stderr-{round}-{p}")))
            );
        }
        for r in readers {
            let text = r.join().unwrap();
            for line in text.lines() {
                assert!(looks_like_id(line), "sender printed {line:?}");
                printed.push(line.to_owned());
            }
        }

        // What was reported sent is on comm, once, and the repository is sound.
        env.git(&root, &["fsck", "--strict"]);
        let ids = trailers_on_comm(&env, &root, "Comm-Id");
        let on_comm: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(
            on_comm.len(),
            ids.len(),
            "duplicate Comm-Id after round {round}"
        );
        for id in &printed {
            assert!(on_comm.contains(id), "{id} was printed but is not on comm");
        }
        assert_eq!(env.git(&root, &["rev-list", "--merges", "comm"]), "");
        assert_seq_contiguous(&env, &root);

        // The next send succeeds (breaking a lock a killed writer left).
        let after = sent_id(env.cn(
            &root,
            &["send", "--as", "api", "--to", "web", "after the crash"],
        ));
        assert_eq!(trailer(&env, &root, "comm", "Comm-Id"), after);
        assert!(!root.join(".git/refs/heads/comm.lock").exists());
        env.cn(&root, &["inbox", "--as", "web", "--json"]).expect(0);
        env.cn(&root, &["ack", "--all", "--as", "web"]).expect(0);
        env.git(&root, &["fsck", "--strict"]);
    }
    assert!(!printed.is_empty(), "no sender printed an id in time");
}

/// A writer killed while it held the ref lock leaves `comm.lock` behind; the
/// next append waits it out, breaks it once stale, and lands.
#[test]
fn a_lock_left_by_a_killed_writer_is_broken() {
    let env = Env::new();
    let root = bus(&env, "");
    let lock = root.join(".git/refs/heads/comm.lock");
    let before = tip(&env, &root);
    // What a killed writer leaves: the new value it never renamed into place.
    std::fs::write(&lock, "0000000000000000000000000000000000000000\n").unwrap();
    // git itself refuses to move the ref while the lock is there.
    let blocked = env.git_run(&root, &["update-ref", "refs/heads/comm", &before, &before]);
    assert_ne!(blocked.code, 0);
    let id = sent_id(env.cn(
        &root,
        &["send", "--as", "api", "--to", "web", "after a crash"],
    ));
    assert!(!lock.exists());
    assert_eq!(trailer(&env, &root, "comm", "Comm-Id"), id);
    assert_eq!(env.git(&root, &["rev-parse", "comm~1"]), before);
    assert_seq_contiguous(&env, &root);
    env.git(&root, &["fsck", "--strict", "--no-dangling"]);
}
