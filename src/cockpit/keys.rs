//! The cockpit's view state and what each key does to it: a pure state
//! machine over [`App`] and the [`Model`], so every key is testable without
//! a terminal. What changes comm comes out as an [`Action`], which the
//! binary carries out through the same library calls as the commands.
//!
//! Destructive actions (halt, resume all, reassign, grant) ask to confirm;
//! `--read-only` refuses every action; run from a domain worktree, the
//! human-only ones are refused with the reason.

use super::model::Model;

/// The panel keys move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Domains,
    Work,
    Queue,
    Feed,
}

impl Focus {
    pub const ALL: [Focus; 4] = [Focus::Domains, Focus::Work, Focus::Queue, Focus::Feed];

    pub fn title(self) -> &'static str {
        match self {
            Focus::Domains => "Domains",
            Focus::Work => "Work",
            Focus::Queue => "Queue",
            Focus::Feed => "Feed",
        }
    }

    fn index(self) -> usize {
        Focus::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

/// A key press, as the cockpit needs it (the binary converts terminal events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Up,
    Down,
    Backspace,
    CtrlC,
}

/// What the human asked for that changes comm or leaves the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// `None`: every domain.
    Halt {
        domain: Option<String>,
        reason: String,
    },
    Resume {
        domain: Option<String>,
    },
    Reassign {
        task: String,
        to: String,
    },
    EditTitle {
        task: String,
        title: String,
    },
    /// `amount` as `budget grant` takes it (`$5`, `200000`).
    Grant {
        domain: String,
        amount: String,
    },
    Send {
        to: String,
        body: String,
    },
    /// Show an event, message or task in full.
    Open {
        id: String,
    },
    /// Show a domain's agent log (`comm-node logs`).
    OpenLog {
        domain: String,
    },
    /// Hand the terminal to `comm-node attach DOMAIN`.
    Attach {
        domain: String,
    },
}

impl Action {
    /// Whether it needs the human (every action that writes to comm does).
    pub fn human_only(&self) -> bool {
        !matches!(
            self,
            Action::Quit | Action::Open { .. } | Action::OpenLog { .. } | Action::Send { .. }
        )
    }

    /// Whether it changes anything (refused under `--read-only`).
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            Action::Quit | Action::Open { .. } | Action::OpenLog { .. }
        )
    }

    /// The question a confirmation asks.
    pub fn describe(&self) -> String {
        match self {
            Action::Quit => "quit".into(),
            Action::Halt {
                domain: Some(d),
                reason,
            } => format!("halt {d} ({reason})"),
            Action::Halt {
                domain: None,
                reason,
            } => format!("halt EVERY domain ({reason})"),
            Action::Resume { domain: Some(d) } => format!("resume {d}"),
            Action::Resume { domain: None } => "resume every halted domain".into(),
            Action::Reassign { task, to } => format!("reassign {task} to {to}"),
            Action::EditTitle { task, title } => format!("retitle {task} to \"{title}\""),
            Action::Grant { domain, amount } => format!("grant {amount} more to {domain}"),
            Action::Send { to, body } => format!("send to {to}: {body}"),
            Action::Open { id } => format!("open {id}"),
            Action::OpenLog { domain } => format!("open the log of {domain}"),
            Action::Attach { domain } => format!("attach to {domain}"),
        }
    }

    fn destructive(&self) -> bool {
        matches!(
            self,
            Action::Halt { .. }
                | Action::Resume { domain: None }
                | Action::Reassign { .. }
                | Action::Grant { .. }
        )
    }
}

/// What a text prompt is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asking {
    HaltReason { domain: Option<String> },
    ReassignTo { task: String },
    Title { task: String },
    Grant { domain: String },
    Send { to: String },
}

impl Asking {
    /// What it is for, as a refusal says it.
    pub fn what(&self) -> String {
        match self {
            Asking::HaltReason { domain: Some(d) } => format!("halt {d}"),
            Asking::HaltReason { domain: None } => "halt every domain".into(),
            Asking::ReassignTo { task } => format!("reassign {task}"),
            Asking::Title { task } => format!("edit {task}"),
            Asking::Grant { domain } => format!("grant budget to {domain}"),
            Asking::Send { to } => format!("send to {to}"),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Asking::HaltReason { domain: Some(d) } => format!("halt {d}, reason: "),
            Asking::HaltReason { domain: None } => "halt ALL, reason: ".into(),
            Asking::ReassignTo { task } => format!("reassign {task} to domain: "),
            Asking::Title { task } => format!("new title of {task}: "),
            Asking::Grant { domain } => format!("grant {domain} ($5 or 200000 tokens): "),
            Asking::Send { to } => format!("message to {to}: "),
        }
    }

    fn finish(self, text: String) -> Action {
        match self {
            Asking::HaltReason { domain } => Action::Halt {
                domain,
                reason: text,
            },
            Asking::ReassignTo { task } => Action::Reassign { task, to: text },
            Asking::Title { task } => Action::EditTitle { task, title: text },
            Asking::Grant { domain } => Action::Grant {
                domain,
                amount: text,
            },
            Asking::Send { to } => Action::Send { to, body: text },
        }
    }
}

