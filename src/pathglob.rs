//! Exact reasoning about path globs: do two patterns match a common path?
//!
//! Ownership (`scope`), exports and file reservations are all glob sets, and
//! the questions comm-node asks of them ("do `api` and `web` own a common
//! file?", "does this reservation collide with that one?") must be answered
//! exactly, never by comparing strings. Each glob is compiled to a small
//! automaton with the same semantics as `globset` with `literal_separator`
//! (`*` and `?` stop at `/`, `**` spans directories), and two globs overlap
//! when the product of their automata with a "well-formed relative path"
//! automaton accepts some string. The search also yields a witness path,
//! so errors can show a concrete file both patterns match.
//!
//! This module only decides; it never touches the file system.

use std::collections::{HashMap, VecDeque};

/// Most alternatives one pattern may expand to (`{a,b}{c,d}` is 4).
const MAX_ALTERNATIVES: usize = 256;

/// A compiled glob: one token list per brace alternative.
#[derive(Debug, Clone)]
pub struct PathGlob {
    text: String,
    alternatives: Vec<Vec<Tok>>,
}

/// Why a pattern could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    #[error("unclosed character class `[`")]
    UnclosedClass,
    #[error("unmatched `{0}`")]
    UnmatchedBrace(char),
    #[error("invalid range `{0}-{1}` in character class")]
    InvalidRange(char, char),
    #[error("pattern expands to more than {MAX_ALTERNATIVES} alternatives")]
    TooManyAlternatives,
    #[error("pattern is empty")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// One character that is not `/` and (un)matches the ranges.
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    /// `*`: zero or more characters, none of them `/`.
    Star,
    /// `**` as a whole pattern or after a trailing `/`: any characters.
    DeepStar,
    /// A leading `**/` or inner `/**/` (the slashes are separate tokens):
    /// zero or more whole directories, `(.*/)?`.
    Dirs,
}

impl PathGlob {
    /// Compiles `pattern` with `globset`'s syntax and `literal_separator` semantics.
    pub fn new(pattern: &str) -> Result<Self, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError::Empty);
        }
        let alternatives = expand_braces(pattern)?
            .iter()
            .map(|alt| tokenize(alt))
            .collect::<Result<_, _>>()?;
        Ok(PathGlob {
            text: pattern.to_owned(),
            alternatives,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A path both globs match, if there is one.
    pub fn overlap(&self, other: &PathGlob) -> Option<String> {
        self.alternatives.iter().find_map(|a| {
            other
                .alternatives
                .iter()
                .filter(|b| prefixes_compatible(a, b))
                .find_map(|b| search(&[a.as_slice(), b.as_slice()], &[]))
        })
    }

    /// A path this glob matches but none of `cover` does; `None` when every
    /// path it matches is matched by some glob of `cover` (inclusion).
    pub fn uncovered(&self, cover: &[PathGlob]) -> Option<String> {
        let negative: Vec<&[Tok]> = cover
            .iter()
            .flat_map(|g| g.alternatives.iter().map(Vec::as_slice))
            .collect();
        self.alternatives
            .iter()
            .find_map(|a| search(&[a.as_slice()], &negative))
    }

    /// Whether the glob matches `path` (a `/`-separated relative path).
    pub fn matches(&self, path: &str) -> bool {
        self.alternatives
            .iter()
            .any(|alt| Nfa { toks: alt }.accepts(path))
    }
}

impl std::fmt::Display for PathGlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Expands `{a,b}` alternation (nesting allowed) into plain patterns.
fn expand_braces(pattern: &str) -> Result<Vec<String>, GlobError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    expand_from(&chars, String::new(), &mut out)?;
    Ok(out)
}

fn expand_from(rest: &[char], prefix: String, out: &mut Vec<String>) -> Result<(), GlobError> {
    let mut i = 0;
    let mut prefix = prefix;
    while i < rest.len() {
        match rest[i] {
            '\\' if i + 1 < rest.len() => {
                prefix.push(rest[i]);
                prefix.push(rest[i + 1]);
                i += 2;
            }
            '[' => {
                let end = class_end(rest, i).ok_or(GlobError::UnclosedClass)?;
                prefix.extend(&rest[i..=end]);
                i = end + 1;
            }
            '}' => return Err(GlobError::UnmatchedBrace('}')),
            '{' => {
                let (options, close) = split_alternatives(rest, i)?;
                for option in options {
                    let mut tail = option;
                    tail.extend_from_slice(&rest[close + 1..]);
                    expand_from(&tail, prefix.clone(), out)?;
                    if out.len() > MAX_ALTERNATIVES {
                        return Err(GlobError::TooManyAlternatives);
                    }
                }
                return Ok(());
            }
            c => {
                prefix.push(c);
                i += 1;
            }
        }
    }
    out.push(prefix);
    Ok(())
}

