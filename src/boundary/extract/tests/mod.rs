use super::*;
use crate::boundary::ImportKind;

/// One extractor for all tests (compiling the queries is the slow part
/// of a debug build).
fn extractor() -> &'static Extractor {
    static SHARED: std::sync::OnceLock<Extractor> = std::sync::OnceLock::new();
    SHARED.get_or_init(Extractor::new)
}

/// The same, parsing every file whole.
fn whole_files() -> &'static Extractor {
    static SHARED: std::sync::OnceLock<Extractor> = std::sync::OnceLock::new();
    SHARED.get_or_init(Extractor::whole_files)
}

fn extract(lang: Lang, source: &str) -> Extracted {
    extractor().extract(lang, source.as_bytes())
}

/// (spec, line, column, kind, type_only, names) of each import.
type Row = (String, u32, u32, ImportKind, bool, Vec<String>);

fn rows(lang: Lang, source: &str) -> Vec<Row> {
    let found = extract(lang, source);
    assert!(
        !found.syntax_errors,
        "unexpected syntax errors in {source:?}"
    );
    to_rows(&found)
}

fn to_rows(found: &Extracted) -> Vec<Row> {
    found
        .imports
        .iter()
        .map(|i| {
            (
                i.spec.clone(),
                i.line,
                i.column,
                i.kind,
                i.type_only,
                i.names.clone(),
            )
        })
        .collect()
}

fn row(spec: &str, line: u32, column: u32, kind: ImportKind) -> Row {
    (spec.to_owned(), line, column, kind, false, Vec::new())
}

fn typed(mut r: Row) -> Row {
    r.4 = true;
    r
}

fn named(mut r: Row, names: &[&str]) -> Row {
    r.5 = names.iter().map(|n| n.to_string()).collect();
    r
}

mod python;
mod recovery;
mod rust;
mod typescript;

use ImportKind::*;

#[test]
fn extractor_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Extractor>();
}

#[test]
fn every_query_pattern_has_a_root_kind() {
    let extractor = extractor();
    for (lang, source) in [
        (Lang::TypeScript, TYPESCRIPT_QUERY),
        (Lang::Python, PYTHON_QUERY),
        (Lang::Rust, RUST_QUERY),
    ] {
        let grammar = extractor.grammar(lang);
        assert_eq!(
            pattern_roots(source).len(),
            grammar.query.pattern_count(),
            "{lang:?}: {:?}",
            pattern_roots(source)
        );
    }
    assert_eq!(
        pattern_roots("; (a\n[(b) (c (d))] \"(\" (e \"x\\\")\")"),
        vec!["b", "c", "e"]
    );
}

#[test]
fn shared_across_threads() {
    let extractor = extractor();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    let found = extractor.extract(Lang::Rust, b"use crate::a;");
                    assert_eq!(found.imports.len(), 1);
                    let found = extractor.extract(Lang::Python, b"import a");
                    assert_eq!(found.imports.len(), 1);
                }
            });
        }
    });
}
