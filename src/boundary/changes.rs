//! The change rules: who may change (add, modify, delete, rename away or
//! link out of) which path.
//!
//! - `scope`: a domain changes only files in its scope or `shared`, and a
//!   commit acting for no named domain acts for the one owning its files,
//!   so it may not change the files of two;
//! - `unowned`: a changed file no domain owns is denied, warned or allowed;
//! - `symlink`: a link a domain commits must not lead out of its scope.

use std::collections::BTreeMap;

use serde::Serialize;

use super::links::link_destination;
use super::resolve::Files;
use super::rules::{Rules, Violation};

/// Who acts for the changes a check looks at.
pub enum Changes<'a> {
    /// `actor` changes every one of `paths` (deletions included).
    By { actor: &'a str, paths: Vec<String> },
    /// Commits no domain was named for: each acts for the domain owning the
    /// paths it changes.
    PerCommit(Vec<CommitChange>),
    /// The change rules are not checked, for this reason.
    Unchecked(&'static str),
}

/// The paths one commit changes.
pub struct CommitChange {
    /// The commit's short id.
    pub commit: String,
    pub paths: Vec<String>,
}

/// The rules [`check_changes`] applies.
pub const CHANGE_RULES: [&str; 3] = ["scope", "unowned", "symlink"];

/// A rule a check did not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotChecked {
    pub rule: &'static str,
    pub reason: String,
}

/// The violations of the change rules; `files` holds the links.
pub fn check_changes(rules: &Rules, files: &dyn Files, changes: &Changes) -> Vec<Violation> {
    let mut out = Vec::new();
    match changes {
        Changes::By { actor, paths } => {
            out.extend(
                paths
                    .iter()
                    .flat_map(|p| check_path(rules, files, actor, p)),
            );
        }
        Changes::PerCommit(commits) => {
            for c in commits {
                match acting_domain(rules, &c.paths) {
                    Ok(Some(actor)) => out.extend(
                        c.paths
                            .iter()
                            .flat_map(|p| check_path(rules, files, actor, p)),
                    ),
                    Ok(None) => {}
                    Err(mixed) => out.push(mixed_commit(&c.commit, &mixed)),
                }
            }
        }
        Changes::Unchecked(_) => {}
    }
    out
}

/// The change rules not applied to `changes`.
pub fn not_checked(changes: &Changes) -> Vec<NotChecked> {
    match changes {
        Changes::Unchecked(reason) => CHANGE_RULES
            .iter()
            .map(|&rule| NotChecked {
                rule,
                reason: (*reason).to_owned(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn check_path(rules: &Rules, files: &dyn Files, actor: &str, path: &str) -> Vec<Violation> {
    let link = files
        .link_target(path)
        .and_then(|target| rules.check_link(actor, path, target, link_destination(path, target)));
    rules
        .check_change(actor, path)
        .into_iter()
        .chain(link)
        .collect()
}

/// The one domain owning the non-shared `paths` (`None`: no domain owns
/// any); `Err` with one path per owner when several domains own them.
fn acting_domain<'r>(
    rules: &'r Rules,
    paths: &[String],
) -> Result<Option<&'r str>, Vec<(&'r str, String)>> {
    let mut owners: BTreeMap<&str, &String> = BTreeMap::new();
    for path in paths.iter().filter(|p| !rules.is_shared(p)) {
        if let Some(owner) = rules.owner(path) {
            owners.entry(owner).or_insert(path);
        }
    }
    match owners.len() {
        0 => Ok(None),
        1 => Ok(owners.keys().next().copied()),
        _ => Err(owners.into_iter().map(|(d, p)| (d, p.clone())).collect()),
    }
}

fn mixed_commit(commit: &str, owners: &[(&str, String)]) -> Violation {
    let names: Vec<&str> = owners.iter().map(|(d, _)| *d).collect();
    let listed: Vec<String> = owners
        .iter()
        .map(|(d, p)| format!("{p} of `{d}`"))
        .collect();
    let (_, file) = &owners[1];
    Violation {
        file: file.clone(),
        line: 1,
        column: 1,
        rule: "scope",
        domain: None,
        import: None,
        target: Some(commit.to_owned()),
        message: format!(
            "commit {commit} changes files of {} domains ({}); a commit acts for one domain",
            names.len(),
            listed.join(", ")
        ),
        hint: format!(
            "split the commit by domain, or name the acting domain: comm-node check --as {} --range ...",
            names[0]
        ),
        severity: "error",
        type_only: false,
    }
}
