//! Boundary checks over what git records: a commit range as its domain
//! would commit it, with the repository's import cache for large checks.
//! Shared by `comm-node check` and the merge queue (which re-checks every
//! candidate, since hooks can be skipped). One [`Checker`] serves many
//! checks, so the rules and tree-sitter queries are built once.

use git2::Oid;

use super::cache::ImportCache;
use super::changes::{Changes, CommitChange};
use super::check::{check, Report, Request};
use super::extract::Extractor;
use super::resolve::Layout;
use super::rules::Rules;
use crate::config::Config;
use crate::git::{FileSnapshot, GitError, Repo};

/// Checks of at most this many files skip the import cache.
const CACHE_THRESHOLD: usize = 200;

/// The rules of one config and the import extractor.
pub struct Checker {
    rules: Rules,
    extractor: Extractor,
}

impl Checker {
    pub fn new(config: &Config) -> Checker {
        Checker {
            rules: Rules::new(config),
            extractor: Extractor::new(),
        }
    }

    /// Checks what `head` changes since its merge base with `base`: the
    /// imports of the files it writes, and every path it changes (deleted
    /// and renamed-away ones too) against the scope of `actor`, or, with no
    /// actor, of the domain each commit acts for (the one owning its files).
    pub fn check_range(
        &self,
        repo: &Repo,
        base: Oid,
        head: Oid,
        actor: Option<&str>,
    ) -> Result<Report, GitError> {
        let fork = repo.merge_base(base, head)?;
        let snapshot = repo.snapshot_commit(head)?;
        let changed = repo.tree_changes(fork, head)?;
        let files = changed
            .iter()
            .filter(|(_, blob)| blob.is_some())
            .map(|(path, _)| path.clone())
            .collect();
        let changes = match actor {
            Some(actor) => Changes::By {
                actor,
                paths: changed.into_iter().map(|(path, _)| path).collect(),
            },
            None => Changes::PerCommit(
                repo.commit_changes(fork.unwrap_or(base), head)?
                    .into_iter()
                    .map(|(id, paths)| CommitChange {
                        commit: id.to_string()[..7].to_owned(),
                        paths,
                    })
                    .collect(),
            ),
        };
        self.check_cached(repo, &snapshot, &Request { files, changes }, None)
    }

    /// The layout of `snapshot` a check with these rules resolves against.
    pub fn layout(&self, snapshot: &FileSnapshot) -> Layout {
        Layout::scan(snapshot, self.rules.python_roots())
    }

    /// Runs the check with the repository's import cache (for large
    /// checks), and `layout` when [`Checker::layout`] scanned it already.
    pub fn check_cached(
        &self,
        repo: &Repo,
        snapshot: &FileSnapshot,
        request: &Request,
        layout: Option<Layout>,
    ) -> Result<Report, GitError> {
        // Loading the cache costs more than parsing a few dozen files.
        let use_cache = request.files.len() > CACHE_THRESHOLD;
        let path = repo.state_path("imports-v1");
        let mut cache = if use_cache {
            ImportCache::load(&path)
        } else {
            ImportCache::default()
        };
        let report = check(
            &self.rules,
            snapshot,
            request,
            &self.extractor,
            &mut cache,
            layout,
        )?;
        if use_cache {
            cache.save(&path);
        }
        Ok(report)
    }
}

/// The domain whose branch `rev` names (`domain/<name>`, or the full
/// `refs/heads/domain/<name>`), when `config` declares it.
pub fn domain_of_rev<'c>(config: &'c Config, rev: &str) -> Option<&'c str> {
    let branch = rev.strip_prefix("refs/heads/").unwrap_or(rev);
    config
        .domains
        .keys()
        .find(|name| Config::domain_branch(name) == branch)
        .map(String::as_str)
}
