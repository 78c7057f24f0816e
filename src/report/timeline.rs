//! The timeline: one lane per domain, one bar per task from its claim (or
//! its addition, when never claimed) to done, failed or now; queue
//! rejections and landings as markers, halts as red rules. Pure: history
//! in, SVG out.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::history::{History, TaskSpan};
use super::svg::{clip, color, empty, esc, TimeScale};
use crate::clock;

/// Bars drawn at most (the tasks touched last); the page says how many
/// more there were.
pub const MAX_BARS: usize = 400;

/// One row of a lane: its bars' (start x, end x, task), left to right.
type Row<'a> = Vec<(f64, f64, &'a TaskSpan)>;

const LEFT: f64 = 120.0;
const WIDTH: f64 = 1100.0;
const ROW: f64 = 14.0;
const LANE_PAD: f64 = 10.0;

/// The timeline section's SVG (or a note when there is nothing to draw).
pub fn render(h: &History, domains: &[String]) -> String {
    let mut tasks: Vec<&TaskSpan> = h.tasks.values().filter(|t| t.lane().is_some()).collect();
    let total = tasks.len();
    tasks.sort_by_key(|t| std::cmp::Reverse(t.last));
    tasks.truncate(MAX_BARS);
    let decided = h.queue.iter().filter(|q| q.decided.is_some()).count();
    if tasks.is_empty() && decided == 0 && h.halts.is_empty() {
        return empty("No task was claimed, no queue decision and no halt in this period.");
    }
    // Past MAX_BARS, the chart zooms in on the period its bars cover.
    let from = if total > tasks.len() {
        tasks
            .iter()
            .map(|t| bar_start(t, h.start))
            .min()
            .unwrap_or(h.start)
    } else {
        h.start
    };
    let scale = TimeScale::new(from, h.end, LEFT, WIDTH - 10.0);
    // Pack each lane's bars into rows so none overlap.
    let mut rows: BTreeMap<&str, Vec<Row>> = BTreeMap::new();
    tasks.sort_by_key(|t| (bar_start(t, h.start), t.id.clone()));
    for t in &tasks {
        let lane = t.lane().unwrap_or_default();
        let (x0, x1) = bar_x(&scale, h, t);
        let lane_rows = rows.entry(lane).or_default();
        match lane_rows
            .iter_mut()
            .find(|r| r.last().is_none_or(|(_, end, _)| *end + 2.0 <= x0))
        {
            Some(row) => row.push((x0, x1, t)),
            None => lane_rows.push(vec![(x0, x1, t)]),
        }
    }
    let mut lanes: Vec<&str> = domains.iter().map(String::as_str).collect();
    for lane in rows.keys() {
        if !lanes.contains(lane) {
            lanes.push(lane);
        }
    }
    let mut body = String::new();
    let mut y = 10.0;
    let mut lane_y: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (i, lane) in lanes.iter().enumerate() {
        let n = rows.get(lane).map_or(0, Vec::len).max(1);
        let height = n as f64 * ROW + LANE_PAD;
        lane_y.insert(lane, (y, y + height));
        let _ = write!(
            body,
            r#"<g class="lane" data-domain="{d}"><rect class="lane-bg" x="0" y="{y:.1}" width="{WIDTH}" height="{height:.1}"/><text class="lane-label" x="6" y="{:.1}">{d}</text>"#,
            y + 14.0,
            d = esc(lane)
        );
        for (r, row) in rows.get(lane).into_iter().flatten().enumerate() {
            for (x0, x1, t) in row {
                let by = y + LANE_PAD / 2.0 + r as f64 * ROW;
                let _ = write!(
                    body,
                    r#"<rect class="task-bar status-{s}" data-task="{id}" data-domain="{d}" x="{x0:.1}" y="{by:.1}" width="{:.1}" height="{:.1}" fill="{c}"><title>{id} ({s}): {title}{when}</title></rect>"#,
                    (x1 - x0).max(2.0),
                    ROW - 3.0,
                    s = esc(&t.status),
                    id = esc(&t.id),
                    d = esc(lane),
                    c = color(i),
                    title = esc(&clip(&t.title, 200)),
                    when = esc(&span_text(t)),
                );
            }
        }
        body.push_str("</g>");
        y += height + 4.0;
    }
    let bottom = y;
    for q in &h.queue {
        let (Some(at), Some((top, end))) = (q.decided, lane_y.get(q.domain.as_str())) else {
            continue;
        };
        if at < from {
            continue;
        }
        let x = scale.x(at);
        let mid = (top + end) / 2.0;
        let (class, shape) = if q.rejected() {
            (
                "reject-marker",
                format!(
                    "M{:.1} {:.1} l5 5 l-5 5 l-5 -5 z",
                    x,
                    mid - 5.0 // a diamond
                ),
            )
        } else {
            (
                "land-marker",
                format!("M{:.1} {:.1} l5 8 l-10 0 z", x, mid - 4.0),
            )
        };
        let _ = write!(
            body,
            r#"<path class="{class}" data-entry="{e}" data-domain="{d}" data-outcome="{o}" d="{shape}"><title>{summary}</title></path>"#,
            e = esc(&q.id),
            d = esc(&q.domain),
            o = esc(&q.outcome),
            summary = esc(&clip(&q.summary, 300)),
        );
    }
    for halt in h.halts.iter().filter(|h| h.at >= from) {
        let x = scale.x(halt.at);
        for d in &halt.domains {
            let Some((top, end)) = lane_y.get(d.as_str()) else {
                continue;
            };
            let _ = write!(
                body,
                r#"<line class="halt-marker" data-domain="{d}" x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{end:.1}"><title>halt {d} at {at}: {r}</title></line>"#,
                d = esc(d),
                at = clock::format_timestamp(halt.at),
                r = esc(&clip(&halt.reason, 300)),
            );
        }
    }
    let mut axis = String::new();
    scale.axis(&mut axis, bottom + 4.0, 4.0);
    let mut out = format!(
        r#"<svg id="timeline" class="chart" viewBox="0 0 {WIDTH} {:.0}" width="{WIDTH}" height="{:.0}" role="img" aria-label="Tasks per domain over time">{axis}{body}</svg>"#,
        bottom + 24.0,
        bottom + 24.0
    );
    out.push_str(r#"<p class="legend"><span class="key bar"></span> a task, claim to done (hatched: failed or cancelled; faded: still open or claimed) <span class="key reject"></span> queue rejection <span class="key land"></span> landing <span class="key halt"></span> halt</p>"#);
    if total > tasks.len() {
        let _ = write!(
            out,
            r#"<p class="note">Showing the {} tasks touched last of {total}, from {}; <code>--since</code> picks another period.</p>"#,
            tasks.len(),
            clock::format_timestamp(from)
        );
    }
    out
}

/// Where a bar starts: its claim, else its addition; a task with neither
/// in the period was claimed before it (`--since`), so its bar starts
/// with the period.
fn bar_start(t: &TaskSpan, period_start: i64) -> i64 {
    t.claimed.or(t.added).unwrap_or(period_start)
}

fn bar_x(scale: &TimeScale, h: &History, t: &TaskSpan) -> (f64, f64) {
    let end = t.finished.unwrap_or(h.end);
    (scale.x(bar_start(t, h.start)), scale.x(end))
}

fn span_text(t: &TaskSpan) -> String {
    let mut out = String::new();
    if let Some(c) = t.claimed {
        out.push_str(&format!("; claimed {}", clock::format_timestamp(c)));
    } else if let Some(a) = t.added {
        out.push_str(&format!("; added {}", clock::format_timestamp(a)));
    }
    if let Some(f) = t.finished {
        out.push_str(&format!("; {} {}", t.status, clock::format_timestamp(f)));
    }
    out
}
