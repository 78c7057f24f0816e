//! Bad input to the bus: a usage error (exit 2) that writes nothing, for
//! every flag, recipient, body and artifact name git or comm cannot take.

mod common;

use std::path::Path;

use common::bus::*;
use common::{write, Env, BIN};

#[test]
fn bad_input_is_a_usage_error_that_writes_nothing() {
    let env = Env::new();
    let root = bus(&env, "limits:\n  body_bytes: 100\n  artifact_bytes: 50\n");
    let api = env.worktree("api");
    let web = env.worktree("web");
    let known = sent_id(env.cn(&api, &["send", "--to", "web", "known"]));

    let subject_201 = "é".repeat(201);
    let subject_200 = "é".repeat(200);
    let body_101 = "x".repeat(101);
    let body_100 = "y".repeat(100);
    let big = api.join("big.bin");
    std::fs::write(&big, vec![b'z'; 51]).unwrap();
    let fits = api.join("fits.bin");
    std::fs::write(&fits, vec![b'z'; 50]).unwrap();
    std::fs::write(api.join("small.txt"), "small\n").unwrap();

    let cases: Vec<(&Path, Vec<&str>, &str)> = vec![
        (
            &api,
            vec!["send", "--to", "nosuch", "hi"],
            "unknown recipient `nosuch`",
        ),
        (
            &api,
            vec!["send", "--to", "web,nosuch", "hi"],
            "unknown recipient `nosuch`",
        ),
        (
            &api,
            vec!["send", "--to", "web", ""],
            "the subject is empty",
        ),
        (
            &api,
            vec!["send", "--to", "web", "   "],
            "the subject is empty",
        ),
        (
            &api,
            vec!["send", "--to", "web", "two\nlines"],
            "the subject spans several lines",
        ),
        (
            &api,
            vec!["send", "--to", "web", "cr\rline"],
            "the subject spans several lines",
        ),
        (
            &api,
            vec!["send", "--to", "web", &subject_201],
            "the subject is longer than 200 characters",
        ),
        (
            &api,
            vec!["send", "--to", "web", "big", &body_101],
            "the body is 101 bytes; the limit is 100",
        ),
        (
            &api,
            vec!["publish", "../x", "small.txt"],
            "artifact name `../x` contains `.` or `..`",
        ),
        (
            &api,
            vec!["publish", "/etc/passwd", "small.txt"],
            "artifact name `/etc/passwd` is absolute",
        ),
        (
            &api,
            vec!["publish", "a/../b", "small.txt"],
            "artifact name `a/../b` contains `.` or `..`",
        ),
        (
            &api,
            vec!["publish", ".git/config", "small.txt"],
            "artifact name `.git/config` contains a name git reserves (`.git`)",
        ),
        (
            &api,
            vec!["publish", "a//b", "small.txt"],
            "artifact name `a//b` has an empty path segment",
        ),
        (
            &api,
            vec!["publish", "big.bin", "big.bin"],
            "the artifact is 51 bytes; the limit is 50",
        ),
        (
            &api,
            vec!["publish", "x.txt", "no-such-file"],
            "cannot read",
        ),
        (
            &web,
            vec!["ack", "0000000000-nosuchid00"],
            "no message with id `0000000000-nosuchid00`",
        ),
        (&web, vec!["ack"], "nothing to acknowledge"),
        (
            &web,
            vec![
                "send",
                "--to",
                "api",
                "--reply-to",
                "0000000000-nosuchid00",
                "re",
            ],
            "no message with id `0000000000-nosuchid00`",
        ),
        (
            &web,
            vec!["send", "--to", "api", "--task", "T 1", "t"],
            "`T 1` is not a valid id",
        ),
        (
            &web,
            vec!["send", "--to", "api", "--thread", "a b", "t"],
            "`a b` is not a valid id",
        ),
        (
            &web,
            vec!["read", "0000000000-nosuchid00"],
            "no message with id `0000000000-nosuchid00`",
        ),
        (
            &web,
            vec!["thread", "nosuch-thread"],
            "no thread or message `nosuch-thread`",
        ),
        (
            &web,
            vec!["artifact", "get", "api/../x"],
            "artifact name `../x` contains `.` or `..`",
        ),
    ];
    for (dir, args, message) in &cases {
        let before = tip(&env, &root);
        let run = env.cn(dir, args);
        assert_eq!(
            run.code, 2,
            "{args:?}: expected exit 2\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout, run.stderr
        );
        assert!(
            run.stderr.contains(&format!("error: {message}")),
            "{args:?}: stderr lacks {message:?}:\n{}",
            run.stderr
        );
        if !message.starts_with("cannot read") {
            assert!(
                run.stderr.contains("hint:"),
                "{args:?}: no hint:\n{}",
                run.stderr
            );
        }
        assert_eq!(tip(&env, &root), before, "{args:?} changed comm");
        assert_eq!(run.stdout, "", "{args:?}");
    }
    // Bodies over the limit through standard input too.
    let before = tip(&env, &root);
    let run = cn_stdin(
        &env,
        &api,
        &["send", "--to", "web", "piped", "-"],
        &body_101,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("the body is 101 bytes"),
        "{}",
        run.stderr
    );
    assert_eq!(tip(&env, &root), before);

    // Exactly at the limits is fine.
    let at_limit = sent_id(env.cn(&api, &["send", "--to", "web", "fits", &body_100]));
    sent_id(env.cn(&api, &["send", "--to", "human", &subject_200]));
    assert_eq!(
        env.git(&root, &["log", "-1", "--format=%s", "comm"]),
        format!("api → human: {subject_200}")
    );
    env.cn(&api, &["publish", "fits.bin", "fits.bin"]).expect(0);
    assert_eq!(trailer(&env, &root, "comm", "Comm-Size"), "50");
    // And the good ids still work.
    sent_id(env.cn(
        &web,
        &[
            "send",
            "--to",
            "api",
            "--reply-to",
            &known,
            "--task",
            "T-1",
            "re",
        ],
    ));
    let acked = json(
        &env.cn(&web, &["ack", &known, &at_limit, "--json"])
            .expect(0),
    );
    assert_eq!(acked["acked"], serde_json::json!([known, at_limit]));
    env.git(&root, &["fsck", "--strict", "--no-dangling"]);
}

