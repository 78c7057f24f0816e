//! `comm-node init`, `status` and `demo` on real repositories.

mod common;

use std::fs;
use std::path::Path;

use common::bus::SMALL;
use common::{read, write, Env};

fn small_repo(env: &Env) -> std::path::PathBuf {
    env.repo(
        "app",
        &[
            ("comm.yaml", SMALL),
            ("api/a.ts", "export const a = 1;\n"),
            ("web/w.ts", "export {};\n"),
        ],
    )
}

#[test]
fn init_on_fixture_creates_everything() {
    let env = Env::new();
    let root = env.fixture_repo("shop");
    let run = env.cn(&root, &["init"]).expect(0);
    assert!(
        run.stdout
            .contains("create branch comm with the kickoff commit"),
        "{}",
        run.stdout
    );

    let main = env.git(&root, &["rev-parse", "main"]);
    let worktrees = env.git(&root, &["worktree", "list", "--porcelain"]);
    for domain in ["api", "web", "shared", "pricing", "engine"] {
        assert_eq!(
            env.git(&root, &["rev-parse", &format!("domain/{domain}")]),
            main
        );
        let wt = env.path(&format!("shop.worktrees/{domain}"));
        assert!(
            worktrees.contains(&format!("worktree {}", wt.display())),
            "{worktrees}"
        );
        assert!(worktrees.contains(&format!("branch refs/heads/domain/{domain}")));
        for file in ["CLAUDE.md", "AGENTS.md"] {
            let text = read(&wt.join(file));
            assert!(
                text.contains(&format!("# You are the `{domain}` agent of shop")),
                "{text}"
            );
        }
        // The worktree knows who it is, and the generated files do not make it dirty.
        assert_eq!(env.git(&wt, &["status", "--porcelain"]), "");
        let gitdir = env.git(&wt, &["rev-parse", "--git-dir"]);
        assert_eq!(
            read(&Path::new(&gitdir).join("comm-node-domain")).trim(),
            domain
        );
    }
    let web = read(&env.path("shop.worktrees/web/CLAUDE.md"));
    assert!(web.contains("- `apps/web/**`"));
    assert!(web.contains("- `api`, through `services/api/src/client/**`"));
    assert!(web.contains("- `pricing`: Python pricing service"));
    assert!(web.contains("comm-node inbox"));

    for hook in ["pre-commit", "pre-merge-commit"] {
        let shim = read(&root.join(".git/hooks").join(hook));
        assert!(shim.contains(&format!("hook {hook}")), "{shim}");
    }

    assert_eq!(env.git(&root, &["rev-list", "--count", "comm"]), "1");
    assert_eq!(
        env.git(&root, &["log", "-1", "--format=%s", "comm"]),
        "kickoff shop: 5 domains (api, engine, pricing, shared, web)"
    );
    assert_eq!(
        env.git(
            &root,
            &[
                "log",
                "-1",
                "--format=%(trailers:key=Comm-Kind,valueonly)",
                "comm"
            ]
        ),
        "kickoff"
    );
    // The comm branch is an orphan that only holds coordination state.
    let merge_base = env.git_run(&root, &["merge-base", "--all", "comm", "main"]);
    assert_eq!((merge_base.code, merge_base.stdout.as_str()), (1, ""));
    let files = env.git(&root, &["ls-tree", "-r", "--name-only", "comm"]);
    assert_eq!(
        files,
        "domains/api.yaml\ndomains/engine.yaml\ndomains/pricing.yaml\ndomains/shared.yaml\ndomains/web.yaml"
    );
    assert!(env
        .git(&root, &["show", "comm:domains/web.yaml"])
        .contains("branch: domain/web"));
    assert_eq!(env.git(&root, &["status", "--porcelain"]), "");
    env.git(&root, &["fsck", "--strict", "--no-dangling"]);
}

#[test]
fn second_init_is_a_no_op() {
    let env = Env::new();
    let root = small_repo(&env);
    env.cn(&root, &["init"]).expect(0);
    let before = env.refs(&root);
    let claude = read(&env.path("app.worktrees/api/CLAUDE.md"));
    let run = env.cn(&root, &["init"]).expect(0);
    assert!(run.stdout.starts_with("nothing to do"), "{}", run.stdout);
    assert_eq!(env.refs(&root), before);
    assert_eq!(read(&env.path("app.worktrees/api/CLAUDE.md")), claude);
    let json = env.cn(&root, &["init", "--json"]).expect(0);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["changed"], false);
    assert_eq!(v["actions"].as_array().unwrap().len(), 0);
}

