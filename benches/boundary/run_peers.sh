#!/usr/bin/env bash
# Time the peer boundary checkers on generated monorepos and check that they
# find the planted violations. See benches/boundary/README.md.
#
#   benches/boundary/run_peers.sh            # everything (Python, then TS)
#   PARTS=py benches/boundary/run_peers.sh   # only tach + import-linter
#   PARTS=ts benches/boundary/run_peers.sh   # only dependency-cruiser
#   TOOLS=comm-node COMM_NODE_CMD=... benches/boundary/run_peers.sh   # only comm-node
#
# Environment (defaults in brackets):
#   BND            scratch root                                     [/tmp/bnd]
#   PEERS_OUT      trees, logs/ and results.tsv go here             [$BND/peers]
#   PEER_VENV      venv holding tach and import-linter              [$BND/venv]
#   PEER_NPM       npm prefix holding dependency-cruiser@16, typescript@5  [$BND/npm]
#   FILES          files in the big trees                           [10000]
#   TS_SMALL_FILES files in the small TS tree                       [2000]
#   PY_GRAPH       gen_tree.py --graph for the Python tree          [dag]
#   TS_GRAPHS      --graph values for the TS trees, each gets a
#                  small and a big tree                             [dag random]
#   RUNS           timed runs per tool (Python, small TS)           [3]
#   TS_BIG_RUNS    timed runs of depcruise with the full-analysis
#                  config on the big TS tree (can take > 20 min)   [1]
#   TS_TIMEOUT     seconds before a depcruise run is killed         [1200]
#   STACK_SIZE     node --stack-size (KB) for the raised-stack run  [65500]
#   TOOLS          which of tach import-linter depcruise comm-node to run  [all]
#   LARGE          1: 200-1,000-line files (gen_tree.py --large); trees
#                  are named *-large                                [0]
#   DEPCRUISE_FULL 0: skip the full-analysis config (17 min on 10k)  [1]
#   TS_SMALL       0: skip the small TS trees                       [1]
#   COMM_NODE_BEFORE_CMD  optional second comm-node command (another
#                  build), timed as comm-node-before, each run right
#                  before the COMM_NODE_CMD run (same load for both)
#   COMM_NODE_CMD  optional command run in each tree root and timed like the
#                  peers; the trees are then committed to a fresh git repository
#                  first (comm-node check reads git), and any `file:line` in its
#                  output counts as a report, e.g.
#                  "$PWD/target/release/comm-node check --all --as human"
#
# Every run is cold as far as the tools go: tach keeps no cache for `check`
# (its computation cache in .tach/ serves `tach test` only; .tach/ is removed
# anyway), import-linter's cache (.import_linter_cache/) is removed before
# each cold run, and one extra warm run shows what that cache buys;
# dependency-cruiser caches only with --cache, which is not used; comm-node's
# import cache (.git/comm-node/, by blob id) is removed before each cold run,
# and one warm run follows. The OS page cache is warm (the trees were just
# written; dropping it needs root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BND=${BND:-/tmp/bnd}
PEER_VENV=${PEER_VENV:-$BND/venv}
PEER_NPM=${PEER_NPM:-$BND/npm}
FILES=${FILES:-10000}
TS_SMALL_FILES=${TS_SMALL_FILES:-2000}
PY_GRAPH=${PY_GRAPH:-dag}
TS_GRAPHS=${TS_GRAPHS:-dag random}
RUNS=${RUNS:-3}
TS_BIG_RUNS=${TS_BIG_RUNS:-1}
TS_TIMEOUT=${TS_TIMEOUT:-1200}
STACK_SIZE=${STACK_SIZE:-65500}
PARTS=${PARTS:-py ts}
TOOLS=${TOOLS:-tach import-linter depcruise comm-node}
COMM_NODE_CMD=${COMM_NODE_CMD:-}
COMM_NODE_BEFORE_CMD=${COMM_NODE_BEFORE_CMD:-}
LARGE=${LARGE:-0}
DEPCRUISE_FULL=${DEPCRUISE_FULL:-1}
TS_SMALL=${TS_SMALL:-1}
GEN_FLAGS=""
SUFFIX=""
if [[ $LARGE == 1 ]]; then GEN_FLAGS="--large"; SUFFIX="-large"; fi

