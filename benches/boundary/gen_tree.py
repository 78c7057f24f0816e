#!/usr/bin/env python3
"""Generate a deterministic synthetic monorepo for the boundary benchmarks.

    python3 benches/boundary/gen_tree.py --lang py --out /tmp/bnd/tree-py
    python3 benches/boundary/gen_tree.py --lang ts --out /tmp/bnd/tree-ts --files 2000

Shape (D domains, default 10; N files, default 10,000, split evenly):

  Python  src/pkgN/__init__.py, src/pkgN/subK/__init__.py, src/pkgN/subK/mJ.py
  TS      packages/dN/src/index.ts, packages/dN/src/subK/index.ts,
          packages/dN/src/subK/mJ.ts (plus a root tsconfig.json with
          `paths` aliases `@dN/*` -> `packages/dN/src/*`)

Every file imports 3-8 other files of the tree: mostly in its own domain
(relative and absolute imports), some from lower-numbered domains (allowed by
the layering "domain i may import only domains < i"), plus 0-3 external
modules. With --graph dag (the default) a file imports only earlier files of
its domain (in the order sub0's modules, sub0's __init__/index, sub1's
modules, ..., the domain root), so the first files of domain 0 import fewer
than 3, and the import graph has no cycles apart from those the planted
violations close; --graph random lets any file import any file of its domain,
which makes every domain one big import cycle. A fixed number of files (N // 200 by default, never in the top
domain) get exactly one import of a higher-numbered domain: the planted
violations. Each planted violation is the only import of that target file in
its importing file, and no other import crosses the layering, so every tool
that checks direct imports must report exactly these.

Written next to the sources:

  comm.yaml               comm-node domains dN (scope, may_import = lower domains)
  tach.toml               (py) tach modules pkgN, depends_on = lower domains
  .importlinter           (py) one `forbidden` contract per domain, direct imports only
  .dependency-cruiser.cjs (ts) one forbidden rule per domain, skipAnalysisNotInRules
                          as `depcruise --init` writes it
  .dependency-cruiser.full.cjs (ts) the same without skipAnalysisNotInRules (every
                          analysis runs: cycle detection, dependents)
  .gen_tree               stamp: lets the next run replace this directory
  expected_violations.json  the planted violations: file, line, column, spec,
                            target file, target module
  (tsconfig.json, package.json for ts)

--large makes every file 200-1,000 lines long: functions after the same
top-of-file imports, every fourth importing again inside its body a module
the file already imports (an allowed edge), and strings that mention
`import` (text no tool may report).

The last line printed is `planted_violations=<count>`.
"""

import argparse
import bisect
import json
import os
import random
import shutil
import sys

FILES_PER_SUBPACKAGE = 50  # one __init__.py / index.ts plus 49 modules
LARGE = False  # --large: 200-1,000-line files
LARGE_LINES = (200, 1000)


# --------------------------------------------------------------------------
# Layout


class File:
    """One generated source file."""

    def __init__(self, domain, sub, mod):
        self.domain = domain  # int
        self.sub = sub  # int or None (domain root)
        self.mod = mod  # int or None (package init / index)

    def key(self):
        return (self.domain, self.sub, self.mod)

    # Python ------------------------------------------------------------
    def py_path(self):
        parts = ["src", "pkg%d" % self.domain]
        if self.sub is not None:
            parts.append("sub%d" % self.sub)
        parts.append("__init__.py" if self.mod is None else "m%d.py" % self.mod)
        return "/".join(parts)

    def py_module(self):
        parts = ["pkg%d" % self.domain]
        if self.sub is not None:
            parts.append("sub%d" % self.sub)
        if self.mod is not None:
            parts.append("m%d" % self.mod)
        return ".".join(parts)

    def py_package(self):
        """The package `.` refers to inside this file."""
        if self.mod is None:
            return self.py_module()
        return self.py_module().rsplit(".", 1)[0]

    # TypeScript --------------------------------------------------------
    def ts_path(self):
        parts = ["packages", "d%d" % self.domain, "src"]
        if self.sub is not None:
            parts.append("sub%d" % self.sub)
        parts.append("index.ts" if self.mod is None else "m%d.ts" % self.mod)
        return "/".join(parts)

    def ts_dir(self):
        return self.ts_path().rsplit("/", 1)[0]


