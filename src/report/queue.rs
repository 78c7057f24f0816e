//! Queue outcomes and test durations: per domain, a bar split into
//! landings and each kind of rejection; per decided entry, the duration of
//! the test run that decided it, from the command durations its decision
//! event carries, or, for a decision that carries none (older events,
//! refusals), the time from its `submit` to its decision. Pure: history
//! in, SVG out.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::history::{History, QueueEntry};
use super::svg::{clip, empty, esc};
use crate::clock;

/// Entries drawn in the durations chart at most (the latest).
pub const MAX_ENTRIES: usize = 200;

const LEFT: f64 = 120.0;
const WIDTH: f64 = 1100.0;

/// The colour of an outcome.
fn outcome_color(outcome: &str) -> &'static str {
    match outcome {
        "landed" => "#59a14f",
        "pending" => "#bab0ac",
        "conflict" => "#f28e2b",
        "tests" => "#e15759",
        "timeout" => "#b07aa1",
        "boundary" => "#9c755f",
        _ => "#edc948",
    }
}

/// The queue section.
pub fn render(h: &History) -> String {
    if h.queue.is_empty() {
        return empty("Nothing was submitted to the merge queue in this period.");
    }
    let mut out = outcomes(&h.queue);
    out.push_str(&durations(&h.queue));
    out
}

fn outcomes(queue: &[QueueEntry]) -> String {
    let mut per: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for q in queue {
        *per.entry(q.domain.as_str())
            .or_default()
            .entry(q.outcome.as_str())
            .or_default() += 1;
    }
    let most = per
        .values()
        .map(|m| m.values().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let unit = (WIDTH - LEFT - 80.0) / most;
    let mut svg = String::new();
    for (i, (domain, outcomes)) in per.iter().enumerate() {
        let y = 8.0 + i as f64 * 26.0;
        let _ = write!(
            svg,
            r#"<text class="lane-label" x="6" y="{:.1}">{}</text>"#,
            y + 14.0,
            esc(domain)
        );
        let mut x = LEFT;
        let mut order: Vec<(&&str, &u64)> = outcomes.iter().collect();
        order.sort_by_key(|(o, _)| (**o != "landed", **o));
        for (outcome, n) in order {
            let w = *n as f64 * unit;
            let _ = write!(
                svg,
                r#"<rect class="queue-outcome" data-domain="{d}" data-outcome="{o}" data-count="{n}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="18" fill="{c}"><title>{d}: {n} {o}</title></rect>"#,
                d = esc(domain),
                o = esc(outcome),
                c = outcome_color(outcome),
            );
            if w > 24.0 {
                let _ = write!(
                    svg,
                    r#"<text class="bar-label" x="{:.1}" y="{:.1}">{n}</text>"#,
                    x + 4.0,
                    y + 13.0
                );
            }
            x += w;
        }
    }
    let height = 16.0 + per.len() as f64 * 26.0;
    let mut out = format!(
        r#"<svg id="queue-outcomes" class="chart" viewBox="0 0 {WIDTH} {height:.0}" width="{WIDTH}" height="{height:.0}" role="img" aria-label="Queue outcomes per domain">{svg}</svg>"#
    );
    out.push_str(r#"<p class="legend">"#);
    for o in [
        "landed", "conflict", "tests", "timeout", "boundary", "missing", "pending",
    ] {
        let _ = write!(
            out,
            r#"<span class="key" style="background:{}"></span> {o} "#,
            outcome_color(o)
        );
    }
    out.push_str("</p>");
    out
}

/// What an entry's duration bar measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// Its test run's commands, as its decision records them.
    Tests,
    /// From its submission to its decision: older decisions and those no
    /// test run made.
    Wait,
}

impl Measure {
    fn name(self) -> &'static str {
        match self {
            Measure::Tests => "tests",
            Measure::Wait => "wait",
        }
    }
}

/// The bar of a decided entry: milliseconds and what they measure.
fn measured(q: &QueueEntry) -> Option<(u64, Measure)> {
    if !q.timings.is_empty() {
        let millis = q.timings.iter().map(|t| t.millis).sum();
        return Some((millis, Measure::Tests));
    }
    match (q.submitted, q.decided) {
        (Some(s), Some(d)) => Some(((d - s).max(0) as u64 * 1000, Measure::Wait)),
        _ => None,
    }
}

/// `850ms`, `12.3s`, then whole minutes and hours.
fn took(millis: u64) -> String {
    match millis {
        m if m < 1000 => format!("{m}ms"),
        m if m < 60_000 => format!("{:.1}s", m as f64 / 1000.0),
        m => clock::format_duration(m / 1000),
    }
}

