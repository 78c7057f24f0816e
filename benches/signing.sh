#!/bin/sh
# The cost of signing one `send`: the same message sent by the real binary
# in a repository without signing and in one after `init --sign`.
# Usage: benches/signing.sh [path/to/comm-node]   (needs hyperfine)
set -eu
BIN=${1:-target/release/comm-node}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
export HOME="$DIR" GIT_CONFIG_NOSYSTEM=1
for name in plain signed; do
    git init -q -b main "$DIR/$name"
    cd "$DIR/$name"
    git config user.name bench && git config user.email bench@example.invalid
    printf 'project: %s\ndomains:\n  api:\n    scope: ["api/**"]\n  web:\n    scope: ["web/**"]\n' "$name" > comm.yaml
    git add -A && git commit -qm init
    if [ "$name" = signed ]; then "$BIN" init --sign > /dev/null; else "$BIN" init > /dev/null; fi
done
hyperfine -N --warmup 20 --runs "${RUNS:-300}" ${EXPORT:+--export-json "$EXPORT"} \
    --command-name 'send, signing off' "$BIN -C $DIR/plain --as api send --to web bench" \
    --command-name 'send, signing on' "$BIN -C $DIR/signed --as api send --to web bench"
# A full verify of the history each send left (one ssh-keygen per signed event).
hyperfine -N --runs 3 \
    --prepare "rm -f $DIR/plain/.git/comm-node/verified $DIR/signed/.git/comm-node/verified" \
    --command-name 'verify, signing off' "$BIN -C $DIR/plain verify" \
    --command-name 'verify, signing on' "$BIN -C $DIR/signed verify"
