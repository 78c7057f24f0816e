//! The task graph in memory: readiness, what blocks a task, convoy
//! progress, cycles and the order work is handed out in.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::{Status, Task};

/// Why a task is not ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    /// A dependency that is not done (or does not exist).
    Dep { id: String, status: Option<Status> },
    /// A needed artifact that is not published.
    Artifact { name: String },
    /// The parent (convoy) is itself blocked.
    Parent { id: String },
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocker::Dep { id, status: None } => write!(f, "{id} (missing)"),
            Blocker::Dep {
                id,
                status: Some(s),
            } => write!(f, "{id} ({})", s.as_str()),
            Blocker::Artifact { name } => write!(f, "artifact {name}"),
            Blocker::Parent { id } => write!(f, "parent {id} is blocked"),
        }
    }
}

/// How far a convoy (a task with children) has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// Every task of one snapshot, and the artifacts they need that are published.
#[derive(Debug, Default)]
pub struct Board {
    tasks: BTreeMap<String, Task>,
    published: BTreeSet<String>,
    children: HashMap<String, Vec<String>>,
}

impl Board {
    /// A board over `tasks`, with `published` the needed artifacts that exist.
    pub fn new(tasks: BTreeMap<String, Task>, published: BTreeSet<String>) -> Board {
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        for task in tasks.values() {
            if let Some(parent) = &task.parent {
                children
                    .entry(parent.clone())
                    .or_default()
                    .push(task.id.clone());
            }
        }
        Board {
            tasks,
            published,
            children,
        }
    }

    /// The artifacts some task needs, each once.
    pub fn needed_artifacts(tasks: &BTreeMap<String, Task>) -> BTreeSet<String> {
        tasks
            .values()
            .flat_map(|t| t.needs_artifacts.iter().cloned())
            .collect()
    }

    pub fn get(&self, id: &str) -> Option<&Task> {
        self.tasks.get(id)
    }

    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values()
    }

    /// The tasks, by id, consuming the board.
    pub fn into_tasks(self) -> impl Iterator<Item = Task> {
        self.tasks.into_values()
    }

    /// What keeps `task` from being ready, apart from its own status.
    pub fn blockers(&self, task: &Task) -> Vec<Blocker> {
        let mut out = self.own_blockers(task);
        if let Some(parent) = &task.parent {
            if self.is_blocked(parent, 0) {
                out.push(Blocker::Parent { id: parent.clone() });
            }
        }
        out
    }

    fn own_blockers(&self, task: &Task) -> Vec<Blocker> {
        let mut out: Vec<Blocker> = task
            .deps
            .iter()
            .filter_map(|id| {
                let status = self.tasks.get(id).map(|t| t.status);
                (status != Some(Status::Done)).then(|| Blocker::Dep {
                    id: id.clone(),
                    status,
                })
            })
            .collect();
        out.extend(
            task.needs_artifacts
                .iter()
                .filter(|a| !self.published.contains(*a))
                .map(|a| Blocker::Artifact { name: a.clone() }),
        );
        out
    }

    /// Whether `task` has a blocker of its own (without listing them).
    fn has_own_blocker(&self, task: &Task) -> bool {
        task.deps
            .iter()
            .any(|id| self.tasks.get(id).is_none_or(|t| t.status != Status::Done))
            || task
                .needs_artifacts
                .iter()
                .any(|a| !self.published.contains(a))
    }

    /// Whether task `id` is blocked by its own blockers or its ancestors'
    /// (depth-limited: parent chains are acyclic, the limit guards bad data).
    fn is_blocked(&self, id: &str, depth: usize) -> bool {
        let Some(task) = self.tasks.get(id) else {
            return false;
        };
        if depth > self.tasks.len() {
            return false;
        }
        self.has_own_blocker(task)
            || task
                .parent
                .as_deref()
                .is_some_and(|p| self.is_blocked(p, depth + 1))
    }

    /// Open and unblocked.
    pub fn is_ready(&self, task: &Task) -> bool {
        task.status == Status::Open
            && !self.has_own_blocker(task)
            && !task
                .parent
                .as_deref()
                .is_some_and(|p| self.is_blocked(p, 0))
    }

    /// Ready tasks in the order work is handed out: priority, then age, then id.
    pub fn ready(&self) -> Vec<&Task> {
        let mut out: Vec<&Task> = self.tasks.values().filter(|t| self.is_ready(t)).collect();
        out.sort_by(|a, b| order(a, b));
        out
    }

    /// The ids of the tasks whose parent is `id`.
    pub fn children(&self, id: &str) -> &[String] {
        self.children.get(id).map_or(&[], Vec::as_slice)
    }

    /// Progress of a convoy, `None` for a task without children; a
    /// cancelled child no longer counts.
    pub fn progress(&self, id: &str) -> Option<Progress> {
        let children = self.children.get(id)?;
        let status = |c: &String| self.tasks.get(c).map(|t| t.status);
        let done = children
            .iter()
            .filter(|c| status(c) == Some(Status::Done))
            .count();
        let cancelled = children
            .iter()
            .filter(|c| status(c) == Some(Status::Cancelled))
            .count();
        Some(Progress {
            done,
            total: children.len() - cancelled,
        })
    }

    /// A dependency path from `from` to `to` through `deps` and `parent`
    /// links (the cycle that adding the edge `to → from` would close).
    pub fn path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![vec![from.to_owned()]];
        while let Some(path) = stack.pop() {
            let last = path.last().expect("paths are never empty");
            if last == to {
                return Some(path);
            }
            if !seen.insert(last.clone()) {
                continue;
            }
            let Some(task) = self.tasks.get(last) else {
                continue;
            };
            for next in task.deps.iter().chain(task.parent.iter()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
        None
    }

    /// A cycle through `deps` and `parent` links, if the graph has one
    /// (each id once, the first repeated at the end).
    pub fn find_cycle(&self) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Active,
            Finished,
        }
        let mut marks: HashMap<&str, Mark> = HashMap::new();
        for start in self.tasks.keys() {
            if marks.contains_key(start.as_str()) {
                continue;
            }
            // Iterative depth-first search; `path` is the active chain.
            let mut path: Vec<(&str, Vec<&str>)> = vec![(start.as_str(), self.edges(start))];
            marks.insert(start, Mark::Active);
            while let Some((node, next)) = path.last_mut() {
                let Some(target) = next.pop() else {
                    marks.insert(node, Mark::Finished);
                    path.pop();
                    continue;
                };
                match marks.get(target) {
                    Some(Mark::Finished) => {}
                    Some(Mark::Active) => {
                        let from = path.iter().position(|(n, _)| *n == target)?;
                        let mut cycle: Vec<String> =
                            path[from..].iter().map(|(n, _)| (*n).to_owned()).collect();
                        cycle.push(target.to_owned());
                        return Some(cycle);
                    }
                    None => {
                        marks.insert(target, Mark::Active);
                        path.push((target, self.edges(target)));
                    }
                }
            }
        }
        None
    }

    /// The tasks `id` points at (deps and parent) that exist.
    fn edges(&self, id: &str) -> Vec<&str> {
        self.tasks.get(id).map_or_else(Vec::new, |t| {
            t.deps
                .iter()
                .chain(t.parent.iter())
                .filter_map(|d| self.tasks.get_key_value(d).map(|(k, _)| k.as_str()))
                .collect()
        })
    }

    /// Inserts or replaces a task (for changes being validated).
    pub fn put(&mut self, task: Task) {
        if let Some(parent) = &task.parent {
            let kids = self.children.entry(parent.clone()).or_default();
            if !kids.contains(&task.id) {
                kids.push(task.id.clone());
            }
        }
        self.tasks.insert(task.id.clone(), task);
    }
}

