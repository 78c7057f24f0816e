//! The fallback for TS/JS files with syntax errors: tree-sitter's error
//! recovery can swallow an import into an ERROR node where no reader
//! looks for it (after `type X = import('a').T<{a: 1}>` with no `;`,
//! the next line's `import {y} from './y'` is split between an ERROR node
//! and a stray string). Every `import`, `export` and `require` written
//! inside an ERROR node (outside comments and strings) is read again here,
//! token by token; what it imports is added unless the tree already gave an
//! import at that position. A word that this reading cannot make sense of
//! either makes the file *incomplete*: its imports may be missing, and the
//! check says so.

use std::ops::Range;

use tree_sitter::Node;

use super::readers::Cx;
use super::typescript::{is_ident_byte, unescape_js};
use crate::boundary::{Import, ImportKind};

/// What reading one keyword gave.
enum Read {
    /// An import, and the byte offset of its spec's opening quote.
    Import(usize, String, ImportKind, bool),
    /// Not an import (`import.meta`, `export const`, `require(name)`…).
    Nothing,
    /// Unreadable: an import may be hidden here.
    Unknown,
}

impl Cx<'_> {
    /// Reads the keywords inside the ERROR nodes under `root` again, adds
    /// the imports the tree missed to `out`, and returns whether every one
    /// of them could be read (`false`: imports may be missing).
    pub(super) fn typescript_fallback(&self, root: Node, out: &mut Vec<Import>) -> bool {
        let mut errors = Vec::new();
        outermost_errors(root, &mut errors);
        let line_starts: Vec<usize> = std::iter::once(0)
            .chain(
                self.source
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        // Inside a large ERROR node tree-sitter may have lexed a comment
        // as code (a backtick in a doc comment opening a "template"), so
        // comments and strings are found again from the start of the file.
        let mut literals: Option<Vec<Range<usize>>> = None;
        let mut complete = true;
        let mut seen: Vec<(u32, u32)> = out.iter().map(|i| (i.line, i.column)).collect();
        for error in errors {
            let range = error.byte_range();
            let text = self.source.get(range.clone()).unwrap_or_default();
            for word in [&b"import"[..], b"export", b"require"] {
                for at in word_offsets(text, word) {
                    let at = range.start + at;
                    let literals = literals.get_or_insert_with(|| non_code(self.source));
                    let inside = literals.partition_point(|r| r.end <= at);
                    if literals.get(inside).is_some_and(|r| r.start <= at) {
                        continue;
                    }
                    match read(self.source, at, word) {
                        Read::Import(quote, spec, kind, type_only) => {
                            let pos = position(self.source, &line_starts, quote);
                            if seen.contains(&pos) {
                                continue;
                            }
                            seen.push(pos);
                            out.push(Import::unnamed(spec, pos, kind, type_only));
                        }
                        Read::Nothing => {}
                        Read::Unknown => complete = false,
                    }
                }
            }
        }
        complete
    }
}

/// The ERROR nodes under `root` that have no ERROR ancestor, in order.
/// Walks with a cursor, not recursion: nesting depth is the file's to
/// choose.
fn outermost_errors<'t>(root: Node<'t>, out: &mut Vec<Node<'t>>) {
    let mut walk = root.walk();
    loop {
        let node = walk.node();
        if node.is_error() {
            out.push(node);
        } else if node.has_error() && walk.goto_first_child() {
            continue;
        }
        while !walk.goto_next_sibling() {
            if !walk.goto_parent() {
                return;
            }
        }
    }
}

/// Offsets in `text` where `word` stands alone: not part of a longer
/// identifier, not a member name (`x.import`).
fn word_offsets(text: &[u8], word: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = 0;
    while i + word.len() <= text.len() {
        if text[i..].starts_with(word)
            && !text.get(i + word.len()).is_some_and(|&b| is_ident_byte(b))
            && !(i > 0 && (is_ident_byte(text[i - 1]) || text[i - 1] == b'.'))
        {
            found.push(i);
            i += word.len();
        } else {
            i += 1;
        }
    }
    found
}

/// 1-based line and character column of byte `at`.
fn position(source: &[u8], line_starts: &[usize], at: usize) -> (u32, u32) {
    let line = line_starts.partition_point(|&s| s <= at).max(1) - 1;
    let before = source.get(line_starts[line]..at).unwrap_or_default();
    let column = before.iter().filter(|&&b| (b & 0xC0) != 0x80).count();
    (
        u32::try_from(line + 1).unwrap_or(u32::MAX),
        u32::try_from(column + 1).unwrap_or(u32::MAX),
    )
}

