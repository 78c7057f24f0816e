//! `comm-node init`: validate comm.yaml and set up branches, worktrees,
//! instructions, hooks and the `comm` branch.

use comm_node::boundary::coverage::{coverage, Coverage};
use comm_node::comm::signing::{self, KeyPlan};
use comm_node::scaffold::{self, Plan, ScaffoldError};
use serde::Serialize;

use crate::cli::{ui, CliError, Ctx, Kind};

/// Set up (or refresh) every domain declared in comm.yaml.
///
/// For each domain: a branch `domain/<name>` from main, a worktree under
/// `worktrees` (default ../<project>.worktrees/<name>) that knows which domain
/// it is, and CLAUDE.md / AGENTS.md with the agent's role, scope, peers and
/// protocol (written as CLAUDE.local.md / AGENTS.override.md when the project
/// tracks its own). Last, comm.yaml's `setup` runs in each worktree that has
/// not had it (so the agent there can run its tests; `--no-setup` skips it). Installs the pre-commit and pre-merge-commit hooks,
/// keeping any existing hook running first, and records the domains on the
/// `comm` branch (a kickoff commit the first time). Registers `comm-node
/// mcp` where each domain's agent finds it (`--no-mcp` does not).
///
/// Safe to rerun: it only does what is missing or stale, never deletes a
/// branch or worktree and never overwrites a tracked file.
#[derive(Debug, clap::Args)]
#[command(after_long_help = concat!("Example comm.yaml:\n\n", include_str!("../../../templates/comm.yaml")))]
pub struct Args {
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not run comm.yaml's `setup` in the worktrees (a later init will).
    #[arg(long)]
    no_setup: bool,
    /// Do not register `comm-node mcp` for the agents (Claude Code's local
    /// scope in ~/.claude.json, Codex's .codex/config.toml in each worktree).
    #[arg(long)]
    no_mcp: bool,
    /// Sign events, for clones on different machines: make ed25519 keys
    /// with ssh-keygen (under .git/comm-node/keys, never committed) for the
    /// human and the domains this clone hosts, register their public keys
    /// on comm (keys/<actor>.pub), and sign every event written for them.
    /// Without a list: every domain whose key no other clone registered.
    #[arg(
        long,
        value_name = "DOMAIN,...",
        num_args = 0..=1,
        require_equals = true,
        value_delimiter = ','
    )]
    sign: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Report<'a> {
    dry_run: bool,
    changed: bool,
    #[serde(flatten)]
    plan: &'a Plan,
    /// Files of `main` no domain owns, globs that match none of its files.
    coverage: Option<&'a Coverage>,
    /// What `--sign` did about keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    keys: Option<&'a KeyPlan>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let exe = std::env::current_exe().map_err(|e| {
        CliError::new(
            Kind::Failure,
            format!("cannot locate the comm-node binary: {e}"),
        )
    })?;
    let mut plan = scaffold::plan(&repo, &loaded, &exe, !args.no_setup)?;
    if !args.no_mcp {
        scaffold::plan_mcp(&repo, &loaded, &exe, &mut plan)?;
    }
    let coverage = match repo.branch_tip(&loaded.config.main)? {
        Some(tip) => Some(coverage(&loaded, repo.snapshot_commit(tip)?.paths())),
        None => None,
    };
    let keys = match &args.sign {
        Some(wanted) => Some(signing::plan_keys(&repo, &loaded.config, wanted)?),
        None => None,
    };
    // A failed setup still reports all that was done, then fails.
    let mut setup_error = None;
    if !args.dry_run {
        match scaffold::apply(&repo, &loaded, &plan, "human") {
            Ok(()) => {}
            Err(e @ ScaffoldError::Setup(_)) => setup_error = Some(setup_failed(e)),
            Err(e) => return Err(e.into()),
        }
        if let Some(keys) = &keys {
            signing::apply_keys(&repo, &loaded.config, keys)?;
        }
    }
    let keys_changed = keys.as_ref().is_some_and(|k| !k.is_empty());
    if ctx.json {
        ui::print_json(&Report {
            dry_run: args.dry_run,
            changed: !args.dry_run && (!plan.actions.is_empty() || keys_changed),
            plan: &plan,
            coverage: coverage.as_ref(),
            keys: keys.as_ref(),
        })?;
    } else {
        let mut text = render(
            &loaded.config.project,
            loaded.config.domains.len(),
            &plan,
            args.dry_run,
        );
        if let Some(coverage) = &coverage {
            text.push_str(&coverage.render(&loaded.file.display().to_string()));
        }
        if let Some(keys) = &keys {
            text.push_str(&render_keys(keys, args.dry_run));
        }
        ui::print(&text)?;
    }
    setup_error.map_or(Ok(()), Err)
}

/// A failed setup: what ran, the end of its log, and how to go on; any
/// other error as it is.
fn setup_failed(e: ScaffoldError) -> CliError {
    let ScaffoldError::Setup(failures) = &e else {
        return e.into();
    };
    let mut err = CliError::new(
        Kind::Failure,
        format!("{e}\neverything else `comm-node init` does is done"),
    );
    for f in failures {
        let tail: Vec<&str> = f.tail.lines().collect();
        let shown = &tail[tail.len().saturating_sub(SHOWN_LOG_LINES)..];
        err.causes.push(format!(
            "{} (last lines of {}):\n    {}",
            f.domain,
            f.log.display(),
            shown.join("\n    ")
        ));
    }
    err.hint("fix the cause, then rerun `comm-node init`: it runs only the setups that have not succeeded (`--no-setup` skips them)")
}

/// Lines of a failed setup's log shown on the terminal.
const SHOWN_LOG_LINES: usize = 15;

/// The text report of a plan, carried out or not.
pub fn render(project: &str, domains: usize, plan: &Plan, dry_run: bool) -> String {
    let mut out = String::new();
    if plan.actions.is_empty() {
        out.push_str(&format!(
            "nothing to do: {project} is set up ({}); comm-node status shows them\n",
            comm_node::text::count(domains, "domain")
        ));
    } else {
        let verb = if dry_run { "would" } else { "did" };
        out.push_str(&format!(
            "comm-node init for {project} ({}): {verb}\n",
            comm_node::text::count(domains, "domain")
        ));
        for action in &plan.actions {
            out.push_str(&format!("  {action}\n"));
        }
        if dry_run {
            out.push_str("dry run: nothing was changed\n");
        } else {
            out.push_str(&format!(
                "done: {}; `comm-node status` shows the domains, `git log comm` the history\n",
                comm_node::text::count(plan.actions.len(), "change")
            ));
        }
    }
    for note in &plan.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

/// The text report of what `--sign` does about keys.
fn render_keys(keys: &KeyPlan, dry_run: bool) -> String {
    let verb = if dry_run { "would" } else { "did" };
    let mut out = String::new();
    if !keys.generate.is_empty() {
        out.push_str(&format!(
            "signing: {verb} make keys for {} (in .git/comm-node/keys, never committed)\n",
            keys.generate.join(", ")
        ));
    }
    if !keys.register.is_empty() {
        let by = keys
            .by
            .as_deref()
            .map_or("each domain itself".into(), |b| format!("`{b}`"));
        out.push_str(&format!(
            "signing: {verb} register the keys of {} on comm (written by {by})\n",
            keys.register.join(", ")
        ));
    }
    if keys.is_empty() {
        out.push_str("signing: on; this clone's keys are registered\n");
    }
    for note in &keys.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}
