//! Resolution against in-memory snapshots, one test per language.

use std::collections::HashMap;

use super::jsonc::strip_jsonc;
use super::*;

struct Mem {
    paths: Paths,
    content: HashMap<String, String>,
}

impl Files for Mem {
    fn paths(&self) -> &Paths {
        &self.paths
    }
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.content.get(path).map(|s| s.as_bytes().to_vec())
    }
}

fn mem(files: &[(&str, &str)]) -> Mem {
    Mem {
        paths: files.iter().map(|(p, _)| p.to_string()).collect(),
        content: files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect(),
    }
}

fn import(spec: &str, kind: ImportKind, names: &[&str]) -> Import {
    Import {
        spec: spec.into(),
        names: names.iter().map(|n| n.to_string()).collect(),
        line: 1,
        column: 1,
        kind,
        type_only: false,
    }
}

fn file(p: &str) -> Vec<Target> {
    vec![Target::File(p.into())]
}

#[test]
fn typescript_relative_index_alias_and_packages() {
    let m = mem(&[
        (
            "tsconfig.base.json",
            r#"{ // comment
            "compilerOptions": { "baseUrl": ".", "paths": { "@shop/shared": ["packages/shared/src/index.ts"], "@shop/shared/*": ["packages/shared/src/*"], }, }, }"#,
        ),
        (
            "apps/web/tsconfig.json",
            r#"{ "extends": "../../tsconfig.base.json" }"#,
        ),
        ("apps/web/src/App.tsx", ""),
        ("apps/web/src/components/index.ts", ""),
        ("apps/web/src/util.ts", ""),
        ("packages/shared/src/index.ts", ""),
        ("packages/shared/src/money.ts", ""),
        (
            "packages/api/package.json",
            r#"{"name": "@shop/api", "main": "./src/main.ts"}"#,
        ),
        ("packages/api/src/main.ts", ""),
    ]);
    let r = Resolver::new(&m, &[]);
    let from = "apps/web/src/App.tsx";
    let ts = |spec: &str| r.resolve(from, Lang::Tsx, &import(spec, ImportKind::Import, &[]));
    assert_eq!(ts("./components"), file("apps/web/src/components/index.ts"));
    assert_eq!(ts("./util.js"), file("apps/web/src/util.ts"));
    assert_eq!(ts("@shop/shared"), file("packages/shared/src/index.ts"));
    assert_eq!(
        ts("@shop/shared/money"),
        file("packages/shared/src/money.ts")
    );
    assert_eq!(ts("@shop/api"), file("packages/api/src/main.ts"));
    assert_eq!(ts("react"), vec![Target::External("react".into())]);
    assert_eq!(
        ts("@tanstack/query/x"),
        vec![Target::External("@tanstack/query".into())]
    );
    assert_eq!(ts("./missing"), vec![Target::Unresolved]);
    assert_eq!(ts("../../../../x"), vec![Target::Unresolved]);
}

#[test]
fn python_roots_packages_and_relative_imports() {
    let m = mem(&[
        ("services/pricing/pyproject.toml", ""),
        ("services/pricing/pricing/__init__.py", ""),
        ("services/pricing/pricing/engine.py", ""),
        ("services/pricing/pricing/rules/__init__.py", ""),
        ("services/pricing/pricing/rules/tax.py", ""),
        ("services/pricing/pricing/ns/mod.py", ""),
    ]);
    let r = Resolver::new(&m, &[]);
    let from = "services/pricing/pricing/rules/tax.py";
    let py = |spec: &str, names: &[&str]| {
        r.resolve(from, Lang::Python, &import(spec, ImportKind::Import, names))
    };
    assert_eq!(
        py("..engine", &["price"]),
        file("services/pricing/pricing/engine.py")
    );
    assert_eq!(
        py("..", &["engine"]),
        file("services/pricing/pricing/engine.py")
    );
    assert_eq!(
        py(".", &["tax"]),
        file("services/pricing/pricing/rules/tax.py")
    );
    assert_eq!(
        py("pricing.rules", &["tax"]),
        file("services/pricing/pricing/rules/tax.py")
    );
    assert_eq!(
        py("pricing.engine", &[]),
        file("services/pricing/pricing/engine.py")
    );
    assert_eq!(
        py("pricing.engine.Price", &[]),
        file("services/pricing/pricing/engine.py")
    );
    assert_eq!(
        py("pricing.ns", &["mod"]),
        file("services/pricing/pricing/ns/mod.py")
    );
    assert_eq!(py("os.path", &[]), vec![Target::External("os".into())]);
    assert_eq!(
        py("pricing.nothing", &[]),
        file("services/pricing/pricing/__init__.py")
    );
}

