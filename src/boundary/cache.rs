//! A cache of extracted imports keyed by blob id, so a repeated check only
//! parses files whose content changed.
//!
//! Content addressed, so it never goes stale: the same blob always has the
//! same imports. It records which extractor code produced it and is dropped
//! when that changes. Stored as one text file; a missing or damaged file is an
//! empty cache, and writing it is best effort.

use crate::cachefile::{escape, unescape, write_atomic};
use std::collections::HashMap;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::Path;

use super::{Extracted, Import, ImportKind, Lang};

/// Extracted imports by (blob id, language).
#[derive(Debug, Default)]
pub struct ImportCache {
    entries: HashMap<(String, Lang), Extracted>,
    dirty: bool,
}

const KINDS: [(ImportKind, char); 10] = [
    (ImportKind::Import, 'i'),
    (ImportKind::SideEffect, 's'),
    (ImportKind::ReExport, 'r'),
    (ImportKind::Require, 'q'),
    (ImportKind::Dynamic, 'd'),
    (ImportKind::ImportType, 't'),
    (ImportKind::ImportEquals, 'e'),
    (ImportKind::Use, 'u'),
    (ImportKind::Mod, 'm'),
    (ImportKind::ExternCrate, 'x'),
];

const LANGS: [(Lang, char); 4] = [
    (Lang::TypeScript, 't'),
    (Lang::Tsx, 'x'),
    (Lang::Python, 'p'),
    (Lang::Rust, 'r'),
];

/// The sources of the extractor: every file of `extract/` but its tests.
const EXTRACTOR_SOURCES: [&str; 7] = [
    include_str!("extract/mod.rs"),
    include_str!("extract/readers.rs"),
    include_str!("extract/python.rs"),
    include_str!("extract/typescript.rs"),
    include_str!("extract/rust.rs"),
    include_str!("extract/fallback.rs"),
    include_str!("extract/regions.rs"),
];

/// Identifies the extractor that filled a cache: the crate version and the
/// code that finds and reads the imports ([`EXTRACTOR_SOURCES`]).
fn version() -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut h);
    for source in EXTRACTOR_SOURCES {
        source.hash(&mut h);
    }
    format!("comm-node-imports {:016x}", h.finish())
}

impl ImportCache {
    /// Loads the cache at `path` (empty if absent, damaged or outdated).
    pub fn load(path: &Path) -> ImportCache {
        let Ok(text) = fs::read_to_string(path) else {
            return ImportCache::default();
        };
        let mut lines = text.lines();
        if lines.next() != Some(version().as_str()) {
            return ImportCache::default();
        }
        let mut cache = ImportCache::default();
        while let Some(header) = lines.next() {
            let Some(((key, lang), extracted)) = parse_entry(header, &mut lines) else {
                return ImportCache::default();
            };
            cache.entries.insert((key, lang), extracted);
        }
        cache
    }

    pub fn get(&self, blob: &str, lang: Lang) -> Option<&Extracted> {
        self.entries.get(&(blob.to_owned(), lang))
    }

    /// Adds entries found by a check.
    pub fn extend(&mut self, fresh: Vec<(String, Lang, Extracted)>) {
        for (blob, lang, extracted) in fresh {
            self.dirty = true;
            self.entries.insert((blob, lang), extracted);
        }
    }

    /// Writes the cache if it changed (atomically; failures are ignored).
    pub fn save(&self, path: &Path) {
        if !self.dirty {
            return;
        }
        let mut out = version();
        out.push('\n');
        for ((blob, lang), e) in &self.entries {
            let lang = LANGS
                .iter()
                .find(|(l, _)| l == lang)
                .map_or('?', |(_, c)| *c);
            out.push_str(&format!(
                "{blob} {lang} {} {}\n",
                u8::from(e.syntax_errors) + u8::from(e.incomplete),
                e.imports.len()
            ));
            for i in &e.imports {
                let kind = KINDS
                    .iter()
                    .find(|(k, _)| *k == i.kind)
                    .map_or('?', |(_, c)| *c);
                out.push_str(&format!(
                    "{kind}\t{}\t{}\t{}\t{}\t{}\n",
                    u8::from(i.type_only),
                    i.line,
                    i.column,
                    escape(&i.spec),
                    i.names
                        .iter()
                        .map(|n| escape(n))
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
        }
        // A cache that cannot be written is only slower next time.
        let _ = write_atomic(path, &out);
    }
}

fn parse_entry<'a>(
    header: &str,
    lines: &mut impl Iterator<Item = &'a str>,
) -> Option<((String, Lang), Extracted)> {
    let mut parts = header.split(' ');
    let blob = parts.next()?.to_owned();
    let lang_char = parts.next()?.chars().next()?;
    let lang = LANGS.iter().find(|(_, c)| *c == lang_char)?.0;
    // 0: parsed cleanly, 1: syntax errors, 2: and imports may be missing.
    let (syntax_errors, incomplete) = match parts.next()? {
        "0" => (false, false),
        "1" => (true, false),
        "2" => (true, true),
        _ => return None,
    };
    let count: usize = parts.next()?.parse().ok()?;
    let mut imports = Vec::with_capacity(count);
    for _ in 0..count {
        let mut f = lines.next()?.split('\t');
        let kind_char = f.next()?.chars().next()?;
        let kind = KINDS.iter().find(|(_, c)| *c == kind_char)?.0;
        let type_only = f.next()? == "1";
        let line = f.next()?.parse().ok()?;
        let column = f.next()?.parse().ok()?;
        let spec = unescape(f.next()?);
        let names = f.next()?;
        let names = if names.is_empty() {
            Vec::new()
        } else {
            names.split(',').map(unescape).collect()
        };
        imports.push(Import {
            spec,
            names,
            line,
            column,
            kind,
            type_only,
        });
    }
    Some((
        (blob, lang),
        Extracted {
            imports,
            syntax_errors,
            incomplete,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache");
        let mut cache = ImportCache::default();
        let extracted = Extracted {
            imports: vec![Import {
                spec: "odd\tspec,\\with\nstuff".into(),
                names: vec!["a".into(), "b,c".into()],
                line: 3,
                column: 7,
                kind: ImportKind::ReExport,
                type_only: true,
            }],
            syntax_errors: true,
            incomplete: true,
        };
        cache.extend(vec![("abc123".into(), Lang::Tsx, extracted.clone())]);
        cache.save(&path);
        let loaded = ImportCache::load(&path);
        assert_eq!(loaded.get("abc123", Lang::Tsx), Some(&extracted));
        assert_eq!(loaded.get("abc123", Lang::Python), None);
        fs::write(&path, "garbage").unwrap();
        assert!(ImportCache::load(&path).get("abc123", Lang::Tsx).is_none());
    }

    /// A reader edited, or a file added to `extract/`, changes the version:
    /// caches filled by the old code are dropped.
    #[test]
    fn the_version_covers_every_extractor_source() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/boundary/extract");
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).unwrap();
                assert!(
                    EXTRACTOR_SOURCES.contains(&text.as_str()),
                    "{} is not in the import cache's version",
                    path.display()
                );
            }
        }
    }
}
