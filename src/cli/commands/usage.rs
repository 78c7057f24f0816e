//! `comm-node usage`: tokens, turns and cost of the agents, from the
//! running totals on comm; `--scan` adds sessions run by hand.

use std::path::PathBuf;

use comm_node::spend::{self, scan, By, Figures, Report, SpendError};

use crate::cli::{ui, CliError, Ctx, Kind};

const EXAMPLES: &str = "Examples:
  comm-node usage                      per domain, with a total row
  comm-node usage --by model           per model the CLIs reported
  comm-node usage --by day --since 7d  per UTC day, the last 7 days
  comm-node usage --since 2026-12-01   per domain, from that day on
  comm-node usage --scan --dry-run     what hand-run sessions would add
  comm-node usage --scan               record them, then report

A `~` marks an estimate: a cost priced from the price table (the CLI
reported none: Codex, transcripts), or tokens read from transcripts. The
rest is the CLIs' own accounting.";

/// Show what the agents used and cost: tokens (input, output, cache read,
/// cache write), turns and US dollars, from the `turn` events' running
/// totals on comm (`usage/<domain>.yaml`; no history walk).
///
/// `--since` counts whole UTC days and works with `--by domain` and
/// `--by day` (the totals keep days per domain, not per task or model).
///
/// `--scan` first reads Claude Code transcripts
/// (`$CLAUDE_CONFIG_DIR/projects`, default `~/.claude/projects`) and Codex
/// rollouts (`${CODEX_HOME:-~/.codex}/sessions`) of sessions whose working
/// directory is in a domain worktree, and records what they hold beyond
/// earlier scans as `turn` events of that domain (estimates, priced from
/// the price table). Sessions `comm-node up` ran are skipped.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The breakdown: domain, task, day or model.
    #[arg(long, value_name = "BY", default_value = "domain", value_parser = By::NAMES.to_vec())]
    by: String,
    /// Count from this UTC day on: a date (2026-12-01) or a duration back
    /// from now (7d, 12h).
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// First record the sessions run by hand found in transcripts.
    #[arg(long)]
    scan: bool,
    /// With --scan: show what would be recorded, record nothing.
    #[arg(long, requires = "scan")]
    dry_run: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let by = By::parse(&args.by).expect("clap checked --by");
    let since = match &args.since {
        Some(text) => Some(
            spend::parse_since(text, comm_node::clock::now()).map_err(|e| {
                CliError::new(Kind::Usage, e)
                    .hint("give a date (--since 2026-12-01) or a duration (--since 7d)")
            })?,
        ),
        None => None,
    };
    // Refuse an unanswerable question before scanning anything.
    if since.is_some() {
        spend::summarize(&Default::default(), by, since.as_deref()).map_err(spend_error)?;
    }
    let (repo, scanned) = if args.scan {
        let (repo, loaded) = ctx.load()?;
        let mut domains = Vec::new();
        for name in loaded.config.domains.keys() {
            if let Some(wt) = repo.find_worktree(name)?.filter(|w| w.present) {
                domains.push((name.clone(), wt.path));
            }
        }
        let sources = sources();
        let scanned = scan::scan(
            &repo,
            &domains,
            &sources,
            &loaded.config.prices,
            args.dry_run,
        )
        .map_err(spend_error)?;
        (repo, Some(scanned))
    } else {
        (ctx.repo()?, None)
    };
    let report = spend::report(&repo, by, since.as_deref()).map_err(spend_error)?;
    if ctx.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            report: &'a Report,
            #[serde(skip_serializing_if = "Option::is_none")]
            scan: Option<&'a scan::Scanned>,
        }
        return Ok(ui::print_json(&Out {
            report: &report,
            scan: scanned.as_ref(),
        })?);
    }
    let mut out = String::new();
    if let Some(s) = &scanned {
        out.push_str(&render_scan(s));
    }
    out.push_str(&render(&report));
    Ok(ui::print(&out)?)
}

/// Where the CLIs keep their transcripts, from their own variables.
fn sources() -> scan::Sources {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let claude = std::env::var_os("CLAUDE_CONFIG_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".claude")))
        .map(|d| d.join("projects"));
    let codex = std::env::var_os("CODEX_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".codex")))
        .map(|d| d.join("sessions"));
    scan::Sources { claude, codex }
}

fn spend_error(e: SpendError) -> CliError {
    match e {
        SpendError::Unanswerable { message, hint } => {
            CliError::new(Kind::Usage, message).hint(hint)
        }
        SpendError::Comm(e) => e.into(),
        SpendError::Io(e) => CliError::new(Kind::Failure, e),
    }
}

fn render_scan(s: &scan::Scanned) -> String {
    let verb = if s.dry_run {
        "would record"
    } else {
        "recorded"
    };
    let mut out = format!(
        "scan: {} transcript files, {} sessions outside any domain worktree, {} run by up (skipped); {verb} {} turns\n",
        s.files,
        s.outside,
        s.skipped_up.len(),
        s.turns.len()
    );
    for t in &s.turns {
        out.push_str(&format!(
            "  {verb} {} {} session {} ({}): {} in / {} out / {} cache read / {} cache write tokens, {} calls, {}\n",
            t.domain,
            t.cli,
            ui::sanitize(&t.session),
            ui::sanitize(&t.model),
            t.tokens.input,
            t.tokens.output,
            t.tokens.cache_read,
            t.tokens.cache_write,
            t.calls,
            if t.cost_source == "unpriced" {
                "unpriced model: $0".to_owned()
            } else {
                format!("~${:.4}", t.cost_usd)
            }
        ));
    }
    out
}

/// The report as an aligned table with a total row.
pub fn render(report: &Report) -> String {
    let mut rows = vec![vec![
        report.by.as_str().to_uppercase(),
        "TURNS".to_owned(),
        "INPUT".to_owned(),
        "OUTPUT".to_owned(),
        "CACHE READ".to_owned(),
        "CACHE WRITE".to_owned(),
        "COST".to_owned(),
    ]];
    for row in &report.rows {
        rows.push(cells(&ui::sanitize(&row.key), &row.totals));
    }
    rows.push(cells("TOTAL", &report.total));
    let mut out = String::new();
    if let Some(since) = &report.since {
        out.push_str(&format!("since {since} (UTC days)\n"));
    }
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                line.push_str(&format!("{cell:<w$}", w = widths[i]));
            } else {
                line.push_str(&format!("  {cell:>w$}", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let t = &report.total;
    if t.estimated {
        out.push_str(&format!(
            "~ estimate: ${:.4} priced from the price table, {} turns read from transcripts\n",
            t.priced_cost_usd, t.transcript_turns
        ));
    }
    out
}

fn cells(key: &str, f: &Figures) -> Vec<String> {
    let tokens = |n: u64| {
        if f.transcript_turns > 0 {
            format!("~{n}")
        } else {
            n.to_string()
        }
    };
    vec![
        key.to_owned(),
        f.turns.to_string(),
        tokens(f.input_tokens),
        tokens(f.output_tokens),
        tokens(f.cache_read_tokens),
        tokens(f.cache_write_tokens),
        format!(
            "{}${:.4}",
            if f.priced_cost_usd > 0.0 { "~" } else { "" },
            f.cost_usd
        ),
    ]
}
