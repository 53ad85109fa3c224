#!/bin/sh
# top-cpu.sh: the dashboard's own CPU with COUNT docker-like containers at
# the default refresh (2 s), against `memprof stats` streaming the same
# containers (1 s refresh, no curses) and, when installed, htop (its
# default 1.5 s) in the same run.
#
#	bench/top-cpu.sh [BUILD_DIR] [COUNT] [SECONDS] [RUNS]
#
# Needs root and tmux.  Creates COUNT cgroups memprof-bench-top/<64 hex>
# (a container id: they are listed as containers, not only with --all) in
# the v1 memory, cpuacct, pids and blkio hierarchies (or the v2 root), each
# with one sleeping process, and removes them at the end.  Each tool runs
# in a private tmux server, 160x50, for SECONDS (default 60) after its
# first frame; its utime+stime from /proc/PID/stat over that wall time is
# its CPU in % of one core.  Prints the median of RUNS (default 3) and the
# ratios.  No pass/fail: the target is under 2% for memprof top.

set -u
build=$(cd "${1:-.}" && pwd)
count=${2:-100}
secs=${3:-60}
runs=${4:-3}
CG=/sys/fs/cgroup
MEMPROF=$build/memprof
SOCK=memprof-bench-top-$$
TM="tmux -L $SOCK -f /dev/null"
[ "$(id -u)" -eq 0 ] || { echo "top-cpu: needs root to create cgroups"; exit 1; }
command -v tmux >/dev/null || { echo "top-cpu: needs tmux"; exit 1; }
command -v python3 >/dev/null || { echo "top-cpu: needs python3"; exit 1; }
[ -x "$MEMPROF" ] || make -C "$build" --no-print-directory -s memprof || exit 1
DIRS=""
SLEEPERS=""

cleanup() {
    $TM kill-server 2>/dev/null
    for p in $SLEEPERS; do kill "$p" 2>/dev/null; done
    for p in $SLEEPERS; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
    for d in $DIRS; do
        [ -d "$d" ] && find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
        rmdir "$d" 2>/dev/null
    done
}
trap cleanup EXIT INT TERM

# --- the containers: COUNT cgroups named by a 64-hex id, one process each
ids=$(python3 -c "
import hashlib
for i in range($count):
    print(hashlib.sha256(b'memprof-bench-top-%d' % i).hexdigest())")
if [ -f "$CG/cgroup.controllers" ]; then
    layout=v2
    hiers=$CG
    echo "+memory +pids +io +cpu" > "$CG/cgroup.subtree_control" 2>/dev/null
else
    layout=v1
    hiers=""
    for h in memory cpuacct pids blkio; do [ -d "$CG/$h" ] && hiers="$hiers $CG/$h"; done
fi
for h in $hiers; do
    mkdir -p "$h/memprof-bench-top" && DIRS="$DIRS $h/memprof-bench-top"
    [ $layout = v2 ] && echo "+memory +pids +io" > "$h/memprof-bench-top/cgroup.subtree_control" 2>/dev/null
    for id in $ids; do mkdir "$h/memprof-bench-top/$id"; done
done
for id in $ids; do
    sleep 100000 &
    p=$!
    SLEEPERS="$SLEEPERS $p"
    for h in $hiers; do echo "$p" > "$h/memprof-bench-top/$id/cgroup.procs"; done
done
echo "host: $(nproc) CPUs, cgroup $layout, $count containers made under memprof-bench-top/, ${secs}s per run, $runs runs"

# measure LABEL WAIT_REGEX CMD: run CMD in tmux, wait for its first frame,
# print its CPU % of one core over secs.
measure() {
    label=$1 ready=$2; shift 2
    $TM kill-server 2>/dev/null
    $TM new-session -d -s b -x 160 -y 50 "exec env TERM=screen $*" || return 1
    pid=$($TM display-message -p -t b '#{pane_pid}')
    n=600
    while [ $n -gt 0 ] && ! $TM capture-pane -p -t b | grep -Eq -- "$ready"; do sleep 0.05; n=$((n - 1)); done
    [ $n -gt 0 ] || { echo "$label: no first frame" >&2; $TM capture-pane -p -t b >&2; return 1; }
    python3 - "$pid" "$secs" <<'EOF'
import os, sys, time
pid, secs = int(sys.argv[1]), float(sys.argv[2])
hz = os.sysconf("SC_CLK_TCK")
def cpu():
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / hz
c0, t0 = cpu(), time.monotonic()
time.sleep(secs)
c1, t1 = cpu(), time.monotonic()
print("%.3f" % (100 * (c1 - c0) / (t1 - t0)))
EOF
    $TM kill-server >/dev/null 2>&1
}

# median of the arguments
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

top_r="" stats_r="" htop_r=""
for r in $(seq "$runs"); do
    top_r="$top_r $(measure "memprof top" "[0-9]+ containers" "MEMPROF_DOCKER_SOCKET= $MEMPROF top")"
    # stats redraws 101 lines on a 50-line screen: wait for rows, not the header.
    stats_r="$stats_r $(measure "memprof stats" "^[0-9a-f]{12} +[0-9a-f]{12} " "MEMPROF_DOCKER_SOCKET= $MEMPROF stats")"
    if command -v htop >/dev/null; then
        htop_r="$htop_r $(measure "htop" "PID" htop)"
    fi
done
top_m=$(median $top_r)
stats_m=$(median $stats_r)
echo "memprof top, $count containers, default refresh 2 s: ${top_m}% of one core (median; runs:$top_r)"
echo "memprof stats, $count containers, 1 s refresh, no curses: ${stats_m}% of one core (median; runs:$stats_r)"
python3 -c "import sys; t, s = map(float, sys.argv[1:]); print('ratio top / stats: %.2fx (stats refreshes twice as often)' % (t / max(s, 1e-3)))" "$top_m" "$stats_m"
if [ -n "$htop_r" ]; then
    htop_m=$(median $htop_r)
    echo "htop, default refresh 1.5 s: ${htop_m}% of one core (median; runs:$htop_r)"
    python3 -c "import sys; t, h = map(float, sys.argv[1:]); print('ratio top / htop: %.2fx' % (t / max(h, 1e-3)))" "$top_m" "$htop_m"
else
    echo "htop: not installed (apt-get install htop), no comparison"
fi
python3 -c "import sys; print('target: memprof top under 2%% of one core: %s' % ('met' if float(sys.argv[1]) < 2 else 'NOT met'))" "$top_m"
