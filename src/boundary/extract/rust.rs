//! Rust: reading `use` declarations, `mod x;` and `extern crate` into
//! [`Import`]s, one per leaf of a use tree. Rust files are parsed whole.

use tree_sitter::Node;

use super::readers::{field, is, Cx};
use crate::boundary::{Import, ImportKind};

/// The items of Rust that import something.
#[derive(Clone, Copy)]
pub(super) enum Item {
    /// `use a::b;`, `pub use a::{b, c::*};`: read at the use tree.
    Use,
    /// `mod x;` (without a body: the module lives in another file): at `x`.
    Mod,
    /// `extern crate foo;`, `extern crate foo as bar;`: at `foo`.
    ExternCrate,
}

impl Cx<'_> {
    pub(super) fn rust(&self, root: Node, out: &mut Vec<Import>) {
        self.each_keyword_node(root, |node, _| {
            if let Some((item, at)) = rust_item(node) {
                self.read_rust(item, at, out);
            }
        });
    }

    /// Reads one item, at its use tree or name, into `out`.
    pub(super) fn read_rust(&self, item: Item, at: Node, out: &mut Vec<Import>) {
        match item {
            Item::Use => self.use_tree(at, out),
            Item::Mod => out.push(self.import(self.segment(at), at, ImportKind::Mod, false)),
            Item::ExternCrate => {
                let spec = self.segment(at);
                out.push(self.import(spec, at, ImportKind::ExternCrate, false));
            }
        }
    }

    /// Expands a use tree into one import per leaf, in source order. Uses an
    /// explicit stack: nesting depth is the file's to choose.
    fn use_tree(&self, argument: Node, out: &mut Vec<Import>) {
        // (node, path so far, inside braces)
        let mut stack: Vec<(Node, String, bool)> = vec![(argument, String::new(), false)];
        while let Some((node, prefix, in_list)) = stack.pop() {
            match node.kind() {
                "use_list" => {
                    let mut walk = node.walk();
                    let items: Vec<Node> = node
                        .named_children(&mut walk)
                        .filter(|n| !n.is_extra())
                        .collect();
                    for item in items.into_iter().rev() {
                        stack.push((item, prefix.clone(), true));
                    }
                }
                "scoped_use_list" => {
                    let mut path = prefix;
                    if let Some(p) = node.child_by_field_name("path") {
                        self.push_path(&mut path, p);
                    }
                    if let Some(list) = node.child_by_field_name("list") {
                        stack.push((list, path, in_list));
                    }
                }
                "use_as_clause" => {
                    if let Some(path) = node.child_by_field_name("path") {
                        self.use_leaf(path, prefix, in_list, out);
                    }
                }
                "use_wildcard" => {
                    let mut spec = prefix;
                    let path = {
                        let mut walk = node.walk();
                        let found = node.named_children(&mut walk).find(|n| !n.is_extra());
                        found
                    };
                    if let Some(p) = path {
                        self.push_path(&mut spec, p);
                    }
                    if !spec.is_empty() {
                        spec.push_str("::");
                    }
                    spec.push('*');
                    let at = path.map_or(node, first_segment);
                    out.push(self.import(spec, at, ImportKind::Use, false));
                }
                _ => self.use_leaf(node, prefix, in_list, out),
            }
        }
    }

    /// One leaf path of a use tree: `prefix::path`, or `prefix` for `self`
    /// inside braces.
    fn use_leaf(&self, path: Node, prefix: String, in_list: bool, out: &mut Vec<Import>) {
        if path.is_error() || path.is_missing() {
            return;
        }
        let spec = if in_list && path.kind() == "self" && !prefix.is_empty() {
            prefix
        } else {
            let mut spec = prefix;
            self.push_path(&mut spec, path);
            spec
        };
        if spec.is_empty() {
            return;
        }
        out.push(self.import(spec, first_segment(path), ImportKind::Use, false));
    }

    /// Appends the segments of a path (`a::b::c`, `::a`, `crate`) to `spec`.
    fn push_path(&self, spec: &mut String, path: Node) {
        let mut segments = Vec::new();
        let mut current = Some(path);
        while let Some(node) = current {
            if node.kind() == "scoped_identifier" {
                segments.extend(node.child_by_field_name("name"));
                current = node.child_by_field_name("path");
            } else {
                segments.push(node);
                current = None;
            }
        }
        for segment in segments.into_iter().rev() {
            if !spec.is_empty() {
                spec.push_str("::");
            }
            spec.push_str(&self.segment(segment));
        }
    }

    /// A path segment's name, without a raw identifier's `r#`.
    fn segment(&self, node: Node) -> String {
        let text = self.text(node);
        let text = text.strip_prefix(b"r#").unwrap_or(text);
        String::from_utf8_lossy(text).into_owned()
    }
}

/// The item `node` is, with its use tree or name.
fn rust_item(node: Node) -> Option<(Item, Node)> {
    if is(node, "use_declaration") {
        field(node, "argument", None).map(|tree| (Item::Use, tree))
    } else if is(node, "mod_item") && node.child_by_field_name("body").is_none() {
        field(node, "name", Some("identifier")).map(|name| (Item::Mod, name))
    } else if is(node, "extern_crate_declaration") {
        field(node, "name", None).map(|name| (Item::ExternCrate, name))
    } else {
        None
    }
}

/// The first segment of a Rust path as written (`crate` in `crate::a::b`,
/// `std` in `::std::fmt`).
fn first_segment(path: Node) -> Node {
    let mut node = path;
    while node.kind() == "scoped_identifier" {
        match node.child_by_field_name("path") {
            Some(inner) => node = inner,
            // `::std::…`: the segment after the leading `::`.
            None => return node.child_by_field_name("name").unwrap_or(node),
        }
    }
    node
}
