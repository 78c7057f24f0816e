//! Boundary checks over what git records: a commit range as its domain
//! would commit it, with the repository's import cache for large checks.
//! Shared by `comm-node check` and the merge queue (which re-checks every
//! candidate, since hooks can be skipped). One [`Checker`] serves many
//! checks, so the rules and tree-sitter queries are built once.

use git2::Oid;

use super::cache::ImportCache;
use super::check::{check, Report, Request};
use super::extract::Extractor;
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

    /// Checks the files `head` adds or modifies since its merge base with
    /// `base`, as `actor` (when given) commits them.
    pub fn check_range(
        &self,
        repo: &Repo,
        base: Oid,
        head: Oid,
        actor: Option<&str>,
    ) -> Result<Report, GitError> {
        let fork = repo.merge_base(base, head)?;
        let snapshot = repo.snapshot_commit(head)?;
        let changes = repo.changed_files(fork, head)?;
        let request = Request {
            files: changes.clone(),
            changes,
            actor,
        };
        self.check_cached(repo, &snapshot, &request)
    }

    /// Runs the check with the repository's import cache (for large checks).
    pub fn check_cached(
        &self,
        repo: &Repo,
        snapshot: &FileSnapshot,
        request: &Request,
    ) -> Result<Report, GitError> {
        // Loading the cache costs more than parsing a few dozen files.
        let use_cache = request.files.len() > CACHE_THRESHOLD;
        let path = repo.state_path("imports-v1");
        let mut cache = if use_cache {
            ImportCache::load(&path)
        } else {
            ImportCache::default()
        };
        let report = check(&self.rules, snapshot, request, &self.extractor, &mut cache)?;
        if use_cache {
            cache.save(&path);
        }
        Ok(report)
    }
}
