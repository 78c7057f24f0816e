//! `comm-node report`: one self-contained HTML page of the coordination
//! history, for people who would rather look than read. One pass over
//! `comm` ([`history`]: commit messages only) and the task graph at the
//! tip, then pure rendering functions, one per chart.
//!
//! The page is inline SVG and CSS: no script, no external reference, no
//! server; it prints. Event text is attacker-controlled (any clone can
//! write a subject), so every string from an event goes through
//! [`svg::esc`]; element ids and classes are stable for tests and
//! stylesheets (`rect.task-bar[data-task]`, `path.reject-marker`,
//! `g.msg-edge[data-tokens]`, `circle.cost-point[data-domain]`, ...).

pub mod cost;
pub mod graph;
pub mod history;
pub mod messages;
pub mod queue;
pub mod svg;
pub mod timeline;

use std::fmt::Write;

use crate::clock;
use crate::comm::{self, CommError, Snapshot};
use crate::git::Repo;

pub use history::History;

/// Reads `comm` (events at or after `since`) and renders the page; `now`
/// stamps it.
pub fn build(repo: &Repo, since: Option<i64>, now: i64) -> Result<String, CommError> {
    let history = history::read(repo, since)?;
    let snapshot = Snapshot::take(repo)?;
    let board = comm::task::board(&snapshot)?;
    let mut nodes: Vec<graph::Node> = board
        .tasks()
        .filter(|t| since.is_none_or(|s| t.updated >= s))
        .map(|t| graph::Node {
            id: t.id.clone(),
            title: t.title.clone(),
            status: t.status.as_str().to_owned(),
            domain: t.domain.clone(),
            deps: t.deps.clone(),
            updated: t.updated,
        })
        .collect();
    if nodes.is_empty() {
        // No task files at the tip (a history copied without its state):
        // the events still say which tasks there were.
        nodes = history
            .tasks
            .values()
            .map(|t| graph::Node {
                id: t.id.clone(),
                title: t.title.clone(),
                status: t.status.clone(),
                domain: t.domain.clone(),
                deps: Vec::new(),
                updated: t.last,
            })
            .collect();
    }
    let project = repo
        .main_workdir()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "comm".to_owned());
    Ok(render(&project, &history, &nodes, since, now))
}

