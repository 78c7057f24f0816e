#!/usr/bin/env node
// Reference import extractor for TypeScript/JavaScript, built on the
// TypeScript compiler API (the `typescript` npm package, 5.x: the JS
// implementation; typescript@7 is the native port and has no
// ts.createSourceFile).
//
//   TS_MODULE=/tmp/bnd/npm/node_modules/typescript \
//     node tests/reference/ts_imports.mjs PATH...
//
// Prints, for every .ts .tsx .js .jsx .mjs .cjs .mts .cts file given or found
// under a directory given (node_modules included when inside a directory you
// name), the same JSON as `comm-node imports --json`:
//
//   [{"file": "<path>", "syntax_errors": false,
//     "imports": [{"spec": "./x", "names": [], "line": 1, "column": 20,
//                  "kind": "import", "type_only": false}]}]
//
// kinds:
//   import        import ... from 'x'            (type_only: `import type`)
//   side_effect   import 'x'
//   re_export     export ... from 'x', export * from 'x'  (type_only: `export type`)
//   import_equals import x = require('x')        (type_only: `import type x = require`)
//   require       require('x') with exactly one string / no-substitution template argument
//   dynamic       import('x') whose first argument is such a literal
//   import_type   import('x') in a type position (ImportTypeNode: `let a:
//                 import('x').T`, `typeof import('x')`), always type_only
// Not reported: `declare module 'x'`, triple-slash references, JSDoc types.
//
// line/column: 1-based, of the string literal's opening quote; the column
// counts code points (TS positions are UTF-16 units; astral characters
// before the literal are counted once). Lines are counted at "\n" only (what
// tree-sitter does); TS's own line map also breaks at a lone "\r", U+2028 and
// U+2029: pass --ts-lines to use it instead. A leading BOM is dropped.
//
// syntax_errors: the parser reported diagnostics (sourceFile.parseDiagnostics).
// Options: --ts-lines; --pretty (indented JSON).

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

function loadTypeScript() {
  const tried = [];
  const candidates = [];
  if (process.env.TS_MODULE) candidates.push(process.env.TS_MODULE);
  candidates.push("typescript");
  for (const c of candidates) {
    try {
      const resolved = require.resolve(c, { paths: [process.cwd(), path.dirname(new URL(import.meta.url).pathname)] });
      const ts = require(resolved);
      if (typeof ts.createSourceFile !== "function") {
        tried.push(`${c} -> ${resolved}: no createSourceFile (typescript ${ts.version}; need 5.x)`);
        continue;
      }
      return ts;
    } catch (e) {
      tried.push(`${c}: ${e.message.split("\n")[0]}`);
    }
  }
  console.error("ts_imports: cannot load the typescript compiler API; set TS_MODULE to the package directory\n  " + tried.join("\n  "));
  process.exit(2);
}

const ts = loadTypeScript();

const EXTENSIONS = [".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts"];

function scriptKind(file) {
  const ext = path.extname(file);
  switch (ext) {
    case ".tsx":
      return ts.ScriptKind.TSX;
    case ".jsx":
      return ts.ScriptKind.JSX;
    case ".js":
    case ".mjs":
    case ".cjs":
      return ts.ScriptKind.JS;
    default:
      return ts.ScriptKind.TS;
  }
}

function findFiles(paths) {
  const out = [];
  const walk = (dir) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && EXTENSIONS.includes(path.extname(e.name))) out.push(p);
    }
  };
  for (const p of paths) {
    if (fs.statSync(p).isDirectory()) walk(p);
    else out.push(p);
  }
  return out;
}

function isStringLike(node) {
  return node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node));
}

// Precomputed "\n" line starts, for the default line numbering.
function lineStarts(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function upperBound(starts, pos) {
  let lo = 0,
    hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= pos) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

function codePoints(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

function extract(file, tsLines) {
  let text = fs.readFileSync(file, "utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, scriptKind(file));
  const starts = tsLines ? null : lineStarts(text);
  const imports = [];

  const position = (lit) => {
    const pos = lit.getStart(sf);
    let line, lineStart;
    if (tsLines) {
      const lc = sf.getLineAndCharacterOfPosition(pos);
      line = lc.line;
      lineStart = pos - lc.character;
    } else {
      line = upperBound(starts, pos);
      lineStart = starts[line];
    }
    return { line: line + 1, column: codePoints(text.slice(lineStart, pos)) + 1 };
  };

  const add = (lit, kind, typeOnly) => {
    imports.push({ spec: lit.text, names: [], ...position(lit), kind, type_only: !!typeOnly });
  };

  const visit = (node) => {
    if (ts.isImportDeclaration(node)) {
      // the grammar allows only a string literal here (TS parses a template
      // literal too and complains later, in the checker)
      if (ts.isStringLiteral(node.moduleSpecifier)) {
        const clause = node.importClause;
        add(node.moduleSpecifier, clause ? "import" : "side_effect", clause && clause.isTypeOnly);
      }
    } else if (ts.isExportDeclaration(node)) {
      if (node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) add(node.moduleSpecifier, "re_export", node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node)) {
      const ref = node.moduleReference;
      if (ts.isExternalModuleReference(ref) && ts.isStringLiteral(ref.expression)) add(ref.expression, "import_equals", node.isTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      // `let a: import('m').T`, `typeof import('m')`: a type of m
      const arg = node.argument;
      if (arg && ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) add(arg.literal, "import_type", true);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const args = node.arguments;
      if (ts.isIdentifier(callee) && callee.escapedText === "require" && args.length === 1 && isStringLike(args[0])) {
        add(args[0], "require", false);
      } else if (callee.kind === ts.SyntaxKind.ImportKeyword && args.length >= 1 && isStringLike(args[0])) {
        add(args[0], "dynamic", false);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  imports.sort((a, b) => a.line - b.line || a.column - b.column);
  const diags = sf.parseDiagnostics || [];
  return { file, syntax_errors: diags.length > 0, imports };
}

function main() {
  const argv = process.argv.slice(2);
  const tsLines = argv.includes("--ts-lines");
  const pretty = argv.includes("--pretty");
  const paths = argv.filter((a) => !a.startsWith("--"));
  if (paths.length === 0) {
    console.error("usage: node ts_imports.mjs [--ts-lines] [--pretty] PATH...");
    process.exit(2);
  }
  const results = findFiles(paths).map((f) => extract(f, tsLines));
  process.stdout.write(JSON.stringify(results, null, pretty ? 1 : 0) + "\n");
}

main();
