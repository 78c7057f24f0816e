//! The semantic rules of `comm.yaml`, each mistake located and explained.

use super::{ConfigError, Loaded, RESERVED_NAMES};
use crate::pathglob::PathGlob;

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
                let known: Vec<&str> = c.domains.keys().map(String::as_str).collect();
                err(
                    path,
                    format!("`may_import` names unknown domain `{other}`"),
                    &format!("declared domains are: {}", known.join(", ")),
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
    check_overlaps(loaded, &mut errors);
    errors
}

/// Reports every pair of domains whose scopes share a file.
fn check_overlaps(loaded: &Loaded, errors: &mut Vec<ConfigError>) {
    let domains: Vec<(&String, Vec<(usize, PathGlob)>)> = loaded
        .config
        .domains
        .iter()
        .map(|(name, d)| {
            let globs = d
                .scope
                .iter()
                .enumerate()
                .filter_map(|(i, p)| PathGlob::new(p).ok().map(|g| (i, g)))
                .collect();
            (name, globs)
        })
        .collect();
    for (a, (name_a, globs_a)) in domains.iter().enumerate() {
        for (name_b, globs_b) in &domains[a + 1..] {
            for (_, ga) in globs_a {
                for (ib, gb) in globs_b {
                    let Some(path) = ga.overlap(gb) else { continue };
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
        }
    }
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
