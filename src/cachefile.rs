//! comm-node's rebuildable caches under `.git/comm-node/`: escaping for
//! their tab-separated lines (a field never holds a raw tab, line break, or
//! the two list separators the caches use, `,` and U+001F), and atomic
//! writes (a reader sees the old file or the new one, never half of one).

use std::borrow::Cow;
use std::fs;
use std::path::Path;

/// The separator between the items of a list field.
pub const ITEM: char = '\u{1f}';

/// Replaces the file at `path` with `text` through a rename, creating its
/// directory first.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    write_bytes_atomic(path, text.as_bytes())
}

/// [`write_atomic`] for bytes.
pub fn write_bytes_atomic(path: &Path, text: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)
}

/// `text` with `\`, tab, CR, LF, `,` and [`ITEM`] escaped.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['\\', '\t', '\n', '\r', ',', ITEM]) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ',' => out.push_str("\\c"),
            ITEM => out.push_str("\\u"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The text [`escape`] was given.
pub fn unescape(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('c') => out.push(','),
            Some('u') => out.push(ITEM),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_survive_escaping() {
        for text in [
            "plain",
            "tab\there",
            "new\nline\r",
            "back\\slash\\t",
            "a,b",
            "sep\u{1f}x",
            "",
        ] {
            assert_eq!(unescape(&escape(text)), text);
            assert!(!escape(text).contains(['\t', '\n', '\r', ',', ITEM]));
        }
    }
}