OUT=${PEERS_OUT:-$BND/peers}
RESULTS=$OUT/results.tsv
LOGS=$OUT/logs
mkdir -p "$OUT" "$LOGS"
printf 'tool\ttree\tvariant\trun\twall_s\tmaxrss_mb\texit\tfound\tplanted\textra\tnote\tcpu_s\n' >"$RESULTS"

TACH=$PEER_VENV/bin/tach
LINT=$PEER_VENV/bin/lint-imports
DEPCRUISE_JS=$PEER_NPM/node_modules/dependency-cruiser/bin/dependency-cruise.mjs

note() { printf '== %s\n' "$*" >&2; }

versions() {
  note "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load: $(cut -d' ' -f1-3 /proc/loadavg)"
  note "python $(python3 --version 2>&1 | cut -d' ' -f2), node $(node --version)"
  [[ $PARTS == *py* ]] && want tach && note "tach $("$TACH" --version 2>&1 | awk '{print $NF}'), import-linter $("$PEER_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("import-linter"), "grimp", m.version("grimp"))')"
  [[ $PARTS == *ts* ]] && note "dependency-cruiser $(node "$DEPCRUISE_JS" --version), typescript $(node -e "console.log(require('$PEER_NPM/node_modules/typescript/package.json').version)")"
}

# measure TOOL TREE VARIANT RUN CHECKER TIMEOUT -- CMD...
# Runs CMD in TREE, stdout+stderr to a log; records wall time, max RSS, exit
# status, and what check_found.py says about the planted violations.
measure() {
  local tool=$1 tree=$2 variant=$3 run=$4 checker=$5 limit=$6
  shift 7
  local name
  name=$(basename "$tree")
  local log=$LOGS/$tool-$name-$variant-$run
  local tf=$log.time
  (cd "$tree" && /usr/bin/time -f '%e %M %U %S' -o "$tf" timeout "$limit" "$@" >"$log.out" 2>"$log.err")
  local rc=$?
  local wall rss user sys cpu
  read -r wall rss user sys < <(grep -E '^[0-9.]+ [0-9]+ [0-9.]+ [0-9.]+$' "$tf" | tail -1)
  wall=${wall:-NA}
  cpu=$(python3 -c "print('%.2f' % ($user + $sys))" 2>/dev/null || echo NA)
  rss=${rss:+$((rss / 1024))}
  local found planted extra n
  n=$(python3 "$HERE/check_found.py" "$checker" "$tree" "$log.out" 2>/dev/null)
  found=$(sed -n 's/.*found=\([0-9]*\).*/\1/p' <<<"$n")
  planted=$(sed -n 's/.*planted=\([0-9]*\).*/\1/p' <<<"$n")
  extra=$(sed -n 's/.*extra=\([0-9]*\).*/\1/p' <<<"$n")
  local why=""
  if grep -q 'Maximum call stack size exceeded' "$log.out" "$log.err" 2>/dev/null; then why="stack overflow (RangeError)"; fi
  [[ $rc == 124 ]] && why="killed after ${limit}s"
  [[ $rc == 139 ]] && why="segfault"
  LAST_MISSED=""
  if [[ -z $why && -n $found && -n $planted && $found -lt $planted ]]; then
    LAST_MISSED="missed $((planted - found))"
  fi
  if [[ $tool == depcruise ]]; then
    # "x 50 dependency violations (...). 10003 modules, 69730 dependencies cruised."
    local mods
    mods=$(grep -o '[0-9]* modules, [0-9]* dependencies' "$log.out" | tail -1)
    [[ -n $mods ]] && why="${why:+$why; }$mods"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$name" "$variant" "$run" "$wall" "${rss:-NA}" "$rc" \
    "${found:-NA}" "${planted:-NA}" "${extra:-NA}" "$why" "$cpu" >>"$RESULTS"
  note "$tool $name $variant run $run: ${wall}s (${cpu}s CPU), ${rss:-NA} MB, exit $rc, found ${found:-NA}/${planted:-NA}, extra ${extra:-NA} $why"
  LAST_RC=$rc
  LAST_WHY=$why
}

