//! Shell completions and manual pages: generated from the same definitions
//! as `--help`, checked with the real bash and the real man-page formatter.

mod common;

use std::process::Command;

use common::{Env, BIN};

/// The top-level command names `comm-node --help` lists.
fn listed_commands(env: &Env) -> Vec<String> {
    let help = env.cn(env.dir.path(), &["--help"]).expect(0).stdout;
    let section = help
        .split("Commands:")
        .nth(1)
        .expect("--help lists commands");
    section
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A wrapped description continues deeper indented.
        .filter(|l| !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Asks the real bash for the completions of `words` after sourcing the script.
fn bash_complete(env: &Env, script: &std::path::Path, words: &str) -> Vec<String> {
    let program = format!(
        "source {script}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
         func=$(complete -p comm-node | sed -E 's/.*-F ([^ ]+).*/\\1/'); \
         $func comm-node \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script = script.display()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "-c", &program]);
    env.hermetic(&mut cmd);
    let out = cmd.output().expect("bash runs");
    assert!(
        out.status.success(),
        "bash failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completion_offers_every_command_and_its_flags() {
    let env = Env::new();
    let script = env.path("comm-node.bash");
    let out = env.cn(env.dir.path(), &["completions", "bash"]).expect(0);
    std::fs::write(&script, out.stdout).unwrap();

    let offered = bash_complete(&env, &script, "comm-node ''");
    for command in listed_commands(&env) {
        assert!(
            offered.contains(&command),
            "`{command}` not offered: {offered:?}"
        );
    }
    let task = bash_complete(&env, &script, "comm-node task ''");
    assert!(task.contains(&"claim".to_owned()), "{task:?}");
    let flags = bash_complete(&env, &script, "comm-node send --");
    assert!(flags.contains(&"--reply-to".to_owned()), "{flags:?}");
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_shell_is_a_usage_error() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = env.cn(env.dir.path(), &["completions", shell]).expect(0);
        assert!(out.stdout.contains("comm-node"), "{shell}: {}", out.stdout);
    }
    let bad = env.cn(env.dir.path(), &["completions", "tcsh"]).expect(2);
    assert!(bad.stderr.contains("possible values"), "{}", bad.stderr);
}

#[test]
fn man_pages_cover_every_command_and_render() {
    let env = Env::new();
    let dir = env.path("man1");
    let out = env
        .cn(env.dir.path(), &["--json", "man", "--out", "man1"])
        .expect(0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let pages: Vec<&str> = report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for command in listed_commands(&env) {
        let page = format!("comm-node-{command}.1");
        assert!(pages.contains(&page.as_str()), "no {page} in {pages:?}");
        assert!(dir.join(&page).is_file());
    }
    assert!(pages.contains(&"comm-node-task-claim.1"), "{pages:?}");

    // The formatter renders a nested command's page with its flags and the
    // global ones.
    let rendered = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(dir.join("comm-node-send.1"))
        .env("MANWIDTH", "100")
        .output();
    if let Some(rendered) = rendered.ok().filter(|o| o.status.success()) {
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(text.contains("--reply-to"), "{text}");
        assert!(text.contains("--json"), "{text}");
    } else {
        let page = std::fs::read_to_string(dir.join("comm-node-send.1")).unwrap();
        assert!(page.starts_with(".ie") || page.contains(".TH"), "{page}");
        assert!(page.contains("reply\\-to"), "{page}");
    }
}

#[test]
fn man_without_out_prints_the_top_level_page() {
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH comm-node 1"), "{page}");
    assert!(page.contains("comm\\-node\\-task(1)"), "{page}");
}
