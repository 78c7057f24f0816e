//! TypeScript, TSX and JavaScript: finding the constructs that import and
//! reading them into [`Import`]s, and the pre-scan that
//! finds the statements to parse. Files with syntax errors are read again
//! by `fallback.rs`.

use tree_sitter::{Node, TreeCursor};

use super::readers::{field, is, Cx};
use super::regions::is_clause;
use crate::boundary::{Import, ImportKind};

/// The constructs of TS/JS that import something.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Construct {
    /// `import x from 'a'`, `import {a} from 'a'`, `import 'a'`,
    /// `import type {T} from 'a'`.
    Import,
    /// TS: `import x = require('a')`, `import type x = require('a')`.
    ImportEquals,
    /// `export {a} from 'a'`, `export * from 'a'`, `export type {T} from 'a'`.
    ReExport,
    /// `require('a')`: the argument count and literal are checked later.
    Require,
    /// `import('a')`, including `typeof import('a')` in type positions.
    Dynamic,
}

impl Cx<'_> {
    pub(super) fn typescript(&self, root: Node, out: &mut Vec<Import>) {
        self.each_keyword_node(root, |node, at| {
            for (construct, operand) in self.constructs(node) {
                self.read_construct(construct, node, operand, at, out);
            }
        });
    }

    /// The constructs `node` is, each with its string literal (a statement)
    /// or its arguments (a call).
    fn constructs<'t>(&self, node: Node<'t>) -> Vec<(Construct, Node<'t>)> {
        let mut found = Vec::new();
        if !node.is_named() {
            return found;
        }
        match node.kind() {
            "import_statement" => {
                if let Some(source) = field(node, "source", Some("string")) {
                    found.push((Construct::Import, source));
                }
                let mut walk = node.walk();
                let required = node
                    .named_children(&mut walk)
                    .filter(|c| c.kind() == "import_require_clause")
                    .filter_map(|c| field(c, "source", Some("string")));
                found.extend(required.map(|source| (Construct::ImportEquals, source)));
            }
            "export_statement" => {
                if let Some(source) = field(node, "source", Some("string")) {
                    found.push((Construct::ReExport, source));
                }
            }
            "call_expression" => {
                let function = node.child_by_field_name("function");
                let arguments = field(node, "arguments", Some("arguments"));
                let construct = match function {
                    Some(f) if is(f, "identifier") && self.is_text(f, "require") => {
                        Construct::Require
                    }
                    Some(f) if is(f, "import") => Construct::Dynamic,
                    _ => return found,
                };
                found.extend(arguments.map(|a| (construct, a)));
            }
            _ => {}
        }
        found
    }

    /// Reads one construct at `node` into `out`.
    pub(super) fn read_construct<'t>(
        &self,
        construct: Construct,
        node: Node<'t>,
        operand: Node<'t>,
        at: &TreeCursor<'t>,
        out: &mut Vec<Import>,
    ) {
        match construct {
            Construct::Import | Construct::ImportEquals | Construct::ReExport => {
                let Some(spec) = self.js_literal(operand) else {
                    return;
                };
                let kind = match construct {
                    Construct::ImportEquals => ImportKind::ImportEquals,
                    Construct::ReExport => ImportKind::ReExport,
                    _ if is_side_effect_import(node, operand) => ImportKind::SideEffect,
                    _ => ImportKind::Import,
                };
                let type_only = self.has_type_keyword(node);
                out.push(self.import(spec, operand, kind, type_only));
            }
            Construct::Require | Construct::Dynamic => {
                let mut walk = operand.walk();
                let mut args = operand.named_children(&mut walk).filter(|n| !n.is_extra());
                let Some(first) = args.next() else {
                    return;
                };
                // require takes exactly one argument; import() may have
                // options after the specifier.
                if construct == Construct::Require && args.next().is_some() {
                    return;
                }
                let Some(spec) = self.js_literal(first) else {
                    return;
                };
                // `let x: import('m').T` names a type of m: a type-only
                // import, not a dynamic one.
                let (kind, type_only) = if construct == Construct::Require {
                    (ImportKind::Require, false)
                } else if self.is_import_type(at, node) {
                    (ImportKind::ImportType, true)
                } else {
                    (ImportKind::Dynamic, false)
                };
                out.push(self.import(spec, first, kind, type_only));
            }
        }
    }

    /// Whether the `import('m')` call under `at` is a type.
    ///
    /// In a file with syntax errors the tree around the call cannot be
    /// trusted: the grammar has no rule for `import('m').T<Args>`, so such
    /// types break the parse and the call lands in an ERROR node or in an
    /// expression the error recovery made up (and a real call may land in
    /// a made-up type). There the text decides first: a value `import('m')`
    /// is a promise, and `.then`, `.catch` and `.finally` are the only
    /// members code reads from it, so `import('m').Name` is a type for any
    /// other name and a call for those three; `typeof import('m')` is a
    /// type. Otherwise, and in files that parse, [`in_type_position`].
    fn is_import_type(&self, at: &TreeCursor, call: Node) -> bool {
        if in_broken_file(at) {
            let after = self.source.get(call.end_byte()..).unwrap_or_default();
            if let Some(rest) = after.trim_ascii_start().strip_prefix(b".") {
                let rest = rest.trim_ascii_start();
                let name_len = rest
                    .iter()
                    .position(|&b| !is_ident_byte(b))
                    .unwrap_or(rest.len());
                let name = &rest[..name_len];
                if !name.is_empty() {
                    return !matches!(name, b"then" | b"catch" | b"finally");
                }
            }
            let before = self.source.get(..call.start_byte()).unwrap_or_default();
            let before = before.trim_ascii_end();
            if before.ends_with(b"typeof")
                && !before[..before.len() - 6]
                    .last()
                    .is_some_and(|&b| is_ident_byte(b))
            {
                return true;
            }
        }
        in_type_position(at)
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

/// Whether the tree under `at` has syntax errors.
fn in_broken_file(at: &TreeCursor) -> bool {
    let mut up = at.clone();
    while up.goto_parent() {}
    up.node().has_error()
}

/// A byte of a JS identifier (any non-ASCII byte counts: identifiers may
/// hold Unicode letters).
pub(super) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
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
pub(super) fn unescape_js(escape: &str, out: &mut String) {
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

/// Byte offsets of the lines where a top-level TS/JS statement starts:
/// column 0, outside brackets, strings, templates, comments and regular
/// expressions, beginning with an identifier or `@`, after a token that can
/// end a statement (not an operator), and not a word that continues one
/// (`else`, `catch`, `extends`...). A decorator line and what follows stay
/// together. Also the offsets of the words `import`, `require` and `from`
/// written in code (template substitutions included). `None` when the scan
/// ends inside a literal or a bracket.
pub(super) fn typescript_starts(src: &[u8]) -> Option<(Vec<usize>, Vec<usize>)> {
    let mut starts = Vec::new();
    let mut lex = JsLexer {
        src,
        prev: b';',
        prev_keyword: false,
        hits: Vec::new(),
    };
    let mut depth = 0usize;
    let mut line_start = true;
    let mut decorators = false;
    let mut i = 0;
    if src.starts_with(b"#!") {
        while i < src.len() && src[i] != b'\n' {
            i += 1;
        }
    }
    while i < src.len() {
        let b = src[i];
        if std::mem::take(&mut line_start) && depth == 0 {
            let ident = b.is_ascii_alphabetic() || b == b'_' || b == b'$';
            if (ident || b == b'@')
                && !b"=,([{+-*/%&|^!~?:<>.".contains(&lex.prev)
                && !is_clause(&src[i..], JS_CONTINUATIONS)
            {
                if !decorators {
                    starts.push(i);
                }
                decorators = b == b'@';
            }
        }
        if b == b'\n' {
            line_start = true;
            i += 1;
            continue;
        }
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                lex.set(b);
                i += 1;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                lex.set(b);
                i += 1;
            }
            _ => i = lex.token(i)?,
        }
    }
    (depth == 0).then_some((starts, lex.hits))
}