#[test]
fn rust_module_tree_and_workspace_crates() {
    let m = mem(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
        (
            "crates/engine/Cargo.toml",
            "[package]\nname = \"shop-engine\"\n",
        ),
        ("crates/engine/src/lib.rs", ""),
        ("crates/engine/src/inventory.rs", ""),
        ("crates/engine/src/reserve/mod.rs", ""),
        ("crates/engine/src/reserve/lock.rs", ""),
        ("crates/cli/Cargo.toml", "[package]\nname = \"cli\"\n"),
        ("crates/cli/src/main.rs", ""),
    ]);
    let r = Resolver::new(&m, &[]);
    let rs = |from: &str, spec: &str, kind| r.resolve(from, Lang::Rust, &import(spec, kind, &[]));
    let lock = "crates/engine/src/reserve/lock.rs";
    assert_eq!(
        rs("crates/engine/src/lib.rs", "inventory", ImportKind::Mod),
        file("crates/engine/src/inventory.rs")
    );
    assert_eq!(
        rs("crates/engine/src/lib.rs", "reserve", ImportKind::Mod),
        file("crates/engine/src/reserve/mod.rs")
    );
    assert_eq!(
        rs("crates/engine/src/reserve/mod.rs", "lock", ImportKind::Mod),
        file(lock)
    );
    assert_eq!(
        rs(lock, "crate::inventory::Inventory", ImportKind::Use),
        file("crates/engine/src/inventory.rs")
    );
    assert_eq!(
        rs(lock, "super::Reservation", ImportKind::Use),
        file("crates/engine/src/reserve/mod.rs")
    );
    assert_eq!(
        rs(lock, "super::super::Sku", ImportKind::Use),
        file("crates/engine/src/lib.rs")
    );
    assert_eq!(
        rs(
            "crates/engine/src/lib.rs",
            "inventory::Inventory",
            ImportKind::Use
        ),
        file("crates/engine/src/inventory.rs")
    );
    assert_eq!(
        rs(
            "crates/cli/src/main.rs",
            "shop_engine::reserve::lock",
            ImportKind::Use
        ),
        file(lock)
    );
    assert_eq!(
        rs("crates/cli/src/main.rs", "std::fmt", ImportKind::Use),
        vec![Target::External("std".into())]
    );
}

