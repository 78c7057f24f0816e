//! A rebuildable cache of every task's summary and readiness, under
//! `.git/comm-node/`.
//!
//! Reading 10,000 task files and parsing their YAML costs far more than the
//! 10 ms `task ready` may take, so the summaries (everything readiness and
//! listing need: not descriptions, links or imported beads fields) are kept
//! in one tab-separated file, each line flagged ready or not and carrying
//! its convoy progress, stamped with the ids of the `tasks/` and
//! `artifacts/` trees they were computed from. The lines are grouped by
//! flag and domain, and the file's second line gives each group's length,
//! so the liveness check reads only the claimed lines and `task next` only
//! the ready lines it may take, not the whole file (2 MB at 10,000 tasks);
//! ready lines are in the order tasks are taken, so `task next` parses
//! them only until it finds one.
//! When `comm` has moved, only the task files that differ between the
//! stamped tree and the new one are read, and readiness is recomputed in
//! memory. A claim appends its one moved line to a journal beside the file
//! instead of rewriting it (see [`journal`]). Deleting either loses
//! nothing.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::{self, File};
use std::io::Read;
use std::ops::{ControlFlow, Range};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use git2::Oid;

use super::{Progress, Status, Task, DIR};
use crate::cachefile::{escape, unescape, write_atomic, ITEM};
use crate::comm::journal::{self, Record, Step};
use crate::comm::{CommError, Snapshot};
use crate::git::Repo;

const MAGIC: &str = "comm-node tasks v3";
/// The cache's file under `.git/comm-node/`.
const FILE: &str = "tasks-v3";
/// The file of the previous format, removed when this one is written.
const OLD_FILE: &str = "tasks-v2";
/// The first word of the line listing the groups.
const GROUPS: &str = "groups";
/// Bytes read to find the stamp and the groups (a board with thousands of
/// domains has a longer head: it is then read whole, as a damaged file).
const HEAD_BYTES: u64 = 64 * 1024;

/// A task's summary with what was derived from the whole graph.
#[derive(Debug, Clone)]
pub struct Entry {
    pub task: Task,
    pub ready: bool,
    /// Convoy progress (for tasks with children).
    pub progress: Option<Progress>,
    /// The blob of the task's file the summary was read from.
    blob: Oid,
}

/// The trees a cache (or the cockpit's kept board) was computed from: what
/// readiness depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    pub(super) tasks: Option<Oid>,
    pub(super) artifacts: Option<Oid>,
}

impl Stamp {
    /// The trees at the snapshot's tip.
    pub(super) fn of(snapshot: &Snapshot) -> Result<Stamp, CommError> {
        Stamp::at(snapshot.repo(), snapshot.tip())
    }

    /// The trees at commit `tip` of comm.
    fn at(repo: &Repo, tip: Option<Oid>) -> Result<Stamp, CommError> {
        Ok(match tip {
            Some(tip) => Stamp {
                tasks: repo.dir_id_at(tip, DIR)?,
                artifacts: repo.dir_id_at(tip, "artifacts")?,
            },
            None => Stamp {
                tasks: None,
                artifacts: None,
            },
        })
    }
}

/// A claim in the journal: the `artifacts/` tree it was made under (the
/// same on both sides) and the claimed task's new cache line, without its
/// newline.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Moved {
    artifacts: Option<Oid>,
    line: String,
}

impl Record for Moved {
    fn render(&self) -> String {
        format!("{}\t{}", oid_text(self.artifacts), self.line)
    }

    fn parse(text: &str) -> Option<Moved> {
        let (artifacts, line) = text.split_once('\t')?;
        let artifacts = match artifacts {
            "-" => None,
            a => Some(Oid::from_str(a).ok()?),
        };
        let line = line.to_owned();
        Some(Moved { artifacts, line })
    }
}

/// Which entries a load returns. Each line starts with a flag saying which
/// it is (`R` ready, `C` claimed, `-` anything else), and lines sit in
/// groups of one flag and one domain, so a filtered load reads only the
/// groups it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only<'a> {
    All,
    Ready,
    Claimed,
    /// The ready tasks of this domain and those of no domain (what it may
    /// take).
    ReadyFor(&'a str),
}

