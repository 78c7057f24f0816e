//! `comm-node init`: turn a declared `comm.yaml` into branches, worktrees,
//! role instructions, hooks and a registration on the bus.
//!
//! Work is split into [`plan`], which only reads and returns every action it
//! would take (so `--dry-run` shows exactly what a real run does, and a
//! second run plans nothing), and [`apply`], which carries the actions out in
//! order. Nothing here ever deletes or overwrites user work: existing
//! branches and worktrees are kept, tracked files are never written, and a
//! generated file the user has edited is left alone with a note.

mod instructions;
pub mod mcp;
pub mod setup;
pub mod uninstall;

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::comm::{self, CommError, RegistrationPlan};
use crate::config::{Config, Loaded};
use crate::git::{GitError, Repo, WorktreeState};
use crate::hooks::{self, HookInstall};

pub use instructions::{render, Reader, GENERATED_MARKER, GENERATED_NAMES};

/// Why init could not plan or finish.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Comm(#[from] CommError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} already exists and is not the worktree of domain `{domain}`", path.display())]
    PathTaken { domain: String, path: PathBuf },
    #[error("comm-node init must run in a checkout with a work tree (this repository is bare)")]
    Bare,
    /// Everything else init does is done; these worktrees' `setup` failed.
    #[error("setup failed in {} worktree{}:\n{}", .0.len(), if .0.len() == 1 { "" } else { "s" }, setup_lines(.0))]
    Setup(Vec<setup::SetupFailure>),
}