#[test]
fn dry_run_changes_nothing() {
    let env = Env::new();
    let root = small_repo(&env);
    let before = env.refs(&root);
    let run = env.cn(&root, &["init", "--dry-run"]).expect(0);
    assert!(run.stdout.contains("would"), "{}", run.stdout);
    assert!(run.stdout.contains("create branch domain/api from main"));
    assert_eq!(env.refs(&root), before);
    assert!(!env.path("app.worktrees").exists());
    assert!(!root.join(".git/hooks/pre-commit").exists());
}

#[test]
fn adding_a_domain_adds_exactly_it_and_keeps_work() {
    let env = Env::new();
    let root = small_repo(&env);
    env.cn(&root, &["init"]).expect(0);
    // Work in progress in an existing worktree must survive.
    let api = env.path("app.worktrees/api");
    write(&api.join("api/wip.ts"), "// unsaved work\n");
    write(&api.join("api/a.ts"), "export const a = 2;\n");
    let api_tip = env.git(&root, &["rev-parse", "domain/api"]);

    let config = format!("{SMALL}  docs:\n    role: Documentation\n    scope: [\"docs/**\"]\n");
    write(&root.join("comm.yaml"), &config);
    let run = env.cn(&root, &["init", "--json"]).expect(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let actions: Vec<String> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["action"].as_str().unwrap(),
                a["domain"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            // Every existing domain's peer list now mentions docs.
            "write_instructions api",
            "write_instructions api",
            "create_branch docs",
            "add_worktree docs",
            "record_domain docs",
            "write_instructions docs",
            "write_instructions docs",
            "write_instructions web",
            "write_instructions web",
            "register ",
            // Its agent finds comm-node mcp (Codex's config in its worktree).
            "register_mcp docs",
        ]
    );
    assert!(read(&api.join("CLAUDE.md")).contains("- `docs`: Documentation"));
    assert_eq!(read(&api.join("api/wip.ts")), "// unsaved work\n");
    assert_eq!(read(&api.join("api/a.ts")), "export const a = 2;\n");
    assert_eq!(env.git(&root, &["rev-parse", "domain/api"]), api_tip);
    assert_eq!(
        env.git(&root, &["log", "-1", "--format=%s", "comm"]),
        "register domains: added docs"
    );
    assert_eq!(env.git(&root, &["rev-list", "--count", "comm"]), "2");
}

#[test]
fn existing_hook_keeps_running_after_init() {
    let env = Env::new();
    let root = small_repo(&env);
    let hook = root.join(".git/hooks/pre-commit");
    let log = env.path("hook-ran");
    write(
        &hook,
        &format!("#!/bin/sh\necho \"$PWD\" >> '{}'\n", log.display()),
    );
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&hook)
        .status()
        .unwrap();
    env.cn(&root, &["init"]).expect(0);
    assert!(read(&root.join(".git/hooks/pre-commit.pre-comm-node")).contains("hook-ran"));

    let web = env.path("app.worktrees/web");
    write(&web.join("web/page.ts"), "export const page = 1;\n");
    env.git(&web, &["add", "web/page.ts"]);
    env.git(&web, &["commit", "-qm", "page"]);
    assert_eq!(read(&log).trim(), web.display().to_string());

    // A failing chained hook still blocks the commit.
    write(
        &hook.with_file_name("pre-commit.pre-comm-node"),
        "#!/bin/sh\nexit 7\n",
    );
    write(&web.join("web/other.ts"), "export {};\n");
    env.git(&web, &["add", "web/other.ts"]);
    let run = env.git_run(&web, &["commit", "-qm", "other"]);
    assert_ne!(run.code, 0);
}

#[test]
fn hooks_path_is_honoured() {
    let env = Env::new();
    let root = small_repo(&env);
    let hooks = env.path("shared-hooks");
    env.git(
        &root,
        &["config", "core.hooksPath", hooks.to_str().unwrap()],
    );
    env.cn(&root, &["init"]).expect(0);
    assert!(hooks.join("pre-commit").exists());
    assert!(!root.join(".git/hooks/pre-commit").exists());
}

