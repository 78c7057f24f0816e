//! The only module that talks to git (through git2, and its own reader of
//! the index file), so that every git operation comm-node performs can be
//! audited in one place.
//!
//! Everything here speaks git (refs, trees, worktrees); the rest of the
//! crate speaks domains, events and rules. No function here prints.

mod catchup;
mod checkout;
mod command;
mod index_file;
mod merge;
mod reflock;
mod refs;
mod remote;
mod snapshot;
mod staged;
mod teardown;
mod worktree;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use git2::{ErrorCode, ObjectType, Oid, Repository, Signature};

pub use catchup::{abort_operation, catch_up, CatchUp, InProgress, Method};
pub use checkout::Follow;
pub use merge::{GitReason, MergeEngine, TrialMerge};
pub use refs::{CasOutcome, TreeEdit};
pub use remote::PushOutcome;
pub use snapshot::{BlobReader, FileSnapshot, Paths};
pub use teardown::LinkedWorktree;
pub use worktree::{DomainClues, WorktreeInfo, WorktreeState};

/// A git failure, with what comm-node was doing when it happened. It reads
/// as `context: git's message`, without libgit2's internal class and code
/// numbers (`class=Repository (6); code=NotFound (-3)`), which say nothing
/// to a user; [`GitError::code`] keeps the code for callers.
#[derive(Debug)]
pub struct GitError {
    pub context: String,
    pub source: git2::Error,
}

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = self.source.message().trim_end_matches('.');
        if message.is_empty() {
            return write!(f, "{}", self.context);
        }
        write!(f, "{}: {message}", self.context)
    }
}

/// git's message is part of the text already: no separate cause.
impl std::error::Error for GitError {}

impl GitError {
    /// libgit2's code for the failure (`NotFound`, `Exists`...).
    pub fn code(&self) -> ErrorCode {
        self.source.code()
    }
}

/// The id git gives a blob of `bytes`: computed, nothing is written.
pub fn blob_id(bytes: &[u8]) -> Result<Oid> {
    Oid::hash_object(ObjectType::Blob, bytes).context(|| "cannot hash a blob".to_owned())
}

/// A path staged against `HEAD` with its staged blob (`None`: a deletion).
pub type StagedChange = (String, Option<Oid>);

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, GitError>;

/// Adds context to a git2 result.
pub(crate) trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, git2::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| GitError {
            context: what(),
            source,
        })
    }
}

/// An open repository, seen from one of its worktrees.
pub struct Repo {
    inner: Repository,
    /// The main checkout's repository when `inner` is a linked worktree,
    /// opened on first use: every open reads git's config files again.
    main: OnceCell<Option<Repository>>,
}

/// Commits ahead of and behind another commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AheadBehind {
    pub ahead: usize,
    pub behind: usize,
}

/// Process-wide libgit2 settings, applied once before the first repository
/// is opened: objects are not re-hashed on every read. Like git itself,
/// comm-node trusts the object store on reads (`git fsck` verifies it);
/// re-hashing made reading a 10,000-entry tree several times slower.
/// Trees up to [`TREE_CACHE_LIMIT`] stay in libgit2's object cache, so a
/// command that reads `tasks/` (1,024 shard folders, 30 KB) and then
/// writes an event under it inflates it once, not at every lookup.
fn configure_libgit2() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        git2::opts::strict_hash_verification(false);
        // SAFETY: runs once, before any repository is opened, so no other
        // thread reads the setting meanwhile.
        // Without it reads are only slower.
        let _ = unsafe { git2::opts::set_cache_object_limit(ObjectType::Tree, TREE_CACHE_LIMIT) };
    });
}

/// The largest tree libgit2 keeps in its object cache (its default is
/// 4 KB, about 140 entries).
const TREE_CACHE_LIMIT: usize = 1 << 20;

impl Repo {
    /// Finds the repository containing `dir`.
    pub fn discover(dir: &Path) -> Result<Repo> {
        configure_libgit2();
        let inner = Repository::discover(dir)
            .context(|| format!("{} is not inside a git repository", dir.display()))?;
        Ok(Repo::wrap(inner))
    }

    /// Opens the repository whose work tree or git dir is exactly `dir`.
    pub fn open(dir: &Path) -> Result<Repo> {
        configure_libgit2();
        let inner = Repository::open(dir).context(|| format!("cannot open {}", dir.display()))?;
        Ok(Repo::wrap(inner))
    }

    /// Creates a new repository with `branch` as its unborn HEAD.
    pub fn init(dir: &Path, branch: &str) -> Result<Repo> {
        configure_libgit2();
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head(branch);
        let inner = Repository::init_opts(dir, &opts)
            .context(|| format!("cannot create a repository in {}", dir.display()))?;
        Ok(Repo::wrap(inner))
    }

    /// The work tree of this checkout (`None` for a bare repository).
    pub fn workdir(&self) -> Option<&Path> {
        self.inner.workdir()
    }

    fn wrap(inner: Repository) -> Repo {
        Repo {
            inner,
            main: OnceCell::new(),
        }
    }

    /// The main checkout's repository (this one, unless it is a linked
    /// worktree); `None` if it cannot be opened.
    fn main_repository(&self) -> Option<&Repository> {
        if !self.inner.is_worktree() {
            return Some(&self.inner);
        }
        self.main
            .get_or_init(|| Repository::open(self.inner.commondir()).ok())
            .as_ref()
    }

