//! The Domains panel: one row per domain (state, task or current tool
//! call, unread, spend against budget, distance from main, reservations),
//! then the selected domain in full with its burn sparkline.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::{bar, fit, scroll, sparkline, Theme};
use crate::cockpit::keys::App;
use crate::cockpit::model::{DomainRow, Model};

/// Lines of the detail under the table.
const DETAIL: usize = 4;

pub(super) fn lines(model: &Model, app: &App, area: Rect) -> Vec<Line<'static>> {
    let theme = Theme(app.color);
    let width = area.width as usize;
    if model.domains.is_empty() {
        return vec![Line::raw("no domains declared in comm.yaml")];
    }
    let wide = width >= 120;
    // Fixed columns: name, state, unread, spend, vs main, reservations.
    let name_w = model
        .domains
        .iter()
        .map(|d| d.name.chars().count())
        .max()
        .unwrap_or(6)
        .clamp(6, 16);
    let spend_w = if wide { 22 } else { 11 };
    let fixed = name_w + 1 + 11 + 1 + 3 + 1 + spend_w + 1 + 7 + 1 + 3;
    let task_w = width.saturating_sub(fixed + 1).max(8);
    let mut out = vec![Line::from(Span::styled(
        format!(
            "{} {} {} {:>3} {} {:<7} {:>3}",
            fit("DOMAIN", name_w),
            fit("STATE", 11),
            fit(if wide { "TASK / NOW" } else { "TASK" }, task_w),
            "✉",
            fit("SPEND", spend_w),
            "MAIN",
            "RES"
        ),
        Style::default().add_modifier(Modifier::BOLD),
    ))];
    let room = (area.height as usize).saturating_sub(1 + DETAIL + 1).max(1);
    let selected = app.selected[0].min(model.domains.len() - 1);
    let first = scroll(selected, room);
    for (i, d) in model.domains.iter().enumerate().skip(first).take(room) {
        let task = match (&d.task, &d.doing) {
            (Some((id, title)), Some(tool)) if wide => format!("{id} {title} · now {tool}"),
            (Some((id, _)), Some(tool)) => format!("{id} {tool}"),
            (Some((id, title)), None) => format!("{id} {title}"),
            (None, Some(tool)) => tool.clone(),
            (None, None) => "-".into(),
        };
        let spend = match &d.budget {
            Some(g) if wide => format!("{} {}", bar(g.ratio(), 8), g.label()),
            Some(g) => bar(g.ratio(), 6),
            None => format!("${:.2}", d.spent_usd),
        };
        let main = match (d.ahead, d.behind) {
            (Some(a), Some(b)) => format!("+{a} -{b}"),
            _ => "-".into(),
        };
        let row = theme.selected(i == selected);
        out.push(Line::from(vec![
            Span::styled(format!("{} ", fit(&d.name, name_w)), row),
            Span::styled(fit(d.state.label(), 11), theme.state(d.state).patch(row)),
            Span::styled(
                format!(
                    " {} {:>3} {} {:<7} {:>3}",
                    fit(&task, task_w),
                    d.unread,
                    fit(&spend, spend_w),
                    main,
                    d.reservations.len()
                ),
                row,
            ),
        ]));
    }
    out.push(Line::raw(""));
    out.extend(detail(&model.domains[selected], theme, width));
    out
}

fn detail(d: &DomainRow, theme: Theme, width: usize) -> Vec<Line<'static>> {
    let mut out = vec![Line::from(vec![
        Span::styled(
            format!("{} ", d.name),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::styled(d.state.label().to_owned(), theme.state(d.state)),
        Span::raw(match &d.task {
            Some((id, title)) => format!(" · {id} {title}"),
            None => " · no task".into(),
        }),
    ])];
    let mut second = Vec::new();
    if let Some(reason) = &d.halt {
        second.push(Span::styled(
            format!("halted: {reason} (r resumes) "),
            theme.fg(Color::Red),
        ));
    }
    if let Some(tool) = &d.doing {
        second.push(Span::raw(format!("now: {tool} ")));
    }
    if second.is_empty() {
        second.push(Span::raw(if d.budget.is_some() {
            String::new()
        } else {
            "no budget set ".into()
        }));
    }
    if let Some(g) = &d.budget {
        second.push(Span::raw(format!("budget {} ", g.label())));
    }
    out.push(Line::from(second));
    out.push(Line::raw(fit(
        &if d.reservations.is_empty() {
            "reservations: none".to_owned()
        } else {
            format!("reservations: {}", d.reservations.join("; "))
        },
        width,
    )));
    let per_min: u64 = d.burn.iter().rev().take(5).sum::<u64>() / 5;
    out.push(Line::from(vec![
        Span::raw("burn "),
        Span::styled(sparkline(&d.burn), theme.fg(Color::Yellow)),
        Span::raw(format!(
            " ${:.4}/min (5 min avg), ${:.2} spent",
            per_min as f64 / 10_000.0,
            d.spent_usd
        )),
    ]));
    out
}
