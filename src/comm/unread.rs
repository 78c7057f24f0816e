//! A rebuildable cache of the messages above each reader's cursor, under
//! `.git/comm-node/unread-v1`.
//!
//! A reader that never acknowledged anything has its cursor at 0, so its
//! inbox, and the unread counts `status` and every redraw of `watch` show,
//! would walk the whole history. The cache keeps, per reader, the messages
//! addressed to it above a floor (its cursor when last seen), as of one tip
//! of `comm`. Bringing it to a newer tip walks only the events added since;
//! a reader it does not know yet, or whose cursor is below its floor, is
//! walked for once. If the cached tip left the history (a sync replayed
//! local events) the cache is rebuilt, as the id index is. The `acked` ids
//! of a cursor are applied by the caller, never cached.
//!
//! It is a cache: deleting it loses nothing, a damaged or foreign file is
//! ignored, and two processes writing it at once each replace it whole.
//! It is kept apart from the id index (`index.rs`), whose every event line
//! `status` and `inbox` would otherwise have to load.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::Path;

use git2::Oid;

use super::message::is_for;
use super::{walk, CommError, Snapshot};
use crate::cachefile::{escape, unescape, write_atomic};

const MAGIC: &str = "comm-node unread v1";

/// One cached message for a reader: where it sits on `comm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub seq: u64,
    pub id: &'a str,
    pub commit: &'a str,
}

impl<'a> Line<'a> {
    /// `seq \t id \t commit`; `None` when the line is not in that shape.
    fn parse(text: &'a str) -> Option<Line<'a>> {
        let mut parts = text.split('\t');
        let line = Line {
            seq: parts.next()?.parse().ok()?,
            id: parts.next().filter(|id| !id.is_empty())?,
            commit: parts
                .next()
                .filter(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))?,
        };
        parts.next().is_none().then_some(line)
    }

    pub fn commit(&self) -> Oid {
        Oid::from_str(self.commit).expect("cache lines are checked when loaded")
    }
}

/// The messages for one reader with a sequence number above `floor`, up to
/// the cached tip, oldest first, as `seq \t id \t commit` lines; `count`
/// of them, so that counting reads and parses nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    floor: u64,
    count: usize,
    /// `None` while still in the file (only the head was read).
    lines: Option<String>,
}

impl Section {
    fn empty(floor: u64) -> Section {
        Section {
            floor,
            count: 0,
            lines: Some(String::new()),
        }
    }

    fn text(&self) -> &str {
        self.lines
            .as_deref()
            .expect("a section is read from the file before use")
    }

    fn text_mut(&mut self) -> &mut String {
        self.lines
            .as_mut()
            .expect("a section is read from the file before use")
    }

    /// Its lines; only for a section [`Section::is_sound`] checked.
    fn lines(&self) -> impl Iterator<Item = Line<'_>> {
        self.text()
            .lines()
            .map(|l| Line::parse(l).expect("cache lines are checked before they are read"))
    }

    /// How many of its messages are not among `acked`.
    fn unread(&self, acked: &BTreeSet<String>) -> usize {
        if acked.is_empty() {
            return self.count;
        }
        self.lines().filter(|l| !acked.contains(l.id)).count()
    }

    fn push(&mut self, (seq, id, commit): &(u64, String, Oid)) {
        self.text_mut()
            .push_str(&format!("{seq}\t{id}\t{commit}\n"));
        self.count += 1;
    }

    /// Forgets the messages at or below `floor` (read by the cursor).
    fn raise(&mut self, floor: u64) {
        let (keep, dropped) = self.start_above(floor);
        self.text_mut().drain(..keep);
        self.count -= dropped;
        self.floor = floor;
    }

    /// Forgets the messages above `seq` (newer than an older tip).
    fn truncate_above(&mut self, seq: u64) {
        let (end, kept) = self.start_above(seq);
        self.text_mut().truncate(end);
        self.count = kept;
    }

    /// The byte offset of the first line above `seq`, and how many lines
    /// come before it.
    fn start_above(&self, seq: u64) -> (usize, usize) {
        let mut offset = 0;
        for (n, line) in self.text().lines().enumerate() {
            if Line::parse(line).is_some_and(|l| l.seq > seq) {
                return (offset, n);
            }
            offset += line.len() + 1;
        }
        (offset, self.count)
    }

    /// Whether every line parses, the sequence numbers rise above the
    /// floor, and there are `count` of them.
    fn is_sound(&self) -> bool {
        let Some(text) = &self.lines else {
            return false;
        };
        let mut last = self.floor;
        let mut count = 0;
        let lines_sound = text.lines().all(|l| match Line::parse(l) {
            Some(line) if line.seq > last => {
                last = line.seq;
                count += 1;
                true
            }
            _ => false,
        });
        lines_sound && count == self.count && (text.is_empty() || text.ends_with('\n'))
    }
}

