use super::*;
use crate::boundary::ImportKind;

/// One extractor for all tests.
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
mod spec;
mod typescript;

use ImportKind::*;

#[test]
fn extractor_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Extractor>();
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

/// Parsing only the statements that can import finds exactly what a
/// whole-file parse finds, around the constructs that could fool the
/// pre-scan (and the test fails if the pre-scan gave up instead).
#[test]
fn parsing_less_finds_what_a_whole_parse_finds() {
    let python = r#""""Module doc.
import not_this
"""
from __future__ import annotations
import os, sys as system
x = f"{os.sep!r:>{len('}')}}" + f'{"a" if x else "b"}' \
    + 'import nope'
if TYPE_CHECKING:
    from .types import T
else:
    import json
@decorator(
    "import x"
)
def load():
    text = '''
import inside_string
'''
    from ..pkg.mod import run, VALUE as V
    return text
class C:
    def m(self):
        import lazy.module
# import in a comment
y = [
1,
]
def long_function_without_any_imports(alpha, beta, gamma):
    total = alpha + beta * gamma
    for step in range(10):
        total += step * (alpha - beta) // (gamma or 1)
    return {"total": total, "alpha": alpha, "beta": beta, "gamma": gamma}
def another_function_without_any(alpha, beta, gamma):
    """Adds things up, the long way round, with no imports at all."""
    total = alpha + beta * gamma
    for step in range(10):
        total += step * (alpha - beta) // (gamma or 1)
    return {"total": total, "alpha": alpha, "beta": beta, "gamma": gamma}
"#;
    let typescript = r#"import a, { b as c } from './a';
import type { T } from "./t";
const re = /['"`{(]/g, n = 4 / 2 / 1;
const t = `import ${`nested ${'}'}`} not`;
export * as ns from '@scope/ns';
@Component({ selector: 'x' })
export class C {
  load() {
    return import('./lazy').then((m) => m);
  }
}
let v: import('./types').V;
function f() {
  const x = require('./req');
}
// import { nope } from 'nope';
/* require('nope') */
export default {
  from: 1,
};
export function longFunctionWithoutAnyImports(alpha: number, beta: number): number {
  let total = alpha + beta;
  for (let step = 0; step < 10; step++) {
    total += step * (alpha - beta);
  }
  return total;
}
"#;
    for (lang, source, expected) in [(Lang::Python, python, 7), (Lang::TypeScript, typescript, 6)] {
        let (starts, _) = match lang {
            Lang::Python => super::python::python_starts(source.as_bytes()),
            _ => super::typescript::typescript_starts(source.as_bytes()),
        }
        .expect("the pre-scan understands the whole sample");
        assert!(starts.len() > 5, "{lang:?}: {starts:?}");
        let keywords = extractor().grammar(lang).keyword_offsets(source.as_bytes());
        let ranges = super::parse_ranges(lang, source.as_bytes(), &keywords);
        assert!(
            ranges.is_some_and(|r| !r.is_empty()),
            "{lang:?}: parsed whole"
        );
        let whole = whole_files().extract(lang, source.as_bytes());
        let part = extract(lang, source);
        assert!(!whole.syntax_errors && !part.syntax_errors);
        assert_eq!(to_rows(&part), to_rows(&whole), "{lang:?}");
        assert_eq!(part.imports.len(), expected, "{:?}", to_rows(&part));
    }
}
