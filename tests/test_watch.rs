//! `comm-node watch`: every panel in every state, drawn from real
//! repositories the real binary built (ratatui's TestBackend, insta
//! snapshots under tests/snapshots/), at 80×24 and 200×50; the keys as a
//! state machine over the model, without a terminal; and the live screen
//! in a real terminal (tmux) against events posted from another process.

mod common;

use std::path::Path;

use comm_node::cockpit::keys::{Action, Asking, Focus, Key, Mode};
use comm_node::cockpit::{panels, App, Model};
use comm_node::git::Repo;
use comm_node::project;
use common::queue::{commit, project, spawn_run_with, submit, Hold, CONFIG, HOLDING_TEST, TEST};
use common::{Env, API_WEB};
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;

const BUDGET: &str = "project: app
domains:
  api:
    scope: [\"api/**\"]
  web:
    scope: [\"web/**\"]
budget:
  per_domain: { usd: 0.4 }
agents:
  api: { cli: claude }
";

/// The model of `root`, ten minutes after its newest event.
fn model(env: &Env, root: &Path) -> Model {
    let tip = env.git(root, &["log", "-1", "--format=%ct", "comm"]);
    let now = tip.parse::<i64>().unwrap_or(1_767_225_600) + 600;
    model_at(root, now)
}

fn model_at(root: &Path, now: i64) -> Model {
    let repo = Repo::discover(root).unwrap();
    let loaded = project::load_config_if_any(&repo).unwrap().unwrap();
    Model::gather(&repo, &loaded, now).unwrap()
}

fn terminal(model: &Model, app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| panels::draw(f, model, app)).unwrap();
    t
}

/// The screen as text, with what differs between runs (task ids, clock
/// times) replaced by stable stand-ins.
fn screen(model: &Model, app: &App, w: u16, h: u16) -> String {
    let t = terminal(model, app, w, h);
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    redact(&out, model)
}

fn redact(text: &str, model: &Model) -> String {
    let mut ids: Vec<&str> = model.work.active.iter().map(|t| t.id.as_str()).collect();
    ids.extend(model.work.convoys.iter().map(|c| c.id.as_str()));
    let mut out = text.to_owned();
    // Every task id the feed names, in the order first seen (oldest first).
    let mut seen: Vec<String> = Vec::new();
    for f in model.feed.iter().rev() {
        for word in f
            .subject
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
        {
            if word.starts_with("T-") && word.len() > 4 && !seen.iter().any(|s| s == word) {
                seen.push(word.to_owned());
            }
        }
    }
    for id in ids {
        if !seen.iter().any(|s| s == id) {
            seen.push(id.to_owned());
        }
    }
    for (i, id) in seen.iter().enumerate() {
        let stand_in = format!("T-{:0>w$}", i + 1, w = id.len() - 2);
        out = out.replace(id.as_str(), &stand_in);
        // Cut ids (`T-abc…`) keep their stand-in's start.
        for cut in 4..id.len() {
            let short = format!("{}…", &id[..cut]);
            out = out.replace(&short, &format!("{}…", &stand_in[..cut]));
        }
    }
    // Reservation ids.
    for word in text.split(|c: char| c.is_whitespace()) {
        if word.starts_with("R-") && word.len() > 4 {
            out = out.replace(word, &format!("R-{}", "x".repeat(word.len() - 2)));
        }
    }
    // hh:mm clock times of the feed.
    let bytes: Vec<char> = out.chars().collect();
    let mut fixed = String::with_capacity(out.len());
    let mut i = 0;
    while i < bytes.len() {
        let is_clock = i + 5 <= bytes.len()
            && bytes[i].is_ascii_digit()
            && bytes[i + 1].is_ascii_digit()
            && bytes[i + 2] == ':'
            && bytes[i + 3].is_ascii_digit()
            && bytes[i + 4].is_ascii_digit()
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
        if is_clock {
            fixed.push_str("hh:mm");
            i += 5;
        } else {
            fixed.push(bytes[i]);
            i += 1;
        }
    }
    fixed
}

fn app() -> App {
    App::new(false, None, true)
}

fn focused(focus: Focus) -> App {
    let mut a = app();
    a.focus = focus;
    a
}

/// Snapshots of every panel at 80×24 and the whole screen at 200×50.
fn snapshot_all(name: &str, model: &Model) {
    for focus in Focus::ALL {
        insta::assert_snapshot!(
            format!("{name}_{}_80x24", focus.title().to_lowercase()),
            screen(model, &focused(focus), 80, 24)
        );
    }
    insta::assert_snapshot!(format!("{name}_200x50"), screen(model, &app(), 200, 50));
}

/// api and web, a convoy, a cross-domain waiting chain, a claimed task,
/// a reservation, a queue entry and a question to the human.
fn busy(env: &Env) -> std::path::PathBuf {
    let root = env.api_web_app(API_WEB, &[]);
    let add = |title: &str, args: &[&str]| -> String {
        let mut all = vec!["--json", "task", "add", title];
        all.extend_from_slice(args);
        let out = env.cn(&root, &all).expect(0).stdout;
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["id"].as_str().unwrap().to_owned()
    };
    let convoy = add("release 1.0", &["--priority", "4"]);
    let spike = add("auth spike", &["--domain", "api", "--parent", &convoy]);
    let schema = add(
        "user schema",
        &["--domain", "api", "--priority", "0", "--parent", &convoy],
    );
    let login = add(
        "login page",
        &[
            "--domain",
            "web",
            "--priority",
            "1",
            "--dep",
            &schema,
            "--parent",
            &convoy,
        ],
    );
    add(
        "end-to-end tests",
        &["--domain", "web", "--priority", "2", "--dep", &login],
    );
    add(
        "schema docs",
        &["--domain", "api", "--priority", "3", "--dep", &schema],
    );
    env.cn(&root, &["--as", "api", "task", "claim", &spike])
        .expect(0);
    env.cn(&root, &["--as", "api", "task", "done", &spike])
        .expect(0);
    env.cn(&root, &["--as", "api", "task", "claim", &schema])
        .expect(0);
    env.cn(
        &root,
        &[
            "--as",
            "api",
            "reserve",
            "api/schema/**",
            "--reason",
            "schema",
        ],
    )
    .expect(0);
    env.commit_in(
        "web",
        &[("web/login.ts", "export const login = 1;\n")],
        "login",
    );
    env.cn(&env.worktree("web"), &["submit"]).expect(0);
    env.cn(
        &root,
        &[
            "--as",
            "web",
            "send",
            "--to",
            "human",
            "which auth provider?",
        ],
    )
    .expect(0);
    root
}

/// `up` running `domain` as its files say: state `working`, a tool call
/// in now.json, its lock held (by the returned file, while it lives).
fn working(root: &Path, domain: &str, tool: &str) -> std::fs::File {
    use std::os::fd::AsRawFd;
    let repo = Repo::discover(root).unwrap();
    let dir = comm_node::runtime::agent_dir(&repo, domain);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("state"), "working\n").unwrap();
    std::fs::write(
        dir.join("now.json"),
        serde_json::json!({ "session": null, "tool": tool }).to_string(),
    )
    .unwrap();
    let lock = std::fs::File::create(dir.join("lock")).unwrap();
    // SAFETY: flock on a descriptor `lock` owns.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    lock
}