/// A reader to bring the cache up to date for.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    pub name: &'a str,
    /// The sequence number of its cursor.
    pub seq: u64,
    /// Whether its messages will be read, not only counted: its lines are
    /// then checked when the file is loaded.
    pub lines: bool,
}

/// The messages above each known reader's floor, as of one tip of `comm`.
#[derive(Debug, Default)]
pub struct Unread {
    /// The tip and its sequence number; `None` before the first load.
    tip: Option<(Oid, u64)>,
    readers: BTreeMap<String, Section>,
}

impl Unread {
    /// The cache as of the snapshot's tip, holding for each of `readers`
    /// exactly the messages for it above its cursor; saved when it changed.
    pub fn load(snapshot: &Snapshot, readers: &[Reader]) -> Result<Unread, CommError> {
        let path = snapshot.repo().state_path("unread-v1");
        let Some(tip) = snapshot.tip() else {
            return Ok(Unread::default());
        };
        let tip = (tip, snapshot.seq());
        let loaded = Unread::read(&path, tip, readers).filter(|c| c.is_sound_for(readers));
        let mut cache = loaded.unwrap_or_default();
        let mut changed = false;
        if !cache.step_back_to(snapshot, tip)? {
            cache = Unread::default();
        }
        if !cache.catch_up(snapshot, tip, readers, &mut changed)? {
            cache = Unread::default();
            cache.catch_up(snapshot, tip, readers, &mut changed)?;
        }
        for reader in readers {
            let section = cache.readers.get_mut(reader.name).expect("caught up");
            if section.floor < reader.seq {
                section.raise(reader.seq);
                changed = true;
            }
        }
        if changed {
            // A cache that cannot be written is only slower next time.
            let _ = cache.save(&path);
        }
        Ok(cache)
    }