def layout(n_files, n_domains):
    """Files per domain, split evenly (remainder to the first domains)."""
    domains = []
    for d in range(n_domains):
        count = n_files // n_domains + (1 if d < n_files % n_domains else 0)
        if count < 3:
            sys.exit("need at least 3 files per domain")
        files = [File(d, None, None)]  # package root
        left = count - 1
        sub = 0
        while left > 0:
            files.append(File(d, sub, None))
            left -= 1
            m = 0
            while left > 0 and m < FILES_PER_SUBPACKAGE - 1:
                files.append(File(d, sub, m))
                left -= 1
                m += 1
            sub += 1
        domains.append(files)
    return domains


# --------------------------------------------------------------------------
# Import planning (language independent)


class Edge:
    """One planned import of `target` from `source`."""

    def __init__(self, target, how, violation=False, type_only=False):
        self.target = target
        self.how = how  # "sibling", "cousin", "absolute", "cross", "violation"
        self.violation = violation
        self.type_only = type_only


def rank(f):
    """Order inside a domain for --graph dag: modules of sub0, sub0's
    __init__/index, modules of sub1, ..., the domain root last."""
    if f.sub is None:
        return 1 << 40
    if f.mod is None:
        return f.sub * 100_000 + 99_999
    return f.sub * 100_000 + f.mod


class Pool:
    """Candidate targets sorted by rank, so --graph dag can take a prefix."""

    def __init__(self, files):
        self.files = sorted(files, key=rank)
        self.ranks = [rank(x) for x in self.files]

    def pick(self, rng, below=None):
        n = len(self.files) if below is None else bisect.bisect_left(self.ranks, below)
        return self.files[rng.randrange(n)] if n else None


def plan(domains, rng, n_violations, dag):
    """For every file, the list of edges it imports (in order).

    dag: imports inside a domain only go to files of lower rank, so the
    import graph has no cycles except through the planted violations."""
    all_files = [f for files in domains for f in files]
    modules_by_domain = [Pool(f for f in files if f.mod is not None) for files in domains]
    sub_inits = [Pool(f for f in files if f.sub is not None and f.mod is None) for files in domains]
    by_sub = {}
    for f in all_files:
        if f.mod is not None:
            by_sub.setdefault((f.domain, f.sub), []).append(f)
    by_sub = {k: Pool(v) for k, v in by_sub.items()}
    subs_by_domain = [sorted({f.sub for f in files if f.sub is not None}) for files in domains]
    n_domains = len(domains)

    # files that get a planted violation (never in the top domain)
    candidates = [f for f in all_files if f.domain < n_domains - 1]
    violators = set(x.key() for x in rng.sample(candidates, min(n_violations, len(candidates))))

    plans = {}
    for f in all_files:
        want = rng.randint(3, 8)
        below = rank(f) if dag else None
        edges = []
        seen = {f.key()}

        def add(target, how, violation=False, type_only=False):
            if target is None or target.key() in seen:
                return False
            seen.add(target.key())
            edges.append(Edge(target, how, violation, type_only))
            return True

        if f.key() in violators:
            hi = rng.randrange(f.domain + 1, n_domains)
            add(modules_by_domain[hi].pick(rng), "violation", violation=True)

        tries = 0
        while len(edges) < want and tries < 100:
            tries += 1
            r = rng.random()
            if r < 0.20 and f.domain > 0:
                lo = rng.randrange(0, f.domain)
                add(modules_by_domain[lo].pick(rng), "cross", type_only=rng.random() < 0.1)
            elif r < 0.55:
                # a sibling: a child of the package `.` names in this file
                if f.sub is None:
                    # the domain root file: `.` is pkgN, its children are the subpackages
                    pool = sub_inits[f.domain]
                else:
                    pool = by_sub.get((f.domain, f.sub))
                if pool:
                    add(pool.pick(rng, below), "sibling", type_only=rng.random() < 0.05)
            elif r < 0.75 and f.sub is not None:
                others = [s for s in subs_by_domain[f.domain]
                          if s != f.sub and (f.domain, s) in by_sub and (not dag or s < f.sub)]
                if others:
                    s = rng.choice(others)
                    add(by_sub[(f.domain, s)].pick(rng, below), "cousin")
            else:
                add(modules_by_domain[f.domain].pick(rng, below), "absolute")
        rng.shuffle(edges)
        externals = rng.sample(range(3), rng.randint(0, 3))
        plans[f.key()] = (f, edges, externals)
    return plans


