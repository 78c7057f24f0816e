//! What a mode draws over the panels: the key list, a confirmation, or a
//! text being read.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::Theme;
use crate::cockpit::keys::{App, Mode, HELP};

pub(super) fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let theme = Theme(app.color);
    match &app.mode {
        Mode::Help => {
            let mut lines: Vec<Line> = HELP
                .iter()
                .map(|(k, what)| {
                    Line::from(vec![
                        Span::styled(
                            format!("{k:<10} "),
                            Style::default().add_modifier(Modifier::BOLD),
                        ),
                        Span::raw(*what),
                    ])
                })
                .collect();
            if app.read_only {
                lines.push(Line::styled(
                    "read-only: actions are refused on this screen",
                    theme.fg(Color::Yellow),
                ));
            }
            let rect = centered(area, 72, lines.len() as u16 + 2);
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(lines).block(Block::bordered().title(" Keys ")),
                rect,
            );
        }
        Mode::Confirm(action) => {
            let rect = centered(area, 60, 4);
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(vec![
                    Line::raw(format!("{}?", action.describe())),
                    Line::styled("y: yes · any other key: no", theme.fg(Color::DarkGray)),
                ])
                .wrap(Wrap { trim: false })
                .block(
                    Block::bordered()
                        .title(" Confirm ")
                        .border_style(theme.fg(Color::Red)),
                ),
                rect,
            );
        }
        Mode::Reading { title, text } => {
            let rect = centered(
                area,
                area.width.saturating_sub(4),
                area.height.saturating_sub(2),
            );
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(text.clone())
                    .wrap(Wrap { trim: false })
                    .block(Block::bordered().title(format!(" {title} (any key closes) "))),
                rect,
            );
        }
        Mode::Normal | Mode::Prompt { .. } => {}
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [rect] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    rect
}
