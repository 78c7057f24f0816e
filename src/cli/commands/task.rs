//! `comm-node task ...`: the shared task graph on `comm`.

use std::path::PathBuf;

use clap::Subcommand;
use comm_node::comm::task::{
    self, Blocker, Board, Entry, NewTask, Outcome, Progress, Status, Task,
};
use comm_node::comm::{Snapshot, HUMAN};
use comm_node::config::Loaded;
use comm_node::git::Repo;
use comm_node::queue::finish::{self, Unlanded};
use comm_node::{clock, health};
use serde::Serialize;

use crate::cli::{ui, CliError, Ctx, Kind};

/// Plan, hand out and finish work: tasks with dependencies, needed
/// artifacts, priorities and convoys, stored as `tasks/<id>.yaml` on `comm`.
///
/// A task is ready when it is open, every dependency is done, every needed
/// artifact is published and its parent is not blocked. Claims are atomic:
/// when several agents race for one task exactly one gets it.
#[derive(Debug, clap::Args)]
#[command(after_help = "Typical loop for an agent in its worktree:
  comm-node task next            # claim the best ready task for this domain
  ... work, commit ...
  comm-node submit --task T-3f9a # code work: done when it lands
  comm-node task done T-3f9a     # work that changed no code (or: task fail T-3f9a --reason '...')")]
pub struct Args {
    #[command(subcommand)]
    command: TaskCommand,
}

#[derive(Debug, Subcommand)]
enum TaskCommand {
    /// Add a task.
    Add(AddArgs),
    /// List tasks (all, or filtered).
    List(ListArgs),
    /// Show one task: fields, what blocks it, its convoy's progress.
    Show { id: String },
    /// The tasks a domain can start now, in the order `task next` takes them.
    Ready(ReadyArgs),
    /// Claim a ready task for this domain.
    Claim { id: String },
    /// Claim the best ready task for this domain: by priority, its own work
    /// before unowned work it has the skills for, then the oldest. Claims of
    /// domains quiet past `health.lease` are returned to the pool first.
    Next,
    /// Mark a claimed task done (its reservations are released), for work
    /// that changed no code.
    ///
    /// Work that changes code is done when it lands: `submit --task ID`
    /// marks it done then. So `task done` is refused while a queue entry
    /// names the task, or while the task's domain has commits main lacks
    /// (--force when those commits are other work and this task changed no
    /// code).
    Done {
        id: String,
        /// Mark it done although the task's domain has unlanded commits.
        #[arg(long)]
        force: bool,
    },
    /// Mark a claimed task failed.
    Fail {
        id: String,
        /// What went wrong and what would unblock it.
        #[arg(long)]
        reason: String,
    },
    /// Return a task to open: unclaim it, or reopen finished work.
    Reopen { id: String },
    /// Make a task wait for others (refused if it would close a cycle).
    Dep {
        id: String,
        /// Tasks it must wait for.
        #[arg(long = "on", value_name = "ID", required = true)]
        on: Vec<String>,
    },
    /// Import a beads JSONL file (`bd export`) as tasks, in one commit.
    ///
    /// The human's alone (in the main checkout): an import may rewrite any task's
    /// status, assignee and domain, which no domain may do to another's.
    Import(ImportArgs),
    /// Move an open or claimed task to another domain (the human only):
    /// the claim is dropped, the task's reservations released, and both
    /// domains are told.
    #[command(
        after_help = "Example:\n  comm-node task reassign T-4k7qm2x9ta --to web --reason 'api is halted; web owns the client now'"
    )]
    Reassign(super::task_steer::ReassignArgs),
    /// Change a task's title, priority, domain, acceptance criteria or
    /// description (the human only); its domain and holder are told.
    #[command(
        after_help = "Examples:\n  comm-node task edit T-4k7qm2x9ta --priority 0\n  comm-node task edit T-4k7qm2x9ta --done-when 'GET /orders paginates' --done-when 'tests pass'"
    )]
    Edit(super::task_steer::EditArgs),
    /// Drop a task (the human only): its claim and reservations go, a
    /// convoy stops waiting for it, the tasks that depend on it stay
    /// blocked (they show `waits for T-... (cancelled)`) and their domains
    /// are told.
    #[command(
        after_help = "Example:\n  comm-node task cancel T-4k7qm2x9ta --reason 'superseded by the v2 API'"
    )]
    Cancel(super::task_steer::CancelArgs),
    /// Print every task as beads JSONL (the shape `bd export` writes).
    Export {
        /// Write beads JSONL (the only format so far).
        #[arg(long, required = true)]
        beads: bool,
    },
}