#[test]
fn an_empty_repository_shows_every_panel_empty() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    snapshot_all("empty", &model(&env, &root));
}

#[test]
fn a_busy_repository_shows_tasks_chains_queue_questions_and_the_working_agent() {
    let env = Env::new();
    let root = busy(&env);
    let _lock = working(&root, "api", "Bash: cargo test");
    let m = model(&env, &root);
    let chain = &m.work.chains[0];
    assert_eq!(chain.links.len(), 3, "{chain:?}");
    assert!(chain.cross, "{chain:?}");
    assert_eq!(m.domains[0].doing.as_deref(), Some("Bash: cargo test"));
    assert_eq!(m.queue.entries.len(), 1);
    assert!(m
        .work
        .questions
        .iter()
        .any(|q| q.subject.contains("which auth")));
    snapshot_all("busy", &m);
}

#[test]
fn a_halted_domain_shows_halted_with_its_reason() {
    let env = Env::new();
    let root = busy(&env);
    env.cn(
        &root,
        &["halt", "web", "--reason", "wait for the new auth contract"],
    )
    .expect(0);
    let m = model(&env, &root);
    let web = m.domains.iter().find(|d| d.name == "web").unwrap();
    assert_eq!(web.state.label(), "halted");
    let mut a = app();
    a.selected[0] = 1;
    insta::assert_snapshot!("halted_domains_80x24", screen(&m, &a, 80, 24));
    insta::assert_snapshot!("halted_200x50", screen(&m, &a, 200, 50));
}

