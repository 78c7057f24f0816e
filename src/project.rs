//! Where the project's `comm.yaml` comes from, whichever checkout a
//! command runs in.
//!
//! The file in the main checkout's working tree is the one that counts
//! (so an edit takes effect on the next command, committed or not); a
//! domain worktree reads that one too, never its own branch's copy, which
//! its agent could change. When the main checkout has no such file (a
//! bare clone on CI, a branch without it checked out) the file committed
//! on the branch the main repository has checked out (normally `main`),
//! else on `main`, is read instead.

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigErrors, Loaded, FILE_NAME};
use crate::git::Repo;

/// The branch read when the main repository's HEAD has no comm.yaml.
const FALLBACK_BRANCH: &str = "main";

/// Loads and validates the project's comm.yaml (see the module docs for
/// where it is looked for). Errors name the file, or `BRANCH:comm.yaml`
/// for a committed one, with line and column.
pub fn load_config(repo: &Repo) -> Result<Loaded, ConfigErrors> {
    let file = repo.main_workdir().map(|root| root.join(FILE_NAME));
    if let Some(file) = file.as_ref().filter(|f| f.symlink_metadata().is_ok()) {
        return Config::load(file);
    }
    if let Some((label, bytes)) = committed(repo) {
        let text = String::from_utf8(bytes).map_err(|_| not_utf8(&label))?;
        return Config::parse(&text, Path::new(&label));
    }
    // Nowhere: the error says to create it at the root.
    Config::load(&file.unwrap_or_else(|| PathBuf::from(FILE_NAME)))
}

/// Like [`load_config`], but `None` when the project has no comm.yaml at all.
pub fn load_config_if_any(repo: &Repo) -> Result<Option<Loaded>, ConfigErrors> {
    let in_tree = repo
        .main_workdir()
        .is_some_and(|root| root.join(FILE_NAME).symlink_metadata().is_ok());
    if !in_tree && committed(repo).is_none() {
        return Ok(None);
    }
    load_config(repo).map(Some)
}

/// comm.yaml as committed on the main repository's HEAD branch, else on
/// `main`, with its `BRANCH:comm.yaml` label.
fn committed(repo: &Repo) -> Option<(String, Vec<u8>)> {
    let head = repo.main_head();
    let fallback = repo
        .branch_tip(FALLBACK_BRANCH)
        .ok()
        .flatten()
        .map(|tip| (FALLBACK_BRANCH.to_owned(), tip));
    head.into_iter().chain(fallback).find_map(|(branch, tip)| {
        let bytes = repo.read_file_at(tip, FILE_NAME).ok()??;
        Some((format!("{branch}:{FILE_NAME}"), bytes))
    })
}

fn not_utf8(label: &str) -> ConfigErrors {
    ConfigErrors(vec![crate::config::ConfigError {
        file: PathBuf::from(label),
        pos: crate::config::Pos { line: 1, column: 1 },
        message: "the file is not UTF-8 text".to_owned(),
        hint: Some("save comm.yaml as UTF-8".to_owned()),
    }])
}
