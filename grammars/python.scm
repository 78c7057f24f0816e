; What counts as an import in Python files: the spec of the reader in
; src/boundary/extract/python.rs, which recognizes the same nodes by kind,
; field and text without compiling this query (compiling it cost more than
; the rest of a small staged check). The unit test in
; src/boundary/extract/tests/spec.rs compiles it and checks, over the
; fixtures and the reference corpora, that the reader finds exactly the
; imports read from these captures. Change both together.
;
; The statements are captured whole; the reader walks their names, aliases
; and relative prefixes. Every construct a pattern matches must contain
; `import` (an `if TYPE_CHECKING:` matters only around one): the reader
; searches only the subtrees holding that word.

; import a.b.c / import a as b, c
(import_statement) @import

; from a.b import c, d / from . import x / from a import *
(import_from_statement) @import_from

; from __future__ import annotations
(future_import_statement) @future

; The bodies of `if TYPE_CHECKING:` and `if <module>.TYPE_CHECKING:` (and of
; an `elif` with such a condition): imports inside them are type-only.
(if_statement
  condition: (identifier) @_flag
  consequence: (block) @type_checking
  (#eq? @_flag "TYPE_CHECKING"))

(if_statement
  condition: (attribute
    object: (identifier)
    attribute: (identifier) @_flag)
  consequence: (block) @type_checking
  (#eq? @_flag "TYPE_CHECKING"))

(elif_clause
  condition: (identifier) @_flag
  consequence: (block) @type_checking
  (#eq? @_flag "TYPE_CHECKING"))

(elif_clause
  condition: (attribute
    object: (identifier)
    attribute: (identifier) @_flag)
  consequence: (block) @type_checking
  (#eq? @_flag "TYPE_CHECKING"))
