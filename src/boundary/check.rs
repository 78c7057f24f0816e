//! A boundary check over one snapshot: extract the imports of the files to
//! check (in parallel), resolve them, and apply the rules.

use std::collections::BTreeMap;
use std::thread;

use serde::Serialize;

use super::cache::ImportCache;
use super::changes::{check_changes, not_checked, Changes, NotChecked, CHANGE_RULES};
use super::extract::Extractor;
use super::resolve::{Files, Layout, Resolver, Target};
use super::rules::{Rules, Violation};
use super::{Extracted, Import, Lang};
use crate::git::{FileSnapshot, GitError};

impl Files for FileSnapshot {
    fn paths(&self) -> &crate::git::Paths {
        FileSnapshot::paths(self)
    }

    fn read(&self, path: &str) -> Option<Vec<u8>> {
        FileSnapshot::read(self, path)
    }

    fn link_target(&self, path: &str) -> Option<&str> {
        FileSnapshot::link_target(self, path)
    }

    fn has_links(&self) -> bool {
        FileSnapshot::has_links(self)
    }
}

/// The rules applied to the imports of the checked files.
pub const IMPORT_RULES: [&str; 4] = ["may-import", "exports", "forbid", "external"];

/// What to check.
pub struct Request<'a> {
    /// Files whose imports are checked.
    pub files: Vec<String>,
    /// The changes checked against the change rules, and who made them.
    pub changes: Changes<'a>,
}

/// An import that names a local file that does not exist.
#[derive(Debug, Clone, Serialize)]
pub struct Unresolved {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub import: String,
    /// Why it found nothing, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// One resolved edge between files, for `comm-node graph`.
#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
}

/// The outcome of a check.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub violations: Vec<Violation>,
    pub files_checked: usize,
    /// Imports that look local but resolve to nothing.
    pub unresolved: Vec<Unresolved>,
    /// External packages and how many imports use them.
    pub external: BTreeMap<String, usize>,
    /// Files that parsed with syntax errors (their imports still count).
    pub syntax_errors: Vec<String>,
    /// Files among those that could not be fully parsed: an error region
    /// holds import-like text nothing could read, so imports may be missing.
    pub imports_may_be_missing: Vec<String>,
    /// Every resolved file-to-file import.
    #[serde(skip)]
    pub edges: Vec<Edge>,
    /// The rules this check applied (a rule not listed found nothing
    /// because it did not run).
    pub rules: Vec<&'static str>,
    /// The rules it did not apply, and why.
    pub not_checked: Vec<NotChecked>,
    /// Unowned files and dead globs (`check --all` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<super::coverage::Coverage>,
}

impl Report {
    /// Records a rule the caller applied itself.
    pub fn ran(&mut self, rule: &'static str) {
        self.rules.push(rule);
    }

    /// Records a rule this check did not apply.
    pub fn skipped(&mut self, rule: &'static str, reason: &str) {
        self.not_checked.push(NotChecked {
            rule,
            reason: reason.to_owned(),
        });
    }

    /// Whether any violation blocks (warnings do not).
    pub fn has_errors(&self) -> bool {
        self.violations.iter().any(|v| v.severity == "error")
    }
}

/// Runs the check; files whose blob is in `cache` are not parsed again,
/// and the others are added to it. `layout` is the snapshot's, when
/// already scanned.
pub fn check(
    rules: &Rules,
    snapshot: &FileSnapshot,
    request: &Request,
    extractor: &Extractor,
    cache: &mut ImportCache,
    layout: Option<Layout>,
) -> Result<Report, GitError> {
    let files: Vec<(&String, Lang)> = request
        .files
        .iter()
        .filter_map(|f| Lang::of_path(f).map(|l| (f, l)))
        .collect();
    let resolver = match layout {
        Some(layout) => Resolver::with_layout(snapshot, layout),
        None => Resolver::new(snapshot, rules.python_roots()),
    };
    let mut report = Report {
        violations: check_changes(rules, snapshot, &request.changes),
        not_checked: not_checked(&request.changes),
        ..Report::default()
    };
    report.rules = CHANGE_RULES
        .into_iter()
        .filter(|r| !report.not_checked.iter().any(|n| n.rule == *r))
        .chain(IMPORT_RULES)
        .collect();
    let workers = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(files.len().max(1));
    let chunk = files.len().div_ceil(workers).max(1);
    let shared_cache = &*cache;
    let partials: Vec<Result<(Report, Fresh), GitError>> = thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                let resolver = &resolver;
                s.spawn(move || {
                    check_files(rules, snapshot, resolver, extractor, shared_cache, part)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a check worker panicked"))
            .collect()
    });
    for partial in partials {
        let (partial, fresh) = partial?;
        cache.extend(fresh);
        report.violations.extend(partial.violations);
        report.files_checked += partial.files_checked;
        report.unresolved.extend(partial.unresolved);
        report.syntax_errors.extend(partial.syntax_errors);
        report
            .imports_may_be_missing
            .extend(partial.imports_may_be_missing);
        report.edges.extend(partial.edges);
        for (package, n) in partial.external {
            *report.external.entry(package).or_default() += n;
        }
    }
    report
        .violations
        .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    Ok(report)
}

/// Imports extracted by one worker, for the cache.
type Fresh = Vec<(String, Lang, Extracted)>;

fn check_files(
    rules: &Rules,
    snapshot: &FileSnapshot,
    resolver: &Resolver,
    extractor: &Extractor,
    cache: &ImportCache,
    files: &[(&String, Lang)],
) -> Result<(Report, Fresh), GitError> {
    let reader = snapshot.reader()?;
    let mut report = Report::default();
    let mut fresh = Vec::new();
    for &(file, lang) in files {
        let Some(blob) = snapshot.blob_id(file) else {
            continue;
        };
        let key = blob.to_string();
        let extracted = match cache.get(&key, lang) {
            Some(hit) => hit.clone(),
            None => {
                let Some(bytes) = reader.read(blob) else {
                    continue;
                };
                let extracted = extractor.extract(lang, &bytes);
                fresh.push((key, lang, extracted.clone()));
                extracted
            }
        };
        report.files_checked += 1;
        if extracted.syntax_errors {
            report.syntax_errors.push(file.clone());
        }
        if extracted.incomplete {
            report.imports_may_be_missing.push(file.clone());
        }
        for import in &extracted.imports {
            for target in resolver.resolve(file, lang, import) {
                let hint = || resolver.hint(file, lang, import);
                record(&mut report, rules, file, import, &target, hint);
            }
        }
    }
    Ok((report, fresh))
}

/// Adds one resolved import to the report; `hint` explains an unresolved one.
fn record(
    report: &mut Report,
    rules: &Rules,
    file: &str,
    import: &Import,
    target: &Target,
    hint: impl FnOnce() -> Option<String>,
) {
    match target {
        Target::File(to) => report.edges.push(Edge {
            from: file.to_owned(),
            to: to.clone(),
        }),
        Target::External(package) => *report.external.entry(package.clone()).or_default() += 1,
        Target::Unresolved => report.unresolved.push(Unresolved {
            file: file.to_owned(),
            line: import.line,
            column: import.column,
            import: import.spec.clone(),
            hint: hint(),
        }),
    }
    report
        .violations
        .extend(rules.check_import(file, import, target));
}
