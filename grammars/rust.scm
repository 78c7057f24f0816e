; Imports of Rust files. src/boundary/extract.rs expands each use tree into
; one import per leaf. `use` written inside macro_rules bodies is a token
; tree, not a use_declaration, so it never matches.
;
; Every construct a pattern matches must contain `use`, `mod` or `crate`,
; and every pattern must be a node pattern `(kind ...)`: extract.rs
; searches only the subtrees holding one of these words, anchoring the
; query at nodes of those kinds.

; use a::b; pub use a::{b, c::*};
(use_declaration
  argument: (_) @use)

; mod x; (a declaration without a body: the module lives in another file)
(mod_item
  !body
  name: (identifier) @mod)

; extern crate foo; extern crate foo as bar;
(extern_crate_declaration
  name: (_) @extern_crate)
