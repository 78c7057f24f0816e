//! Import extraction: the imports of one file, found with tree-sitter.
//!
//! Each language has a query in `grammars/` (embedded at build time) that
//! captures the constructs that import something; the Rust code here reads
//! them: string literals of TS/JS, dotted names of Python statements, and
//! Rust use trees, which it expands into one [`Import`] per leaf.
//!
//! The queries do not run over the whole tree: a walk descends only into
//! nodes that contain one of the language's [`KEYWORDS`] (`import`, `use`…)
//! and runs the query, anchored, on each node whose kind roots one of its
//! patterns. Parsing is then most of the cost (the queries alone would add
//! about half again).
//!
//! [`Extractor::extract`] never panics and never fails: a file with syntax
//! errors yields what the parser recovered (and says so in
//! [`Extracted::syntax_errors`]); invalid UTF-8 is decoded lossily; files
//! larger than [`MAX_FILE_BYTES`] and binary files (a NUL byte in the first
//! [`BINARY_SNIFF_BYTES`]) yield nothing.
//!
//! # Positions
//!
//! Lines and columns are 1-based; columns count characters (Unicode scalar
//! values, a tab is one), not bytes. They point at the spec:
//!
//! - TS/JS: the opening quote (or backtick) of the string literal;
//! - Python: the module name's first character, which is the first dot of a
//!   relative import (`from ..a import b` points at the first `.`), or the
//!   `__future__` keyword;
//! - Rust `use`: the first path segment of the leaf *as written*. A simple
//!   `use crate::a::b;` points at `crate` (after a leading `::`, at the
//!   segment following it); inside braces each leaf points at its own text:
//!   in `use crate::a::{b, c::D as E};` the leaf `crate::a::b` points at `b`
//!   and `crate::a::c::D` at `c`, `{self}` at `self`, a glob `{e::*}` at `e`;
//! - Rust `mod x;` at `x`, `extern crate foo;` at `foo`.
//!
//! # What counts
//!
//! - TS/JS: `import … from 'm'`, `import 'm'`, `export … from 'm'`,
//!   `import x = require('m')`, `require('m')` (the identifier `require`
//!   called with exactly one string or substitution-free template literal),
//!   `import('m')` (first argument a literal; others are ignored). Only the
//!   statement-level `import type` / `export type … from` are type-only:
//!   `import {type T} from 'm'` still loads the module. `import('m')` in a
//!   type position (`let x: import('m').T`, `typeof import('m')`) is not
//!   reported: it names a type and loads nothing (the TypeScript compiler's
//!   view). Escapes in the literal are decoded.
//! - Python: `import`, `from … import`, `from __future__ import`, anywhere;
//!   imports inside the body of `if TYPE_CHECKING:` / `if X.TYPE_CHECKING:`
//!   (or such an `elif`), at any depth, are type-only; the `else:` branch is
//!   not. Dotted names are rebuilt from their identifiers, so `import a . b`
//!   gives `a.b`.
//! - Rust: every `use` leaf (renames dropped, `self` in a list names the
//!   list's path, a leading `::` dropped, `r#` raw prefixes dropped), `mod x;`
//!   without a body, `extern crate`. Token trees (macro bodies and
//!   invocations) are not parsed, so `use` written inside them is not seen.
//!
//! Imports are returned in source order.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::OnceLock;

use tree_sitter::{
    Language, Node, Parser, Query, QueryCapture, QueryCursor, StreamingIterator, TreeCursor,
};

use super::{Extracted, Import, ImportKind, Lang};

/// Files larger than this (2 MiB) are not parsed: [`Extractor::extract`]
/// returns no imports and `syntax_errors: false`. Such files are generated
/// or data, and parsing them would dominate a scan of the repository.
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;

/// A NUL byte within this many leading bytes marks a file as binary: it
/// yields no imports.
pub const BINARY_SNIFF_BYTES: usize = 8 * 1024;

