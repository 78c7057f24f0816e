//! Boundaries: which files import which, and whether the declared domains
//! allow it.
//!
//! - [`extract`] finds the imports of one file in its tree-sitter tree
//!   (TypeScript/TSX/JavaScript, Python, Rust).
//! - `resolve` maps each import to a repository file, or marks it external.
//! - `links` follows the symbolic links a snapshot records.
//! - `rules` checks changed files and their imports against `comm.yaml`;
//!   `changes` decides who acts for each change and applies the change rules.
//! - [`coverage`] finds the tracked files no domain owns and the globs of
//!   `comm.yaml` that match no file.
//! - `reserved` checks changed files against other domains' reservations.
//! - [`commits`] runs a check over a commit range read from git.
//! - [`catchup`] narrows the change rules to the domain's own edits while a
//!   catch-up merge of `main` is in progress.
//!
//! Nothing here prints; only `commits` and `catchup` read git (through [`crate::git`]).

pub mod cache;
pub mod catchup;
pub mod changes;
pub mod check;
pub mod commits;
pub mod coverage;
pub mod extract;
pub mod links;
pub mod reserved;
pub mod resolve;
pub mod rules;
pub mod sarif;

use serde::Serialize;

/// A source language comm-node understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// `.ts .mts .cts`
    TypeScript,
    /// `.tsx`, and JavaScript (`.js .jsx .mjs .cjs`), parsed with the TSX grammar.
    Tsx,
    /// `.py .pyi`
    Python,
    /// `.rs`
    Rust,
}

impl Lang {
    /// The language of a path, by extension.
    pub fn of_path(path: &str) -> Option<Lang> {
        let ext = path.rsplit_once('.')?.1;
        Some(match ext {
            "ts" | "mts" | "cts" => Lang::TypeScript,
            "tsx" | "js" | "jsx" | "mjs" | "cjs" => Lang::Tsx,
            "py" | "pyi" => Lang::Python,
            "rs" => Lang::Rust,
            _ => return None,
        })
    }
}

/// How an import was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// TS/JS `import ... from 'x'`, Python `import a.b` / `from a import b`.
    Import,
    /// TS/JS `import 'x'` (side effects only).
    SideEffect,
    /// TS/JS `export ... from 'x'`, `export * from 'x'`.
    ReExport,
    /// JS `require('x')`.
    Require,
    /// JS `import('x')` with a string literal.
    Dynamic,
    /// TS `import('x')` in a type position (`let a: import('x').T`,
    /// `typeof import('x')`): always `type_only`.
    ImportType,
    /// TS `import x = require('x')`.
    ImportEquals,
    /// Rust `use path;` (one per leaf of a use tree).
    Use,
    /// Rust `mod x;` (a declaration without a body).
    Mod,
    /// Rust `extern crate x;`.
    ExternCrate,
}

/// One import found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Import {
    /// What was imported, as written:
    /// - TS/JS: the string literal's content (`./x`, `@shop/shared`);
    /// - Python: the module, with leading dots for a relative import
    ///   (`a.b.c`, `..pkg.mod`, `.` for `from . import x`);
    /// - Rust: the full path of one use-tree leaf (`crate::a::b::C`,
    ///   `super::x`, `std::collections::HashMap`, `a::*` for a glob), the
    ///   module name for `mod x;`, the crate name for `extern crate`.
    pub spec: String,
    /// Python `from M import a, b`: the imported names (`["a", "b"]`);
    /// empty otherwise.
    pub names: Vec<String>,
    /// 1-based line of the import's spec (the string literal or the path).
    pub line: u32,
    /// 1-based column (in characters) of the same.
    pub column: u32,
    pub kind: ImportKind,
    /// TS `import type` / `export type`, or a Python import under
    /// `if TYPE_CHECKING:`.
    pub type_only: bool,
}

impl Import {
    /// An import of `spec` that names nothing, its spec at the 1-based
    /// `(line, column)`.
    pub(crate) fn unnamed(
        spec: String,
        (line, column): (u32, u32),
        kind: ImportKind,
        type_only: bool,
    ) -> Import {
        Import {
            spec,
            names: Vec::new(),
            line,
            column,
            kind,
            type_only,
        }
    }
}

/// What extraction found in one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Extracted {
    pub imports: Vec<Import>,
    /// The parser recovered from syntax errors (imports are still reported)
    /// in what it parsed: the statements that can hold an import (a syntax
    /// error elsewhere in the file cannot hide one, and is not seen).
    pub syntax_errors: bool,
    /// TS/JS: a syntax error region holds `import`, `export` or `require`
    /// that neither the parser nor the fallback reading could make sense
    /// of, so imports may be missing. Always `false` without syntax errors.
    pub incomplete: bool,
}
