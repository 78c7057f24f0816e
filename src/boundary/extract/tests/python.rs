use super::*;

#[test]
fn python_import_forms() {
    let src = "\
import a.b.c
import a as b
import a, b.c
from a.b import c, d
from . import x
from ..pkg.mod import y
from .. import (a, b as c)
from a import *
from __future__ import annotations
import d.e as f
from ... import z
from .mod import (w,)
";
    assert_eq!(
        rows(Lang::Python, src),
        vec![
            row("a.b.c", 1, 8, Import),
            row("a", 2, 8, Import),
            row("a", 3, 8, Import),
            row("b.c", 3, 11, Import),
            named(row("a.b", 4, 6, Import), &["c", "d"]),
            named(row(".", 5, 6, Import), &["x"]),
            named(row("..pkg.mod", 6, 6, Import), &["y"]),
            named(row("..", 7, 6, Import), &["a", "b"]),
            named(row("a", 8, 6, Import), &["*"]),
            named(row("__future__", 9, 6, Import), &["annotations"]),
            row("d.e", 10, 8, Import),
            named(row("...", 11, 6, Import), &["z"]),
            named(row(".mod", 12, 6, Import), &["w"]),
        ]
    );
}

#[test]
fn python_dotted_names_ignore_spacing() {
    assert_eq!(
        rows(Lang::Python, "import a . b\nfrom . . c import d\n"),
        vec![
            row("a.b", 1, 8, Import),
            named(row("..c", 2, 6, Import), &["d"]),
        ]
    );
}

#[test]
fn python_imports_anywhere() {
    let src = "\
def f():
    import inner
class C:
    from .m import n
try:
    import fast
except ImportError:
    import slow
";
    assert_eq!(
        rows(Lang::Python, src),
        vec![
            row("inner", 2, 12, Import),
            named(row(".m", 4, 10, Import), &["n"]),
            row("fast", 6, 12, Import),
            row("slow", 8, 12, Import),
        ]
    );
}

#[test]
fn python_type_checking_blocks_are_type_only() {
    let src = "\
from typing import TYPE_CHECKING
import typing
if TYPE_CHECKING:
    import a
    if x:
        from b import c
    else:
        import d
else:
    import e
if typing.TYPE_CHECKING:
    import f
if x:
    import g
elif TYPE_CHECKING:
    import h
else:
    import i
if not TYPE_CHECKING:
    import j
import k
";
    assert_eq!(
        rows(Lang::Python, src),
        vec![
            named(row("typing", 1, 6, Import), &["TYPE_CHECKING"]),
            row("typing", 2, 8, Import),
            typed(row("a", 4, 12, Import)),
            typed(named(row("b", 6, 14, Import), &["c"])),
            typed(row("d", 8, 16, Import)),
            row("e", 10, 12, Import),
            typed(row("f", 12, 12, Import)),
            row("g", 14, 12, Import),
            typed(row("h", 16, 12, Import)),
            row("i", 18, 12, Import),
            row("j", 20, 12, Import),
            row("k", 21, 8, Import),
        ]
    );
}

#[test]
fn python_type_checking_reaches_nested_scopes() {
    let src = "\
if TYPE_CHECKING:
    class C:
        def f(self):
            try:
                from .deep import D
            except ImportError:
                pass
";
    assert_eq!(
        rows(Lang::Python, src),
        vec![typed(named(row(".deep", 5, 22, Import), &["D"]))]
    );
}

#[test]
fn python_multibyte_column() {
    let src = "x = 'ü'; import a\n";
    assert_eq!(rows(Lang::Python, src), vec![row("a", 1, 17, Import)]);
}