# --------------------------------------------------------------------------
# Python


PY_EXTERNAL = [
    ("import os", "os", None),
    ("import json", "json", None),
    ("from typing import Any, Optional", "typing", None),
]


def py_import_line(f, e, idx):
    """The import statement for edge e in file f, plus the spec and column of the spec."""
    t = e.target
    tmod = t.py_module()
    if e.how == "sibling":
        # `from . import mX` (target is a direct child of f's package)
        child = tmod.rsplit(".", 1)[1]
        if idx % 2 == 0 or t.mod is None:
            return "from . import %s" % child, ".", 6, [child]
        return "from .%s import run, VALUE" % child, "." + child, 6, ["run", "VALUE"]
    if e.how == "cousin":
        # f is in pkgN.subK (module or __init__): `..` is pkgN
        sub, mod = tmod.split(".")[1:3]
        if idx % 2 == 0:
            return "from ..%s import %s" % (sub, mod), ".." + sub, 6, [mod]
        return "from ..%s.%s import run" % (sub, mod), "..%s.%s" % (sub, mod), 6, ["run"]
    # absolute, cross, violation
    form = idx % 3
    if form == 0:
        return "import %s" % tmod, tmod, 8, []
    pkg, last = tmod.rsplit(".", 1)
    if form == 1:
        return "from %s import %s" % (pkg, last), pkg, 6, [last]
    return "from %s import run, Model" % tmod, tmod, 6, ["run", "Model"]


def py_source(f, edges, externals, rng):
    lines = ['"""%s: generated module (domain d%d)."""' % (f.py_module(), f.domain), ""]
    records = []
    for x in externals:
        lines.append(PY_EXTERNAL[x][0])
    has_tc = any(e.type_only for e in edges)
    if has_tc:
        lines.append("from typing import TYPE_CHECKING")
    lines.append("")
    tc = []
    for i, e in enumerate(edges):
        if e.type_only:
            tc.append((i, e))
            continue
        text, spec, col, names = py_import_line(f, e, i)
        lines.append(text)
        records.append((e, len(lines), col, spec))
    if tc:
        lines.append("")
        lines.append("if TYPE_CHECKING:")
        for i, e in tc:
            text, spec, col, names = py_import_line(f, e, i)
            lines.append("    " + text)
            records.append((e, len(lines), col + 4, spec))
    n = f.mod if f.mod is not None else 0
    lines += [
        "",
        "VALUE = %d" % rng.randint(0, 10_000),
        "",
        "",
        "class Model:",
        '    """A record of %s."""' % f.py_module(),
        "",
        "    def __init__(self, ident: int, name: str) -> None:",
        "        self.ident = ident",
        "        self.name = name",
        "",
        "    def describe(self) -> str:",
        '        return f"{self.name}#{self.ident}"',
        "",
        "",
        "def run(x: int) -> int:",
        "    total = x",
        "    for i in range(%d):" % (n % 7 + 2),
        "        if i % 2 == 0:",
        "            total += i * VALUE",
        "        else:",
        "            total -= i",
        "    return total",
        "",
        "",
        "def helper(items: list) -> dict:",
        "    out = {}",
        "    for item in items:",
        "        out.setdefault(str(item), []).append(item)",
        "    return out",
        "",
    ]
    if LARGE:
        lines += py_large_body(f, edges, rng, len(lines))
    return "\n".join(lines), records


