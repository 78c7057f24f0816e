#!/bin/sh
# What the disk adds to a command that commits (issue #16).
#
#   benches/disk_floor.sh BIN [DIR]
#
# DIR is what `benches/before_after.sh` left for BIN (default /tmp/ba-new:
# DIR/tasks/repo with 10,000 tasks, DIR/reserve/repo with 1,000 live
# reservations). The script
#   1. times creating a new file and appending to an existing one, on the
#      repositories' filesystem and on tmpfs (/dev/shm);
#   2. counts the new files (inodes) `send`, `task next` and `reserve`
#      create, with strace;
#   3. times `--version`, `send`, `task next` and `reserve` on copies of the
#      repositories on both filesystems, in one hyperfine run, beside git's
#      own plumbing making the same kind of commit (`git commit-tree` and
#      `git update-ref`: one object, one ref lock, as `send` does) and its
#      floor (`git --version` twice under sh).
# Git writes each new object as its own file, and a ref update through a
# `.lock` file; on a disk where a new inode costs a millisecond, that is the
# floor of any tool that commits, git included.
set -e
BIN=$1; DIR=${2:-/tmp/ba-new}
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=b@b
export HOME=$DIR/home XDG_CONFIG_HOME=$DIR/home
DISK=$DIR/floor; SHM=/dev/shm/comm-node-floor
rm -rf "$DISK" "$SHM"; mkdir -p "$DISK" "$SHM"
trap 'rm -rf "$DISK" "$SHM"' EXIT
for fs in "$DISK" "$SHM"; do cp -a "$DIR/tasks" "$DIR/reserve" "$fs/"; done

python3 - "$DISK" "$SHM" <<'EOF'
import os, sys, time
for d in sys.argv[1:]:
    w = os.path.join(d, "inode-probe"); os.mkdir(w)
    s = time.perf_counter()
    for i in range(200):
        os.close(os.open(f"{w}/c{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o444))
    create = (time.perf_counter() - s) / 200
    fd = os.open(f"{w}/c0", os.O_WRONLY | os.O_APPEND); os.close(fd)
    s = time.perf_counter()
    for i in range(200):
        fd = os.open(f"{w}/c0", os.O_WRONLY | os.O_APPEND); os.write(fd, b"x" * 200); os.close(fd)
    append = (time.perf_counter() - s) / 200
    print(f"{d}: new file {create * 1e6:.0f} us, append to an existing file {append * 1e6:.0f} us")
    for i in range(200): os.unlink(f"{w}/c{i}")
    os.rmdir(w)
EOF

count() { # LABEL CMD...: new inodes the command creates
  label=$1; shift
  strace -f -e trace=openat,mkdir -o "$DISK/strace" "$@" >/dev/null
  n=$(grep -E 'O_CREAT\|O_EXCL|O_TRUNC|mkdir\(' "$DISK/strace" | grep -vc ' = -1 ' || true)
  echo "$label: $n new files"
}
T=$DISK/tasks/repo; R=$DISK/reserve/repo
count send "$BIN" -C "$R" --as shared send --to api floor probe
count "task next" "$BIN" -C "$T" --as shared task next
count reserve "$BIN" -C "$R" --as shared reserve 'shared/floor/**'

commit() { echo "sh -c 'c=\$(git -C $1 commit-tree -m x -p comm comm^{tree}) && git -C $1 update-ref refs/heads/floor \$c'"; }
hyperfine -N --warmup 3 --runs 60 --export-json "$DIR/floor.json" \
  -n "comm-node --version" "$BIN --version" \
  -n "git floor (sh, 2x git --version)" "sh -c 'git --version >/dev/null && git --version'" \
  -n "send, disk" "$BIN -C $DISK/reserve/repo --as shared send --to api floor probe" \
  -n "send, tmpfs" "$BIN -C $SHM/reserve/repo --as shared send --to api floor probe" \
  -n "git commit-tree + update-ref, disk" "$(commit $DISK/reserve/repo)" \
  -n "git commit-tree + update-ref, tmpfs" "$(commit $SHM/reserve/repo)" \
  -n "task next, disk" "$BIN -C $DISK/tasks/repo --as shared task next" \
  -n "task next, tmpfs" "$BIN -C $SHM/tasks/repo --as shared task next" \
  -n "reserve, disk" "$BIN -C $DISK/reserve/repo --as shared reserve shared/floor/**" \
  -n "reserve, tmpfs" "$BIN -C $SHM/reserve/repo --as shared reserve shared/floor/**"
python3 - "$DIR/floor.json" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
floor = rows[0]["median"]
print(f"{'command':40} {'p50 ms':>8} {'x --version':>12}")
for r in rows:
    print(f"{r['command']:40} {r['median'] * 1e3:8.2f} {r['median'] / floor:12.2f}")
EOF
