//! Journals beside comm-node's caches (`<cache>.log`), so that a command
//! that changes one thing appends one short line instead of rewriting the
//! cache (1.6 MB of tasks at 10,000 tasks, 120 KB of reservations at 1,000).
//!
//! Each line says what changed from one tree of a state folder to the
//! next: a [`Record`] of the cache that keeps it (a task going from ready
//! to claimed; reservations added and removed). That is a fact about the
//! two trees, whatever history led to them, so a reader may apply any
//! chain of lines that leads from the cache's stamp to the tree it wants;
//! when none does it rebuilds as it would without a journal. Each line ends
//! with its checksum, so a line torn by a kill mid-append (and whatever was
//! appended onto it) is skipped. Writing the cache whole removes the
//! journal.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use git2::Oid;

/// Journal size past which a writer writes the cache whole instead (about
/// 80 claims' or 100 reservations' lines).
pub const COMPACT_BYTES: u64 = 24 * 1024;

/// What one line records about the change between its two trees.
pub trait Record: Sized {
    /// Its text, on one line (tabs allowed).
    fn render(&self) -> String;
    /// The record whose text is `text`; `None` when it is malformed.
    fn parse(text: &str) -> Option<Self>;
}

/// One line: the trees before and after, and what changed between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<R> {
    pub from: Oid,
    pub to: Oid,
    pub record: R,
}

/// The journal beside the cache file `cache`.
pub fn path(cache: &Path) -> PathBuf {
    let mut name = cache.as_os_str().to_owned();
    name.push(".log");
    PathBuf::from(name)
}

/// The steps that lead from tree `from` to tree `to`, in order, taking
/// only records that `fits`; `None` when the journal has no such chain.
pub fn chain<R: Record>(
    cache: &Path,
    from: Oid,
    to: Oid,
    fits: impl Fn(&R) -> bool,
) -> Option<Vec<Step<R>>> {
    let text = fs::read(path(cache)).ok()?;
    let mut at = from;
    let mut hex = at.to_string();
    let mut out = Vec::new();
    // Only the lines that start where the chain is are checked and parsed.
    for line in whole_lines(&text) {
        if !line.starts_with(hex.as_bytes()) {
            continue;
        }
        let Some(step) = parse_line::<R>(line) else {
            continue;
        };
        if step.from != at || !fits(&step.record) {
            continue;
        }
        at = step.to;
        hex = at.to_string();
        out.push(step);
        if at == to {
            return Some(out);
        }
    }
    None
}

/// Appends `step` in one write, after a line break when the journal ends
/// in a torn line (which would otherwise swallow it); returns the
/// journal's size after it.
pub fn append<R: Record>(cache: &Path, step: &Step<R>) -> std::io::Result<u64> {
    let mut file = OpenOptions::new()
        .read(true)
        .create(true)
        .append(true)
        .open(path(cache))?;
    let size = file.metadata()?.len();
    let mut last = [b'\n'];
    if size > 0 {
        file.read_exact_at(&mut last, size - 1)?;
    }
    let mut line = render(step);
    if last != [b'\n'] {
        line.insert(0, '\n');
    }
    file.write_all(line.as_bytes())?;
    Ok(size + line.len() as u64)
}

/// Removes the journal (the cache was written whole).
pub fn remove(cache: &Path) {
    // A journal that cannot be removed only lists facts that stay true.
    let _ = fs::remove_file(path(cache));
}

/// The line of `step`: the trees, the record, then the checksum of all
/// before it.
fn render<R: Record>(step: &Step<R>) -> String {
    let body = format!("{}\t{}\t{}", step.from, step.to, step.record.render());
    let sum = checksum(body.as_bytes());
    format!("{body}\t{sum:016x}\n")
}

/// The lines of `text` that end in a newline, without it.
fn whole_lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split_inclusive(|&b| b == b'\n')
        .filter_map(|line| line.strip_suffix(b"\n"))
}

fn parse_line<R: Record>(line: &[u8]) -> Option<Step<R>> {
    let line = std::str::from_utf8(line).ok()?;
    let (body, sum) = line.rsplit_once('\t')?;
    if u64::from_str_radix(sum, 16).ok()? != checksum(body.as_bytes()) {
        return None;
    }
    let mut fields = body.splitn(3, '\t');
    Some(Step {
        from: Oid::from_str(fields.next()?).ok()?,
        to: Oid::from_str(fields.next()?).ok()?,
        record: R::parse(fields.next()?)?,
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

    impl Record for String {
        fn render(&self) -> String {
            self.clone()
        }
        fn parse(text: &str) -> Option<String> {
            Some(text.to_owned())
        }
    }

    fn step(from: u8, to: u8) -> Step<String> {
        Step {
            from: Oid::from_bytes(&[from; 20]).unwrap(),
            to: Oid::from_bytes(&[to; 20]).unwrap(),
            record: "C\t\tabc\tid-1\ttitle".to_owned(),
        }
    }

    #[test]
    fn a_torn_line_and_what_was_appended_onto_it_are_skipped() {
        let (a, b, c) = (step(1, 2), step(2, 3), step(3, 4));
        let torn = render(&b);
        let text = format!(
            "{}{}{}{}",
            render(&a),
            &torn[..torn.len() / 2],
            render(&c),
            &render(&a)[..10]
        );
        let read: Vec<Step<String>> = whole_lines(text.as_bytes())
            .filter_map(parse_line)
            .collect();
        assert_eq!(read, vec![a]);
    }

    #[test]
    fn a_chain_follows_the_trees_past_other_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        for s in [step(1, 2), step(7, 8), step(2, 3), step(3, 4)] {
            append(&cache, &s).unwrap();
        }
        let to = |n: u8| Oid::from_bytes(&[n; 20]).unwrap();
        let got = chain::<String>(&cache, to(1), to(4), |_| true).unwrap();
        assert_eq!(got, vec![step(1, 2), step(2, 3), step(3, 4)]);
        assert!(chain::<String>(&cache, to(1), to(4), |r| r.is_empty()).is_none());
        assert!(chain::<String>(&cache, to(4), to(1), |_| true).is_none());
        // A torn line at the end does not swallow the next one.
        let torn = render(&step(4, 5));
        let mut file = OpenOptions::new().append(true).open(path(&cache)).unwrap();
        file.write_all(&torn.as_bytes()[..torn.len() / 2]).unwrap();
        append(&cache, &step(4, 6)).unwrap();
        let got = chain::<String>(&cache, to(1), to(6), |_| true).unwrap();
        assert_eq!(got.last(), Some(&step(4, 6)));
        remove(&cache);
        assert!(!path(&cache).exists());
    }
}