/// What a bar's tooltip says it measures.
fn what(q: &QueueEntry, millis: u64, measure: Measure) -> String {
    match measure {
        Measure::Tests => {
            let each: Vec<String> = q
                .timings
                .iter()
                .map(|t| format!("{} `{}` {}", t.phase.name(), t.command, took(t.millis)))
                .collect();
            format!("tests took {} ({})", took(millis), each.join(", "))
        }
        Measure::Wait => format!(
            "{} from submit to decision (no test durations recorded)",
            took(millis)
        ),
    }
}

fn durations(queue: &[QueueEntry]) -> String {
    let mut decided: Vec<(&QueueEntry, u64, Measure)> = queue
        .iter()
        .filter_map(|q| measured(q).map(|(millis, m)| (q, millis, m)))
        .collect();
    if decided.is_empty() {
        return empty("No entry was decided with a test run or a known submission in this period.");
    }
    let total = decided.len();
    decided.sort_by_key(|(q, ..)| q.decided);
    let decided = &decided[total.saturating_sub(MAX_ENTRIES)..];
    let longest = decided.iter().map(|d| d.1).max().unwrap_or(1).max(1) as f64;
    const HEIGHT: f64 = 160.0;
    let step = ((WIDTH - LEFT) / decided.len() as f64).min(40.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<text class="tick y" x="{:.1}" y="16">{}</text><text class="tick y" x="{:.1}" y="{:.1}">0</text><line class="axis" x1="{LEFT}" y1="{:.1}" x2="{WIDTH}" y2="{:.1}"/>"#,
        LEFT - 6.0,
        took(longest as u64),
        LEFT - 6.0,
        10.0 + HEIGHT,
        10.0 + HEIGHT,
        10.0 + HEIGHT,
    );
    for (i, (q, millis, measure)) in decided.iter().enumerate() {
        let hgt = (*millis as f64 / longest * HEIGHT).max(1.0);
        let x = LEFT + i as f64 * step + 1.0;
        let opacity = match measure {
            Measure::Tests => 1.0,
            Measure::Wait => 0.45,
        };
        let _ = write!(
            svg,
            r#"<rect class="queue-duration" data-entry="{e}" data-domain="{d}" data-outcome="{o}" data-measure="{m}" data-millis="{millis}" x="{x:.1}" y="{:.1}" width="{:.1}" height="{hgt:.1}" fill="{c}" fill-opacity="{opacity}"><title>{d}: {w}, {o} — {s}</title></rect>"#,
            10.0 + HEIGHT - hgt,
            (step - 2.0).max(1.0),
            e = esc(&q.id),
            d = esc(&q.domain),
            o = esc(&q.outcome),
            m = measure.name(),
            c = outcome_color(&q.outcome),
            w = esc(&what(q, *millis, *measure)),
            s = esc(&clip(&q.summary, 200)),
        );
    }
    let mut out = format!(
        r#"<h3>Test durations</h3><svg id="queue-durations" class="chart" viewBox="0 0 {WIDTH} {h:.0}" width="{WIDTH}" height="{h:.0}" role="img" aria-label="Test duration per decided queue entry">{svg}</svg><p class="note">One bar per decided entry, oldest left: the setup and test commands of the test run that decided it, as its decision records them. Faded bars are decisions that record none (written before the queue recorded durations, or made without a test run): the time from submit to decision, waits included.</p>"#,
        h = HEIGHT + 20.0
    );
    if total > decided.len() {
        let _ = write!(
            out,
            r#"<p class="note">Showing the last {} of {total} decisions.</p>"#,
            decided.len()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::runner::{Phase, Timing};

    #[test]
    fn a_decision_without_durations_falls_back_to_submit_to_decision() {
        let entry = |id: &str, timings: Vec<Timing>| QueueEntry {
            id: id.into(),
            domain: "api".into(),
            submitted: Some(100),
            decided: Some(160),
            outcome: "landed".into(),
            timings,
            ..QueueEntry::default()
        };
        let tested = vec![Timing {
            phase: Phase::Test,
            command: "cargo test".into(),
            millis: 2500,
        }];
        let svg = durations(&[entry("old", Vec::new()), entry("new", tested)]);
        assert!(svg.contains(r#"data-entry="old" data-domain="api" data-outcome="landed" data-measure="wait" data-millis="60000""#), "{svg}");
        assert!(svg.contains(r#"data-entry="new" data-domain="api" data-outcome="landed" data-measure="tests" data-millis="2500""#), "{svg}");
        assert!(
            svg.contains("tests took 2.5s (test `cargo test` 2.5s)"),
            "{svg}"
        );
    }
}
