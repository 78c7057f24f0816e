//! `/`-separated repository paths: folder, join, normalize.

/// The folder of a path (`""` at the root).
pub(crate) fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// `dir` + `rel` without normalization.
pub(crate) fn join_rel(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_owned()
    } else if rel.is_empty() {
        dir.to_owned()
    } else {
        format!("{dir}/{rel}")
    }
}

/// `dir` + a relative path with `.` and `..`; `None` when it leaves the root.
pub(crate) fn join(dir: &str, rel: &str) -> Option<String> {
    normalize(&join_rel(dir, rel))
}

pub(crate) fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}
