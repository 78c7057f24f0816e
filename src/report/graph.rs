//! The task graph with status, laid out in layers computed here: a task
//! sits one layer right of its latest dependency, and each layer is
//! ordered by the mean position of what it waits for (two barycentre
//! sweeps, the usual Sugiyama shortcut). Pure: nodes in, SVG out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::svg::{clip, empty, esc};

/// Nodes drawn at most (the tasks changed last); edges to the rest are
/// left out and the page says so.
pub const MAX_NODES: usize = 150;

const COL: f64 = 210.0;
const ROW: f64 = 32.0;
const BOX_W: f64 = 180.0;
const BOX_H: f64 = 24.0;
const PAD: f64 = 12.0;

/// A task as the graph draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub title: String,
    pub status: String,
    pub domain: Option<String>,
    /// Tasks it waits for.
    pub deps: Vec<String>,
    /// When it last changed (for choosing which to draw).
    pub updated: i64,
}

/// Positions: each node's (layer, row).
pub fn layout(nodes: &[Node]) -> BTreeMap<String, (usize, usize)> {
    let ids: BTreeSet<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    let by_id: BTreeMap<&str, &Node> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut layer: BTreeMap<&str, usize> = BTreeMap::new();
    for n in nodes {
        layer_of(n.id.as_str(), &by_id, &ids, &mut layer);
    }
    let depth = layer.values().copied().max().map_or(0, |m| m + 1);
    let mut layers: Vec<Vec<&str>> = vec![Vec::new(); depth];
    for (id, l) in &layer {
        layers[*l].push(id);
    }
    let mut row: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &layers {
        for (i, id) in l.iter().enumerate() {
            row.insert(id, i);
        }
    }
    for _ in 0..2 {
        for l in layers.iter_mut().skip(1) {
            let key = |id: &&str| -> f64 {
                let deps: Vec<usize> = by_id[id]
                    .deps
                    .iter()
                    .filter_map(|d| row.get(d.as_str()).copied())
                    .collect();
                if deps.is_empty() {
                    f64::MAX
                } else {
                    deps.iter().sum::<usize>() as f64 / deps.len() as f64
                }
            };
            l.sort_by(|a, b| key(a).total_cmp(&key(b)).then(a.cmp(b)));
            for (i, id) in l.iter().enumerate() {
                row.insert(id, i);
            }
        }
    }
    layers
        .iter()
        .enumerate()
        .flat_map(|(li, l)| {
            l.iter()
                .enumerate()
                .map(move |(ri, id)| ((*id).to_owned(), (li, ri)))
        })
        .collect()
}

/// The layer of `id`: 0 without dependencies among `ids`, else one more
/// than its deepest dependency (iterative; a cycle, which comm refuses,
/// would only be cut).
fn layer_of<'a>(
    id: &'a str,
    by_id: &BTreeMap<&'a str, &'a Node>,
    ids: &BTreeSet<&'a str>,
    layer: &mut BTreeMap<&'a str, usize>,
) {
    let mut stack: Vec<(&str, bool)> = vec![(id, false)];
    let mut visiting: BTreeSet<&str> = BTreeSet::new();
    while let Some((id, expanded)) = stack.pop() {
        if layer.contains_key(id) {
            continue;
        }
        let deps = by_id[id]
            .deps
            .iter()
            .filter_map(|d| ids.get(d.as_str()).copied());
        if expanded {
            let l = deps
                .filter_map(|d| layer.get(d).map(|l| l + 1))
                .max()
                .unwrap_or(0);
            layer.insert(id, l);
            visiting.remove(id);
            continue;
        }
        visiting.insert(id);
        stack.push((id, true));
        for d in deps {
            if !layer.contains_key(d) && !visiting.contains(d) {
                stack.push((d, false));
            }
        }
    }
}