const JS_CONTINUATIONS: &[&[u8]] = &[
    b"else",
    b"catch",
    b"finally",
    b"extends",
    b"implements",
    b"as",
    b"satisfies",
    b"instanceof",
    b"in",
    b"of",
];

/// Words after which a `/` starts a regular expression.
const JS_REGEX_AFTER: &[&[u8]] = &[
    b"return",
    b"typeof",
    b"case",
    b"do",
    b"else",
    b"in",
    b"of",
    b"new",
    b"delete",
    b"void",
    b"throw",
    b"instanceof",
    b"yield",
    b"await",
];

/// Lexes the non-bracket tokens of TS/JS code, remembering the last one.
struct JsLexer<'a> {
    src: &'a [u8],
    /// The last significant byte (`"` after any literal, `a` after a name).
    prev: u8,
    /// The last token was a keyword after which `/` starts a regex.
    prev_keyword: bool,
    /// Where the words `import`, `require` and `from` start.
    hits: Vec<usize>,
}

impl JsLexer<'_> {
    fn set(&mut self, b: u8) {
        self.prev = b;
        self.prev_keyword = false;
    }

    /// Skips the token (or blank, or comment) at `i`, which is not a bracket
    /// or a newline; `None` when the file ends inside it.
    fn token(&mut self, i: usize) -> Option<usize> {
        let src = self.src;
        let b = src[i];
        match b {
            b' ' | b'\t' | b'\r' => Some(i + 1),
            b'/' if src.get(i + 1) == Some(&b'/') => {
                let mut j = i;
                while j < src.len() && src[j] != b'\n' {
                    j += 1;
                }
                Some(j)
            }
            b'/' if src.get(i + 1) == Some(&b'*') => {
                let end = find(src, i + 2, b"*/")?;
                Some(end + 2)
            }
            b'/' => {
                let regex = self.prev_keyword || b"(,=:[!&|?{};+-*%<>~^".contains(&self.prev);
                if regex {
                    if let Some(end) = js_regex(src, i) {
                        self.set(b'"');
                        return Some(end);
                    }
                }
                self.set(b'/');
                Some(i + 1)
            }
            b'\'' | b'"' => {
                self.set(b'"');
                js_string(src, i)
            }
            b'`' => {
                self.set(b'"');
                js_template(src, i, &mut self.hits)
            }
            _ if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80 => {
                let mut j = i;
                while j < src.len() && is_ident_byte(src[j]) {
                    j += 1;
                }
                let word = &src[i..j];
                if matches!(word, b"import" | b"require" | b"from") {
                    self.hits.push(i);
                }
                self.prev = b'a';
                self.prev_keyword = JS_REGEX_AFTER.contains(&word);
                Some(j)
            }
            _ => {
                self.set(b);
                Some(i + 1)
            }
        }
    }
}