def py_large_body(f, edges, rng, have):
    """Functions up to 200-1,000 lines in all; every fourth imports, inside
    its body, a module the file already imports at the top (an allowed
    edge: the planted violations stay the only imports across the layering)."""
    want = rng.randint(LARGE_LINES[0], LARGE_LINES[1])
    lazy = [(i, e) for i, e in enumerate(edges) if not e.violation and not e.type_only]
    out = []
    k = 0
    while have + len(out) < want:
        out += ["", ""]
        if k % 4 == 1 and lazy:
            i, e = lazy[rng.randrange(len(lazy))]
            text, _, _, names = py_import_line(f, e, i)
            out += [
                "def load_%d(key: str) -> object:" % k,
                '    """Imports lazily; the import below runs on first call."""',
                "    " + text,
                "    return key",
                "",
                "",
            ]
        out += [
            "def step_%d(data: dict, limit: int = %d) -> list:" % (k, rng.randint(1, 99)),
            '    """Step %d: filters `data`; does not import anything."""' % k,
            "    result = []",
            "    for key, value in sorted(data.items()):",
            "        if isinstance(value, (list, tuple)) and len(value) > limit:",
            "            result.append((key, value[:limit]))",
            "        elif value is None:",
            "            continue",
            "        else:",
            '            result.append((key, f"{value!r:>{limit}}"))',
            "    text = '''multi-line",
            "import os  # inside a string: not an import",
            "'''",
            "    return result + [text]",
        ]
        k += 1
    return out


def write_py(out, domains, plans, rng, n_domains):
    expected = []
    for files in domains:
        for f in files:
            _, edges, externals = plans[f.key()]
            text, records = py_source(f, edges, externals, rng)
            path = os.path.join(out, f.py_path())
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                fh.write(text)
            for e, line, col, spec in records:
                if e.violation:
                    expected.append(
                        {
                            "file": f.py_path(),
                            "module": f.py_module(),
                            "line": line,
                            "column": col,
                            "spec": spec,
                            "target_file": e.target.py_path(),
                            "target_module": e.target.py_module(),
                            "from_domain": "d%d" % f.domain,
                            "to_domain": "d%d" % e.target.domain,
                        }
                    )

    # tach
    tach = ["# tach 0.35 format: one module per domain, depends_on = the lower domains", 'source_roots = ["src"]', 'exclude = ["**/__pycache__"]', ""]
    for d in range(n_domains):
        deps = ", ".join('"pkg%d"' % j for j in range(d))
        tach += ["[[modules]]", 'path = "pkg%d"' % d, "depends_on = [%s]" % deps, ""]
    write(out, "tach.toml", "\n".join(tach))

    # import-linter: forbidden contracts with allow_indirect_imports = True
    # check direct imports only, like comm-node and tach (a `layers` contract
    # would also report indirect chains).
    il = ["[importlinter]", "root_packages ="]
    il += ["    pkg%d" % d for d in range(n_domains)]
    il.append("")
    for d in range(n_domains - 1):
        il += [
            "[importlinter:contract:layer-d%d]" % d,
            "name = pkg%d may import only lower-numbered domains" % d,
            "type = forbidden",
            "source_modules =",
            "    pkg%d" % d,
            "forbidden_modules =",
        ]
        il += ["    pkg%d" % j for j in range(d + 1, n_domains)]
        il += ["allow_indirect_imports = True", ""]
    write(out, ".importlinter", "\n".join(il))
    return expected


# --------------------------------------------------------------------------
# TypeScript


TS_EXTERNAL = [
    ("import React from 'react';", "react"),
    ("import _ from 'lodash';", "lodash"),
    ("import { readFileSync } from 'node:fs';", "node:fs"),
]