#[test]
fn a_domain_past_its_budget_shows_over_budget_with_its_burn() {
    let env = Env::new();
    let root = env.api_web_app(BUDGET, &[]);
    common::up::add_task(&env, &root, "api", "schema", &[]);
    let fake = env.path("fake-claude");
    std::fs::write(&fake, common::up::FAKE_CLAUDE).unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .unwrap();
    let out = common::up::up_command(&env, &root, None, &["api", "--once"])
        .env("COMM_NODE_CLAUDE", &fake)
        .env("FAKE_CLAUDE_ARGS", env.path("claude-args"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Measured one minute after the turn, so it is in the sparkline.
    let tip = env.git(&root, &["log", "-1", "--format=%ct", "comm"]);
    let m = model_at(&root, tip.parse::<i64>().unwrap() + 60);
    let api = &m.domains[0];
    assert_eq!(api.state.label(), "over budget", "{api:?}");
    assert!(api.burn.iter().sum::<u64>() > 0, "{api:?}");
    insta::assert_snapshot!("over_budget_domains_80x24", screen(&m, &app(), 80, 24));
    insta::assert_snapshot!(
        "over_budget_feed_80x24",
        screen(&m, &focused(Focus::Feed), 80, 24)
    );
    insta::assert_snapshot!("over_budget_200x50", screen(&m, &app(), 200, 50));
}

#[test]
fn the_queue_panel_shows_the_running_step_and_for_how_long() {
    let env = Env::new();
    let root = project(&env, &CONFIG.replace(TEST, HOLDING_TEST));
    commit(&env, "api", &[("api/a.txt", "a\n")], "api: a");
    submit(&env, "api");
    let hold = Hold::new(&env);
    // The run's clock is fixed, so the step's start is too.
    let started = 1_767_225_600;
    let mut vars = hold.vars().to_vec();
    let now = started.to_string();
    vars.push(("COMM_NODE_NOW", &now));
    let mut run = spawn_run_with(&env, &root, &[], &vars);
    hold.wait_started();
    let m = model_at(&root, started + 150);
    insta::assert_snapshot!(
        "queue_step_80x24",
        screen(&m, &focused(Focus::Queue), 80, 24)
    );
    drop(hold);
    assert!(run.wait().unwrap().success());
}

#[test]
fn a_repository_without_comm_says_to_run_init() {
    let env = Env::new();
    let root = env.repo(
        "app",
        &[
            ("comm.yaml", API_WEB),
            ("api/a.ts", "export const a = 1;\n"),
        ],
    );
    let m = model_at(&root, 1_767_225_600);
    assert!(!m.status.comm);
    insta::assert_snapshot!("no_comm_80x24", screen(&m, &app(), 80, 24));
}

#[test]
fn a_refused_action_is_said_on_the_bottom_line() {
    let env = Env::new();
    let root = busy(&env);
    let m = model(&env, &root);
    let mut a = App::new(true, None, true);
    assert_eq!(a.handle(&m, Key::Char('h')), None);
    insta::assert_snapshot!("read_only_refusal_80x24", screen(&m, &a, 80, 24));
    let mut a = App::new(false, Some("web".into()), true);
    a.handle(&m, Key::Char('g'));
    insta::assert_snapshot!("domain_refusal_80x24", screen(&m, &a, 80, 24));
}

#[test]
fn help_prompt_and_confirmation_draw_over_the_panels() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let m = model(&env, &root);
    let mut a = app();
    a.handle(&m, Key::Char('?'));
    insta::assert_snapshot!("help_80x24", screen(&m, &a, 80, 24));
    let mut a = app();
    for k in [Key::Char('h'), Key::Char('s'), Key::Char('t')] {
        a.handle(&m, k);
    }
    insta::assert_snapshot!("prompt_80x24", screen(&m, &a, 80, 24));
    a.handle(&m, Key::Enter);
    insta::assert_snapshot!("confirm_80x24", screen(&m, &a, 80, 24));
}

#[test]
fn no_color_draws_without_colours() {
    let env = Env::new();
    let root = busy(&env);
    let m = model(&env, &root);
    let colours = |color: bool| {
        let t = terminal(&m, &App::new(false, None, color), 200, 50);
        t.backend()
            .buffer()
            .content()
            .iter()
            .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
            .count()
    };
    assert!(colours(true) > 0);
    assert_eq!(colours(false), 0);
}

// Keys, on the application state alone.

fn keys(app: &mut App, model: &Model, keys: &[Key]) -> Vec<Action> {
    keys.iter().filter_map(|k| app.handle(model, *k)).collect()
}

fn typed(text: &str) -> Vec<Key> {
    text.chars().map(Key::Char).collect()
}

#[test]
fn tab_numbers_and_backtab_move_the_focus() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let m = model(&env, &root);
    let mut a = app();
    keys(&mut a, &m, &[Key::Tab]);
    assert_eq!(a.focus, Focus::Work);
    keys(&mut a, &m, &[Key::Char('4')]);
    assert_eq!(a.focus, Focus::Feed);
    keys(&mut a, &m, &[Key::Tab]);
    assert_eq!(a.focus, Focus::Domains);
    keys(&mut a, &m, &[Key::BackTab]);
    assert_eq!(a.focus, Focus::Feed);
    assert_eq!(keys(&mut a, &m, &[Key::Char('q')]), vec![Action::Quit]);
    assert_eq!(keys(&mut a, &m, &[Key::CtrlC]), vec![Action::Quit]);
}

