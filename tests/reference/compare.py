#!/usr/bin/env python3
"""Compare `comm-node imports --json` with a reference extractor over a corpus.

    COMM_NODE=target/release/comm-node \\
      python3 tests/reference/compare.py --lang py CORPUS_DIR...
    COMM_NODE=target/release/comm-node TS_MODULE=/tmp/bnd/npm/node_modules/typescript \\
      python3 tests/reference/compare.py --lang ts CORPUS_DIR...

The corpus directories are walked here (Python: .py .pyi; TS/JS: .ts .tsx .js
.jsx .mjs .cjs .mts .cts, .d.ts included), and the same file list is handed,
in chunks, to both the reference (python_imports.py run by this interpreter,
or `node ts_imports.mjs`) and `comm-node imports --json`, so the two never
disagree about which files exist.

Per file, the multisets of (spec, line, column, kind, type_only) are compared,
plus names for Python. Reported:

- files compared, imports compared (reference / comm-node);
- mismatching imports: in one output and not the other (first --show, default
  20, shown with the source line);
- files over --max-bytes (default 2 MiB, comm-node's limit): left out;
- files the reference skipped (Python files `ast` cannot parse): not compared;
- files missing from comm-node's output: mismatches;
- syntax_errors disagreements: counted and shown, not fatal;
- mismatches in files where either side reports syntax errors: counted
  separately, fatal only with --strict (parsers recover differently).

Exit status: 0 when everything compared matches, 1 on any mismatch, 2 on a
usage or tool failure.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PY_EXT = (".py", ".pyi")
TS_EXT = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")


def walk(dirs, exts, exclude, max_bytes):
    """(files to compare, files over max_bytes)."""
    files, big = [], []
    for f in walk_all(dirs, exts, exclude):
        (big if max_bytes and os.path.getsize(f) > max_bytes else files).append(f)
    return files, big


def walk_all(dirs, exts, exclude):
    files = []
    for d in dirs:
        if not os.path.exists(d):
            sys.exit("compare: no such file or directory: %s" % d)
        if os.path.isfile(d):
            files.append(d)
            continue
        for root, subdirs, names in os.walk(d):
            subdirs[:] = sorted(s for s in subdirs if s not in exclude)
            for n in sorted(names):
                if n.endswith(exts):
                    p = os.path.join(root, n)
                    if os.path.isfile(p):
                        files.append(p)
    return files


def chunks(seq, n):
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def key(path):
    return os.path.normpath(os.path.abspath(path))


def run_json(cmd, what, env=None):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    except OSError as e:
        sys.exit("compare: cannot run %s (%s): %s" % (what, cmd[0], e))
    if p.returncode != 0 and not p.stdout.strip():
        sys.stderr.write(p.stderr.decode(errors="replace"))
        print("compare: %s exited with %d and printed nothing" % (what, p.returncode), file=sys.stderr)
        sys.exit(2)
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        sys.stderr.write(p.stderr.decode(errors="replace")[-2000:])
        print("compare: %s did not print JSON: %s" % (what, e), file=sys.stderr)
        sys.exit(2)


def entry(imp, lang):
    t = (imp["spec"], imp["line"], imp["column"], imp["kind"], bool(imp["type_only"]))
    if lang == "py":
        t += (tuple(imp.get("names") or ()),)
    return t


def fmt(t, lang):
    s = "%s:%s %-13s spec=%r type_only=%s" % (t[1], t[2], t[3], t[0], t[4])
    if lang == "py":
        s += " names=%s" % list(t[5])
    return s


def disp(path):
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def source_line(path, line, cache={}):
    if path not in cache:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                cache[path] = fh.read().split("\n")
        except OSError:
            cache[path] = []
    lines = cache[path]
    return lines[line - 1].rstrip("\r") if 0 < line <= len(lines) else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", nargs="+", help="directories (or files) to compare over")
    ap.add_argument("--lang", choices=["py", "ts"], required=True)
    ap.add_argument("--comm-node", default=os.environ.get("COMM_NODE"), help="comm-node binary (default $COMM_NODE)")
    ap.add_argument("--node", default=os.environ.get("NODE", "node"), help="node binary for the TS reference")
    ap.add_argument("--chunk", type=int, default=500, help="files per invocation (default 500)")
    ap.add_argument("--show", type=int, default=20, help="mismatches to print (default 20)")
    ap.add_argument("--exclude-dir", action="append", default=[], help="directory name to skip while walking (repeatable)")
    ap.add_argument("--max-bytes", type=int, default=2 * 1024 * 1024,
                    help="leave out files larger than this: comm-node skips them (prints no imports); "
                    "default 2 MiB, 0 for no limit")
    ap.add_argument("--strict", action="store_true", help="also fail on mismatches in files with syntax errors")
    ap.add_argument("--report", help="write every mismatch here as JSON")
    args = ap.parse_args()
    if not args.comm_node:
        ap.error("give --comm-node or set COMM_NODE")

    lang = args.lang
    files, big = walk(args.corpus, PY_EXT if lang == "py" else TS_EXT, set(args.exclude_dir), args.max_bytes)
    if not files:
        sys.exit("compare: no %s files under %s" % (lang, " ".join(args.corpus)))

    ref, comm, skipped = {}, {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for i, chunk in enumerate(chunks(files, args.chunk)):
            if lang == "py":
                skipped_file = os.path.join(tmp, "skipped-%d.json" % i)
                cmd = [sys.executable, os.path.join(HERE, "python_imports.py"), "--skipped", skipped_file] + chunk
            else:
                cmd = [args.node, os.path.join(HERE, "ts_imports.mjs")] + chunk
            for f in run_json(cmd, "reference"):
                ref[key(f["file"])] = f
            if lang == "py":
                with open(skipped_file) as fh:
                    skipped += json.load(fh)
            for f in run_json([args.comm_node, "imports", "--json"] + chunk, "comm-node imports"):
                comm[key(f["file"])] = f

    n_files = n_ref = n_comm = 0
    mismatches = []  # (file, side, entry, fatal)
    missing = []
    syntax_disagree = []
    files_bad = set()
    for k in sorted(ref):
        r = ref[k]
        c = comm.get(k)
        if c is None:
            missing.append(k)
            continue
        n_files += 1
        rc = collections.Counter(entry(i, lang) for i in r["imports"])
        cc = collections.Counter(entry(i, lang) for i in c["imports"])
        n_ref += sum(rc.values())
        n_comm += sum(cc.values())
        rse, cse = bool(r.get("syntax_errors")), bool(c.get("syntax_errors"))
        if rse != cse:
            syntax_disagree.append((k, rse, cse))
        fatal = args.strict or not (rse or cse)
        for t, n in (rc - cc).items():
            mismatches += [(k, "reference only", t, fatal)] * n
            files_bad.add(k)
        for t, n in (cc - rc).items():
            mismatches += [(k, "comm-node only", t, fatal)] * n
            files_bad.add(k)
    mismatches.sort(key=lambda m: (m[0], m[2][1], m[2][2], m[1]))

    fatal = [m for m in mismatches if m[3]]
    lenient = [m for m in mismatches if not m[3]]
    print("lang: %s   corpus: %s" % (lang, " ".join(args.corpus)))
    print("files walked: %d   over --max-bytes (left out): %d   compared: %d   skipped by the reference (unparseable): %d   missing from comm-node: %d"
          % (len(files) + len(big), len(big), n_files, len(skipped), len(missing)))
    print("imports compared: reference %d, comm-node %d" % (n_ref, n_comm))
    print("mismatching imports: %d in %d file(s)%s" % (
        len(fatal), len({m[0] for m in fatal}),
        ("   (+%d in files with syntax errors, not fatal without --strict)" % len(lenient)) if lenient else ""))
    print("syntax_errors disagreements: %d (reference says / comm-node says)" % len(syntax_disagree))
    for k, rse, cse in syntax_disagree[: args.show]:
        print("  %s  reference=%s comm-node=%s" % (disp(k), rse, cse))
    for k in missing[: args.show]:
        print("  missing from comm-node output: %s" % disp(k))

    shown = (fatal + lenient)[: args.show]
    if shown:
        print("\nfirst %d mismatch(es):" % len(shown))
    for k, side, t, is_fatal in shown:
        print("  %s  [%s]%s\n      %s\n      | %s" % (
            disp(k), side, "" if is_fatal else " (file has syntax errors)", fmt(t, lang),
            source_line(k, t[1]).strip()[:160]))

    if args.report:
        with open(args.report, "w") as fh:
            json.dump(
                {
                    "mismatches": [
                        {"file": k, "side": side, "entry": dict(zip(
                            ["spec", "line", "column", "kind", "type_only", "names"], t)), "fatal": f}
                        for k, side, t, f in mismatches
                    ],
                    "missing": missing,
                    "syntax_disagreements": [{"file": k, "reference": a, "comm_node": b} for k, a, b in syntax_disagree],
                    "skipped": skipped,
                },
                fh,
                indent=1,
            )

    ok = not fatal and not missing
    print("\nRESULT: %s" % ("OK" if ok else "MISMATCH"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