/// The task graph section.
pub fn render(all: &[Node]) -> String {
    if all.is_empty() {
        return empty("No tasks.");
    }
    let mut nodes = all.to_vec();
    nodes.sort_by(|a, b| b.updated.cmp(&a.updated).then(a.id.cmp(&b.id)));
    nodes.truncate(MAX_NODES);
    let pos = layout(&nodes);
    let at = |id: &str| {
        pos.get(id)
            .map(|(l, r)| (PAD + *l as f64 * COL, PAD + *r as f64 * ROW))
    };
    let layers = pos.values().map(|p| p.0).max().unwrap_or(0) + 1;
    let rows = pos.values().map(|p| p.1).max().unwrap_or(0) + 1;
    let (w, h) = (
        PAD * 2.0 + (layers - 1) as f64 * COL + BOX_W,
        PAD * 2.0 + (rows - 1) as f64 * ROW + BOX_H,
    );
    let mut svg = String::new();
    for n in &nodes {
        let Some((x, y)) = at(&n.id) else { continue };
        for d in &n.deps {
            let Some((dx, dy)) = at(d) else { continue };
            let (x0, y0, x1, y1) = (dx + BOX_W, dy + BOX_H / 2.0, x, y + BOX_H / 2.0);
            let mid = (x0 + x1) / 2.0;
            let _ = write!(
                svg,
                r#"<path class="dep-edge" data-from="{f}" data-to="{t}" d="M{x0:.1} {y0:.1} C{mid:.1} {y0:.1} {mid:.1} {y1:.1} {x1:.1} {y1:.1}"/>"#,
                f = esc(d),
                t = esc(&n.id),
            );
        }
    }
    for n in &nodes {
        let Some((x, y)) = at(&n.id) else { continue };
        let domain = n.domain.as_deref().unwrap_or("any");
        let _ = write!(
            svg,
            r#"<g class="task-node status-{s}" data-task="{id}" data-status="{s}"><rect x="{x:.1}" y="{y:.1}" width="{BOX_W}" height="{BOX_H}" rx="4"/><text x="{:.1}" y="{:.1}">{label}</text><title>{id} ({s}, {d}): {title}</title></g>"#,
            x + 6.0,
            y + 16.0,
            s = esc(&n.status),
            id = esc(&n.id),
            d = esc(domain),
            label = esc(&clip(&format!("{} {}", n.id, n.title), 28)),
            title = esc(&clip(&n.title, 200)),
        );
    }
    let mut out = format!(
        r#"<svg id="graph" class="chart" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" height="{h:.0}" role="img" aria-label="Task dependency graph">{svg}</svg>"#
    );
    out.push_str(r#"<p class="legend"><span class="key node status-open"></span> open <span class="key node status-claimed"></span> claimed <span class="key node status-done"></span> done <span class="key node status-failed"></span> failed <span class="key node status-cancelled"></span> cancelled; an arrow runs from a dependency to the task waiting for it</p>"#);
    if all.len() > nodes.len() {
        let _ = write!(
            out,
            r#"<p class="note">Showing the {} tasks changed last of {}.</p>"#,
            nodes.len(),
            all.len()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, deps: &[&str]) -> Node {
        Node {
            id: id.to_owned(),
            title: String::new(),
            status: "open".into(),
            domain: None,
            deps: deps.iter().map(|d| (*d).to_owned()).collect(),
            updated: 0,
        }
    }

    #[test]
    fn a_task_sits_right_of_its_deepest_dependency() {
        let nodes = [
            node("c", &["a", "b"]),
            node("b", &["a"]),
            node("a", &[]),
            node("d", &[]),
            node("e", &["missing"]),
        ];
        let pos = layout(&nodes);
        assert_eq!(pos["a"].0, 0);
        assert_eq!(pos["b"].0, 1);
        assert_eq!(pos["c"].0, 2);
        assert_eq!(pos["d"].0, 0);
        assert_eq!(pos["e"].0, 0, "an unknown dependency does not count");
    }

    #[test]
    fn a_cycle_does_not_hang() {
        let pos = layout(&[node("a", &["b"]), node("b", &["a"])]);
        assert_eq!(pos.len(), 2);
    }
}
