//! The semantic rules of `comm.yaml`, each mistake located and explained.

use super::{ConfigError, Loaded, RESERVED_NAMES};
use std::collections::HashMap;
use std::path::Path;

use crate::pathglob::{literal_head, tails_compatible, PathGlob};

/// Every semantic mistake in `loaded`, in file order of discovery.
pub(super) fn check(loaded: &Loaded) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let c = &loaded.config;
    let mut err = |path: String, message: String, hint: &str| {
        errors.push(loaded.error_at(&path, message, hint));
    };

    if !is_name(&c.project, true) {
        err(
            "project".into(),
            format!("project name `{}` is not a simple name", c.project),
            "use letters, digits, `.`, `-` or `_`, e.g. `project: shop`",
        );
    }
    if c.domains.is_empty() {
        err(
            "domains".into(),
            "no domains are declared".into(),
            "declare at least one domain with a `scope`, e.g. `domains: {api: {scope: [\"services/api/**\"]}}`",
        );
    }
    for (i, pattern) in c.shared.iter().enumerate() {
        check_glob(&mut err, format!("shared[{i}]"), pattern);
    }
    for (i, rule) in c.rules.iter().enumerate() {
        check_glob(
            &mut err,
            format!("rules[{i}].forbid.from"),
            &rule.forbid.from,
        );
        check_glob(&mut err, format!("rules[{i}].forbid.to"), &rule.forbid.to);
    }
    for (i, root) in c.python.roots.iter().enumerate() {
        check_python_root(&mut err, format!("python.roots[{i}]"), root, None);
    }
    for (name, domain) in &c.domains {
        let at = |field: &str| format!("domains.{name}.{field}");
        if !is_name(name, false) {
            err(
                format!("domains.{name}"),
                format!("`{name}` is not a valid domain name"),
                "use lower-case letters, digits, `-` and `_`, starting with a letter (it names a branch and a folder)",
            );
        } else if RESERVED_NAMES.contains(&name.as_str()) {
            err(
                format!("domains.{name}"),
                format!("`{name}` is reserved"),
                "comm-node uses all, human, comm, comm-node and queue for its own addresses, ref and artifacts; pick another name",
            );
        }
        if domain.scope.is_empty() {
            err(
                format!("domains.{name}"),
                format!("domain `{name}` has no `scope`"),
                "list the files it owns, e.g. `scope: [\"services/api/**\"]`",
            );
        }
        let scope = compile_all(&mut err, &at("scope"), &domain.scope);
        let exports = compile_all(&mut err, &at("exports"), &domain.exports);
        for (i, root) in domain.python.roots.iter().enumerate() {
            let path = format!("{}[{i}]", at("python.roots"));
            check_python_root(&mut err, path, root, Some((name, &scope)));
        }
        for (i, export) in exports.iter().enumerate() {
            let Some(export) = export else { continue };
            if !scope.iter().flatten().any(|s| s.overlap(export).is_some()) {
                err(
                    format!("{}[{i}]", at("exports")),
                    format!("export `{export}` matches no file in the scope of `{name}`"),
                    "exports must name files the domain owns; check the path against `scope`",
                );
            }
        }
        for (i, other) in domain.may_import.iter().enumerate() {
            let path = format!("{}[{i}]", at("may_import"));
            if other == name {
                err(
                    path,
                    format!("`{name}` lists itself in `may_import`"),
                    "a domain may always import its own files; remove the entry",
                );
            } else if !c.domains.contains_key(other) {
                err(
                    path,
                    format!("`may_import` names unknown domain `{other}`"),
                    &format!("declared domains are: {}", first_names(c)),
                );
            }
        }
    }
    if let Some(timeout) = &c.queue.timeout {
        if let Err(message) = crate::clock::parse_duration(timeout) {
            err(
                "queue.timeout".into(),
                message,
                "give the limit on each queue setup or test command, e.g. `timeout: 30m`",
            );
        }
    }
    if let Some(dir) = &c.worktrees {
        if let Some((message, hint)) = worktrees_problem(loaded, dir) {
            err("worktrees".into(), message, &hint);
        }
    }
    super::agents::check(loaded, &mut err);
    super::budget::check(loaded, &mut err);
    super::prices::check(loaded, &mut err);
    check_overlaps(loaded, &mut errors);
    errors
}

