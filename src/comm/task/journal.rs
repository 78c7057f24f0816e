//! The claims made since the task cache was last written whole, beside it
//! in `tasks-v3.log`, so that a claim appends one short line instead of
//! rewriting the cache (1.6 MB at 10,000 tasks).
//!
//! Each line says that from one `tasks/` tree to the next (with the same
//! `artifacts/` tree) the only change was one task going from ready to
//! claimed, and gives its new cache line. That is a fact about the two
//! trees, whatever history led to them, so a reader may apply any chain of
//! lines that leads from the cache's stamp to the tree it wants; when none
//! does it catches up as before. Each line ends with its checksum, so a
//! line torn by a kill mid-append (and whatever was appended onto it) is
//! skipped. Writing the cache whole removes the journal.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use git2::Oid;

/// Journal size past which a claim writes the cache whole instead (about
/// 80 claims' lines).
pub const COMPACT_BYTES: u64 = 24 * 1024;

/// One claim: the trees before and after, and the task's new cache line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub from: Oid,
    pub to: Oid,
    pub artifacts: Option<Oid>,
    /// The claimed task's cache line, without its newline.
    pub line: String,
}

/// The journal beside the cache file `cache`.
pub fn path(cache: &Path) -> PathBuf {
    let mut name = cache.as_os_str().to_owned();
    name.push(".log");
    PathBuf::from(name)
}

/// The lines that lead from tree `from` to tree `to` (both with
/// `artifacts`), in order; `None` when the journal has no such chain.
pub fn chain(cache: &Path, from: Oid, to: Oid, artifacts: Option<Oid>) -> Option<Vec<Moved>> {
    let text = fs::read(path(cache)).ok()?;
    let mut at = from;
    let mut hex = at.to_string();
    let mut out = Vec::new();
    // Only the lines that start where the chain is are checked and parsed.
    for line in whole_lines(&text) {
        if !line.starts_with(hex.as_bytes()) {
            continue;
        }
        let Some(moved) = parse_line(line) else {
            continue;
        };
        if moved.from != at || moved.artifacts != artifacts {
            continue;
        }
        at = moved.to;
        hex = at.to_string();
        out.push(moved);
        if at == to {
            return Some(out);
        }
    }
    None
}

/// Appends `moved` in one write; returns the journal's size after it.
pub fn append(cache: &Path, moved: &Moved) -> std::io::Result<u64> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path(cache))?;
    file.write_all(render(moved).as_bytes())?;
    Ok(file.metadata()?.len())
}

/// Removes the journal (the cache was written whole).
pub fn remove(cache: &Path) {
    // A journal that cannot be removed only lists facts that stay true.
    let _ = fs::remove_file(path(cache));
}

/// The line of `moved`: the trees, the cache line, then the checksum of
/// all before it.
fn render(moved: &Moved) -> String {
    let artifacts = moved
        .artifacts
        .map_or_else(|| "-".to_owned(), |a| a.to_string());
    let body = format!("{}\t{}\t{artifacts}\t{}", moved.from, moved.to, moved.line);
    let sum = checksum(body.as_bytes());
    format!("{body}\t{sum:016x}\n")
}

/// The lines of `text` that end in a newline, without it.
fn whole_lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split_inclusive(|&b| b == b'\n')
        .filter_map(|line| line.strip_suffix(b"\n"))
}

fn parse_line(line: &[u8]) -> Option<Moved> {
    let line = std::str::from_utf8(line).ok()?;
    let (body, sum) = line.rsplit_once('\t')?;
    if u64::from_str_radix(sum, 16).ok()? != checksum(body.as_bytes()) {
        return None;
    }
    let mut fields = body.splitn(4, '\t');
    let from = Oid::from_str(fields.next()?).ok()?;
    let to = Oid::from_str(fields.next()?).ok()?;
    let artifacts = match fields.next()? {
        "-" => None,
        a => Some(Oid::from_str(a).ok()?),
    };
    Some(Moved {
        from,
        to,
        artifacts,
        line: fields.next()?.to_owned(),
    })
}

/// FNV-1a, 64 bits: enough to tell a torn line from a whole one.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(from: u8, to: u8) -> Moved {
        Moved {
            from: Oid::from_bytes(&[from; 20]).unwrap(),
            to: Oid::from_bytes(&[to; 20]).unwrap(),
            artifacts: None,
            line: "C\t\tabc\tid-1\ttitle".to_owned(),
        }
    }

    #[test]
    fn a_torn_line_and_what_was_appended_onto_it_are_skipped() {
        let (a, b, c) = (moved(1, 2), moved(2, 3), moved(3, 4));
        let torn = render(&b);
        let text = format!(
            "{}{}{}{}",
            render(&a),
            &torn[..torn.len() / 2],
            render(&c),
            &render(&a)[..10]
        );
        let read: Vec<Moved> = whole_lines(text.as_bytes())
            .filter_map(parse_line)
            .collect();
        assert_eq!(read, vec![a]);
    }
}
