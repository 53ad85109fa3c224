#!/bin/sh
# attach-docker.sh: attach to a Python program inside a real Docker
# container, from the host and from inside the container.  Uses a running
# dockerd or starts one (as stats-docker.sh does), runs Debian's
# /usr/bin/python3.11 in a busybox image with the host's /usr, /lib and
# /lib64 mounted read-only and cap_add SYS_PTRACE, and checks both ways:
# the capture shows the known top site with the file name as the container
# sees it, the container is named on the attach line (host side), and the
# program runs on and exits normally.  Also from inside a container started
# without cap_add (same user: Docker's seccomp profile then refuses
# process_vm_writev, memprof uses /proc/PID/mem).  Skips with the reason when Docker
# cannot run here.

. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || t_skip "needs root to run dockerd and to attach across namespaces"
command -v docker >/dev/null || t_skip "no docker client (apt-get install docker.io)"
[ -x /usr/bin/python3.11 ] || t_skip "Debian's /usr/bin/python3.11 is not installed"
DIR="$MEMPROF_SRCDIR/tests/attach"
HOT_LINE=$(grep -n '# HOT_LINE' "$DIR/target.py" | head -1 | cut -d: -f1)
BUILD=$(cd "$(dirname "$MEMPROF")" && pwd -P)
TAG=memprof-attach-$$
IMAGE=memprof-busybox:test
STARTED=""
# stats-docker.sh may start and stop dockerd: one of us at a time.
if command -v flock >/dev/null; then
    exec 9> /tmp/memprof-cpu-tests.lock
    flock 9
fi
if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || t_skip "no dockerd"
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
    if [ -n "$STARTED" ]; then
        kill "$STARTED" 2>/dev/null
        for i in $(seq 40); do kill -0 "$STARTED" 2>/dev/null || break; sleep 0.25; done
    fi
    rm -rf "$T_TMP"
}
trap cleanup EXIT
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    bb=$(command -v busybox)
    [ -n "$bb" ] && file -L "$bb" | grep -q static || t_skip "no static busybox to build a test image"
    r=$T_TMP/rootfs
    mkdir -p "$r/bin" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/etc"
    cp "$bb" "$r/bin/busybox"
    for a in sh sleep cat dd head tr yes ping nc mkfifo seq; do ln -s busybox "$r/bin/$a"; done
    tar -C "$r" -c . | docker import - "$IMAGE" >/dev/null || t_skip "docker import failed"
fi

# wait_for CMD...: poll CMD for up to 20 s (tests/lib.sh).
wait_for() { t_wait_for 20 "$@"; }

# check_capture NAME CAPTURE: top site is target.py's hot line, named as the container sees it.
check_capture() {
    if "$MEMPROF" report --format json -o "$T_TMP/rep.json" "$2" 2>"$T_TMP/rep.err" &&
        top=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
s = d["sites"][0]
print("%s %s:%d %s" % (s["function"], s["file"], s["line"], d["processes"][0]["python"]))' "$T_TMP/rep.json") &&
        [ "${top% *}" = "hot_site /app/target.py:$HOT_LINE" ]; then
        t_ok "$1: top site $top"
    else
        t_fail "$1" "top site '$top' $(cat "$T_TMP/rep.err")"
    fi
}

C=$TAG-py
docker run -d --label "$TAG" --name "$C" --cap-add SYS_PTRACE \
    -v /usr:/usr:ro -v /lib:/lib:ro -v /lib64:/lib64:ro -v "$DIR:/app:ro" -v "$BUILD:/memprof:ro" \
    "$IMAGE" /usr/bin/python3.11 /app/target.py sleep /tmp/ready /tmp/stop >/dev/null ||
    t_skip "docker run failed"
hp=$(docker inspect -f '{{.State.Pid}}' "$C")
wait_for test -f "/proc/$hp/root/tmp/ready" || { docker logs "$C"; t_fail "container" "target not ready"; t_done; }
if [ "$(readlink /proc/$hp/ns/net)" != "$(readlink /proc/self/ns/net)" ]; then
    echo "the container has its own network namespace"
fi

# From the host.
t_run "$MEMPROF" attach --pid "$hp" --duration 1 -o "$T_TMP/host.mprof"
t_expect_rc "from the host" 0
t_expect_match "from the host: container named" err "runs in docker container $C"
check_capture "from the host" "$T_TMP/host.mprof"
if ls "/proc/$hp/root/tmp" | grep -q memprof-agent; then
    t_fail "from the host" "the staged agent copy was left in the container's /tmp"
else
    t_ok "from the host: no file left in the container"
fi

# From inside the container (the build folder is mounted at /memprof).
t_run docker exec "$C" /memprof/memprof attach --pid 1 --duration 1 -o /tmp/in.mprof
t_expect_rc "from inside the container" 0
cp "/proc/$hp/root/tmp/in.mprof" "$T_TMP/in.mprof" 2>/dev/null
check_capture "from inside the container" "$T_TMP/in.mprof"

# Again from the host: the agent loaded before is reused.
t_run "$MEMPROF" attach --pid "$hp" --duration 0.5 -o "$T_TMP/host2.mprof"
t_expect_rc "from the host again" 0
check_capture "from the host again" "$T_TMP/host2.mprof"
n=$(grep -c 'memprof' "/proc/$hp/maps" | tr -d ' ')
agents=$(grep -E 'libmemprof|memprof-agent' "/proc/$hp/maps" | awk '{print $6}' | sort -u | wc -l)
[ "$agents" -eq 1 ] && t_ok "one copy of the agent in the process after three attaches" ||
    t_fail "agent copies" "$agents distinct agent files mapped"

# A container without cap_add: Docker's default seccomp profile then refuses
# process_vm_writev, and memprof writes through /proc/PID/mem instead.
C2=$TAG-nocap
docker run -d --label "$TAG" --name "$C2" \
    -v /usr:/usr:ro -v /lib:/lib:ro -v /lib64:/lib64:ro -v "$DIR:/app:ro" -v "$BUILD:/memprof:ro" \
    "$IMAGE" /usr/bin/python3.11 /app/target.py sleep /tmp/ready /tmp/stop >/dev/null
hp2=$(docker inspect -f '{{.State.Pid}}' "$C2")
if wait_for test -f "/proc/$hp2/root/tmp/ready"; then
    t_run docker exec "$C2" /memprof/memprof attach --pid 1 --duration 0.5 -o /tmp/nocap.mprof
    t_expect_rc "inside a container without cap_add (same user)" 0
    cp "/proc/$hp2/root/tmp/nocap.mprof" "$T_TMP/nocap.mprof" 2>/dev/null
    check_capture "inside a container without cap_add" "$T_TMP/nocap.mprof"
    touch "/proc/$hp2/root/tmp/stop"
    [ "$(docker wait "$C2")" = 0 ] && t_ok "without cap_add: the program exited 0" ||
        t_fail "without cap_add" "exit status"
else
    t_fail "without cap_add" "target not ready"
fi

touch "/proc/$hp/root/tmp/stop"
rc=$(docker wait "$C")
logs=$(docker logs "$C" 2>&1)
[ "$rc" = 0 ] && [ "$(printf '%s\n' "$logs" | tail -1)" = done ] &&
    t_ok "the program ran on and exited 0" || t_fail "exit" "status $rc: $(printf '%s' "$logs" | tail -3)"
t_done