/// Why `worktrees: dir` is a bad place: inside `.git`, inside a domain's
/// scope (the worktrees would show as that domain's untracked files), or
/// more than one folder above the repository without being written as an
/// absolute path.
fn worktrees_problem(loaded: &Loaded, dir: &str) -> Option<(String, String)> {
    let root = loaded.file.parent().unwrap_or(Path::new(""));
    let relative = if Path::new(dir).is_absolute() {
        // Absolute paths may go anywhere, except into this repository's
        // own `.git` or scopes.
        Path::new(dir).strip_prefix(root).ok()?.to_str()?.to_owned()
    } else {
        dir.to_owned()
    };
    let mut ups = 0;
    let mut inside: Vec<&str> = Vec::new();
    for segment in relative.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if inside.pop().is_none() {
                    ups += 1;
                }
            }
            s => inside.push(s),
        }
    }
    if ups > 1 {
        return Some((
            format!("worktrees `{dir}` leaves the folder that holds the repository"),
            "write such a place as an absolute path, or keep the default `../<project>.worktrees`"
                .into(),
        ));
    }
    if ups == 1 {
        return None;
    }
    if inside
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case(".git"))
    {
        return Some((
            format!("worktrees `{dir}` is inside `.git`"),
            "git keeps its own data there; use a folder beside the repository, e.g. `../<project>.worktrees`".into(),
        ));
    }
    let below = everything_below(&inside.join("/"))?;
    let (domain, glob) = loaded.config.domains.iter().find_map(|(name, d)| {
        d.scope
            .iter()
            .find(|g| PathGlob::new(g).is_ok_and(|g| g.overlap(&below).is_some()))
            .map(|g| (name, g))
    })?;
    Some((
        format!("worktrees `{dir}` is inside the scope of `{domain}` (`{glob}`)"),
        "the worktrees would show up as its untracked files; use a folder beside the repository, e.g. `../<project>.worktrees`".into(),
    ))
}

/// The first few declared domain names, for a hint (there may be a thousand).
fn first_names(c: &super::Config) -> String {
    const SHOWN: usize = 20;
    let mut names: Vec<&str> = c.domains.keys().take(SHOWN).map(String::as_str).collect();
    if c.domains.len() > SHOWN {
        names.push("…");
    }
    names.join(", ")
}

/// Most pairs of scope globs from different domains whose literal heads
/// allow a common file; each may need an automaton search, so past this
/// many the config is refused rather than checked for minutes.
pub const MAX_SCOPE_PAIRS: usize = 200_000;

/// A compiled scope glob: its domain's index, its index in the scope.
type ScopeGlob = (usize, usize, PathGlob);

/// Reports every pair of domains whose scopes share a file.
fn check_overlaps(loaded: &Loaded, errors: &mut Vec<ConfigError>) {
    let names: Vec<&String> = loaded.config.domains.keys().collect();
    let globs: Vec<ScopeGlob> = loaded
        .config
        .domains
        .values()
        .enumerate()
        .flat_map(|(d, domain)| {
            domain
                .scope
                .iter()
                .enumerate()
                .filter_map(move |(i, p)| PathGlob::new(p).ok().map(|g| (d, i, g)))
        })
        .collect();
    let Some(pairs) = candidate_pairs(&globs) else {
        errors.push(loaded.error_at(
            "domains",
            format!(
                "more than {MAX_SCOPE_PAIRS} pairs of scope globs could overlap (MAX_SCOPE_PAIRS)"
            ),
            "give each domain its own folder: scopes that start with `*` or `**` are compared with every other",
        ));
        return;
    };
    for (a, b) in pairs {
        let ((da, _, ga), (db, ib, gb)) = (&globs[a], &globs[b]);
        let Some(path) = ga.overlap(gb) else { continue };
        let (name_a, name_b) = (names[*da], names[*db]);
        let first = loaded.locations.value(&format!("domains.{name_a}.scope"));
        errors.push(loaded.error_at(
            &format!("domains.{name_b}.scope[{ib}]"),
            format!(
                "domains `{name_a}` and `{name_b}` both own `{path}`: `{gb}` overlaps `{ga}` (line {})",
                first.line
            ),
            "each file has one owner: narrow one pattern, or list files every domain may change under `shared`",
        ));
    }
}

