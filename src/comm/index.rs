//! A rebuildable index of events by id and thread, under `.git/comm-node/`.
//!
//! `read ID`, `thread ID` and `--reply-to ID` need to find an event without
//! scanning the whole history. The index remembers the tip it was built at;
//! loading it walks only the events added since. If that tip is no longer in
//! the history (a sync replayed local events), the index is rebuilt. It is a
//! cache: deleting it loses nothing. Ids may be abbreviated to any unique
//! prefix, as git's commit ids may.

use std::collections::HashMap;
use std::fs;
use std::ops::ControlFlow;
use std::path::PathBuf;

use git2::Oid;

use super::{walk, CommError, COMM_REF};
use crate::git::Repo;

/// One indexed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub id: String,
    pub thread: String,
    pub commit: Oid,
}

/// Events by id, as of one tip of `comm`.
#[derive(Debug, Default)]
pub struct Index {
    tip: Option<Oid>,
    entries: Vec<Entry>,
    by_id: HashMap<String, usize>,
}

impl Index {
    /// Loads the index and brings it up to the current tip.
    pub fn load(repo: &Repo) -> Result<Index, CommError> {
        let path = file(repo);
        let mut index = fs::read_to_string(&path)
            .ok()
            .and_then(|text| Index::parse(&text))
            .unwrap_or_default();
        let tip = repo.ref_tip(COMM_REF)?;
        if index.tip == tip {
            return Ok(index);
        }
        if !index.catch_up(repo, tip)? {
            index = Index::default();
            index.catch_up(repo, tip)?;
        }
        // A cache that cannot be written is only slower next time.
        let _ = index.save(&path);
        Ok(index)
    }

    /// The entry for event `id`.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.by_id.get(id).map(|&i| &self.entries[i])
    }

    /// The entry whose id is `id` or, as git does with commit ids, the only
    /// one whose id starts with it; `None` when none does, an error naming
    /// the candidates when several do.
    pub fn resolve(&self, id: &str) -> Result<Option<&Entry>, CommError> {
        if let Some(exact) = self.get(id) {
            return Ok(Some(exact));
        }
        if id.is_empty() {
            return Ok(None);
        }
        let matches: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.id.starts_with(id))
            .collect();
        match matches.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            many => {
                let shown: Vec<&str> = many.iter().take(10).map(|e| e.id.as_str()).collect();
                let more = if many.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                };
                Err(CommError::invalid(
                    format!(
                        "id prefix `{id}` is ambiguous: {} events match ({}{more})",
                        many.len(),
                        shown.join(", ")
                    ),
                    "type more characters of the id",
                ))
            }
        }
    }

    /// Every entry of `thread`, oldest first.
    pub fn thread(&self, thread: &str) -> Vec<&Entry> {
        self.entries.iter().filter(|e| e.thread == thread).collect()
    }

    /// Adds the events between the indexed tip and `tip`; false when the
    /// indexed tip is not in the history any more.
    fn catch_up(&mut self, repo: &Repo, tip: Option<Oid>) -> Result<bool, CommError> {
        let known_seq = self.entries.last().map_or(0, |e| e.seq);
        let mut fresh = Vec::new();
        let mut connected = self.tip.is_none();
        walk(repo, tip, |logged| {
            if Some(logged.commit) == self.tip {
                connected = true;
                return ControlFlow::Break(());
            }
            if self.tip.is_some() && logged.event.seq <= known_seq {
                return ControlFlow::Break(());
            }
            let thread = logged
                .event
                .field("Thread")
                .unwrap_or(&logged.event.id)
                .to_owned();
            fresh.push(Entry {
                seq: logged.event.seq,
                id: logged.event.id,
                thread,
                commit: logged.commit,
            });
            ControlFlow::Continue(())
        })?;
        if !connected {
            return Ok(false);
        }
        for entry in fresh.into_iter().rev() {
            self.by_id.insert(entry.id.clone(), self.entries.len());
            self.entries.push(entry);
        }
        self.tip = tip;
        Ok(true)
    }

    fn parse(text: &str) -> Option<Index> {
        let mut lines = text.lines();
        let tip = Oid::from_str(lines.next()?.strip_prefix("tip ")?).ok()?;
        let mut index = Index {
            tip: Some(tip),
            ..Index::default()
        };
        for line in lines {
            let mut parts = line.split('\t');
            let entry = Entry {
                seq: parts.next()?.parse().ok()?,
                id: parts.next()?.to_owned(),
                thread: parts.next()?.to_owned(),
                commit: Oid::from_str(parts.next()?).ok()?,
            };
            index.by_id.insert(entry.id.clone(), index.entries.len());
            index.entries.push(entry);
        }
        Some(index)
    }

    fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let Some(tip) = self.tip else { return Ok(()) };
        let mut text = format!("tip {tip}\n");
        for e in &self.entries {
            text.push_str(&format!(
                "{}\t{}\t{}\t{}\n",
                e.seq, e.id, e.thread, e.commit
            ));
        }
        crate::cachefile::write_atomic(path, &text)
    }
}

fn file(repo: &Repo) -> PathBuf {
    repo.state_path("index-v1")
}