/// A token of the little reader below.
#[derive(Debug, PartialEq)]
enum Token<'a> {
    Word(&'a [u8]),
    /// A string or substitution-free template literal: its opening quote's
    /// offset and its value.
    Str(usize, String),
    Punct(u8),
    /// A template with substitutions, or the end of the file.
    Other,
}

/// Reads tokens from a byte offset on, skipping blanks and comments.
struct Lexer<'a> {
    source: &'a [u8],
    at: usize,
}

impl<'a> Lexer<'a> {
    fn skip_blanks(&mut self) {
        loop {
            let rest = &self.source[self.at.min(self.source.len())..];
            if let Some(&b) = rest.first() {
                if b.is_ascii_whitespace() {
                    self.at += 1;
                    continue;
                }
            }
            if rest.starts_with(b"//") {
                let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                self.at += end;
                continue;
            }
            if rest.starts_with(b"/*") {
                let end = rest[2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(rest.len(), |e| e + 4);
                self.at += end;
                continue;
            }
            return;
        }
    }

    fn next(&mut self) -> Token<'a> {
        self.skip_blanks();
        let source = self.source;
        let Some(&b) = source.get(self.at) else {
            return Token::Other;
        };
        let start = self.at;
        if is_ident_byte(b) {
            let len = source[start..]
                .iter()
                .position(|&b| !is_ident_byte(b))
                .unwrap_or(source.len() - start);
            self.at += len;
            return Token::Word(&source[start..start + len]);
        }
        if matches!(b, b'\'' | b'"' | b'`') {
            return self.literal(b);
        }
        self.at += 1;
        Token::Punct(b)
    }

    /// A string literal opening at `self.at` with `quote`.
    fn literal(&mut self, quote: u8) -> Token<'a> {
        let start = self.at;
        let mut i = start + 1;
        let mut value = String::new();
        let mut plain = start + 1;
        while let Some(&b) = self.source.get(i) {
            if b == quote {
                value.push_str(&String::from_utf8_lossy(&self.source[plain..i]));
                self.at = i + 1;
                return Token::Str(start, value);
            }
            if (b == b'\n' && quote != b'`')
                || (quote == b'`' && self.source[i..].starts_with(b"${"))
            {
                break;
            }
            if b == b'\\' {
                value.push_str(&String::from_utf8_lossy(&self.source[plain..i]));
                let len = escape_len(&self.source[i..]);
                unescape_js(
                    &String::from_utf8_lossy(&self.source[i..i + len]),
                    &mut value,
                );
                i += len;
                plain = i;
                continue;
            }
            i += 1;
        }
        self.at = i;
        Token::Other
    }
}

/// The length in bytes of the escape sequence at the start of `rest`.
fn escape_len(rest: &[u8]) -> usize {
    let hex_run = |from: usize, max: usize| {
        rest[from.min(rest.len())..]
            .iter()
            .take(max)
            .take_while(|b| b.is_ascii_hexdigit())
            .count()
    };
    match rest.get(1) {
        None => 1,
        Some(b'x') => 2 + hex_run(2, 2),
        Some(b'u') if rest.get(2) == Some(&b'{') => rest
            .iter()
            .position(|&b| b == b'}')
            .map_or(rest.len(), |e| e + 1),
        Some(b'u') => 2 + hex_run(2, 4),
        Some(b'\r') if rest.get(2) == Some(&b'\n') => 3,
        // One character, whatever its UTF-8 length.
        Some(&b) => {
            1 + match b {
                0xF0.. => 4,
                0xE0.. => 3,
                0xC0.. => 2,
                _ => 1,
            }
            .min(rest.len() - 1)
        }
    }
}

/// Reads the construct that the keyword `word` at `at` starts.
fn read(source: &[u8], at: usize, word: &[u8]) -> Read {
    let mut lex = Lexer {
        source,
        at: at + word.len(),
    };
    match word {
        b"require" => match (lex.next(), lex.next(), lex.next()) {
            (Token::Punct(b'('), Token::Str(quote, spec), Token::Punct(b')')) => {
                Read::Import(quote, spec, ImportKind::Require, false)
            }
            _ => Read::Nothing,
        },
        b"export" => read_export(&mut lex),
        _ => read_import(source, at, &mut lex),
    }
}