impl Only<'_> {
    /// Whether the group named `key` (see [`group_key`]) holds kept lines.
    fn keeps_group(self, key: &str) -> bool {
        let (flag, domain) = key.split_at(key.chars().next().map_or(0, char::len_utf8));
        match self {
            Only::All => true,
            Only::Ready => flag == "R",
            Only::Claimed => flag == "C",
            Only::ReadyFor(d) => flag == "R" && (domain.is_empty() || domain == escape(d)),
        }
    }

    fn keeps_entry(self, e: &Entry) -> bool {
        self.keeps_group(&group_of(e))
    }
}

/// The name of the group of lines with `flag` and `domain`.
fn group_key(flag: char, domain: Option<&str>) -> String {
    let mut key = String::from(flag);
    key.push_str(&escape(domain.unwrap_or_default()));
    key
}

/// The group an entry's line sits in.
fn group_of(e: &Entry) -> String {
    group_key(flag(e), e.task.domain.as_deref())
}

/// Where a cache file's lines are: its stamp and each group's byte range.
#[derive(Debug)]
struct Layout {
    stamp: Stamp,
    /// Group names and their ranges in the file, in file order.
    groups: Vec<(String, Range<usize>)>,
}

impl Layout {
    /// The layout at the start of `head` (the stamp line, then the
    /// groups line); `None` when it is not there or damaged.
    fn parse(head: &[u8]) -> Option<Layout> {
        let first = head.iter().position(|&b| b == b'\n')? + 1;
        let second = first + head[first..].iter().position(|&b| b == b'\n')? + 1;
        let stamp = header(std::str::from_utf8(&head[..first]).ok()?)?;
        let line = std::str::from_utf8(&head[first..second - 1]).ok()?;
        let mut fields = line.split('\t');
        if fields.next()? != GROUPS {
            return None;
        }
        let mut groups = Vec::new();
        let mut at = second;
        while let Some(key) = fields.next() {
            let len: usize = fields.next()?.parse().ok()?;
            groups.push((key.to_owned(), at..at + len));
            at += len;
        }
        Some(Layout { stamp, groups })
    }

    /// Reads the layout at the start of `file`: its first [`HEAD_BYTES`],
    /// or the whole file when the layout does not fit in them.
    fn read(file: &mut File) -> Option<Layout> {
        // Room for the whole head, so it comes in one read.
        let mut head = Vec::with_capacity(HEAD_BYTES as usize);
        file.by_ref().take(HEAD_BYTES).read_to_end(&mut head).ok()?;
        if let Some(layout) = Layout::parse(&head) {
            return Some(layout);
        }
        if (head.len() as u64) < HEAD_BYTES {
            return None;
        }
        file.read_to_end(&mut head).ok()?;
        Layout::parse(&head)
    }
}

/// The tasks at the snapshot that `only` selects, with readiness and
/// progress, grouped by flag and domain (within a group, in no promised
/// order: callers sort).
pub fn load(snapshot: &Snapshot, only: Only<'_>) -> Result<Vec<Entry>, CommError> {
    let repo = snapshot.repo();
    let stamp = Stamp::of(snapshot)?;
    let path = file(snapshot);
    if let Some(entries) = read_current(&path, stamp, only) {
        return Ok(entries);
    }
    // Catch up: keep the summaries whose blob did not change, read the rest.
    let mut known: HashMap<String, (Oid, Task)> = read_any(&path)
        .into_iter()
        .map(|e| (e.task.id.clone(), (e.blob, e.task)))
        .collect();
    let listing = match stamp.tasks {
        Some(tree) => crate::comm::shard::files(repo, tree)?,
        None => Vec::new(),
    };
    let mut tasks = BTreeMap::new();
    let mut blobs = HashMap::with_capacity(listing.len());
    for (name, blob) in listing {
        let Some(id) = name.strip_suffix(".yaml") else {
            continue;
        };
        let task = match known.remove(id) {
            Some((old, task)) if old == blob => task,
            _ => {
                let mut task = Task::from_yaml(&Task::path_of(id), &repo.blob(blob)?)?;
                summarize(&mut task);
                task
            }
        };
        blobs.insert(id.to_owned(), blob);
        tasks.insert(id.to_owned(), task);
    }
    let board = super::board_of(snapshot, tasks)?;
    let derived: Vec<(bool, Option<Progress>)> = board
        .tasks()
        .map(|t| (board.is_ready(t), board.progress(&t.id)))
        .collect();
    let entries: Vec<Entry> = board
        .into_tasks()
        .zip(derived)
        .map(|(task, (ready, progress))| Entry {
            blob: blobs[&task.id],
            task,
            ready,
            progress,
        })
        .collect();
    // A cache that cannot be written is only slower next time.
    let _ = save(repo, &path, stamp, &entries);
    let mut kept: Vec<Entry> = entries
        .into_iter()
        .filter(|e| only.keeps_entry(e))
        .collect();
    kept.sort_by_cached_key(group_of);
    Ok(kept)
}

