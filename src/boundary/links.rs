//! Symbolic links in a snapshot: git records a link as a blob of mode
//! 120000 holding its target path. Resolution follows links to the real
//! file, so an import through a link is checked against what it reaches;
//! nothing here ever follows a link out of the repository.

use super::resolve::{dir_of, join, join_rel, Files};

/// Links followed at most while resolving one path (a cycle ends there).
const MAX_LINKS: usize = 40;

/// `path` with every symbolic link on it (a prefix that is a link)
/// replaced by its target; `None` when a link leaves the repository, is
/// absolute, or links loop.
pub fn real_path(files: &dyn Files, path: &str) -> Option<String> {
    let mut path = path.to_owned();
    'follow: for _ in 0..MAX_LINKS {
        let mut end = 0;
        while end < path.len() {
            end = path[end..].find('/').map_or(path.len(), |i| end + i);
            if let Some(target) = files.link_target(&path[..end]) {
                let linked = link_destination(&path[..end], target)?;
                path = join_rel(&linked, path[end..].trim_start_matches('/'));
                continue 'follow;
            }
            end += 1;
        }
        return Some(path);
    }
    None
}

/// Where the link at `link` with `target` points, from the root; `None`
/// for an absolute target or one that leaves the repository.
pub fn link_destination(link: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    join(dir_of(link), target)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::git::Paths;

    use super::*;

    struct Links(Paths, HashMap<&'static str, &'static str>);

    impl Files for Links {
        fn paths(&self) -> &Paths {
            &self.0
        }
        fn read(&self, _: &str) -> Option<Vec<u8>> {
            None
        }
        fn link_target(&self, path: &str) -> Option<&str> {
            self.1.get(path).copied()
        }
        fn has_links(&self) -> bool {
            true
        }
    }

    #[test]
    fn links_are_followed_to_their_real_path_and_never_out_of_the_repository() {
        let files = Links(
            Paths::from_iter(["b/db/x.ts".to_owned()]),
            HashMap::from([
                ("a/db", "../b/db"),
                ("a/again", "db"),
                ("a/out", "../../etc"),
                ("a/abs", "/etc"),
                ("a/loop", "loop"),
            ]),
        );
        let real = |p| real_path(&files, p);
        assert_eq!(real("a/db/x.ts").as_deref(), Some("b/db/x.ts"));
        assert_eq!(real("a/again/x.ts").as_deref(), Some("b/db/x.ts"));
        assert_eq!(real("a/plain.ts").as_deref(), Some("a/plain.ts"));
        assert_eq!(real("a/out/passwd"), None);
        assert_eq!(real("a/abs/passwd"), None);
        assert_eq!(real("a/loop/x"), None);
    }
}
