//! `comm-node demo`: the whole story on a scratch copy of the bundled shop.
//! Steps 1-4 call the library; the story after them runs the real binary,
//! so what it prints is exactly what users will see.

use std::path::{Path, PathBuf};

mod story;

use comm_node::comm;
use comm_node::config::{self, Config};
use comm_node::git::Repo;
use comm_node::{fixture, scaffold, status};

use crate::cli::commands;
use crate::cli::{ui, CliError, Ctx, Kind};
use story::Story;

/// Run the whole story on a scratch copy of the bundled shop monorepo.
///
/// The shop is a polyglot monorepo (a TypeScript API, a TSX web app, a
/// shared TS package, a Python service and a Rust crate). The story: init, tasks across two
/// domains, an artifact that unblocks work, a refused reservation, a refused
/// boundary break, and the merge queue landing one submission, rejecting one
/// for a failing test and landing its fix. Every step is the real command.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to build the demo (must not exist or be empty); default: a new
    /// folder in the system temp dir.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let base = match args.dir {
        Some(dir) => ctx.cwd.join(dir),
        None => std::env::temp_dir().join(format!("comm-node-demo-{}", comm::new_id())),
    };
    if std::fs::read_dir(&base).is_ok_and(|mut d| d.next().is_some()) {
        return Err(
            CliError::new(Kind::Usage, format!("{} is not empty", base.display()))
                .hint("pass --dir with a new or empty folder"),
        );
    }
    let root = base.join("shop");
    let repo = build_repo(&root)?;
    let mut out = Vec::new();
    out.push(format!(
        "1. Copied the bundled shop monorepo into {} and committed it on main.\n",
        root.display()
    ));

    let loaded = Config::load(&root.join(config::FILE_NAME))?;
    let exe = std::env::current_exe()?;
    let plan = scaffold::plan(&repo, &loaded, &exe, true)?;
    scaffold::apply(&repo, &loaded, &plan, "human")?;
    let domains = loaded.config.domains.len();
    out.push(format!(
        "2. `comm-node init` read comm.yaml and set up {}:\n{}",
        comm_node::text::count(domains, "domain"),
        indent(&commands::init::render(
            &loaded.config.project,
            domains,
            &plan,
            false
        ))
    ));

    let now = comm_node::clock::now();
    let liveness = comm_node::health::liveness(&repo, &loaded.config, now)?;
    let status = status::gather(&repo, &loaded, now, liveness)?;
    out.push(format!(
        "3. `comm-node status`:\n{}",
        indent(&commands::status::render(&status, now))
    ));

    let again = scaffold::plan(&repo, &loaded, &exe, true)?;
    out.push(format!(
        "4. A second `comm-node init` plans {} (init is idempotent).\n",
        comm_node::text::count(again.actions.len(), "action")
    ));

    let web = web_worktree(&status, &root);
    let mut story = Story::new(exe, &root, &web.with_file_name(""))?;
    story.tasks()?;
    story.talk()?;
    story.reserve()?;
    story.boundary()?;
    story.queue()?;
    story.graph()?;
    story.next()?;
    out.push(story.into_text());

    out.push(format!(
        "Where to look:\n  cd {}                 # the web agent's worktree; start your agent here\n  cat {}/CLAUDE.md        # its role, scope, peers and protocol\n  git -C {} log --graph --oneline main comm   # code and coordination\n  git -C {} show comm:artifacts/api/openapi.yaml\n  comm-node -C {} status\n",
        web.display(),
        web.display(),
        root.display(),
        root.display(),
        root.display()
    ));
    if ctx.json {
        ui::print_json(&serde_json::json!({
            "repository": root,
            "init": plan,
            "status": status,
        }))?;
    } else {
        ui::print(&out.join("\n"))?;
    }
    Ok(())
}

fn web_worktree(status: &status::Status, root: &Path) -> PathBuf {
    status
        .domains
        .iter()
        .find(|d| d.name == "web")
        .map_or_else(|| root.to_path_buf(), |d| d.worktree.clone())
}

/// Writes the fixture into `root` and commits it on `main`.
fn build_repo(root: &Path) -> Result<Repo, CliError> {
    std::fs::create_dir_all(root)?;
    fixture::write_to(root)?;
    let repo = Repo::init(root, "main")?;
    repo.set_config("user.name", "Demo Human")?;
    repo.set_config("user.email", "human@demo.invalid")?;
    repo.commit_all("shop: import the monorepo")?;
    Ok(repo)
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}