/// What the screen is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    Prompt {
        asking: Asking,
        input: String,
    },
    Confirm(Action),
    /// A text shown in full (an event, a task, a log): title and body.
    Reading {
        title: String,
        text: String,
    },
}

/// The view state: what is focused and selected, the feed's filters, and
/// who acts.
#[derive(Debug, Clone)]
pub struct App {
    pub focus: Focus,
    pub mode: Mode,
    /// Selected row per panel, in [`Focus::ALL`] order.
    pub selected: [usize; 4],
    /// The feed shows only events of this domain.
    pub feed_domain: Option<String>,
    /// The feed shows only events of this kind.
    pub feed_kind: Option<String>,
    pub read_only: bool,
    /// The domain whose worktree `watch` runs in (`None`: the human).
    pub acting_domain: Option<String>,
    /// Colours on (off under NO_COLOR).
    pub color: bool,
    /// The outcome of the last action, on the bottom line.
    pub message: Option<String>,
}

impl App {
    pub fn new(read_only: bool, acting_domain: Option<String>, color: bool) -> App {
        App {
            focus: Focus::Domains,
            mode: Mode::Normal,
            selected: [0; 4],
            feed_domain: None,
            feed_kind: None,
            read_only,
            acting_domain,
            color,
            message: None,
        }
    }

    /// The selected domain's name.
    pub fn domain<'m>(&self, model: &'m Model) -> Option<&'m str> {
        model
            .domains
            .get(self.selected[0].min(model.domains.len().saturating_sub(1)))
            .map(|d| d.name.as_str())
    }

    /// The selected task's id.
    pub fn task<'m>(&self, model: &'m Model) -> Option<&'m str> {
        let active = &model.work.active;
        active
            .get(self.selected[1].min(active.len().saturating_sub(1)))
            .map(|t| t.id.as_str())
    }

    /// The feed as filtered, newest first.
    pub fn feed<'m>(&self, model: &'m Model) -> Vec<&'m super::model::FeedItem> {
        model
            .feed
            .iter()
            .filter(|f| self.feed_domain.as_ref().is_none_or(|d| f.touches(d)))
            .filter(|f| self.feed_kind.as_ref().is_none_or(|k| &f.kind == k))
            .collect()
    }

    fn rows(&self, model: &Model, focus: Focus) -> usize {
        match focus {
            Focus::Domains => model.domains.len(),
            Focus::Work => model.work.active.len(),
            Focus::Queue => model.queue.entries.len(),
            Focus::Feed => self.feed(model).len(),
        }
    }

    /// Keeps the selections inside the model after it changed.
    pub fn clamp(&mut self, model: &Model) {
        for f in Focus::ALL {
            let n = self.rows(model, f);
            let s = &mut self.selected[f.index()];
            *s = (*s).min(n.saturating_sub(1));
        }
    }

    /// Applies `key`; returns the action to carry out, if any.
    pub fn handle(&mut self, model: &Model, key: Key) -> Option<Action> {
        if key == Key::CtrlC {
            return Some(Action::Quit);
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.normal(model, key),
            Mode::Help | Mode::Reading { .. } => None,
            Mode::Confirm(action) => match key {
                Key::Char('y') | Key::Char('Y') | Key::Enter => Some(action),
                _ => {
                    self.message = Some(format!("cancelled: {}", action.describe()));
                    None
                }
            },
            Mode::Prompt { asking, mut input } => match key {
                Key::Esc => None,
                Key::Enter => {
                    let text = input.trim().to_owned();
                    if text.is_empty() {
                        self.message = Some("cancelled: nothing typed".into());
                        return None;
                    }
                    self.propose(asking.finish(text))
                }
                Key::Backspace => {
                    input.pop();
                    self.mode = Mode::Prompt { asking, input };
                    None
                }
                Key::Char(c) => {
                    input.push(c);
                    self.mode = Mode::Prompt { asking, input };
                    None
                }
                _ => {
                    self.mode = Mode::Prompt { asking, input };
                    None
                }
            },
        }
    }

    /// Refuses what this seat may not do, asks to confirm what destroys,
    /// and lets the rest through.
    fn propose(&mut self, action: Action) -> Option<Action> {
        if let Some(why) = self.refusal(&action) {
            self.message = Some(why);
            return None;
        }
        if action.destructive() {
            self.mode = Mode::Confirm(action);
            return None;
        }
        Some(action)
    }

    /// Why this seat may not do `action`, if it may not.
    pub fn refusal(&self, action: &Action) -> Option<String> {
        self.refuse(&action.describe(), action.writes(), action.human_only())
    }

    fn refuse(&self, what: &str, writes: bool, human_only: bool) -> Option<String> {
        if self.read_only && writes {
            return Some(format!("read-only: this screen may not {what}"));
        }
        match &self.acting_domain {
            Some(d) if human_only => Some(format!(
                "refused: only the human may {what}; this is domain {d}'s worktree"
            )),
            _ => None,
        }
    }

    /// Starts a prompt, unless the seat may not do that kind of action at all.
    fn ask(&mut self, asking: Asking) -> Option<Action> {
        let human_only = !matches!(asking, Asking::Send { .. });
        if let Some(why) = self.refuse(&asking.what(), true, human_only) {
            self.message = Some(why);
            return None;
        }
        self.mode = Mode::Prompt {
            asking,
            input: String::new(),
        };
        None
    }

    fn normal(&mut self, model: &Model, key: Key) -> Option<Action> {
        let focus = self.focus.index();
        let domain = self.domain(model).map(str::to_owned);
        let task = self.task(model).map(str::to_owned);
        self.message = None;
        match key {
            Key::Char('q') => return Some(Action::Quit),
            Key::Char('?') => self.mode = Mode::Help,
            Key::Tab => self.focus = Focus::ALL[(focus + 1) % 4],
            Key::BackTab => self.focus = Focus::ALL[(focus + 3) % 4],
            Key::Char(c @ '1'..='4') => self.focus = Focus::ALL[c as usize - '1' as usize],
            Key::Down | Key::Char('j') => {
                let n = self.rows(model, self.focus);
                let s = &mut self.selected[focus];
                *s = (*s + 1).min(n.saturating_sub(1));
            }
            Key::Up | Key::Char('k') => {
                let s = &mut self.selected[focus];
                *s = s.saturating_sub(1);
            }
            Key::Char('h') => {
                return self.ask(Asking::HaltReason {
                    domain: Some(domain?),
                })
            }
            Key::Char('H') => return self.ask(Asking::HaltReason { domain: None }),
            Key::Char('r') => {
                return self.propose(Action::Resume {
                    domain: Some(domain?),
                })
            }
            Key::Char('R') => return self.propose(Action::Resume { domain: None }),
            Key::Char('a') => return self.ask(Asking::ReassignTo { task: task? }),
            Key::Char('e') => return self.ask(Asking::Title { task: task? }),
            Key::Char('g') => return self.ask(Asking::Grant { domain: domain? }),
            Key::Char('m') => return self.ask(Asking::Send { to: domain? }),
            Key::Char('l') => return Some(Action::OpenLog { domain: domain? }),
            Key::Char('t') => return self.propose(Action::Attach { domain: domain? }),
            Key::Enter | Key::Char('o') => return self.open(model),
            Key::Char('f') => self.feed_domain = cycle(&self.feed_domain, domains(model)),
            Key::Char('F') => self.feed_kind = cycle(&self.feed_kind, kinds(model)),
            Key::Char('0') => {
                self.feed_domain = None;
                self.feed_kind = None;
            }
            _ => {}
        }
        None
    }

    /// Opens what the focused panel has selected.
    fn open(&mut self, model: &Model) -> Option<Action> {
        let id = match self.focus {
            Focus::Domains => {
                return Some(Action::OpenLog {
                    domain: self.domain(model)?.to_owned(),
                })
            }
            Focus::Work => self.task(model)?.to_owned(),
            Focus::Queue => {
                let (domain, _, _) = model.queue.entries.get(self.selected[2])?;
                return Some(Action::OpenLog {
                    domain: domain.clone(),
                });
            }
            Focus::Feed => self.feed(model).get(self.selected[3])?.id.clone(),
        };
        Some(Action::Open { id })
    }
}

