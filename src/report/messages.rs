//! Who messages whom: the senders and recipients on a circle, one curved
//! arrow per sender→recipient pair, thicker for more messages and labelled
//! with their count and `Comm-Tokens` sum; the same figures as a table.
//! Pure: history in, SVG and HTML out.

use std::collections::BTreeSet;
use std::f64::consts::PI;
use std::fmt::Write;

use super::history::History;
use super::svg::{count, empty, esc};

/// Pairs drawn at most (the busiest); the table lists them all.
pub const MAX_EDGES: usize = 120;

const SIZE: f64 = 520.0;
const RADIUS: f64 = 190.0;

/// The messages section.
pub fn render(h: &History) -> String {
    if h.messages.is_empty() {
        return empty("No messages in this period.");
    }
    let mut pairs: Vec<(&(String, String), &super::history::Traffic)> = h.messages.iter().collect();
    pairs.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let drawn = &pairs[..pairs.len().min(MAX_EDGES)];
    let people: Vec<&str> = drawn
        .iter()
        .flat_map(|((f, t), _)| [f.as_str(), t.as_str()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let c = SIZE / 2.0;
    let at = |name: &str| {
        let i = people.iter().position(|p| *p == name).unwrap_or(0);
        let a = 2.0 * PI * i as f64 / people.len() as f64 - PI / 2.0;
        (c + RADIUS * a.cos(), c + RADIUS * a.sin())
    };
    let busiest = drawn.first().map_or(1, |p| p.1.count).max(1) as f64;
    let mut svg = String::from(
        r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" class="arrowhead"/></marker></defs>"#,
    );
    for ((from, to), t) in drawn {
        let ((x0, y0), (x1, y1)) = (at(from), at(to));
        let width = 1.0 + 5.0 * t.count as f64 / busiest;
        let (d, lx, ly) = if from == to {
            // A domain writing to itself: a small loop outside the circle.
            let (ox, oy) = ((x0 - c) * 0.25, (y0 - c) * 0.25);
            (
                format!(
                    "M{x0:.1} {y0:.1} C{:.1} {:.1} {:.1} {:.1} {x0:.1} {y0:.1}",
                    x0 + ox - oy,
                    y0 + oy + ox,
                    x0 + ox + oy,
                    y0 + oy - ox
                ),
                x0 + ox,
                y0 + oy,
            )
        } else {
            // Bend to the right of the direction, so a→b and b→a part.
            let (mx, my) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
            let (dx, dy) = (x1 - x0, y1 - y0);
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            let (qx, qy) = (mx - dy / len * 30.0, my + dx / len * 30.0);
            // Stop short of the recipient's dot.
            let (ex, ey) = (x1 - dx / len * 12.0, y1 - dy / len * 12.0);
            (
                format!("M{x0:.1} {y0:.1} Q{qx:.1} {qy:.1} {ex:.1} {ey:.1}"),
                (mx + qx) / 2.0,
                (my + qy) / 2.0,
            )
        };
        let _ = write!(
            svg,
            r#"<g class="msg-edge" data-from="{f}" data-to="{to}" data-count="{n}" data-tokens="{tok}"><path d="{d}" stroke-width="{width:.1}" marker-end="url(#arrow)"/><text class="msg-label" x="{lx:.1}" y="{ly:.1}">{n} · {tokens} tok</text><title>{f} → {to}: {n} messages, {tokens} tokens</title></g>"#,
            f = esc(from),
            to = esc(to),
            n = t.count,
            tok = t.tokens,
            tokens = count(t.tokens),
        );
    }
    for p in &people {
        let (x, y) = at(p);
        let (tx, ty) = (c + (x - c) * 1.16, c + (y - c) * 1.16 + 4.0);
        let _ = write!(
            svg,
            r#"<g class="msg-node" data-name="{n}"><circle cx="{x:.1}" cy="{y:.1}" r="8"/><text x="{tx:.1}" y="{ty:.1}">{n}</text></g>"#,
            n = esc(p),
        );
    }
    let mut out = format!(
        r#"<div class="pair"><svg id="messages" class="chart" viewBox="0 0 {SIZE} {SIZE}" width="{SIZE}" height="{SIZE}" role="img" aria-label="Messages between domains">{svg}</svg>"#
    );
    out.push_str(r#"<table class="msg-table"><thead><tr><th>from</th><th>to</th><th>messages</th><th>tokens</th></tr></thead><tbody>"#);
    for ((from, to), t) in &pairs {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(from),
            esc(to),
            count(t.count),
            count(t.tokens)
        );
    }
    out.push_str("</tbody></table></div>");
    if pairs.len() > drawn.len() {
        let _ = write!(
            out,
            r#"<p class="note">The picture shows the {} busiest pairs of {}; the table lists them all.</p>"#,
            drawn.len(),
            pairs.len()
        );
    }
    out
}
