//! Line and column of every node in a YAML document, keyed by its path,
//! and the shape rules checked on the way.
//!
//! serde_yaml reports positions for syntax and type errors, but semantic
//! checks (an unknown domain in `may_import`, two scopes that overlap) run
//! on the typed config, which has no spans. This index maps dotted paths
//! such as `domains.api.scope[1]` back to where they were written.
//!
//! comm.yaml is a shared file any domain can land and every hook reads, so
//! this one streaming pass runs before serde_yaml and refuses, at the first
//! offending event, a document nested too deep, a list or `domains:` too
//! long, or a mapping with a key written twice (serde_yaml would let the
//! last one win). It never builds the document, so its cost is linear.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

use super::{MAX_DEPTH, MAX_DOMAINS, MAX_LIST_ITEMS};

/// A 1-based position in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Positions of the keys and values of one YAML document.
#[derive(Debug, Default)]
pub struct Locations {
    keys: HashMap<String, Pos>,
    scalars: HashMap<String, Pos>,
    collections: HashMap<String, Pos>,
}

/// Why a document was refused before it was deserialized.
#[derive(Debug)]
pub struct Refusal {
    pub pos: Pos,
    pub message: String,
    pub hint: &'static str,
}

impl Locations {
    /// Indexes `text`, refusing it at the first syntax error or broken
    /// shape rule.
    pub fn index(text: &str) -> Result<Self, Refusal> {
        let mut parser = Parser::new_from_str(text);
        let mut builder = Builder::default();
        loop {
            let (ev, mark) = parser.next_token().map_err(|e| {
                let pos = to_pos(*e.marker());
                // The scanner's own bound on `[`/`{` nesting, met when it
                // looks ahead past ours.
                if e.info() == "recursion limit exceeded" {
                    return too_deep(pos);
                }
                Refusal {
                    pos,
                    message: e.info().to_owned(),
                    hint: "fix the YAML at that position",
                }
            })?;
            if ev == Event::StreamEnd {
                return Ok(builder.locations);
            }
            builder.on_event(ev, mark)?;
        }
    }

    /// Where the node at `path` was written: a scalar's own position, else
    /// its key (for `domains.api`: the `api:`), else where its collection
    /// starts (for an item of a list).
    pub fn value(&self, path: &str) -> Pos {
        self.scalars
            .get(path)
            .or_else(|| self.keys.get(path))
            .or_else(|| self.collections.get(path))
            .copied()
            .unwrap_or(Pos { line: 1, column: 1 })
    }
}

enum Frame {
    /// In a mapping; `Some(key)` once the key of the current entry was read;
    /// with where each of its keys was first written.
    Map(String, Option<String>, HashMap<String, Pos>),
    /// In a sequence, at the given index.
    Seq(String, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    locations: Locations,
}

impl Builder {
    /// The path of the node that starts now, or `None` for a mapping key.
    fn next_path(&mut self) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map(_, None, _)) => None,
            Some(Frame::Map(base, Some(key), _)) => Some(join(base, key)),
            Some(Frame::Seq(base, i)) => Some(format!("{base}[{i}]")),
        }
    }

    /// Marks the current mapping entry or sequence item as complete.
    fn finish_node(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map(_, key, _)) => *key = None,
            Some(Frame::Seq(_, i)) => *i += 1,
            None => {}
        }
    }
}

impl Builder {
    /// Records one event, or refuses the document at it.
    fn on_event(&mut self, ev: Event, mark: Marker) -> Result<(), Refusal> {
        let pos = to_pos(mark);
        match ev {
            Event::Scalar(text, ..) => match self.next_path() {
                None => self.on_key(text, pos)?,
                Some(path) => {
                    self.locations.scalars.entry(path).or_insert(pos);
                    self.finish_node();
                }
            },
            Event::Alias(_) => {
                if let Some(path) = self.next_path() {
                    self.locations.scalars.entry(path).or_insert(pos);
                }
                self.finish_node();
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(too_deep(pos));
                }
                // A collection used as a mapping key has no useful path.
                let path = self.next_path().unwrap_or_else(|| "?".to_owned());
                self.locations
                    .collections
                    .entry(path.clone())
                    .or_insert(pos);
                self.stack.push(match ev {
                    Event::MappingStart(..) => Frame::Map(path, None, HashMap::new()),
                    _ => Frame::Seq(path, 0),
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.finish_node();
            }
            _ => {}
        }
        self.check_length(pos)
    }

    /// Records a mapping key, refusing one the mapping already has.
    fn on_key(&mut self, text: String, pos: Pos) -> Result<(), Refusal> {
        let Some(Frame::Map(base, key, seen)) = self.stack.last_mut() else {
            return Ok(());
        };
        if let Some(first) = seen.get(&text) {
            let within = if base.is_empty() {
                "at the top level".to_owned()
            } else {
                format!("in `{base}`")
            };
            return Err(Refusal {
                pos,
                message: format!(
                    "duplicate key `{text}` {within}: first at line {}:{}, again at line {}:{}",
                    first.line, first.column, pos.line, pos.column
                ),
                hint: "each key may appear once: merge the two entries or rename one",
            });
        }
        seen.insert(text.clone(), pos);
        let path = join(base, &text);
        self.locations.keys.entry(path).or_insert(pos);
        *key = Some(text);
        Ok(())
    }

    /// Refuses a list, or the `domains:` mapping, grown past its limit.
    fn check_length(&self, pos: Pos) -> Result<(), Refusal> {
        let at_top = self.stack.len() == 2;
        match self.stack.last() {
            Some(Frame::Seq(base, n)) if *n > MAX_LIST_ITEMS => Err(Refusal {
                pos,
                message: format!(
                    "`{base}` lists more than {MAX_LIST_ITEMS} items (MAX_LIST_ITEMS)"
                ),
                hint: "use fewer, broader globs or commands",
            }),
            Some(Frame::Map(base, _, seen))
                if at_top && base == "domains" && seen.len() > MAX_DOMAINS =>
            {
                Err(Refusal {
                    pos,
                    message: format!("more than {MAX_DOMAINS} domains (MAX_DOMAINS)"),
                    hint: "merge small domains: each one is a branch, a worktree and an agent",
                })
            }
            _ => Ok(()),
        }
    }
}

fn too_deep(pos: Pos) -> Refusal {
    Refusal {
        pos,
        message: format!("nested deeper than {MAX_DEPTH} levels (MAX_DEPTH)"),
        hint: "comm.yaml needs at most four levels: flatten the structure",
    }
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

fn to_pos(mark: Marker) -> Pos {
    // yaml-rust2 counts lines from 1 and columns from 0.
    Pos {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys_and_items() {
        let text = "project: shop\ndomains:\n  api:\n    scope: [\"a/**\", \"b/**\"]\n  web:\n    scope:\n      - web/**\n";
        let loc = Locations::index(text).unwrap();
        assert_eq!(
            loc.value("project"),
            Pos {
                line: 1,
                column: 10
            }
        );
        assert_eq!(loc.value("domains.api"), Pos { line: 3, column: 3 });
        assert_eq!(
            loc.value("domains.api.scope[1]"),
            Pos {
                line: 4,
                column: 21
            }
        );
        assert_eq!(
            loc.value("domains.web.scope[0]"),
            Pos { line: 7, column: 9 }
        );
    }
}