/// The pairs of globs of different domains that could share a file, in
/// domain then scope order, found through an index of their literal heads
/// (a glob is compared only with those whose head starts its own), or
/// `None` past [`MAX_SCOPE_PAIRS`].
fn candidate_pairs(globs: &[ScopeGlob]) -> Option<Vec<(usize, usize)>> {
    let mut by_head: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (_, _, g)) in globs.iter().enumerate() {
        by_head.entry(literal_head(g.as_str())).or_default().push(i);
    }
    let mut pairs = Vec::new();
    let mut seen = 0;
    for (i, (d, _, g)) in globs.iter().enumerate() {
        let head = literal_head(g.as_str());
        let prefixes = head.char_indices().map(|(k, _)| &head[..k]).chain([head]);
        for others in prefixes.filter_map(|p| by_head.get(p)) {
            for &j in others {
                if globs[j].0 == *d || (j < i && literal_head(globs[j].2.as_str()) == head) {
                    continue; // same domain, or an equal-head pair met from `j`
                }
                seen += 1;
                if seen > MAX_SCOPE_PAIRS {
                    return None;
                }
                if tails_compatible(g.as_str(), globs[j].2.as_str()) {
                    pairs.push((i.min(j), i.max(j)));
                }
            }
        }
    }
    pairs.sort_unstable_by_key(|&(a, b)| (globs[a].0, globs[b].0, globs[a].1, globs[b].1));
    Some(pairs)
}

fn compile_all(
    err: &mut impl FnMut(String, String, &str),
    base: &str,
    patterns: &[String],
) -> Vec<Option<PathGlob>> {
    patterns
        .iter()
        .enumerate()
        .map(|(i, p)| check_glob(err, format!("{base}[{i}]"), p))
        .collect()
}

/// Compiles one path glob, reporting why it is unusable.
fn check_glob(
    err: &mut impl FnMut(String, String, &str),
    path: String,
    pattern: &str,
) -> Option<PathGlob> {
    let problem = if pattern.starts_with('/') {
        Some("is absolute")
    } else if pattern.split('/').any(|s| s == ".." || s == ".") {
        Some("contains `.` or `..`")
    } else if pattern.ends_with('/') {
        Some("ends with `/`")
    } else {
        None
    };
    if let Some(problem) = problem {
        let suggestion = pattern.trim_start_matches("./").trim_matches('/');
        err(
            path,
            format!("pattern `{pattern}` {problem}"),
            &format!("write paths relative to the repository root, e.g. `{suggestion}/**`"),
        );
        return None;
    }
    let compiled = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| e.kind().to_string())
        .and_then(|_| PathGlob::new(pattern).map_err(|e| e.to_string()));
    match compiled {
        Ok(glob) => Some(glob),
        Err(why) => {
            err(
                path,
                format!("bad glob `{pattern}`: {why}"),
                "globs use `*` (within a folder), `**` (any depth), `?`, `[abc]` and `{a,b}`",
            );
            None
        }
    }
}

/// The glob of every path below `folder` (`""`: the whole repository),
/// with glob characters in the folder's name escaped.
fn everything_below(folder: &str) -> Option<PathGlob> {
    let escaped: String = folder
        .chars()
        .flat_map(|ch| {
            "*?[]{}\\"
                .contains(ch)
                .then_some('\\')
                .into_iter()
                .chain([ch])
        })
        .collect();
    PathGlob::new(&if escaped.is_empty() {
        "**".to_owned()
    } else {
        format!("{escaped}/**")
    })
    .ok()
}

