#!/bin/sh
# comm-node hook shim: installed by `comm-node init`, safe to delete.
# A hook that was here before comm-node was moved to @HOOK@.pre-comm-node
# and still runs first.
chained="$(dirname "$0")/@HOOK@.pre-comm-node"
if [ -x "$chained" ]; then
    "$chained" "$@" || exit $?
fi
comm_node=@COMM_NODE@
[ -x "$comm_node" ] || comm_node=comm-node
exec "$comm_node" hook @HOOK@ "$@"
