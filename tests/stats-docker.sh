#!/bin/sh
# stats-docker.sh: parity of `memprof stats --no-stream --format json` with
# `docker stats --no-stream` on a real Docker engine.  Uses a running
# dockerd or starts one (--bridge=none, vfs storage; stopped again at the
# end), imports a busybox image, and runs containers with memory limits
# holding anonymous memory, tmpfs/shm and page cache, a busy loop held to
# half a CPU (a steady load even on a shared machine), one doing direct
# block I/O, two exchanging packets on a user network and one making
# loopback traffic.  Then memory usage and limit must agree within
# 1% (docker rounds to 4 digits), PIDs exactly, CPU% within 10 points (the
# two tools' windows only partly overlap), net and block I/O within 1%;
# figures that may still move are checked against the range of docker's
# reads around memprof's.  Skips with the reason when Docker cannot run.

. "$(dirname "$0")/lib.sh"

[ -x "$MEMPROF" ] || { echo "memprof binary not built: $MEMPROF"; exit 99; }
[ "$(id -u)" -eq 0 ] || t_skip "needs root to run dockerd and read /var/lib/docker"
command -v python3 >/dev/null || t_skip "needs python3 to compare JSON"
TAG=memprof-parity-$$
# One CPU-measuring test at a time (stats-cgroup.sh runs busy loops too),
# and one run of this test per host: it may start and stop dockerd.
if command -v flock >/dev/null; then
    exec 9> /tmp/memprof-cpu-tests.lock
    flock 9
fi
IMAGE=memprof-busybox:test
STARTED=""
NET=""

# apt_install PKG...: install Debian packages when missing (CI installs them up front).
apt_install() {
    command -v apt-get >/dev/null || return 1
    apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}

command -v dockerd >/dev/null || apt_install docker.io || t_skip "docker.io is not installed and could not be installed"
command -v docker >/dev/null || t_skip "no docker client"
if ! docker info >/dev/null 2>&1; then
    dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
        > "$T_TMP/dockerd.log" 2>&1 &
    STARTED=$!
    for i in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    if ! docker info >/dev/null 2>&1; then
        kill "$STARTED" 2>/dev/null
        t_skip "dockerd did not start: $(tail -n 2 "$T_TMP/dockerd.log" | tr '\n' ' ')"
    fi
fi

cleanup() {
    docker rm -f $(docker ps -aq --filter "label=$TAG") >/dev/null 2>&1
    [ -n "$NET" ] && docker network rm "$NET" >/dev/null 2>&1
    if [ -n "$STARTED" ]; then
        kill "$STARTED" 2>/dev/null
        for i in $(seq 40); do kill -0 "$STARTED" 2>/dev/null || break; sleep 0.25; done
    fi
    rm -rf "$T_TMP"
}
trap cleanup EXIT

# A busybox image, imported from the static busybox binary.
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    bb=$(command -v busybox || echo /bin/busybox)
    [ -x "$bb" ] && file -L "$bb" 2>/dev/null | grep -q static || apt_install busybox-static
    bb=$(command -v busybox)
    [ -n "$bb" ] || t_skip "no static busybox to build a test image"
    r=$T_TMP/rootfs
    mkdir -p "$r/bin" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/etc"
    cp "$bb" "$r/bin/busybox"
    for a in sh sleep cat dd head tr yes ping nc mkfifo seq; do ln -s busybox "$r/bin/$a"; done
    tar -C "$r" -c . | docker import - "$IMAGE" >/dev/null || t_skip "docker import failed"
fi

# run NAME LIMIT SCRIPT [ARGS]: a labelled container; SCRIPT ends in a loop
# that blocks on a fifo, so the shell stays (and holds its variables)
# without forking every second.
IDLE='mkfifo /tmp/idle; while :; do read y < /tmp/idle; done'
run() {
    n=$1; m=$2; s=$3; shift 3
    docker run -d --label "$TAG" --name "$TAG-$n" -m "$m" "$@" "$IMAGE" sh -c "$s; $IDLE" >/dev/null
}

NET=$TAG-net
docker network create "$NET" >/dev/null 2>&1 || NET=""
netopt=${NET:+--network=$NET}
run anon 256m 'x=$(head -c 48000000 /dev/zero | tr "\0" a)'
run shm 256m 'dd if=/dev/zero of=/dev/shm/f bs=1M count=40 2>/dev/null' --shm-size=64m
run cache 512m 'dd if=/dev/zero of=/tmp/f bs=1M count=64 2>/dev/null; cat /tmp/f > /dev/null; cat /tmp/f > /dev/null'
run cpu 128m 'while :; do :; done' --cpus=0.5
run blk 128m 'dd if=/dev/zero of=/tmp/d bs=1M count=32 oflag=direct 2>/dev/null; dd if=/tmp/d of=/dev/null bs=1M iflag=direct 2>/dev/null'
run lo 64m 'ping -c 40 -i 0.05 127.0.0.1 >/dev/null 2>&1'
if [ -n "$NET" ]; then
    run peer 64m 'true' $netopt
    run net 64m "ping -c 30 -i 0.05 $TAG-peer >/dev/null 2>&1" $netopt
fi
# Every script done: each container but the busy loop ends its script by
# making the fifo it then idles on (a poll, not a guess of how long the
# scripts take; the exec'd test process is gone before anything is read).
for n in anon shm cache blk lo ${NET:+peer net}; do
    t_wait_for 60 docker exec "$TAG-$n" sh -c 'test -p /tmp/idle' ||
        { echo "container $n did not finish its script"; exit 99; }
done

