//! Every config mistake in `fixtures/configs/invalid` is reported with its
//! line and column, and nothing is created. Each file's first line says
//! what is expected: `# expect: LINE:COL: message fragment`.

mod common;

use std::fs;

use common::{fixture_dir, Env};

#[test]
fn invalid_configs_are_located_and_change_nothing() {
    let dir = fixture_dir().join("../configs/invalid");
    let mut checked = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks an expect line", path.display()));
        let env = Env::new();
        let root = env.repo("repo", &[("comm.yaml", &text)]);
        let before = env.refs(&root);
        for command in [&["init"][..], &["status"], &["init", "--dry-run"]] {
            let run = env.cn(&root, command).expect(2);
            let wanted = format!("comm.yaml:{expect}");
            assert!(
                run.stderr.contains(&wanted),
                "{}: `{}` should report `{wanted}`, got:\n{}",
                path.display(),
                command.join(" "),
                run.stderr
            );
            assert!(run.stderr.contains("hint:"), "{}", run.stderr);
            assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
        }
        assert_eq!(env.refs(&root), before, "{}", path.display());
        assert!(!env.path("shop.worktrees").exists());
        assert!(!root.join(".git/hooks/pre-commit").exists());
        checked += 1;
    }
    assert!(checked >= 14, "only {checked} invalid configs found");
}

#[test]
fn valid_configs_plan_cleanly() {
    let dir = fixture_dir().join("../configs/valid");
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        let env = Env::new();
        let root = env.repo("repo", &[("comm.yaml", &text)]);
        let run = env.cn(&root, &["init", "--dry-run"]).expect(0);
        assert!(run.stdout.contains("create branch comm"), "{}", run.stdout);
    }
}

#[test]
fn missing_config_says_how_to_start() {
    let env = Env::new();
    let root = env.repo("repo", &[("README.md", "hi\n")]);
    let run = env.cn(&root, &["init"]).expect(2);
    assert!(
        run.stderr.starts_with(&format!(
            "error: no comm.yaml in {} (nor committed on main)\n",
            root.display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("comm-node init --help"),
        "{}",
        run.stderr
    );
    let help = env.cn(&root, &["init", "--help"]).expect(0);
    assert!(help.stdout.contains("Example comm.yaml"), "{}", help.stdout);
}
