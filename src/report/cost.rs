//! Cost over time: each domain's cumulative US dollars from its `turn`
//! events, one point per turn (evenly thinned past [`MAX_POINTS`]), and a
//! table of the totals. Pure: history in, SVG and HTML out.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::history::{History, Turn};
use super::svg::{color, count, empty, esc, usd, TimeScale};

/// Points drawn per domain at most; the line still ends at the total.
pub const MAX_POINTS: usize = 300;

const LEFT: f64 = 70.0;
const WIDTH: f64 = 1100.0;
const HEIGHT: f64 = 260.0;
const TOP: f64 = 10.0;

/// Each domain's turns as (time, cumulative cost), oldest first.
pub fn series(turns: &[Turn]) -> BTreeMap<&str, Vec<(i64, f64)>> {
    let mut out: BTreeMap<&str, Vec<(i64, f64)>> = BTreeMap::new();
    for t in turns {
        let points = out.entry(t.domain.as_str()).or_default();
        let before = points.last().map_or(0.0, |p| p.1);
        points.push((t.at, before + t.cost_usd));
    }
    out
}

/// At most `max` of `points`, evenly spread, always keeping the last.
pub fn thin(points: &[(i64, f64)], max: usize) -> Vec<(i64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    (0..max)
        .map(|i| points[(i + 1) * points.len() / max - 1])
        .collect()
}

/// The cost section: the chart and the totals table.
pub fn render(h: &History, domains: &[String]) -> String {
    if h.turns.is_empty() {
        return empty("No agent turn was recorded in this period (`comm-node up` records them).");
    }
    let series = series(&h.turns);
    let max = series
        .values()
        .filter_map(|p| p.last().map(|l| l.1))
        .fold(0.0_f64, f64::max);
    let max = if max > 0.0 { max } else { 1.0 };
    let scale = TimeScale::new(h.start, h.end, LEFT, WIDTH - 10.0);
    let y = |v: f64| TOP + HEIGHT - v / max * HEIGHT;
    let mut svg = String::new();
    scale.axis(&mut svg, TOP + HEIGHT, TOP);
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r#"<text class="tick y" x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT - 6.0,
            y(v) + 4.0,
            usd(v)
        );
    }
    for (domain, points) in &series {
        let i = domains
            .iter()
            .position(|d| d == domain)
            .unwrap_or(domains.len());
        let c = color(i);
        let shown = thin(points, MAX_POINTS);
        let line: Vec<String> = shown
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", scale.x(*t), y(*v)))
            .collect();
        let d = esc(domain);
        let _ = write!(
            svg,
            r#"<g class="cost-series" data-domain="{d}"><polyline class="cost-line" points="{}" stroke="{c}"/>"#,
            line.join(" ")
        );
        for (t, v) in &shown {
            let _ = write!(
                svg,
                r#"<circle class="cost-point" data-domain="{d}" data-usd="{v:.6}" cx="{:.1}" cy="{:.1}" r="2.5" fill="{c}"><title>{d}: {} by {}</title></circle>"#,
                scale.x(*t),
                y(*v),
                usd(*v),
                crate::clock::format_timestamp(*t)
            );
        }
        svg.push_str("</g>");
    }
    let mut out = format!(
        r#"<svg id="cost" class="chart" viewBox="0 0 {WIDTH} {h:.0}" width="{WIDTH}" height="{h:.0}" role="img" aria-label="Cumulative cost per domain">{svg}</svg>"#,
        h = TOP + HEIGHT + 24.0
    );
    out.push_str(r#"<table class="totals"><thead><tr><th>domain</th><th>turns</th><th>tokens in</th><th>tokens out</th><th>cost</th></tr></thead><tbody>"#);
    let mut totals: BTreeMap<&str, (u64, u64, u64, f64)> = BTreeMap::new();
    for t in &h.turns {
        let e = totals.entry(t.domain.as_str()).or_default();
        e.0 += 1;
        e.1 += t.tokens_in;
        e.2 += t.tokens_out;
        e.3 += t.cost_usd;
    }
    for (domain, (turns, tin, tout, cost)) in &totals {
        let i = domains
            .iter()
            .position(|d| d == domain)
            .unwrap_or(domains.len());
        let _ = write!(
            out,
            r#"<tr data-domain="{d}"><td><span class="swatch" style="background:{c}"></span>{d}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            count(*turns),
            count(*tin),
            count(*tout),
            usd(*cost),
            d = esc(domain),
            c = color(i),
        );
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_accumulate_per_domain() {
        let turn = |at, domain: &str, cost| Turn {
            at,
            domain: domain.to_owned(),
            cost_usd: cost,
            tokens_in: 1,
            tokens_out: 1,
        };
        let turns = [turn(1, "a", 0.5), turn(2, "b", 1.0), turn(3, "a", 0.25)];
        let s = series(&turns);
        assert_eq!(s["a"], vec![(1, 0.5), (3, 0.75)]);
        assert_eq!(s["b"], vec![(2, 1.0)]);
    }

    #[test]
    fn thinning_keeps_the_last_point() {
        let points: Vec<(i64, f64)> = (0..1000).map(|i| (i, i as f64)).collect();
        let thin = thin(&points, 10);
        assert_eq!(thin.len(), 10);
        assert_eq!(thin.last(), points.last());
    }
}
