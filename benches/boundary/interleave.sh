#!/bin/sh
# Times several commands alternately in one directory, ROUNDS rounds, so a
# machine whose load changes from minute to minute weighs on all of them
# alike; prints median and minimum wall and user+sys CPU seconds of each.
#
#   benches/boundary/interleave.sh DIR ROUNDS 'CMD' ['CMD'...]
#
# Before each run the caches go: .git/comm-node (comm-node), .tach and
# .import_linter_cache (all runs are cold). Example, the Python tree of run_peers.sh:
#
#   benches/boundary/interleave.sh /tmp/bnd/peers/py-10000-dag 7 \
#     '/tmp/bnd/venv/bin/tach check --output json' \
#     '/tmp/old/comm-node check --all --as human' \
#     'target/release/comm-node check --all --as human'
set -e
DIR=$1; ROUNDS=$2; shift 2
T=$(mktemp); trap 'rm -f "$T"' EXIT
for r in $(seq "$ROUNDS"); do
  n=0
  for cmd in "$@"; do
    n=$((n + 1))
    (cd "$DIR" && rm -rf .git/comm-node .tach .import_linter_cache &&
      /usr/bin/time -a -o "$T" -f "$n %e %U %S" sh -c "$cmd" >/dev/null 2>&1) || true
  done
done
python3 - "$T" "$@" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 4 and p[0].isdigit():
        runs[int(p[0])].append((float(p[1]), float(p[2]) + float(p[3])))
for i, cmd in enumerate(sys.argv[2:], 1):
    w = [x[0] for x in runs[i]]; c = [x[1] for x in runs[i]]
    print("wall med %.2f min %.2f  cpu med %.2f min %.2f  n=%d  %s" % (
        statistics.median(w), min(w), statistics.median(c), min(c), len(w), cmd))
PY
