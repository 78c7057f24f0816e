//! Drawing the cockpit: [`draw`] lays out the header, the panels and the
//! bottom line, then whatever the mode overlays (help, a confirmation, a
//! text being read). Every function here is pure over the model and the
//! view state, and draws into ratatui's buffer only.
//!
//! Below 160×40 one panel fills the body and the tab line switches them;
//! from 160×40 all four share the screen. Without colour (NO_COLOR) the
//! state still reads from its words and the selection from reverse video.

mod domains;
mod feed;
mod overlay;
mod queue;
mod work;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::keys::{App, Focus, Mode};
use super::model::{AgentState, Model};

/// Width and height from which all panels are shown at once.
pub const WIDE: (u16, u16) = (160, 40);

/// Draws one frame.
pub fn draw(frame: &mut Frame, model: &Model, app: &App) {
    let area = frame.area();
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header(model, app)), head);
    if area.width >= WIDE.0 && area.height >= WIDE.1 {
        // The domains' rows, their detail and borders; at most 45%.
        let rows = (model.domains.len() as u16 + 8).min(body.height * 45 / 100);
        let [top, bottom] =
            Layout::vertical([Constraint::Length(rows), Constraint::Min(1)]).areas(body);
        let [w, q, f] = Layout::horizontal([
            Constraint::Percentage(38),
            Constraint::Percentage(24),
            Constraint::Percentage(38),
        ])
        .areas(bottom);
        for (focus, rect) in [
            (Focus::Domains, top),
            (Focus::Work, w),
            (Focus::Queue, q),
            (Focus::Feed, f),
        ] {
            panel(frame, model, app, focus, rect);
        }
    } else {
        let [tabs, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(body);
        frame.render_widget(Paragraph::new(tab_line(app)), tabs);
        panel(frame, model, app, app.focus, rest);
    }
    frame.render_widget(Paragraph::new(footer(app)), foot);
    overlay::draw(frame, app, area);
}

fn panel(frame: &mut Frame, model: &Model, app: &App, focus: Focus, area: Rect) {
    let theme = Theme(app.color);
    let focused = focus == app.focus;
    let title = format!(" {} ", focus.title());
    let block = Block::bordered()
        .title(Span::styled(
            title,
            if focused {
                theme.fg(Color::Cyan).add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            },
        ))
        .border_style(if focused {
            theme.fg(Color::Cyan)
        } else {
            theme.fg(Color::DarkGray)
        });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines = match focus {
        Focus::Domains => domains::lines(model, app, inner),
        Focus::Work => work::lines(model, app, inner),
        Focus::Queue => queue::lines(model, app, inner),
        Focus::Feed => feed::lines(model, app, inner),
    };
    frame.render_widget(Paragraph::new(lines), inner);
}

fn header(model: &Model, app: &App) -> Line<'static> {
    let theme = Theme(app.color);
    let s = &model.status;
    let mut counts: Vec<(AgentState, usize)> = Vec::new();
    for d in &model.domains {
        match counts.iter_mut().find(|(st, _)| *st == d.state) {
            Some((_, n)) => *n += 1,
            None => counts.push((d.state, 1)),
        }
    }
    counts.sort_by_key(|(st, _)| *st as u8);
    let mut spans = vec![Span::styled(
        format!("{} ", s.project),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    spans.push(Span::raw(format!("· {} domains: ", model.domains.len())));
    for (i, (st, n)) in counts.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(", "));
        }
        spans.push(Span::styled(
            format!("{n} {}", st.label()),
            theme.state(*st),
        ));
    }
    if !s.comm {
        spans.push(Span::styled(
            " · comm missing (run comm-node init)",
            theme.fg(Color::Red),
        ));
    }
    let t = &model.work.counts;
    spans.push(Span::raw(format!(
        " · tasks {} open {} claimed {} done",
        t.open, t.claimed, t.done
    )));
    if app.read_only {
        spans.push(Span::styled(" · READ-ONLY", theme.fg(Color::Yellow)));
    }
    if let Some(d) = &app.acting_domain {
        spans.push(Span::styled(format!(" · as {d}"), theme.fg(Color::Yellow)));
    }
    Line::from(spans)
}

