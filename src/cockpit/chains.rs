//! The waiting chains of the Work panel (what waits on what, the longest
//! first: the bottleneck), on a dependency graph of indices kept with the
//! board: a task change updates its own node, so recomputing the chains
//! walks arrays instead of looking 10,000 ids up again.

use std::collections::{BTreeMap, HashMap};

use super::model::{Chain, CHAINS};
use crate::comm::task;

/// The tasks as nodes, with their dependencies that exist.
#[derive(Default)]
pub struct Graph {
    /// Node of each id, in id order (ids are never removed: a removal
    /// reloads the board and the graph with it).
    index: BTreeMap<String, usize>,
    ids: Vec<String>,
    /// Each node's dependencies that are on the board, in its `deps` order.
    deps: Vec<Vec<usize>>,
    /// Open or claimed.
    unfinished: Vec<bool>,
    /// The domain each is shown under.
    label: Vec<Option<String>>,
    /// Nodes depending on ids not on the board yet.
    missing: HashMap<String, Vec<usize>>,
}

impl Graph {
    /// The graph of every task of `board`.
    pub fn new(board: &task::Board) -> Graph {
        let mut graph = Graph::default();
        for t in board.tasks() {
            graph.put(board, t);
        }
        graph
    }

    /// Puts `t` (new or changed) on the graph.
    pub fn put(&mut self, board: &task::Board, t: &task::Task) {
        let node = match self.index.get(&t.id) {
            Some(&node) => node,
            None => {
                let node = self.ids.len();
                self.index.insert(t.id.clone(), node);
                self.ids.push(t.id.clone());
                self.deps.push(Vec::new());
                self.unfinished.push(false);
                self.label.push(None);
                // Those that waited on it before it existed now point at it.
                for waiting in self.missing.remove(&t.id).unwrap_or_default() {
                    if let Some(w) = board.get(&self.ids[waiting]) {
                        self.link(waiting, w);
                    }
                }
                node
            }
        };
        self.link(node, t);
        self.unfinished[node] = matches!(t.status, task::Status::Open | task::Status::Claimed);
        self.label[node] = t.domain.clone().or(t.assignee.clone());
    }

    /// Sets `node`'s dependencies from `t`'s.
    fn link(&mut self, node: usize, t: &task::Task) {
        let mut deps = Vec::with_capacity(t.deps.len());
        for d in &t.deps {
            match self.index.get(d) {
                Some(&dep) => deps.push(dep),
                None => {
                    let waiting = self.missing.entry(d.clone()).or_default();
                    if !waiting.contains(&node) {
                        waiting.push(node);
                    }
                }
            }
        }
        self.deps[node] = deps;
    }

    /// The [`CHAINS`] longest waiting chains of the open tasks nothing
    /// open waits on... the heads, each followed down its longest run of
    /// unfinished dependencies; longest first, then by id.
    pub fn chains(&self) -> Vec<Chain> {
        let n = self.ids.len();
        let live = |i: usize| self.unfinished[i];
        let deps_of = |i: usize| self.deps[i].iter().copied().filter(move |&d| live(d));
        let mut waited_on = vec![false; n];
        for i in (0..n).filter(|&i| live(i)) {
            for d in deps_of(i) {
                waited_on[d] = true;
            }
        }
        // Longest path below each task (its length and next link),
        // memoized; iterative so a deep graph cannot overflow the stack.
        let mut below: Vec<Option<(usize, Option<usize>)>> = vec![None; n];
        let mut on_stack = vec![0u32; n];
        let mut stack = Vec::new();
        for &start in self.index.values() {
            if !live(start) || below[start].is_some() {
                continue;
            }
            stack.push((start, false));
            on_stack[start] += 1;
            while let Some((id, expanded)) = stack.pop() {
                on_stack[id] -= 1;
                if below[id].is_some() {
                    continue;
                }
                if expanded {
                    let best = deps_of(id)
                        .filter_map(|d| below[d].map(|b| (b.0, d)))
                        .max_by(|a, b| a.0.cmp(&b.0).then(self.ids[b.1].cmp(&self.ids[a.1])));
                    below[id] = Some(best.map_or((0, None), |(n, d)| (n + 1, Some(d))));
                } else {
                    stack.push((id, true));
                    on_stack[id] += 1;
                    // A cycle leaves a dependency unexpanded: it counts as 0.
                    for d in deps_of(id) {
                        if below[d].is_none() && on_stack[d] == 0 {
                            stack.push((d, false));
                            on_stack[d] += 1;
                        }
                    }
                }
            }
        }
        // The heads in id order, then longest first (a stable sort keeps
        // the id order among equals); only the kept ones are spelled out.
        let mut heads: Vec<(usize, usize)> = self
            .index
            .values()
            .filter(|&&i| live(i) && !waited_on[i])
            .filter_map(|&i| below[i].filter(|b| b.0 > 0).map(|b| (b.0, i)))
            .collect();
        heads.sort_by_key(|h| std::cmp::Reverse(h.0));
        heads
            .into_iter()
            .take(CHAINS)
            .map(|(_, head)| self.chain(head, &below))
            .collect()
    }

    /// The chain from `head` down its longest path.
    fn chain(&self, head: usize, below: &[Option<(usize, Option<usize>)>]) -> Chain {
        let mut nodes: Vec<usize> = Vec::new();
        let mut at = Some(head);
        while let Some(i) = at {
            if nodes.contains(&i) {
                break;
            }
            nodes.push(i);
            at = below[i].and_then(|b| b.1);
        }
        let links: Vec<(String, Option<String>)> = nodes
            .into_iter()
            .map(|i| (self.ids[i].clone(), self.label[i].clone()))
            .collect();
        let first = &links[0].1;
        let cross = links.iter().any(|(_, d)| d != first);
        Chain { links, cross }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn task(id: &str, deps: &[&str]) -> task::Task {
        task::Task {
            domain: Some(format!("d{}", id.len())),
            ..task::Task::sample(id, deps)
        }
    }

    fn board(tasks: Vec<task::Task>) -> task::Board {
        task::Board::new(
            tasks.into_iter().map(|t| (t.id.clone(), t)).collect(),
            BTreeSet::new(),
        )
    }

    #[test]
    fn a_dependency_that_appears_later_joins_the_chain_as_a_fresh_graph_has_it() {
        let mut b = board(vec![task("a", &["bb"]), task("c", &[])]);
        let mut kept = Graph::new(&b);
        assert!(kept.chains().is_empty());
        b.put(task("bb", &["c"]));
        kept.put(&b, b.get("bb").unwrap());
        let chains = kept.chains();
        assert_eq!(chains, Graph::new(&b).chains());
        let ids: Vec<&str> = chains[0].links.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(ids, ["a", "bb", "c"]);
        assert!(chains[0].cross);
    }
}
