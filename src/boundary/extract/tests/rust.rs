use super::*;

#[test]
fn rust_simple_uses() {
    let src = "\
use crate::a::b;
use self::x::Y;
use super::super::z;
pub use crate::api::Client;
use ::std::fmt;
use std::collections::HashMap;
use other_crate::x;
pub(crate) use r#async::task;
use crate::e::*;
";
    assert_eq!(
        rows(Lang::Rust, src),
        vec![
            row("crate::a::b", 1, 5, Use),
            row("self::x::Y", 2, 5, Use),
            row("super::super::z", 3, 5, Use),
            row("crate::api::Client", 4, 9, Use),
            row("std::fmt", 5, 7, Use),
            row("std::collections::HashMap", 6, 5, Use),
            row("other_crate::x", 7, 5, Use),
            row("async::task", 8, 16, Use),
            row("crate::e::*", 9, 5, Use),
        ]
    );
}

#[test]
fn rust_use_trees_expand_to_leaves() {
    let src = "\
use crate::{a::{b, c as d}, e::*};
use crate::a::{self, b};
use crate::a::{b, c::D as E};
use {x, y::z};
use ::{w};
use m::{self as n, o::{}};
";
    assert_eq!(
        rows(Lang::Rust, src),
        vec![
            row("crate::a::b", 1, 17, Use),
            row("crate::a::c", 1, 20, Use),
            row("crate::e::*", 1, 29, Use),
            row("crate::a", 2, 16, Use),
            row("crate::a::b", 2, 22, Use),
            row("crate::a::b", 3, 16, Use),
            row("crate::a::c::D", 3, 19, Use),
            row("x", 4, 6, Use),
            row("y::z", 4, 9, Use),
            row("w", 5, 8, Use),
            row("m", 6, 9, Use),
        ]
    );
}

#[test]
fn rust_mod_and_extern_crate() {
    let src = "\
mod x;
pub mod y;
#[cfg(test)]
mod tests;
mod inline {
    use super::x::Thing;
    mod nested;
}
extern crate foo;
extern crate bar as baz;
";
    assert_eq!(
        rows(Lang::Rust, src),
        vec![
            row("x", 1, 5, Mod),
            row("y", 2, 9, Mod),
            row("tests", 4, 5, Mod),
            row("super::x::Thing", 6, 9, Use),
            row("nested", 7, 9, Mod),
            row("foo", 9, 14, ExternCrate),
            row("bar", 10, 14, ExternCrate),
        ]
    );
}

#[test]
fn rust_uses_in_functions_count_but_not_in_macros() {
    let src = "\
fn f() {
    use crate::inner::g;
    g();
}
macro_rules! m { () => { use crate::hidden; }; }
impl T { fn h(&self) { use std::io::Write as _; } }
";
    assert_eq!(
        rows(Lang::Rust, src),
        vec![
            row("crate::inner::g", 2, 9, Use),
            row("std::io::Write", 6, 28, Use),
        ]
    );
}

#[test]
fn rust_multibyte_column() {
    let src = "/* ñ */ use crate::a;\n";
    assert_eq!(rows(Lang::Rust, src), vec![row("crate::a", 1, 13, Use)]);
}
