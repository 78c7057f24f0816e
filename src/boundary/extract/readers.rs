//! Reading query captures into [`Import`]s: string literals of TS/JS,
//! dotted names of Python statements, Rust use trees expanded to leaves.

use std::ops::Range;

use tree_sitter::{Node, QueryCapture, QueryCursor, StreamingIterator, TreeCursor};

use super::{Grammar, Role};
use crate::boundary::{Import, ImportKind};

/// What the per-language readers share.
pub(super) struct Cx<'a> {
    pub(super) source: &'a [u8],
    pub(super) grammar: &'a Grammar,
    /// Sorted byte offsets where a keyword of the language starts.
    pub(super) keywords: &'a [usize],
}

impl Cx<'_> {
    fn text(&self, node: Node) -> &[u8] {
        self.source.get(node.byte_range()).unwrap_or_default()
    }

    fn lossy(&self, node: Node) -> String {
        String::from_utf8_lossy(self.text(node)).into_owned()
    }

    /// An import whose spec is located at `at`.
    fn import(&self, spec: String, at: Node, kind: ImportKind, type_only: bool) -> Import {
        Import::unnamed(spec, self.position(at), kind, type_only)
    }

    /// 1-based line and character column of the node's start.
    fn position(&self, node: Node) -> (u32, u32) {
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
    fn each_match<'t>(
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

    // ---- TypeScript, TSX, JavaScript ----

    pub(super) fn typescript(&self, cursor: &mut QueryCursor, root: Node, out: &mut Vec<Import>) {
        self.each_match(cursor, root, |captures, at| {
            let mut construct = None;
            let mut operand = None;
            for c in captures {
                match self.grammar.role(c.index) {
                    Role::Ignore => {}
                    Role::Source | Role::Arguments => operand = Some(c.node),
                    role => construct = Some((role, c.node)),
                }
            }
            let (Some((role, node)), Some(operand)) = (construct, operand) else {
                return;
            };
            match role {
                Role::Import | Role::ImportEquals | Role::ReExport => {
                    let Some(spec) = self.js_literal(operand) else {
                        return;
                    };
                    let kind = match role {
                        Role::ImportEquals => ImportKind::ImportEquals,
                        Role::ReExport => ImportKind::ReExport,
                        _ if is_side_effect_import(node, operand) => ImportKind::SideEffect,
                        _ => ImportKind::Import,
                    };
                    let type_only = self.has_type_keyword(node);
                    out.push(self.import(spec, operand, kind, type_only));
                }
                Role::Require | Role::Dynamic => {
                    let mut walk = operand.walk();
                    let mut args = operand.named_children(&mut walk).filter(|n| !n.is_extra());
                    let Some(first) = args.next() else {
                        return;
                    };
                    // require takes exactly one argument; import() may have
                    // options after the specifier.
                    if role == Role::Require && args.next().is_some() {
                        return;
                    }
                    let Some(spec) = self.js_literal(first) else {
                        return;
                    };
                    // `let x: import('m').T` names a type of m: a type-only
                    // import, not a dynamic one.
                    let (kind, type_only) = if role == Role::Require {
                        (ImportKind::Require, false)
                    } else if self.is_import_type(at, node) {
                        (ImportKind::ImportType, true)
                    } else {
                        (ImportKind::Dynamic, false)
                    };
                    out.push(self.import(spec, first, kind, type_only));
                }
                _ => {}
            }
        });
    }

    /// Whether the `import('m')` call under `at` is a type.
    ///
    /// In a file with syntax errors the tree around the call cannot be
    /// trusted: the grammar has no rule for `import('m').T<Args>`, so such
    /// types break the parse and the call lands in an ERROR node or in an
    /// expression the error recovery made up (and a real call may land in
    /// a made-up type). There the text decides first: a value `import('m')`
    /// is a promise, and `.then`, `.catch` and `.finally` are the only
    /// members code reads from it, so `import('m').Name` is a type for any
    /// other name and a call for those three; `typeof import('m')` is a
    /// type. Otherwise, and in files that parse, [`in_type_position`].
    fn is_import_type(&self, at: &TreeCursor, call: Node) -> bool {
        if in_broken_file(at) {
            let after = self.source.get(call.end_byte()..).unwrap_or_default();
            if let Some(rest) = after.trim_ascii_start().strip_prefix(b".") {
                let rest = rest.trim_ascii_start();
                let name_len = rest
                    .iter()
                    .position(|&b| !is_ident_byte(b))
                    .unwrap_or(rest.len());
                let name = &rest[..name_len];
                if !name.is_empty() {
                    return !matches!(name, b"then" | b"catch" | b"finally");
                }
            }
            let before = self.source.get(..call.start_byte()).unwrap_or_default();
            let before = before.trim_ascii_end();
            if before.ends_with(b"typeof")
                && !before[..before.len() - 6]
                    .last()
                    .is_some_and(|&b| is_ident_byte(b))
            {
                return true;
            }
        }
        in_type_position(at)
    }

    /// The value of a string literal, or of a template literal without
    /// substitutions; `None` for anything else.
    fn js_literal(&self, node: Node) -> Option<String> {
        if node.kind() != "string" && node.kind() != "template_string" {
            return None;
        }
        let mut value = String::new();
        let mut walk = node.walk();
        for part in node.named_children(&mut walk) {
            match part.kind() {
                "string_fragment" => value.push_str(&String::from_utf8_lossy(self.text(part))),
                "escape_sequence" => {
                    unescape_js(&String::from_utf8_lossy(self.text(part)), &mut value)
                }
                // template_substitution, or an error inside the literal
                _ if part.is_extra() => {}
                _ => return None,
            }
        }
        Some(value)
    }

    /// The statement-level `type` of `import type` / `export type … from`
    /// (`export type * from` parses with the keyword in an ERROR node).
    fn has_type_keyword(&self, statement: Node) -> bool {
        let mut walk = statement.walk();
        let found = statement.children(&mut walk).any(|child| {
            (child.kind() == "type" && !child.is_named())
                || (child.is_error() && self.text(child).trim_ascii() == b"type")
        });
        found
    }

    // ---- Python ----

    pub(super) fn python(&self, cursor: &mut QueryCursor, root: Node, out: &mut Vec<Import>) {
        let mut statements = Vec::new();
        let mut type_checking: Vec<Range<usize>> = Vec::new();
        self.each_match(cursor, root, |captures, _| {
            for c in captures {
                match self.grammar.role(c.index) {
                    Role::TypeChecking => type_checking.push(c.node.byte_range()),
                    role @ (Role::PyImport | Role::PyImportFrom | Role::PyFuture) => {
                        statements.push((role, c.node))
                    }
                    _ => {}
                }
            }
        });
        let mut walk = root.walk();
        for (role, statement) in statements {
            let start = statement.start_byte();
            let type_only = type_checking.iter().any(|r| r.contains(&start));
            match role {
                Role::PyImport => {
                    for name in statement.children_by_field_name("name", &mut walk) {
                        let module = if name.kind() == "aliased_import" {
                            match name.child_by_field_name("name") {
                                Some(module) => module,
                                None => continue,
                            }
                        } else {
                            name
                        };
                        let spec = self.dotted(module);
                        if spec.is_empty() {
                            continue;
                        }
                        out.push(self.import(spec, module, ImportKind::Import, type_only));
                    }
                }
                Role::PyImportFrom => {
                    let Some(module) = statement.child_by_field_name("module_name") else {
                        continue;
                    };
                    let spec = if module.kind() == "relative_import" {
                        let mut spec = String::new();
                        let mut inner = module.walk();
                        for part in module.named_children(&mut inner) {
                            match part.kind() {
                                "import_prefix" => spec.extend(
                                    self.text(part).iter().filter(|&&b| b == b'.').map(|_| '.'),
                                ),
                                "dotted_name" => spec.push_str(&self.dotted(part)),
                                _ => {}
                            }
                        }
                        spec
                    } else {
                        self.dotted(module)
                    };
                    if spec.is_empty() {
                        continue;
                    }
                    let mut import = self.import(spec, module, ImportKind::Import, type_only);
                    import.names = self.imported_names(statement, &mut walk);
                    out.push(import);
                }
                Role::PyFuture => {
                    let keyword = {
                        let mut inner = statement.walk();
                        let found = statement
                            .children(&mut inner)
                            .find(|c| c.kind() == "__future__");
                        found
                    };
                    let mut import = self.import(
                        "__future__".to_owned(),
                        keyword.unwrap_or(statement),
                        ImportKind::Import,
                        type_only,
                    );
                    import.names = self.imported_names(statement, &mut walk);
                    out.push(import);
                }
                _ => {}
            }
        }
    }

    /// The names after `import` in `from M import …` (`*` for a wildcard),
    /// without their aliases.
    fn imported_names<'t>(&self, statement: Node<'t>, walk: &mut TreeCursor<'t>) -> Vec<String> {
        let mut names = Vec::new();
        walk.reset(statement);
        if walk.goto_first_child() {
            loop {
                let child = walk.node();
                match (walk.field_name(), child.kind()) {
                    (Some("name"), "aliased_import") => {
                        if let Some(name) = child.child_by_field_name("name") {
                            names.push(self.dotted(name));
                        }
                    }
                    (Some("name"), _) => names.push(self.dotted(child)),
                    (_, "wildcard_import") => names.push("*".to_owned()),
                    _ => {}
                }
                if !walk.goto_next_sibling() {
                    break;
                }
            }
        }
        names.retain(|n| !n.is_empty());
        names
    }

    /// A dotted name rebuilt from its identifiers (`a . b` is `a.b`).
    fn dotted(&self, node: Node) -> String {
        if node.kind() != "dotted_name" {
            return self.lossy(node);
        }
        let mut name = String::new();
        let mut walk = node.walk();
        for part in node.named_children(&mut walk) {
            if part.kind() == "identifier" {
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&String::from_utf8_lossy(self.text(part)));
            }
        }
        name
    }

    // ---- Rust ----

    pub(super) fn rust(&self, cursor: &mut QueryCursor, root: Node, out: &mut Vec<Import>) {
        self.each_match(cursor, root, |captures, _| {
            for c in captures {
                match self.grammar.role(c.index) {
                    Role::Use => self.use_tree(c.node, out),
                    Role::Mod => {
                        out.push(self.import(self.segment(c.node), c.node, ImportKind::Mod, false))
                    }
                    Role::ExternCrate => out.push(self.import(
                        self.segment(c.node),
                        c.node,
                        ImportKind::ExternCrate,
                        false,
                    )),
                    _ => {}
                }
            }
        });
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

/// Whether the node under `at` is part of a type (TS): some ancestor is a
/// type annotation, alias, argument list, clause or type node, or it is the
/// type after `as` / `satisfies`. The grammar parses the type `import('m').T`
/// as a call inside such a node.
fn in_type_position(at: &TreeCursor) -> bool {
    let mut up = at.clone();
    let mut child = up.node();
    while up.goto_parent() {
        let node = up.node();
        let kind = node.kind();
        let is_type = kind.ends_with("_type")
            || matches!(
                kind,
                "type_annotation"
                    | "opting_type_annotation"
                    | "omitting_type_annotation"
                    | "adding_type_annotation"
                    | "asserts_annotation"
                    | "type_predicate_annotation"
                    | "type_alias_declaration"
                    | "type_query"
                    | "type_arguments"
                    | "type_parameters"
                    | "constraint"
                    | "implements_clause"
                    | "extends_type_clause"
                    | "interface_body"
            );
        if is_type {
            return true;
        }
        if matches!(kind, "as_expression" | "satisfies_expression")
            && node
                .named_child(0)
                .is_some_and(|first| first.id() != child.id())
        {
            return true;
        }
        child = node;
    }
    false
}

/// Whether the tree under `at` has syntax errors.
fn in_broken_file(at: &TreeCursor) -> bool {
    let mut up = at.clone();
    while up.goto_parent() {}
    up.node().has_error()
}

/// A byte of a JS identifier (any non-ASCII byte counts: identifiers may
/// hold Unicode letters).
pub(super) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// `import 'm'`: nothing but the source (comments and import attributes
/// aside).
fn is_side_effect_import(statement: Node, source: Node) -> bool {
    let mut walk = statement.walk();
    let only_source = statement.named_children(&mut walk).all(|child| {
        child.id() == source.id() || child.is_extra() || child.kind() == "import_attribute"
    });
    only_source
}

/// Appends the value of a JS escape sequence (`\n`, `\x41`, `\u{1F600}`,
/// a line continuation) to `out`.
pub(super) fn unescape_js(escape: &str, out: &mut String) {
    let Some(body) = escape.strip_prefix('\\') else {
        out.push_str(escape);
        return;
    };
    let hex = |digits: &str| {
        u32::from_str_radix(digits, 16)
            .ok()
            .and_then(char::from_u32)
    };
    let decoded = match body.chars().next() {
        Some('n') => Some('\n'),
        Some('t') => Some('\t'),
        Some('r') => Some('\r'),
        Some('b') => Some('\u{8}'),
        Some('f') => Some('\u{c}'),
        Some('v') => Some('\u{b}'),
        Some('0') if body.len() == 1 => Some('\0'),
        Some('x') => hex(&body[1..]),
        Some('u') => hex(body[1..].trim_start_matches('{').trim_end_matches('}')),
        // A line continuation adds nothing.
        Some('\n' | '\r' | '\u{2028}' | '\u{2029}') => return,
        _ => None,
    };
    match decoded {
        Some(c) => out.push(c),
        // Any other escaped character stands for itself.
        None => out.push_str(body),
    }
}