/// Priority first (0 is most urgent), then the oldest, then by id.
pub fn order(a: &Task, b: &Task) -> std::cmp::Ordering {
    (a.priority, a.created, &a.id).cmp(&(b.priority, b.created, &b.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, status: Status, deps: &[&str], parent: Option<&str>) -> Task {
        Task {
            status,
            parent: parent.map(Into::into),
            ..Task::sample(id, deps)
        }
    }

    fn board(tasks: Vec<Task>) -> Board {
        Board::new(
            tasks.into_iter().map(|t| (t.id.clone(), t)).collect(),
            BTreeSet::new(),
        )
    }

    #[test]
    fn blocking_flows_down_parent_links_like_bd_ready() {
        let b = board(vec![
            task("blocker", Status::Open, &[], None),
            task("epic", Status::Open, &["blocker"], None),
            task("child", Status::Open, &[], Some("epic")),
            task("grandchild", Status::Open, &[], Some("child")),
            task("free", Status::Open, &[], None),
        ]);
        let ready: Vec<&str> = b.ready().iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ready, ["blocker", "free"]);
        assert_eq!(
            b.blockers(b.get("grandchild").unwrap()),
            [Blocker::Parent { id: "child".into() }]
        );
    }

    #[test]
    fn an_open_parent_does_not_block_its_children() {
        let b = board(vec![
            task("epic", Status::Open, &[], None),
            task("child", Status::Open, &[], Some("epic")),
        ]);
        assert_eq!(b.ready().len(), 2);
        assert_eq!(b.progress("epic"), Some(Progress { done: 0, total: 1 }));
    }

    #[test]
    fn paths_find_the_cycle_an_edge_would_close() {
        let b = board(vec![
            task("a", Status::Open, &["b"], None),
            task("b", Status::Open, &["c"], None),
            task("c", Status::Open, &[], None),
        ]);
        assert_eq!(
            b.path("a", "c"),
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(b.path("c", "a"), None);
        assert_eq!(b.find_cycle(), None);
    }

    #[test]
    fn a_cycle_through_deps_and_parents_is_found() {
        let b = board(vec![
            task("a", Status::Open, &["b"], None),
            task("b", Status::Open, &[], Some("c")),
            task("c", Status::Open, &["a"], None),
            task("d", Status::Open, &["a"], None),
        ]);
        let cycle = b.find_cycle().unwrap();
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 4);
    }
}
