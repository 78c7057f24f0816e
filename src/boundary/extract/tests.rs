use super::*;
use crate::boundary::ImportKind;

/// One extractor for all tests (compiling the queries is the slow part
/// of a debug build).
fn extractor() -> &'static Extractor {
    static SHARED: std::sync::OnceLock<Extractor> = std::sync::OnceLock::new();
    SHARED.get_or_init(Extractor::new)
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
fn typescript_import_forms() {
    let src = "\
import x from './a';
import {a as b} from \"b\";
import * as ns from 'c';
import 'd';
import type {T} from 'e';
import {type U} from 'f';
import y, {z} from 'g';
import type from 'h';
import {} from 'i';
";
    assert_eq!(
        rows(Lang::TypeScript, src),
        vec![
            row("./a", 1, 15, Import),
            row("b", 2, 22, Import),
            row("c", 3, 21, Import),
            row("d", 4, 8, SideEffect),
            typed(row("e", 5, 22, Import)),
            row("f", 6, 22, Import),
            row("g", 7, 20, Import),
            row("h", 8, 18, Import),
            row("i", 9, 16, Import),
        ]
    );
}

#[test]
fn typescript_reexports() {
    let src = "\
export {a} from 'a';
export * from 'b';
export * as ns from 'c';
export type {T} from 'd';
export {type U} from 'e';
export { local };
export const v = 1;
";
    assert_eq!(
        rows(Lang::TypeScript, src),
        vec![
            row("a", 1, 17, ReExport),
            row("b", 2, 15, ReExport),
            row("c", 3, 21, ReExport),
            typed(row("d", 4, 22, ReExport)),
            row("e", 5, 22, ReExport),
        ]
    );
}

#[test]
fn typescript_export_type_star_is_type_only() {
    // The grammar does not know `export type *` (TS 5.0) and recovers.
    let found = extract(Lang::TypeScript, "export type * from './types';\n");
    assert_eq!(
        to_rows(&found),
        vec![typed(row("./types", 1, 20, ReExport))]
    );
}

#[test]
fn typescript_require_dynamic_and_import_equals() {
    let src = "\
const a = require('a');
const b = require(`b`);
const c = require(`c${x}`);
const d = require('d', 'extra');
const e = require(name);
const f = other('f');
const g = obj.require('g');
const h = import('h');
const i = import(name);
const j = import('j', { with: { type: 'json' } });
import k = require('k');
import type l = require('l');
require(/* why */ 'm');
const n = import(`n`);
";
    assert_eq!(
        rows(Lang::TypeScript, src),
        vec![
            row("a", 1, 19, Require),
            row("b", 2, 19, Require),
            row("h", 8, 18, Dynamic),
            row("j", 10, 18, Dynamic),
            row("k", 11, 20, ImportEquals),
            typed(row("l", 12, 25, ImportEquals)),
            row("m", 13, 19, Require),
            row("n", 14, 18, Dynamic),
        ]
    );
}