#[test]
fn jsonc_is_stripped() {
    let json = strip_jsonc("{\"a\": \"//not a comment\", /* x */ \"b\": [1, 2,],\n // c\n}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["a"], "//not a comment");
    assert_eq!(v["b"], serde_json::json!([1, 2]));
}

#[test]
fn python_roots_declared_or_implied_by_the_importing_file() {
    let m = mem(&[
        ("py/app/__init__.py", ""),
        ("py/app/api/__init__.py", ""),
        ("py/app/api/views.py", ""),
        ("py/app/web/__init__.py", ""),
        ("py/app/web/s1/m115.py", ""),
        ("py/tests/test_web.py", ""),
        ("ns/app2/api/views.py", ""),
        ("ns/app2/web/m.py", ""),
    ]);
    let imp = |r: &Resolver, from: &str, spec: &str| {
        r.resolve(
            from,
            Lang::Python,
            &import(spec, ImportKind::Import, &["f1"]),
        )
    };
    let m115 = file("py/app/web/s1/m115.py");
    // No root holds `app`: the file's own package implies `py`.
    let r = Resolver::new(&m, &[]);
    assert_eq!(imp(&r, "py/app/api/views.py", "app.web.s1.m115"), m115);
    // A namespace package (no __init__.py): the ancestor named `app2`.
    assert_eq!(
        imp(&r, "ns/app2/api/views.py", "app2.web.m"),
        file("ns/app2/web/m.py")
    );
    // Outside the package nothing implies `py`: unresolved, with a hint.
    let from_tests = imp(&r, "py/tests/test_web.py", "app.web.s1.m115");
    assert_eq!(from_tests, vec![Target::Unresolved]);
    let hint = r
        .hint(
            "py/tests/test_web.py",
            Lang::Python,
            &import("app.web.s1.m115", ImportKind::Import, &["f1"]),
        )
        .unwrap();
    assert!(
        hint.contains("py/app") && hint.contains("roots: [py]"),
        "{hint}"
    );
    // Still external: what no folder of the repository is named.
    assert_eq!(
        imp(&r, "py/tests/test_web.py", "requests.adapters"),
        vec![Target::External("requests".into())]
    );
    // Declared, `py` resolves it from anywhere.
    let r = Resolver::new(&m, &["py".to_owned()]);
    assert_eq!(imp(&r, "py/tests/test_web.py", "app.web.s1.m115"), m115);
}

#[test]
fn typescript_bare_specifiers_naming_repository_files_are_not_external() {
    let m = mem(&[
        ("packages/api/package.json", r#"{"name": "@shop/api"}"#),
        ("packages/api/src/index.ts", ""),
        ("services/api/src/db.ts", ""),
        ("apps/web/src/App.tsx", ""),
    ]);
    let r = Resolver::new(&m, &[]);
    let from = "apps/web/src/App.tsx";
    let ts = |spec: &str| r.resolve(from, Lang::Tsx, &import(spec, ImportKind::Import, &[]));
    assert_eq!(ts("@shop/api"), file("packages/api/src/index.ts"));
    assert_eq!(ts("@shop/api/missing"), vec![Target::Unresolved]);
    assert_eq!(ts("services/api/src/db"), vec![Target::Unresolved]);
    let hint = r
        .hint(
            from,
            Lang::Tsx,
            &import("services/api/src/db", ImportKind::Import, &[]),
        )
        .unwrap();
    assert!(
        hint.contains("services/api/src/db.ts") && hint.contains("baseUrl"),
        "{hint}"
    );
    assert_eq!(
        ts("services-sdk"),
        vec![Target::External("services-sdk".into())]
    );
}

#[test]
fn rust_renamed_and_workspace_path_dependencies_are_workspace_crates() {
    let m = mem(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\n[workspace.dependencies]\nshop-engine = { path = \"crates/engine\" }\n",
        ),
        (
            "crates/engine/Cargo.toml",
            "[package]\nname = \"shop-engine\"\n[lib]\nname = \"engine_core\"\n",
        ),
        ("crates/engine/src/lib.rs", ""),
        ("crates/engine/src/stock.rs", ""),
        (
            "crates/cli/Cargo.toml",
            "[package]\nname = \"cli\"\n[dependencies]\neng = { package = \"shop-engine\", path = \"../engine\" }\n[dev-dependencies.shop-engine]\nworkspace = true\n",
        ),
        ("crates/cli/src/main.rs", ""),
    ]);
    let r = Resolver::new(&m, &[]);
    let rs = |spec: &str| {
        r.resolve(
            "crates/cli/src/main.rs",
            Lang::Rust,
            &import(spec, ImportKind::Use, &[]),
        )
    };
    let stock = file("crates/engine/src/stock.rs");
    assert_eq!(rs("eng::stock::Level"), stock);
    assert_eq!(rs("shop_engine::stock"), stock);
    assert_eq!(rs("engine_core::stock"), stock);
    assert_eq!(
        rs("serde::Serialize"),
        vec![Target::External("serde".into())]
    );
}

#[test]
fn python_implied_roots_need_python_code_there() {
    let m = mem(&[
        ("tools/gen.py", ""),
        ("tools/helpers.py", ""),
        ("tools/json/schema.json", ""),
    ]);
    let r = Resolver::new(&m, &[]);
    let py = |spec: &str| {
        r.resolve(
            "tools/gen.py",
            Lang::Python,
            &import(spec, ImportKind::Import, &[]),
        )
    };
    // A script's own folder is on its path.
    assert_eq!(py("helpers"), file("tools/helpers.py"));
    // A folder without Python code there is not a package.
    assert_eq!(py("json"), vec![Target::External("json".into())]);
}