const TYPESCRIPT_QUERY: &str = include_str!("../../grammars/typescript.scm");
const PYTHON_QUERY: &str = include_str!("../../grammars/python.scm");
const RUST_QUERY: &str = include_str!("../../grammars/rust.scm");

/// Finds the imports of source files. Build one (it compiles the queries)
/// and share it: it is `Send + Sync`, and each thread parses with its own
/// reusable parser.
///
/// Each language's query compiles on first use (compiling all four takes
/// tens of milliseconds, most of a small staged check).
pub struct Extractor {
    typescript: OnceLock<Grammar>,
    tsx: OnceLock<Grammar>,
    python: OnceLock<Grammar>,
    rust: OnceLock<Grammar>,
}

/// One language's grammar and compiled query.
struct Grammar {
    language: Language,
    query: Query,
    /// What each capture index of `query` means.
    roles: Vec<Role>,
    /// By node kind id: whether some pattern of `query` is rooted there.
    roots: Vec<bool>,
    /// Words every construct the query matches contains (see [`KEYWORDS`]).
    keywords: &'static [&'static [u8]],
    /// By byte: whether it starts one of `keywords`.
    keyword_starts: [bool; 256],
}

/// The words of which every construct a language's query matches contains
/// at least one, in full: a subtree without any of them is not searched
/// (most of a file, for typical code). A pattern added to `grammars/` must
/// keep this true, or list its word here.
///
/// - TS/JS: `import` (statements, `import()`, `import x = require`),
///   `require`, `from` (every `export … from`);
/// - Python: `import` (every import statement; `if TYPE_CHECKING:` only
///   matters around one);
/// - Rust: `use`, `mod`, `crate` (`extern crate`).
const KEYWORDS: [(Lang, &[&[u8]]); 4] = [
    (Lang::TypeScript, &[b"import", b"require", b"from"]),
    (Lang::Tsx, &[b"import", b"require", b"from"]),
    (Lang::Python, &[b"import"]),
    (Lang::Rust, &[b"use", b"mod", b"crate"]),
];

/// The meaning of a query capture, by its name in the `.scm` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Captures used only by predicates (`@_name`), or unknown.
    Ignore,
    /// TS: the string literal of a statement.
    Source,
    /// TS: the arguments of a call.
    Arguments,
    Import,
    ImportEquals,
    ReExport,
    Require,
    Dynamic,
    PyImport,
    PyImportFrom,
    PyFuture,
    /// Python: the body of an `if TYPE_CHECKING:`.
    TypeChecking,
    /// Rust: the argument of a `use` declaration.
    Use,
    /// Rust: the name of a `mod x;`.
    Mod,
    /// Rust: the crate name of an `extern crate`.
    ExternCrate,
}

impl Role {
    fn of_capture(name: &str) -> Role {
        match name {
            "source" => Role::Source,
            "arguments" => Role::Arguments,
            "import" => Role::Import,
            "import_equals" => Role::ImportEquals,
            "reexport" => Role::ReExport,
            "require" => Role::Require,
            "dynamic" => Role::Dynamic,
            "import_from" => Role::PyImportFrom,
            "future" => Role::PyFuture,
            "type_checking" => Role::TypeChecking,
            "use" => Role::Use,
            "mod" => Role::Mod,
            "extern_crate" => Role::ExternCrate,
            _ => Role::Ignore,
        }
    }
}

impl Grammar {
    fn new(lang: Lang, language: Language, source: &str, file: &str) -> Grammar {
        let query = Query::new(&language, source)
            .unwrap_or_else(|e| panic!("the embedded query grammars/{file} is invalid: {e}"));
        let roles = query
            .capture_names()
            .iter()
            .map(|name| match Role::of_capture(name) {
                // Python's statements share the TS capture name `import`.
                Role::Import if lang == Lang::Python => Role::PyImport,
                role => role,
            })
            .collect();
        let mut roots = vec![false; language.node_kind_count()];
        for kind in pattern_roots(source) {
            let id = language.id_for_node_kind(kind, true);
            assert!(id != 0, "grammars/{file}: no node kind {kind:?}");
            roots[usize::from(id)] = true;
        }
        let keywords = KEYWORDS
            .iter()
            .find(|(l, _)| *l == lang)
            .map_or(&[][..], |(_, k)| *k);
        let mut keyword_starts = [false; 256];
        for word in keywords {
            keyword_starts[usize::from(word[0])] = true;
        }
        Grammar {
            language,
            query,
            roles,
            roots,
            keywords,
            keyword_starts,
        }
    }

