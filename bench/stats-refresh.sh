#!/bin/sh
# stats-refresh.sh: what one `memprof stats` refresh costs over ~1,000 real
# cgroups, against systemd-cgtop on the same cgroups and against
# `docker stats --no-stream` on the running containers, in the same run.
#
#	bench/stats-refresh.sh [BUILD_DIR] [COUNT]
#
# Needs root (it creates COUNT cgroups under memprof-bench/ in the v1
# memory, cpuacct, pids and blkio hierarchies, or in the v2 root, and
# removes them at the end).  Prints CPU per refresh (median of runs),
# memprof's peak RSS while streaming, and ratios.  No pass/fail.

set -u
build=$(cd "${1:-.}" && pwd)
count=${2:-1000}
CG=/sys/fs/cgroup
MEMPROF=$build/memprof
[ "$(id -u)" -eq 0 ] || { echo "stats-refresh: needs root to create cgroups"; exit 1; }
command -v python3 >/dev/null || { echo "stats-refresh: needs python3"; exit 1; }
make -C "$build" --no-print-directory -s bench/stats-refresh memprof || exit 1
BENCH=$build/bench/stats-refresh
DIRS=""

cleanup() {
    for d in $DIRS; do
        [ -d "$d" ] && find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
        rmdir "$d" 2>/dev/null
    done
}
trap cleanup EXIT INT TERM

# cpu CMD...: run CMD (output discarded) and print its user+system CPU seconds and wall seconds.
cpu() {
    python3 -c '
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.4f %.3f" % (r.ru_utime + r.ru_stime, time.monotonic() - t))' "$@"
}

# daemon_cpu: CPU seconds used so far by dockerd, containerd and the shims.
daemon_cpu() {
    for p in $(pgrep -x dockerd; pgrep -x containerd; pgrep -f containerd-shim); do
        awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null
    done | awk -v hz="$(getconf CLK_TCK)" '{ s += $1 } END { printf "%.3f\n", s / hz }'
}

# --- the cgroups ---------------------------------------------------------
if [ -f "$CG/cgroup.controllers" ]; then
    layout=v2
    mkdir -p "$CG/memprof-bench" && DIRS="$CG/memprof-bench"
    echo "+memory +pids +io +cpu" > "$CG/memprof-bench/cgroup.subtree_control" 2>/dev/null
    i=0; while [ $i -lt "$count" ]; do mkdir "$CG/memprof-bench/cg-$i"; i=$((i + 1)); done
else
    layout=v1
    for h in memory cpuacct pids blkio; do
        [ -d "$CG/$h" ] || continue
        mkdir -p "$CG/$h/memprof-bench" && DIRS="$DIRS $CG/$h/memprof-bench"
        i=0; while [ $i -lt "$count" ]; do mkdir "$CG/$h/memprof-bench/cg-$i"; i=$((i + 1)); done
    done
fi
echo "host: $(nproc) CPUs, cgroup $layout, $count cgroups made under memprof-bench/"

# --- memprof: CPU of one refresh (getrusage around N refreshes, median of R runs)
set -- $(MEMPROF_DOCKER_SOCKET= "$BENCH" -a -n 20 -r 7)
rows=$2 walk=$4 refresh=$6
echo "memprof refresh (--all, $rows rows): ${refresh} ms CPU per refresh (median of 7 x 20), first refresh with the walk ${walk} ms"

# --- memprof stats: peak RSS while streaming every cgroup as JSON and as a table
for fmt in json table; do
    "$MEMPROF" stats --all --format $fmt > /dev/null &
    p=$!
    sleep 4
    hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$p/status")
    kill $p; wait $p 2>/dev/null
    echo "memprof stats --all --format $fmt: peak RSS ${hwm} kB over 4 refreshes"
done

# --- memprof stats --no-stream --all and systemd-cgtop on the same cgroups
set -- $(cpu "$MEMPROF" stats --all --no-stream --format json)
m_cpu=$1 m_wall=$2
echo "memprof stats --all --no-stream: ${m_cpu} s CPU, ${m_wall} s wall (2 samples, 1 s apart)"
if command -v systemd-cgtop >/dev/null; then
    # Depth 4 reaches memprof-bench/cg-N; 11 iterations minus 1 gives 10 refreshes.
    set -- $(cpu systemd-cgtop -b -r -n 1 -d 0.01 --depth=4)
    c1=$1
    set -- $(cpu systemd-cgtop -b -r -n 11 -d 0.01 --depth=4)
    c11=$1
    cg=$(python3 -c "print('%.3f' % (($c11 - $c1) / 10 * 1000))")
    echo "systemd-cgtop refresh (same tree, depth 4): ${cg} ms CPU per refresh"
    python3 -c "print('ratio systemd-cgtop / memprof per refresh: %.1fx' % ($cg / $refresh))"
else
    echo "systemd-cgtop: not installed (apt-get install systemd), no comparison"
fi

# --- docker stats --no-stream on the running containers -------------------
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    n=$(docker ps -q | wc -l)
    set -- $(MEMPROF_DOCKER_SOCKET= "$BENCH" -n 20 -r 7)
    crow=$2 cref=$6
    d0=$(daemon_cpu)
    set -- $(cpu docker stats --no-stream)
    d_cli=$1 d_wall=$2
    d1=$(daemon_cpu)
    set -- $(cpu "$MEMPROF" stats --no-stream)
    mc_cpu=$1 mc_wall=$2
    python3 - "$n" "$d_cli" "$d0" "$d1" "$d_wall" "$mc_cpu" "$mc_wall" "$cref" "$crow" <<'EOF'
import sys
n, cli, d0, d1, wall, mcpu, mwall, cref, crow = sys.argv[1:]
dcpu = float(cli) + float(d1) - float(d0)
print("docker stats --no-stream (%s containers): %.3f s CPU (CLI %.3f + daemons %.3f), %.2f s wall"
      % (n, dcpu, float(cli), float(d1) - float(d0), float(wall)))
print("memprof stats --no-stream (%s containers): %.3f s CPU, %.2f s wall; one refresh %.3f ms"
      % (crow, float(mcpu), float(mwall), float(cref)))
print("ratio docker / memprof: %.1fx CPU, %.1fx wall" % (dcpu / max(float(mcpu), 1e-4), float(wall) / float(mwall)))
EOF
else
    echo "docker: no running engine, no comparison"
fi
