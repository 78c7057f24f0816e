//! Signed events between clones on different machines: the real binary,
//! the real `ssh-keygen` and the real git. Each clone lives in a folder of
//! its own with its own `.git/comm-node/keys`, like two machines sharing
//! only a remote: machine a hosts the human and `api`, machine b hosts `web`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Env, API_WEB_HEALTH};

/// A remote with comm's kickoff, then machine a (`init --sign=api`: the
/// human's and api's keys) and machine b (`init --sign=web`), all synced.
fn two_machines(env: &Env) -> (PathBuf, PathBuf) {
    let seed = env.repo(
        "seed",
        &[("comm.yaml", API_WEB_HEALTH), ("api/a.ts", "export {};\n")],
    );
    env.cn(&seed, &["init"]).expect(0);
    let remote = env.bare_remote(&seed, env.dir.path());
    let machine = |name: &str, sign: &str| {
        let dir = plain_clone(env, &remote, name);
        env.cn(&dir, &["init", &format!("--sign={sign}")]).expect(0);
        env.cn(&dir, &["sync"]).expect(0);
        dir
    };
    let a = machine("a", "api");
    let b = machine("b", "web");
    env.cn(&a, &["sync"]).expect(0);
    (a, b)
}

/// A clone of `remote` in its own folder, synced, without signing.
fn plain_clone(env: &Env, remote: &Path, name: &str) -> PathBuf {
    env.synced_clone(
        remote.to_str().unwrap(),
        &format!("machine-{name}/app"),
        &format!("machine {name}"),
        name,
    )
}

/// `comm-node verify` in `dir` fails, and its report holds every one of
/// `needles`.
#[track_caller]
fn verify_fails_naming(env: &Env, dir: &Path, needles: &[&str]) {
    let run = env.cn(dir, &["verify"]).expect(1);
    for needle in needles {
        assert!(run.stdout.contains(needle), "{needle}: {}", run.stdout);
    }
}

/// The actors whose private keys a clone holds.
fn held_keys(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(".git/comm-node/keys"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !n.ends_with(".pub"))
        .collect();
    names.sort();
    names
}

/// An allowed signers file built by hand from comm's `keys/<actor>.pub`.
fn allowed_signers(env: &Env, dir: &Path) -> PathBuf {
    let names = env.git(dir, &["ls-tree", "--name-only", "comm", "keys/"]);
    let mut text = String::new();
    for path in names.lines() {
        let actor = path
            .strip_prefix("keys/")
            .unwrap()
            .strip_suffix(".pub")
            .unwrap();
        let key = env.git(dir, &["show", &format!("comm:{path}")]);
        text.push_str(&format!("{actor} namespaces=\"git\" {key}\n"));
    }
    let file = dir.join(".git/allowed_signers");
    std::fs::write(&file, text).unwrap();
    file
}

/// `git ARGS` with comm's keys as the allowed signers.
fn git_with_signers(env: &Env, dir: &Path, args: &[&str]) -> common::Run {
    let file = allowed_signers(env, dir);
    let config = format!("gpg.ssh.allowedSignersFile={}", file.display());
    let mut all = vec!["-c", &config];
    all.extend_from_slice(args);
    env.git_run(dir, &all)
}

/// Puts on top of comm a hand-made message event claiming to come from
/// `from`, signed with the private key at `key` by git itself (`commit -S`
/// with `gpg.format=ssh`) or unsigned; returns its commit.
fn forge_message(env: &Env, dir: &Path, from: &str, key: Option<&Path>) -> String {
    let seq = env.seq_of(dir, "comm");
    let message = format!(
        "msg {from} → all: forged\n\nComm-Kind: msg\nComm-From: {from}\nComm-To: all\nComm-Id: 0000000forged-{from}\nComm-Seq: {}\n",
        seq + 1
    );
    forge_commit(env, dir, "comm^{tree}", &message, key)
}

/// `git commit-tree TREE -p comm -m MESSAGE`, signed with `key` when
/// given, and comm moved to it by hand.
fn forge_commit(env: &Env, dir: &Path, tree: &str, message: &str, key: Option<&Path>) -> String {
    let mut args = vec![];
    let signing_key;
    if let Some(key) = key {
        signing_key = format!("user.signingkey={}", key.display());
        args.extend(["-c", "gpg.format=ssh", "-c", &signing_key]);
    }
    args.extend(["commit-tree", tree, "-p", "comm", "-m", message]);
    if key.is_some() {
        args.push("-S");
    }
    let commit = env.git(dir, &args);
    env.git(dir, &["update-ref", "refs/heads/comm", &commit]);
    commit
}

