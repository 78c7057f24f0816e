#!/usr/bin/env python3
"""Compare what a boundary checker reported with the planted violations.

    check_found.py tach        TREE OUTPUT   # `tach check --output json`
    check_found.py importlinter TREE OUTPUT  # `lint-imports` text output
    check_found.py depcruise   TREE OUTPUT   # `depcruise --output-type err` text output
    check_found.py comm-node   TREE OUTPUT   # any output naming `file:line`

TREE is a directory written by gen_tree.py (it holds expected_violations.json).
Prints one line: `found=<planted ones reported> planted=<n> extra=<reported, not planted>`
and, on stderr, up to 5 missing and 5 extra ones.

How a report is matched to a planted violation:
  tach          (file, line)            tach reports once per imported name; deduplicated
  importlinter  (importer module, line) from lines like `- a.b -> c.d (l.6, l.9)`
  depcruise     (file, target file)     it reports module pairs, not lines
  comm-node     (file, line)            any `path:line` in the output
"""

import json
import os
import re
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    tool, tree, output = sys.argv[1:]
    with open(os.path.join(tree, "expected_violations.json")) as fh:
        expected = json.load(fh)
    try:
        with open(output, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        text = ""

    if tool == "tach":
        want = {(v["file"], v["line"]) for v in expected}
        got = set()
        try:
            items = json.loads(text) if text.strip() else []
        except ValueError:
            items = []
        for item in items:
            loc = item.get("Located") if isinstance(item, dict) else None
            if loc and loc.get("severity") == "Error":
                got.add((loc["file_path"], loc["line_number"]))
    elif tool == "importlinter":
        want = {(v["module"], v["line"]) for v in expected}
        got = set()
        for m in re.finditer(r"^\s*-\s+(\S+) -> (\S+) \(([^)]*)\)", text, re.M):
            for ln in re.findall(r"l\.(\d+)", m.group(3)):
                got.add((m.group(1), int(ln)))
    elif tool == "depcruise":
        want = {(v["file"], v["target_file"]) for v in expected}
        got = set()
        for m in re.finditer(r"^\s*error \S+: (\S+) → (\S+)", text, re.M):
            got.add((m.group(1), m.group(2)))
    elif tool == "comm-node":
        want = {(v["file"], v["line"]) for v in expected}
        got = set()
        for m in re.finditer(r"([\w./@-]+\.(?:py|ts|tsx|js)):(\d+)", text):
            path = m.group(1)[2:] if m.group(1).startswith("./") else m.group(1)
            got.add((path, int(m.group(2))))
    else:
        sys.exit("unknown tool %s" % tool)

    missing = sorted(want - got)
    extra = sorted(got - want)
    print("found=%d planted=%d extra=%d" % (len(want & got), len(want), len(extra)))
    for m in missing[:5]:
        print("  missing: %s" % (m,), file=sys.stderr)
    for e in extra[:5]:
        print("  extra:   %s" % (e,), file=sys.stderr)


if __name__ == "__main__":
    main()
