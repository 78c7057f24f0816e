//! `comm-node inject DOMAIN NAME FILE`: the human publishes into a
//! domain's namespace (see `comm::steer`).

use std::path::PathBuf;

use comm_node::comm::steer;

use crate::cli::{ui, CliError, Ctx, Kind};

/// Publish FILE as DOMAIN's artifact NAME, as the human (the human only):
/// e.g. the corrected API contract a domain got wrong. It lands where the
/// domain's own `publish` would put it (artifacts/DOMAIN/NAME on comm), so
/// every task waiting on DOMAIN/NAME (`task add --needs-artifact`) sees it;
/// DOMAIN and the domains of those tasks are told in one event.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  comm-node inject api openapi.yaml fixed-openapi.yaml -m 'auth uses bearer tokens, not cookies'
  cat schema.json | comm-node inject shared schemas/order.json -")]
pub struct Args {
    /// The domain whose namespace receives it.
    domain: String,
    /// Artifact name: a relative path such as openapi.yaml.
    name: String,
    /// The file to publish; `-` reads standard input.
    file: PathBuf,
    /// A note for the event's subject line.
    #[arg(short, long)]
    message: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    let me = ctx.actor(&repo)?;
    let limits = ctx.limits(&repo)?;
    let bytes = if args.file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        buf
    } else {
        let path = ctx.cwd.join(&args.file);
        std::fs::read(&path).map_err(|e| {
            CliError::new(Kind::Usage, format!("cannot read {}: {e}", path.display()))
        })?
    };
    let injected = steer::inject(
        &repo,
        &me,
        &args.domain,
        &args.name,
        &bytes,
        args.message.as_deref(),
        &limits,
    )?;
    let appended = injected.appended.as_ref().expect("an inject appends");
    if ctx.json {
        let mut value = serde_json::to_value(&injected).expect("serializes");
        value["id"] = appended.event.id.clone().into();
        value["commit"] = appended.commit.to_string().into();
        return Ok(ui::print_json(&value)?);
    }
    let mut out = format!("{}\n", appended.event.subject);
    if !injected.waiting.is_empty() {
        out.push_str(&format!(
            "tasks waiting on it: {}\n",
            injected.waiting.join(", ")
        ));
    }
    out.push_str(&format!("told: {}\n", injected.told.join(", ")));
    Ok(ui::print(&out)?)
}
