//! Small helpers for the text users read: counts with their noun in the
//! right number (`1 domain`, `3 domains`, `1 entry`, `2 entries`) and byte
//! sizes (`875.0 MB`). One place, so no message says "(1 domains)".

/// `n` and the noun, plural unless `n` is 1: `count(3, "domain")` is
/// `3 domains`. Nouns ending in a consonant and `y` take `ies`, those in
/// `s`, `x`, `ch` or `sh` take `es`.
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {}", noun_for(n, noun))
}

/// The noun alone, plural unless `n` is 1.
pub fn noun_for(n: usize, noun: &str) -> String {
    if n == 1 {
        return noun.to_owned();
    }
    let consonant_y = noun.len() > 1
        && noun.ends_with('y')
        && !matches!(
            noun.as_bytes()[noun.len() - 2],
            b'a' | b'e' | b'i' | b'o' | b'u'
        );
    if consonant_y {
        format!("{}ies", &noun[..noun.len() - 1])
    } else if ["s", "x", "ch", "sh"].iter().any(|end| noun.ends_with(end)) {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}

/// A size in bytes as people read it: `0 B`, `12.3 KB`, `875.0 MB`
/// (powers of 1000, like `du --si`).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_everything_else_plural() {
        assert_eq!(count(1, "domain"), "1 domain");
        assert_eq!(count(0, "domain"), "0 domains");
        assert_eq!(count(2, "entry"), "2 entries");
        assert_eq!(count(2, "day"), "2 days");
        assert_eq!(count(3, "batch"), "3 batches");
        assert_eq!(count(1, "byte"), "1 byte");
    }

    #[test]
    fn sizes_read_like_du() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1500), "1.5 KB");
        assert_eq!(size(875_000_000), "875.0 MB");
        assert_eq!(size(12_300_000_000), "12.3 GB");
    }
}
