#!/bin/sh
# Claims and reservations, two builds side by side in the same run (issue #16).
#
#   benches/before_after.sh OLD_BIN NEW_BIN [DIR]
#
# Builds, with each binary, a repository of 10,000 tasks (the JSONL that
# `cargo bench --bench tasks -- --keep DIR` leaves in DIR: the tasks bench's
# graph, 2,000 per domain) and one of 1,000 live reservations (200 per
# domain, two globs each, then `git repack -ad`), then times `task next` and
# `reserve` with hyperfine (wall and CPU) and counts their instructions with
# callgrind (what the 2-core, shared, 3x-varying machine cannot blur).
set -e
OLD=$1; NEW=$2; JSONL=${3:-/tmp/bk-new}
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=b@b
build() { # BIN DIR
  BIN=$1; D=$2; rm -rf "$D"; mkdir -p "$D/home"; export HOME=$D/home XDG_CONFIG_HOME=$D/home
  for kind in tasks reserve; do
    R=$D/$kind/repo; mkdir -p "$R"; cd "$R"; git init -q -b main
    printf 'project: bench\ndomains:\n' > comm.yaml
    for d in api web shared pricing engine; do printf '  %s: {scope: ["%s/**"]}\n' $d $d >> comm.yaml; done
    git add -A; git commit -qm bench; "$BIN" init >/dev/null
  done
  cd "$D/tasks/repo"
  for d in api web shared pricing engine; do "$BIN" --as human task import --beads "$JSONL/$d.jsonl" --domain $d >/dev/null; done
  git repack -qad; "$BIN" --as web task ready >/dev/null
  cd "$D/reserve/repo"; i=0
  while [ $i -lt 200 ]; do for d in api web shared pricing engine; do "$BIN" --as $d reserve "$d/r$i/**" "$d/s$i/*.rs" >/dev/null; done; i=$((i+1)); done
  git repack -qad; "$BIN" reservations >/dev/null
}
build "$OLD" /tmp/ba-old; build "$NEW" /tmp/ba-new
hyperfine -N --warmup 3 --runs 50 \
  -n "claim before" "$OLD -C /tmp/ba-old/tasks/repo --as shared task next" \
  -n "claim after" "$NEW -C /tmp/ba-new/tasks/repo --as shared task next" \
  -n "reserve before" "$OLD -C /tmp/ba-old/reserve/repo --as shared reserve shared/bench/**" \
  -n "reserve after" "$NEW -C /tmp/ba-new/reserve/repo --as shared reserve shared/bench/**"
for side in old new; do
  if [ $side = old ]; then BIN=$OLD; else BIN=$NEW; fi
  valgrind --tool=callgrind --callgrind-out-file=/tmp/ba-claim-$side.out "$BIN" -C /tmp/ba-$side/tasks/repo --as engine task next 2>&1 >/dev/null | grep refs
  valgrind --tool=callgrind --callgrind-out-file=/tmp/ba-reserve-$side.out "$BIN" -C /tmp/ba-$side/reserve/repo --as engine reserve 'engine/bench/**' 2>&1 >/dev/null | grep refs
done