fn find(src: &[u8], from: usize, what: &[u8]) -> Option<usize> {
    src.get(from..)?
        .windows(what.len())
        .position(|w| w == what)
        .map(|p| from + p)
}

/// The offset after the string literal at `at` (a newline ends an
/// unterminated one, as in the grammar's recovery).
fn js_string(src: &[u8], at: usize) -> Option<usize> {
    let quote = src[at];
    let mut i = at + 1;
    while i < src.len() {
        match src[i] {
            b'\\' => i += 1,
            b'\n' => return Some(i),
            b if b == quote => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset after the template literal at `at`, substitutions included.
fn js_template(src: &[u8], at: usize, hits: &mut Vec<usize>) -> Option<usize> {
    let mut i = at + 1;
    while i < src.len() {
        match src[i] {
            b'\\' => i += 1,
            b'`' => return Some(i + 1),
            b'$' if src.get(i + 1) == Some(&b'{') => {
                i = js_substitution(src, i + 2, hits)?;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset after the `}` closing a template substitution whose code
/// starts at `at`.
fn js_substitution(src: &[u8], at: usize, hits: &mut Vec<usize>) -> Option<usize> {
    let mut lex = JsLexer {
        src,
        prev: b'{',
        prev_keyword: false,
        hits: std::mem::take(hits),
    };
    let mut depth = 0usize;
    let mut i = at;
    while i < src.len() {
        match src[i] {
            b'(' | b'[' | b'{' => {
                depth += 1;
                lex.set(src[i]);
                i += 1;
            }
            b'}' if depth == 0 => {
                *hits = lex.hits;
                return Some(i + 1);
            }
            b')' | b']' | b'}' => {
                depth -= 1;
                lex.set(src[i]);
                i += 1;
            }
            b'\n' => i += 1,
            _ => i = lex.token(i)?,
        }
    }
    None
}

/// The offset after the regular expression at `at`, or `None` if the line
/// ends first (then the `/` was a division).
fn js_regex(src: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    let mut class = false;
    while i < src.len() {
        match src[i] {
            b'\\' => i += 1,
            b'\n' | b'\r' => return None,
            b'[' => class = true,
            b']' => class = false,
            b'/' if !class => {
                i += 1;
                while i < src.len() && src[i].is_ascii_alphabetic() {
                    i += 1;
                }
                return Some(i);
            }
            _ => {}
        }
        i += 1;
    }
    None
}
