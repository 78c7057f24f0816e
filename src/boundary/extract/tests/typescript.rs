use super::*;

#[test]
fn typescript_import_forms() {
    let src = "\
import x from './a';
import {a as b} from \"b\";
import * as ns from 'c';
import 'd';
import type {T} from 'e';
import {type U} from 'f';
import y, {z} from 'g';
import type from 'h';
import {} from 'i';
";
    assert_eq!(
        rows(Lang::TypeScript, src),
        vec![
            row("./a", 1, 15, Import),
            row("b", 2, 22, Import),
            row("c", 3, 21, Import),
            row("d", 4, 8, SideEffect),
            typed(row("e", 5, 22, Import)),
            row("f", 6, 22, Import),
            row("g", 7, 20, Import),
            row("h", 8, 18, Import),
            row("i", 9, 16, Import),
        ]
    );
}

#[test]
fn typescript_reexports() {
    let src = "\
export {a} from 'a';
export * from 'b';
export * as ns from 'c';
export type {T} from 'd';
export {type U} from 'e';
export { local };
export const v = 1;
";
    assert_eq!(
        rows(Lang::TypeScript, src),
        vec![
            row("a", 1, 17, ReExport),
            row("b", 2, 15, ReExport),
            row("c", 3, 21, ReExport),
            typed(row("d", 4, 22, ReExport)),
            row("e", 5, 22, ReExport),
        ]
    );
}

#[test]
fn typescript_export_type_star_is_type_only() {
    // The grammar does not know `export type *` (TS 5.0) and recovers.
    let found = extract(Lang::TypeScript, "export type * from './types';\n");
    assert_eq!(
        to_rows(&found),
        vec![typed(row("./types", 1, 20, ReExport))]
    );
}

#[test]
fn typescript_require_dynamic_and_import_equals() {
    let src = "\
const a = require('a');
const b = require(`b`);
const c = require(`c${x}`);
const d = require('d', 'extra');
const e = require(name);
const f = other('f');
const g = obj.require('g');
const h = import('h');
const i = import(name);
const j = import('j', { with: { type: 'json' } });
import k = require('k');
import type l = require('l');
require(/* why */ 'm');
const n = import(`n`);
";
    assert_eq!(
        rows(Lang::TypeScript, src),
        vec![
            row("a", 1, 19, Require),
            row("b", 2, 19, Require),
            row("h", 8, 18, Dynamic),
            row("j", 10, 18, Dynamic),
            row("k", 11, 20, ImportEquals),
            typed(row("l", 12, 25, ImportEquals)),
            row("m", 13, 19, Require),
            row("n", 14, 18, Dynamic),
        ]
    );
}

#[test]
fn typescript_imports_anywhere() {
    let src = "\
function load() {
  if (flag) {
    const m = require('./lazy');
    return import('./dyn');
  }
}
class K { m() { return require(\"./in-class\"); } }
";
    assert_eq!(
        rows(Lang::TypeScript, src),
        vec![
            row("./lazy", 3, 23, Require),
            row("./dyn", 4, 19, Dynamic),
            row("./in-class", 7, 32, Require),
        ]
    );
}

#[test]
fn typescript_imports_deep_in_expressions() {
    let src = "\
module.exports = { a: [() => f(g(require('./deep')))] };
const x = cond ? await import('./lazy') : null;
export const fromX = 1; const imported = 'import';
";
    assert_eq!(
        rows(Lang::TypeScript, src),
        vec![row("./deep", 1, 42, Require), row("./lazy", 2, 31, Dynamic),]
    );
}

#[test]
fn an_import_type_is_not_a_dynamic_import() {
    let src = "\
let a: import('a').T;
type B = import('b');
type C = typeof import('c');
const d = x as import('d').T;
class E implements import('e').I {}
interface F { p: import('f').T }
function g(): import('g').T { return import('./real'); }
let h: Array<import('h').T>;
const i = x satisfies import('i').T;
const j = (p: import('j').T) => import('./real2');
function k<T extends import('k').T = import('k2').T>() {}
const l = (await import('./real3')) as import('l').T;
";
    let ty = |spec: &str, line, column| typed(row(spec, line, column, ImportType));
    assert_eq!(
        rows(Lang::TypeScript, src),
        vec![
            ty("a", 1, 15),
            ty("b", 2, 17),
            ty("c", 3, 24),
            ty("d", 4, 23),
            ty("e", 5, 27),
            ty("f", 6, 25),
            ty("g", 7, 22),
            row("./real", 7, 45, Dynamic),
            ty("h", 8, 21),
            ty("i", 9, 30),
            ty("j", 10, 22),
            row("./real2", 10, 40, Dynamic),
            ty("k", 11, 29),
            ty("k2", 11, 45),
            row("./real3", 12, 25, Dynamic),
            ty("l", 12, 47),
        ]
    );
}

#[test]
fn tsx_and_javascript_use_the_tsx_grammar() {
    let src = "\
import React from 'react';
const el = <div className=\"x\">{require('./icon.svg')}</div>;
export default function App() { return <p>{import('./page')}</p>; }
";
    assert_eq!(Lang::of_path("a.jsx"), Some(Lang::Tsx));
    assert_eq!(Lang::of_path("a.cjs"), Some(Lang::Tsx));
    assert_eq!(
        rows(Lang::Tsx, src),
        vec![
            row("react", 1, 19, Import),
            row("./icon.svg", 2, 40, Require),
            row("./page", 3, 51, Dynamic),
        ]
    );
    let js = "const fs = require('fs');\nimport('./x.mjs').then(m => m);\n";
    assert_eq!(
        rows(Lang::Tsx, js),
        vec![row("fs", 1, 20, Require), row("./x.mjs", 2, 8, Dynamic)]
    );
}

#[test]
fn typescript_escapes_are_decoded() {
    assert_eq!(
        rows(
            Lang::TypeScript,
            "import a from './\\x61\\u0062\\u{63}\\'';\n"
        ),
        vec![row("./abc'", 1, 15, Import)]
    );
}

#[test]
fn typescript_multibyte_characters_count_as_one_column() {
    let src = "/* é→😀 */ import x from './a';\n";
    assert_eq!(rows(Lang::TypeScript, src), vec![row("./a", 1, 25, Import)]);
}