fn tab_line(app: &App) -> Line<'static> {
    let theme = Theme(app.color);
    let mut spans = Vec::new();
    for (i, f) in Focus::ALL.iter().enumerate() {
        let text = format!(" {} {} ", i + 1, f.title());
        spans.push(if *f == app.focus {
            Span::styled(
                text,
                theme
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::REVERSED | Modifier::BOLD),
            )
        } else {
            Span::raw(text)
        });
    }
    spans.push(Span::raw("  Tab: next panel · ?: keys"));
    Line::from(spans)
}

fn footer(app: &App) -> Line<'static> {
    let theme = Theme(app.color);
    match &app.mode {
        Mode::Prompt { asking, input } => Line::from(vec![
            Span::styled(
                asking.label(),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!("{input}_")),
            Span::styled("  (Enter: ok, Esc: cancel)", theme.fg(Color::DarkGray)),
        ]),
        _ => match &app.message {
            Some(m) => Line::from(Span::styled(m.clone(), theme.fg(Color::Yellow))),
            None => Line::from(Span::styled(
                if app.read_only {
                    "? keys · q quit · Tab panel · j/k select · Enter open · f/F filter feed"
                } else {
                    "? keys · q quit · h halt · r resume · a reassign · g grant · m msg · t attach"
                },
                theme.fg(Color::DarkGray),
            )),
        },
    }
}

/// Styles that drop their colours under NO_COLOR.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Theme(pub bool);

impl Theme {
    pub fn fg(self, color: Color) -> Style {
        if self.0 {
            Style::default().fg(color)
        } else {
            Style::default()
        }
    }

    pub fn state(self, state: AgentState) -> Style {
        let color = match state {
            AgentState::Halted | AgentState::Crashed | AgentState::Failed => Color::Red,
            AgentState::OverBudget => Color::Magenta,
            AgentState::Stalled => Color::Yellow,
            AgentState::Working => Color::Green,
            AgentState::Idle => Color::Reset,
            AgentState::NotRunning => Color::DarkGray,
        };
        let style = self.fg(color);
        if state.alarming() {
            style.add_modifier(Modifier::BOLD)
        } else {
            style
        }
    }

    pub fn selected(self, on: bool) -> Style {
        if on {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        }
    }
}

/// `n` cells of a bar `ratio` full (clamped), with the percentage.
pub(crate) fn bar(ratio: f64, cells: usize) -> String {
    let full = ((ratio.clamp(0.0, 1.0)) * cells as f64).round() as usize;
    format!(
        "{}{} {:>3.0}%",
        "█".repeat(full),
        "░".repeat(cells - full),
        (ratio * 100.0).min(999.0)
    )
}

/// A sparkline of `values` as block characters.
pub(crate) fn sparkline(values: &[u64]) -> String {
    const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|v| {
            if max == 0 || *v == 0 {
                '·'
            } else {
                BARS[((*v * 8).div_ceil(max)).clamp(1, 8) as usize]
            }
        })
        .collect()
}

/// `HH:MM` of a commit time (UTC).
pub(crate) fn clock(time: i64) -> String {
    let day = time.rem_euclid(86_400);
    format!("{:02}:{:02}", day / 3600, day % 3600 / 60)
}

/// The first row to show so that `selected` is visible in `rows` lines.
pub(crate) fn scroll(selected: usize, rows: usize) -> usize {
    if rows == 0 {
        return selected;
    }
    selected.saturating_sub(rows - 1)
}

/// `text` cut to `width` characters, with `…` when cut.
pub(crate) fn fit(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return format!("{text:<width$}");
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}