    /// The cached messages for `reader` (loaded with `lines`), read or not,
    /// oldest first.
    pub fn lines(&self, reader: &str) -> impl Iterator<Item = Line<'_>> {
        self.readers
            .get(reader)
            .into_iter()
            .flat_map(Section::lines)
    }

    /// How many messages for `reader` (one it was loaded for) are not
    /// among `acked`; loaded with `lines` unless `acked` is empty.
    pub fn unread(&self, reader: &str, acked: &BTreeSet<String>) -> usize {
        self.readers.get(reader).map_or(0, |s| s.unread(acked))
    }

    /// Whether the sections that `readers` will read or move past parse.
    fn is_sound_for(&self, readers: &[Reader]) -> bool {
        readers.iter().all(|r| match self.readers.get(r.name) {
            Some(section) if r.lines || section.floor < r.seq => section.is_sound(),
            _ => true,
        })
    }

    /// When another process already saved the cache at a newer tip than
    /// the snapshot's: keeps it if the snapshot's tip is in its history,
    /// without the messages above it; false when it is not (or the file
    /// is damaged).
    fn step_back_to(&mut self, snapshot: &Snapshot, tip: (Oid, u64)) -> Result<bool, CommError> {
        let Some(cached) = self.tip.filter(|cached| cached.1 > tip.1) else {
            return Ok(true);
        };
        let mut found = false;
        walk(snapshot.repo(), Some(cached.0), |logged| {
            found = logged.commit == tip.0;
            if found || logged.event.seq <= tip.1 {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })?;
        let kept = found && self.readers.values().all(Section::is_sound);
        if kept {
            for section in self.readers.values_mut() {
                section.truncate_above(tip.1);
            }
            self.tip = Some(tip);
        }
        Ok(kept)
    }

    /// Brings the cache to `tip`: the events added since the cached tip go
    /// to every known reader they are for, and each of `readers` the cache
    /// cannot answer for (unknown, or with its cursor below its floor) is
    /// walked for down to its cursor. False when the cached tip is not in
    /// the history any more.
    fn catch_up(
        &mut self,
        snapshot: &Snapshot,
        tip: (Oid, u64),
        readers: &[Reader],
        changed: &mut bool,
    ) -> Result<bool, CommError> {
        let mut walked: BTreeMap<&str, Section> = readers
            .iter()
            .filter(|r| self.readers.get(r.name).is_none_or(|s| s.floor > r.seq))
            .map(|r| (r.name, Section::empty(r.seq)))
            .collect();
        if self.tip == Some(tip) && walked.is_empty() {
            return Ok(true);
        }
        let known: Vec<String> = self
            .readers
            .keys()
            .filter(|reader| !walked.contains_key(reader.as_str()))
            .cloned()
            .collect();
        // Newest first while walking; reversed below.
        let mut fresh: BTreeMap<&str, Vec<(u64, String, Oid)>> = BTreeMap::new();
        let mut found: BTreeMap<&str, Vec<(u64, String, Oid)>> = BTreeMap::new();
        let mut connected = self.tip.is_none();
        walk(snapshot.repo(), Some(tip.0), |logged| {
            let seq = logged.event.seq;
            if let Some((cached, cached_seq)) = self.tip.filter(|_| !connected) {
                if logged.commit == cached {
                    connected = true;
                } else if seq <= cached_seq {
                    return ControlFlow::Break(());
                }
            }
            if connected && walked.values().all(|s| seq <= s.floor) {
                return ControlFlow::Break(());
            }
            let event = &logged.event;
            let keep = |into: &mut BTreeMap<_, Vec<_>>, reader| {
                into.entry(reader)
                    .or_default()
                    .push((seq, event.id.clone(), logged.commit));
            };
            for (reader, section) in &walked {
                if seq > section.floor && is_for(&event.kind, &event.from, &event.to, reader) {
                    keep(&mut found, *reader);
                }
            }
            if !connected {
                for reader in &known {
                    if is_for(&event.kind, &event.from, &event.to, reader) {
                        keep(&mut fresh, reader.as_str());
                    }
                }
            }
            ControlFlow::Continue(())
        })?;
        if !connected {
            return Ok(false);
        }
        for (reader, events) in &found {
            let section = walked.get_mut(reader).expect("walked for");
            events.iter().rev().for_each(|line| section.push(line));
        }
        for (reader, events) in fresh {
            let section = self.readers.get_mut(reader).expect("a known reader");
            events.iter().rev().for_each(|line| section.push(line));
        }
        for (reader, section) in walked {
            self.readers.insert(reader.to_owned(), section);
        }
        self.tip = Some(tip);
        *changed = true;
        Ok(true)
    }

    /// Reads the file's head and, of its sections, those `readers` will
    /// read, or all of them when the cache is going to change (a new tip,
    /// a new reader, a cursor that moved) and be saved again.
    fn read(path: &Path, tip: (Oid, u64), readers: &[Reader]) -> Option<Unread> {
        let mut file = BufReader::new(File::open(path).ok()?);
        let mut head = String::new();
        while !head.ends_with("\nend\n") {
            if file.read_line(&mut head).ok()? == 0 {
                return None;
            }
        }
        let (mut cache, sizes) = Unread::parse_head(&head)?;
        let changes = cache.tip != Some(tip)
            || readers
                .iter()
                .any(|r| cache.readers.get(r.name).is_none_or(|s| s.floor != r.seq));
        let mut skipped = 0;
        for (name, bytes) in sizes {
            let wanted = changes || readers.iter().any(|r| r.lines && r.name == name);
            if !wanted {
                skipped += bytes;
                continue;
            }
            file.seek_relative(i64::try_from(skipped).ok()?).ok()?;
            skipped = 0;
            let mut text = vec![0; bytes];
            file.read_exact(&mut text).ok()?;
            let section = cache.readers.get_mut(&name)?;
            section.lines = Some(String::from_utf8(text).ok()?);
        }
        Some(cache)
    }

    /// The tip and the readers of a head, with each section's size in
    /// bytes, in the order the sections follow it.
    fn parse_head(head: &str) -> Option<(Unread, Vec<(String, usize)>)> {
        let mut lines = head.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut parts = lines.next()?.strip_prefix("tip ")?.split(' ');
        let tip = (
            Oid::from_str(parts.next()?).ok()?,
            parts.next()?.parse().ok()?,
        );
        let mut cache = Unread {
            tip: Some(tip),
            readers: BTreeMap::new(),
        };
        let mut sizes = Vec::new();
        for line in lines.take_while(|l| *l != "end") {
            let mut parts = line.strip_prefix("reader\t")?.split('\t');
            let name = unescape(parts.next()?);
            let floor = parts.next()?.parse().ok()?;
            let count = parts.next()?.parse().ok()?;
            let bytes: usize = parts.next()?.parse().ok()?;
            if (count == 0) != (bytes == 0) {
                return None;
            }
            let section = Section {
                floor,
                count,
                lines: None,
            };
            cache.readers.insert(name.clone(), section);
            sizes.push((name, bytes));
        }
        Some((cache, sizes))
    }

    fn save(&self, path: &Path) -> std::io::Result<()> {
        let Some((tip, seq)) = self.tip else {
            return Ok(());
        };
        let size: usize = self.readers.values().map(|s| s.text().len() + 64).sum();
        let mut text = String::with_capacity(size + 80);
        text.push_str(&format!("{MAGIC}\ntip {tip} {seq}\n"));
        for (name, section) in &self.readers {
            text.push_str(&format!(
                "reader\t{}\t{}\t{}\t{}\n",
                escape(name),
                section.floor,
                section.count,
                section.text().len()
            ));
        }
        text.push_str("end\n");
        for section in self.readers.values() {
            text.push_str(section.text());
        }
        write_atomic(path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(floor: u64, seqs: &[u64]) -> Section {
        let commit = "a".repeat(40);
        let lines = seqs
            .iter()
            .map(|s| format!("{s}\tid-{s}\t{commit}\n"))
            .collect();
        Section {
            floor,
            count: seqs.len(),
            lines: Some(lines),
        }
    }

    #[test]
    fn a_section_forgets_what_its_cursor_read_and_what_an_older_tip_lacks() {
        let mut s = section(0, &[2, 5, 9]);
        s.raise(5);
        assert_eq!(s, section(5, &[9]));
        let mut s = section(0, &[2, 5, 9]);
        s.truncate_above(5);
        assert_eq!(s, section(0, &[2, 5]));
        let acked = BTreeSet::from(["id-2".to_owned(), "id-7".to_owned()]);
        assert_eq!(s.unread(&acked), 1);
    }

    #[test]
    fn a_damaged_or_foreign_file_is_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unread-v1");
        let tip = (Oid::from_str(&"b".repeat(40)).unwrap(), 3);
        let web = Reader {
            name: "web",
            seq: 1,
            lines: true,
        };
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Unread::read(&path, tip, &[web]).filter(|c| c.is_sound_for(&[web]))
        };
        let good = section(1, &[2, 3]);
        let lines = good.text();
        let text = format!(
            "{MAGIC}\ntip {} 3\nreader\tweb\t1\t2\t{}\nend\n{lines}",
            tip.0,
            lines.len(),
        );
        let cache = load(&text).expect("a sound file loads");
        assert_eq!(cache.readers["web"], good);
        for bad in [
            text.replace("v1", "v2"),
            text[..text.len() - 3].to_owned(),
            text.replace("tip ", "tip x"),
            text.replace("\t2\t", "\t0\t"),
            text.replace("\t2\t", "\t1\t"),
            text.replace("3\tid-3", "1\tid-3"),
            text.replace("id-3\ta", "id-3\tz"),
        ] {
            assert!(load(&bad).is_none(), "{bad}");
        }
    }
}
