//! The Work panel: task counts, convoy progress, the waiting chains with
//! the longest marked as the bottleneck, the human's open questions with
//! their age, and the open and claimed tasks (selectable).

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::{bar, fit, scroll, Theme};
use crate::clock::format_duration;
use crate::cockpit::keys::App;
use crate::cockpit::model::Model;
use crate::comm::task::Status;

/// Rows each section shows at most before the task list.
const SECTION: usize = 3;

pub(super) fn lines(model: &Model, app: &App, area: Rect) -> Vec<Line<'static>> {
    let theme = Theme(app.color);
    let width = area.width as usize;
    let w = &model.work;
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let c = w.counts;
    let mut out = vec![Line::raw(format!(
        "{} open ({} ready) · {} claimed · {} done · {} failed · {} cancelled",
        c.open, c.ready, c.claimed, c.done, c.failed, c.cancelled
    ))];
    if !w.convoys.is_empty() {
        out.push(Line::styled("convoys", bold));
        for cv in w.convoys.iter().take(SECTION) {
            let ratio = cv.done as f64 / cv.total.max(1) as f64;
            let tail = format!(" {} {}/{}", bar(ratio, 10), cv.done, cv.total);
            let head = format!("  {} {}", cv.id, cv.title);
            out.push(Line::raw(format!(
                "{}{tail}",
                fit(&head, width.saturating_sub(tail.chars().count()))
            )));
        }
    }
    if !w.chains.is_empty() {
        out.push(Line::styled("waiting (a ⇢ b: a waits on b)", bold));
        for (i, chain) in w.chains.iter().take(SECTION).enumerate() {
            let text = chain
                .links
                .iter()
                .map(|(id, d)| match d {
                    Some(d) => format!("{id}@{d}"),
                    None => id.clone(),
                })
                .collect::<Vec<_>>()
                .join(" ⇢ ");
            let mut spans = vec![Span::raw("  ")];
            if i == 0 {
                spans.push(Span::styled(
                    "BOTTLENECK ",
                    theme.fg(Color::Red).add_modifier(Modifier::BOLD),
                ));
            }
            spans.push(Span::raw(fit(&text, width.saturating_sub(13))));
            out.push(Line::from(spans));
        }
    }
    if !w.questions.is_empty() {
        out.push(Line::styled(
            format!("questions to the human ({})", w.questions.len()),
            bold,
        ));
        for q in w.questions.iter().take(SECTION) {
            let age = format_duration(q.age as u64);
            out.push(Line::from(vec![
                Span::styled(format!("  {age:>6} "), theme.fg(Color::Yellow)),
                Span::raw(fit(
                    &format!("{}: {}", q.from, q.subject),
                    width.saturating_sub(10),
                )),
            ]));
        }
    }
    out.push(Line::styled("tasks (open and claimed)", bold));
    if w.active.is_empty() {
        out.push(Line::raw("  none"));
        return out;
    }
    let room = (area.height as usize).saturating_sub(out.len()).max(1);
    let selected = app.selected[1].min(w.active.len() - 1);
    for (i, t) in w
        .active
        .iter()
        .enumerate()
        .skip(scroll(selected, room))
        .take(room)
    {
        let (mark, color) = match (t.status, t.ready) {
            (Status::Claimed, _) => ("▶", Color::Green),
            (_, true) => ("○", Color::Reset),
            _ => ("⧗", Color::DarkGray),
        };
        let who = t.domain.clone().unwrap_or_else(|| "any".into());
        let row = theme.selected(i == selected);
        out.push(Line::from(vec![
            Span::styled(format!("{mark} "), theme.fg(color).patch(row)),
            Span::styled(
                fit(
                    &format!("{} {:<8} {}", t.id, fit(&who, 8), t.title),
                    width.saturating_sub(2),
                ),
                row,
            ),
        ]));
    }
    out
}