#[test]
fn halt_asks_why_then_confirms_then_acts_and_any_other_key_cancels() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let m = model(&env, &root);
    let mut a = app();
    let mut seq = vec![Key::Down, Key::Char('h')];
    seq.extend(typed("red main"));
    seq.push(Key::Enter);
    assert!(keys(&mut a, &m, &seq).is_empty());
    let halt = Action::Halt {
        domain: Some("web".into()),
        reason: "red main".into(),
    };
    assert_eq!(a.mode, Mode::Confirm(halt.clone()));
    assert_eq!(keys(&mut a, &m, &[Key::Char('y')]), vec![halt]);

    let mut seq = vec![Key::Char('h')];
    seq.extend(typed("x"));
    seq.extend([Key::Enter, Key::Char('n')]);
    assert!(keys(&mut a, &m, &seq).is_empty());
    assert_eq!(a.mode, Mode::Normal);
    assert!(a.message.as_deref().unwrap().starts_with("cancelled"));

    // Esc leaves a prompt; Backspace edits it.
    let mut seq = vec![Key::Char('H')];
    seq.extend(typed("ab"));
    seq.push(Key::Backspace);
    keys(&mut a, &m, &seq);
    assert_eq!(
        a.mode,
        Mode::Prompt {
            asking: Asking::HaltReason { domain: None },
            input: "a".into()
        }
    );
    keys(&mut a, &m, &[Key::Esc]);
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn resume_one_acts_at_once_and_resume_all_confirms() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let m = model(&env, &root);
    let mut a = app();
    assert_eq!(
        keys(&mut a, &m, &[Key::Char('r')]),
        vec![Action::Resume {
            domain: Some("api".into())
        }]
    );
    assert!(keys(&mut a, &m, &[Key::Char('R')]).is_empty());
    assert_eq!(
        keys(&mut a, &m, &[Key::Enter]),
        vec![Action::Resume { domain: None }]
    );
}