#[derive(Debug, clap::Args)]
struct AddArgs {
    /// One line saying what to do.
    title: String,
    /// The domain that owns the work (default: none; any domain with the skills).
    #[arg(long)]
    domain: Option<String>,
    /// A task that must be done first (repeat for several).
    #[arg(long = "dep", value_name = "ID")]
    deps: Vec<String>,
    /// 0 (most urgent) to 4; default 2.
    #[arg(long)]
    priority: Option<u8>,
    /// An artifact (DOMAIN/NAME) that must be published first.
    #[arg(long = "needs-artifact", value_name = "DOMAIN/NAME")]
    needs_artifacts: Vec<String>,
    /// The convoy (parent task) this task belongs to.
    #[arg(long)]
    parent: Option<String>,
    /// An acceptance criterion (repeat for several).
    #[arg(long = "done-when", value_name = "TEXT")]
    done_when: Vec<String>,
    /// A capability the taker needs (matched against `skills` in comm.yaml).
    #[arg(long = "skill", value_name = "SKILL")]
    skills: Vec<String>,
    /// Longer description (`-` reads standard input).
    #[arg(long)]
    description: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Only this domain's tasks.
    #[arg(long)]
    domain: Option<String>,
    /// Only tasks in this state: open, claimed, done, failed or cancelled.
    #[arg(long)]
    status: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ReadyArgs {
    /// For this domain (default: the acting one; none: every ready task).
    #[arg(long)]
    domain: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// The JSONL file (`-` for standard input).
    #[arg(long, value_name = "FILE", required = true)]
    beads: PathBuf,
    /// Give every imported task to this domain.
    #[arg(long)]
    domain: Option<String>,
}

/// A task as `--json` shows it.
#[derive(Debug, Serialize)]
struct View<'a> {
    id: &'a str,
    title: &'a str,
    domain: Option<&'a str>,
    status: &'static str,
    priority: u8,
    deps: &'a [String],
    needs_artifacts: &'a [String],
    parent: Option<&'a str>,
    assignee: Option<&'a str>,
    done_when: &'a [String],
    skills: &'a [String],
    created: i64,
    updated: i64,
    created_by: &'a str,
    ready: bool,
    blocked_by: Vec<task::Blocker>,
    progress: Option<task::Progress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

/// A task with what the graph says about it.
struct Listed<'a> {
    task: &'a Task,
    ready: bool,
    blocked_by: Vec<Blocker>,
    progress: Option<Progress>,
}