/// The entries `only` keeps from a cache stamped `stamp`, reading only
/// their groups; `None` when the cache is missing, stale or damaged.
fn read_current(path: &Path, stamp: Stamp, only: Only<'_>) -> Option<Vec<Entry>> {
    let mut out = Vec::new();
    scan(path, stamp, only, |line| {
        out.push(parse_entries_line(line)?);
        Some(ControlFlow::Continue(()))
    })?;
    Some(out)
}

/// Calls `visit` on the lines of the groups `only` keeps, in a cache
/// stamped `stamp` or one the claims journal brings to it, each group
/// until `visit` breaks; `None` when the cache is missing, stale or damaged
/// (`visit` returns `None` for a bad line).
fn scan(
    path: &Path,
    stamp: Stamp,
    only: Only<'_>,
    mut visit: impl FnMut(&str) -> Option<ControlFlow<()>>,
) -> Option<()> {
    let opened = open(path, stamp)?;
    let Opened {
        file,
        layout,
        moved,
        ..
    } = &*opened;
    let mut added: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut gone = HashSet::new();
    for Step { record: m, .. } in moved {
        added.entry(line_group(&m.line)?).or_default().push(&m.line);
        gone.insert(id_of(m.line.as_bytes()));
    }
    let keys: BTreeSet<&str> = layout
        .groups
        .iter()
        .map(|(k, _)| k.as_str())
        .chain(added.keys().map(String::as_str))
        .collect();
    for key in keys.into_iter().filter(|k| only.keeps_group(k)) {
        let mut bytes = Vec::new();
        if let Some((_, range)) = layout.groups.iter().find(|(k, _)| k == key) {
            bytes.resize(range.len(), 0);
            file.read_exact_at(&mut bytes, range.start as u64).ok()?;
        }
        let kept = std::str::from_utf8(&bytes)
            .ok()?
            .lines()
            .filter(|l| gone.is_empty() || !gone.contains(id_of(l.as_bytes())));
        let lines: Box<dyn Iterator<Item = &str>> = match added.get(key) {
            None => Box::new(kept),
            Some(more) => {
                // Only claimed groups gain lines, and they are in id order.
                let mut all: Vec<&str> = kept.chain(more.iter().copied()).collect();
                all.sort_by(|a, b| id_of(a.as_bytes()).cmp(id_of(b.as_bytes())));
                Box::new(all.into_iter())
            }
        };
        for line in lines {
            if visit(line)?.is_break() {
                break;
            }
        }
    }
    Some(())
}

/// A cache file opened for a stamp: its layout and the journalled claims
/// that bring it there. Writers never change a cache file in place (they
/// rename a new one over it), so what one says of its stamp stays true.
struct Opened {
    path: PathBuf,
    stamp: Stamp,
    file: File,
    layout: Layout,
    moved: Vec<Step<Moved>>,
}

thread_local! {
    /// The cache last opened, so that the scans of one command at one
    /// stamp (`task next` reads the claimed tasks to reap, then the ready
    /// ones) open it and read its journal once.
    static OPENED: RefCell<Option<Rc<Opened>>> = const { RefCell::new(None) };
}

/// The cache at `path` opened for `stamp`, or kept from the last open for
/// it; `None` when it is missing, damaged or cannot be brought there.
fn open(path: &Path, stamp: Stamp) -> Option<Rc<Opened>> {
    let same = |o: &Rc<Opened>| o.path == path && o.stamp == stamp;
    if let Some(kept) = OPENED.with_borrow(|o| o.as_ref().filter(|o| same(o)).cloned()) {
        return Some(kept);
    }
    let mut file = File::open(path).ok()?;
    let layout = Layout::read(&mut file)?;
    let moved = moved_since(path, layout.stamp, stamp)?;
    let opened = Rc::new(Opened {
        path: path.to_owned(),
        stamp,
        file,
        layout,
        moved,
    });
    OPENED.set(Some(Rc::clone(&opened)));
    Some(opened)
}

