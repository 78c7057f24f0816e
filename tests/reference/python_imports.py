#!/usr/bin/env python3
"""Reference import extractor for Python, built on the standard `ast` module.

    python3 tests/reference/python_imports.py [--skipped FILE] PATH...

Prints, for every .py/.pyi file given or found under a directory given, the
same JSON as `comm-node imports --json`:

    [{"file": "<path>", "syntax_errors": false,
      "imports": [{"spec": "..pkg.mod", "names": ["a", "b"], "line": 3,
                   "column": 6, "kind": "import", "type_only": false}]}]

- `import a.b, c as d`        two entries, spec "a.b" and "c", names [];
- `from ..pkg.mod import a, b` spec "..pkg.mod", names ["a", "b"]
                                (`*` for a star import);
- `from . import x`           spec ".", names ["x"].

line and column are 1-based; column counts characters (code points), not
bytes. For `import a.b` it is where `a.b` starts (the alias node); for
`from X import ...` it is where X starts, dots included (the first token
after `from`, found with `tokenize`, since the AST has no position for it).
type_only is true for imports anywhere inside the body of
`if TYPE_CHECKING:` / `if typing.TYPE_CHECKING:` (not its `else`).
Imports at any depth (inside functions, classes, try blocks) are reported.

Files `ast` cannot parse (Python 2 code, intentionally bad test data, or
syntax newer than this interpreter) are left out of the list and reported in
the "skipped" list: on stderr as a count, and in full with `--skipped FILE`
(a JSON list of {"file", "error"}). syntax_errors is always false in the
output, since only files that parse are listed.

The file paths are printed as given (directories joined with the relative
path found below them), in sorted order.
"""

import argparse
import ast
import io
import json
import os
import re
import sys
import tokenize
import warnings

EXTENSIONS = (".py", ".pyi")
NEWLINE = re.compile(r"\r\n|\r|\n")


def find_files(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith(EXTENSIONS):
                        out.append(os.path.join(root, name))
        else:
            out.append(p)
    return out


def source_lines(text):
    """The physical lines as Python numbers them (\\n, \\r\\n and \\r end a line)."""
    return NEWLINE.split(text)


def char_column(lines, lineno, byte_col):
    """ast's 0-based UTF-8 byte offset -> 1-based character column."""
    line = lines[lineno - 1]
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="replace")) + 1


def is_type_checking(test):
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING" and isinstance(test.value, ast.Name) and test.value.id == "typing"
    return False


class Extractor:
    def __init__(self, text):
        self.text = text
        self.lines = source_lines(text)
        self._tokens = None
        self.imports = []

    def tokens(self):
        """Significant tokens (no NL/COMMENT/INDENT/DEDENT), positions in characters."""
        if self._tokens is None:
            skip = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE, tokenize.ENCODING}
            toks = []
            for tok in tokenize.generate_tokens(io.StringIO(self.text, newline=None).readline):
                if tok.type not in skip:
                    toks.append(tok)
            self._tokens = toks
            self._index = {tok.start: i for i, tok in enumerate(toks)}
        return self._tokens

    def from_module_position(self, node):
        """(line, 1-based char column) of the first token after `from`."""
        toks = self.tokens()
        start = (node.lineno, char_column(self.lines, node.lineno, node.col_offset) - 1)
        i = self._index.get(start)
        if i is None or toks[i].string != "from":
            raise ValueError("no `from` token at %s:%s" % start)
        nxt = toks[i + 1]
        return nxt.start[0], nxt.start[1] + 1

    def visit(self, node, type_only):
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.imports.append(
                    {
                        "spec": alias.name,
                        "names": [],
                        "line": alias.lineno,
                        "column": char_column(self.lines, alias.lineno, alias.col_offset),
                        "kind": "import",
                        "type_only": type_only,
                    }
                )
            return
        if isinstance(node, ast.ImportFrom):
            line, col = self.from_module_position(node)
            self.imports.append(
                {
                    "spec": "." * (node.level or 0) + (node.module or ""),
                    "names": [a.name for a in node.names],
                    "line": line,
                    "column": col,
                    "kind": "import",
                    "type_only": type_only,
                }
            )
            return
        if isinstance(node, ast.If) and is_type_checking(node.test):
            self.visit(node.test, type_only)
            for child in node.body:
                self.visit(child, True)
            for child in node.orelse:
                self.visit(child, type_only)
            return
        for child in ast.iter_child_nodes(node):
            self.visit(child, type_only)


def read_source(path):
    """Decode like Python does (coding cookie, BOM), without the BOM."""
    with open(path, "rb") as fh:
        raw = fh.read()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    text = raw.decode(encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def extract(path):
    text = read_source(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences etc.
        tree = ast.parse(text, filename=path, feature_version=None)
    ex = Extractor(text)
    ex.visit(tree, False)
    ex.imports.sort(key=lambda i: (i["line"], i["column"]))
    return ex.imports


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--skipped", help="write the files that failed to parse here (JSON)")
    ap.add_argument("--envelope", action="store_true", help='print {"files": [...], "skipped": [...]} instead of the bare list')
    args = ap.parse_args()
    sys.setrecursionlimit(10_000)

    results, skipped = [], []
    for path in find_files(args.paths):
        try:
            imports = extract(path)
        except (SyntaxError, ValueError, UnicodeDecodeError, LookupError, RecursionError, tokenize.TokenError) as e:
            skipped.append({"file": path, "error": "%s: %s" % (type(e).__name__, e)})
            continue
        results.append({"file": path, "syntax_errors": False, "imports": imports})

    if args.skipped:
        with open(args.skipped, "w") as fh:
            json.dump(skipped, fh, indent=1)
    if skipped:
        print("python_imports: skipped %d file(s) that ast cannot parse" % len(skipped), file=sys.stderr)
    out = {"files": results, "skipped": skipped} if args.envelope else results
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