    /// The work tree of the main checkout, even when opened from a linked worktree.
    pub fn main_workdir(&self) -> Option<PathBuf> {
        self.main_repository()?.workdir().map(Path::to_path_buf)
    }

    /// The branch the main checkout (or a bare repository) has checked
    /// out, and its tip; `None` when HEAD is unborn or detached.
    pub fn main_head(&self) -> Option<(String, Oid)> {
        let head = self.main_repository()?.head().ok()?;
        let name = head.shorthand().ok()?.to_owned();
        let tip = head.target()?;
        head.is_branch().then_some((name, tip))
    }

    /// The directory shared by all worktrees (`.git`).
    pub fn common_dir(&self) -> &Path {
        self.inner.commondir()
    }

    /// A file of comm-node's own under the shared git dir
    /// (`.git/comm-node/<name>`: caches, the queue's scratch space).
    pub fn state_path(&self, name: &str) -> PathBuf {
        self.common_dir().join("comm-node").join(name)
    }

    /// This checkout's private git directory (`.git/worktrees/<name>` for a linked worktree).
    pub fn git_dir(&self) -> &Path {
        self.inner.path()
    }

    /// Whether this checkout is a linked worktree.
    pub fn is_linked_worktree(&self) -> bool {
        self.inner.is_worktree()
    }

    /// The commit `refs/heads/<branch>` points at, if the branch exists.
    pub fn branch_tip(&self, branch: &str) -> Result<Option<Oid>> {
        refs::resolve(&self.inner, &format!("refs/heads/{branch}"))
    }

    /// Creates `refs/heads/<branch>` at `target`; fails if it exists.
    pub fn create_branch(&self, branch: &str, target: Oid) -> Result<()> {
        let commit = self
            .inner
            .find_commit(target)
            .context(|| format!("cannot find commit {target}"))?;
        self.update_ref(&format!("refs/heads/{branch}"), target, || {
            self.inner.branch(branch, &commit, false).map(drop)
        })
        .context(|| format!("cannot create branch {branch}"))?;
        Ok(())
    }

    /// How far `a` is ahead of and behind `b`.
    pub fn ahead_behind(&self, a: Oid, b: Oid) -> Result<AheadBehind> {
        let (ahead, behind) = self
            .inner
            .graph_ahead_behind(a, b)
            .context(|| format!("cannot compare {a} with {b}"))?;
        Ok(AheadBehind { ahead, behind })
    }

    /// Whether the tree of `branch`'s tip contains `path`.
    pub fn branch_has_path(&self, branch: &str, path: &str) -> Result<bool> {
        let Some(tip) = self.branch_tip(branch)? else {
            return Ok(false);
        };
        let tree = self
            .inner
            .find_commit(tip)
            .and_then(|c| c.tree())
            .context(|| format!("cannot read the tree of {branch}"))?;
        Ok(tree.get_path(Path::new(path)).is_ok())
    }

    /// A string value from the repository's configuration.
    pub fn config_string(&self, key: &str) -> Result<Option<String>> {
        let config = self
            .inner
            .config()
            .context(|| "cannot read git config".into())?;
        match config.get_string(key) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e).context(|| format!("cannot read config {key}")),
        }
    }

    /// Sets a value in the repository's own configuration (`.git/config`).
    pub fn set_config(&self, key: &str, value: &str) -> Result<()> {
        self.inner
            .config()
            .and_then(|c| c.open_level(git2::ConfigLevel::Local))
            .and_then(|mut c| c.set_str(key, value))
            .context(|| format!("cannot set config {key}"))
    }

    /// The identity commits are made with: the user's, or a fallback that
    /// still lets comm-node work where no identity is configured.
    pub fn signature(&self) -> Result<Signature<'static>> {
        match self.inner.signature() {
            Ok(sig) => Ok(sig.to_owned()),
            Err(_) => Signature::now("comm-node", "comm-node@localhost")
                .context(|| "cannot build a commit signature".into()),
        }
    }

    /// Whether the object database holds commit `id`.
    pub fn has_commit(&self, id: Oid) -> bool {
        self.inner.find_commit(id).is_ok()
    }

    /// Whether blob `id` begins with `prefix` (read, not copied).
    pub fn blob_starts_with(&self, id: Oid, prefix: &[u8]) -> Result<bool> {
        let blob = self
            .inner
            .find_blob(id)
            .context(|| format!("cannot read blob {id}"))?;
        Ok(blob.content().starts_with(prefix))
    }

    /// The bytes of a blob.
    pub fn blob(&self, id: Oid) -> Result<Vec<u8>> {
        let blob = self
            .inner
            .find_blob(id)
            .context(|| format!("cannot read blob {id}"))?;
        Ok(blob.content().to_vec())
    }

    /// Stages every file of the work tree and commits it on the current
    /// branch (used to build scratch repositories, e.g. for the demo).
    pub fn commit_all(&self, message: &str) -> Result<Oid> {
        let mut index = self
            .inner
            .index()
            .context(|| "cannot open the index".into())?;
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .and_then(|_| index.write())
            .context(|| "cannot stage files".into())?;
        let tree_id = index.write_tree().context(|| "cannot write tree".into())?;
        let tree = self
            .inner
            .find_tree(tree_id)
            .context(|| "cannot read tree".into())?;
        let sig = self.signature()?;
        let parent = match self.inner.head() {
            Ok(head) => Some(
                head.peel_to_commit()
                    .context(|| "cannot read HEAD".into())?,
            ),
            Err(_) => None,
        };
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.inner
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .context(|| "cannot commit".into())
    }
}