impl<'a> Listed<'a> {
    fn from_board(board: &Board, task: &'a Task) -> Listed<'a> {
        Listed {
            task,
            ready: board.is_ready(task),
            blocked_by: if task.status == Status::Open {
                board.blockers(task)
            } else {
                Vec::new()
            },
            progress: board.progress(&task.id),
        }
    }

    fn from_entry(entry: &'a Entry) -> Listed<'a> {
        Listed {
            task: &entry.task,
            ready: entry.ready,
            blocked_by: Vec::new(),
            progress: entry.progress,
        }
    }

    fn view(&self) -> View<'a> {
        let t = self.task;
        View {
            id: &t.id,
            title: &t.title,
            domain: t.domain.as_deref(),
            status: t.status.as_str(),
            priority: t.priority,
            deps: &t.deps,
            needs_artifacts: &t.needs_artifacts,
            parent: t.parent.as_deref(),
            assignee: t.assignee.as_deref(),
            done_when: &t.done_when,
            skills: &t.skills,
            created: t.created,
            updated: t.updated,
            created_by: &t.created_by,
            ready: self.ready,
            blocked_by: self.blocked_by.clone(),
            progress: self.progress,
            reason: t.reason.as_deref(),
            description: (!t.description.is_empty()).then_some(t.description.as_str()),
        }
    }

    /// One line: id, state, priority, owner, title, and why it waits.
    fn line(&self) -> String {
        let t = self.task;
        let state = match (&t.assignee, t.status) {
            (Some(a), Status::Claimed) => format!("claimed:{a}"),
            _ if self.ready => "ready".to_owned(),
            (_, Status::Open) => "blocked".to_owned(),
            (_, s) => s.as_str().to_owned(),
        };
        let mut out = format!(
            "{:<10} {:<16} P{} {:<10} {}",
            t.id,
            state,
            t.priority,
            t.domain.as_deref().unwrap_or("-"),
            t.title
        );
        if let Some(p) = self.progress {
            out.push_str(&format!("  [{}/{} done]", p.done, p.total));
        }
        if !self.blocked_by.is_empty() {
            let list: Vec<String> = self.blocked_by.iter().map(ToString::to_string).collect();
            out.push_str(&format!("  (waits for {})", list.join(", ")));
        }
        out.push('\n');
        out
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let now = clock::now();
    match args.command {
        TaskCommand::Add(a) => add(ctx, &repo, a, now),
        TaskCommand::List(a) => list(ctx, &repo, a),
        TaskCommand::Show { id } => show(ctx, &repo, &id),
        TaskCommand::Ready(a) => ready(ctx, &repo, a),
        TaskCommand::Claim { id } => {
            let me = ctx.actor(&repo)?;
            let skills = domain_skills(loaded(ctx).as_ref(), &me);
            let outcome = task::claim(&repo, &me, &id, skills.as_deref(), now)?;
            changed(ctx, &repo, outcome)
        }
        TaskCommand::Next => {
            let me = ctx.actor(&repo)?;
            let loaded = loaded(ctx);
            // Claims whose lease ran out go back to the pool first.
            if let Some(loaded) = &loaded {
                health::reap_lapsed(&repo, &loaded.config, now)?;
            }
            let skills = domain_skills(loaded.as_ref(), &me).unwrap_or_default();
            let outcome = task::claim_next(&repo, &me, &skills, now)?;
            changed(ctx, &repo, outcome)
        }
        TaskCommand::Done { id, force } => {
            let me = ctx.actor(&repo)?;
            done_when_landed(ctx, &repo, &me, &id, force)?;
            changed(ctx, &repo, task::done(&repo, &me, &id, now)?)
        }
        TaskCommand::Fail { id, reason } => {
            let me = ctx.actor(&repo)?;
            changed(ctx, &repo, task::fail(&repo, &me, &id, &reason, now)?)
        }
        TaskCommand::Reopen { id } => {
            let me = ctx.actor(&repo)?;
            changed(ctx, &repo, task::reopen(&repo, &me, &id, now)?)
        }
        TaskCommand::Dep { id, on } => {
            let me = ctx.actor(&repo)?;
            changed(ctx, &repo, task::dep_add(&repo, &me, &id, &on, now)?)
        }
        TaskCommand::Import(a) => import(ctx, &repo, a, now),
        TaskCommand::Reassign(a) => super::task_steer::reassign(ctx, &repo, a, now),
        TaskCommand::Edit(a) => super::task_steer::edit(ctx, &repo, a, now),
        TaskCommand::Cancel(a) => super::task_steer::cancel(ctx, &repo, a, now),
        TaskCommand::Export { .. } => Ok(ui::print(&task::export_beads(&repo)?)?),
    }
}

/// The finishing rule: refuses `task done` while the task is queued, or
/// (unless `force`) while its domain has commits main lacks.
fn done_when_landed(
    ctx: &Ctx,
    repo: &Repo,
    me: &str,
    id: &str,
    force: bool,
) -> Result<(), CliError> {
    let Some(loaded) = loaded(ctx) else {
        return Ok(());
    };
    let snapshot = Snapshot::take(repo)?;
    let Some(t) = task::get(&snapshot, id)? else {
        return Ok(()); // task::done says it does not exist
    };
    let Some(unlanded) = finish::unlanded(repo, &loaded.config, &snapshot, &t, me)? else {
        return Ok(());
    };
    match unlanded {
        Unlanded::Commits { .. } if force => {
            ui::eprint(&format!(
                "warning: {}
",
                unlanded.message(id)
            ));
            Ok(())
        }
        _ => Err(CliError::new(Kind::Refused, unlanded.message(id)).hint(unlanded.hint(id))),
    }
}

/// The acting domain's skills from comm.yaml (`None` for the human or
/// when comm.yaml cannot be read: no skill check then).
fn domain_skills(loaded: Option<&Loaded>, me: &str) -> Option<Vec<String>> {
    if me == HUMAN {
        return None;
    }
    loaded?.config.domains.get(me).map(|d| d.skills.clone())
}

/// comm.yaml, when it can be read (tasks work without it, minus skills
/// and leases).
fn loaded(ctx: &Ctx) -> Option<Loaded> {
    ctx.load().ok().map(|(_, loaded)| loaded)
}

fn add(ctx: &Ctx, repo: &Repo, a: AddArgs, now: i64) -> Result<(), CliError> {
    let me = ctx.actor(repo)?;
    let description = match a.description {
        Some(d) => ui::text_or_stdin(&d)?,
        None => String::new(),
    };
    let new = NewTask {
        title: a.title,
        domain: a.domain,
        deps: a.deps,
        priority: a.priority,
        needs_artifacts: a.needs_artifacts,
        parent: a.parent,
        done_when: a.done_when,
        skills: a.skills,
        description,
    };
    changed(ctx, repo, task::add(repo, &me, &new, now)?)
}

/// Prints a task after a change: its id and the event in text, the task in JSON.
pub(super) fn changed(ctx: &Ctx, repo: &Repo, outcome: Outcome) -> Result<(), CliError> {
    if ctx.json {
        let snapshot = Snapshot::at(repo, Some(outcome.appended.commit))?;
        let board = task::board(&snapshot)?;
        return Ok(ui::print_json(
            &Listed::from_board(&board, &outcome.task).view(),
        )?);
    }
    Ok(ui::print(&format!(
        "{}\n{}\n",
        outcome.task.id, outcome.appended.event.subject
    ))?)
}

fn list(ctx: &Ctx, repo: &Repo, a: ListArgs) -> Result<(), CliError> {
    let status = match a.status.as_deref() {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            CliError::new(Kind::Usage, format!("unknown status `{s}`"))
                .hint("use open, claimed, done, failed or cancelled")
        })?),
    };
    let snapshot = Snapshot::take(repo)?;
    let board = task::board(&snapshot)?;
    let mut tasks: Vec<&Task> = board
        .tasks()
        .filter(|t| a.domain.is_none() || t.domain == a.domain)
        .filter(|t| status.is_none_or(|s| t.status == s))
        .collect();
    tasks.sort_by(|x, y| task::order(x, y));
    let listed: Vec<Listed> = tasks
        .iter()
        .map(|t| Listed::from_board(&board, t))
        .collect();
    print_tasks(ctx, &listed, "no tasks")
}

