//! Parsed reservations under `.git/comm-node/`: one line per reservation,
//! tab-separated (blob, id, domain, mode, created, expires, task, reason,
//! globs..., each escaped), which parses several times faster than JSON,
//! after a first line naming the `reservations/` tree the lines list.
//!
//! While that tree is the tip's, a command reads the file and no tree. The
//! lines are kept as text and read field by field ([`Raw`]): a conflict
//! check parses only the reservations whose globs could meet its own.
//! Lines are keyed by blob id (content-addressed), so a cache written for
//! another tree still answers for every file whose blob it knows.
//!
//! A reserve or release appends what it changed (the blobs it removed, the
//! line it added) to a journal beside the file instead of rewriting it
//! (see [`journal`]); a reader applies the chain of steps from the file's
//! tree to the tip's, and the file is written whole once the journal grows
//! past [`journal::COMPACT_BYTES`], as a rebuild would write it.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use git2::Oid;

use super::{Mode, Reservation, DIR};
use crate::cachefile::{escape, unescape};
use crate::comm::journal::{self, Record, Step};
use crate::comm::{CommError, Snapshot};
use crate::git::Repo;

/// Cache entries that may be missing or stale before a reader rewrites it
/// (a file creation per command is dearer than parsing a few reservations
/// again; `verify` reads every past state).
const SLACK: usize = 16;
/// The start of the first line, before the tree it lists.
const MAGIC: &str = "comm-node reservations v3\t";

/// The reservations at a snapshot's tip, as cache lines.
pub(super) struct Lines<'t> {
    pub rows: Vec<Raw<'t>>,
    /// The `reservations/` tree they list (`None`: there is none).
    tree: Option<Oid>,
    /// Whether the cache file, with its journal, lists that tree: a writer
    /// then journals its change instead of writing the file whole.
    on_file: bool,
}

/// Calls `f` with the reservations at the snapshot's tip: the cache's own
/// lines when the file, with the steps of its journal, lists the tip's
/// `reservations/` tree, else lines built from that tree.
pub(super) fn with_lines<R>(
    snapshot: &Snapshot,
    f: impl FnOnce(&Lines) -> Result<R, CommError>,
) -> Result<R, CommError> {
    let repo = snapshot.repo();
    let tree = match snapshot.tip() {
        Some(tip) => repo.dir_id_at(tip, DIR)?,
        None => None,
    };
    let Some(tree) = tree else {
        return f(&Lines {
            rows: Vec::new(),
            tree: None,
            on_file: false,
        });
    };
    let path = file(repo);
    let text = fs::read_to_string(&path).unwrap_or_default();
    let steps = steps_to(&path, &text, tree);
    if let Some(rows) = steps.as_deref().and_then(|steps| replay(&text, steps)) {
        return f(&Lines {
            rows,
            tree: Some(tree),
            on_file: true,
        });
    }
    let (built, on_file) = rebuild(repo, tree, index(text.lines()), false)?;
    f(&Lines {
        rows: built.lines().skip(1).filter_map(Raw::of).collect(),
        tree: Some(tree),
        on_file,
    })
}

/// The journal's steps from the tree the cache `text` lists to `tree`
/// (none when it lists `tree`); `None` when there is no such chain.
fn steps_to(path: &Path, text: &str, tree: Oid) -> Option<Vec<Step<Delta>>> {
    let listed = text.lines().next()?.strip_prefix(MAGIC)?;
    let listed = Oid::from_str(listed).ok()?;
    if listed == tree {
        return Some(Vec::new());
    }
    journal::chain(path, listed, tree, |_| true)
}

/// The lines of the cache `text` with `steps` applied, in order: each
/// removes lines by blob, then adds its own; `None` when a line is
/// malformed.
fn replay<'t>(text: &'t str, steps: &'t [Step<Delta>]) -> Option<Vec<Raw<'t>>> {
    let mut gone: HashSet<&str> = HashSet::new();
    let mut added: Vec<Raw> = Vec::new();
    for Step { record, .. } in steps {
        for blob in &record.gone {
            gone.insert(blob);
            added.retain(|r| r.blob != blob);
        }
        if let Some(line) = &record.added {
            added.push(Raw::of(line)?);
        }
    }
    let (_, body) = text.split_once('\n')?;
    let mut rows: Vec<Raw> = body.lines().map(Raw::of).collect::<Option<_>>()?;
    if !gone.is_empty() {
        rows.retain(|r| !gone.contains(r.blob));
    }
    rows.extend(added);
    Some(rows)
}

/// The cache's text for `reservations/` tree `tree`: its listing, with the
/// lines of `cached` for the blobs it knows and the other files parsed.
/// Written back (and whether it was) when `force`d or once enough lines
/// were missing or stale.
fn rebuild(
    repo: &Repo,
    tree: Oid,
    mut cached: HashMap<Oid, &str>,
    force: bool,
) -> Result<(String, bool), CommError> {
    let files = crate::comm::shard::files(repo, tree)?;
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
    let stale = missed + cached.len() > SLACK || (missed > 0 && missed == files.len());
    // A cache that cannot be written is only slower next time.
    let written = (force || stale) && write_whole(repo, &out).is_ok();
    Ok((out, written))
}

