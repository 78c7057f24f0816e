//! `comm-node report`: write the coordination history as one HTML page.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use comm_node::{clock, report, spend};

use crate::cli::{ui, CliError, Ctx, Kind};

const EXAMPLES: &str = "Examples:
  comm-node report                       write comm-report.html here
  comm-node report --since 7d            only the last 7 days
  comm-node report --since 2026-12-01    from that day on (UTC)
  comm-node report --out - | gzip > r.gz write the page to stdout

What the page shows, from the `comm` branch:
  Timeline per domain   one bar per task, claim to done; queue rejections
                        (red diamonds), landings (green) and halts (red rules)
  Cost over time        each domain's cumulative cost from its `turn` events
  Task graph            tasks in layers, each right of what it waits for,
                        coloured by status
  Who messages whom     arrows between domains with message and token counts
  Merge queue           outcomes per domain; time from submit to decision
  Latest events         the newest events as text

Open it in any browser, offline; it holds no script and loads nothing, and
it prints (each chart on its page). Hover a bar or point for its details.";

/// Write the coordination history as one self-contained HTML page: a
/// timeline per domain, cost over time, the task graph, who messages
/// whom, merge queue outcomes. Inline SVG and CSS, no script, no external
/// assets, no server: open it in a browser, mail it, print it.
///
/// It reads the commit messages of `comm` once (and the task graph at its
/// tip); it changes nothing. The file is written whole or not at all.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Where to write the page; `-` for stdout.
    #[arg(
        long,
        short = 'o',
        value_name = "FILE",
        default_value = "comm-report.html"
    )]
    out: PathBuf,
    /// Only events from then on: a date (2026-12-01, UTC midnight) or a
    /// duration back from now (7d, 12h, 90m).
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let now = clock::now();
    let since = match &args.since {
        Some(text) => Some(parse_since(text, now)?),
        None => None,
    };
    let to_stdout = args.out.as_os_str() == "-";
    let out = if to_stdout || args.out.is_absolute() {
        args.out.clone()
    } else {
        ctx.cwd.join(&args.out)
    };
    if !to_stdout {
        check_writable(&out)?;
    }
    let repo = ctx.repo()?;
    let page = report::build(&repo, since, now)?;
    if to_stdout {
        return Ok(ui::print_bytes(page.as_bytes())?);
    }
    write_atomic(&out, &page)?;
    if ctx.json {
        return Ok(ui::print_json(&serde_json::json!({
            "path": out.display().to_string(),
            "bytes": page.len(),
        }))?);
    }
    Ok(ui::print(&format!(
        "wrote {} ({})\n",
        args.out.display(),
        comm_node::text::size(page.len() as u64)
    ))?)
}

/// `--since`: a date (UTC midnight) or a duration back from `now`.
fn parse_since(text: &str, now: i64) -> Result<i64, CliError> {
    let bad = |e: String| {
        CliError::new(Kind::Usage, e)
            .hint("give a date (--since 2026-12-01) or a duration back from now (--since 7d)")
    };
    let text = text.trim();
    if text.len() == 10 && text.as_bytes().get(4) == Some(&b'-') {
        let day = spend::parse_since(text, now).map_err(bad)?;
        return clock::parse_rfc3339(&format!("{day}T00:00:00Z"))
            .ok_or_else(|| bad(format!("`{text}` is not a date (use YYYY-MM-DD)")));
    }
    let secs = clock::parse_duration(text).map_err(|_| {
        bad(format!(
            "`{text}` is neither a date (2026-12-01) nor a duration (7d, 12h)"
        ))
    })?;
    Ok(now.saturating_sub(i64::try_from(secs).unwrap_or(i64::MAX)))
}

/// Refuses an `--out` whose folder is missing or is a folder itself,
/// before reading anything.
fn check_writable(out: &Path) -> Result<(), CliError> {
    let unwritable = |why: String| {
        CliError::new(
            Kind::Usage,
            format!("cannot write {}: {why}", out.display()),
        )
        .hint("pass --out FILE in a folder that exists and you can write, or --out - for stdout")
    };
    if out.is_dir() {
        return Err(unwritable("it is a folder".into()));
    }
    let dir = parent(out);
    if !dir.is_dir() {
        return Err(unwritable(format!("no folder {}", dir.display())));
    }
    Ok(())
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `text` to a temporary file beside `out`, then renames it over
/// `out`: a reader sees the old page or the new one. On failure nothing
/// is left behind.
fn write_atomic(out: &Path, text: &str) -> Result<(), CliError> {
    let dir = parent(out);
    let failed = |e: std::io::Error| {
        CliError::new(Kind::Usage, format!("cannot write {}: {e}", out.display()))
            .hint("pass --out FILE in a folder you can write, or --out - for stdout")
    };
    let mut tmp = tempfile_in(&dir).map_err(failed)?;
    let result = tmp
        .1
        .write_all(text.as_bytes())
        .and_then(|()| tmp.1.sync_all())
        .and_then(|()| std::fs::rename(&tmp.0, out));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp.0);
        return Err(failed(e));
    }
    Ok(())
}

/// A new file `.comm-report-<pid>-<n>.tmp` in `dir`.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let mut n = 0;
    loop {
        let path = dir.join(format!(".comm-report-{}-{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e),
        }
    }
}
