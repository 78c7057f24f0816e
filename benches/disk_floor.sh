#!/usr/bin/env bash
# What the disk adds to a command that commits (issue #16).
#
#   benches/disk_floor.sh BIN DIR [BIN2 DIR2]
#
# DIR is what `benches/before_after.sh` left for BIN (/tmp/ba-new for its
# NEW binary, /tmp/ba-old for OLD: DIR/tasks/repo with 10,000 tasks,
# DIR/reserve/repo with 1,000 live reservations). With a second pair, both
# builds take turns in the same run (the disk's speed moves from minute
# to minute on this machine, so only same-run figures compare). The script
#   1. times creating a new file and appending to an existing one, on the
#      repositories' filesystem and on tmpfs (/dev/shm);
#   2. counts the new files (inodes) `send`, `task next` and `reserve`
#      create, with strace;
#   3. times `--version`, `send`, `task next` and `reserve` on copies of the
#      repositories on both filesystems, taking turns (RUNS rounds, default
#      60, after three warm-up rounds), beside git's
#      own plumbing making the same kind of commit (`git commit-tree` and
#      `git update-ref`: one object, one ref lock, as `send` does) and its
#      floor (`git --version` twice under sh), and `git fast-import`
#      adding one file under `reservations/` (the five objects and the ref
#      update `reserve` makes, in one git process).
# Git writes each new object as its own file, and a ref update through a
# `.lock` file; on a disk where a new inode costs a millisecond, that is the
# floor of any tool that commits, git included.
set -e
[ $# = 2 ] || [ $# = 4 ] || { echo "usage: $0 BIN DIR [BIN2 DIR2]" >&2; exit 2; }
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=b@b
export HOME=$2/home XDG_CONFIG_HOME=$2/home
WORK=$(mktemp -d "$2/floor.XXXXXX"); SHM=$(mktemp -d /dev/shm/comm-node-floor.XXXXXX)
trap 'rm -rf "$WORK" "$SHM"' EXIT

python3 - "$WORK" "$SHM" <<'EOF'
import os, sys, time
for d in sys.argv[1:]:
    w = os.path.join(d, "inode-probe"); os.mkdir(w)
    s = time.perf_counter()
    for i in range(200):
        os.close(os.open(f"{w}/c{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o444))
    create = (time.perf_counter() - s) / 200
    s = time.perf_counter()
    for i in range(200):
        fd = os.open(f"{w}/c0", os.O_WRONLY | os.O_APPEND); os.write(fd, b"x" * 200); os.close(fd)
    append = (time.perf_counter() - s) / 200
    print(f"{d}: new file {create * 1e6:.0f} us, append to an existing file {append * 1e6:.0f} us")
    for i in range(200): os.unlink(f"{w}/c{i}")
    os.rmdir(w)
EOF

count() { # LABEL CMD...: the new files (inodes) a command creates
  local label=$1; shift
  strace -f -e trace=openat,mkdir -o "$WORK/strace" "$@" >/dev/null
  echo "$label: $(grep -E 'O_CREAT\|O_EXCL|O_TRUNC|mkdir\(' "$WORK/strace" | grep -vc ' = -1 ' || true) new files"
}
commit() { # REPO: git's plumbing for one commit and one ref update
  echo "c=\$(git -C $1 commit-tree -m x -p comm comm^{tree}) && git -C $1 update-ref refs/heads/floor \$c"
}
add_file() { # REPO: git fast-import adding one file under reservations/ on top of comm (ref floor)
  # (blob, shard folder, reservations/, root tree, commit, ref: what
  # `reserve` writes; under 100 objects fast-import leaves them loose)
  printf '%s' "printf 'commit refs/heads/floor\\ncommitter b <b@b> 1796617674 +0000\\ndata 2\\nfi\\nfrom refs/heads/comm^0\\nM 100644 inline reservations/zz/R-%s.yaml\\ndata 40\\ndomain: shared\\nglobs: [shared/floor/**]\\n\\n' \$\$ | git -C $1 fast-import --quiet --force"
}
# name TAB command, one per line; the runner below takes turns among them.
cmds=$WORK/commands
printf 'git floor (sh, 2x git --version)\tsh -c "git --version >/dev/null && git --version"\n' > "$cmds"
first=1
while [ $# -gt 0 ]; do
  BIN=$1; DIR=$2; shift 2
  tag=build$first
  echo "$tag = $BIN"
  printf '%s --version\t%s --version\n' "$tag" "$BIN" >> "$cmds"
  for fs in disk tmpfs; do
    [ $fs = disk ] && root=$WORK/$fs.$first || root=$SHM/$fs.$first
    mkdir -p "$root"; cp -a "$DIR/tasks" "$DIR/reserve" "$root/"
    if [ $fs = disk ]; then
      count "$tag send" "$BIN" -C "$root/reserve/repo" --as shared send --to api floor probe
      count "$tag task next" "$BIN" -C "$root/tasks/repo" --as shared task next
      count "$tag reserve" "$BIN" -C "$root/reserve/repo" --as shared reserve 'shared/floor/**'
    fi
    if [ $first = 1 ]; then
      printf 'git commit-tree + update-ref, %s\tsh -c "%s"\n' $fs "$(commit "$root/reserve/repo")" >> "$cmds"
      printf 'git fast-import, one file added, %s\tsh -c "%s"\n' $fs "$(add_file "$root/reserve/repo")" >> "$cmds"
    fi
    printf '%s send, %s\t%s -C %s --as shared send --to api floor probe\n' $tag $fs "$BIN" "$root/reserve/repo" >> "$cmds"
    printf '%s task next, %s\t%s -C %s --as shared task next\n' $tag $fs "$BIN" "$root/tasks/repo" >> "$cmds"
    printf '%s reserve, %s\t%s -C %s --as shared reserve shared/floor/**\n' $tag $fs "$BIN" "$root/reserve/repo" >> "$cmds"
  done
  first=$((first + 1))
done

# Each round runs every command once, in turn, so a disk that speeds up or
# slows down weighs on all of them alike (hyperfine runs one command's
# runs back to back). posix_spawn and wait4: the same small overhead for
# every command, and the child's own user and system time.
python3 - "$cmds" "${RUNS:-60}" <<'EOF'
import os, shlex, statistics, sys, time
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
runs = int(sys.argv[2])
null = os.open(os.devnull, os.O_WRONLY)
times = {name: [] for name, _ in rows}
def once(argv):
    t = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
    _, status, ru = os.wait4(pid, 0)
    if status != 0:
        sys.exit(f"failed ({status}): {' '.join(argv)}")
    return time.perf_counter() - t, ru.ru_utime, ru.ru_stime
for i in range(runs + 3):
    for name, cmd in rows:
        r = once(shlex.split(cmd))
        if i >= 3:  # three warm-up rounds
            times[name].append(r)
floor = {n.split()[0]: statistics.median(t[0] for t in times[n])
         for n, _ in rows if n.endswith("--version")}
# CPU times come in clock ticks here, so their means, not their medians.
print(f"{'p50 of ' + str(runs) + ' interleaved runs':44} {'ms':>7} {'user':>6} {'sys':>6} {'x own --version':>16}")
for name, _ in rows:
    wall = statistics.median(t[0] for t in times[name])
    user = statistics.mean(t[1] for t in times[name]) * 1e3
    system = statistics.mean(t[2] for t in times[name]) * 1e3
    base = floor.get(name.split()[0])
    ratio = f"{wall / base:16.2f}" if base else ""
    print(f"{name:44} {wall * 1e3:7.2f} {user:6.2f} {system:6.2f} {ratio}")
EOF