fn ready(ctx: &Ctx, repo: &Repo, a: ReadyArgs) -> Result<(), CliError> {
    let domain = match a.domain {
        Some(d) => Some(d),
        None if ctx.as_name.is_some() || ctx.in_domain_worktree(repo)? => {
            Some(ctx.actor(repo)?).filter(|me| me != HUMAN)
        }
        None => None,
    };
    let snapshot = Snapshot::take(repo)?;
    let entries = task::ready_entries(&snapshot)?;
    let listed: Vec<Listed> = match &domain {
        Some(d) => {
            let skills = domain_skills(loaded(ctx).as_ref(), d).unwrap_or_default();
            task::candidates(&entries, d, &skills)
                .into_iter()
                .map(Listed::from_entry)
                .collect()
        }
        None => {
            let mut all: Vec<&Entry> = entries.iter().collect();
            all.sort_by(|x, y| task::order(&x.task, &y.task));
            all.into_iter().map(Listed::from_entry).collect()
        }
    };
    let empty = match &domain {
        Some(d) => format!("nothing ready for {d}"),
        None => "nothing ready".to_owned(),
    };
    print_tasks(ctx, &listed, &empty)
}

fn print_tasks(ctx: &Ctx, tasks: &[Listed], empty: &str) -> Result<(), CliError> {
    if ctx.json {
        let views: Vec<View> = tasks.iter().map(Listed::view).collect();
        return Ok(ui::print_json(&views)?);
    }
    if tasks.is_empty() {
        return Ok(ui::print(&format!("{empty}\n"))?);
    }
    let mut out = String::with_capacity(tasks.len() * 80);
    for t in tasks {
        out.push_str(&t.line());
    }
    Ok(ui::print(&out)?)
}