#[test]
fn task_keys_reassign_with_a_confirmation_and_edit_without() {
    let env = Env::new();
    let root = busy(&env);
    let m = model(&env, &root);
    let mut a = app();
    let first = m.work.active[0].id.clone();
    let mut seq = vec![Key::Char('2'), Key::Char('a')];
    seq.extend(typed("web"));
    seq.push(Key::Enter);
    assert!(keys(&mut a, &m, &seq).is_empty());
    assert_eq!(
        keys(&mut a, &m, &[Key::Char('y')]),
        vec![Action::Reassign {
            task: first.clone(),
            to: "web".into()
        }]
    );
    let mut seq = vec![Key::Char('e')];
    seq.extend(typed("new title"));
    seq.push(Key::Enter);
    assert_eq!(
        keys(&mut a, &m, &seq),
        vec![Action::EditTitle {
            task: first.clone(),
            title: "new title".into()
        }]
    );
    assert_eq!(
        keys(&mut a, &m, &[Key::Enter]),
        vec![Action::Open { id: first }]
    );
}

#[test]
fn grant_confirms_send_does_not_and_log_and_attach_name_the_domain() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let m = model(&env, &root);
    let mut a = app();
    let mut seq = vec![Key::Char('g')];
    seq.extend(typed("$5"));
    seq.extend([Key::Enter, Key::Char('y')]);
    assert_eq!(
        keys(&mut a, &m, &seq),
        vec![Action::Grant {
            domain: "api".into(),
            amount: "$5".into()
        }]
    );
    let mut seq = vec![Key::Char('m')];
    seq.extend(typed("hi"));
    seq.push(Key::Enter);
    assert_eq!(
        keys(&mut a, &m, &seq),
        vec![Action::Send {
            to: "api".into(),
            body: "hi".into()
        }]
    );
    assert_eq!(
        keys(&mut a, &m, &[Key::Char('l')]),
        vec![Action::OpenLog {
            domain: "api".into()
        }]
    );
    assert_eq!(
        keys(&mut a, &m, &[Key::Char('t')]),
        vec![Action::Attach {
            domain: "api".into()
        }]
    );
}

#[test]
fn read_only_refuses_every_action_and_a_domain_seat_the_human_ones() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let m = model(&env, &root);
    let mut a = App::new(true, None, true);
    for k in ['h', 'H', 'r', 'R', 'g', 'm', 't'] {
        assert!(keys(&mut a, &m, &[Key::Char(k)]).is_empty(), "{k}");
        assert!(
            a.message.as_deref().unwrap().starts_with("read-only"),
            "{k}"
        );
        assert_eq!(a.mode, Mode::Normal, "{k}");
    }
    // Reading is fine.
    assert_eq!(
        keys(&mut a, &m, &[Key::Char('l')]),
        vec![Action::OpenLog {
            domain: "api".into()
        }]
    );

    let mut a = App::new(false, Some("api".into()), true);
    for k in ['h', 'r', 'R', 'g', 't'] {
        assert!(keys(&mut a, &m, &[Key::Char(k)]).is_empty(), "{k}");
        let said = a.message.clone().unwrap();
        assert!(said.contains("only the human"), "{k}: {said}");
        assert!(said.contains("domain api's worktree"), "{k}: {said}");
        assert_eq!(a.mode, Mode::Normal, "{k}");
    }
    let mut seq = vec![Key::Char('m')];
    seq.extend(typed("done"));
    seq.push(Key::Enter);
    assert_eq!(
        keys(&mut a, &m, &seq),
        vec![Action::Send {
            to: "api".into(),
            body: "done".into()
        }]
    );
}

#[test]
fn feed_filters_cycle_through_domains_and_kinds_and_zero_clears() {
    let env = Env::new();
    let root = busy(&env);
    let m = model(&env, &root);
    let mut a = app();
    keys(&mut a, &m, &[Key::Char('f')]);
    assert_eq!(a.feed_domain.as_deref(), Some("api"));
    assert!(a.feed(&m).iter().all(|f| f.touches("api")));
    keys(&mut a, &m, &[Key::Char('f'), Key::Char('f')]);
    assert_eq!(a.feed_domain, None);
    keys(&mut a, &m, &[Key::Char('F')]);
    let kind = a.feed_kind.clone().unwrap();
    assert!(a.feed(&m).iter().all(|f| f.kind == kind));
    keys(&mut a, &m, &[Key::Char('0')]);
    assert_eq!((a.feed_domain.clone(), a.feed_kind.clone()), (None, None));
    assert_eq!(a.feed(&m).len(), m.feed.len());
}