/// Splits the top-level options of the brace group opening at `open`.
fn split_alternatives(s: &[char], open: usize) -> Result<(Vec<Vec<char>>, usize), GlobError> {
    let mut depth = 0;
    let mut options = vec![Vec::new()];
    let mut i = open + 1;
    while i < s.len() {
        let c = s[i];
        match c {
            '\\' if i + 1 < s.len() => {
                options.last_mut().unwrap().extend_from_slice(&s[i..i + 2]);
                i += 2;
                continue;
            }
            '[' => {
                let end = class_end(s, i).ok_or(GlobError::UnclosedClass)?;
                options.last_mut().unwrap().extend_from_slice(&s[i..=end]);
                i = end + 1;
                continue;
            }
            '{' => depth += 1,
            '}' if depth == 0 => return Ok((options, i)),
            '}' => depth -= 1,
            ',' if depth == 0 => {
                options.push(Vec::new());
                i += 1;
                continue;
            }
            _ => {}
        }
        options.last_mut().unwrap().push(c);
        i += 1;
    }
    Err(GlobError::UnmatchedBrace('{'))
}

/// Index of the `]` closing the class that opens at `open`.
fn class_end(s: &[char], open: usize) -> Option<usize> {
    let mut i = open + 1;
    if matches!(s.get(i), Some('!') | Some('^')) {
        i += 1;
    }
    // A `]` right after the opening (or the negation) is a literal member.
    if s.get(i) == Some(&']') {
        i += 1;
    }
    (i..s.len()).find(|&j| s[j] == ']')
}

fn tokenize(pattern: &str) -> Result<Vec<Tok>, GlobError> {
    let s: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            '\\' if i + 1 < s.len() => {
                toks.push(Tok::Lit(s[i + 1]));
                i += 2;
            }
            '?' => {
                toks.push(Tok::Class {
                    ranges: Vec::new(),
                    negated: true,
                });
                i += 1;
            }
            '[' => {
                let end = class_end(&s, i).ok_or(GlobError::UnclosedClass)?;
                toks.push(parse_class(&s[i + 1..end])?);
                i = end + 1;
            }
            '*' if s.get(i + 1) == Some(&'*') => {
                let at_start = i == 0 || s[i - 1] == '/';
                let at_end = i + 2 == s.len();
                let slash_after = s.get(i + 2) == Some(&'/');
                if at_start && at_end {
                    toks.push(Tok::DeepStar);
                    i += 2;
                } else if at_start && slash_after {
                    // `**/` at the start or `/**/` inside: the following `/` is
                    // part of the optional directory run.
                    toks.push(Tok::Dirs);
                    i += 3;
                } else {
                    toks.push(Tok::Star);
                    i += 2;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                i += 1;
            }
            c => {
                toks.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    Ok(toks)
}

fn parse_class(body: &[char]) -> Result<Tok, GlobError> {
    let (negated, body) = match body.first() {
        Some('!') | Some('^') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let lo = body[i];
        if i + 2 < body.len() && body[i + 1] == '-' {
            let hi = body[i + 2];
            if hi < lo {
                return Err(GlobError::InvalidRange(lo, hi));
            }
            ranges.push((lo, hi));
            i += 3;
        } else {
            ranges.push((lo, lo));
            i += 1;
        }
    }
    Ok(Tok::Class { ranges, negated })
}

/// A state of one pattern's automaton: token index, and whether we are
/// inside the directory run of a `Dirs` token.
type State = (usize, bool);

struct Nfa<'a> {
    toks: &'a [Tok],
}

impl Nfa<'_> {
    /// Epsilon closure of one state.
    fn closure(&self, state: State, out: &mut Vec<State>) {
        if out.contains(&state) {
            return;
        }
        out.push(state);
        let (i, inside) = state;
        if inside {
            return;
        }
        if let Some(Tok::Star | Tok::DeepStar | Tok::Dirs) = self.toks.get(i) {
            self.closure((i + 1, false), out);
        }
    }

    fn step(&self, (i, inside): State, c: char, out: &mut Vec<State>) {
        if inside {
            if c == '/' {
                self.closure((i + 1, false), out);
            }
            self.closure((i, true), out);
            return;
        }
        match self.toks.get(i) {
            Some(Tok::Lit(l)) if *l == c => self.closure((i + 1, false), out),
            Some(Tok::Class { ranges, negated }) if c != '/' => {
                let hit = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                if hit != *negated {
                    self.closure((i + 1, false), out);
                }
            }
            Some(Tok::Star) if c != '/' => self.closure((i, false), out),
            Some(Tok::DeepStar) => self.closure((i, false), out),
            Some(Tok::Dirs) if c == '/' => self.closure((i + 1, false), out),
            Some(Tok::Dirs) => self.closure((i, true), out),
            _ => {}
        }
    }

    fn accepting(&self, (i, inside): State) -> bool {
        !inside && i == self.toks.len()
    }

    fn start(&self) -> Vec<State> {
        let mut out = Vec::new();
        self.closure((0, false), &mut out);
        out
    }

    fn accepts(&self, path: &str) -> bool {
        let mut current = self.start();
        for c in path.chars() {
            let mut next = Vec::new();
            for &s in &current {
                self.step(s, c, &mut next);
            }
            if next.is_empty() {
                return false;
            }
            current = next;
        }
        current.iter().any(|&s| self.accepting(s))
    }
}