def ts_rel(from_dir, to_path):
    rel = os.path.relpath(to_path, from_dir)
    if not rel.startswith("."):
        rel = "./" + rel
    return rel


def ts_spec(f, e, idx):
    """(spec, local binding prefix) for edge e of file f."""
    t = e.target
    if e.how == "cross" or e.how == "violation":
        if idx % 4 == 3:
            # a relative path across packages
            target = t.ts_path()[:-3]
            if t.mod is None:
                target = target[: -len("/index")]
            return ts_rel(f.ts_dir(), target)
        tail = t.ts_path()[len("packages/d%d/src/" % t.domain) : -3]
        if t.mod is None:
            tail = tail[: -len("index")].rstrip("/")
        return "@d%d/%s" % (t.domain, tail) if tail else "@d%d/index" % t.domain
    if e.how == "absolute" and idx % 2 == 0:
        tail = t.ts_path()[len("packages/d%d/src/" % t.domain) : -3]
        return "@d%d/%s" % (t.domain, tail)
    target = t.ts_path()[:-3]
    if t.mod is None:
        target = target[: -len("/index")]  # a directory: resolves to its index.ts
    return ts_rel(f.ts_dir(), target)


def ts_source(f, edges, externals, rng):
    lines = ["// %s: generated module (domain d%d)" % (f.ts_path(), f.domain)]
    records = []
    for x in externals:
        lines.append(TS_EXTERNAL[x][0])
    uses = []
    for i, e in enumerate(edges):
        spec = ts_spec(f, e, i)
        b = "i%d" % i
        if e.target.mod is None:
            # index files export namespaces; import one as a namespace
            if f.mod is None and i % 3 == 0 and not e.violation:
                text = "export * as %s from '%s';" % (b, spec)
            else:
                text = "import * as %s from '%s';" % (b, spec)
                uses.append("typeof %s" % b)
        elif e.type_only:
            text = "import type { Model as %s } from '%s';" % (b, spec)
        elif f.mod is None and i % 3 == 0 and not e.violation:
            text = "export { run as %s } from '%s';" % (b, spec)
        else:
            text = "import { run as %s, VALUE as %sV } from '%s';" % (b, b, spec)
            uses.append("%s(%sV)" % (b, b))
        lines.append(text)
        records.append((e, len(lines), text.index("'") + 1, spec))
    n = f.mod if f.mod is not None else 0
    if f.mod is None:
        lines += ["", "export const VALUE = %d;" % rng.randint(0, 10_000), ""]
        lines += ["export function run(x: number): number {", "  return x + VALUE;", "}", ""]
        lines += ["export interface Model {", "  id: number;", "  name: string;", "}", ""]
        return "\n".join(lines), records
    lines += [
        "",
        "export const VALUE = %d;" % rng.randint(0, 10_000),
        "",
        "export interface Model {",
        "  id: number;",
        "  name: string;",
        "  tags?: string[];",
        "}",
        "",
        "export class Service {",
        "  private readonly items: Model[] = [];",
        "",
        "  add(item: Model): void {",
        "    this.items.push(item);",
        "  }",
        "",
        "  byName(name: string): Model | undefined {",
        "    return this.items.find((m) => m.name === name);",
        "  }",
        "}",
        "",
        "export function run(x: number): number {",
        "  let total = x;",
        "  for (let i = 0; i < %d; i++) {" % (n % 7 + 2),
        "    total += i % 2 === 0 ? i * VALUE : -i;",
        "  }",
        "  return total;",
        "}",
        "",
        "export function touch(): number[] {",
        "  return [%s];" % ", ".join(u for u in uses if not u.startswith("typeof")),
        "}",
        "",
    ]
    if LARGE:
        lines += ts_large_body(f, edges, rng, len(lines))
    return "\n".join(lines), records


