//! What the per-language readers (`python.rs`, `typescript.rs`, `rust.rs`)
//! share: positions, node tests, and the walk that visits only the nodes
//! where a keyword is.

use tree_sitter::{Node, TreeCursor};

use crate::boundary::{Import, ImportKind, Lang};

/// What the per-language readers share.
pub(super) struct Cx<'a> {
    pub(super) source: &'a [u8],
    /// Sorted byte offsets where a keyword of the language starts.
    pub(super) keywords: &'a [usize],
}
impl Cx<'_> {
    pub(super) fn text(&self, node: Node) -> &[u8] {
        self.source.get(node.byte_range()).unwrap_or_default()
    }

    pub(super) fn lossy(&self, node: Node) -> String {
        String::from_utf8_lossy(self.text(node)).into_owned()
    }

    /// An import whose spec is located at `at`.
    pub(super) fn import(
        &self,
        spec: String,
        at: Node,
        kind: ImportKind,
        type_only: bool,
    ) -> Import {
        Import::unnamed(spec, self.position(at), kind, type_only)
    }

    /// 1-based line and character column of the node's start.
    pub(super) fn position(&self, node: Node) -> (u32, u32) {
        let point = node.start_position();
        let start = node.start_byte();
        let line_start = start.saturating_sub(point.column);
        let before = self.source.get(line_start..start).unwrap_or_default();
        // Characters are counted by their first byte; each invalid byte counts
        // as one, as lossy decoding would show it.
        let chars = before.iter().filter(|&&b| (b & 0xC0) != 0x80).count();
        (
            u32::try_from(point.row + 1).unwrap_or(u32::MAX),
            u32::try_from(chars + 1).unwrap_or(u32::MAX),
        )
    }

    /// Calls `f`, in source order, with each node that contains a keyword of
    /// the language and a tree cursor on it (to look at its ancestors).
    ///
    /// The walk descends only into such nodes: on typical files, where
    /// imports are a small part, most of the tree is never visited.
    pub(super) fn each_keyword_node<'t>(
        &self,
        root: Node<'t>,
        mut f: impl FnMut(Node<'t>, &TreeCursor<'t>),
    ) {
        let offsets = self.keywords;
        if offsets.is_empty() {
            return;
        }
        let mut walk = root.walk();
        loop {
            let node = walk.node();
            let next = offsets.partition_point(|&o| o < node.start_byte());
            if offsets.get(next).is_some_and(|&o| o < node.end_byte()) {
                f(node, &walk);
                if walk.goto_first_child() {
                    continue;
                }
            }
            while !walk.goto_next_sibling() {
                if !walk.goto_parent() {
                    return;
                }
            }
        }
    }

    /// Adds the imports the reader of `lang` finds under `root` to `out`
    /// (for TS/JS files with syntax errors, `fallback.rs` finds more).
    pub(super) fn read(&self, lang: Lang, root: Node, out: &mut Vec<Import>) {
        match lang {
            Lang::TypeScript | Lang::Tsx => self.typescript(root, out),
            Lang::Python => self.python(root, out),
            Lang::Rust => self.rust(root, out),
        }
    }

    /// Whether `node`'s text is `text`.
    pub(super) fn is_text(&self, node: Node, text: &str) -> bool {
        self.text(node) == text.as_bytes()
    }
}

/// Whether `node` is a named node of `kind`.
pub(super) fn is(node: Node, kind: &str) -> bool {
    node.is_named() && node.kind() == kind
}

/// The child of `node` in `field` when it is a named node of `kind`
/// (`None` for any named kind).
pub(super) fn field<'t>(node: Node<'t>, name: &str, kind: Option<&str>) -> Option<Node<'t>> {
    node.child_by_field_name(name)
        .filter(|c| c.is_named() && kind.is_none_or(|k| c.kind() == k))
}
