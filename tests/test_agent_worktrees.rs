//! What an agent finds in its worktree after `init`: comm.yaml's `setup`
//! already run (so its own tests can run there), and instruction files
//! that are true for its domain: who may import its files, whom to ask
//! about files nobody owns, its own tests and no one else's.

mod common;

use std::path::PathBuf;

use common::{read, Env};

const SETUP_CONFIG: &str = "project: app
setup: [\"mkdir -p node_modules && echo ran >> node_modules/marker\"]
domains:
  api:
    scope: [\"api/**\"]
  web:
    scope: [\"web/**\"]
";

fn setup_repo(env: &Env, config: &str) -> PathBuf {
    env.repo(
        "app",
        &[
            ("comm.yaml", config),
            (".gitignore", "node_modules/\n"),
            ("api/a.ts", "export const a = 1;\n"),
            ("web/w.ts", "export {};\n"),
        ],
    )
}

fn marker(env: &Env, domain: &str) -> Option<String> {
    std::fs::read_to_string(env.worktree(domain).join("node_modules/marker")).ok()
}

#[test]
fn init_runs_setup_once_in_every_domain_worktree() {
    let env = Env::new();
    let root = setup_repo(&env, SETUP_CONFIG);
    let run = env.cn(&root, &["init"]).expect(0);
    assert!(run.stdout.contains("run setup in"), "{}", run.stdout);
    for domain in ["api", "web"] {
        assert_eq!(marker(&env, domain).as_deref(), Some("ran\n"), "{domain}");
        assert_eq!(
            env.git(&env.worktree(domain), &["status", "--porcelain"]),
            ""
        );
    }
    assert!(!root.join("node_modules").exists());
    // A rerun does not set up again.
    let again = env.cn(&root, &["init"]).expect(0);
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);
    assert_eq!(marker(&env, "api").as_deref(), Some("ran\n"));
}

#[test]
fn init_no_setup_skips_setup_and_a_later_init_runs_it() {
    let env = Env::new();
    let root = setup_repo(&env, SETUP_CONFIG);
    let run = env.cn(&root, &["init", "--no-setup"]).expect(0);
    assert!(run.stdout.contains("--no-setup"), "{}", run.stdout);
    assert_eq!(marker(&env, "api"), None);
    assert_eq!(marker(&env, "web"), None);
    env.cn(&root, &["init"]).expect(0);
    assert_eq!(marker(&env, "web").as_deref(), Some("ran\n"));
}

#[test]
fn a_failing_setup_is_reported_after_the_rest_of_init_is_done() {
    let env = Env::new();
    let failing = SETUP_CONFIG.replace(
        "mkdir -p node_modules && echo ran >> node_modules/marker",
        "echo registry unreachable; exit 3",
    );
    let root = setup_repo(&env, &failing);
    let run = env.cn(&root, &["init"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    for want in [
        "setup failed in 2 worktrees",
        "exited with 3",
        "registry unreachable",
        "everything else",
        "hint: fix the cause, then rerun `comm-node init`",
    ] {
        assert!(run.stderr.contains(want), "{want}: {}", run.stderr);
    }
    // Everything else is in place: worktrees, instructions, hooks, comm.
    assert!(env.worktree("api").join("CLAUDE.md").exists());
    assert!(root.join(".git/hooks/pre-commit").exists());
    env.git(&root, &["rev-parse", "--verify", "comm"]);
    // Fixed, a rerun runs only the setups.
    common::write(&root.join("comm.yaml"), SETUP_CONFIG);
    let run = env.cn(&root, &["init"]).expect(0);
    assert_eq!(
        run.stdout.matches("run setup in").count(),
        2,
        "{}",
        run.stdout
    );
    assert_eq!(marker(&env, "api").as_deref(), Some("ran\n"));
}

const SHOP: &str = "project: app
test: [\"make check\"]
domains:
  api:
    scope: [\"api/**\"]
    exports: [\"api/client/**\"]
    test: [\"npm test --prefix api\"]
  web:
    scope: [\"web/**\"]
    may_import: [api]
";

fn shop(env: &Env) -> PathBuf {
    env.app(&[
        ("comm.yaml", SHOP),
        ("api/client/c.ts", "export const c = 1;\n"),
        ("web/w.ts", "export {};\n"),
        ("tools/gen.sh", "echo\n"),
    ])
}

fn instructions(env: &Env, domain: &str, file: &str) -> String {
    read(&env.worktree(domain).join(file))
}

#[test]
fn instructions_say_when_no_domain_may_import_a_domains_files() {
    let env = Env::new();
    let _root = shop(&env);
    let web = instructions(&env, "web", "CLAUDE.md");
    assert!(
        web.contains("No other domain may import your files"),
        "{web}"
    );
    assert!(!web.contains("may import these files of yours"), "{web}");
    let api = instructions(&env, "api", "CLAUDE.md");
    assert!(
        api.contains("`web` may import these files of yours"),
        "{api}"
    );
    assert!(api.contains("- `api/client/**`"), "{api}");
}

#[test]
fn instructions_send_questions_about_unowned_files_to_the_human() {
    let env = Env::new();
    let _root = shop(&env);
    let web = instructions(&env, "web", "AGENTS.md");
    assert!(
        !web.contains("Everything else belongs to another domain"),
        "{web}"
    );
    assert!(web.contains("Files no domain owns"), "{web}");
    assert!(web.contains("ask `human`"), "{web}");
    // The hook says the same when an agent touches such a file.
    let wt = env.worktree("web");
    common::write(&wt.join("tools/gen.sh"), "echo changed\n");
    let run = env.git_run(&wt, &["commit", "-qam", "touch tools"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("no domain owns tools/gen.sh"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("send --to human"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("set `unowned: warn`"),
        "{}",
        run.stderr
    );
}

#[test]
fn each_domain_is_told_its_own_tests_and_never_another_domains() {
    let env = Env::new();
    let _root = shop(&env);
    let api = instructions(&env, "api", "CLAUDE.md");
    assert!(
        api.contains("Run your tests here: `npm test --prefix api`"),
        "{api}"
    );
    let web = instructions(&env, "web", "CLAUDE.md");
    assert!(!web.contains("npm test --prefix api"), "{web}");
    assert!(web.contains("declares no tests of `web`"), "{web}");
    // The project's tests are the queue's, named as such.
    assert!(
        web.contains("the project's tests on every candidate: `make check`"),
        "{web}"
    );
}

#[test]
fn claude_md_and_agents_md_are_each_written_for_their_readers() {
    let env = Env::new();
    let _root = shop(&env);
    let claude = instructions(&env, "api", "CLAUDE.md");
    let agents = instructions(&env, "api", "AGENTS.md");
    assert_ne!(claude, agents);
    assert!(
        claude.contains("do not edit or commit CLAUDE.md"),
        "{claude}"
    );
    assert!(claude.contains("hello --agent claude-code"), "{claude}");
    assert!(
        agents.contains("do not edit or commit AGENTS.md"),
        "{agents}"
    );
    assert!(!agents.contains("claude-code"), "{agents}");
    for text in [&claude, &agents] {
        for command in [
            "comm-node read ID",
            "comm-node thread ID",
            "send --reply-to ID",
            "comm-node task show ID",
            "comm-node task fail ID",
            "comm-node update",
        ] {
            assert!(text.contains(command), "{command} missing:\n{text}");
        }
    }
}
