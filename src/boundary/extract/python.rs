//! Python: finding the import statements (and the bodies of `if
//! TYPE_CHECKING:`) and reading them into [`Import`]s, and the pre-scan that
//! finds the statements to parse.

use std::ops::Range;

use tree_sitter::{Node, TreeCursor};

use super::readers::{field, is, Cx};
use super::regions::is_clause;
use crate::boundary::{Import, ImportKind};

/// The import statements of Python.
#[derive(Clone, Copy)]
pub(super) enum Statement {
    /// `import a.b.c`, `import a as b, c`.
    Import,
    /// `from a.b import c, d`, `from . import x`, `from a import *`.
    From,
    /// `from __future__ import annotations`.
    Future,
}

impl Cx<'_> {
    pub(super) fn python(&self, root: Node, out: &mut Vec<Import>) {
        let mut statements = Vec::new();
        let mut type_checking: Vec<Range<usize>> = Vec::new();
        self.each_keyword_node(root, |node, _| {
            let statement = match node.kind() {
                "import_statement" => Statement::Import,
                "import_from_statement" => Statement::From,
                "future_import_statement" => Statement::Future,
                _ => {
                    if let Some(body) = self.type_checking_body(node) {
                        type_checking.push(body.byte_range());
                    }
                    return;
                }
            };
            if node.is_named() {
                statements.push((statement, node));
            }
        });
        self.read_python(&statements, &type_checking, out);
    }

    /// Reads `statements` into `out`; those starting in a `type_checking`
    /// range are type-only.
    pub(super) fn read_python<'t>(
        &self,
        statements: &[(Statement, Node<'t>)],
        type_checking: &[Range<usize>],
        out: &mut Vec<Import>,
    ) {
        for &(kind, statement) in statements {
            let mut walk = statement.walk();
            let start = statement.start_byte();
            let type_only = type_checking.iter().any(|r| r.contains(&start));
            match kind {
                Statement::Import => {
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
                Statement::From => {
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
                Statement::Future => {
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
            }
        }
    }

    /// The body of `if TYPE_CHECKING:` or `if <module>.TYPE_CHECKING:` (or
    /// of an `elif` with such a condition): imports inside are type-only.
    fn type_checking_body<'t>(&self, node: Node<'t>) -> Option<Node<'t>> {
        if !(is(node, "if_statement") || is(node, "elif_clause")) {
            return None;
        }
        let condition = field(node, "condition", None)?;
        let flag = match condition.kind() {
            "identifier" => condition,
            "attribute" => {
                field(condition, "object", Some("identifier"))?;
                field(condition, "attribute", Some("identifier"))?
            }
            _ => return None,
        };
        if !self.is_text(flag, "TYPE_CHECKING") {
            return None;
        }
        field(node, "consequence", Some("block"))
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
}

/// Byte offsets of the lines where a top-level Python statement starts
/// (column 0, outside brackets, strings and continuations; not `else:`,
/// `elif`, `except`, `finally`, and not the statement a decorator line
/// introduces), and the offsets of `import` written in code (not in a
/// string or comment). `None` when the scan ends inside a literal or a
/// bracket.
pub(super) fn python_starts(src: &[u8]) -> Option<(Vec<usize>, Vec<usize>)> {
    let mut starts = Vec::new();
    let mut hits = Vec::new();
    let mut depth = 0usize;
    let mut line_start = true;
    // The current statement is only decorator lines so far.
    let mut decorators = false;
    let mut i = 0;
    while i < src.len() {
        if std::mem::take(&mut line_start) && depth == 0 {
            let b = src[i];
            let starts_here = !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'#' | b'\x0c');
            if starts_here && !is_clause(&src[i..], PY_CLAUSES) {
                if !decorators {
                    starts.push(i);
                }
                decorators = b == b'@';
            }
        }
        match src[i] {
            b'#' => {
                while i < src.len() && src[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            q @ (b'\'' | b'"') => {
                i = py_string(src, i, q)?;
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'\\' => {
                // A continuation: the next line does not start a statement.
                i += if src.get(i + 1) == Some(&b'\r') { 3 } else { 2 };
                continue;
            }
            b'\n' => line_start = true,
            b'i' if src[i..].starts_with(b"import") => hits.push(i),
            _ => {}
        }
        i += 1;
    }
    (depth == 0).then_some((starts, hits))
}

const PY_CLAUSES: &[&[u8]] = &[b"else", b"elif", b"except", b"finally"];

/// The offset after the Python string literal whose quote is at `at`.
fn py_string(src: &[u8], at: usize, quote: u8) -> Option<usize> {
    // The prefix: the letters right before the quote (`rb`, `f`, `Rb`...).
    let mut p = at;
    while p > 0 && src[p - 1].is_ascii_alphabetic() && at - p < 3 {
        p -= 1;
    }
    let prefix = &src[p..at];
    let whole_word = p == 0 || !(src[p - 1].is_ascii_alphanumeric() || src[p - 1] == b'_');
    let fstring = whole_word
        && prefix.len() <= 2
        && prefix.iter().all(|b| b"rRbBuUfFtT".contains(b))
        && prefix.iter().any(|b| b"fFtT".contains(b));
    let triple = src[at..].starts_with(&[quote, quote, quote]);
    let mut i = at + if triple { 3 } else { 1 };
    while i < src.len() {
        match src[i] {
            b'\\' => i += 1,
            b'\n' if !triple => return Some(i),
            b if b == quote => {
                if !triple {
                    return Some(i + 1);
                }
                if src[i..].starts_with(&[quote, quote, quote]) {
                    return Some(i + 3);
                }
            }
            b'{' if fstring => {
                if src.get(i + 1) == Some(&b'{') {
                    i += 1;
                } else {
                    i = py_replacement(src, i + 1)?;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset after the `}` closing an f-string replacement field whose
/// expression starts at `at` (strings may nest; a `:` at depth 0 starts a
/// format spec, which may hold nested fields).
fn py_replacement(src: &[u8], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = at;
    while i < src.len() {
        match src[i] {
            q @ (b'\'' | b'"') => {
                i = py_string(src, i, q)?;
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            b'}' if depth == 0 => return Some(i + 1),
            b'}' => depth -= 1,
            b':' if depth == 0 && src.get(i + 1) != Some(&b'=') => {
                // The format spec: literal text with nested fields.
                i += 1;
                while i < src.len() {
                    match src[i] {
                        b'{' => {
                            i = py_replacement(src, i + 1)?;
                            continue;
                        }
                        b'}' => return Some(i + 1),
                        _ => i += 1,
                    }
                }
                return None;
            }
            _ => {}
        }
        i += 1;
    }
    None
}