# Both tools at the same time, three rounds (CPU% is compared by median:
# other work on the machine moves a single 1 s window by several points).
# docker's --no-stream takes ~2 s, memprof's 1 s.
for round in 1 2 3; do
    docker stats --no-stream --format '{{.ID}}|{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}' \
        > "$T_TMP/docker.$round" 2> "$T_TMP/docker.err" &
    dpid=$!
    sleep 0.5
    "$MEMPROF" stats --no-stream --format json > "$T_TMP/memprof.$round" 2> "$T_TMP/memprof.err"
    mrc=$?
    wait "$dpid"
    [ "$mrc" -eq 0 ] || break
done
# A last docker read after memprof's: counters that still move (an IPv6
# multicast report on the user network, a page of cache) are checked
# against the range docker showed around memprof's last read.
docker stats --no-stream --format '{{.ID}}|{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}' \
    > "$T_TMP/docker.4" 2> "$T_TMP/docker.err"
[ "$mrc" -eq 0 ] && t_ok "memprof stats --no-stream --format json (exit 0)" || t_fail "memprof stats" "exit $mrc: $(cat "$T_TMP/memprof.err")"
[ -s "$T_TMP/docker.3" ] || { cat "$T_TMP/docker.err"; echo "docker stats printed nothing"; exit 99; }

python3 - "$T_TMP" "$TAG" > "$T_TMP/compare.txt" <<'EOF'
import json, os, re, statistics, sys
units = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
         "kB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}
def size(s):
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]+)", s.strip())
    return float(m.group(1)) * units[m.group(2)]
def pair(s):
    a, b = s.split(" / ")
    return size(a), size(b)
def read_docker(path):
    out = {}
    for line in open(path):
        id_, name, cpu, mem, net, blk, pids = line.rstrip("\n").split("|")
        out[name] = dict(cpu=float(cpu.rstrip("%")), mem=pair(mem), net=pair(net), blk=pair(blk), pids=int(pids))
    return out
def read_memprof(path):
    return {r["name"]: r for r in map(json.loads, open(path))}
rounds = [(read_docker("%s/docker.%d" % (sys.argv[1], i)), read_memprof("%s/memprof.%d" % (sys.argv[1], i)))
          for i in (1, 2, 3)]
docker, mine = rounds[-1]
after = read_docker("%s/docker.4" % sys.argv[1])
def near(m, a, b, pct, slack=0):
    """m within pct% (or slack) of the range between docker's reads a and b."""
    lo, hi = min(a, b), max(a, b)
    tol = max(pct / 100 * hi, slack)
    return lo - tol <= m <= hi + tol
prefix = sys.argv[2]
for name in sorted(docker):
    if not name.startswith(prefix):
        continue
    d, m = docker[name], mine.get(name)
    d4 = after.get(name, d)
    short = name[len(prefix) + 1:]
    if m is None:
        print("FAIL %s: not in memprof's output" % short)
        continue
    mcpu = statistics.median(r[1][name]["cpu_percent"] for r in rounds if name in r[1])
    dcpu = statistics.median(r[0][name]["cpu"] for r in rounds if name in r[0])
    # docker prints 4 significant digits: 1% covers that rounding.  Memory
    # read a moment apart also moves by the kernel's per-CPU charge stock (up
    # to 64 pages per CPU, MEMCG_CHARGE_BATCH), which matters for the small ones.
    stock = 64 * os.sysconf("SC_PAGE_SIZE") * os.cpu_count()
    checks = [
        ("memory", near(m["mem_usage_bytes"], d["mem"][0], d4["mem"][0], 1, stock),
         "%d vs %d..%d" % (m["mem_usage_bytes"], d["mem"][0], d4["mem"][0])),
        ("limit", near(m["mem_limit_bytes"], d["mem"][1], d4["mem"][1], 1), "%d vs %d" % (m["mem_limit_bytes"], d["mem"][1])),
        ("pids", m["pids"] == d["pids"], "%d vs %d" % (m["pids"], d["pids"])),
        ("cpu", abs(mcpu - dcpu) <= 10, "%.2f vs %.2f (medians of 3)" % (mcpu, dcpu)),
        ("net", near(m["net_rx_bytes"], d["net"][0], d4["net"][0], 1, 10) and
         near(m["net_tx_bytes"], d["net"][1], d4["net"][1], 1, 10),
         "%d/%d vs %d/%d..%d/%d" % (m["net_rx_bytes"], m["net_tx_bytes"], d["net"][0], d["net"][1],
                                   d4["net"][0], d4["net"][1])),
        ("block", near(m["block_read_bytes"], d["blk"][0], d4["blk"][0], 1, 10) and
         near(m["block_write_bytes"], d["blk"][1], d4["blk"][1], 1, 10),
         "%d/%d vs %d/%d..%d/%d" % (m["block_read_bytes"], m["block_write_bytes"], d["blk"][0], d["blk"][1],
                                   d4["blk"][0], d4["blk"][1])),
    ]
    for what, ok, detail in checks:
        print("%s %s %s: memprof %s docker" % ("ok" if ok else "FAIL", short, what, detail))
    if short == "lo":
        lo = m.get("net_interfaces", {}).get("lo", {})
        print("%s lo loopback traffic seen in the container's netns: rx %s" %
              ("ok" if lo.get("rx_bytes", 0) >= 40 * 84 else "FAIL", lo.get("rx_bytes")))
EOF
while read -r verdict rest; do
    case $verdict in
    ok) t_ok "$rest" ;;
    FAIL) t_fail "${rest%%:*}" "${rest#*: }" ;;
    esac
done < "$T_TMP/compare.txt"
[ -n "$NET" ] || echo "note: no user-defined bridge network: net figures compared as 0B on both sides"
echo "docker stats (last round):"; cat "$T_TMP/docker.3"
t_done
