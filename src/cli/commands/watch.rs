//! `comm-node watch`: the cockpit (see `comm_node::cockpit`). This file
//! is the thin shell: the terminal, the redraw triggers, and carrying out
//! the actions the keys return through the same library calls as the
//! commands.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use comm_node::clock;
use comm_node::cockpit::keys::Key;
use comm_node::cockpit::model::Cache;
use comm_node::cockpit::{panels, Action, App, Mode, Model};
use comm_node::comm::{self, budget, steer, task, Snapshot, HUMAN};
use comm_node::config::Loaded;
use comm_node::git::Repo;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::cli::{ui, CliError, Ctx};

/// A full-screen dashboard of every domain, the tasks, the merge queue and
/// the event stream, redrawn as soon as comm or `up`'s state changes; and
/// the human's remote control: halt and resume, reassign and edit tasks,
/// grant budget, send a message, attach to an agent (`?` lists the keys).
///
/// Every action is the same library call as its command, made as the
/// human; run from a domain worktree, the human-only ones are refused.
/// NO_COLOR turns colours off.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  comm-node watch               # in the main checkout: the steering seat
  comm-node watch --read-only   # a shared screen: look, never act
  comm-node status --watch      # plain text, for dumb terminals and logs")]
pub struct Args {
    /// Refuse every action: for a screen others can see or type on.
    #[arg(long)]
    read_only: bool,
}

/// What wakes the loop.
enum Wake {
    Key(Key),
    Changed,
    Resized,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let me = ctx.actor(&repo).unwrap_or_else(|_| HUMAN.to_owned());
    let acting = (me != HUMAN).then(|| me.clone());
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut app = App::new(args.read_only, acting, color);
    let (tx, rx) = mpsc::channel();
    let changed = tx.clone();
    comm_node::cockpit::watch(&repo, &loaded.config, move || {
        let _ = changed.send(Wake::Changed);
    })?;
    let paused = Arc::new(AtomicBool::new(false));
    spawn_input(tx, paused.clone());
    let mut terminal = ratatui::init();
    let result = (|| -> Result<(), CliError> {
        // The task graph's part, kept while `tasks/` on comm is unchanged.
        let mut cache = Cache::default();
        let mut model = Model::gather_cached(&repo, &loaded, clock::now(), &mut cache)?;
        // Keys that came while a redraw was due: handled in order.
        let mut keys: std::collections::VecDeque<Key> = Default::default();
        loop {
            app.clamp(&model);
            terminal.draw(|f| panels::draw(f, &model, &app))?;
            let wake = match keys.pop_front() {
                Some(k) => Some(Wake::Key(k)),
                // Ages move on even when nothing happens: a slow tick.
                None => match rx.recv_timeout(Duration::from_secs(10)) {
                    Ok(w) => Some(w),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
                },
            };
            let mut acted = false;
            match wake {
                Some(Wake::Key(key)) => {
                    if let Some(action) = app.handle(&model, key) {
                        if action == Action::Quit {
                            return Ok(());
                        }
                        acted = true;
                        if let Action::Attach { domain } = &action {
                            paused.store(true, Ordering::SeqCst);
                            ratatui::restore();
                            let outcome = attach(ctx, domain);
                            terminal = ratatui::init();
                            terminal.clear()?;
                            paused.store(false, Ordering::SeqCst);
                            app.message = Some(outcome);
                        } else {
                            carry_out(&repo, &loaded, &me, action, &mut app);
                        }
                    }
                }
                Some(Wake::Resized) => terminal.autoresize()?,
                Some(Wake::Changed) | None => acted = true,
            }
            // Changes that piled up are answered by one read; keys wait their turn.
            while let Ok(w) = rx.try_recv() {
                match w {
                    Wake::Key(k) => keys.push_back(k),
                    Wake::Changed => acted = true,
                    Wake::Resized => terminal.autoresize()?,
                }
            }
            if acted {
                match Model::gather_cached(&repo, &loaded, clock::now(), &mut cache) {
                    Ok(m) => model = m,
                    Err(e) => app.message = Some(format!("error: could not read comm: {e}")),
                }
            }
        }
    })();
    ratatui::restore();
    result
}

/// Reads keys on a thread of their own (paused while `attach` has the
/// terminal); `poll` blocks in the kernel, so an idle screen costs nothing.
fn spawn_input(tx: mpsc::Sender<Wake>, paused: Arc<AtomicBool>) {
    std::thread::spawn(move || loop {
        if paused.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        match event::poll(Duration::from_millis(250)) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => return,
        }
        if paused.load(Ordering::SeqCst) {
            continue;
        }
        let wake = match event::read() {
            Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => match key_of(k) {
                Some(key) => Wake::Key(key),
                None => continue,
            },
            Ok(Event::Resize(..)) => Wake::Resized,
            Ok(_) => continue,
            Err(_) => return,
        };
        if tx.send(wake).is_err() {
            return;
        }
    });
}