/// The journalled claims that bring a cache stamped `base` to `want`
/// (none when they are the same); `None` when the journal cannot.
fn moved_since(path: &Path, base: Stamp, want: Stamp) -> Option<Vec<Step<Moved>>> {
    if base == want {
        return Some(Vec::new());
    }
    if base.artifacts != want.artifacts {
        return None;
    }
    let under = |m: &Moved| m.artifacts == want.artifacts;
    journal::chain(path, base.tasks?, want.tasks?, under)
}

/// The ready task domain `by` (with `skills`) takes next at the snapshot
/// (whose trees are `stamp`): the first of [`super::candidates`] that is no
/// convoy. Ready lines sit in take order in their groups, so a current
/// cache is read only until the domain's group and the group of no domain
/// each yield one it may take.
pub fn next_for(
    snapshot: &Snapshot,
    stamp: Stamp,
    by: &str,
    skills: &[String],
) -> Result<Option<Entry>, CommError> {
    let only = Only::ReadyFor(by);
    let takes = |e: &Entry| e.progress.is_none() && super::ops::may_take(&e.task, by, Some(skills));
    let mut firsts = Vec::new();
    let found = scan(&file(snapshot), stamp, only, |line| {
        let entry = parse_entries_line(line)?;
        if !takes(&entry) {
            return Some(ControlFlow::Continue(()));
        }
        firsts.push(entry);
        Some(ControlFlow::Break(()))
    });
    let ready = match found {
        Some(()) => firsts,
        None => load(snapshot, only)?,
    };
    let best = super::candidates(&ready, by, skills)
        .into_iter()
        .find(|e| takes(e));
    Ok(best.cloned())
}

/// Task `id`'s entry when it is among the ready tasks domain `by` may take
/// by domain (its own and those of no domain) at the snapshot (whose trees
/// are `stamp`); a current cache answers by finding the line, parsing no
/// other.
pub fn ready_for(
    snapshot: &Snapshot,
    stamp: Stamp,
    by: &str,
    id: &str,
) -> Result<Option<Entry>, CommError> {
    let only = Only::ReadyFor(by);
    let needle = format!("\t{}\t", escape(id));
    let mut found = None;
    let scanned = scan(&file(snapshot), stamp, only, |line| {
        if !(line.contains(&needle) && id_field_is(line, &needle)) {
            return Some(ControlFlow::Continue(()));
        }
        found = Some(parse_entries_line(line)?);
        Some(ControlFlow::Break(()))
    });
    match scanned {
        Some(()) => Ok(found),
        None => Ok(load(snapshot, only)?.into_iter().find(|e| e.task.id == id)),
    }
}

/// Every entry of the cache whatever its stamp (summaries are keyed by
/// blob, so a stale one is still right about its blob); none when damaged.
fn read_any(path: &Path) -> Vec<Entry> {
    let Ok(bytes) = fs::read(path) else {
        return Vec::new();
    };
    let lines = Layout::parse(&bytes)
        .and_then(|l| l.groups.first().map(|(_, r)| r.start))
        .and_then(|body| std::str::from_utf8(&bytes[body..]).ok());
    lines
        .and_then(|text| text.lines().map(parse_entries_line).collect())
        .unwrap_or_default()
}

impl Entry {
    /// The entry of `task`, claimed in a commit that wrote it as `blob`,
    /// when this was its entry as a ready task.
    pub(super) fn claimed(self, task: &Task, blob: Oid) -> Entry {
        let mut task = task.clone();
        summarize(&mut task);
        Entry {
            task,
            ready: false,
            blob,
            ..self
        }
    }
}

/// Brings a cache that was current at `base` up to `commit`, when the only
/// change between them is one task going from ready to claimed (`claimed`
/// its new entry): no other task's readiness can change (a claim is not
/// done), so one line moves from its ready group to its claimed group. The
/// move is appended to the claims journal (see [`journal`]), and the cache
/// is written whole once the journal grows past
/// [`journal::COMPACT_BYTES`]. The claim has landed by then, so this never
/// fails the command: a cache that cannot be brought along is only slower
/// next time.
pub(super) fn record_claim(repo: &Repo, base: Stamp, commit: Oid, claimed: &Entry) {
    let _ = try_record_claim(repo, base, commit, claimed);
}