def ts_large_body(f, edges, rng, have):
    """Functions up to 200-1,000 lines in all; every fourth loads, inside
    its body, a module the file already imports at the top (`await
    import()`, an allowed edge)."""
    want = rng.randint(LARGE_LINES[0], LARGE_LINES[1])
    lazy = [(i, e) for i, e in enumerate(edges) if not e.violation and not e.type_only]
    out = []
    k = 0
    while have + len(out) < want:
        out.append("")
        if k % 4 == 1 and lazy:
            i, e = lazy[rng.randrange(len(lazy))]
            out += [
                "export async function load%d(): Promise<unknown> {" % k,
                "  // loaded on first use",
                "  const m = await import('%s');" % ts_spec(f, e, i),
                "  return m;",
                "}",
                "",
            ]
        out += [
            "/** Step %d: filters `data`; imports nothing. */" % k,
            "export function step%d(data: Record<string, number[]>, limit = %d): [string, number[]][] {" % (k, rng.randint(1, 99)),
            "  const result: [string, number[]][] = [];",
            "  for (const [key, value] of Object.entries(data).sort()) {",
            "    if (value.length > limit) {",
            "      result.push([key, value.slice(0, limit)]);",
            "    } else if (/^[a-z'\"]+$/.test(key)) {",
            "      result.push([`${key}: ${value.map((v) => v / 2).join(',')}`, value]);",
            "    }",
            "  }",
            "  const note = 'import x from \"y\" is text here';",
            "  return note ? result : [];",
            "}",
        ]
        k += 1
    return out


def write_ts(out, domains, plans, rng, n_domains):
    expected = []
    for files in domains:
        for f in files:
            _, edges, externals = plans[f.key()]
            text, records = ts_source(f, edges, externals, rng)
            path = os.path.join(out, f.ts_path())
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                fh.write(text)
            for e, line, col, spec in records:
                if e.violation:
                    expected.append(
                        {
                            "file": f.ts_path(),
                            "line": line,
                            "column": col,
                            "spec": spec,
                            "target_file": e.target.ts_path(),
                            "from_domain": "d%d" % f.domain,
                            "to_domain": "d%d" % e.target.domain,
                        }
                    )
    tsconfig = {
        "compilerOptions": {
            "target": "ES2022",
            "module": "ESNext",
            "moduleResolution": "Bundler",
            "strict": True,
            "noEmit": True,
            "baseUrl": ".",
            "paths": {"@d%d/*" % d: ["packages/d%d/src/*" % d] for d in range(n_domains)},
        },
        "include": ["packages/*/src/**/*.ts"],
    }
    write(out, "tsconfig.json", json.dumps(tsconfig, indent=2) + "\n")
    write(out, "package.json", json.dumps({"name": "boundary-bench", "private": True, "type": "module"}, indent=2) + "\n")

    rules = []
    for d in range(n_domains - 1):
        higher = "|".join(str(j) for j in range(d + 1, n_domains))
        rules.append(
            "    {\n"
            "      name: 'layer-d%d',\n"
            "      comment: 'd%d may import only lower-numbered domains',\n"
            "      severity: 'error',\n"
            "      from: { path: '^packages/d%d/' },\n"
            "      to: { path: '^packages/d(%s)/' },\n"
            "    }" % (d, d, d, higher)
        )
    def cfg(skip):
        return (
            "/** Generated by benches/boundary/gen_tree.py: domain dN may import only dM with M < N. */\n"
            "module.exports = {\n"
            "  forbidden: [\n" + ",\n".join(rules) + "\n  ],\n"
            "  options: {\n"
            "    doNotFollow: { path: 'node_modules' },\n"
            "    // keep type-only imports and imports TS would elide: the other tools see them too\n"
            "    tsPreCompilationDeps: true,\n"
            "    tsConfig: { fileName: 'tsconfig.json' },\n"
            "    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js', '.d.ts'] },\n"
            + (
                "    // as `depcruise --init` writes it: run only the analyses the rules need\n"
                "    // (no cycle detection, no dependents)\n"
                "    skipAnalysisNotInRules: true,\n"
                if skip
                else "    // no skipAnalysisNotInRules: every analysis runs (cycles, dependents, ...),\n"
                "    // as with a config that predates the option or leaves it out\n"
            )
            + "  },\n"
            "};\n"
        )

    write(out, ".dependency-cruiser.cjs", cfg(True))
    write(out, ".dependency-cruiser.full.cjs", cfg(False))
    return expected


