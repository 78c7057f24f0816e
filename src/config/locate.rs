//! Line and column of every node in a YAML document, keyed by its path.
//!
//! serde_yaml reports positions for syntax and type errors, but semantic
//! checks (an unknown domain in `may_import`, two scopes that overlap) run
//! on the typed config, which has no spans. This index maps dotted paths
//! such as `domains.api.scope[1]` back to where they were written.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

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

impl Locations {
    /// Indexes `text`; a document that does not parse yields an empty index
    /// (serde_yaml reports the syntax error itself).
    pub fn index(text: &str) -> Self {
        let mut builder = Builder::default();
        if Parser::new_from_str(text)
            .load(&mut builder, false)
            .is_err()
        {
            return Locations::default();
        }
        builder.locations
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
    /// In a mapping; `Some(key)` once the key of the current entry was read.
    Map(String, Option<String>),
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
            Some(Frame::Map(_, None)) => None,
            Some(Frame::Map(base, Some(key))) => Some(join(base, key)),
            Some(Frame::Seq(base, i)) => Some(format!("{base}[{i}]")),
        }
    }

    /// Marks the current mapping entry or sequence item as complete.
    fn finish_node(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map(_, key)) => *key = None,
            Some(Frame::Seq(_, i)) => *i += 1,
            None => {}
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, ..) => match self.next_path() {
                None => {
                    if let Some(Frame::Map(base, key)) = self.stack.last_mut() {
                        let path = join(base, &text);
                        self.locations.keys.entry(path).or_insert(to_pos(mark));
                        *key = Some(text);
                    }
                }
                Some(path) => {
                    self.locations.scalars.entry(path).or_insert(to_pos(mark));
                    self.finish_node();
                }
            },
            Event::Alias(_) => {
                if let Some(path) = self.next_path() {
                    self.locations.scalars.entry(path).or_insert(to_pos(mark));
                }
                self.finish_node();
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                // A collection used as a mapping key has no useful path.
                let path = self.next_path().unwrap_or_else(|| "?".to_owned());
                let pos = to_pos(mark);
                self.locations
                    .collections
                    .entry(path.clone())
                    .or_insert(pos);
                self.stack.push(match ev {
                    Event::MappingStart(..) => Frame::Map(path, None),
                    _ => Frame::Seq(path, 0),
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.finish_node();
            }
            _ => {}
        }
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
        let loc = Locations::index(text);
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