fn try_record_claim(
    repo: &Repo,
    base: Stamp,
    commit: Oid,
    claimed: &Entry,
) -> Result<(), CommError> {
    let new = Stamp::at(repo, Some(commit))?;
    let (Some(from), Some(to)) = (base.tasks, new.tasks) else {
        return Ok(());
    };
    if new.artifacts != base.artifacts {
        return Ok(());
    }
    let mut line = String::new();
    push_entry(&mut line, claimed);
    line.pop();
    let artifacts = new.artifacts;
    let step = Step {
        from,
        to,
        record: Moved { artifacts, line },
    };
    let path = repo.state_path(FILE);
    // A cache that cannot be written is only slower next time.
    if journal::append(&path, &step).is_ok_and(|size| size >= journal::COMPACT_BYTES) {
        compact(repo, &path, new);
    }
    Ok(())
}

/// Writes the cache at `stamp` whole from the cache and its journal, which
/// goes.
fn compact(repo: &Repo, path: &Path, stamp: Stamp) {
    if let Some(entries) = read_current(path, stamp, Only::All) {
        // A cache that cannot be written is only slower next time.
        let _ = save(repo, path, stamp, &entries);
    }
}

/// The group a cache line sits in: its flag and its (escaped) domain
/// field, after progress, blob, id and title.
fn line_group(line: &str) -> Option<String> {
    let mut fields = line.split('\t');
    let flag = fields.next()?;
    let domain = fields.nth(4)?;
    Some(format!("{flag}{domain}"))
}

/// The id field of a cache line (after flag, progress and blob).
fn id_of(line: &[u8]) -> &[u8] {
    line.split(|&b| b == b'\t').nth(3).unwrap_or_default()
}

fn file(snapshot: &Snapshot) -> PathBuf {
    snapshot.repo().state_path(FILE)
}

/// Drops what the cache does not keep.
fn summarize(task: &mut Task) {
    task.description.clear();
    task.links.clear();
    task.beads.clear();
    task.reason = None;
}

fn oid_text(id: Option<Oid>) -> String {
    id.map_or_else(|| "-".to_owned(), |t| t.to_string())
}

/// The line flag of an entry.
fn flag(e: &Entry) -> char {
    match (e.ready, e.task.status) {
        (true, _) => 'R',
        (false, Status::Claimed) => 'C',
        _ => '-',
    }
}

/// Whether the id field (after flag, progress and blob) is `needle` (`\tID\t`).
fn id_field_is(line: &str, needle: &str) -> bool {
    let mut tabs = line.match_indices('\t');
    match (tabs.nth(2), tabs.next()) {
        (Some((start, _)), Some((end, _))) => &line[start..=end] == needle,
        _ => false,
    }
}

fn header_line(stamp: Stamp) -> String {
    format!(
        "{MAGIC}\t{}\t{}\n",
        oid_text(stamp.tasks),
        oid_text(stamp.artifacts)
    )
}

/// Writes the cache: the stamp, the groups line, then each group's lines
/// (groups by name; ready lines in take order, the others by id); the
/// claims journal and the previous format's file go.
fn save(repo: &Repo, path: &Path, stamp: Stamp, entries: &[Entry]) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let mut grouped: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        grouped.entry(group_of(e)).or_default().push(e);
    }
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    for (key, mut members) in grouped {
        // Ready lines in take order (see `next_for`), the others by id.
        if key.starts_with('R') {
            members.sort_by(|a, b| super::order(&a.task, &b.task));
        }
        let lines = groups.entry(key).or_default();
        members.iter().for_each(|e| push_entry(lines, e));
    }
    let size = groups.values().map(String::len).sum::<usize>();
    let mut out = String::with_capacity(size + 128 + groups.len() * 32);
    out.push_str(&header_line(stamp));
    out.push_str(GROUPS);
    for (key, lines) in &groups {
        let _ = write!(out, "\t{key}\t{}", lines.len());
    }
    out.push('\n');
    groups.values().for_each(|lines| out.push_str(lines));
    let _ = fs::remove_file(repo.state_path(OLD_FILE));
    write_atomic(path, &out)?;
    journal::remove(path);
    Ok(())
}