gen() { # gen LANG N GRAPH DIR
  note "generating $1 tree, $2 files, graph $3 -> $4"
  # shellcheck disable=SC2086
  python3 "$HERE/gen_tree.py" --lang "$1" --files "$2" --graph "$3" $GEN_FLAGS --out "$4" | tail -2 >&2
  if [[ -n $COMM_NODE_CMD ]]; then
    # comm-node check reads what git records: make the tree a repository (not timed)
    (cd "$4" && git init -q -b main && git add -A &&
      git -c user.name=bench -c user.email=bench@localhost commit -qm "generated tree") >&2
  fi
}

comm_node() { # comm_node TREE RUNS
  [[ -z $COMM_NODE_CMD ]] && return
  want comm-node || return 0
  local r
  for ((r = 1; r <= $2; r++)); do
    # comm-node caches extracted imports by blob id in .git/comm-node/
    if [[ -n $COMM_NODE_BEFORE_CMD ]]; then
      rm -rf "$1/.git/comm-node"
      # shellcheck disable=SC2086
      measure comm-node-before "$1" cold "$r" comm-node "$TS_TIMEOUT" -- $COMM_NODE_BEFORE_CMD
    fi
    rm -rf "$1/.git/comm-node"
    # shellcheck disable=SC2086
    measure comm-node "$1" cold "$r" comm-node "$TS_TIMEOUT" -- $COMM_NODE_CMD
  done
  if [[ -n $COMM_NODE_BEFORE_CMD ]]; then
    # the two builds' caches differ (a cache names the code that filled
    # it): fill it with the build that is timed warm
    # shellcheck disable=SC2086
    (cd "$1" && $COMM_NODE_BEFORE_CMD >/dev/null 2>&1)
    # shellcheck disable=SC2086
    measure comm-node-before "$1" warm-cache 1 comm-node "$TS_TIMEOUT" -- $COMM_NODE_BEFORE_CMD
    # shellcheck disable=SC2086
    (cd "$1" && $COMM_NODE_CMD >/dev/null 2>&1)
  fi
  # shellcheck disable=SC2086
  measure comm-node "$1" warm-cache 1 comm-node "$TS_TIMEOUT" -- $COMM_NODE_CMD
}

want() { [[ " $TOOLS " == *" $1 "* ]]; }

run_py() {
  local tree=$OUT/py-$FILES-$PY_GRAPH$SUFFIX r
  gen py "$FILES" "$PY_GRAPH" "$tree"
  if want tach; then
    for ((r = 1; r <= RUNS; r++)); do
      rm -rf "$tree/.tach"
      find "$tree" -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null
      measure tach "$tree" cold "$r" tach 3600 -- "$TACH" check --output json
    done
  fi
  if want import-linter; then
    for ((r = 1; r <= RUNS; r++)); do
      rm -rf "$tree/.import_linter_cache"
      measure import-linter "$tree" cold "$r" importlinter 3600 -- env PYTHONPATH=src "$LINT"
    done
    # the cache left by the last cold run
    measure import-linter "$tree" warm-cache 1 importlinter 3600 -- env PYTHONPATH=src "$LINT"
  fi
  comm_node "$tree" "$RUNS"
}

# depcruise TREE CONFIG VARIANT RUN [STACK_KB]
depcruise() {
  local tree=$1 cfg=$2 variant=$3 run=$4 stack=${5:-}
  if [[ -z $stack ]]; then
    measure depcruise "$tree" "$variant" "$run" depcruise "$TS_TIMEOUT" -- \
      node "$DEPCRUISE_JS" --config "$cfg" --output-type err packages
  else
    # --stack-size only tells V8 how much stack it may use; the thread's real
    # stack (ulimit -s, 8 MB by default) must be larger, or deep recursion
    # segfaults instead of throwing. Raise it for this process only.
    measure depcruise "$tree" "$variant" "$run" depcruise "$TS_TIMEOUT" -- \
      bash -c 'ulimit -s $(( $0 + 8192 )) 2>/dev/null || ulimit -s unlimited; exec node --stack-size=$0 "$1" --config "$2" --output-type err packages' \
      "$stack" "$DEPCRUISE_JS" "$cfg"
  fi
}

