#!/bin/sh
# make.sh: the README's screenshots of the dashboard.  Each screen is shown
# in a private tmux server (100x30, 256 colours, UTF-8), saved as plain
# text (capture-pane -p: NAME.txt) and rendered to PNG (capture-pane -e,
# ansi2html.py, headless Chromium: NAME.png).
#
#	docs/screenshots/make.sh BUILD_DIR
#
# Screens: the containers of the cgroup-v1 Docker fixture; the cgroup tree
# of the pure-v2 systemd fixture (--all --tree) with the help overlay; a
# real cgroup's processes (needs root: a Python process holding 64 MiB);
# `run --live` on a Python program with a known top site.  Needs tmux,
# python3 and chromium (Debian packages tmux, python3, chromium).

set -u
build=$(cd "${1:-.}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
MEMPROF=$build/memprof
FX=$src/tests/fixtures
SOCK=memprof-shots-$$
TM="tmux -L $SOCK -f /dev/null"
TMP=$(mktemp -d)
CG=/sys/fs/cgroup
NAME=memprof-shot
DIRS=""
KIDS=""
cleanup() {
    $TM kill-server 2>/dev/null
    touch "$TMP/stop"
    # The workload forks: end every process of its cgroup, not only the first.
    for d in $DIRS; do KIDS="$KIDS $(cat "$d/cgroup.procs" 2>/dev/null)"; done
    for p in $KIDS; do kill "$p" 2>/dev/null; done
    for p in $KIDS; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
    for d in $DIRS; do rmdir "$d" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
command -v tmux >/dev/null || { echo "make.sh: needs tmux"; exit 1; }
CHROME=$(command -v chromium || command -v chromium-browser) || { echo "make.sh: needs chromium"; exit 1; }

# wait_for REGEX: poll the pane until REGEX shows (20 s at most).
wait_for() {
    n=400
    while [ $n -gt 0 ]; do
        $TM capture-pane -p -t s | grep -Eq -- "$1" && return 0
        sleep 0.05; n=$((n - 1))
    done
    echo "make.sh: '$1' never showed:" >&2
    $TM capture-pane -p -t s >&2
    return 1
}

# start ENV... -- CMD: run CMD in a fresh 100x30 session.
start() {
    $TM kill-server 2>/dev/null
    e=""
    while [ "$1" != "--" ]; do e="$e $1"; shift; done
    shift
    $TM new-session -d -s s -x 100 -y 30 -c "$TMP" "env TERM=screen-256color LANG=C.UTF-8 LC_ALL=C.UTF-8$e $*; sleep 600"
}

# shot NAME TITLE: save the pane as NAME.txt and NAME.png.
shot() {
    $TM capture-pane -p -t s > "$here/$1.txt"
    $TM capture-pane -p -e -t s | python3 "$here/ansi2html.py" "$2" > "$TMP/$1.html"
    "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size=940,560 --screenshot="$here/$1.png" "file://$TMP/$1.html" >/dev/null 2>&1
    echo "$here/$1.png"
}

fixture() {
    echo "MEMPROF_PROC_ROOT=$FX/$1/proc MEMPROF_CGROUP_ROOT=$FX/$1/sys/fs/cgroup MEMPROF_DOCKER_ROOT=$FX/$1/var/lib/docker MEMPROF_CONTAINERD_ROOT=$FX/$1/run/containerd MEMPROF_PODMAN_ROOT=$FX/$1/var/lib/containers/storage MEMPROF_DOCKER_SOCKET="
}

# 1. containers, docker's columns plus swap, OOM kills, pressure.
start $(fixture cgroup-v1-docker) -- "$MEMPROF" top -d 0.5
wait_for '^mp-net1 ' && sleep 3 && shot top-containers "memprof top"

# 2. the cgroup tree with --all, and the help overlay.
start $(fixture cgroup-v2-systemd) -- "$MEMPROF" top -d 0.5 --all --tree
wait_for 'worker' && $TM send-keys -t s Down Down && sleep 1 && shot top-tree "memprof top --all --tree"
$TM send-keys -t s '?'
wait_for 'memprof top: keys' && shot top-help "memprof top: help"

# 3. a real cgroup's processes (root only).
if [ "$(id -u)" -eq 0 ] && { [ -d "$CG/memory" ] || [ -f "$CG/cgroup.controllers" ]; }; then
    procs=""
    if [ -f "$CG/cgroup.controllers" ]; then
        mkdir -p "$CG/$NAME" && DIRS="$CG/$NAME" && procs="$CG/$NAME/cgroup.procs"
    else
        for h in memory cpuacct pids blkio; do
            [ -d "$CG/$h" ] || continue
            mkdir -p "$CG/$h/$NAME" && DIRS="$DIRS $CG/$h/$NAME" && procs="$procs $CG/$h/$NAME/cgroup.procs"
        done
    fi
    cat > "$TMP/hold.py" <<'EOF'
import os, sys, time
for p in sys.argv[1:]:
    open(p, "w").write(str(os.getpid()))
if os.fork() == 0:
    b = bytearray(16 << 20)
    for i in range(0, len(b), 4096): b[i] = 1
    time.sleep(600)
b = bytearray(64 << 20)
for i in range(0, len(b), 4096): b[i] = 1
time.sleep(600)
EOF
    python3 "$TMP/hold.py" $procs &
    KIDS=$!
    start -- "$MEMPROF" top -d 0.5 --all -f "$NAME"
    wait_for "^/$NAME " && $TM send-keys -t s Enter
    wait_for 'python3' && sleep 2 && shot top-processes "memprof top: processes of a cgroup"
fi

# 4. run --live on a Python program.
cat > "$TMP/app.py" <<'EOF'
import os, sys, time

def load_embeddings():
    table = []
    for i in range(160):
        table.append(bytearray(256 * 1024))
    return table

def handle_request():
    return [str(j) * 3 for j in range(2000)]

cache = load_embeddings()
print("model loaded", flush=True)
while not os.path.exists(sys.argv[1]):
    for _ in range(20):
        handle_request()
    time.sleep(0.02)
EOF
start MEMPROF_AGENT=$build/.libs/libmemprof.so -- "$MEMPROF" run --live -o "$TMP/app.mprof" python3 app.py "$TMP/stop"
wait_for 'load_embeddings' && sleep 4 && shot top-live "memprof run --live"
$TM send-keys -t s s
sleep 3
$TM send-keys -t s Home Enter
wait_for 'Python stacks' && shot top-live-stack "memprof run --live: a site's stacks"
touch "$TMP/stop"