/// Writes the cache file whole; its journal goes.
fn write_whole(repo: &Repo, text: &str) -> std::io::Result<()> {
    let path = file(repo);
    crate::cachefile::write_atomic(&path, text)?;
    journal::remove(&path);
    Ok(())
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
        // A byte scan for each tab: a reserve splits every line.
        let mut rest = line;
        let mut f = || {
            let tab = rest.bytes().position(|b| b == b'\t')?;
            let field = &rest[..tab];
            rest = &rest[tab + 1..];
            Some(field)
        };
        let raw = Raw {
            line,
            blob: f().filter(|b| is_blob(b))?,
            id: f()?,
            domain: f()?,
            mode: match f()? {
                "exclusive" => Mode::Exclusive,
                "shared" => Mode::Shared,
                _ => return None,
            },
            created: f()?.parse().ok()?,
            expires: f()?.parse().ok()?,
            task: f()?,
            reason: f()?,
            globs: Some(rest).filter(|g| !g.is_empty())?,
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

/// A reserve or release in the journal: the blobs of the reservations it
/// removed (expired ones too) and the line of the one it added.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Delta {
    gone: Vec<String>,
    added: Option<String>,
}

impl Record for Delta {
    fn render(&self) -> String {
        let added = self.added.as_deref().unwrap_or_default();
        format!("{}\t{added}", self.gone.join(","))
    }

    fn parse(text: &str) -> Option<Delta> {
        let (gone, added) = text.split_once('\t')?;
        let gone = match gone {
            "" => Vec::new(),
            list => list
                .split(',')
                .map(|b| is_blob(b).then(|| b.to_owned()))
                .collect::<Option<_>>()?,
        };
        let added = match added {
            "" => None,
            line => Some(Raw::of(line)?.line.to_owned()),
        };
        Some(Delta { gone, added })
    }
}

/// What a reserve or release does to the reservations it read, as the
/// cache records it: enough to journal it, or to write the file whole.
pub(super) struct Edit {
    /// The tree the lines listed, when the file (with its journal) did.
    from: Option<Oid>,
    delta: Delta,
    /// The lines that stay, when the file is to be written whole.
    kept: String,
}

impl Edit {
    /// The removal of the reservations of `lines` that `drops`.
    pub(super) fn of(lines: &Lines, drops: impl Fn(&Raw) -> bool) -> Edit {
        let from = lines.tree.filter(|_| lines.on_file);
        let mut kept = String::new();
        let mut gone = Vec::new();
        for raw in &lines.rows {
            if drops(raw) {
                gone.push(raw.blob.to_owned());
            } else if from.is_none() {
                kept.push_str(raw.line);
                kept.push('\n');
            }
        }
        let delta = Delta { gone, added: None };
        Edit { from, delta, kept }
    }

    /// Adds reservation `r`, written as `blob`.
    pub(super) fn add(&mut self, blob: Oid, r: &Reservation) {
        self.delta.added = Some(line(blob, r));
    }
}

/// Records `edit`, made by `commit`, in the cache: one step appended to
/// the journal when the file listed the tree it was made on (the file is
/// written whole once the journal is past [`journal::COMPACT_BYTES`]),
/// else the file written whole for the commit's tree. The event has landed
/// by then, so this never fails the command: a cache that cannot be brought
/// along is only slower next time.
pub(super) fn record(repo: &Repo, edit: Edit, commit: Oid) {
    let _ = try_record(repo, edit, commit);
}

fn try_record(repo: &Repo, edit: Edit, commit: Oid) -> Result<(), CommError> {
    let Some(to) = repo.dir_id_at(commit, DIR)? else {
        return Ok(());
    };
    let path = file(repo);
    let Some(from) = edit.from else {
        let mut text = edit.kept;
        if let Some(line) = &edit.delta.added {
            text.push_str(line);
        }
        rebuild(repo, to, index(text.lines()), true)?;
        return Ok(());
    };
    let step = Step {
        from,
        to,
        record: edit.delta,
    };
    // A cache that cannot be written is only slower next time.
    if journal::append(&path, &step).is_ok_and(|size| size >= journal::COMPACT_BYTES) {
        let text = fs::read_to_string(&path).unwrap_or_default();
        let steps = steps_to(&path, &text, to);
        if let Some(rows) = steps.as_deref().and_then(|steps| replay(&text, steps)) {
            rebuild(repo, to, index(rows.iter().map(|r| r.line)), true)?;
        }
    }
    Ok(())
}

fn file(repo: &Repo) -> PathBuf {
    repo.state_path("reservations-v3")
}

/// The first line of a cache listing `tree`.
fn header(tree: Oid) -> String {
    format!("{MAGIC}{tree}\n")
}

/// The well-formed cache lines of `lines` by blob id, whatever tree they
/// list.
fn index<'t>(lines: impl Iterator<Item = &'t str>) -> HashMap<Oid, &'t str> {
    lines
        .filter_map(|line| Some((Oid::from_str(Raw::of(line)?.blob).ok()?, line)))
        .collect()
}

/// Whether `text` is a blob id in hex.
fn is_blob(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|c| c.is_ascii_hexdigit())
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
            assert_eq!(index(line.lines()).len(), 1);
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
        assert!(index("garbage\nnot\tan oid".lines()).is_empty());
        let weird = format!("{blob}\tR-1\tapi\tweird\t1\t2\t\t\ta/**");
        assert!(Raw::of(&weird).is_none());
        let whole = format!("{blob}\tR-1\tapi\tshared\t1\t2\t\t\ta/**\tb/*");
        let globs: Vec<_> = Raw::of(&whole).unwrap().globs().collect();
        assert_eq!(globs, ["a/**", "b/*"]);
        for cut in ["\t", "\ta/**"] {
            assert!(Raw::of(whole.split_once(cut).unwrap().0).is_none());
        }
    }
}