#[test]
fn generated_instructions_cannot_be_committed() {
    let env = Env::new();
    let root = small_repo(&env);
    env.cn(&root, &["init"]).expect(0);
    let web = env.path("app.worktrees/web");
    // `git add -A` does not pick them up...
    env.git(&web, &["add", "-A"]);
    assert_eq!(env.git(&web, &["diff", "--cached", "--name-only"]), "");
    // ...and forcing them in is refused by the hook.
    env.git(&web, &["add", "-f", "CLAUDE.md"]);
    let run = env.git_run(&web, &["commit", "-m", "oops"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("CLAUDE.md: generated-file"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("git restore --staged CLAUDE.md"));
}

#[test]
fn tracked_claude_md_is_untouched() {
    let env = Env::new();
    let root = env.repo(
        "app",
        &[
            ("comm.yaml", SMALL),
            ("CLAUDE.md", "# Project rules\nUse tabs.\n"),
            ("AGENTS.md", "# Agents\nBe nice.\n"),
        ],
    );
    env.cn(&root, &["init"]).expect(0);
    let api = env.path("app.worktrees/api");
    assert_eq!(read(&api.join("CLAUDE.md")), "# Project rules\nUse tabs.\n");
    assert_eq!(read(&api.join("AGENTS.md")), "# Agents\nBe nice.\n");
    assert!(read(&api.join("CLAUDE.local.md")).contains("# You are the `api` agent"));
    let agents = read(&api.join("AGENTS.override.md"));
    assert!(agents.contains("# You are the `api` agent"));
    assert!(agents.ends_with("# Agents\nBe nice.\n"));
    assert_eq!(env.git(&api, &["status", "--porcelain"]), "");
    assert_eq!(env.git(&root, &["status", "--porcelain"]), "");
}

#[test]
fn deleted_worktree_is_recreated_without_touching_others() {
    let env = Env::new();
    let root = small_repo(&env);
    env.cn(&root, &["init"]).expect(0);
    let web = env.path("app.worktrees/web");
    write(&web.join("web/wip.ts"), "// wip\n");
    fs::remove_dir_all(env.path("app.worktrees/api")).unwrap();
    let run = env.cn(&root, &["init"]).expect(0);
    assert!(run.stdout.contains("forget worktree api"), "{}", run.stdout);
    assert!(env.path("app.worktrees/api/CLAUDE.md").exists());
    assert_eq!(read(&web.join("web/wip.ts")), "// wip\n");
    env.cn(&root, &["init"]).expect(0);
}

#[test]
fn occupied_worktree_path_is_refused_before_anything_changes() {
    let env = Env::new();
    let root = small_repo(&env);
    write(&env.path("app.worktrees/web/notes.txt"), "mine\n");
    let before = env.refs(&root);
    let run = env.cn(&root, &["init"]).expect(1);
    assert!(
        run.stderr.contains("app.worktrees/web already exists"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"));
    assert_eq!(env.refs(&root), before);
    assert_eq!(read(&env.path("app.worktrees/web/notes.txt")), "mine\n");
}

#[test]
fn status_reports_each_domain() {
    let env = Env::new();
    let root = small_repo(&env);
    let run = env.cn(&root, &["status"]).expect(0);
    assert!(
        run.stdout.contains("no branch (run init)"),
        "{}",
        run.stdout
    );
    env.cn(&root, &["init"]).expect(0);
    let web = env.path("app.worktrees/web");
    write(&web.join("web/new.ts"), "export {};\n");
    env.git(&web, &["add", "-A"]);
    env.git(&web, &["commit", "-qm", "new page"]);
    write(&web.join("web/dirty.ts"), "export {};\n");
    let run = env.cn(&web, &["status", "--json"]).expect(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let domains = v["domains"].as_array().unwrap();
    let web_status = domains.iter().find(|d| d["name"] == "web").unwrap();
    assert_eq!(web_status["main"]["ahead"], 1);
    assert_eq!(web_status["main"]["behind"], 0);
    assert_eq!(web_status["dirty"], true);
    assert_eq!(web_status["registered"], true);
    let api_status = domains.iter().find(|d| d["name"] == "api").unwrap();
    assert_eq!(api_status["dirty"], false);
    let text = env.cn(&root, &["status"]).expect(0).stdout;
    let row = text.lines().find(|l| l.starts_with("web ")).unwrap();
    assert!(row.contains("+1 -0") && row.ends_with("dirty"), "{text}");
}

#[test]
fn demo_runs_the_story() {
    let env = Env::new();
    let dir = env.path("demo");
    let run = env
        .cn(env.dir.path(), &["demo", "--dir", dir.to_str().unwrap()])
        .expect(0);
    assert!(
        run.stdout
            .contains("create branch comm with the kickoff commit"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("A second `comm-node init` plans 0 actions"));
    assert!(run.stdout.contains("kickoff shop: 5 domains"));
    // The story: tasks across domains, an artifact unblocking work, a
    // refused reservation, a refused boundary break, and the queue.
    for line in [
        "nothing ready for web",
        "; unblocks T-",
        "`api` cannot reserve these files:",
        "comm-node pre-commit: commit refused",
        "1 landed, 1 rejected, 2 test runs",
        "1 landed, 0 rejected, 1 test run;",
        "caught domain/web up with main by fast-forward",
    ] {
        assert!(
            run.stdout.contains(line),
            "missing {line:?} in\n{}",
            run.stdout
        );
    }
    let shop = dir.join("shop");
    let log = env.git(&shop, &["log", "--format=%s", "comm"]);
    let decisions: Vec<String> = log
        .lines()
        .filter(|l| l.starts_with("queue: landed") || l.starts_with("queue: rejected"))
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        decisions,
        [
            "queue: landed api",
            "queue: landed web",
            "queue: rejected api"
        ]
    );
    let tasks = env.cn(&shop, &["task", "list", "--json"]).expect(0);
    let tasks: serde_json::Value = serde_json::from_str(&tasks.stdout).unwrap();
    assert!(
        tasks
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "done"),
        "{tasks}"
    );
    // main holds the fixed code, and the checkout followed it.
    assert!(read(&shop.join("services/api/src/money.mjs")).contains("toFixed(2)"));
    assert_eq!(env.git(&shop, &["status", "--porcelain"]), "");
    assert_eq!(
        env.git(&shop, &["show", "comm:artifacts/api/openapi.yaml"]),
        read(&shop.join("services/api/openapi.yaml")).trim_end()
    );
    assert!(dir.join("shop.worktrees/web/CLAUDE.md").exists());
    // A non-empty target is refused.
    env.cn(env.dir.path(), &["demo", "--dir", dir.to_str().unwrap()])
        .expect(2);
}

#[test]
fn outside_a_repository_is_a_usage_error() {
    let env = Env::new();
    let run = env.cn(env.dir.path(), &["status"]).expect(2);
    assert!(
        run.stderr.contains("not inside a git repository"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"));
}

#[test]
fn init_killed_at_any_point_is_finished_by_a_rerun() {
    let env = Env::new();
    let root = env.fixture_repo("shop");
    // Kill init after growing delays, so the kills land at different steps.
    for delay_ms in [1u64, 3, 5, 8, 12, 16, 25] {
        let mut child = std::process::Command::new(common::BIN)
            .arg("init")
            .current_dir(&root)
            .env("HOME", env.path("home"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        env.cn(&root, &["init"]).expect(0);
        let again = env.cn(&root, &["init"]).expect(0);
        assert!(
            again.stdout.starts_with("nothing to do"),
            "{}",
            again.stdout
        );
        env.git(&root, &["fsck", "--strict"]);
        assert_eq!(env.git(&root, &["rev-list", "--count", "comm"]), "1");
        for domain in ["api", "web", "shared", "pricing", "engine"] {
            let wt = env.path(&format!("shop.worktrees/{domain}"));
            assert!(
                wt.join("CLAUDE.md").exists(),
                "{domain} after kill at {delay_ms} ms"
            );
        }
        // Start over for the next kill point.
        for domain in ["api", "web", "shared", "pricing", "engine"] {
            let wt = env.path(&format!("shop.worktrees/{domain}"));
            env.git(
                &root,
                &["worktree", "remove", "--force", wt.to_str().unwrap()],
            );
            env.git(&root, &["branch", "-D", &format!("domain/{domain}")]);
        }
        env.git(&root, &["branch", "-D", "comm"]);
    }
}