/// The whole page from what [`build`] gathered.
pub fn render(
    project: &str,
    h: &History,
    nodes: &[graph::Node],
    since: Option<i64>,
    now: i64,
) -> String {
    let domains: Vec<String> = h.domains.iter().cloned().collect();
    let mut page = String::with_capacity(256 * 1024);
    let title = format!("comm-node report: {project}");
    let _ = write!(
        page,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{t}</title>
<style>{CSS}</style></head>
<body><header><h1>{t}</h1><p class="meta" id="summary" data-events="{events}">"#,
        t = svg::esc(&title),
        events = h.events,
    );
    let period = if h.events == 0 {
        "no events".to_owned()
    } else {
        format!(
            "{} to {}",
            clock::format_timestamp(h.start),
            clock::format_timestamp(h.end)
        )
    };
    let rejected = h.queue.iter().filter(|q| q.rejected()).count();
    let landed = h.queue.iter().filter(|q| q.outcome == "landed").count();
    let cost: f64 = h.turns.iter().map(|t| t.cost_usd).sum();
    let _ = write!(
        page,
        "{} events, {period}{}. {} tasks, {} turns costing {}, {} messages, {landed} landings, {rejected} rejections, {} halts. Generated {}.</p>",
        svg::count(h.events as u64),
        match since {
            Some(s) => format!(" (since {})", clock::format_timestamp(s)),
            None => String::new(),
        },
        svg::count(h.tasks.len() as u64),
        svg::count(h.turns.len() as u64),
        svg::usd(cost),
        svg::count(h.messages.values().map(|t| t.count).sum()),
        h.halts.len(),
        clock::format_timestamp(now),
    );
    page.push_str(r##"<nav><a href="#s-timeline">Timeline</a> <a href="#s-cost">Cost</a> <a href="#s-graph">Task graph</a> <a href="#s-messages">Messages</a> <a href="#s-queue">Queue</a> <a href="#s-latest">Latest events</a></nav></header><main>"##);
    section(
        &mut page,
        "s-timeline",
        "Timeline per domain",
        &timeline::render(h, &domains),
    );
    section(
        &mut page,
        "s-cost",
        "Cost over time per domain",
        &cost::render(h, &domains),
    );
    section(&mut page, "s-graph", "Task graph", &graph::render(nodes));
    section(
        &mut page,
        "s-messages",
        "Who messages whom",
        &messages::render(h),
    );
    section(&mut page, "s-queue", "Merge queue", &queue::render(h));
    section(&mut page, "s-latest", "Latest events", &latest(h));
    page.push_str("</main><footer>Written by <code>comm-node report</code> from the <code>comm</code> branch; <code>git log comm</code> has every event.</footer></body></html>\n");
    page
}

fn section(page: &mut String, id: &str, title: &str, body: &str) {
    let _ = write!(
        page,
        r#"<section id="{id}"><h2>{}</h2>{body}</section>"#,
        svg::esc(title)
    );
}

fn latest(h: &History) -> String {
    if h.latest.is_empty() {
        return svg::empty("No events.");
    }
    let mut out = String::from(
        r#"<table class="latest"><thead><tr><th>seq</th><th>time (UTC)</th><th>kind</th><th>from</th><th>subject</th></tr></thead><tbody>"#,
    );
    for l in &h.latest {
        let _ = write!(
            out,
            r#"<tr class="event" data-kind="{k}"><td>{}</td><td>{}</td><td>{k}</td><td>{}</td><td>{}</td></tr>"#,
            l.seq,
            clock::format_timestamp(l.at),
            svg::esc(&l.from),
            svg::esc(&svg::clip(&l.subject, 300)),
            k = svg::esc(&l.kind),
        );
    }
    out.push_str("</tbody></table>");
    out
}

const CSS: &str = r#"
:root{--ink:#222;--mute:#666;--line:#ccc;--bg:#fff;--lane:#f5f6f8}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);background:var(--bg);margin:0 auto;padding:16px 24px;max-width:1180px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:14px;margin:16px 0 4px}
.meta,.note,.legend,.empty,footer{color:var(--mute)}
nav a{margin-right:12px}
svg.chart{display:block;max-width:100%;height:auto;font-size:11px}
.axis{stroke:#999}.grid{stroke:#eee}.tick{fill:var(--mute);text-anchor:middle}.tick.y{text-anchor:end}
.lane-bg{fill:var(--lane)}.lane-label{fill:var(--ink);font-weight:600}
.task-bar{stroke:#0003}.task-bar.status-open,.task-bar.status-claimed{opacity:.55}
.task-bar.status-failed,.task-bar.status-cancelled{fill-opacity:.35;stroke:#c00;stroke-dasharray:3 2}
.reject-marker{fill:#e15759;stroke:#fff}.land-marker{fill:#2d7d2a;stroke:#fff}
.halt-marker{stroke:#c00;stroke-width:2.5}
.cost-line{fill:none;stroke-width:2}
.dep-edge{fill:none;stroke:#999;stroke-width:1.2}
.task-node rect{fill:#fff;stroke:#888}.task-node text{fill:var(--ink)}
.task-node.status-claimed rect{fill:#fff3d6;stroke:#d19a00}.task-node.status-done rect{fill:#e3f3e0;stroke:#59a14f}
.task-node.status-failed rect{fill:#fde2e2;stroke:#e15759}.task-node.status-cancelled rect{fill:#eee;stroke:#aaa;stroke-dasharray:3 2}
.msg-edge path{fill:none;stroke:#4e79a7;stroke-opacity:.6}.arrowhead{fill:#4e79a7}
.msg-label{fill:var(--ink);font-size:10px;text-anchor:middle}.msg-node circle{fill:#fff;stroke:#333;stroke-width:1.5}.msg-node text{text-anchor:middle;font-weight:600}
.bar-label{fill:#fff;font-weight:600}
.pair{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border-bottom:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
td{font-variant-numeric:tabular-nums}
.key{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-left:8px;border:1px solid #0002}
.key.bar{background:#4e79a7}.key.reject{background:#e15759;transform:rotate(45deg)}.key.land{background:#2d7d2a}.key.halt{background:#c00;width:3px}
.key.node{background:#fff}.key.status-claimed{background:#fff3d6}.key.status-done{background:#e3f3e0}.key.status-failed{background:#fde2e2}.key.status-cancelled{background:#eee}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px}
@media print{
 body{max-width:none;padding:0;font-size:11px}
 nav{display:none}
 section{break-inside:avoid;page-break-inside:avoid}
 svg.chart{width:100%}
 a{color:inherit;text-decoration:none}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"#;
