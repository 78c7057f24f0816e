; Imports of TypeScript, TSX and JavaScript files (the TypeScript and TSX
; grammars of tree-sitter-typescript share these node kinds).
;
; Each pattern captures the whole construct under a name saying what it is;
; src/boundary/extract.rs reads the string literal and the statement's
; `type` keyword from it. Captures named `_x` exist only for predicates.
;
; Every construct a pattern matches must contain `import`, `require` or
; `from`, and every pattern must be a node pattern `(kind ...)` (or a
; top-level alternation of them): extract.rs searches only the subtrees
; holding one of these words, anchoring the query at nodes of those kinds.

; import x from 'a' / import {a} from 'a' / import * as n from 'a' /
; import 'a' / import type {T} from 'a'
(import_statement
  source: (string) @source) @import

; TS: import x = require('a'), import type x = require('a')
(import_statement
  (import_require_clause
    source: (string) @source)) @import_equals

; export {a} from 'a' / export * from 'a' / export * as n from 'a' /
; export type {T} from 'a'
(export_statement
  source: (string) @source) @reexport

; require('a'): the argument count and literal are checked in Rust.
(call_expression
  function: (identifier) @_require
  arguments: (arguments) @arguments
  (#eq? @_require "require")) @require

; import('a'), including `typeof import('a')` in type positions.
(call_expression
  function: (import)
  arguments: (arguments) @arguments) @dynamic
