//! Parsed reservations under `.git/comm-node/`: one line per reservation,
//! tab-separated (blob, id, domain, mode, created, expires, task, reason,
//! globs..., each escaped), which parses several times faster than JSON,
//! after a first line naming the `reservations/` tree the lines list.
//!
//! While that tree is the tip's, a command reads the file and no tree. The
//! lines are kept as text and read field by field ([`Raw`]): a conflict
//! check parses only the reservations whose globs could meet its own, and
//! a writer records the state it committed by copying the lines it kept.
//! Lines are keyed by blob id (content-addressed), so a cache written for
//! another tree still answers for every file whose blob it knows.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use git2::Oid;

use super::{Mode, Reservation, DIR};
use crate::cachefile::{escape, unescape};
use crate::comm::{CommError, Snapshot};
use crate::git::Repo;

/// Cache entries that may be missing or stale before a reader rewrites it
/// (a file creation per command is dearer than parsing a few reservations
/// again; `verify` reads every past state).
const SLACK: usize = 16;
/// The start of the first line, before the tree it lists.
const MAGIC: &str = "comm-node reservations v3\t";

/// Calls `f` with the reservations at the snapshot's tip as cache lines:
/// the cache's own when it was written for the tip's `reservations/` tree
/// (each line split once), else lines built from that tree.
pub(super) fn with_lines<R>(
    snapshot: &Snapshot,
    f: impl FnOnce(&[Raw]) -> Result<R, CommError>,
) -> Result<R, CommError> {
    let repo = snapshot.repo();
    let tree = match snapshot.tip() {
        Some(tip) => repo.dir_id_at(tip, DIR)?,
        None => None,
    };
    let Some(tree) = tree else {
        return f(&[]);
    };
    let text = fs::read_to_string(file(repo)).unwrap_or_default();
    let current = text.strip_prefix(&header(tree)).and_then(|body| {
        let rows: Option<Vec<Raw>> = body.lines().map(Raw::of).collect();
        rows
    });
    if let Some(rows) = current {
        return f(&rows);
    }
    let built = rebuild(repo, tree, &text)?;
    let rows: Vec<Raw> = built.lines().skip(1).filter_map(Raw::of).collect();
    f(&rows)
}

/// The cache's text for `reservations/` tree `tree`: its listing, with the
/// lines of the cache `text` for the blobs it knows and the other files
/// parsed; written back once enough lines were missing or stale.
fn rebuild(repo: &Repo, tree: Oid, text: &str) -> Result<String, CommError> {
    let files = crate::comm::shard::files(repo, tree)?;
    let mut cached = index(text);
    let mut out = header(tree);
    let mut missed = 0;
    for (name, blob) in &files {
        match cached.remove(blob) {
            Some(line) => out.push_str(line),
            None => {
                missed += 1;
                out.push_str(&line(*blob, &super::parse_file(repo, name, *blob)?));
            }
        }
        out.push('\n');
    }
    if missed + cached.len() > SLACK || (missed > 0 && missed == files.len()) {
        // A cache that cannot be written is only slower next time.
        let _ = crate::cachefile::write_atomic(&file(repo), &out);
    }
    Ok(out)
}

/// The lines of the reservations of `rows` that `keep` keeps, as a
/// cache's text.
pub(super) fn kept(rows: &[Raw], keep: impl Fn(&Raw) -> bool) -> String {
    let mut out = String::with_capacity(rows.iter().map(|r| r.line.len() + 1).sum());
    for raw in rows.iter().filter(|r| keep(r)) {
        out.push_str(raw.line);
        out.push('\n');
    }
    out
}

/// One reservation's cache line, split into fields without unescaping.
pub(super) struct Raw<'t> {
    line: &'t str,
    blob: &'t str,
    /// Escaped, as every text field.
    pub id: &'t str,
    pub domain: &'t str,
    pub mode: Mode,
    created: i64,
    pub expires: i64,
    task: &'t str,
    reason: &'t str,
    /// The globs, tab-separated.
    globs: &'t str,
}

impl<'t> Raw<'t> {
    /// The fields of `line`; `None` when it is malformed.
    pub(super) fn of(line: &'t str) -> Option<Raw<'t>> {
        let mut f = line.splitn(9, '\t');
        let hex = |b: &&str| b.len() == 40 && b.bytes().all(|c| c.is_ascii_hexdigit());
        let blob = f.next().filter(hex)?;
        let raw = Raw {
            line,
            blob,
            id: f.next()?,
            domain: f.next()?,
            mode: match f.next()? {
                "exclusive" => Mode::Exclusive,
                "shared" => Mode::Shared,
                _ => return None,
            },
            created: f.next()?.parse().ok()?,
            expires: f.next()?.parse().ok()?,
            task: f.next()?,
            reason: f.next()?,
            globs: f.next().filter(|g| !g.is_empty())?,
        };
        Some(raw)
    }

    /// Whether it still counts at `now`.
    pub(super) fn is_live(&self, now: i64) -> bool {
        now < self.expires
    }

    /// Its globs, unescaped.
    pub(super) fn globs(&self) -> impl Iterator<Item = Cow<'t, str>> {
        self.globs.split('\t').map(|g| match g.contains('\\') {
            true => Cow::Owned(unescape(g)),
            false => Cow::Borrowed(g),
        })
    }