#[test]
fn typescript_imports_anywhere() {
    let src = "\
function load() {
  if (flag) {
    const m = require('./lazy');
    return import('./dyn');
  }
}
class K { m() { return require(\"./in-class\"); } }
";
    assert_eq!(
        rows(Lang::TypeScript, src),
        vec![
            row("./lazy", 3, 23, Require),
            row("./dyn", 4, 19, Dynamic),
            row("./in-class", 7, 32, Require),
        ]
    );
}

#[test]
fn typescript_imports_deep_in_expressions() {
    let src = "\
module.exports = { a: [() => f(g(require('./deep')))] };
const x = cond ? await import('./lazy') : null;
export const fromX = 1; const imported = 'import';
";
    assert_eq!(
        rows(Lang::TypeScript, src),
        vec![row("./deep", 1, 42, Require), row("./lazy", 2, 31, Dynamic),]
    );
}

#[test]
fn an_import_type_is_not_a_dynamic_import() {
    let src = "\
let a: import('a').T;
type B = import('b');
type C = typeof import('c');
const d = x as import('d').T;
class E implements import('e').I {}
interface F { p: import('f').T }
function g(): import('g').T { return import('./real'); }
let h: Array<import('h').T>;
const i = x satisfies import('i').T;
const j = (p: import('j').T) => import('./real2');
function k<T extends import('k').T = import('k2').T>() {}
const l = (await import('./real3')) as import('l').T;
";
    let ty = |spec: &str, line, column| typed(row(spec, line, column, ImportType));
    assert_eq!(
        rows(Lang::TypeScript, src),
        vec![
            ty("a", 1, 15),
            ty("b", 2, 17),
            ty("c", 3, 24),
            ty("d", 4, 23),
            ty("e", 5, 27),
            ty("f", 6, 25),
            ty("g", 7, 22),
            row("./real", 7, 45, Dynamic),
            ty("h", 8, 21),
            ty("i", 9, 30),
            ty("j", 10, 22),
            row("./real2", 10, 40, Dynamic),
            ty("k", 11, 29),
            ty("k2", 11, 45),
            row("./real3", 12, 25, Dynamic),
            ty("l", 12, 47),
        ]
    );
}

/// The fixture's imports, asserting whether it parses with syntax errors
/// and that none of its import text went unread.
fn fixture(name: &str, source: &str, syntax_errors: bool) -> Vec<Row> {
    let lang = if name.ends_with(".tsx") {
        Lang::Tsx
    } else {
        Lang::TypeScript
    };
    let found = extract(lang, source);
    assert_eq!(found.syntax_errors, syntax_errors, "{name}: syntax errors");
    assert!(!found.incomplete, "{name}: imports may be missing");
    to_rows(&found)
}

macro_rules! ts_fixture {
    ($name:literal, $errors:expr) => {
        fixture(
            $name,
            include_str!(concat!("../../../fixtures/typescript/", $name)),
            $errors,
        )
    };
}

#[test]
fn an_import_type_with_type_arguments_is_not_a_dynamic_import() {
    // The grammar cannot parse `import("m").T<Args>`; the calls land in
    // ERROR nodes (or in expressions the error recovery made up).
    assert_eq!(
        ts_fixture!("import-type-arguments.ts", true),
        vec![
            row("./config", 4, 24, Import),
            typed(row("./options", 6, 30, ImportType)),
            row("./next", 7, 22, Import),
            typed(row("./redacted", 9, 64, ImportType)),
            typed(row("./formatter", 12, 25, ImportType)),
            row("./lazy", 15, 34, Dynamic),
        ]
    );
}

#[test]
fn a_missing_semicolon_never_hides_the_next_import() {
    let src = "type X = import(\"./a\").Foo<{a:1}>\nimport { y } from \"./y\"\nimport \"./z\"\n";
    let found = extract(Lang::TypeScript, src);
    assert!(found.syntax_errors);
    assert!(!found.incomplete);
    assert_eq!(
        to_rows(&found),
        vec![
            typed(row("./a", 1, 17, ImportType)),
            row("./y", 2, 19, Import),
            row("./z", 3, 8, SideEffect),
        ]
    );
    // Every form the fallback reads, after the same break.
    let src = "\
type X = import('./a').Foo<{a:1}>
import type { T } from './t'
import d, * as ns from './ns'
import type from './default-named-type'
import e = require('./e')
export type { U } from './u'
export * as all from './all'
";
    let found = extract(Lang::TypeScript, src);
    assert!(!found.incomplete);
    let rows = to_rows(&found);
    for expected in [
        typed(row("./t", 2, 24, Import)),
        row("./ns", 3, 24, Import),
        row("./default-named-type", 4, 18, Import),
        row("./e", 5, 20, ImportEquals),
        typed(row("./u", 6, 24, ReExport)),
        row("./all", 7, 22, ReExport),
    ] {
        assert!(rows.contains(&expected), "{expected:?} not in {rows:?}");
    }
}

#[test]
fn a_syntax_error_over_the_whole_file_never_hides_an_import() {
    // The error recovery gives up and makes the whole file one ERROR node;
    // the last import is not a statement in it. The imports written in the
    // doc comment are not imports.
    assert_eq!(
        ts_fixture!("comments-in-errors.ts", true),
        vec![
            row("./function", 4, 22, Import),
            row("./order", 30, 24, Import)
        ]
    );
}

#[test]
fn imports_survive_the_typescript_grammar_gaps() {
    assert_eq!(
        ts_fixture!("variance.ts", true),
        vec![
            row("./effect", 3, 24, Import),
            typed(row("./layer", 10, 28, Import))
        ]
    );
    assert_eq!(
        ts_fixture!("call-signatures.ts", true),
        vec![
            row("./function", 3, 22, Import),
            row("./option", 10, 25, Import)
        ]
    );
    assert_eq!(
        ts_fixture!("default-function.d.ts", true),
        vec![
            typed(row("../core/index.js", 3, 33, Import)),
            typed(row("../core/errors.js", 6, 23, ImportType)),
            row("./helpers.js", 10, 15, ReExport),
        ]
    );
    assert_eq!(
        ts_fixture!("export-type-star.ts", true),
        vec![
            typed(row("./types", 2, 20, ReExport)),
            typed(row("./schema", 3, 30, ReExport)),
            row("./values", 4, 15, ReExport),
        ]
    );
}

#[test]
fn import_text_nothing_can_read_makes_the_file_incomplete() {
    // After the break, `{ a.b }` is no import list: the import of ./x may
    // be meant, and the file says so instead of dropping it silently.
    let src = "type X = import('./a').Foo<{a:1}>\nimport { a.b } from './x'\nimport c from './c'\n";
    let found = extract(Lang::TypeScript, src);
    assert!(found.syntax_errors);
    assert!(found.incomplete);
    assert!(to_rows(&found).contains(&row("./c", 3, 15, Import)));
    // Words that only look like imports do not.
    for src in [
        "const = ;\nconst m = import.meta.url\n",
        "const = ;\nconst o = { import: 1, export: 2, require: 3 }\n",
        "const = ;\nexport const x = require(name)\n",
        "const = ;\n// import { a.b } from './x'\nconst s = 'import { a.b }'\n",
    ] {
        let found = extract(Lang::TypeScript, src);
        assert!(found.syntax_errors, "{src}");
        assert!(!found.incomplete, "{src}");
        assert!(found.imports.is_empty(), "{src}: {:?}", found.imports);
    }
}

#[test]
fn tsx_and_javascript_use_the_tsx_grammar() {
    let src = "\
import React from 'react';
const el = <div className=\"x\">{require('./icon.svg')}</div>;
export default function App() { return <p>{import('./page')}</p>; }
";
    assert_eq!(Lang::of_path("a.jsx"), Some(Lang::Tsx));
    assert_eq!(Lang::of_path("a.cjs"), Some(Lang::Tsx));
    assert_eq!(
        rows(Lang::Tsx, src),
        vec![
            row("react", 1, 19, Import),
            row("./icon.svg", 2, 40, Require),
            row("./page", 3, 51, Dynamic),
        ]
    );
    let js = "const fs = require('fs');\nimport('./x.mjs').then(m => m);\n";
    assert_eq!(
        rows(Lang::Tsx, js),
        vec![row("fs", 1, 20, Require), row("./x.mjs", 2, 8, Dynamic)]
    );
}

#[test]
fn typescript_escapes_are_decoded() {
    assert_eq!(
        rows(
            Lang::TypeScript,
            "import a from './\\x61\\u0062\\u{63}\\'';\n"
        ),
        vec![row("./abc'", 1, 15, Import)]
    );
}

#[test]
fn typescript_multibyte_characters_count_as_one_column() {
    let src = "/* é→😀 */ import x from './a';\n";
    assert_eq!(rows(Lang::TypeScript, src), vec![row("./a", 1, 25, Import)]);
}

#[test]
fn python_import_forms() {
    let src = "\
import a.b.c
import a as b
import a, b.c
from a.b import c, d
from . import x
from ..pkg.mod import y
from .. import (a, b as c)
from a import *
from __future__ import annotations
import d.e as f
from ... import z
from .mod import (w,)
";
    assert_eq!(
        rows(Lang::Python, src),
        vec![
            row("a.b.c", 1, 8, Import),
            row("a", 2, 8, Import),
            row("a", 3, 8, Import),
            row("b.c", 3, 11, Import),
            named(row("a.b", 4, 6, Import), &["c", "d"]),
            named(row(".", 5, 6, Import), &["x"]),
            named(row("..pkg.mod", 6, 6, Import), &["y"]),
            named(row("..", 7, 6, Import), &["a", "b"]),
            named(row("a", 8, 6, Import), &["*"]),
            named(row("__future__", 9, 6, Import), &["annotations"]),
            row("d.e", 10, 8, Import),
            named(row("...", 11, 6, Import), &["z"]),
            named(row(".mod", 12, 6, Import), &["w"]),
        ]
    );
}

#[test]
fn python_dotted_names_ignore_spacing() {
    assert_eq!(
        rows(Lang::Python, "import a . b\nfrom . . c import d\n"),
        vec![
            row("a.b", 1, 8, Import),
            named(row("..c", 2, 6, Import), &["d"]),
        ]
    );
}

#[test]
fn python_imports_anywhere() {
    let src = "\
def f():
    import inner
class C:
    from .m import n
try:
    import fast
except ImportError:
    import slow
";
    assert_eq!(
        rows(Lang::Python, src),
        vec![
            row("inner", 2, 12, Import),
            named(row(".m", 4, 10, Import), &["n"]),
            row("fast", 6, 12, Import),
            row("slow", 8, 12, Import),
        ]
    );
}

#[test]
fn python_type_checking_blocks_are_type_only() {
    let src = "\
from typing import TYPE_CHECKING
import typing
if TYPE_CHECKING:
    import a
    if x:
        from b import c
    else:
        import d
else:
    import e
if typing.TYPE_CHECKING:
    import f
if x:
    import g
elif TYPE_CHECKING:
    import h
else:
    import i
if not TYPE_CHECKING:
    import j
import k
";
    assert_eq!(
        rows(Lang::Python, src),
        vec![
            named(row("typing", 1, 6, Import), &["TYPE_CHECKING"]),
            row("typing", 2, 8, Import),
            typed(row("a", 4, 12, Import)),
            typed(named(row("b", 6, 14, Import), &["c"])),
            typed(row("d", 8, 16, Import)),
            row("e", 10, 12, Import),
            typed(row("f", 12, 12, Import)),
            row("g", 14, 12, Import),
            typed(row("h", 16, 12, Import)),
            row("i", 18, 12, Import),
            row("j", 20, 12, Import),
            row("k", 21, 8, Import),
        ]
    );
}

#[test]
fn python_type_checking_reaches_nested_scopes() {
    let src = "\
if TYPE_CHECKING:
    class C:
        def f(self):
            try:
                from .deep import D
            except ImportError:
                pass
";
    assert_eq!(
        rows(Lang::Python, src),
        vec![typed(named(row(".deep", 5, 22, Import), &["D"]))]
    );
}

#[test]
fn python_multibyte_column() {
    let src = "x = 'ü'; import a\n";
    assert_eq!(rows(Lang::Python, src), vec![row("a", 1, 17, Import)]);
}

#[test]
fn rust_simple_uses() {
    let src = "\
use crate::a::b;
use self::x::Y;
use super::super::z;
pub use crate::api::Client;
use ::std::fmt;
use std::collections::HashMap;
use other_crate::x;
pub(crate) use r#async::task;
use crate::e::*;
";
    assert_eq!(
        rows(Lang::Rust, src),
        vec![
            row("crate::a::b", 1, 5, Use),
            row("self::x::Y", 2, 5, Use),
            row("super::super::z", 3, 5, Use),
            row("crate::api::Client", 4, 9, Use),
            row("std::fmt", 5, 7, Use),
            row("std::collections::HashMap", 6, 5, Use),
            row("other_crate::x", 7, 5, Use),
            row("async::task", 8, 16, Use),
            row("crate::e::*", 9, 5, Use),
        ]
    );
}

#[test]
fn rust_use_trees_expand_to_leaves() {
    let src = "\
use crate::{a::{b, c as d}, e::*};
use crate::a::{self, b};
use crate::a::{b, c::D as E};
use {x, y::z};
use ::{w};
use m::{self as n, o::{}};
";
    assert_eq!(
        rows(Lang::Rust, src),
        vec![
            row("crate::a::b", 1, 17, Use),
            row("crate::a::c", 1, 20, Use),
            row("crate::e::*", 1, 29, Use),
            row("crate::a", 2, 16, Use),
            row("crate::a::b", 2, 22, Use),
            row("crate::a::b", 3, 16, Use),
            row("crate::a::c::D", 3, 19, Use),
            row("x", 4, 6, Use),
            row("y::z", 4, 9, Use),
            row("w", 5, 8, Use),
            row("m", 6, 9, Use),
        ]
    );
}

#[test]
fn rust_mod_and_extern_crate() {
    let src = "\
mod x;
pub mod y;
#[cfg(test)]
mod tests;
mod inline {
    use super::x::Thing;
    mod nested;
}
extern crate foo;
extern crate bar as baz;
";
    assert_eq!(
        rows(Lang::Rust, src),
        vec![
            row("x", 1, 5, Mod),
            row("y", 2, 9, Mod),
            row("tests", 4, 5, Mod),
            row("super::x::Thing", 6, 9, Use),
            row("nested", 7, 9, Mod),
            row("foo", 9, 14, ExternCrate),
            row("bar", 10, 14, ExternCrate),
        ]
    );
}

#[test]
fn rust_uses_in_functions_count_but_not_in_macros() {
    let src = "\
fn f() {
    use crate::inner::g;
    g();
}
macro_rules! m { () => { use crate::hidden; }; }
impl T { fn h(&self) { use std::io::Write as _; } }
";
    assert_eq!(
        rows(Lang::Rust, src),
        vec![
            row("crate::inner::g", 2, 9, Use),
            row("std::io::Write", 6, 28, Use),
        ]
    );
}

#[test]
fn rust_multibyte_column() {
    let src = "/* ñ */ use crate::a;\n";
    assert_eq!(rows(Lang::Rust, src), vec![row("crate::a", 1, 13, Use)]);
}

#[test]
fn syntax_errors_keep_the_imports_around_them() {
    let ts = "import a from './a';\nconst = = ;\nimport b from './b';\n";
    let found = extract(Lang::TypeScript, ts);
    assert!(found.syntax_errors);
    assert_eq!(
        to_rows(&found),
        vec![row("./a", 1, 15, Import), row("./b", 3, 15, Import)]
    );

    let py = "import a\ndef (:\nimport b\n";
    let found = extract(Lang::Python, py);
    assert!(found.syntax_errors);
    assert_eq!(
        to_rows(&found),
        vec![row("a", 1, 8, Import), row("b", 3, 8, Import)]
    );

    let rs = "use crate::a;\nfn broken( {\nuse crate::b;\n";
    let found = extract(Lang::Rust, rs);
    assert!(found.syntax_errors);
    let specs: Vec<&str> = found.imports.iter().map(|i| i.spec.as_str()).collect();
    assert_eq!(specs.first(), Some(&"crate::a"));
    assert!(specs.contains(&"crate::b"), "{specs:?}");
}

#[test]
fn invalid_utf8_in_comments_is_harmless() {
    let mut ts =
        b"// \xff\xfe bad\nimport a from './a';\n/* \xc3 */ import b from './b';\n".to_vec();
    let found = extractor().extract(Lang::TypeScript, &ts);
    assert_eq!(
        to_rows(&found),
        vec![row("./a", 2, 15, Import), row("./b", 3, 23, Import)]
    );
    ts = b"# \xff\nimport a\n".to_vec();
    let found = extractor().extract(Lang::Python, &ts);
    assert_eq!(to_rows(&found), vec![row("a", 2, 8, Import)]);
    let found = extractor().extract(Lang::Rust, b"// \x80\x81\nuse crate::a;\n");
    assert_eq!(to_rows(&found), vec![row("crate::a", 2, 5, Use)]);
}

#[test]
fn invalid_utf8_in_a_spec_is_decoded_lossily() {
    let found = extractor().extract(Lang::TypeScript, b"import a from './\xff';\n");
    assert_eq!(found.imports.len(), 1);
    assert_eq!(found.imports[0].spec, "./\u{fffd}");
}

#[test]
fn binary_and_huge_files_yield_nothing() {
    let extractor = extractor();
    let binary = b"import a from './a';\n\0\x01\x02";
    assert_eq!(
        extractor.extract(Lang::TypeScript, binary),
        Extracted::default()
    );
    let mut huge = b"import a from './a';\n".to_vec();
    huge.resize(MAX_FILE_BYTES + 1, b' ');
    assert_eq!(
        extractor.extract(Lang::TypeScript, &huge),
        Extracted::default()
    );
    // A NUL past the sniffed prefix does not make a file binary.
    let mut late = b"import a from './a';\n".to_vec();
    late.resize(BINARY_SNIFF_BYTES + 10, b' ');
    late.push(0);
    assert_eq!(extractor.extract(Lang::TypeScript, &late).imports.len(), 1);
}

#[test]
fn empty_and_garbage_inputs_do_not_panic() {
    let extractor = extractor();
    for lang in [Lang::TypeScript, Lang::Tsx, Lang::Python, Lang::Rust] {
        for input in [
            &b""[..],
            b"import",
            b"use",
            b"from . import",
            b"require(",
            b"use a::{b::{c::{",
            b"\xff\xfe\xfd",
            b"import(`",
            b"import { a.b",
            b"export type * from",
            b"import x = require(",
            b"type X = import('a').B<{}>\nimport '\\u{",
            b"`${`${import('./a').B<",
            b"/[/",
        ] {
            let _ = extractor.extract(lang, input);
        }
    }
    // Deep nesting must not overflow the stack.
    let deep = format!("use {}x{};", "a::{".repeat(5000), "}".repeat(5000));
    let found = extractor.extract(Lang::Rust, deep.as_bytes());
    assert!(found.imports.len() <= 1);
    // Nor deep nesting in a file with syntax errors (the fallback's walk).
    let deep = format!(
        "{}import('./a').B<C>{}\nimport x from './x'\n",
        "(".repeat(5000),
        ")".repeat(4999)
    );
    let found = extractor.extract(Lang::TypeScript, deep.as_bytes());
    assert!(found.syntax_errors);
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
