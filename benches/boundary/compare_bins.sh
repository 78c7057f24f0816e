#!/bin/sh
# Before/after in one run: times two comm-node binaries alternately on the
# same generated 10k-file trees (gen_tree.py), so machine load hits both.
#
#   benches/boundary/compare_bins.sh OLD_BIN NEW_BIN [ROUNDS]
#
# For each language: checks both report exactly the planted violations,
# then `check --all --json` cold (import cache removed) and warm, and
# `check --staged --json` with 20 changed files, ROUNDS times each (default
# 7). Prints the median and minimum wall and user+sys CPU seconds; on a
# loaded machine compare the CPU figures.
set -e
OLD=$1; NEW=$2; ROUNDS=${3:-7}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; mkdir -p "$W/home"
export HOME=$W/home XDG_CONFIG_HOME=$W/home GIT_CONFIG_NOSYSTEM=1 \
  GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@b
run() { # LABEL BIN ARGS...
  label=$1; bin=$2; shift 2
  /usr/bin/time -f "$label $(basename "$bin") %e %U %S" "$bin" "$@" >/dev/null 2>"$W/err" || true
  tail -1 "$W/err" >> "$W/times"
}
for lang in py ts; do
  T=$W/tree-$lang
  python3 "$HERE/gen_tree.py" --lang $lang --files 10000 --out "$T" >/dev/null
  cd "$T"; git init -q -b main; git add -A; git commit -qm tree
  for bin in "$OLD" "$NEW"; do
    "$bin" check --all --json > "$W/out.json" || true
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); e=json.load(open('expected_violations.json')); e=e.get('violations',e) if isinstance(e,dict) else e; k=lambda vs: sorted((v['file'],v['line']) for v in vs); assert k(r['violations'])==k(e), sys.argv[2]+': violations differ from the planted ones'" "$W/out.json" "$bin"
  done
  for mode in cold warm; do
    for i in $(seq "$ROUNDS"); do for bin in "$OLD" "$NEW"; do
      [ $mode = cold ] && rm -f .git/comm-node/imports-v1
      run "$lang check--all-$mode" "$bin" check --all --json
    done; done
  done
  c="# touched"; [ $lang = ts ] && c="// touched"
  for f in $(git ls-files -- "*9/*.$lang" | head -20); do echo "$c" >> "$f"; done
  git add -A
  for i in $(seq "$ROUNDS"); do for bin in "$OLD" "$NEW"; do
    run "$lang check--staged-20" "$bin" check --staged --json
  done; done
  cd "$W"
done
python3 - "$W/times" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(lambda: ([], []))
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) != 6:
        continue
    what, lang_bin, wall, user, system = parts[0] + " " + parts[1], parts[2], *map(float, parts[3:])
    rows[(what, lang_bin)][0].append(wall)
    rows[(what, lang_bin)][1].append(user + system)
for (what, binary), (wall, cpu) in sorted(rows.items()):
    print(f"{what:28} {binary:14} n={len(wall)} wall med {statistics.median(wall):.3f} min {min(wall):.3f}  cpu med {statistics.median(cpu):.3f} min {min(cpu):.3f}")
PY