    /// The reservation, parsed whole.
    pub(super) fn reservation(&self) -> Reservation {
        let optional = |s: &str| (!s.is_empty()).then(|| unescape(s));
        Reservation {
            id: unescape(self.id),
            domain: unescape(self.domain),
            globs: self.globs().map(Cow::into_owned).collect(),
            mode: self.mode,
            task: optional(self.task),
            created: self.created,
            expires: self.expires,
            reason: optional(self.reason),
        }
    }
}

/// Writes the cache for the `reservations/` tree of `commit`, which holds
/// the reservations of `kept` (lines, as [`kept`] gives them) and
/// `added` (written by that commit): the state an event was built on with
/// its own edits, so nothing is read back but two ids.
pub(super) fn record(
    repo: &Repo,
    commit: Oid,
    kept: &str,
    added: Option<&Reservation>,
) -> Result<(), CommError> {
    let Some(tree) = repo.dir_id_at(commit, DIR)? else {
        return Ok(());
    };
    let mut text = header(tree);
    text.push_str(kept);
    if let Some(r) = added {
        let Some(blob) = repo.file_id_at(commit, &r.path())? else {
            return Ok(());
        };
        text.push_str(&line(blob, r));
        text.push('\n');
    }
    // A cache that cannot be written is only slower next time.
    let _ = crate::cachefile::write_atomic(&file(repo), &text);
    Ok(())
}

fn file(repo: &Repo) -> PathBuf {
    repo.state_path("reservations-v3")
}

/// The first line of a cache listing `tree`.
fn header(tree: Oid) -> String {
    format!("{MAGIC}{tree}\n")
}

/// The well-formed lines of a cache by blob id, whatever tree it lists.
fn index(text: &str) -> HashMap<Oid, &str> {
    text.lines()
        .filter_map(|line| Some((Oid::from_str(Raw::of(line)?.blob).ok()?, line)))
        .collect()
}

/// The line for one reservation.
fn line(blob: Oid, r: &Reservation) -> String {
    let mut fields = vec![
        blob.to_string(),
        escape(&r.id).into_owned(),
        escape(&r.domain).into_owned(),
        r.mode.to_string(),
        r.created.to_string(),
        r.expires.to_string(),
        escape(r.task.as_deref().unwrap_or_default()).into_owned(),
        escape(r.reason.as_deref().unwrap_or_default()).into_owned(),
    ];
    fields.extend(r.globs.iter().map(|g| escape(g).into_owned()));
    fields.join("\t")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Reservation {
        Reservation {
            id: "R-3f9a1c".into(),
            domain: "api".into(),
            globs: vec!["src/*.py".into(), "{a,b}/**".into()],
            mode: Mode::Shared,
            task: Some("T-7".into()),
            created: 100,
            expires: 7300,
            reason: Some("moving the router".into()),
        }
    }

    #[test]
    fn cache_lines_round_trip() {
        let blob = Oid::from_str("0123456789abcdef0123456789abcdef01234567").unwrap();
        for r in [
            sample(),
            Reservation {
                task: None,
                reason: None,
                mode: Mode::Exclusive,
                ..sample()
            },
        ] {
            let line = line(blob, &r);
            assert_eq!(Raw::of(&line).map(|raw| raw.reservation()), Some(r));
            assert_eq!(index(&line).len(), 1);
        }
    }

    #[test]
    fn fields_with_tabs_survive_the_cache_and_garbage_is_ignored() {
        let blob = Oid::ZERO_SHA1;
        let r = Reservation {
            globs: vec!["a\tb,c".into()],
            reason: Some("line\nbreak".into()),
            ..sample()
        };
        let line = line(blob, &r);
        assert!(!line.contains('\n'));
        assert_eq!(Raw::of(&line).map(|raw| raw.reservation()), Some(r));
        assert!(index("garbage\nnot\tan oid").is_empty());
        let weird = format!("{blob}\tR-1\tapi\tweird\t1\t2\t\t\ta/**");
        assert!(Raw::of(&weird).is_none());
    }
}
