//! An import that names something inside the repository is never counted
//! as an external package: it resolves to its file (through the Python
//! roots comm.yaml declares, or the ones the importing file implies), or it
//! is reported as unresolved with a hint saying what to declare.

mod common;

use std::path::PathBuf;

use common::Env;

/// Two domains of a Python tree under `py/app/` with no `pyproject.toml`
/// or `setup.*` anywhere: an api file imports a web module by its
/// absolute name. `inits`: regular packages (else namespace packages);
/// `roots`: comm.yaml declares `python: {roots: [py]}`.
fn python_tree(env: &Env, name: &str, inits: bool, roots: bool) -> PathBuf {
    let mut config = String::from(
        "project: app\nshared: [comm.yaml]\ndomains:\n  api:\n    scope: [\"py/app/api/**\"]\n  web:\n    scope: [\"py/app/web/**\"]\n",
    );
    if roots {
        config.push_str("python: { roots: [py] }\n");
    }
    let mut files = vec![
        ("comm.yaml", config.as_str()),
        (
            "py/app/api/views.py",
            "import os\nfrom app.web.s1.m115 import f1\nfrom app.api import models\n",
        ),
        ("py/app/api/models.py", "import requests\n"),
        ("py/app/web/s1/m115.py", "def f1():\n    pass\n"),
    ];
    if inits {
        for init in [
            "py/app/__init__.py",
            "py/app/api/__init__.py",
            "py/app/web/__init__.py",
            "py/app/web/s1/__init__.py",
        ] {
            files.push((init, ""));
        }
    }
    env.repo(name, &files)
}

fn check_all(env: &Env, root: &std::path::Path) -> serde_json::Value {
    let run = env.cn(root, &["check", "--all", "--json"]);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[test]
fn a_package_inside_the_repository_is_never_external() {
    let env = Env::new();
    for (i, (inits, roots)) in [(true, false), (false, false), (true, true), (false, true)]
        .into_iter()
        .enumerate()
    {
        let root = python_tree(&env, &format!("tree{i}"), inits, roots);
        let report = check_all(&env, &root);
        let case = format!("inits: {inits}, roots: {roots}\n{report:#}");
        let violations = report["violations"].as_array().unwrap();
        assert_eq!(violations.len(), 1, "{case}");
        let v = &violations[0];
        assert_eq!(v["rule"], "may-import", "{case}");
        assert_eq!(v["file"], "py/app/api/views.py", "{case}");
        assert_eq!(
            (v["line"].as_u64(), v["column"].as_u64()),
            (Some(2), Some(6))
        );
        assert_eq!(v["target"], "py/app/web/s1/m115.py", "{case}");
        assert!(report["external"].get("app").is_none(), "{case}");
        assert_eq!(report["external"]["requests"], 1, "{case}");
        assert_eq!(report["unresolved"], serde_json::json!([]), "{case}");
        // The text report and the exit code say the same.
        let run = env.cn(&root, &["check", "--all"]).expect(1);
        assert!(
            run.stdout.contains(
                "py/app/api/views.py:2:6: may-import: `api` imports py/app/web/s1/m115.py of `web`"
            ),
            "{case}\n{}",
            run.stdout
        );
    }
}

#[test]
fn a_repository_package_no_root_holds_is_unresolved_with_a_hint_then_declaring_the_root_resolves_it(
) {
    let env = Env::new();
    let config = "project: app\nshared: [comm.yaml]\ndomains:\n  api:\n    scope: [\"py/app/api/**\"]\n  web:\n    scope: [\"py/app/web/**\", \"apps/web/**\"]\n  qa:\n    scope: [\"py/tests/**\"]\n";
    let files = [
        ("comm.yaml", config),
        ("py/app/__init__.py", ""),
        ("py/app/web/__init__.py", ""),
        ("py/app/web/s1/__init__.py", ""),
        ("py/app/web/s1/m115.py", "def f1():\n    pass\n"),
        ("py/app/api/__init__.py", ""),
        ("py/tests/test_web.py", "from app.web.s1.m115 import f1\n"),
        ("services/api/src/db.ts", "export const db = 1;\n"),
        (
            "apps/web/src/App.ts",
            "import { db } from \"services/api/src/db\";\n",
        ),
    ];
    let root = env.repo("app", &files);
    let report = check_all(&env, &root);
    assert!(report["external"].get("app").is_none(), "{report:#}");
    assert!(report["external"].get("services").is_none(), "{report:#}");
    let unresolved = report["unresolved"].as_array().unwrap();
    assert_eq!(unresolved.len(), 2, "{report:#}");
    let py = unresolved
        .iter()
        .find(|u| u["file"] == "py/tests/test_web.py")
        .unwrap();
    assert_eq!(py["import"], "app.web.s1.m115");
    let hint = py["hint"].as_str().unwrap();
    assert!(
        hint.contains("(py/app)") && hint.contains("python: { roots: [py] }"),
        "{hint}"
    );
    let ts = unresolved
        .iter()
        .find(|u| u["file"] == "apps/web/src/App.ts")
        .unwrap();
    let hint = ts["hint"].as_str().unwrap();
    assert!(
        hint.contains("services/api/src/db.ts") && hint.contains("baseUrl"),
        "{hint}"
    );
    let run = env.cn(&root, &["check", "--all"]).expect(0);
    assert!(
        run.stdout.contains("py/tests/test_web.py:1:6: unresolved: `app.web.s1.m115` leads to nothing in the repository\n    hint: `app` is a package folder of this repository (py/app)"),
        "{}",
        run.stdout
    );

    // Declaring the root resolves it, and the boundary is checked.
    common::write(
        &root.join("comm.yaml"),
        &format!("{config}python: {{ roots: [py] }}\n"),
    );
    env.git(&root, &["commit", "-qam", "declare the python root"]);
    let report = check_all(&env, &root);
    let violations = report["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{report:#}");
    assert_eq!(violations[0]["file"], "py/tests/test_web.py");
    assert_eq!(violations[0]["rule"], "may-import");
    assert_eq!(
        report["unresolved"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
}

#[test]
fn a_domains_python_root_outside_its_scope_is_refused_with_its_position() {
    let env = Env::new();
    let config = "project: app\ndomains:\n  api:\n    scope: [\"services/api/**\"]\n    python:\n      roots: [services/web/src]\n  web:\n    scope: [\"services/web/**\"]\n";
    let root = env.repo("app", &[("comm.yaml", config)]);
    let run = env.cn(&root, &["check", "--all"]).expect(2);
    assert!(
        run.stderr.contains(
            "comm.yaml:6:15: python root `services/web/src` of `api` holds no file of its scope"
        ),
        "{}",
        run.stderr
    );
    let unknown = "project: app\ndomains:\n  api:\n    scope: [\"services/api/**\"]\n    python: { root: [services/api/src] }\n";
    common::write(&root.join("comm.yaml"), unknown);
    let run = env.cn(&root, &["check", "--all"]).expect(2);
    assert!(
        run.stderr
            .contains("comm.yaml:5:15: domains.api.python: unknown field `root`, expected `roots`"),
        "{}",
        run.stderr
    );
}