# depcruise_series TREE CONFIG VARIANT RUNS: RUNS runs with the default stack;
# if one overflows (a RangeError, or a segfault) or misses planted violations
# (dependency-cruiser 16 catches the RangeError thrown while resolving an
# import and marks the import "couldNotResolve": no crash, fewer modules
# resolved, violations silently lost), the runs go again with
# node --stack-size=$STACK_SIZE.
depcruise_series() {
  local tree=$1 cfg=$2 variant=$3 runs=$4 r again=""
  for ((r = 1; r <= runs; r++)); do
    depcruise "$tree" "$cfg" "$variant" "$r"
    [[ $LAST_WHY == stack* || $LAST_WHY == segfault ]] && again="$LAST_WHY" && break
    [[ $LAST_WHY == killed* ]] && break
    [[ -n $LAST_MISSED ]] && again="$LAST_MISSED planted violations"
  done
  if [[ -n $again ]]; then
    note "depcruise $(basename "$tree") $variant: $again with the default stack; again with node --stack-size=$STACK_SIZE"
    for ((r = 1; r <= runs; r++)); do
      depcruise "$tree" "$cfg" "$variant+stack$STACK_SIZE" "$r" "$STACK_SIZE"
      [[ $LAST_WHY == killed* ]] && break
    done
  fi
}

run_ts() {
  local graph small big
  for graph in $TS_GRAPHS; do
    [[ $TS_SMALL == 1 ]] || break
    small=$OUT/ts-$TS_SMALL_FILES-$graph$SUFFIX
    gen ts "$TS_SMALL_FILES" "$graph" "$small"
    if want depcruise; then
      depcruise_series "$small" .dependency-cruiser.cjs init-config "$RUNS"
      depcruise_series "$small" .dependency-cruiser.full.cjs full-analysis "$RUNS"
    fi
    comm_node "$small" "$RUNS"
  done
  for graph in $TS_GRAPHS; do
    big=$OUT/ts-$FILES-$graph$SUFFIX
    gen ts "$FILES" "$graph" "$big"
    if want depcruise; then
      depcruise_series "$big" .dependency-cruiser.cjs init-config "$RUNS"
      [[ $DEPCRUISE_FULL == 1 ]] &&
        depcruise_series "$big" .dependency-cruiser.full.cjs full-analysis "$TS_BIG_RUNS"
    fi
    comm_node "$big" "$RUNS"
  done
}

versions
[[ $PARTS == *py* ]] && run_py
[[ $PARTS == *ts* ]] && run_ts

# The table: one row per (tool, tree, variant), times of every run and the median.
python3 - "$RESULTS" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
groups = {}
for r in rows:
    groups.setdefault((r["tool"], r["tree"], r["variant"]), []).append(r)
print()
print("| tool | tree | variant | runs: wall s | median s | median CPU s | max RSS MB | exit | planted violations found | extra | note |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for (tool, tree, variant), rs in groups.items():
    walls = [float(r["wall_s"]) for r in rs if r["wall_s"] not in ("", "NA")]
    med = "%.2f" % statistics.median(walls) if walls else "NA"
    cpus = [float(r["cpu_s"]) for r in rs if r.get("cpu_s") not in (None, "", "NA")]
    cpu = "%.2f" % statistics.median(cpus) if cpus else "NA"
    rss = max((int(r["maxrss_mb"]) for r in rs if r["maxrss_mb"] not in ("", "NA")), default=0)
    exits = ",".join(sorted({r["exit"] for r in rs}))
    fs = sorted({int(r["found"]) for r in rs if r["found"].isdigit()})
    found = ("%d" % fs[0] if len(fs) == 1 else "%d-%d" % (fs[0], fs[-1]) if fs else "NA") + "/" + rs[-1]["planted"]
    notes = "; ".join(sorted({r["note"] for r in rs if r["note"]}))
    extras = sorted({r["extra"] for r in rs})
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        tool, tree, variant, ", ".join("%.2f" % w for w in walls), med, cpu, rss or "NA", exits, found,
        ",".join(extras), notes))
print()
print("raw results: %s" % sys.argv[1])
EOF