    fn is_root(&self, kind_id: u16) -> bool {
        self.roots
            .get(usize::from(kind_id))
            .copied()
            .unwrap_or(false)
    }

    /// The sorted byte offsets where a keyword starts.
    fn keyword_offsets(&self, source: &[u8]) -> Vec<usize> {
        let mut offsets = Vec::new();
        for (i, &b) in source.iter().enumerate() {
            if self.keyword_starts[usize::from(b)]
                && self.keywords.iter().any(|w| source[i..].starts_with(w))
            {
                offsets.push(i);
            }
        }
        offsets
    }

    fn role(&self, capture_index: u32) -> Role {
        self.roles
            .get(capture_index as usize)
            .copied()
            .unwrap_or(Role::Ignore)
    }
}

impl Default for Extractor {
    fn default() -> Extractor {
        Extractor::new()
    }
}

impl Extractor {
    /// An extractor; each language's query compiles when first needed.
    pub fn new() -> Extractor {
        Extractor {
            typescript: OnceLock::new(),
            tsx: OnceLock::new(),
            python: OnceLock::new(),
            rust: OnceLock::new(),
        }
    }

    /// The grammar and compiled query of `lang`.
    ///
    /// # Panics
    ///
    /// Only if an embedded query in `grammars/` does not compile against its
    /// grammar, a build defect the unit tests catch.
    fn grammar(&self, lang: Lang) -> &Grammar {
        match lang {
            Lang::TypeScript => self.typescript.get_or_init(|| {
                let language = tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into();
                Grammar::new(lang, language, TYPESCRIPT_QUERY, "typescript.scm")
            }),
            Lang::Tsx => self.tsx.get_or_init(|| {
                let language = tree_sitter_typescript::LANGUAGE_TSX.into();
                Grammar::new(lang, language, TYPESCRIPT_QUERY, "typescript.scm")
            }),
            Lang::Python => self.python.get_or_init(|| {
                let language = tree_sitter_python::LANGUAGE.into();
                Grammar::new(lang, language, PYTHON_QUERY, "python.scm")
            }),
            Lang::Rust => self.rust.get_or_init(|| {
                let language = tree_sitter_rust::LANGUAGE.into();
                Grammar::new(lang, language, RUST_QUERY, "rust.scm")
            }),
        }
    }

    /// The imports of `source`, written in `lang`, in source order.
    ///
    /// Never fails: see the module documentation for syntax errors, invalid
    /// UTF-8, files over [`MAX_FILE_BYTES`] and binary files.
    pub fn extract(&self, lang: Lang, source: &[u8]) -> Extracted {
        if source.len() > MAX_FILE_BYTES || is_binary(source) {
            return Extracted::default();
        }
        let grammar = self.grammar(lang);
        with_parser(lang, &grammar.language, |parser, cursor| {
            let Some(tree) = parser.parse(source, None) else {
                return Extracted::default();
            };
            let root = tree.root_node();
            let mut imports = Vec::new();
            let cx = Cx { source, grammar };
            match lang {
                Lang::TypeScript | Lang::Tsx => cx.typescript(cursor, root, &mut imports),
                Lang::Python => cx.python(cursor, root, &mut imports),
                Lang::Rust => cx.rust(cursor, root, &mut imports),
            }
            // Matches arrive nearly in order; a stable sort fixes the rest.
            imports.sort_by_key(|i| (i.line, i.column));
            Extracted {
                imports,
                syntax_errors: root.has_error(),
            }
        })
    }
}