fn domains(model: &Model) -> Vec<String> {
    model.domains.iter().map(|d| d.name.clone()).collect()
}

fn kinds(model: &Model) -> Vec<String> {
    let mut k: Vec<String> = model.feed.iter().map(|f| f.kind.clone()).collect();
    k.sort();
    k.dedup();
    k
}

/// The next of `options` after `current` (`None` after the last).
fn cycle(current: &Option<String>, options: Vec<String>) -> Option<String> {
    match current {
        None => options.into_iter().next(),
        Some(c) => {
            let i = options.iter().position(|o| o == c)?;
            options.into_iter().nth(i + 1)
        }
    }
}

/// The keys, as `?` lists them.
pub const HELP: &[(&str, &str)] = &[
    ("Tab 1-4", "focus Domains / Work / Queue / Feed"),
    ("j k ↑ ↓", "move the selection"),
    ("Enter o", "open the selected task, event or log"),
    (
        "h / H",
        "halt the selected domain / all (asks why, confirms)",
    ),
    ("r / R", "resume the selected domain / all"),
    ("a", "reassign the selected task (confirms)"),
    ("e", "edit the selected task's title"),
    ("g", "grant budget to the selected domain (confirms)"),
    ("m", "send a message to the selected domain"),
    ("l", "the selected domain's agent log"),
    (
        "t",
        "attach to the selected domain's agent (comes back after)",
    ),
    ("f / F / 0", "feed: filter by domain / kind / clear"),
    ("?", "this help (any key closes it)"),
    ("q Ctrl-C", "quit"),
];
