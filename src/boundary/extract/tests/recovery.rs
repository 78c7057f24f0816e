//! Imports read back out of files that do not parse: the fallback for
//! TS/JS ERROR nodes, and what any language does with broken input.

use super::*;

/// The fixture's imports, asserting whether it parses with syntax errors
/// and that none of its import text went unread.
fn fixture(name: &str, source: &str, syntax_errors: bool) -> Vec<Row> {
    let lang = if name.ends_with(".tsx") {
        Lang::Tsx
    } else {
        Lang::TypeScript
    };
    // Syntax errors outside the statements that import are not parsed:
    // the whole-file parse says whether the fixture has them, and finds
    // the same imports.
    let whole = whole_files().extract(lang, source.as_bytes());
    assert_eq!(whole.syntax_errors, syntax_errors, "{name}: syntax errors");
    assert!(!whole.incomplete, "{name}: imports may be missing");
    let found = extract(lang, source);
    assert!(!found.incomplete, "{name}: imports may be missing");
    assert_eq!(to_rows(&found), to_rows(&whole), "{name}: parsing less");
    to_rows(&found)
}

macro_rules! ts_fixture {
    ($name:literal, $errors:expr) => {
        fixture(
            $name,
            include_str!(concat!("../../../../fixtures/typescript/", $name)),
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
