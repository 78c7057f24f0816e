//! Import extraction: the imports of one file, found with tree-sitter.
//!
//! Each language has a reader (`typescript.rs`, `python.rs`, `rust.rs`)
//! that recognizes the nodes of the constructs that import something by
//! their kind and fields, and reads them: string literals of TS/JS, dotted
//! names of Python statements, and Rust use trees, which it expands into one
//! [`Import`] per leaf. No tree-sitter query is compiled: compiling one took
//! most of a small staged check.
//!
//! Only part of a file is parsed: a pre-scan (`regions.rs`) finds the
//! top-level statements of Python and TS/JS files that hold one of the
//! language's [`KEYWORDS`] (`import`, `require`…) and tree-sitter parses
//! just those (included ranges: positions stay those of the whole file).
//! When the scan is unsure, or those statements parse with a syntax error,
//! the whole file is parsed. [`Extractor::whole_files`] always parses
//! whole files, for comparison.
//!
//! The readers do not visit the whole tree either: a walk descends only
//! into nodes that contain a keyword and shows each of them to the reader.
//!
//! [`Extractor::extract`] never panics and never fails: a file with syntax
//! errors yields what the parser recovered (and says so in
//! [`Extracted::syntax_errors`], and in [`Extracted::incomplete`] when
//! imports may be missing); invalid UTF-8 is decoded lossily; files
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
//!   type position (`let x: import('m').T`, `typeof import('m')`) is an
//!   `import_type` ([`ImportType`](crate::boundary::ImportKind::ImportType)),
//!   always type-only: it loads nothing but depends on m's types, as
//!   `import type` does. Escapes in the literal are decoded.
//! - TS/JS files with syntax errors: tree-sitter-typescript 0.23 cannot
//!   parse some valid TypeScript (variance annotations `in`/`out`,
//!   newline-separated generic call signatures, `import('m').T<Args>`, a
//!   bodiless `export default function (): T` in a `.d.ts`, `export type *`),
//!   and its error recovery can swallow an import into an ERROR node. Every
//!   `import`, `export` and `require` inside an ERROR node is read again
//!   token by token (`fallback.rs`); text that still makes no sense sets
//!   [`Extracted::incomplete`] ("imports may be missing"), never silently.
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
use std::sync::OnceLock;

use tree_sitter::{Language, Parser};

use super::{Extracted, Lang};
use readers::Cx;

mod fallback;
mod python;
mod readers;
mod regions;
mod rust;
mod typescript;

/// Files larger than this (2 MiB) are not parsed: [`Extractor::extract`]
/// returns no imports and `syntax_errors: false`. Such files are generated
/// or data, and parsing them would dominate a scan of the repository.
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;

/// A NUL byte within this many leading bytes marks a file as binary: it
/// yields no imports.
pub const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// Finds the imports of source files. Build one and share it: it is
/// `Send + Sync`, and each thread parses with its own reusable parser.
pub struct Extractor {
    /// Parse whole files, never only the statements that can import
    /// (for comparing the two).
    full_parse: bool,
    typescript: OnceLock<Grammar>,
    tsx: OnceLock<Grammar>,
    python: OnceLock<Grammar>,
    rust: OnceLock<Grammar>,
}

/// One language's grammar and the words its imports are written with.
struct Grammar {
    language: Language,
    /// Words every construct the reader looks for contains (see [`KEYWORDS`]).
    keywords: &'static [&'static [u8]],
    /// By byte: whether it starts one of `keywords`.
    keyword_starts: [bool; 256],
}

/// The words of which every construct a language's reader looks for
/// contains at least one, in full: a subtree without any of them is not
/// searched (most of a file, for typical code). A construct added to a
/// reader must keep this true, or list its word here.
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

impl Grammar {
    fn new(lang: Lang, language: Language) -> Grammar {
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
            keywords,
            keyword_starts,
        }
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
}

impl Default for Extractor {
    fn default() -> Extractor {
        Extractor::new()
    }
}

impl Extractor {
    /// An extractor; each language's grammar is loaded when first needed.
    pub fn new() -> Extractor {
        Extractor {
            full_parse: false,
            typescript: OnceLock::new(),
            tsx: OnceLock::new(),
            python: OnceLock::new(),
            rust: OnceLock::new(),
        }
    }

    /// An extractor that parses every file whole, as it did before it
    /// parsed only the statements that can import: the reference the
    /// tests compare that with.
    pub fn whole_files() -> Extractor {
        Extractor {
            full_parse: true,
            ..Extractor::new()
        }
    }