#[test]
fn the_selection_stays_inside_the_model_and_help_closes_on_any_key() {
    let env = Env::new();
    let root = env.api_web_app(API_WEB, &[]);
    let m = model(&env, &root);
    let mut a = app();
    keys(&mut a, &m, &[Key::Down, Key::Down, Key::Down]);
    assert_eq!(a.selected[0], 1);
    a.selected[3] = 99;
    a.clamp(&m);
    assert_eq!(a.selected[3], m.feed.len() - 1);
    keys(&mut a, &m, &[Key::Char('?')]);
    assert_eq!(a.mode, Mode::Help);
    assert!(keys(&mut a, &m, &[Key::Char('h')]).is_empty());
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn an_agent_that_crashed_until_up_gave_up_shows_failed() {
    let env = Env::new();
    let root = common::up::app(
        &env,
        "agents:\n  web:\n    cli: command\n    max_restarts: 0\n    command: [sh, -c, \"echo boom >&2; exit 3\"]\n",
    );
    common::up::add_task(&env, &root, "web", "build the web", &[]);
    common::up::up(&env, &root, None, &["web", "--once"]).expect(1);
    let m = model(&env, &root);
    let web = m.domains.iter().find(|d| d.name == "web").unwrap();
    assert_eq!(web.state.label(), "failed", "{web:?}");
    let mut a = app();
    a.selected[0] = 2;
    insta::assert_snapshot!("failed_domains_80x24", screen(&m, &a, 80, 24));
    insta::assert_snapshot!(
        "failed_feed_80x24",
        screen(&m, &focused(Focus::Feed), 80, 24)
    );
}

#[test]
fn an_agent_restarting_after_a_crash_shows_crashed() {
    let env = Env::new();
    // Every turn crashes; `up` restarts it after 0.5 s, 1 s, 2 s...
    let root = common::up::web_agent(&env, "    max_restarts: 9\n", "exit 3");
    let mut up = common::up::up_command(&env, &root, None, &["web"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Caught in the 2 s wait after the third crash, so the feed is the same
    // on every run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let m = loop {
        let m = model(&env, &root);
        let web = m.domains.iter().find(|d| d.name == "web").unwrap();
        let turns = m.feed.iter().filter(|f| f.kind == "turn").count();
        if web.state.label() == "crashed" && turns == 3 {
            break m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{turns} turns: {web:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(up.id() as i32, libc::SIGTERM) };
    up.wait().unwrap();
    common::up::assert_no_process_left(&env);
    let mut a = app();
    a.selected[0] = 2;
    insta::assert_snapshot!("crashed_domains_80x24", screen(&m, &a, 80, 24));
    insta::assert_snapshot!("crashed_200x50", screen(&m, &app(), 200, 50));
}

#[test]
fn the_cached_task_graph_is_read_again_when_tasks_change_and_only_then() {
    let env = Env::new();
    let root = busy(&env);
    let repo = Repo::discover(&root).unwrap();
    let loaded = project::load_config_if_any(&repo).unwrap().unwrap();
    let mut cache = comm_node::cockpit::model::Cache::default();
    let first = Model::gather_cached(&repo, &loaded, 0, &mut cache).unwrap();
    env.cn(&root, &["send", "--to", "api", "no task changes"])
        .expect(0);
    let kept = Model::gather_cached(&repo, &loaded, 0, &mut cache).unwrap();
    assert_eq!(kept.work.active.len(), first.work.active.len());
    assert!(kept.feed[0].subject.contains("no task changes"));
    env.cn(&root, &["task", "add", "one more", "--domain", "web"])
        .expect(0);
    let changed = Model::gather_cached(&repo, &loaded, 0, &mut cache).unwrap();
    assert_eq!(changed.work.active.len(), first.work.active.len() + 1);
    assert_eq!(changed.work.counts.open, first.work.counts.open + 1);
    let fresh = Model::gather(&repo, &loaded, 0).unwrap();
    let ids = |m: &Model| {
        m.work
            .active
            .iter()
            .map(|t| t.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&changed), ids(&fresh));
}
