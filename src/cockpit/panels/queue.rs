//! The Queue panel: whether a `queue run` is at work, on which step and
//! for how long, the entries in landing order, and the last decisions.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::{clock, fit, Theme};
use crate::cockpit::keys::App;
use crate::cockpit::model::Model;

pub(super) fn lines(model: &Model, app: &App, area: Rect) -> Vec<Line<'static>> {
    let theme = Theme(app.color);
    let width = area.width as usize;
    let q = &model.queue;
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut out = vec![match (&q.running, &q.step) {
        (true, Some(step)) => {
            let took = crate::clock::format_duration((model.now - step.since).max(0) as u64);
            Line::styled(
                fit(&format!("run in progress: {took} in {}", step.step), width),
                theme.fg(Color::Green),
            )
        }
        (true, None) => Line::styled("run in progress", theme.fg(Color::Green)),
        (false, _) => Line::raw("no run in progress"),
    }];
    out.push(Line::styled(format!("entries ({})", q.entries.len()), bold));
    if q.entries.is_empty() {
        out.push(Line::raw("  empty"));
    }
    let selected = app.selected[2];
    for (i, (domain, head, task)) in q.entries.iter().enumerate() {
        out.push(Line::styled(
            fit(
                &format!(
                    "{:>2}. {domain} {head}{}",
                    i + 1,
                    task.as_ref().map(|t| format!(" {t}")).unwrap_or_default()
                ),
                width,
            ),
            theme.selected(i == selected),
        ));
    }
    out.push(Line::styled("last decisions", bold));
    if q.decisions.is_empty() {
        out.push(Line::raw("  none yet"));
    }
    for d in &q.decisions {
        let color = if d.kind == crate::queue::LANDED_KIND {
            Color::Green
        } else {
            Color::Red
        };
        out.push(Line::from(vec![
            Span::raw(format!("{} ", clock(d.time))),
            Span::styled(fit(&d.subject, width.saturating_sub(6)), theme.fg(color)),
        ]));
    }
    out
}
