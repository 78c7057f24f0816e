//! What the per-language readers (`python.rs`, `typescript.rs`, `rust.rs`)
//! share: positions, and the walk that runs a query only where a keyword is.

use tree_sitter::{Node, QueryCapture, QueryCursor, StreamingIterator, TreeCursor};

use super::Grammar;
use crate::boundary::{Import, ImportKind};

/// What the per-language readers share.
pub(super) struct Cx<'a> {
    pub(super) source: &'a [u8],
    pub(super) grammar: &'a Grammar,
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

    /// Calls `f` with the captures of each query match, in source order, and
    /// a tree cursor on the match's root node (to look at its ancestors).
    ///
    /// Rather than running the query over the whole tree, this walks it,
    /// descending only into nodes that contain a keyword of the language,
    /// and runs the query (anchored with a start depth of 0) on each such
    /// node whose kind roots a pattern: several times faster on typical
    /// files, where imports are a small part.
    pub(super) fn each_match<'t>(
        &self,
        cursor: &mut QueryCursor,
        root: Node<'t>,
        mut f: impl FnMut(&[QueryCapture<'t>], &TreeCursor<'t>),
    ) {
        let offsets = self.keywords;
        if offsets.is_empty() {
            return;
        }
        cursor.set_max_start_depth(Some(0));
        let mut walk = root.walk();
        loop {
            let node = walk.node();
            let next = offsets.partition_point(|&o| o < node.start_byte());
            if offsets.get(next).is_some_and(|&o| o < node.end_byte()) {
                if self.grammar.is_root(node.kind_id()) {
                    let mut matches = cursor.matches(&self.grammar.query, node, self.source);
                    while let Some(m) = matches.next() {
                        f(m.captures(), &walk);
                    }
                }
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
}
