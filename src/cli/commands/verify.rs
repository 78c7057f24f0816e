//! `comm-node verify`: check that every event on comm is one its kind and
//! author may make.

use comm_node::comm::{verify, HUMAN};

use crate::cli::{ui, CliError, Ctx, Kind};

/// Check the events on the comm branch: each must be linear (one parent),
/// follow its parent's sequence number, write state files that parse, and
/// change only what its kind lets its author change (a claim takes one open
/// task for its author, a reservation lies in its holder's scope and
/// overlaps no live exclusive one, a message changes no state...), and,
/// once its author's key is on comm (`init --sign`), be signed by that key.
/// Incremental: a rerun checks only events newer than the last verified one.
/// The first bad commit is reported (exit 1) and every writer refuses to
/// build on it until the human resets comm to before it, or accepts it with
/// `comm-node verify --accept COMMIT` in the main checkout (the human).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check only the events after this revision (default: after the last
    /// verified one; the whole history the first time).
    #[arg(long, value_name = "REV")]
    since: Option<String>,
    /// The human accepts this bad commit as legitimate: verification goes on
    /// after it and writers build on comm again.
    #[arg(long, value_name = "COMMIT", conflicts_with = "since")]
    accept: Option<String>,
    /// Print comm's registered signing keys as an allowed signers file
    /// (for `git -c gpg.ssh.allowedSignersFile=FILE verify-commit`) and
    /// verify nothing.
    #[arg(long, conflicts_with_all = ["since", "accept"])]
    allowed_signers: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let repo = ctx.repo()?;
    if args.allowed_signers {
        return Ok(ui::print(&comm_node::comm::signing::allowed_signers(
            &repo,
        )?)?);
    }
    let resolve = |rev: &str| {
        repo.resolve_commit(rev)
            .map_err(|e| CliError::new(Kind::Usage, &e).hint("name a commit of comm"))
    };
    if let Some(rev) = &args.accept {
        if ctx.actor(&repo)? != HUMAN {
            return Err(
                CliError::new(Kind::Refused, "only the human accepts a bad commit")
                    .hint("run it from the main checkout, where the human acts"),
            );
        }
        verify::accept(&repo, resolve(rev)?)?;
    }
    let since = args.since.as_deref().map(resolve).transpose()?;
    let found = verify::verify(&repo, since)?;
    if ctx.json {
        ui::print_json(&found)?;
    } else {
        let text = match &found.bad {
            Some(v) => format!("bad commit {} ({}): {}\n", v.commit, v.subject, v.rule),
            None => format!(
                "comm verified: {}, tip {}\n",
                comm_node::text::count(found.checked, "new event"),
                found.tip.as_deref().unwrap_or("none")
            ),
        };
        ui::print(&text)?;
    }
    match found.bad {
        Some(_) => Err(CliError::new(
            Kind::Refused,
            "comm holds a commit that breaks the rules; writers refuse to build on it",
        )
        .hint("the human resets comm to before it (git update-ref refs/heads/comm COMMIT^, then sync or redo what should stay), or accepts it: comm-node verify --accept COMMIT (in the main checkout)")),
        None => Ok(()),
    }
}