# --------------------------------------------------------------------------


def write(out, name, text):
    with open(os.path.join(out, name), "w") as fh:
        fh.write(text)


STAMP = ".gen_tree"


def prepare_out(out):
    """Create `out`, or empty it if it holds a tree this script wrote before.

    Never deletes a directory it did not create: a non-empty directory without
    the stamp file is refused."""
    if os.path.isdir(out) and os.listdir(out):
        if not os.path.isfile(os.path.join(out, STAMP)):
            sys.exit("refusing to replace %s: not empty and not written by gen_tree.py (no %s)" % (out, STAMP))
        shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)
    write(out, STAMP, "written by benches/boundary/gen_tree.py; replaced on the next run\n")


def comm_yaml(lang, n_domains):
    lines = [
        "# Generated by benches/boundary/gen_tree.py",
        "project: boundary-bench-%s" % lang,
        "main: main",
        'shared: ["comm.yaml", "tsconfig.json", "package.json", "tach.toml", ".importlinter", ".dependency-cruiser.cjs", ".dependency-cruiser.full.cjs", "expected_violations.json", ".gen_tree"]',
        "domains:",
    ]
    for d in range(n_domains):
        scope = "src/pkg%d/**" % d if lang == "py" else "packages/d%d/**" % d
        lines += [
            "  d%d:" % d,
            "    role: synthetic domain %d" % d,
            '    scope: ["%s"]' % scope,
            "    may_import: [%s]" % ", ".join("d%d" % j for j in range(d)),
        ]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", choices=["py", "ts"], required=True)
    ap.add_argument("--out", required=True, help="output directory (a previous tree there is replaced; any other non-empty directory is refused)")
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--domains", type=int, default=10)
    ap.add_argument("--violations", type=int, default=None, help="planted violations (default files // 200)")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--graph", choices=["dag", "random"], default="dag",
                    help="dag (default): imports inside a domain go to earlier files only, no cycles "
                    "apart from the planted violations; random: any file, so each domain is one big "
                    "import cycle (a worst case for cycle detection)")
    ap.add_argument("--large", action="store_true",
                    help="files of 200-1,000 lines: the same imports at the top, then functions, "
                    "every fourth of which imports again inside its body (an allowed module), "
                    "with strings and comments that mention `import`")
    args = ap.parse_args()
    global LARGE
    LARGE = args.large
    if args.domains < 2:
        sys.exit("need at least 2 domains")
    n_viol = args.files // 200 if args.violations is None else args.violations

    rng = random.Random(args.seed)
    domains = layout(args.files, args.domains)
    plans = plan(domains, rng, n_viol, args.graph == "dag")

    prepare_out(args.out)
    body_rng = random.Random(args.seed + 1)
    if args.lang == "py":
        expected = write_py(args.out, domains, plans, body_rng, args.domains)
    else:
        expected = write_ts(args.out, domains, plans, body_rng, args.domains)
    write(args.out, "comm.yaml", comm_yaml(args.lang, args.domains))
    expected.sort(key=lambda v: (v["file"], v["line"]))
    write(args.out, "expected_violations.json", json.dumps(expected, indent=1) + "\n")

    n_files = sum(len(d) for d in domains)
    n_imports = sum(len(p[1]) for p in plans.values())
    n_ext = sum(len(p[2]) for p in plans.values())
    print("lang=%s files=%d domains=%d graph=%s internal_imports=%d external_imports=%d seed=%d out=%s"
          % (args.lang, n_files, args.domains, args.graph, n_imports, n_ext, args.seed, args.out))
    print("planted_violations=%d" % len(expected))


if __name__ == "__main__":
    main()