/// Appends one entry's line.
fn push_entry(out: &mut String, e: &Entry) {
    use std::fmt::Write as _;
    let t = &e.task;
    out.push(flag(e));
    out.push('\t');
    if let Some(p) = e.progress {
        let _ = write!(out, "{}/{}", p.done, p.total);
    }
    let _ = write!(out, "\t{}\t", e.blob);
    push_text(out, &t.id);
    push_text(out, &t.title);
    push_text(out, t.domain.as_deref().unwrap_or_default());
    push_text(out, t.status.as_str());
    let _ = write!(out, "{}\t", t.priority);
    push_list(out, &t.deps);
    push_list(out, &t.needs_artifacts);
    push_text(out, t.parent.as_deref().unwrap_or_default());
    push_text(out, t.assignee.as_deref().unwrap_or_default());
    push_list(out, &t.done_when);
    push_list(out, &t.skills);
    let _ = write!(out, "{}\t{}\t", t.created, t.updated);
    push_text(out, &t.created_by);
    if let Some(c) = t.claimed_at {
        let _ = write!(out, "{c}");
    }
    out.push('\n');
}

/// Appends a field and its tab.
fn push_text(out: &mut String, text: &str) {
    out.push_str(&escape(text));
    out.push('\t');
}

/// Appends a list field and its tab.
fn push_list(out: &mut String, items: &[String]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(ITEM);
        }
        out.push_str(&escape(item));
    }
    out.push('\t');
}

fn header(text: &str) -> Option<Stamp> {
    let first = text.lines().next()?;
    let mut parts = first.split('\t');
    if parts.next()? != MAGIC {
        return None;
    }
    let mut oid = || -> Option<Option<Oid>> {
        match parts.next()? {
            "-" => Some(None),
            s => Oid::from_str(s).ok().map(Some),
        }
    };
    Some(Stamp {
        tasks: oid()?,
        artifacts: oid()?,
    })
}

/// One entry line: flag, progress, blob, then the task's fields.
fn parse_entries_line(line: &str) -> Option<Entry> {
    let (flag, rest) = line.split_once('\t')?;
    let (progress, rest) = rest.split_once('\t')?;
    let (blob, rest) = rest.split_once('\t')?;
    let progress = match progress {
        "" => None,
        p => {
            let (done, total) = p.split_once('/')?;
            Some(Progress {
                done: done.parse().ok()?,
                total: total.parse().ok()?,
            })
        }
    };
    Some(Entry {
        task: parse_line(rest)?,
        ready: flag == "R",
        progress,
        blob: Oid::from_str(blob).ok()?,
    })
}

fn parse_line(line: &str) -> Option<Task> {
    let mut f = line.split('\t');
    let mut next = || f.next();
    let id = unescape(next()?);
    let title = unescape(next()?);
    let domain = optional(next()?);
    let status = Status::parse(next()?)?;
    let priority = next()?.parse().ok()?;
    let deps = unlist(next()?);
    let needs_artifacts = unlist(next()?);
    let parent = optional(next()?);
    let assignee = optional(next()?);
    let done_when = unlist(next()?);
    let skills = unlist(next()?);
    let created = next()?.parse().ok()?;
    let updated = next()?.parse().ok()?;
    let created_by = unescape(next()?);
    let claimed_at = match next()? {
        "" => None,
        c => Some(c.parse().ok()?),
    };
    Some(Task {
        id,
        title,
        domain,
        status,
        priority,
        deps,
        needs_artifacts,
        parent,
        assignee,
        done_when,
        skills,
        created,
        updated,
        created_by,
        claimed_at,
        reason: None,
        description: String::new(),
        links: Vec::new(),
        beads: Default::default(),
    })
}

fn optional(field: &str) -> Option<String> {
    (!field.is_empty()).then(|| unescape(field))
}

fn unlist(field: &str) -> Vec<String> {
    if field.is_empty() {
        return Vec::new();
    }
    field.split(ITEM).map(unescape).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_survive_the_round_trip() {
        let items = vec!["a\u{1f}b".to_owned(), "c".to_owned()];
        let mut field = String::new();
        push_list(&mut field, &items);
        assert_eq!(unlist(field.trim_end_matches('\t')), items);
    }
}
