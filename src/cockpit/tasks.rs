//! The task graph's part of the cockpit model (counts, the active list,
//! convoys, waiting chains), kept current across redraws: `watch` lives
//! long, so when `tasks/` on comm changes it re-reads only the changed
//! task files ([`task::LiveBoard`]) and recomputes only what they can
//! affect; a redraw that leaves `tasks/` alone reuses everything.
//!
//! A changed task can change the readiness of itself, of the tasks that
//! depend on it and of their descendants (blocking flows down parent
//! links), the progress of its convoy, and the waiting chains when it
//! became finished or unfinished, or its dependencies or its domain
//! changed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::chains::Graph;
use super::model::{Chain, Convoy, TaskLine};
use crate::comm::{task, CommError, Snapshot};
use crate::status::TaskCounts;

/// The derived part, shared with the models drawn from it.
#[derive(Debug, Clone, Default)]
pub struct TasksPart {
    pub counts: TaskCounts,
    /// Claimed first, then in the order work is handed out.
    pub active: Arc<[Arc<TaskLine>]>,
    pub convoys: Arc<[Convoy]>,
    /// The [`super::model::CHAINS`] longest, longest first; the first is
    /// the bottleneck.
    pub chains: Arc<[Chain]>,
}

/// The board and what is derived from it, kept current.
pub struct TaskView {
    live: task::LiveBoard,
    /// Who depends on each id (the id may not exist).
    dependents: HashMap<String, Vec<String>>,
    active: BTreeMap<ActiveKey, Arc<TaskLine>>,
    convoys: BTreeMap<String, Convoy>,
    graph: Graph,
    part: TasksPart,
}

/// Claimed before open, then priority, age and id ([`task::order`]).
type ActiveKey = (bool, u8, i64, String);

fn active_key(t: &task::Task) -> ActiveKey {
    (
        t.status != task::Status::Claimed,
        t.priority,
        t.created,
        t.id.clone(),
    )
}

fn is_active(t: &task::Task) -> bool {
    matches!(t.status, task::Status::Open | task::Status::Claimed)
}

/// The domain a task is shown under.
fn label(t: &task::Task) -> Option<String> {
    t.domain.clone().or(t.assignee.clone())
}

fn line(board: &task::Board, t: &task::Task) -> Arc<TaskLine> {
    Arc::new(TaskLine {
        id: t.id.clone(),
        status: t.status,
        ready: board.is_ready(t),
        domain: label(t),
        title: t.title.clone(),
    })
}

fn convoy(board: &task::Board, id: &str) -> Option<Convoy> {
    let t = board.get(id)?;
    let p = board.progress(id)?;
    (p.total > 0).then(|| Convoy {
        id: t.id.clone(),
        title: t.title.clone(),
        done: p.done,
        total: p.total,
    })
}

impl TaskView {
    /// The view of the board at `snapshot`.
    pub fn load(snapshot: &Snapshot) -> Result<TaskView, CommError> {
        Ok(TaskView::of(task::LiveBoard::load(snapshot)?))
    }

    fn of(live: task::LiveBoard) -> TaskView {
        let mut view = TaskView {
            live,
            dependents: HashMap::new(),
            active: BTreeMap::new(),
            convoys: BTreeMap::new(),
            graph: Graph::default(),
            part: TasksPart::default(),
        };
        view.derive();
        view
    }

    /// Derives everything from the board.
    fn derive(&mut self) {
        let board = self.live.board();
        self.dependents.clear();
        for t in board.tasks() {
            for d in &t.deps {
                self.dependents
                    .entry(d.clone())
                    .or_default()
                    .push(t.id.clone());
            }
        }
        self.active = board
            .tasks()
            .filter(|t| is_active(t))
            .map(|t| (active_key(t), line(board, t)))
            .collect();
        self.convoys = board
            .tasks()
            .filter_map(|t| convoy(board, &t.id))
            .map(|c| (c.id.clone(), c))
            .collect();
        self.graph = Graph::new(board);
        let chains = self.graph.chains().into();
        self.publish(Some(chains));
    }

    /// What the model shows.
    pub fn part(&self) -> &TasksPart {
        &self.part
    }

    pub fn board(&self) -> &task::Board {
        self.live.board()
    }

    /// Brings the view to `snapshot`.
    pub fn update(&mut self, snapshot: &Snapshot) -> Result<(), CommError> {
        match self.live.update(snapshot)? {
            task::Update::Same => {}
            task::Update::Put(put) => self.apply(&put),
            task::Update::Reloaded => self.derive(),
        }
        Ok(())
    }

    /// Recomputes what the tasks just put on the board can affect.
    fn apply(&mut self, put: &[(String, Option<task::Task>)]) {
        let board = self.live.board();
        let mut chains_move = false;
        for (id, before) in put {
            let now = board.get(id).expect("a task just put is on the board");
            if let Some(b) = before {
                if is_active(b) {
                    self.active.remove(&active_key(b));
                }
                for d in &b.deps {
                    if let Some(list) = self.dependents.get_mut(d) {
                        list.retain(|x| x != id);
                    }
                }
            }
            for d in &now.deps {
                self.dependents
                    .entry(d.clone())
                    .or_default()
                    .push(id.clone());
            }
            self.graph.put(board, now);
            chains_move |= before.as_ref().is_none_or(|b| {
                is_active(b) != is_active(now) || b.deps != now.deps || label(b) != label(now)
            });
        }
        // Readiness: the tasks put, those that depend on them, and below.
        let mut seen: HashSet<&str> = HashSet::new();
        let mut todo: Vec<&str> = Vec::new();
        for (id, _) in put {
            todo.push(id);
            if let Some(list) = self.dependents.get(id) {
                todo.extend(list.iter().map(String::as_str));
            }
        }
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            todo.extend(board.children(id).iter().map(String::as_str));
            if let Some(t) = board.get(id).filter(|t| is_active(t)) {
                self.active.insert(active_key(t), line(board, t));
            }
        }
        // Convoy progress: the tasks put (a title) and their convoys.
        let convoys = put.iter().flat_map(|(id, _)| {
            std::iter::once(id).chain(board.get(id).and_then(|t| t.parent.as_ref()))
        });
        for id in convoys {
            match convoy(board, id) {
                Some(c) => self.convoys.insert(id.clone(), c),
                None => self.convoys.remove(id),
            };
        }
        let chains = chains_move.then(|| self.graph.chains().into());
        self.publish(chains);
    }

    /// Makes [`TaskView::part`] from the view, with new `chains` if given.
    fn publish(&mut self, chains: Option<Arc<[Chain]>>) {
        let mut counts = crate::status::count_statuses(self.live.board());
        // Only an open task can be ready, and every open task is active.
        counts.ready = self.active.values().filter(|l| l.ready).count();
        self.part = TasksPart {
            counts,
            active: self.active.values().cloned().collect(),
            convoys: self.convoys.values().cloned().collect(),
            chains: chains.unwrap_or_else(|| self.part.chains.clone()),
        };
    }
}