/// The node kinds at the root of each pattern of a query source: the name
/// after each top-level `(`, or after each `(` directly inside a top-level
/// `[...]` alternation.
fn pattern_roots(query: &str) -> Vec<&str> {
    let mut roots = Vec::new();
    // The brackets open at `i`, innermost last.
    let mut open: Vec<u8> = Vec::new();
    let bytes = query.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b';' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'(' => {
                if open.is_empty() || open == b"[" {
                    let name_start = i + 1;
                    let name_end = bytes[name_start..]
                        .iter()
                        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                        .map_or(bytes.len(), |n| name_start + n);
                    roots.push(&query[name_start..name_end]);
                }
                open.push(b'(');
            }
            b'[' => open.push(b'['),
            b')' | b']' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    roots
}

/// A NUL byte near the start: not source code.
fn is_binary(source: &[u8]) -> bool {
    source[..source.len().min(BINARY_SNIFF_BYTES)].contains(&0)
}

/// A thread's reusable parsers (one per [`Lang`]) and query cursor.
struct Scratch {
    parsers: [Option<Parser>; 4],
    cursor: QueryCursor,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

fn lang_index(lang: Lang) -> usize {
    match lang {
        Lang::TypeScript => 0,
        Lang::Tsx => 1,
        Lang::Python => 2,
        Lang::Rust => 3,
    }
}

/// Runs `f` with this thread's parser for `lang` and its query cursor, or
/// with fresh ones when those are unavailable (thread teardown).
fn with_parser(
    lang: Lang,
    language: &Language,
    f: impl FnOnce(&mut Parser, &mut QueryCursor) -> Extracted,
) -> Extracted {
    let mut f = Some(f);
    let reused = SCRATCH.try_with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return None;
        };
        let scratch = slot.get_or_insert_with(|| Scratch {
            parsers: [None, None, None, None],
            cursor: QueryCursor::new(),
        });
        let parser = &mut scratch.parsers[lang_index(lang)];
        if parser.is_none() {
            *parser = new_parser(language);
        }
        let parser = parser.as_mut()?;
        let f = f.take()?;
        Some(f(parser, &mut scratch.cursor))
    });
    if let Ok(Some(done)) = reused {
        return done;
    }
    match (f, new_parser(language)) {
        (Some(f), Some(mut parser)) => f(&mut parser, &mut QueryCursor::new()),
        _ => Extracted::default(),
    }
}

fn new_parser(language: &Language) -> Option<Parser> {
    let mut parser = Parser::new();
    parser.set_language(language).ok()?;
    Some(parser)
}

/// What the per-language readers share.
struct Cx<'a> {
    source: &'a [u8],
    grammar: &'a Grammar,
}

