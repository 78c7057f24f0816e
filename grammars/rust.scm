; What counts as an import in Rust files: the spec of the reader in
; src/boundary/extract/rust.rs, which recognizes the same nodes by kind and
; field without compiling this query. The unit test in
; src/boundary/extract/tests/spec.rs compiles it and checks, over the
; fixtures and the reference corpora, that the reader finds exactly the
; imports read from these captures. Change both together.
;
; The reader expands each use tree into one import per leaf. `use` written
; inside macro_rules bodies is a token tree, not a use_declaration, so it
; never matches. Every construct a pattern matches must contain `use`, `mod`
; or `crate`: the reader searches only the subtrees holding one of these
; words.

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
