//! Extraction agrees with each language's own parser on real code: Python's
//! `ast` module over the installed standard library, and the TypeScript
//! compiler API over rxjs's TypeScript sources, the demo fixture and the
//! samples of what tree-sitter-typescript cannot parse (fixtures/typescript);
//! and syn over this repository and some of the crates it builds with (Rust).
//!
//! The comparison itself is `tests/reference/compare.py` (see its README);
//! these tests run it against the binary under test. The TypeScript side
//! installs `typescript` and `rxjs` from the npm registry into the target
//! directory on first use.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "reference/corpus.rs"]
mod corpus;

const BIN: &str = env!("CARGO_BIN_EXE_comm-node");

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compare(lang: &str, corpus: &[&Path], extra_env: &[(&str, &Path)], excludes: &[&str]) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg(manifest().join("tests/reference/compare.py"))
        .args(["--lang", lang]);
    for dir in excludes {
        cmd.args(["--exclude-dir", dir]);
    }
    cmd.args(corpus).env("COMM_NODE", BIN);
    for (key, value) in extra_env {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("python3 runs compare.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "comm-node disagrees with the {lang} reference:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn python_matches_ast_on_the_standard_library() {
    let dirs = corpus::python_dirs(&manifest());
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let report = compare("py", &dirs, &[], &corpus::PYTHON_EXCLUDED);
    println!("{report}");
}

#[test]
fn typescript_matches_the_compiler_api_on_rxjs() {
    let modules = corpus::node_modules(Path::new(env!("CARGO_TARGET_TMPDIR")));
    let dirs = corpus::typescript_dirs(&manifest(), &modules);
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let report = compare(
        "ts",
        &dirs,
        &[("TS_MODULE", &modules.join("typescript"))],
        &[],
    );
    println!("{report}");
}

/// Rust: every `use` leaf, `mod x;` and `extern crate` that syn finds, at
/// the position comm-node documents (the leaf's first segment as written
/// after its innermost brace, or after `use` and a leading `::`), over this
/// repository and the crates of the cargo registry it builds with.
#[test]
fn rust_matches_syn_on_this_repository_and_its_dependencies() {
    let is_rust = |p: &Path| p.extension().is_some_and(|e| e == "rs");
    let files: Vec<PathBuf> = corpus::rust_dirs(&manifest())
        .iter()
        .flat_map(|dir| corpus::files(dir, &[], &is_rust))
        .collect();
    let (mut compared, mut skipped, mut imports) = (0, 0, 0);
    let mut mismatches = Vec::new();
    for chunk in files.chunks(400) {
        let out = Command::new(BIN)
            .arg("imports")
            .arg("--json")
            .args(chunk)
            .output()
            .expect("comm-node imports runs");
        let found: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        for entry in found {
            let file = PathBuf::from(entry["file"].as_str().unwrap());
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let Ok(ast) = syn::parse_file(&text) else {
                skipped += 1;
                continue;
            };
            if entry["syntax_errors"].as_bool() == Some(true) {
                skipped += 1;
                continue;
            }
            let mut reference = SynImports::default();
            syn::visit::Visit::visit_file(&mut reference, &ast);
            let mut ours: Vec<(String, usize, usize, String)> = entry["imports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    (
                        i["spec"].as_str().unwrap().to_owned(),
                        i["line"].as_u64().unwrap() as usize,
                        i["column"].as_u64().unwrap() as usize,
                        i["kind"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let mut theirs = reference.0;
            ours.sort();
            theirs.sort();
            compared += 1;
            imports += theirs.len();
            if ours != theirs {
                mismatches.push(format!(
                    "{}:\n  comm-node only: {:?}\n  syn only: {:?}",
                    file.display(),
                    ours.iter()
                        .filter(|i| !theirs.contains(i))
                        .collect::<Vec<_>>(),
                    theirs
                        .iter()
                        .filter(|i| !ours.contains(i))
                        .collect::<Vec<_>>()
                ));
            }
        }
    }
    println!("rust: {compared} files compared ({skipped} skipped: syntax errors), {imports} imports, {} mismatching files", mismatches.len());
    assert!(compared > 100, "too small a corpus: {compared} files");
    assert!(
        mismatches.is_empty(),
        "comm-node disagrees with syn in {} files:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// (spec, line, 1-based character column, kind) of each import syn finds.
#[derive(Default)]
struct SynImports(Vec<(String, usize, usize, String)>);

fn ident_text(ident: &syn::Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
}

fn at(span: proc_macro2::Span) -> (usize, usize) {
    let start = span.start();
    (start.line, start.column + 1)
}

impl SynImports {
    /// One leaf per name, rename or glob of `tree`; `first` is where the
    /// leaf's text starts (its first segment after the innermost brace).
    fn tree(
        &mut self,
        tree: &syn::UseTree,
        prefix: &[String],
        first: Option<proc_macro2::Span>,
        in_group: bool,
    ) {
        let join = |prefix: &[String], last: &str| {
            let mut parts = prefix.to_vec();
            parts.push(last.to_owned());
            parts.join("::")
        };
        match tree {
            syn::UseTree::Path(p) => {
                let mut prefix = prefix.to_vec();
                prefix.push(ident_text(&p.ident));
                self.tree(&p.tree, &prefix, first.or(Some(p.ident.span())), in_group);
            }
            syn::UseTree::Name(n) => self.leaf(&n.ident, prefix, first, in_group, join),
            syn::UseTree::Rename(r) => self.leaf(&r.ident, prefix, first, in_group, join),
            syn::UseTree::Glob(g) => {
                let (line, column) = at(first.unwrap_or(g.star_token.spans[0]));
                self.0.push((join(prefix, "*"), line, column, "use".into()));
            }
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.tree(item, prefix, None, true);
                }
            }
        }
    }

    fn leaf(
        &mut self,
        ident: &syn::Ident,
        prefix: &[String],
        first: Option<proc_macro2::Span>,
        in_group: bool,
        join: impl Fn(&[String], &str) -> String,
    ) {
        let name = ident_text(ident);
        let spec = if in_group && name == "self" && !prefix.is_empty() {
            prefix.join("::")
        } else {
            join(prefix, &name)
        };
        let (line, column) = at(first.unwrap_or(ident.span()));
        self.0.push((spec, line, column, "use".into()));
    }
}

impl<'ast> syn::visit::Visit<'ast> for SynImports {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.tree(&item.tree, &[], None, false);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_none() {
            let (line, column) = at(item.ident.span());
            self.0
                .push((ident_text(&item.ident), line, column, "mod".into()));
        }
        syn::visit::visit_item_mod(self, item);
    }

    fn visit_item_extern_crate(&mut self, item: &'ast syn::ItemExternCrate) {
        let (line, column) = at(item.ident.span());
        self.0
            .push((ident_text(&item.ident), line, column, "extern_crate".into()));
    }
}
