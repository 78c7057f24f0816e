; Imports of Python files. The statements are captured whole:
; src/boundary/extract.rs walks their names, aliases and relative prefixes.
;
; Every construct a pattern matches must contain `import` (an `if
; TYPE_CHECKING:` matters only around one), and every pattern must be a node
; pattern `(kind ...)`: extract.rs searches only the subtrees holding that
; word, anchoring the query at nodes of those kinds.

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
