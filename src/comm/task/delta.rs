//! A board kept current across snapshots, for a reader that lives long
//! (the cockpit): when `comm` moves, only the shard folders of `tasks/`
//! whose tree changed are listed, and only the task files whose blob
//! changed are parsed and put on the board in place.
//!
//! It changes the board in place only where that is exact: tasks added
//! or rewritten with the same parent and needed artifacts. A task removed,
//! a parent or needed artifact changed, or `artifacts/` changed reloads the
//! whole board (through the readiness cache, [`super::board`]).

use std::collections::HashMap;

use git2::Oid;

use super::cache::Stamp;
use super::{Board, Task};
use crate::comm::{shard, CommError, Snapshot};

/// The board of the newest snapshot seen, with the blob of each task file.
pub struct LiveBoard {
    board: Board,
    blobs: HashMap<String, Oid>,
    stamp: Stamp,
}

/// What an [`LiveBoard::update`] did.
#[derive(Debug)]
pub enum Update {
    /// Nothing that readiness depends on changed.
    Same,
    /// These tasks were put on the board: each id with the task as it was
    /// before (`None`: new).
    Put(Vec<(String, Option<Task>)>),
    /// The board was read again whole.
    Reloaded,
}

impl LiveBoard {
    /// The board at `snapshot`.
    pub fn load(snapshot: &Snapshot) -> Result<LiveBoard, CommError> {
        let stamp = Stamp::of(snapshot)?;
        let listing = match stamp.tasks {
            Some(tree) => shard::files(snapshot.repo(), tree)?,
            None => Vec::new(),
        };
        let blobs = listing
            .into_iter()
            .filter_map(|(name, blob)| Some((name.strip_suffix(".yaml")?.to_owned(), blob)))
            .collect();
        Ok(LiveBoard {
            board: super::board(snapshot)?,
            blobs,
            stamp,
        })
    }

    pub fn board(&self) -> &Board {
        &self.board
    }

    /// Brings the board to `snapshot`.
    pub fn update(&mut self, snapshot: &Snapshot) -> Result<Update, CommError> {
        let stamp = Stamp::of(snapshot)?;
        if stamp == self.stamp {
            return Ok(Update::Same);
        }
        match self.changed_tasks(snapshot, stamp)? {
            Some(tasks) => {
                let mut put = Vec::with_capacity(tasks.len());
                for (blob, task) in tasks {
                    self.blobs.insert(task.id.clone(), blob);
                    put.push((task.id.clone(), self.board.get(&task.id).cloned()));
                    self.board.put(task);
                }
                self.stamp = stamp;
                Ok(Update::Put(put))
            }
            None => {
                *self = LiveBoard::load(snapshot)?;
                Ok(Update::Reloaded)
            }
        }
    }

    /// The task files changed since the board's stamp, read, when putting
    /// them on the board in place is exact (`None` otherwise).
    fn changed_tasks(
        &self,
        snapshot: &Snapshot,
        stamp: Stamp,
    ) -> Result<Option<Vec<(Oid, Task)>>, CommError> {
        if stamp.artifacts != self.stamp.artifacts {
            return Ok(None);
        }
        let repo = snapshot.repo();
        let mut out = Vec::new();
        for (name, blob) in shard::changes(repo, self.stamp.tasks, stamp.tasks)? {
            let Some(id) = name.strip_suffix(".yaml") else {
                continue;
            };
            let Some(blob) = blob else {
                return Ok(None);
            };
            if self.blobs.get(id) == Some(&blob) {
                continue;
            }
            let task = Task::from_yaml(&Task::path_of(id), &repo.blob(blob)?)?;
            let in_place = match self.board.get(id) {
                Some(before) => {
                    before.parent == task.parent && before.needs_artifacts == task.needs_artifacts
                }
                None => task.needs_artifacts.is_empty(),
            };
            if !in_place || task.id != id {
                return Ok(None);
            }
            out.push((blob, task));
        }
        Ok(Some(out))
    }
}
