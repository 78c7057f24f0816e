//! `comm-node demo`: the whole story on a scratch copy of the bundled shop.

use std::path::{Path, PathBuf};

use comm_node::comm::{self, SendRequest};
use comm_node::config::{self, Config, Limits};
use comm_node::git::Repo;
use comm_node::{fixture, scaffold, status};

use crate::cli::commands;
use crate::cli::{ui, CliError, Ctx, Kind};

/// Build a scratch repository from the bundled polyglot shop monorepo (a
/// TypeScript API, a TSX web app, a shared TS package, a Python service and
/// a Rust crate), run `init` on it, and show what happened and where to look.
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
    let plan = scaffold::plan(&repo, &loaded, &exe)?;
    scaffold::apply(&repo, &loaded, &plan, "human")?;
    let domains = loaded.config.domains.len();
    out.push(format!(
        "2. `comm-node init` read comm.yaml and set up {domains} domains:\n{}",
        indent(&commands::init::render(
            &loaded.config.project,
            domains,
            &plan,
            false
        ))
    ));

    let now = comm_node::clock::now();
    let status = status::gather(&repo, &loaded, now)?;
    out.push(format!(
        "3. `comm-node status`:\n{}",
        indent(&commands::status::render(&status, now))
    ));

    let again = scaffold::plan(&repo, &loaded, &exe)?;
    out.push(format!(
        "4. A second `comm-node init` plans {} actions (init is idempotent).\n",
        again.actions.len()
    ));

    out.push(talk(&repo, &root, &loaded.config.limits)?);

    out.push(boundary(&web_worktree(&status, &root))?);

    let mut log = String::new();
    for entry in comm::history(&repo, 20)? {
        log.push_str(&format!(
            "{} {}\n",
            &entry.commit.to_string()[..7],
            entry.event.subject
        ));
    }
    out.push(format!(
        "7. The coordination history, `git log --oneline comm`:\n{}",
        indent(&log)
    ));

    let web = web_worktree(&status, &root);
    out.push(format!(
        "Where to look:\n  cd {}                 # the web agent's worktree; start your agent here\n  cat {}/CLAUDE.md        # its role, scope, peers and protocol\n  git -C {} log comm --stat  # the coordination branch\n  git -C {} show comm:artifacts/api/openapi.yaml\n  comm-node -C {} status\n",
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

/// Step 5: api publishes its API contract and tells web; web reads it,
/// answers in the same thread and marks its inbox read.
fn talk(repo: &Repo, root: &Path, limits: &Limits) -> Result<String, CliError> {
    let contract = std::fs::read(root.join("services/api/openapi.yaml"))?;
    let web = ["web".to_owned()];
    comm::publish(
        repo,
        "api",
        "openapi.yaml",
        &contract,
        &web,
        Some("orders contract v1"),
        limits,
    )?;
    let sent = comm::send(
        repo,
        &SendRequest {
            from: "api".into(),
            to: web.to_vec(),
            subject: "orders API contract ready".into(),
            body: "GET/POST /orders are live. Contract: `comm-node artifact get api/openapi.yaml`."
                .into(),
            task: Some("T-1".into()),
            ..SendRequest::default()
        },
        limits,
    )?;
    let unread = comm::inbox(repo, "web")?;
    let fetched = comm::get_artifact(repo, "api/openapi.yaml")?;
    comm::send(
        repo,
        &SendRequest {
            from: "web".into(),
            to: vec!["api".into()],
            subject: "thanks, wiring the order list to it".into(),
            reply_to: Some(sent.event.id.clone()),
            ..SendRequest::default()
        },
        limits,
    )?;
    comm::ack(repo, "web", None)?;
    let mut text = String::from("5. api and web talk through the comm branch:\n");
    text.push_str(&format!(
        "   api$ comm-node publish openapi.yaml services/api/openapi.yaml   ({} bytes onto comm)\n",
        contract.len()
    ));
    text.push_str(
        "   api$ comm-node send --to web --task T-1 \"orders API contract ready\" \"...\"\n",
    );
    text.push_str(&format!(
        "   web$ comm-node inbox   ({} unread)\n",
        unread.len()
    ));
    for m in &unread {
        text.push_str(&indent(&ui::render_message(m)));
    }
    text.push_str(&format!(
        "   web$ comm-node artifact get api/openapi.yaml   ({} bytes)\n",
        fetched.len()
    ));
    text.push_str(&format!(
        "   web$ comm-node send --to api --reply-to {} \"thanks, wiring the order list to it\"\n",
        sent.event.id
    ));
    text.push_str("   web$ comm-node ack --all\n");
    Ok(text)
}

/// Step 6: web's agent reaches into the api's database module; the
/// pre-commit hook refuses, and the fix through the api's client lands.
fn boundary(web: &Path) -> Result<String, CliError> {
    let file = web.join("apps/web/src/hooks/useOrders.ts");
    let original = std::fs::read_to_string(&file)?;
    let bad = "import { listOrders } from \"../../../../services/api/src/db/orders\";\n";
    std::fs::write(&file, format!("{bad}{original}"))?;
    let (committed, stderr) =
        Repo::commit_with_hooks(web, "web: read orders straight from the api's db")?;
    let mut text = String::from(
        "6. web's agent imports the api's internals and commits; the pre-commit hook says no:\n",
    );
    text.push_str(&format!(
        "   web$ git commit -m \"web: read orders straight from the api's db\"   ({})\n",
        if committed { "committed?!" } else { "refused" }
    ));
    text.push_str(&indent(&indent(&stderr)));
    let good = "import type { ShopClient } from \"@shop/api/client\";\n";
    std::fs::write(&file, format!("{good}{original}"))?;
    let (committed, stderr) =
        Repo::commit_with_hooks(web, "web: type the orders hook with the api client")?;
    text.push_str(&format!(
        "   web$ git commit -m \"web: type the orders hook with the api client\"   ({})\n{}",
        if committed { "committed" } else { "refused" },
        indent(&indent(&stderr))
    ));
    Ok(text)
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
