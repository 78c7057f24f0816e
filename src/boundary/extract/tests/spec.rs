//! `grammars/*.scm` are the spec of what counts as an import: tree-sitter
//! queries the binary never compiles (compiling one cost more than the rest
//! of a small staged check). Here each query is compiled, and over the
//! fixtures and the reference corpora the imports read from its captures
//! must be exactly those the node-kind reader finds in the same tree, and,
//! in files that parse, those the extractor returns.

use std::path::{Path, PathBuf};

use tree_sitter::{Node, Parser, Query, QueryCursor, StreamingIterator, TreeCursor};

use super::super::python::Statement;
use super::super::rust::Item;
use super::super::typescript::Construct;
use super::*;
use crate::boundary::Import;

#[path = "../../../../tests/reference/corpus.rs"]
mod corpus;

/// The spec of `lang`, compiled against its grammar.
fn spec(lang: Lang) -> Query {
    let (file, text) = match lang {
        Lang::TypeScript | Lang::Tsx => (
            "typescript.scm",
            include_str!("../../../../grammars/typescript.scm"),
        ),
        Lang::Python => (
            "python.scm",
            include_str!("../../../../grammars/python.scm"),
        ),
        Lang::Rust => ("rust.scm", include_str!("../../../../grammars/rust.scm")),
    };
    Query::new(&extractor().grammar(lang).language, text)
        .unwrap_or_else(|e| panic!("grammars/{file} does not compile: {e}"))
}

/// The imports read from the captures of `query` in the tree under `root`:
/// each match's construct (its capture not named `_…`, `source` or
/// `arguments`) handed to the reader's reading step.
fn captured(lang: Lang, query: &Query, root: Node, cx: &Cx) -> Vec<Import> {
    let mut out = Vec::new();
    let mut statements = Vec::new();
    let mut type_checking = Vec::new();
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(query, root, cx.source);
    while let Some(m) = matches.next() {
        let (mut construct, mut operand) = (None, None);
        for capture in m.captures() {
            match query.capture_names()[capture.index as usize] {
                "source" | "arguments" => operand = Some(capture.node),
                name if name.starts_with('_') => {}
                name => construct = Some((name, capture.node)),
            }
        }
        let (name, node) = construct.expect("every pattern captures its construct");
        match lang {
            Lang::TypeScript | Lang::Tsx => {
                let construct = match name {
                    "import" => Construct::Import,
                    "import_equals" => Construct::ImportEquals,
                    "reexport" => Construct::ReExport,
                    "require" => Construct::Require,
                    "dynamic" => Construct::Dynamic,
                    _ => unknown(lang, name),
                };
                let operand = operand.expect("a TS/JS pattern captures its operand");
                cx.read_construct(construct, node, operand, &cursor_at(root, node), &mut out);
            }
            Lang::Python => match name {
                "import" => statements.push((Statement::Import, node)),
                "import_from" => statements.push((Statement::From, node)),
                "future" => statements.push((Statement::Future, node)),
                "type_checking" => type_checking.push(node.byte_range()),
                _ => unknown(lang, name),
            },
            Lang::Rust => {
                let item = match name {
                    "use" => Item::Use,
                    "mod" => Item::Mod,
                    "extern_crate" => Item::ExternCrate,
                    _ => unknown(lang, name),
                };
                cx.read_rust(item, node, &mut out);
            }
        }
    }
    cx.read_python(&statements, &type_checking, &mut out);
    out
}

/// A tree cursor on `node` reached from `root`, so that it can climb to its
/// ancestors as the reader's walk can.
fn cursor_at<'t>(root: Node<'t>, node: Node<'t>) -> TreeCursor<'t> {
    let mut walk = root.walk();
    while walk.node() != node {
        let mut descended = walk.goto_first_child();
        while descended && !encloses(walk.node(), node) {
            descended = walk.goto_next_sibling();
        }
        assert!(descended, "{node:?} is not under {root:?}");
    }
    walk
}

/// Whether `inner`, a node with text, is `outer` or under it.
fn encloses(outer: Node, inner: Node) -> bool {
    outer.start_byte() <= inner.start_byte() && inner.end_byte() <= outer.end_byte()
}

fn unknown(lang: Lang, capture: &str) -> ! {
    panic!("{lang:?}: no reader reads the capture @{capture} of grammars/")
}

