//! Parse less: the byte ranges of a file that can hold an import.
//!
//! A cheap pre-scan lexes just enough of the file (strings, comments,
//! brackets, and for TS/JS template literals and regular expressions) to
//! find where each *top-level statement* starts. The statements holding one
//! of the language's keywords (see `KEYWORDS` in `mod.rs`) are kept whole,
//! so everything the readers look at (the statement, its `type` keyword,
//! the `if TYPE_CHECKING:` around an import, the type annotation around an
//! `import('m')`) is inside what is parsed; the rest is left out with
//! tree-sitter's included ranges, which keep every byte offset, line and
//! column as in the whole file.
//!
//! A statement parses the same alone as among its neighbours, so this gives
//! the imports of a whole-file parse, provided the statements were cut in
//! the right places. The scan errs toward not cutting (a line it is unsure
//! of joins the statement before it), gives up (`None`: parse the whole
//! file) when it ends inside a literal or a bracket, and the caller parses
//! the whole file again when the ranges parse with any syntax error.

use std::ops::Range;

/// Kept ranges covering more than this share of the file (in percent) are
/// not worth the bookkeeping: the whole file is parsed instead.
const MAX_SHARE: usize = 70;

/// The ranges to parse: whole top-level statements containing one of
/// `keywords` (sorted byte offsets of keyword starts), adjacent ones merged.
/// `Some(empty)`: nothing can import; `None`: parse the whole file.
pub(super) fn select(
    starts: &[usize],
    len: usize,
    keywords: &[usize],
) -> Option<Vec<Range<usize>>> {
    let mut kept: Vec<Range<usize>> = Vec::new();
    let mut total = 0;
    let mut bounds = starts.iter().copied().chain(std::iter::once(len));
    let mut from = 0;
    // Statements before the first start (comments, blank lines) join it.
    for to in &mut bounds {
        if to == 0 {
            continue;
        }
        let first = keywords.partition_point(|&k| k < from);
        if keywords.get(first).is_some_and(|&k| k < to) {
            total += to - from;
            match kept.last_mut() {
                Some(last) if last.end == from => last.end = to,
                _ => kept.push(from..to),
            }
        }
        from = to;
    }
    if total * 100 > len * MAX_SHARE {
        return None;
    }
    Some(kept)
}

// ---- Python ----

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

/// Whether `rest` begins with one of `words` as a whole word.
fn is_clause(rest: &[u8], words: &[&[u8]]) -> bool {
    words.iter().any(|w| {
        rest.starts_with(w)
            && !rest
                .get(w.len())
                .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
    })
}

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

// ---- TypeScript, TSX, JavaScript ----

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
                while j < src.len() && super::readers::is_ident_byte(src[j]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(src: &str, starts: &[usize]) -> Vec<String> {
        starts
            .iter()
            .map(|&s| src[s..].lines().next().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn python_statements_start_at_column_zero_outside_literals() {
        let src = "import a\n\"\"\"doc\nimport b\n\"\"\"\nx = (1,\n2)\n@dec\n@dec2\ndef f():\n    import c\n# c\nelse_ = 1\nif x:\n    pass\nelse:\n    pass\ny = f'{a:{b}}' \\\nz\nq = f\"{x[\"k\"]}\"\n";
        let (starts, hits) = python_starts(src.as_bytes()).unwrap();
        // `import b` in the docstring is not code
        assert_eq!(lines(src, &hits), ["import a", "import c"]);
        assert_eq!(
            lines(src, &starts),
            [
                "import a",
                "\"\"\"doc",
                "x = (1,",
                "@dec",
                "else_ = 1",
                "if x:",
                "y = f'{a:{b}}' \\",
                "q = f\"{x[\"k\"]}\""
            ]
        );
        assert_eq!(python_starts(b"x = '''open"), None);
        assert_eq!(python_starts(b"x = (1,"), None);
    }

    #[test]
    fn typescript_statements_start_at_column_zero_outside_literals() {
        let src = "import a from 'a';\nconst r = /[/'`]/g\nconst t = `${`x` + '}'}\nimport b`;\nlet x =\ny;\nif (a) {\n}\nelse {\n}\n@Component({})\nexport class C {}\nfunction f() {\n  return require('x');\n}\n/* import c */\nlet z = a / b / c;\n";
        let (starts, hits) = typescript_starts(src.as_bytes()).unwrap();
        // not the `import` inside the template's text nor the comment's
        assert_eq!(
            lines(src, &hits),
            ["import a from 'a';", "from 'a';", "require('x');"]
        );
        assert_eq!(
            lines(src, &starts),
            [
                "import a from 'a';",
                "const r = /[/'`]/g",
                "const t = `${`x` + '}'}",
                "let x =",
                "if (a) {",
                "@Component({})",
                "function f() {",
                "let z = a / b / c;"
            ]
        );
        assert_eq!(typescript_starts(b"let s = `open"), None);
    }

    #[test]
    fn only_statements_holding_a_keyword_are_kept() {
        // statements at 0, 10, 20, 30; keywords at 12 and 25
        assert_eq!(select(&[0, 10, 20, 30], 100, &[12, 25]), Some(vec![10..30]));
        assert_eq!(select(&[0, 10, 20, 30], 100, &[]), Some(vec![]));
        assert_eq!(select(&[0, 10], 100, &[50]), None);
        // text before the first statement is kept with nothing
        assert_eq!(select(&[5, 50], 100, &[1]), Some(vec![0..5]));
    }
}
