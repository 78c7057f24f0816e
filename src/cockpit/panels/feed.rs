//! The Feed panel: the newest events (`git log comm`, readable), filtered
//! by domain and kind, and each domain's burn sparkline (cost per minute
//! from `turn` events).

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::{clock, fit, scroll, sparkline, Theme};
use crate::cockpit::keys::App;
use crate::cockpit::model::Model;

pub(super) fn lines(model: &Model, app: &App, area: Rect) -> Vec<Line<'static>> {
    let theme = Theme(app.color);
    let width = area.width as usize;
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let burning: Vec<_> = model
        .domains
        .iter()
        .filter(|d| d.burn.iter().any(|b| *b > 0))
        .collect();
    let mut out = vec![Line::styled(
        fit(
            &format!(
                "domain: {} · kind: {} (f, F, 0 clears)",
                app.feed_domain.as_deref().unwrap_or("all"),
                app.feed_kind.as_deref().unwrap_or("all")
            ),
            width,
        ),
        theme.fg(Color::DarkGray),
    )];
    let feed = app.feed(model);
    let burn_rows = if burning.is_empty() {
        0
    } else {
        burning.len().min(4) + 1
    };
    let room = (area.height as usize).saturating_sub(1 + burn_rows).max(1);
    if feed.is_empty() {
        out.push(Line::raw("no events"));
    }
    let selected = app.selected[3].min(feed.len().saturating_sub(1));
    for (i, f) in feed
        .iter()
        .enumerate()
        .skip(scroll(selected, room))
        .take(room)
    {
        let to = if f.to.is_empty() {
            String::new()
        } else {
            format!("→{}", f.to.join(","))
        };
        let row = theme.selected(i == selected);
        out.push(Line::from(vec![
            Span::styled(
                format!("{} ", clock(f.time)),
                theme.fg(Color::DarkGray).patch(row),
            ),
            Span::styled(
                format!("{:<8} ", fit(&f.kind, 8)),
                theme.fg(Color::Cyan).patch(row),
            ),
            Span::styled(
                fit(
                    &if f.subject.starts_with(&f.from) {
                        f.subject.clone()
                    } else {
                        format!("{}{to}: {}", f.from, f.subject)
                    },
                    width.saturating_sub(15),
                ),
                row,
            ),
        ]));
    }
    if !burning.is_empty() {
        out.push(Line::styled("burn, $/min over 30 min", bold));
        for d in burning.iter().take(4) {
            let peak = d.burn.iter().copied().max().unwrap_or(0);
            out.push(Line::from(vec![
                Span::raw(format!("{} ", fit(&d.name, 8))),
                Span::styled(sparkline(&d.burn), theme.fg(Color::Yellow)),
                Span::raw(format!(" peak ${:.4}", peak as f64 / 10_000.0)),
            ]));
        }
    }
    out
}
