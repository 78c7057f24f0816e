; What counts as an import in TypeScript, TSX and JavaScript files (the
; TypeScript and TSX grammars of tree-sitter-typescript share these node
; kinds): the spec of the reader in src/boundary/extract/typescript.rs,
; which recognizes the same nodes by kind, field and text without compiling
; this query (compiling it cost more than the rest of a small staged
; check). The unit test in src/boundary/extract/tests/spec.rs compiles it
; and checks, over the fixtures and the reference corpora, that the reader
; finds exactly the imports read from these captures. Change both together.
;
; Each pattern captures the whole construct under a name saying what it is,
; and its string literal (@source) or arguments (@arguments); the reader
; reads the literal and the statement's `type` keyword. Captures named `_x`
; exist only for predicates. Every construct a pattern matches must contain
; `import`, `require` or `from`: the reader searches only the subtrees
; holding one of these words.

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