fn show(ctx: &Ctx, repo: &Repo, id: &str) -> Result<(), CliError> {
    task::validate_id(id)?;
    let snapshot = Snapshot::take(repo)?;
    let board = task::board(&snapshot)?;
    let t = task::get(&snapshot, id)?.ok_or_else(|| {
        CliError::new(Kind::Usage, format!("no task `{id}`"))
            .hint("comm-node task list shows the tasks")
    })?;
    let listed = Listed::from_board(&board, &t);
    if ctx.json {
        return Ok(ui::print_json(&listed.view())?);
    }
    let mut out = listed.line();
    let mut field = |name: &str, value: String| out.push_str(&format!("  {name:<15} {value}\n"));
    field(
        "created",
        format!("{} by {}", clock::format_rfc3339(t.created), t.created_by),
    );
    field("updated", clock::format_rfc3339(t.updated));
    if !t.deps.is_empty() {
        field("waits for", t.deps.join(", "));
    }
    if !t.needs_artifacts.is_empty() {
        field("needs artifacts", t.needs_artifacts.join(", "));
    }
    if let Some(p) = &t.parent {
        field("convoy", p.clone());
    }
    if !t.skills.is_empty() {
        field("skills", t.skills.join(", "));
    }
    for criterion in &t.done_when {
        field("done when", criterion.clone());
    }
    if let Some(r) = &t.reason {
        field("reason", r.clone());
    }
    for child in board.children(id) {
        if let Some(c) = board.get(child) {
            field(
                "child",
                format!("{} {} {}", c.id, c.status.as_str(), c.title),
            );
        }
    }
    if !t.description.is_empty() {
        out.push('\n');
        for l in t.description.lines() {
            out.push_str(&format!("    {l}\n"));
        }
    }
    Ok(ui::print(&out)?)
}

fn import(ctx: &Ctx, repo: &Repo, a: ImportArgs, now: i64) -> Result<(), CliError> {
    let me = ctx.actor(repo)?;
    let text = if a.beads.as_os_str() == "-" {
        ui::text_or_stdin("-")?
    } else {
        std::fs::read_to_string(&a.beads).map_err(|e| {
            CliError::new(
                Kind::Usage,
                format!("cannot read {}: {e}", a.beads.display()),
            )
            .hint("give the path of a file written by `bd export`")
        })?
    };
    let report = task::import_beads(repo, &me, &text, a.domain.as_deref(), now)?;
    if ctx.json {
        return Ok(ui::print_json(&report)?);
    }
    let mut out = format!(
        "imported {} new, {} updated, {} unchanged",
        report.added.len(),
        report.updated.len(),
        report.unchanged
    );
    if report.skipped > 0 {
        out.push_str(&format!(", {} non-issue lines skipped", report.skipped));
    }
    out.push('\n');
    for d in &report.dangling {
        out.push_str(&format!(
            "  warning: {d} is not a known task (it stays blocked)\n"
        ));
    }
    Ok(ui::print(&out)?)
}