/// Pushes a forged comm to the remote (a fast-forward the remote accepts).
fn push_forgery(env: &Env, dir: &Path) {
    env.git(dir, &["push", "-q", "origin", "comm"]);
}

#[test]
fn events_signed_on_two_machines_verify_on_both_and_replays_are_resigned() {
    let env = Env::new();
    let (a, b) = two_machines(&env);
    assert_eq!(held_keys(&a), ["api", "human"]);
    assert_eq!(
        held_keys(&b),
        ["web"],
        "b makes no key for actors it does not host"
    );

    env.cn(
        &a,
        &["--as", "api", "send", "--to", "web", "contract ready"],
    )
    .expect(0);
    env.cn(&a, &["sync"]).expect(0);
    // b writes before it has a's message, so its sync replays it on top.
    env.cn(&b, &["--as", "web", "send", "--to", "api", "thanks"])
        .expect(0);
    let before_replay = env.git(&b, &["rev-parse", "comm"]);
    let synced = env.cn(&b, &["--json", "sync"]).expect(0);
    assert!(
        synced.stdout.contains("\"replayed\": 1"),
        "{}",
        synced.stdout
    );
    assert_ne!(env.git(&b, &["rev-parse", "comm"]), before_replay);
    env.cn(&a, &["sync"]).expect(0);

    for dir in [&a, &b] {
        env.cn(dir, &["verify"]).expect(0);
        let signers = git_with_signers(
            &env,
            dir,
            &[
                "log",
                "comm",
                "--format=%G? %GS %(trailers:key=Comm-Kind,valueonly)",
            ],
        );
        let lines: Vec<&str> = signers
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(
            lines,
            [
                "G web msg",
                "G api msg",
                "G web key",
                "G human key",
                "N  kickoff"
            ],
            "every event after the keys is signed by its author's key"
        );
    }
}

#[test]
fn an_offline_event_its_author_can_no_longer_sign_is_rejected_at_sync_without_blocking_it() {
    let env = Env::new();
    let seed = env.repo("seed", &[("comm.yaml", API_WEB_HEALTH)]);
    env.cn(&seed, &["init"]).expect(0);
    let remote = env.bare_remote(&seed, env.dir.path());
    let a = plain_clone(&env, &remote, "a");
    let b = plain_clone(&env, &remote, "b");
    // Offline on b, before any key exists: one message as web, one as api.
    env.cn(&b, &["--as", "web", "send", "--to", "api", "from web"])
        .expect(0);
    env.cn(
        &b,
        &["--as", "api", "send", "--to", "web", "from api, offline"],
    )
    .expect(0);
    // Meanwhile a registers api's key.
    env.cn(&a, &["init", "--sign=api"]).expect(0);
    env.cn(&a, &["sync"]).expect(0);
    let run = env.cn(&b, &["--json", "sync"]).expect(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["replayed"], 1, "{report}");
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{report}");
    assert_eq!(rejected[0]["subject"], "api → web: from api, offline");
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("this clone holds no private key for it"),
        "{report}"
    );
    env.cn(&a, &["sync"]).expect(0);
    env.cn(&a, &["verify"]).expect(0);
    env.cn(&b, &["verify"]).expect(0);
}

#[test]
fn a_clone_without_an_authors_key_cannot_write_in_its_name() {
    let env = Env::new();
    let (a, _) = two_machines(&env);
    let tip = env.git(&a, &["rev-parse", "comm"]);
    let run = env
        .cn(&a, &["--as", "web", "send", "--to", "api", "hi"])
        .expect(1);
    assert!(
        run.stderr.contains("`web` signs its events with the key registered in comm:keys/web.pub, and this clone holds no private key for it"),
        "{}",
        run.stderr
    );
    assert!(run
        .stderr
        .contains("hint: act as `web` on the clone that holds its key"));
    assert_eq!(env.git(&a, &["rev-parse", "comm"]), tip, "nothing written");
}