impl Cx<'_> {
    fn text(&self, node: Node) -> &[u8] {
        self.source.get(node.byte_range()).unwrap_or_default()
    }

    fn lossy(&self, node: Node) -> String {
        String::from_utf8_lossy(self.text(node)).into_owned()
    }

    /// An import whose spec is located at `at`.
    fn import(&self, spec: String, at: Node, kind: ImportKind, type_only: bool) -> Import {
        let (line, column) = self.position(at);
        Import {
            spec,
            names: Vec::new(),
            line,
            column,
            kind,
            type_only,
        }
    }

    /// 1-based line and character column of the node's start.
    fn position(&self, node: Node) -> (u32, u32) {
        let point = node.start_position();
        let start = node.start_byte();
        let line_start = start.saturating_sub(point.column);
        let before = self.source.get(line_start..start).unwrap_or_default();
        // Characters are counted by their first byte; each invalid byte counts
        // as one, as lossy decoding would show it.
        let chars = before.iter().filter(|&&b| (b & 0xC0) != 0x80).count();
        (
            u32::try_from(point.row + 1).unwrap_or(u32::MAX),
            u32::try_from(chars + 1).unwrap_or(u32::MAX),
        )
    }

    /// Calls `f` with the captures of each query match, in source order, and
    /// a tree cursor on the match's root node (to look at its ancestors).
    ///
    /// Rather than running the query over the whole tree, this walks it,
    /// descending only into nodes that contain a keyword of the language,
    /// and runs the query (anchored with a start depth of 0) on each such
    /// node whose kind roots a pattern: several times faster on typical
    /// files, where imports are a small part.
    fn each_match<'t>(
        &self,
        cursor: &mut QueryCursor,
        root: Node<'t>,
        mut f: impl FnMut(&[QueryCapture<'t>], &TreeCursor<'t>),
    ) {
        let offsets = self.grammar.keyword_offsets(self.source);
        if offsets.is_empty() {
            return;
        }
        cursor.set_max_start_depth(Some(0));
        let mut walk = root.walk();
        loop {
            let node = walk.node();
            let next = offsets.partition_point(|&o| o < node.start_byte());
            if offsets.get(next).is_some_and(|&o| o < node.end_byte()) {
                if self.grammar.is_root(node.kind_id()) {
                    let mut matches = cursor.matches(&self.grammar.query, node, self.source);
                    while let Some(m) = matches.next() {
                        f(m.captures(), &walk);
                    }
                }
                if walk.goto_first_child() {
                    continue;
                }
            }
            while !walk.goto_next_sibling() {
                if !walk.goto_parent() {
                    return;
                }
            }
        }
    }

    // ---- TypeScript, TSX, JavaScript ----

    fn typescript(&self, cursor: &mut QueryCursor, root: Node, out: &mut Vec<Import>) {
        self.each_match(cursor, root, |captures, at| {
            let mut construct = None;
            let mut operand = None;
            for c in captures {
                match self.grammar.role(c.index) {
                    Role::Ignore => {}
                    Role::Source | Role::Arguments => operand = Some(c.node),
                    role => construct = Some((role, c.node)),
                }
            }
            let (Some((role, node)), Some(operand)) = (construct, operand) else {
                return;
            };
            match role {
                Role::Import | Role::ImportEquals | Role::ReExport => {
                    let Some(spec) = self.js_literal(operand) else {
                        return;
                    };
                    let kind = match role {
                        Role::ImportEquals => ImportKind::ImportEquals,
                        Role::ReExport => ImportKind::ReExport,
                        _ if is_side_effect_import(node, operand) => ImportKind::SideEffect,
                        _ => ImportKind::Import,
                    };
                    let type_only = self.has_type_keyword(node);
                    out.push(self.import(spec, operand, kind, type_only));
                }
                Role::Require | Role::Dynamic => {
                    let mut walk = operand.walk();
                    let mut args = operand.named_children(&mut walk).filter(|n| !n.is_extra());
                    let Some(first) = args.next() else {
                        return;
                    };
                    // require takes exactly one argument; import() may have
                    // options after the specifier.
                    if role == Role::Require && args.next().is_some() {
                        return;
                    }
                    // `let x: import('m').T` names a type; it loads nothing.
                    if role == Role::Dynamic && in_type_position(at) {
                        return;
                    }
                    let Some(spec) = self.js_literal(first) else {
                        return;
                    };
                    let kind = if role == Role::Require {
                        ImportKind::Require
                    } else {
                        ImportKind::Dynamic
                    };
                    out.push(self.import(spec, first, kind, false));
                }
                _ => {}
            }
        });
    }

    /// The value of a string literal, or of a template literal without
    /// substitutions; `None` for anything else.
    fn js_literal(&self, node: Node) -> Option<String> {
        if node.kind() != "string" && node.kind() != "template_string" {
            return None;
        }
        let mut value = String::new();
        let mut walk = node.walk();
        for part in node.named_children(&mut walk) {
            match part.kind() {
                "string_fragment" => value.push_str(&String::from_utf8_lossy(self.text(part))),
                "escape_sequence" => {
                    unescape_js(&String::from_utf8_lossy(self.text(part)), &mut value)
                }
                // template_substitution, or an error inside the literal
                _ if part.is_extra() => {}
                _ => return None,
            }
        }
        Some(value)
    }

    /// The statement-level `type` of `import type` / `export type … from`
    /// (`export type * from` parses with the keyword in an ERROR node).
    fn has_type_keyword(&self, statement: Node) -> bool {
        let mut walk = statement.walk();
        let found = statement.children(&mut walk).any(|child| {
            (child.kind() == "type" && !child.is_named())
                || (child.is_error() && self.text(child).trim_ascii() == b"type")
        });
        found
    }

    // ---- Python ----

    fn python(&self, cursor: &mut QueryCursor, root: Node, out: &mut Vec<Import>) {
        let mut statements = Vec::new();
        let mut type_checking: Vec<Range<usize>> = Vec::new();
        self.each_match(cursor, root, |captures, _| {
            for c in captures {
                match self.grammar.role(c.index) {
                    Role::TypeChecking => type_checking.push(c.node.byte_range()),
                    role @ (Role::PyImport | Role::PyImportFrom | Role::PyFuture) => {
                        statements.push((role, c.node))
                    }
                    _ => {}
                }
            }
        });
        let mut walk = root.walk();
        for (role, statement) in statements {
            let start = statement.start_byte();
            let type_only = type_checking.iter().any(|r| r.contains(&start));
            match role {
                Role::PyImport => {
                    for name in statement.children_by_field_name("name", &mut walk) {
                        let module = if name.kind() == "aliased_import" {
                            match name.child_by_field_name("name") {
                                Some(module) => module,
                                None => continue,
                            }
                        } else {
                            name
                        };
                        let spec = self.dotted(module);
                        if spec.is_empty() {
                            continue;
                        }
                        out.push(self.import(spec, module, ImportKind::Import, type_only));
                    }
                }
                Role::PyImportFrom => {
                    let Some(module) = statement.child_by_field_name("module_name") else {
                        continue;
                    };
                    let spec = if module.kind() == "relative_import" {
                        let mut spec = String::new();
                        let mut inner = module.walk();
                        for part in module.named_children(&mut inner) {
                            match part.kind() {
                                "import_prefix" => spec.extend(
                                    self.text(part).iter().filter(|&&b| b == b'.').map(|_| '.'),
                                ),
                                "dotted_name" => spec.push_str(&self.dotted(part)),
                                _ => {}
                            }
                        }
                        spec
                    } else {
                        self.dotted(module)
                    };
                    if spec.is_empty() {
                        continue;
                    }
                    let mut import = self.import(spec, module, ImportKind::Import, type_only);
                    import.names = self.imported_names(statement, &mut walk);
                    out.push(import);
                }
                Role::PyFuture => {
                    let keyword = {
                        let mut inner = statement.walk();
                        let found = statement
                            .children(&mut inner)
                            .find(|c| c.kind() == "__future__");
                        found
                    };
                    let mut import = self.import(
                        "__future__".to_owned(),
                        keyword.unwrap_or(statement),
                        ImportKind::Import,
                        type_only,
                    );
                    import.names = self.imported_names(statement, &mut walk);
                    out.push(import);
                }
                _ => {}
            }
        }
    }

    /// The names after `import` in `from M import …` (`*` for a wildcard),
    /// without their aliases.
    fn imported_names<'t>(&self, statement: Node<'t>, walk: &mut TreeCursor<'t>) -> Vec<String> {
        let mut names = Vec::new();
        walk.reset(statement);
        if walk.goto_first_child() {
            loop {
                let child = walk.node();
                match (walk.field_name(), child.kind()) {
                    (Some("name"), "aliased_import") => {
                        if let Some(name) = child.child_by_field_name("name") {
                            names.push(self.dotted(name));
                        }
                    }
                    (Some("name"), _) => names.push(self.dotted(child)),
                    (_, "wildcard_import") => names.push("*".to_owned()),
                    _ => {}
                }
                if !walk.goto_next_sibling() {
                    break;
                }
            }
        }
        names.retain(|n| !n.is_empty());
        names
    }

    /// A dotted name rebuilt from its identifiers (`a . b` is `a.b`).
    fn dotted(&self, node: Node) -> String {
        if node.kind() != "dotted_name" {
            return self.lossy(node);
        }
        let mut name = String::new();
        let mut walk = node.walk();
        for part in node.named_children(&mut walk) {
            if part.kind() == "identifier" {
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&String::from_utf8_lossy(self.text(part)));
            }
        }
        name
    }

    // ---- Rust ----

    fn rust(&self, cursor: &mut QueryCursor, root: Node, out: &mut Vec<Import>) {
        self.each_match(cursor, root, |captures, _| {
            for c in captures {
                match self.grammar.role(c.index) {
                    Role::Use => self.use_tree(c.node, out),
                    Role::Mod => {
                        out.push(self.import(self.segment(c.node), c.node, ImportKind::Mod, false))
                    }
                    Role::ExternCrate => out.push(self.import(
                        self.segment(c.node),
                        c.node,
                        ImportKind::ExternCrate,
                        false,
                    )),
                    _ => {}
                }
            }
        });
    }

    /// Expands a use tree into one import per leaf, in source order. Uses an
    /// explicit stack: nesting depth is the file's to choose.
    fn use_tree(&self, argument: Node, out: &mut Vec<Import>) {
        // (node, path so far, inside braces)
        let mut stack: Vec<(Node, String, bool)> = vec![(argument, String::new(), false)];
        while let Some((node, prefix, in_list)) = stack.pop() {
            match node.kind() {
                "use_list" => {
                    let mut walk = node.walk();
                    let items: Vec<Node> = node
                        .named_children(&mut walk)
                        .filter(|n| !n.is_extra())
                        .collect();
                    for item in items.into_iter().rev() {
                        stack.push((item, prefix.clone(), true));
                    }
                }
                "scoped_use_list" => {
                    let mut path = prefix;
                    if let Some(p) = node.child_by_field_name("path") {
                        self.push_path(&mut path, p);
                    }
                    if let Some(list) = node.child_by_field_name("list") {
                        stack.push((list, path, in_list));
                    }
                }
                "use_as_clause" => {
                    if let Some(path) = node.child_by_field_name("path") {
                        self.use_leaf(path, prefix, in_list, out);
                    }
                }
                "use_wildcard" => {
                    let mut spec = prefix;
                    let path = {
                        let mut walk = node.walk();
                        let found = node.named_children(&mut walk).find(|n| !n.is_extra());
                        found
                    };
                    if let Some(p) = path {
                        self.push_path(&mut spec, p);
                    }
                    if !spec.is_empty() {
                        spec.push_str("::");
                    }
                    spec.push('*');
                    let at = path.map_or(node, first_segment);
                    out.push(self.import(spec, at, ImportKind::Use, false));
                }
                _ => self.use_leaf(node, prefix, in_list, out),
            }
        }
    }

    /// One leaf path of a use tree: `prefix::path`, or `prefix` for `self`
    /// inside braces.
    fn use_leaf(&self, path: Node, prefix: String, in_list: bool, out: &mut Vec<Import>) {
        if path.is_error() || path.is_missing() {
            return;
        }
        let spec = if in_list && path.kind() == "self" && !prefix.is_empty() {
            prefix
        } else {
            let mut spec = prefix;
            self.push_path(&mut spec, path);
            spec
        };
        if spec.is_empty() {
            return;
        }
        out.push(self.import(spec, first_segment(path), ImportKind::Use, false));
    }

    /// Appends the segments of a path (`a::b::c`, `::a`, `crate`) to `spec`.
    fn push_path(&self, spec: &mut String, path: Node) {
        let mut segments = Vec::new();
        let mut current = Some(path);
        while let Some(node) = current {
            if node.kind() == "scoped_identifier" {
                segments.extend(node.child_by_field_name("name"));
                current = node.child_by_field_name("path");
            } else {
                segments.push(node);
                current = None;
            }
        }
        for segment in segments.into_iter().rev() {
            if !spec.is_empty() {
                spec.push_str("::");
            }
            spec.push_str(&self.segment(segment));
        }
    }

    /// A path segment's name, without a raw identifier's `r#`.
    fn segment(&self, node: Node) -> String {
        let text = self.text(node);
        let text = text.strip_prefix(b"r#").unwrap_or(text);
        String::from_utf8_lossy(text).into_owned()
    }
}