fn key_of(k: event::KeyEvent) -> Option<Key> {
    Some(match k.code {
        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlC,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Backspace => Key::Backspace,
        _ => return None,
    })
}

/// Hands the terminal to `comm-node attach DOMAIN` until it ends.
fn attach(ctx: &Ctx, domain: &str) -> String {
    let exe = std::env::current_exe().unwrap_or_else(|_| "comm-node".into());
    match std::process::Command::new(exe)
        .arg("attach")
        .arg(domain)
        .current_dir(&ctx.cwd)
        .status()
    {
        Ok(s) if s.success() => format!("back from {domain}'s session"),
        Ok(s) => format!("attach {domain} ended with {s} (see comm-node attach {domain})"),
        Err(e) => format!("could not start comm-node attach: {e}"),
    }
}

/// Carries out `action` as `me` through the library, and says how it went
/// on the bottom line (or opens what was asked for).
fn carry_out(repo: &Repo, loaded: &Loaded, me: &str, action: Action, app: &mut App) {
    let target = |d: &Option<String>| match d {
        Some(d) => steer::Target::Domains(vec![d.clone()]),
        None => steer::Target::All,
    };
    let said: Result<String, String> = match &action {
        Action::Halt { domain, reason } => {
            steer::halt(repo, me, &target(domain), reason, clock::now())
                .map(|(a, _)| a.event.subject)
                .map_err(|e| e.to_string())
        }
        Action::Resume { domain } => steer::resume(repo, me, &target(domain))
            .map(|(a, _)| a.event.subject)
            .map_err(|e| e.to_string()),
        Action::Reassign { task: id, to } => task::reassign(repo, me, id, to, None, clock::now())
            .map(|o| o.appended.event.subject)
            .map_err(|e| e.to_string()),
        Action::EditTitle { task: id, title } => {
            let edit = task::TaskEdit {
                title: Some(title.clone()),
                ..Default::default()
            };
            task::edit(repo, me, id, &edit, clock::now())
                .map(|o| o.appended.event.subject)
                .map_err(|e| e.to_string())
        }
        Action::Grant { domain, amount } => budget::parse_amount(amount)
            .and_then(|a| budget::grant(repo, me, &budget::Target::Domain(domain.clone()), a))
            .map(|a| a.event.subject)
            .map_err(|e| e.to_string()),
        Action::Send { to, body } => {
            let req = comm::SendRequest {
                from: me.to_owned(),
                to: vec![to.clone()],
                subject: body.clone(),
                ..Default::default()
            };
            comm::send(repo, &req, &loaded.config.limits, None)
                .map(|a| a.event.subject)
                .map_err(|e| e.to_string())
        }
        Action::Open { id } => {
            app.mode = open(repo, id);
            return;
        }
        Action::OpenLog { domain } => {
            app.mode = log(repo, domain);
            return;
        }
        Action::Quit | Action::Attach { .. } => return,
    };
    app.message = Some(match said {
        Ok(subject) => ui::sanitize(&subject).into_owned(),
        Err(e) => format!("error: {e}"),
    });
}

/// A task or an event in full.
fn open(repo: &Repo, id: &str) -> Mode {
    let text = if id.starts_with("T-") {
        Snapshot::take(repo)
            .and_then(|s| task::get(&s, id))
            .ok()
            .flatten()
            .map(|t| String::from_utf8_lossy(&t.to_yaml()).into_owned())
    } else {
        comm::find_message(repo, id).ok().flatten().map(|m| {
            format!(
                "{} → {}\n{}\n\n{}",
                m.from,
                m.to.join(", "),
                m.subject,
                m.body
            )
        })
    };
    Mode::Reading {
        title: id.to_owned(),
        text: ui::sanitize(&text.unwrap_or_else(|| format!("{id} is gone"))).into_owned(),
    }
}

/// The end of a domain's agent log (what `comm-node logs` shows).
fn log(repo: &Repo, domain: &str) -> Mode {
    let path = comm_node::runtime::agent_dir(repo, domain).join("stream.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => {
            let lines: Vec<String> = t
                .lines()
                .filter_map(comm_node::runtime::stream::render)
                .collect();
            let start = lines.len().saturating_sub(200);
            lines[start..].join("\n")
        }
        Err(_) => {
            format!("no agent has run for `{domain}` on this machine yet (comm-node up {domain})")
        }
    };
    Mode::Reading {
        title: format!("log of {domain}"),
        text: ui::sanitize(&text).into_owned(),
    }
}