#[test]
fn publishing_to_an_unknown_recipient_is_refused() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");
    std::fs::write(api.join("small.txt"), "small\n").unwrap();
    let before = tip(&env, &root);
    let run = env.cn(
        &api,
        &["publish", "small.txt", "small.txt", "--to", "nosuch"],
    );
    assert_eq!(
        run.code, 2,
        "send refuses unknown recipients; publish should too\n--- stdout\n{}\n--- stderr\n{}\n--- comm\n{}",
        run.stdout,
        run.stderr,
        env.git(&root, &["log", "-1", "--format=%B", "comm"])
    );
    assert!(
        run.stderr.contains("unknown recipient `nosuch`"),
        "{}",
        run.stderr
    );
    assert_eq!(tip(&env, &root), before);
}

/// Publishes each of `names` in a fresh repository and lists the ways it
/// went wrong: anything but exit 2 naming the artifact, comm unchanged, and
/// `git fsck --strict` clean afterwards.
fn misjudged_artifact_names(names: &[&str]) -> Vec<String> {
    let mut wrong = Vec::new();
    for name in names {
        // A fresh repository each time, so one bad tree does not taint the next.
        let env = Env::new();
        let root = bus(&env, "");
        let api = env.worktree("api");
        std::fs::write(api.join("small.txt"), "small\n").unwrap();
        let before = tip(&env, &root);
        let run = env.cn(&api, &["publish", name, "small.txt"]);
        let fsck = env.git_run(&root, &["fsck", "--strict", "--no-dangling"]);
        let named = run
            .stderr
            .contains(&format!("error: artifact name `{}`", name.escape_debug()));
        let unchanged = tip(&env, &root) == before;
        if (run.code, fsck.code, named, unchanged) != (2, 0, true, true) {
            wrong.push(format!(
                "publish {name:?}: exit {} (want 2), comm {}, then git fsck --strict exit {} (want 0)\n  stderr: {}\n  fsck: {}",
                run.code,
                if unchanged { "unchanged" } else { "CHANGED" },
                fsck.code,
                run.stderr.trim_end(),
                fsck.stderr.trim_end()
            ));
        }
    }
    wrong
}

/// NTFS short names and a trailing dot or space: libgit2 refuses to build
/// the tree, which must be reported as the usage error it is (exit 2, with
/// the hint), not as a failure of git (exit 3).
#[test]
fn artifact_names_git_cannot_store_are_usage_errors() {
    let wrong = misjudged_artifact_names(&["git~1/config", "GIT~1/config", ".git. /config"]);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// HFS+ ignorable code points (U+200C, U+FEFF) inside `.git`: git reads
/// these as `.git`, so `git fsck --strict` (and any host that checks pushed
/// objects) rejects the comm branch once such a tree is on it.
#[test]
fn artifact_names_spelling_dot_git_with_ignorable_code_points_are_refused() {
    let wrong = misjudged_artifact_names(&[".gi\u{200c}t/config", ".git\u{feff}/config"]);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn recipients_are_checked_against_the_registered_domains() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");
    let before = tip(&env, &root);
    env.cn(&api, &["send", "--to", "docs", "hi"]).expect(2);
    assert_eq!(tip(&env, &root), before);
    write(
        &root.join("comm.yaml"),
        &format!("{SMALL}  docs:\n    role: Docs\n    scope: [\"docs/**\"]\n"),
    );
    env.cn(&root, &["init"]).expect(0);
    let id = sent_id(env.cn(&api, &["send", "--to", "docs", "hi"]));
    let inbox = json(
        &env.cn(&env.worktree("docs"), &["inbox", "--json"])
            .expect(0),
    );
    assert_eq!(ids_of(&inbox), [id]);
}

#[test]
fn bodies_git_cannot_store_are_usage_errors() {
    let env = Env::new();
    let root = bus(&env, "");
    let api = env.worktree("api");
    let mut wrong = Vec::new();
    let inputs: [(&str, &[u8]); 2] = [
        ("a NUL byte", b"hello\0world\n"),
        ("invalid UTF-8", b"caf\xe9\n"),
    ];
    for (what, body) in inputs {
        let before = tip(&env, &root);
        let (code, _, stderr) = run_raw(&env, &api, BIN, &["send", "--to", "web", "x", "-"], body);
        if code != 2 || !stderr.contains("hint:") || tip(&env, &root) != before {
            wrong.push(format!(
                "a body with {what}: exit {code} (want 2 with a hint, comm unchanged)\n  stderr: {}",
                stderr.trim_end()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    env.git(&root, &["fsck", "--strict", "--no-dangling"]);
}