fn setup_lines(failures: &[setup::SetupFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("  {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ScaffoldError + '_ {
    move |source| ScaffoldError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One step of init.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    CreateBranch {
        domain: String,
        branch: String,
        from: String,
    },
    PruneWorktree {
        domain: String,
        path: PathBuf,
    },
    RemoveHalfMadeWorktree {
        domain: String,
        path: Option<PathBuf>,
    },
    AddWorktree {
        domain: String,
        branch: String,
        path: PathBuf,
    },
    RecordDomain {
        domain: String,
        path: PathBuf,
    },
    WriteInstructions {
        domain: String,
        path: PathBuf,
        #[serde(skip)]
        content: String,
    },
    InstallHook(HookInstall),
    ExcludeGenerated {
        path: PathBuf,
    },
    Register(RegistrationPlan),
    /// Where an agent finds `comm-node mcp` (see [`mcp`]).
    RegisterMcp {
        #[serde(flatten)]
        step: mcp::McpAction,
        #[serde(skip)]
        exe: PathBuf,
    },
    /// comm.yaml's `setup`, in a domain's worktree (always the last actions).
    RunSetup {
        domain: String,
        path: PathBuf,
        commands: Vec<String>,
    },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::CreateBranch { branch, from, .. } => {
                write!(f, "create branch {branch} from {from}")
            }
            Action::PruneWorktree { domain, path } => {
                write!(
                    f,
                    "forget worktree {domain} (its folder {} is gone)",
                    path.display()
                )
            }
            Action::RemoveHalfMadeWorktree { domain, .. } => {
                write!(f, "remove the interrupted worktree creation of {domain}")
            }
            Action::AddWorktree { branch, path, .. } => {
                write!(f, "add worktree {} on {branch}", path.display())
            }
            Action::RecordDomain { domain, path } => {
                write!(
                    f,
                    "record {} as the worktree of domain {domain}",
                    path.display()
                )
            }
            Action::WriteInstructions { path, .. } => write!(f, "write {}", path.display()),
            Action::InstallHook(h) => match &h.chained {
                Some(old) => write!(
                    f,
                    "install hook {} (the existing hook moves to {} and keeps running first)",
                    h.path.display(),
                    old.display()
                ),
                None => write!(f, "install hook {}", h.path.display()),
            },
            Action::ExcludeGenerated { path } => {
                write!(
                    f,
                    "exclude generated instruction files in {}",
                    path.display()
                )
            }
            Action::Register(r) if r.kickoff => {
                write!(f, "create branch comm with the kickoff commit")
            }
            Action::Register(r) => write!(
                f,
                "register domains on comm (added: {}; updated: {})",
                list_or_none(&r.added),
                list_or_none(&r.updated)
            ),
            Action::RegisterMcp { step, .. } => write!(f, "{step}"),
            Action::RunSetup { path, commands, .. } => write!(
                f,
                "run setup in {}: {}",
                path.display(),
                commands.join(" && ")
            ),
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// Everything init would do, and what it noticed but leaves alone.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub notes: Vec<String>,
}

/// Where a domain's worktree lives (existing one, or where init puts it).
pub fn worktree_path(
    repo: &Repo,
    root: &Path,
    config: &Config,
    domain: &str,
) -> Result<PathBuf, GitError> {
    Ok(match repo.find_worktree(domain)? {
        Some(wt) if wt.present => wt.path,
        _ => default_worktree_path(root, config, domain),
    })
}

/// Where `init` puts `domain`'s worktree under `root`.
pub fn default_worktree_path(root: &Path, config: &Config, domain: &str) -> PathBuf {
    normalize(&root.join(config.worktrees_dir()).join(domain))
}

/// Plans init for `loaded` in `repo`; `exe` is the binary the hooks call;
/// `run_setup`: whether worktrees that need it get comm.yaml's `setup`.
pub fn plan(
    repo: &Repo,
    loaded: &Loaded,
    exe: &Path,
    run_setup: bool,
) -> Result<Plan, ScaffoldError> {
    let config = &loaded.config;
    let root = repo.main_workdir().ok_or(ScaffoldError::Bare)?;
    let mut plan = Plan::default();
    let mut worktree_roots = Vec::new();
    for name in config.domains.keys() {
        let branch = Config::domain_branch(name);
        let branch_exists = repo.branch_tip(&branch)?.is_some();
        if !branch_exists {
            plan.actions.push(Action::CreateBranch {
                domain: name.clone(),
                branch: branch.clone(),
                from: config.main.clone(),
            });
        }
        let path = worktree_path(repo, &root, config, name)?;
        match repo.worktree_state(name)? {
            WorktreeState::Present { .. } => {}
            state => {
                let cleared = match state {
                    WorktreeState::HalfMade { path: half } => {
                        // Killed before git recorded the folder: it is ours
                        // if it holds nothing but the `.git` link git began.
                        let half = half.or_else(|| {
                            repo.is_half_made_folder(&path, name).then(|| path.clone())
                        });
                        let same = half.as_ref() == Some(&path);
                        plan.actions.push(Action::RemoveHalfMadeWorktree {
                            domain: name.clone(),
                            path: half,
                        });
                        same
                    }
                    WorktreeState::Missing { path: gone } => {
                        plan.actions.push(Action::PruneWorktree {
                            domain: name.clone(),
                            path: gone,
                        });
                        false
                    }
                    _ => false,
                };
                let occupied =
                    path.exists() && fs::read_dir(&path).map_err(io_err(&path))?.next().is_some();
                if occupied && !cleared {
                    return Err(ScaffoldError::PathTaken {
                        domain: name.clone(),
                        path,
                    });
                }
                plan.actions.push(Action::AddWorktree {
                    domain: name.clone(),
                    branch: branch.clone(),
                    path: path.clone(),
                });
            }
        }
        if repo.recorded_domain_of(name).as_deref() != Some(name.as_str()) {
            plan.actions.push(Action::RecordDomain {
                domain: name.clone(),
                path: path.clone(),
            });
        }
        // A new branch starts at main, so main's tree tells what it tracks.
        let source = if branch_exists {
            branch.clone()
        } else {
            config.main.clone()
        };
        let tracked = |file: &str| -> Option<String> {
            let tip = repo.branch_tip(&source).ok()??;
            let bytes = repo.read_file_at(tip, file).ok()??;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        };
        for file in instructions::files_for(config, name, tracked) {
            let target = path.join(file.name);
            match fs::read_to_string(&target) {
                Ok(existing) if existing == file.content => {}
                Ok(existing) if !existing.starts_with(GENERATED_MARKER) => {
                    plan.notes.push(format!(
                        "{} was not written by comm-node; left as it is",
                        target.display()
                    ))
                }
                _ => plan.actions.push(Action::WriteInstructions {
                    domain: name.clone(),
                    path: target,
                    content: file.content,
                }),
            }
        }
        worktree_roots.push(path);
    }
    let exclude = repo.common_dir().join("info").join("exclude");
    let excluded = fs::read_to_string(&exclude).unwrap_or_default();
    if !excluded.contains(&instructions::exclude_block()) {
        plan.actions
            .push(Action::ExcludeGenerated { path: exclude });
    }
    let dirs = hook_dirs(repo, &root, &worktree_roots)?;
    let installs = hooks::plan(&dirs, exe).map_err(io_err(&dirs[0]))?;
    plan.actions
        .extend(installs.into_iter().map(Action::InstallHook));
    let registration = comm::plan_registration(repo, config)?;
    if !registration.is_empty() {
        plan.actions.push(Action::Register(registration));
    }
    for (name, path) in config.domains.keys().zip(&worktree_roots) {
        if !setup::needed(repo, config, name) {
            continue;
        }
        if run_setup {
            plan.actions.push(Action::RunSetup {
                domain: name.clone(),
                path: path.clone(),
                commands: config.setup.clone(),
            });
        } else {
            plan.notes.push(format!(
                "setup not run in {} (--no-setup); a later `comm-node init` runs it",
                path.display()
            ));
        }
    }
    let registered = comm::registrations(repo)?;
    for name in registered
        .keys()
        .filter(|n| !config.domains.contains_key(*n))
    {
        plan.notes.push(format!(
            "domain {name} is registered on comm but no longer declared; its branch and worktree are left as they are"
        ));
    }
    Ok(plan)
}

/// Adds to `plan` what registers `comm-node mcp` (the binary `exe`) for
/// the agents of every domain worktree, before the setup steps.
pub fn plan_mcp(
    repo: &Repo,
    loaded: &Loaded,
    exe: &Path,
    plan: &mut Plan,
) -> Result<(), ScaffoldError> {
    let config = &loaded.config;
    let root = repo.main_workdir().ok_or(ScaffoldError::Bare)?;
    let mut worktrees = Vec::new();
    for name in config.domains.keys() {
        worktrees.push((name.clone(), worktree_path(repo, &root, config, name)?));
    }
    let tracked = |domain: &str| {
        let source = match repo.branch_tip(&Config::domain_branch(domain)) {
            Ok(Some(tip)) => Some(tip),
            _ => repo.branch_tip(&config.main).ok().flatten(),
        };
        source
            .is_some_and(|tip| matches!(repo.read_file_at(tip, ".codex/config.toml"), Ok(Some(_))))
    };
    let steps = mcp::plan(
        &root,
        repo.common_dir(),
        &worktrees,
        exe,
        tracked,
        &mut plan.notes,
    );
    let at = plan
        .actions
        .iter()
        .position(|a| matches!(a, Action::RunSetup { .. }))
        .unwrap_or(plan.actions.len());
    plan.actions.splice(
        at..at,
        steps.into_iter().map(|step| Action::RegisterMcp {
            step,
            exe: exe.to_owned(),
        }),
    );
    Ok(())
}

/// Where hooks must go: `core.hooksPath` (a relative one resolves in every
/// worktree's root, so each needs a copy), else the shared `hooks` dir.
fn hook_dirs(repo: &Repo, root: &Path, worktrees: &[PathBuf]) -> Result<Vec<PathBuf>, GitError> {
    let Some(hooks_path) = repo.config_string("core.hooksPath")? else {
        return Ok(vec![repo.common_dir().join("hooks")]);
    };
    let hooks_path = PathBuf::from(hooks_path);
    if hooks_path.is_absolute() {
        return Ok(vec![hooks_path]);
    }
    Ok(std::iter::once(root)
        .chain(worktrees.iter().map(PathBuf::as_path))
        .map(|r| normalize(&r.join(&hooks_path)))
        .collect())
}

/// Carries out a plan in order; stops at the first failure (a rerun picks
/// up where it stopped, since every action is planned from what exists),
/// except that every planned setup runs, and those that failed are
/// reported together once all else is done.
pub fn apply(repo: &Repo, loaded: &Loaded, plan: &Plan, actor: &str) -> Result<(), ScaffoldError> {
    let config = &loaded.config;
    let mut failed = Vec::new();
    for action in &plan.actions {
        match action {
            Action::CreateBranch { branch, from, .. } => {
                let tip = repo.branch_tip(from)?.ok_or_else(|| GitError {
                    context: format!("branch {from} vanished"),
                    source: git2::Error::from_str("not found"),
                })?;
                repo.create_branch(branch, tip)?;
            }
            Action::PruneWorktree { domain, .. } => repo.prune_missing_worktree(domain)?,
            Action::RemoveHalfMadeWorktree { domain, path } => repo
                .remove_half_made_worktree(domain, path.as_deref())
                .map_err(io_err(&repo.worktree_git_dir(domain)))?,
            Action::AddWorktree {
                domain,
                branch,
                path,
            } => repo.add_worktree(domain, path, branch)?,
            Action::RecordDomain { domain, .. } => {
                repo.record_domain(domain, domain)
                    .map_err(io_err(&repo.worktree_git_dir(domain)))?;
            }
            Action::WriteInstructions { path, content, .. } => {
                fs::write(path, content).map_err(io_err(path))?;
            }
            Action::ExcludeGenerated { path } => append_exclude(path)?,
            Action::InstallHook(h) => hooks::install(h).map_err(io_err(&h.path))?,
            Action::Register(_) => {
                comm::register(repo, config, actor)?;
            }
            Action::RegisterMcp { step, exe } => mcp::apply(step, exe)?,
            Action::RunSetup { domain, path, .. } => {
                failed.extend(setup::run(repo, config, domain, path).map_err(io_err(path))?);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(ScaffoldError::Setup(failed))
    }
}

fn append_exclude(path: &Path) -> Result<(), ScaffoldError> {
    let mut text = fs::read_to_string(path).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&instructions::exclude_block());
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    fs::write(path, text).map_err(io_err(path))
}

/// Resolves `.` and `..` without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