#[test]
fn an_unsigned_event_in_a_signing_domains_name_is_reported_at_its_commit_and_refused_by_sync() {
    let env = Env::new();
    let (a, b) = two_machines(&env);
    let forged = forge_message(&env, &b, "api", None);
    let report = format!(
        "bad commit {forged} (msg api → all: forged): it is not signed, but `api` signs its events"
    );
    verify_fails_naming(&env, &b, &[&report]);
    push_forgery(&env, &b);
    let tip = env.git(&a, &["rev-parse", "comm"]);
    let sync = env.cn(&a, &["sync"]).expect(1);
    assert!(
        sync.stderr.contains("nothing was adopted") && sync.stderr.contains(&forged),
        "{}",
        sync.stderr
    );
    assert!(sync.stderr.contains("it is not signed"), "{}", sync.stderr);
    assert!(sync.stderr.contains("hint: "), "{}", sync.stderr);
    assert_eq!(env.git(&a, &["rev-parse", "comm"]), tip);
}

#[test]
fn an_event_signed_with_another_actors_key_is_reported_and_refused_by_sync() {
    let env = Env::new();
    let (a, b) = two_machines(&env);
    // b holds web's key and signs a message in api's name with it.
    let web_key = b.join(".git/comm-node/keys/web");
    let forged = forge_message(&env, &b, "api", Some(&web_key));
    verify_fails_naming(
        &env,
        &b,
        &[
            &format!("bad commit {forged}"),
            "its signature is not made by the key registered for `api`",
        ],
    );
    push_forgery(&env, &b);
    let tip = env.git(&a, &["rev-parse", "comm"]);
    let sync = env.cn(&a, &["sync"]).expect(1);
    assert!(
        sync.stderr.contains(&forged)
            && sync
                .stderr
                .contains("its signature is not made by the key registered for `api`"),
        "{}",
        sync.stderr
    );
    assert_eq!(env.git(&a, &["rev-parse", "comm"]), tip);
}

#[test]
fn git_verify_commit_accepts_a_genuine_event_given_comms_keys_as_allowed_signers() {
    let env = Env::new();
    let (a, _) = two_machines(&env);
    env.cn(
        &a,
        &["--as", "api", "send", "--to", "web", "contract ready"],
    )
    .expect(0);
    let genuine = git_with_signers(&env, &a, &["verify-commit", "comm"]);
    assert_eq!(genuine.code, 0, "{}", genuine.stderr);
    assert!(
        genuine.stderr.contains("Good \"git\" signature for api"),
        "{}",
        genuine.stderr
    );
    // comm-node prints the same allowed signers for git.
    let printed = env
        .cn(&a, &["verify", "--allowed-signers"])
        .expect(0)
        .stdout;
    let file = a.join(".git/printed_signers");
    std::fs::write(&file, &printed).unwrap();
    let config = format!("gpg.ssh.allowedSignersFile={}", file.display());
    env.git(&a, &["-c", &config, "verify-commit", "comm"]);
    // A message signed by the wrong key is no good signature for git either.
    let api_key = a.join(".git/comm-node/keys/human");
    forge_message(&env, &a, "api", Some(&api_key));
    let wrong = git_with_signers(&env, &a, &["log", "-1", "--format=%G? %GS", "comm"]);
    assert_eq!(
        wrong.stdout.trim(),
        "G human",
        "signed by the human, not api"
    );
    assert!(env
        .cn(&a, &["verify"])
        .expect(1)
        .stdout
        .contains("not made by the key registered for `api`"));
}

#[test]
fn a_domain_cannot_register_a_key_in_another_domains_name() {
    let env = Env::new();
    let (_, b) = two_machines(&env);
    let web_pub = std::fs::read_to_string(b.join(".git/comm-node/keys/web.pub")).unwrap();
    let tree = tree_with(&env, &b, "keys/api.pub", &web_pub);
    let seq = env.seq_of(&b, "comm");
    let message = format!(
        "signing keys registered: api\n\nComm-Kind: key\nComm-From: web\nComm-To: all\nComm-Id: 0000000forged-key\nComm-Seq: {}\n",
        seq + 1
    );
    let key = b.join(".git/comm-node/keys/web");
    let forged = forge_commit(&env, &b, &tree, &message, Some(&key));
    verify_fails_naming(
        &env,
        &b,
        &[&format!(
            "bad commit {forged} (signing keys registered: api): `web` may not write keys/api.pub"
        )],
    );
}

