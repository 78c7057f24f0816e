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

/// Whether `rest` begins with one of `words` as a whole word.
pub(super) fn is_clause(rest: &[u8], words: &[&[u8]]) -> bool {
    words.iter().any(|w| {
        rest.starts_with(w)
            && !rest
                .get(w.len())
                .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
    })
}

#[cfg(test)]
mod tests {
    use super::super::python::python_starts;
    use super::super::typescript::typescript_starts;
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
        let pairs = |kept: Option<Vec<Range<usize>>>| {
            kept.map(|v| v.into_iter().map(|r| (r.start, r.end)).collect::<Vec<_>>())
        };
        // statements at 0, 10, 20, 30; keywords at 12 and 25
        assert_eq!(
            pairs(select(&[0, 10, 20, 30], 100, &[12, 25])),
            Some(vec![(10, 30)])
        );
        assert_eq!(pairs(select(&[0, 10, 20, 30], 100, &[])), Some(vec![]));
        assert_eq!(pairs(select(&[0, 10], 100, &[50])), None);
        // text before the first statement is kept with nothing
        assert_eq!(pairs(select(&[5, 50], 100, &[1])), Some(vec![(0, 5)]));
    }
}