/// Where a well-formed relative path is: before its first character, inside
/// a segment, or right after a `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PathPos {
    Start,
    InSegment,
    AfterSlash,
}

fn path_step(pos: PathPos, c: char) -> Option<PathPos> {
    match (pos, c) {
        (PathPos::InSegment, '/') => Some(PathPos::AfterSlash),
        (_, '/') => None,
        _ => Some(PathPos::InSegment),
    }
}

/// One character from each class of characters the patterns cannot tell
/// apart, preferring readable ones for witnesses.
fn alphabet(patterns: &[&[Tok]]) -> Vec<char> {
    let mut cuts: Vec<u32> = vec![0, '/' as u32, '/' as u32 + 1, 'a' as u32];
    for toks in patterns {
        for tok in toks.iter() {
            match tok {
                Tok::Lit(c) => cuts.extend([*c as u32, *c as u32 + 1]),
                Tok::Class { ranges, .. } => {
                    for &(lo, hi) in ranges {
                        cuts.extend([lo as u32, hi as u32 + 1]);
                    }
                }
                _ => {}
            }
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut reps = Vec::new();
    for (k, &lo) in cuts.iter().enumerate() {
        let hi = cuts.get(k + 1).copied().unwrap_or(char::MAX as u32 + 1);
        let preferred = ('a'..='z')
            .chain('0'..='9')
            .chain(['-', '_', '.'])
            .enumerate()
            .find(|&(_, c)| lo <= c as u32 && (c as u32) < hi);
        let rep = preferred.or_else(|| {
            (lo..hi)
                .filter_map(char::from_u32)
                .find(|c| !c.is_control())
                .map(|c| (usize::MAX, c))
        });
        reps.extend(rep);
    }
    // Readable characters first, so the shortest witness is also a readable one.
    reps.sort();
    reps.into_iter().map(|(_, c)| c).collect()
}

/// The literal text a pattern starts with: everything before its first
/// `*`, `?`, `[`, `{` or `\\`. Every path the pattern matches starts with it,
/// so comparing heads rules out most pairs without compiling anything.
pub fn literal_head(pattern: &str) -> &str {
    // A byte scan: the special characters are ASCII, so the cut falls on a
    // character boundary (a reserve compares thousands of heads).
    let end = pattern
        .bytes()
        .position(|b| matches!(b, b'*' | b'?' | b'[' | b'{' | b'\\'))
        .unwrap_or(pattern.len());
    &pattern[..end]
}

/// The literal text a pattern ends with: everything after its last `*`,
/// `?`, `]`, `}` or `\\`. Every path the pattern matches ends with it.
pub fn literal_tail(pattern: &str) -> &str {
    let start = pattern
        .rfind(['*', '?', ']', '}', '\\'])
        .map_or(0, |i| i + 1);
    &pattern[start..]
}

/// Whether two patterns' literal tails allow a common path (one tail
/// ends the other); false means they certainly do not overlap.
pub fn tails_compatible(a: &str, b: &str) -> bool {
    let (a, b) = (literal_tail(a), literal_tail(b));
    a.ends_with(b) || b.ends_with(a)
}

/// Whether two patterns' literal heads allow a common path (one head
/// starts the other); false means they certainly do not overlap.
pub fn heads_compatible(a: &str, b: &str) -> bool {
    heads_meet(literal_head(a), literal_head(b))
}

/// [`heads_compatible`] on heads already cut ([`literal_head`]).
pub fn heads_meet(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// The literal characters an alternative starts with.
fn literal_prefix(toks: &[Tok]) -> impl Iterator<Item = char> + '_ {
    toks.iter().map_while(|t| match t {
        Tok::Lit(c) => Some(*c),
        _ => None,
    })
}

/// Whether two alternatives can match a common path as far as their literal
/// prefixes tell: one prefix must start the other. A cheap exact necessary
/// condition that spares the product search for globs in different folders.
fn prefixes_compatible(a: &[Tok], b: &[Tok]) -> bool {
    literal_prefix(a)
        .zip(literal_prefix(b))
        .all(|(x, y)| x == y)
}

/// Breadth-first search of the product of the `positive` automata, the
/// subset-construction of the `negative` ones and a well-formed relative
/// path; returns the shortest path every positive pattern accepts and no
/// negative one does.
fn search(positive: &[&[Tok]], negative: &[&[Tok]]) -> Option<String> {
    type Node = (PathPos, Vec<Vec<State>>);
    let patterns: Vec<&[Tok]> = positive.iter().chain(negative).copied().collect();
    let nfas: Vec<Nfa> = patterns.iter().map(|t| Nfa { toks: t }).collect();
    let split = positive.len();
    let sigma = alphabet(&patterns);
    let normalize = |mut sets: Vec<Vec<State>>| {
        for s in &mut sets {
            s.sort_unstable();
            s.dedup();
        }
        sets
    };
    let start: Node = (
        PathPos::Start,
        normalize(nfas.iter().map(Nfa::start).collect()),
    );
    let mut parent: HashMap<Node, Option<(Node, char)>> = HashMap::new();
    parent.insert(start.clone(), None);
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        let (pos, sets) = &node;
        let accepts = |k: usize| sets[k].iter().any(|&s| nfas[k].accepting(s));
        let done = *pos == PathPos::InSegment
            && (0..split).all(accepts)
            && !(split..nfas.len()).any(accepts);
        if done {
            return Some(witness(&parent, node));
        }
        for &c in &sigma {
            let Some(next_pos) = path_step(*pos, c) else {
                continue;
            };
            let mut next_sets = Vec::with_capacity(sets.len());
            for (k, (nfa, set)) in nfas.iter().zip(sets).enumerate() {
                let mut next = Vec::new();
                for &s in set {
                    nfa.step(s, c, &mut next);
                }
                // A positive pattern that can no longer match ends the
                // branch; a negative one that cannot is what we look for.
                if next.is_empty() && k < split {
                    break;
                }
                next_sets.push(next);
            }
            if next_sets.len() != sets.len() {
                continue;
            }
            let next: Node = (next_pos, normalize(next_sets));
            if !parent.contains_key(&next) {
                parent.insert(next.clone(), Some((node.clone(), c)));
                queue.push_back(next);
            }
        }
    }
    None
}

fn witness<K: std::hash::Hash + Eq + Clone>(
    parent: &HashMap<K, Option<(K, char)>>,
    mut node: K,
) -> String {
    let mut chars = Vec::new();
    while let Some(Some((prev, c))) = parent.get(&node) {
        chars.push(*c);
        node = prev.clone();
    }
    chars.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str) -> PathGlob {
        PathGlob::new(p).unwrap()
    }

    fn overlap(a: &str, b: &str) -> Option<String> {
        let w = glob(a).overlap(&glob(b));
        if let Some(w) = &w {
            assert!(glob(a).matches(w), "{a} must match witness {w}");
            assert!(glob(b).matches(w), "{b} must match witness {w}");
        }
        w
    }

    #[test]
    fn overlap_table() {
        let yes = [
            ("src/*.py", "src/foo*"),
            ("services/**", "services/api/**"),
            ("**/*.rs", "crates/engine/src/lib.rs"),
            ("**", "a"),
            ("a/**/b", "a/b"),
            ("a/**/b", "a/x/y/b"),
            ("{web,api}/**", "api/x"),
            ("src/[a-c]*.ts", "src/b.ts"),
            ("docs/*.md", "docs/[!x]*"),
            ("*.lock", "Cargo.lock"),
        ];
        for (a, b) in yes {
            assert!(overlap(a, b).is_some(), "{a} and {b} should overlap");
            assert!(overlap(b, a).is_some(), "{b} and {a} should overlap");
        }
        let no = [
            ("src/a/**", "src/b/**"),
            ("*.py", "src/*.py"),
            ("src/*.py", "src/*.ts"),
            ("services/api/**", "services/api"),
            ("src/[a-c]*", "src/[d-z]*"),
            ("a/*/c", "a/b/d/c"),
            ("apps/web/**", "packages/shared/**"),
        ];
        for (a, b) in no {
            assert_eq!(overlap(a, b), None, "{a} and {b} should not overlap");
            assert_eq!(overlap(b, a), None, "{b} and {a} should not overlap");
        }
    }

    fn uncovered(a: &str, cover: &[&str]) -> Option<String> {
        let cover: Vec<PathGlob> = cover.iter().map(|c| glob(c)).collect();
        let w = glob(a).uncovered(&cover);
        if let Some(w) = &w {
            assert!(glob(a).matches(w), "{a} must match witness {w}");
            for c in &cover {
                assert!(!c.matches(w), "{c} must not match witness {w}");
            }
        }
        w
    }

    #[test]
    fn inclusion_table() {
        let inside: [(&str, &[&str]); 10] = [
            ("src/a/**", &["src/**"]),
            ("src/*.py", &["src/**"]),
            ("src/foo.py", &["src/*.py"]),
            ("a/**/b", &["a/**"]),
            ("{web,api}/x", &["web/**", "api/*"]),
            ("src/[a-c]*", &["src/[a-b]*", "src/c*"]),
            ("Cargo.lock", &["svc/**", "Cargo.lock"]),
            ("a/?", &["a/[!x]", "a/x"]),
            ("**", &["**"]),
            ("x/**", &["x/**/*"]),
        ];
        for (a, cover) in inside {
            assert_eq!(uncovered(a, cover), None, "{a} should lie in {cover:?}");
        }
        let outside: [(&str, &[&str], &str); 7] = [
            ("src/**", &["src/*.py"], "src/a"),
            ("**", &["src/**"], "a"),
            ("src/*", &["src/a*"], "src/b"),
            ("{web,api}/**", &["web/**"], "api/a"),
            ("a/**/b", &["a/*/b"], "a/b"),
            ("x/[!a]", &["x/b"], "x/c"),
            ("src/**", &[], "src/a"),
        ];
        for (a, cover, witness) in outside {
            assert_eq!(
                uncovered(a, cover).as_deref(),
                Some(witness),
                "{a} outside {cover:?}"
            );
        }
    }

    #[test]
    fn literal_heads() {
        assert_eq!(literal_head("src/a/**"), "src/a/");
        assert_eq!(literal_head("src/{a,b}/x"), "src/");
        assert_eq!(literal_head(r"a\*b"), "a");
        assert_eq!(literal_head("Cargo.lock"), "Cargo.lock");
        assert!(!heads_compatible("src/a/**", "src/b/**"));
        assert!(heads_compatible("src/**", "src/b/x.py"));
        assert!(heads_compatible("**/x", "src/b/x.py"));
    }

    #[test]
    fn witness_is_readable() {
        assert_eq!(
            overlap("services/**", "services/api/**").unwrap(),
            "services/api/a"
        );
    }

    #[test]
    fn agrees_with_globset_on_matching() {
        let patterns = [
            "**",
            "**/x.rs",
            "a/**",
            "a/**/b",
            "a/*",
            "*.md",
            "a**b",
            "[!a]*",
            "{a,b/c}/*",
            "a/[x-z]?",
            r"a\*b",
        ];
        let paths = [
            "a",
            "b",
            "x.rs",
            "a/x.rs",
            "a/b",
            "a/b/c",
            "a/q/r/b",
            "readme.md",
            "d/readme.md",
            "aqqb",
            "a/zz",
            "b/c/x",
            "a*b",
            "a/b/x.rs",
        ];
        for p in patterns {
            let ours = glob(p);
            let theirs = globset::GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .unwrap()
                .compile_matcher();
            for path in paths {
                assert_eq!(ours.matches(path), theirs.is_match(path), "{p} vs {path}");
            }
        }
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            PathGlob::new("a/[bc").unwrap_err(),
            GlobError::UnclosedClass
        );
        assert_eq!(
            PathGlob::new("a/{b,c").unwrap_err(),
            GlobError::UnmatchedBrace('{')
        );
        assert_eq!(
            PathGlob::new("a}").unwrap_err(),
            GlobError::UnmatchedBrace('}')
        );
        assert_eq!(
            PathGlob::new("[z-a]").unwrap_err(),
            GlobError::InvalidRange('z', 'a')
        );
        assert_eq!(PathGlob::new("").unwrap_err(), GlobError::Empty);
    }
}