/// After `export`: `[type] * [as n] from 'm'` or `[type] {…} from 'm'`.
fn read_export(lex: &mut Lexer) -> Read {
    let mut token = lex.next();
    let mut type_only = false;
    if token == Token::Word(b"type") {
        type_only = true;
        token = lex.next();
    }
    match token {
        Token::Punct(b'*') => {
            token = lex.next();
            if token == Token::Word(b"as") {
                match lex.next() {
                    Token::Word(_) | Token::Str(..) => token = lex.next(),
                    _ => return Read::Unknown,
                }
            }
        }
        Token::Punct(b'{') => {
            if !skip_braces(lex) {
                return Read::Unknown;
            }
            token = lex.next();
            if token != Token::Word(b"from") {
                // `export {a, b}`: a local export.
                return Read::Nothing;
            }
        }
        // `export const`, `export default`, `export =`, `export import`…
        _ => return Read::Nothing,
    }
    match (token, lex.next()) {
        (Token::Word(b"from"), Token::Str(quote, spec)) => {
            Read::Import(quote, spec, ImportKind::ReExport, type_only)
        }
        _ => Read::Unknown,
    }
}

/// After `import`: a call, `import.meta`, a side-effect import, an import
/// clause and `from`, or `x = require('m')`.
fn read_import(source: &[u8], at: usize, lex: &mut Lexer) -> Read {
    let mut token = lex.next();
    match token {
        Token::Punct(b'(') => {
            let Token::Str(quote, spec) = lex.next() else {
                return Read::Nothing;
            };
            if !matches!(lex.next(), Token::Punct(b')' | b',')) {
                return Read::Nothing;
            }
            let is_type = member_after(source, lex)
                .is_some_and(|name| !matches!(name, b"then" | b"catch" | b"finally"))
                || typeof_before(source, at);
            return if is_type {
                Read::Import(quote, spec, ImportKind::ImportType, true)
            } else {
                Read::Import(quote, spec, ImportKind::Dynamic, false)
            };
        }
        // `import.meta`; `{import: x}`, `a?.import`…
        Token::Punct(b'.' | b':' | b'?' | b',' | b')' | b'}' | b']' | b';') => {
            return Read::Nothing
        }
        Token::Str(quote, spec) => return Read::Import(quote, spec, ImportKind::SideEffect, false),
        _ => {}
    }
    let mut type_only = false;
    if token == Token::Word(b"type") {
        // `import type from 'm'` / `import type, {a} from 'm'` import a
        // default export named `type`.
        let mut peek = Lexer {
            source: lex.source,
            at: lex.at,
        };
        let after = peek.next();
        if after != Token::Word(b"from") && after != Token::Punct(b',') {
            type_only = true;
            token = lex.next();
        } else if after == Token::Word(b"from") {
            let mut peek2 = Lexer {
                source: peek.source,
                at: peek.at,
            };
            if let Token::Word(_) = peek2.next() {
                // `import type from from 'm'`
                type_only = true;
                token = lex.next();
            }
        }
    }
    // The clause: `x`, `x, {…}`, `x, * as n`, `{…}`, `* as n`.
    if let Token::Word(name) = token {
        if name == b"from" {
            // `import from 'm'` is not valid; `import from from 'm'` is.
            let mut peek = Lexer {
                source: lex.source,
                at: lex.at,
            };
            if let Token::Str(..) = peek.next() {
                return Read::Unknown;
            }
        }
        token = lex.next();
        if token == Token::Punct(b'=') {
            return match (lex.next(), lex.next(), lex.next(), lex.next()) {
                (
                    Token::Word(b"require"),
                    Token::Punct(b'('),
                    Token::Str(quote, spec),
                    Token::Punct(b')'),
                ) => Read::Import(quote, spec, ImportKind::ImportEquals, type_only),
                // `import x = A.B`: an alias, not an import.
                (Token::Word(w), _, _, _) if w != b"require" => Read::Nothing,
                _ => Read::Unknown,
            };
        }
        if token == Token::Punct(b',') {
            token = lex.next();
        } else {
            return from_clause(token, lex, type_only);
        }
    }
    match token {
        Token::Punct(b'{') => {
            if !skip_braces(lex) {
                return Read::Unknown;
            }
        }
        Token::Punct(b'*') => match (lex.next(), lex.next()) {
            (Token::Word(b"as"), Token::Word(_)) => {}
            _ => return Read::Unknown,
        },
        _ => return Read::Unknown,
    }
    let token = lex.next();
    from_clause(token, lex, type_only)
}

/// `from 'm'`, `token` being the first word.
fn from_clause(token: Token, lex: &mut Lexer, type_only: bool) -> Read {
    match (token, lex.next()) {
        (Token::Word(b"from"), Token::Str(quote, spec)) => {
            Read::Import(quote, spec, ImportKind::Import, type_only)
        }
        _ => Read::Unknown,
    }
}

/// Skips an import or export list after its `{`: names, strings, `as`,
/// `type`, commas; `false` at anything else.
fn skip_braces(lex: &mut Lexer) -> bool {
    loop {
        match lex.next() {
            Token::Punct(b'}') => return true,
            Token::Word(_) | Token::Str(..) | Token::Punct(b',') => {}
            _ => return false,
        }
    }
}

