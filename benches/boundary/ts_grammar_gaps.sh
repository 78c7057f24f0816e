#!/usr/bin/env bash
# comm-node's TS/JS imports against the TypeScript compiler's on npm packages
# whose sources tree-sitter-typescript 0.23 partly cannot parse (effect, zod,
# @tanstack/react-router), and how many files it flags with syntax errors.
# The packages are installed from the npm registry into a scratch directory;
# nothing fetched is committed.
#
#   cargo build --release
#   benches/boundary/ts_grammar_gaps.sh
#
# Environment (defaults in brackets):
#   BND        scratch root                                  [/tmp/bnd]
#   COMM_NODE  the binary to measure                         [target/release/comm-node]
#   PACKAGES   npm packages to compare over                  [effect zod @tanstack/react-router]
#
# Prints compare.py's summary (imports on each side, mismatching imports, the
# syntax_errors disagreements) and the count of files comm-node flags with
# syntax errors and with "imports may be missing". Exit status: compare.py's
# (0: no mismatching import, counting files with syntax errors too).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
BND=${BND:-/tmp/bnd}
COMM_NODE=${COMM_NODE:-$here/target/release/comm-node}
read -r -a packages <<<"${PACKAGES:-effect zod @tanstack/react-router}"
export COMM_NODE

if [ ! -f "$BND/npm/node_modules/typescript/package.json" ]; then
  npm install --no-audit --no-fund --silent --prefix "$BND/npm" typescript@5
fi
corpus=()
missing=()
for p in "${packages[@]}"; do
  [ -f "$BND/gaps/node_modules/$p/package.json" ] || missing+=("$p")
  corpus+=("$BND/gaps/node_modules/$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  npm install --no-audit --no-fund --silent --prefix "$BND/gaps" "${missing[@]}"
fi
for p in "${packages[@]}"; do
  printf '%s %s\n' "$p" "$(node -p "require('$BND/gaps/node_modules/$p/package.json').version")"
done
export TS_MODULE=$BND/npm/node_modules/typescript
status=0
python3 "$here/tests/reference/compare.py" --lang ts --strict --show 10 \
  --report "$BND/gaps/report.json" "${corpus[@]}" | grep -v '  reference=False comm-node=True$' || status=$?
"$COMM_NODE" imports --json "${corpus[@]}" | python3 -c '
import json, sys
files = json.load(sys.stdin)
print("comm-node: %d files, %d with syntax errors, %d where imports may be missing" % (
    len(files), sum(f["syntax_errors"] for f in files),
    sum(f.get("imports_may_be_missing", False) for f in files)))'
exit $status