    /// The grammar and keywords of `lang`.
    fn grammar(&self, lang: Lang) -> &Grammar {
        match lang {
            Lang::TypeScript => self.typescript.get_or_init(|| {
                let language = tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into();
                Grammar::new(lang, language)
            }),
            Lang::Tsx => self.tsx.get_or_init(|| {
                let language = tree_sitter_typescript::LANGUAGE_TSX.into();
                Grammar::new(lang, language)
            }),
            Lang::Python => self.python.get_or_init(|| {
                let language = tree_sitter_python::LANGUAGE.into();
                Grammar::new(lang, language)
            }),
            Lang::Rust => self.rust.get_or_init(|| {
                let language = tree_sitter_rust::LANGUAGE.into();
                Grammar::new(lang, language)
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
        let keywords = grammar.keyword_offsets(source);
        if keywords.is_empty() && !self.full_parse {
            return Extracted::default();
        }
        let ranges = if self.full_parse {
            None
        } else {
            parse_ranges(lang, source, &keywords)
        };
        with_parser(lang, &grammar.language, |parser| {
            let tree = match ranges {
                Some(ranges) if ranges.is_empty() => return Extracted::default(),
                Some(ranges) => {
                    let part = parser
                        .set_included_ranges(&ranges)
                        .ok()
                        .and_then(|()| parser.parse(source, None));
                    // Back to whole files for the next parse.
                    let _ = parser.set_included_ranges(&[]);
                    match part {
                        Some(tree) if !tree.root_node().has_error() => Some(tree),
                        _ => parser.parse(source, None),
                    }
                }
                None => parser.parse(source, None),
            };
            let Some(tree) = tree else {
                return Extracted::default();
            };
            let root = tree.root_node();
            let mut imports = Vec::new();
            let cx = Cx {
                source,
                keywords: &keywords,
            };
            let syntax_errors = root.has_error();
            let mut incomplete = false;
            cx.read(lang, root, &mut imports);
            if syntax_errors && matches!(lang, Lang::TypeScript | Lang::Tsx) {
                incomplete = !cx.typescript_fallback(root, &mut imports);
            }
            // Matches arrive nearly in order; a stable sort fixes the rest.
            imports.sort_by_key(|i| (i.line, i.column));
            Extracted {
                imports,
                syntax_errors,
                incomplete,
            }
        })
    }
}

/// The ranges of `source` to parse (see `regions.rs`), `None` for all of
/// it. Files under 256 bytes are parsed whole: the scan would not pay.
fn parse_ranges(lang: Lang, source: &[u8], keywords: &[usize]) -> Option<Vec<tree_sitter::Range>> {
    if source.len() < 256 {
        return None;
    }
    // A statement is kept when a keyword is written in its code; in .js
    // and .tsx files, where a regular expression or JSX text can fool the
    // scan, when one is written anywhere in it (strings and comments too).
    let (starts, code) = match lang {
        Lang::Python => python::python_starts(source)?,
        Lang::TypeScript => typescript::typescript_starts(source)?,
        Lang::Tsx => (typescript::typescript_starts(source)?.0, keywords.to_vec()),
        Lang::Rust => return None,
    };
    let kept = regions::select(&starts, source.len(), &code)?;
    // Rows of the range ends: one pass over the newlines before the last.
    let mut ranges = Vec::with_capacity(kept.len());
    let mut row = 0;
    let mut counted = 0;
    let mut point = |at: usize| {
        row += source[counted..at].iter().filter(|&&b| b == b'\n').count();
        counted = at;
        let line_start = source[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        tree_sitter::Point {
            row,
            column: at - line_start,
        }
    };
    for r in kept {
        let start_point = point(r.start);
        let end_point = point(r.end);
        ranges.push(tree_sitter::Range {
            start_byte: r.start,
            end_byte: r.end,
            start_point,
            end_point,
        });
    }
    Some(ranges)
}

/// A NUL byte near the start: not source code.
fn is_binary(source: &[u8]) -> bool {
    source[..source.len().min(BINARY_SNIFF_BYTES)].contains(&0)
}

/// A thread's reusable parsers (one per [`Lang`]).
struct Scratch {
    parsers: [Option<Parser>; 4],
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

/// Runs `f` with this thread's parser for `lang`, or with a fresh one when
/// that is unavailable (thread teardown).
fn with_parser(
    lang: Lang,
    language: &Language,
    f: impl FnOnce(&mut Parser) -> Extracted,
) -> Extracted {
    let mut f = Some(f);
    let reused = SCRATCH.try_with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return None;
        };
        let scratch = slot.get_or_insert_with(|| Scratch {
            parsers: [None, None, None, None],
        });
        let parser = &mut scratch.parsers[lang_index(lang)];
        if parser.is_none() {
            *parser = new_parser(language);
        }
        let parser = parser.as_mut()?;
        let f = f.take()?;
        Some(f(parser))
    });
    if let Ok(Some(done)) = reused {
        return done;
    }
    match (f, new_parser(language)) {
        (Some(f), Some(mut parser)) => f(&mut parser),
        _ => Extracted::default(),
    }
}

fn new_parser(language: &Language) -> Option<Parser> {
    let mut parser = Parser::new();
    parser.set_language(language).ok()?;
    Some(parser)
}

#[cfg(test)]
mod tests;