/// The name in `.name` right after the lexer's position, if any.
fn member_after<'a>(source: &'a [u8], lex: &Lexer<'a>) -> Option<&'a [u8]> {
    let mut peek = Lexer { source, at: lex.at };
    match (peek.next(), peek.next()) {
        (Token::Punct(b'.'), Token::Word(name)) => Some(name),
        _ => None,
    }
}

/// Whether the word before `at` is `typeof`.
fn typeof_before(source: &[u8], at: usize) -> bool {
    let before = source.get(..at).unwrap_or_default().trim_ascii_end();
    before.ends_with(b"typeof")
        && !before[..before.len() - 6]
            .last()
            .is_some_and(|&b| is_ident_byte(b))
}

/// The byte ranges of comments, string, template and regex literals in a
/// JS/TS source, in order, found by a lexer that knows nothing else (a `/`
/// starts a regex where an operand is expected: after an operator, an
/// opening bracket, a keyword or nothing). Template substitutions are code.
fn non_code(source: &[u8]) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    // Open template substitutions: the brace depth inside each.
    let mut templates: Vec<usize> = Vec::new();
    // Whether a `/` here would divide (the last token ends an operand).
    let mut after_operand = false;
    let mut i = 0;
    while i < source.len() {
        let b = source[i];
        let rest = &source[i..];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(source.len(), |e| i + e);
            ranges.push(i..end);
            i = end;
            continue;
        }
        if rest.starts_with(b"/*") {
            let end = rest[2..]
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(source.len(), |e| i + e + 4);
            ranges.push(i..end);
            i = end;
            continue;
        }
        match b {
            b'\'' | b'"' => {
                let mut j = i + 1;
                while j < source.len() && source[j] != b && source[j] != b'\n' {
                    j += if source[j] == b'\\' { 2 } else { 1 };
                }
                let end = (j + 1).min(source.len());
                ranges.push(i..end);
                i = end;
                after_operand = true;
            }
            b'`' => {
                i = template_part(source, i + 1, &mut ranges, &mut templates, i);
                after_operand = true;
            }
            b'}' if templates.last() == Some(&0) => {
                templates.pop();
                i = template_part(source, i + 1, &mut ranges, &mut templates, i);
                after_operand = true;
            }
            b'/' if !after_operand => {
                // A regex: to the closing `/` outside a class, then flags.
                let mut j = i + 1;
                let mut class = false;
                while j < source.len() && source[j] != b'\n' {
                    match source[j] {
                        b'\\' => j += 1,
                        b'[' => class = true,
                        b']' => class = false,
                        b'/' if !class => break,
                        _ => {}
                    }
                    j += 1;
                }
                j += 1;
                while j < source.len() && is_ident_byte(source[j]) {
                    j += 1;
                }
                let end = j.min(source.len());
                ranges.push(i..end);
                i = end;
                after_operand = true;
            }
            _ if is_ident_byte(b) => {
                let len = rest
                    .iter()
                    .position(|&b| !is_ident_byte(b))
                    .unwrap_or(rest.len());
                let word = &rest[..len];
                after_operand = !matches!(
                    word,
                    b"return"
                        | b"typeof"
                        | b"case"
                        | b"do"
                        | b"else"
                        | b"in"
                        | b"of"
                        | b"new"
                        | b"delete"
                        | b"void"
                        | b"throw"
                        | b"instanceof"
                        | b"yield"
                        | b"await"
                );
                i += len;
            }
            _ => {
                if let Some(depth) = templates.last_mut() {
                    match b {
                        b'{' => *depth += 1,
                        b'}' => *depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
                after_operand = matches!(b, b')' | b']' | b'}');
                i += 1;
            }
        }
    }
    ranges
}

/// Reads a template's literal text from `i` (after a backtick or the `}`
/// closing a substitution, at `start`) to its end or the next `${`, and
/// records it; returns where the code goes on.
fn template_part(
    source: &[u8],
    mut i: usize,
    ranges: &mut Vec<Range<usize>>,
    templates: &mut Vec<usize>,
    start: usize,
) -> usize {
    while i < source.len() {
        match source[i] {
            b'\\' => i += 2,
            b'`' => {
                ranges.push(start..i + 1);
                return i + 1;
            }
            b'$' if source.get(i + 1) == Some(&b'{') => {
                ranges.push(start..i + 2);
                templates.push(0);
                return i + 2;
            }
            _ => i += 1,
        }
    }
    ranges.push(start..source.len());
    source.len()
}