/// The first segment of a Rust path as written (`crate` in `crate::a::b`,
/// `std` in `::std::fmt`).
fn first_segment(path: Node) -> Node {
    let mut node = path;
    while node.kind() == "scoped_identifier" {
        match node.child_by_field_name("path") {
            Some(inner) => node = inner,
            // `::std::…`: the segment after the leading `::`.
            None => return node.child_by_field_name("name").unwrap_or(node),
        }
    }
    node
}

/// Whether the node under `at` is part of a type (TS): some ancestor is a
/// type annotation, alias, argument list, clause or type node, or it is the
/// type after `as` / `satisfies`. The grammar parses the type `import('m').T`
/// as a call inside such a node.
fn in_type_position(at: &TreeCursor) -> bool {
    let mut up = at.clone();
    let mut child = up.node();
    while up.goto_parent() {
        let node = up.node();
        let kind = node.kind();
        let is_type = kind.ends_with("_type")
            || matches!(
                kind,
                "type_annotation"
                    | "opting_type_annotation"
                    | "omitting_type_annotation"
                    | "adding_type_annotation"
                    | "asserts_annotation"
                    | "type_predicate_annotation"
                    | "type_alias_declaration"
                    | "type_query"
                    | "type_arguments"
                    | "type_parameters"
                    | "constraint"
                    | "implements_clause"
                    | "extends_type_clause"
                    | "interface_body"
            );
        if is_type {
            return true;
        }
        if matches!(kind, "as_expression" | "satisfies_expression")
            && node
                .named_child(0)
                .is_some_and(|first| first.id() != child.id())
        {
            return true;
        }
        child = node;
    }
    false
}

