//! `comm-node publish NAME FILE`: share a file with peers through comm.

use std::path::PathBuf;

use comm_node::comm;

use crate::cli::{ui, CliError, Ctx, Kind};

/// Publish FILE as this domain's artifact NAME, stored on the comm branch at
/// artifacts/<domain>/NAME (`git show comm:artifacts/<domain>/NAME`).
/// Publishing again replaces it; the history keeps every version.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Artifact name: a relative path such as openapi.yaml.
    name: String,
    /// The file to publish; `-` reads standard input.
    file: PathBuf,
    /// Who to tell (default: all).
    #[arg(long, value_delimiter = ',')]
    to: Vec<String>,
    /// A note for the event's subject line.
    #[arg(short, long)]
    message: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let from = ctx.actor(&repo)?;
    let limits = ctx.limits(&repo)?;
    let bytes = if args.file.as_os_str() == "-" {
        ui::read_stdin()?
    } else {
        let path = ctx.cwd.join(&args.file);
        std::fs::read(&path).map_err(|e| {
            CliError::new(Kind::Usage, format!("cannot read {}: {e}", path.display()))
        })?
    };
    let done = comm::publish(
        &repo,
        &from,
        &args.name,
        &bytes,
        &args.to,
        args.message.as_deref(),
        &limits,
    )?;
    let qualified = format!("{from}/{}", args.name);
    if ctx.json {
        return Ok(ui::print_json(&serde_json::json!({
            "id": done.event.id,
            "artifact": qualified,
            "size": bytes.len(),
            "commit": done.commit.to_string(),
        }))?);
    }
    Ok(ui::print(&format!(
        "published {qualified} ({}); peers read it with: comm-node artifact get {qualified}\n",
        comm_node::text::count(bytes.len(), "byte")
    ))?)
}
