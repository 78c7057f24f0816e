//! `comm-node logs`: what a domain's agent did, from the stream `up` keeps.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::time::Duration;

use comm_node::runtime::{self, stream};

use crate::cli::{ui, CliError, Ctx, Kind};

/// Show a domain's agent stream readably: assistant text, one line per
/// tool call and per tool result, each turn's result with tokens and cost.
/// Read from `.git/comm-node/agents/DOMAIN/stream.jsonl`, which
/// `comm-node up` writes.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The domain whose agent to show.
    domain: String,
    /// Keep printing as the agent goes on (Ctrl-C to stop).
    #[arg(short, long)]
    follow: bool,
    /// Show only the last N lines.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 200)]
    lines: usize,
    /// Show the agent's stderr instead.
    #[arg(long)]
    stderr: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    if !loaded.config.domains.contains_key(&args.domain) {
        let known: Vec<&str> = loaded.config.domains.keys().map(String::as_str).collect();
        return Err(CliError::new(
            Kind::Usage,
            format!("`{}` is not a declared domain", args.domain),
        )
        .hint(format!("declared domains: {}", known.join(", "))));
    }
    let name = if args.stderr {
        "stderr.log"
    } else {
        "stream.jsonl"
    };
    let path = runtime::agent_dir(&repo, &args.domain).join(name);
    let Ok(file) = std::fs::File::open(&path) else {
        return Err(CliError::new(
            Kind::Refused,
            format!("no agent has run for `{}` on this machine yet", args.domain),
        )
        .hint(format!("`comm-node up {}` runs it", args.domain)));
    };
    let show = |line: &str| {
        if args.stderr {
            Some(line.to_owned())
        } else {
            stream::render(line)
        }
    };
    let mut reader = BufReader::new(file);
    let mut shown: Vec<String> = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        if let Some(text) = show(line.trim_end()) {
            shown.push(ui::sanitize(&text).into_owned());
            if shown.len() > args.lines {
                shown.remove(0);
            }
        }
        line.clear();
    }
    if ctx.json {
        return Ok(ui::print_json(&shown)?);
    }
    let mut out = shown.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    ui::print(&out)?;
    if !args.follow {
        return Ok(());
    }
    let mut at = reader.stream_position()?;
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if len < at {
            // Rotated: start the new file from its beginning.
            reader = BufReader::new(std::fs::File::open(&path)?);
            at = 0;
        }
        reader.seek(SeekFrom::Start(at))?;
        while reader.read_line(&mut line)? > 0 {
            if !line.ends_with('\n') {
                break;
            }
            if let Some(text) = show(line.trim_end()) {
                ui::print(&format!("{}\n", ui::sanitize(&text)))?;
            }
            at += line.len() as u64;
            line.clear();
        }
        line.clear();
    }
}