/// Checks one Python source root: a folder of the repository, written
/// relative to its root, and (for a domain's) inside that domain's scope.
fn check_python_root(
    err: &mut impl FnMut(String, String, &str),
    path: String,
    root: &str,
    domain: Option<(&str, &[Option<PathGlob>])>,
) {
    let problem = if root.is_empty() {
        Some("is empty")
    } else if root.starts_with('/') {
        Some("is absolute")
    } else if root
        .split('/')
        .any(|s| s == ".." || s == "." || s.is_empty())
        && root != "."
    {
        Some("contains `.`, `..` or an empty folder name")
    } else if root.contains(['*', '?', '[', ']', '{', '}', '\\']) {
        Some("is a glob; a root is one folder")
    } else {
        None
    };
    if let Some(problem) = problem {
        let folders: Vec<&str> = root
            .split('/')
            .take_while(|s| !s.contains(['*', '?', '[', '{', '\\']))
            .filter(|s| !matches!(*s, "" | "." | ".."))
            .collect();
        let suggestion = if folders.is_empty() {
            "src".to_owned()
        } else {
            folders.join("/")
        };
        err(
            path,
            format!("python root `{root}` {problem}"),
            &format!("write the folder that holds the top-level packages, relative to the repository root, e.g. `roots: [{suggestion}]`"),
        );
        return;
    }
    let Some((name, scope)) = domain else { return };
    let folder = if root == "." { "" } else { root };
    let Some(below) = everything_below(folder) else {
        return;
    };
    if !scope.iter().flatten().any(|g| g.overlap(&below).is_some()) {
        err(
            path,
            format!("python root `{root}` of `{name}` holds no file of its scope"),
            "a domain declares the roots of the packages it owns; put roots shared by several domains in the top-level `python: {roots: [...]}`",
        );
    }
}

/// Domain names become branch and folder names: lower-case ASCII, starting
/// with a letter. Project names may also use `.` and upper case.
fn is_name(s: &str, loose: bool) -> bool {
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    first_ok
        && s.len() <= 64
        && s.chars().all(|c| {
            c.is_ascii_digit()
                || c == '-'
                || c == '_'
                || c.is_ascii_lowercase()
                || (loose && (c == '.' || c.is_ascii_uppercase()))
        })
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigErrors, Pos};
    use std::path::Path;

    fn first_error(text: &str) -> (Pos, String) {
        match Config::parse(text, Path::new("comm.yaml")) {
            Ok(_) => panic!("expected an error"),
            Err(ConfigErrors(e)) => (e[0].pos, e[0].message.clone()),
        }
    }

    #[test]
    fn overlapping_scopes_name_a_common_file() {
        let (pos, msg) = first_error(
            "project: p\ndomains:\n  api:\n    scope: [\"services/**\"]\n  web:\n    scope: [\"web/**\", \"services/web/**\"]\n",
        );
        assert_eq!(
            pos,
            Pos {
                line: 6,
                column: 23
            }
        );
        assert!(
            msg.contains("`api` and `web` both own `services/web/"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_may_import() {
        let (pos, msg) = first_error(
            "project: p\ndomains:\n  web:\n    scope: [\"web/**\"]\n    may_import: [api]\n",
        );
        assert_eq!(
            pos,
            Pos {
                line: 5,
                column: 18
            }
        );
        assert!(msg.contains("unknown domain `api`"), "{msg}");
    }

    #[test]
    fn bad_names_and_globs() {
        let (pos, msg) = first_error("project: p\ndomains:\n  Web/x:\n    scope: [\"web/**\"]\n");
        assert_eq!(pos, Pos { line: 3, column: 3 });
        assert!(msg.contains("not a valid domain name"), "{msg}");
        let (pos, msg) = first_error("project: p\ndomains:\n  web:\n    scope: [\"web/[ab\"]\n");
        assert_eq!(
            pos,
            Pos {
                line: 4,
                column: 13
            }
        );
        assert!(msg.contains("bad glob"), "{msg}");
        let (_, msg) = first_error("project: p\ndomains:\n  all:\n    scope: [\"web/**\"]\n");
        assert!(msg.contains("reserved"), "{msg}");
    }
}