#[test]
fn comm_nodes_own_events_are_signed_by_a_key_of_the_clone_that_wrote_them() {
    let env = Env::new();
    let (a, b) = two_machines(&env);
    let added = env
        .cn(
            &a,
            &[
                "--as", "human", "--json", "task", "add", "login", "--domain", "api",
            ],
        )
        .expect(0);
    let id = serde_json::from_str::<serde_json::Value>(&added.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.cn(&a, &["--as", "api", "task", "claim", &id]).expect(0);
    env.cn(&a, &["sync"]).expect(0);
    env.cn(&b, &["sync"]).expect(0);
    // b notices api's lease ran out: the lapse is comm-node's, vouched by web.
    let later = now() + 7200;
    env.cn_at(&b, later, &["status"]).expect(0);
    let last = env.git(
        &b,
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Comm-From,valueonly,separator=)|%(trailers:key=Comm-Signer,valueonly,separator=)",
            "comm",
        ],
    );
    assert_eq!(last, "comm-node|web");
    env.cn(&b, &["sync"]).expect(0);
    env.cn(&a, &["sync"]).expect(0);
    env.cn(&a, &["verify"]).expect(0);
    let signed = git_with_signers(&env, &a, &["log", "-1", "--format=%G? %GS", "comm"]);
    assert_eq!(signed.stdout.trim(), "G web");
}

#[test]
fn comm_nodes_own_events_without_a_registered_signers_signature_are_reported() {
    let env = Env::new();
    let (a, _) = two_machines(&env);
    let seq = env.seq_of(&a, "comm");
    let report = |signer: &str| {
        format!(
            "commits on main the queue did not land\n\nComm-Kind: untested\nComm-From: comm-node\nComm-To: human\nComm-Id: 0000000forged-untested\nComm-Seq: {}\n{signer}",
            seq + 1
        )
    };
    let tip = env.git(&a, &["rev-parse", "comm"]);
    let unsigned = forge_commit(&env, &a, "comm^{tree}", &report(""), None);
    verify_fails_naming(
        &env,
        &a,
        &[&format!("bad commit {unsigned}"), "names no Comm-Signer"],
    );
    // Naming web as the signer but signing with the human's key.
    env.git(&a, &["update-ref", "refs/heads/comm", &tip]);
    let human_key = a.join(".git/comm-node/keys/human");
    let wrong = forge_commit(
        &env,
        &a,
        "comm^{tree}",
        &report("Comm-Signer: web\n"),
        Some(&human_key),
    );
    verify_fails_naming(
        &env,
        &a,
        &[
            &format!("bad commit {wrong}"),
            "its signature is not made by the key registered for `web`",
        ],
    );
}

#[test]
fn a_sync_rejection_notice_is_signed_by_the_clone_that_wrote_it() {
    let env = Env::new();
    let (a, b) = two_machines(&env);
    // Both claim the task; a's claim reaches the remote first.
    env.claimed_on_both(&a, &b, "login");
    env.cn(&a, &["sync"]).expect(0);
    let run = env.cn(&b, &["--json", "sync"]).expect(0);
    assert!(run.stdout.contains("\"rejected\": ["), "{}", run.stdout);
    env.cn(&a, &["sync"]).expect(0);
    let last = env.git(
        &a,
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Comm-Kind,valueonly,separator=)|%(trailers:key=Comm-Signer,valueonly,separator=)",
            "comm",
        ],
    );
    assert_eq!(
        last, "sync-rejected|web",
        "b's notice to web, vouched by web's key"
    );
    env.cn(&a, &["verify"]).expect(0);
    let signed = git_with_signers(&env, &a, &["log", "-1", "--format=%G? %GS", "comm"]);
    assert_eq!(signed.stdout.trim(), "G web");
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// comm's tree with `path` set to `text`, written with a scratch index.
fn tree_with(env: &Env, dir: &Path, path: &str, text: &str) -> String {
    let blob_file = dir.join(".git/forged-blob");
    std::fs::write(&blob_file, text).unwrap();
    let blob = env.git(dir, &["hash-object", "-w", blob_file.to_str().unwrap()]);
    let index = dir.join(".git/forged-index");
    let git = |args: &[&str]| {
        let mut cmd = Command::new("git");
        cmd.args(args).current_dir(dir);
        env.hermetic(&mut cmd);
        cmd.env("GIT_INDEX_FILE", &index);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["read-tree", "comm"]);
    git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("100644,{blob},{path}"),
    ]);
    git(&["write-tree"])
}