/// Sorted rows of `imports`, for comparing.
fn sorted(imports: Vec<Import>) -> Vec<Row> {
    let mut rows = to_rows(&Extracted {
        imports,
        ..Extracted::default()
    });
    rows.sort_by_key(|r| {
        (
            r.1,
            r.2,
            r.0.clone(),
            format!("{:?}", r.3),
            r.4,
            r.5.clone(),
        )
    });
    rows
}

/// Where a mismatch is in `file`: what only the spec and only the reader
/// find.
fn difference(file: &Path, what: &str, spec: &[Row], reader: &[Row]) -> Option<String> {
    (spec != reader).then(|| {
        let only = |a: &[Row], b: &[Row]| -> Vec<Row> {
            a.iter().filter(|r| !b.contains(r)).cloned().collect()
        };
        format!(
            "{} ({what}):\n  spec only: {:?}\n  reader only: {:?}",
            file.display(),
            only(spec, reader),
            only(reader, spec)
        )
    })
}

/// The mismatches between the spec and the readers in `file`, and the
/// number of imports the spec finds there.
fn check_file(file: &Path, lang: Lang, query: &Query, parser: &mut Parser) -> (Vec<String>, usize) {
    let source = std::fs::read(file).unwrap();
    if source.len() > MAX_FILE_BYTES || is_binary(&source) {
        return (Vec::new(), 0);
    }
    let grammar = extractor().grammar(lang);
    parser.set_language(&grammar.language).unwrap();
    let tree = parser.parse(&source, None).unwrap();
    let root = tree.root_node();
    let keywords = grammar.keyword_offsets(&source);
    let cx = Cx {
        source: &source,
        keywords: &keywords,
    };
    let spec = sorted(captured(lang, query, root, &cx));
    let mut read = Vec::new();
    cx.read(lang, root, &mut read);
    let mut mismatches: Vec<String> = difference(file, "whole tree", &spec, &sorted(read))
        .into_iter()
        .collect();
    if !root.has_error() {
        let extracted = extractor().extract(lang, &source).imports;
        mismatches.extend(difference(file, "extractor", &spec, &sorted(extracted)));
    }
    (mismatches, spec.len())
}

/// The target directory's `tmp/`, where `tests/test_reference.rs` installs
/// its npm packages (this test runs from `target/<profile>/deps/`).
fn target_tmp() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .expect("target/<profile>/deps")
        .join("tmp")
}

#[test]
fn the_readers_find_what_the_grammars_specify() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = corpus::node_modules(&target_tmp());
    let mut corpora: Vec<(PathBuf, &[&str])> = vec![(manifest.join("fixtures"), &[])];
    for dir in corpus::python_dirs(manifest) {
        corpora.push((dir, &corpus::PYTHON_EXCLUDED));
    }
    for dir in corpus::typescript_dirs(manifest, &modules)
        .into_iter()
        .chain(corpus::rust_dirs(manifest))
    {
        corpora.push((dir, &[]));
    }
    let queries: Vec<(Lang, Query)> = [Lang::TypeScript, Lang::Tsx, Lang::Python, Lang::Rust]
        .into_iter()
        .map(|lang| (lang, spec(lang)))
        .collect();
    let mut parser = Parser::new();
    let mut mismatches = Vec::new();
    // Files and imports by grammar: TS/JS, Python, Rust.
    let mut counts = [(0usize, 0usize); 3];
    for (dir, excluded) in &corpora {
        let lang_of = |p: &Path| p.to_str().and_then(Lang::of_path);
        for file in corpus::files(dir, excluded, &|p| lang_of(p).is_some()) {
            let lang = lang_of(&file).unwrap();
            let (_, query) = queries.iter().find(|(l, _)| *l == lang).unwrap();
            let (found, imports) = check_file(&file, lang, query, &mut parser);
            mismatches.extend(found);
            let grammar = match lang {
                Lang::TypeScript | Lang::Tsx => 0,
                Lang::Python => 1,
                Lang::Rust => 2,
            };
            let count = &mut counts[grammar];
            *count = (count.0 + 1, count.1 + imports);
        }
    }
    println!("(files, imports) of TS/JS, Python, Rust: {counts:?}");
    for (files, imports) in counts {
        assert!(
            files > 100 && imports > 500,
            "too small a corpus: {counts:?}"
        );
    }
    assert!(
        mismatches.is_empty(),
        "the readers and grammars/*.scm disagree in {} files:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(10)].join("\n")
    );
}