/// `import 'm'`: nothing but the source (comments and import attributes
/// aside).
fn is_side_effect_import(statement: Node, source: Node) -> bool {
    let mut walk = statement.walk();
    let only_source = statement.named_children(&mut walk).all(|child| {
        child.id() == source.id() || child.is_extra() || child.kind() == "import_attribute"
    });
    only_source
}

/// Appends the value of a JS escape sequence (`\n`, `\x41`, `\u{1F600}`,
/// a line continuation) to `out`.
fn unescape_js(escape: &str, out: &mut String) {
    let Some(body) = escape.strip_prefix('\\') else {
        out.push_str(escape);
        return;
    };
    let hex = |digits: &str| {
        u32::from_str_radix(digits, 16)
            .ok()
            .and_then(char::from_u32)
    };
    let decoded = match body.chars().next() {
        Some('n') => Some('\n'),
        Some('t') => Some('\t'),
        Some('r') => Some('\r'),
        Some('b') => Some('\u{8}'),
        Some('f') => Some('\u{c}'),
        Some('v') => Some('\u{b}'),
        Some('0') if body.len() == 1 => Some('\0'),
        Some('x') => hex(&body[1..]),
        Some('u') => hex(body[1..].trim_start_matches('{').trim_end_matches('}')),
        // A line continuation adds nothing.
        Some('\n' | '\r' | '\u{2028}' | '\u{2029}') => return,
        _ => None,
    };
    match decoded {
        Some(c) => out.push(c),
        // Any other escaped character stands for itself.
        None => out.push_str(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn typescript_import_types_are_not_imports() {
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
        assert_eq!(
            rows(Lang::TypeScript, src),
            vec![
                row("./real", 7, 45, Dynamic),
                row("./real2", 10, 40, Dynamic),
                row("./real3", 12, 25, Dynamic),
            ]
        );
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
            ] {
                let _ = extractor.extract(lang, input);
            }
        }
        // Deep nesting must not overflow the stack.
        let deep = format!("use {}x{};", "a::{".repeat(5000), "}".repeat(5000));
        let found = extractor.extract(Lang::Rust, deep.as_bytes());
        assert!(found.imports.len() <= 1);
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
}
