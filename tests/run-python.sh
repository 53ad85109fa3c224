#!/bin/sh
# run-python.sh: a Python program behaves under `memprof run` exactly as
# without it (same output, same exit status, same signals) in the hard
# cases: 8 threads freeing each other's blocks, fork without exec,
# subprocess.run of another Python, a multiprocessing pool, signal handlers
# and death by signal, os._exit, SIGKILL; and each capture is readable and
# holds the processes it should (one, or more when following children, one
# with --no-follow); the ring an agent shares with memprof does not stay
# resident in the program (it would cost a container up to 4 MiB per
# process sampling, 16 MiB exact), and records written after an exact ring
# was given back all arrive.

. "$(dirname "$0")/lib.sh"

PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || t_skip "python3 not installed"
ROBUST="$MEMPROF_SRCDIR/tests/py/robust.py"
cd "$T_TMP" || exit 99

# scenario NAME MIN_PYTHON_PROCS [MEMPROF OPTIONS...]: compare with bare, check the capture.
scenario() {
    name=$1; want=$2; shift 2
    timeout 120 "$PY" "$ROBUST" "$name" >bare.out 2>bare.err
    brc=$?
    timeout 120 "$MEMPROF" run "$@" -o "$name.mprof" "$PY" "$ROBUST" "$name" >mp.out 2>mp.err
    mrc=$?
    if [ $brc -ne $mrc ]; then
        t_fail "$name${*:+ $*}" "exit $mrc under memprof, $brc bare; $(tail -2 mp.err)"
        return
    fi
    if ! cmp -s bare.out mp.out; then
        t_fail "$name${*:+ $*}" "output differs: '$(cat mp.out)' vs '$(cat bare.out)'"
        return
    fi
    t_ok "$name${*:+ $*} behaves the same (exit $mrc)"
    if ! "$MEMPROF" report --format json -o "$name.json" "$name.mprof" 2>rep.err; then
        t_fail "$name capture" "report failed: $(cat rep.err)"
        return
    fi
    n=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for p in d["processes"] if p["python"]))' "$name.json")
    if [ "$want" = 1 ] && [ "$n" -eq 1 ] || [ "$want" != 1 ] && [ "$n" -ge "$want" ]; then
        t_ok "$name capture readable, $n Python process(es)"
    else
        t_fail "$name capture" "$n Python processes, wanted $want"
    fi
}

scenario threads 1
scenario threads 1 --exact
scenario fork 2
scenario fork 1 --no-follow
scenario subproc 2
scenario subproc 1 --no-follow
scenario pool 4
scenario signals 1
scenario exit3 1
scenario sigkill 1

# memprof itself killed with SIGKILL while the program holds memory: the
# capture is incomplete but readable up to its last chunk (written every second).
mkfifo in.fifo
"$MEMPROF" run -o killed.mprof "$PY" "$ROBUST" hold <in.fifo >hold.out 2>/dev/null &
mp=$!
exec 3>in.fifo
# Wait until the program has allocated, then until the capture has grown
# twice more: chunks go out once a second, and the second one after
# "holding" is written after the collector drained what came before it.
size() { wc -c <killed.mprof 2>/dev/null || echo 0; }
grown() { [ "$(size)" -gt "$1" ]; }
t_wait_for 30 grep -q holding hold.out 2>/dev/null
t_wait_for 30 grown "$(size)"
t_wait_for 30 grown "$(size)"
kill -KILL $mp 2>/dev/null
wait $mp 2>/dev/null
exec 3>&-
t_run "$MEMPROF" report --format json -o killed.json killed.mprof
t_expect_rc "capture of a killed memprof is reported" 0
t_expect_match "and said to be incomplete" err "incomplete"
if python3 -c 'import json,sys; d=json.load(open("killed.json")); sys.exit(0 if d["totals"]["allocated_bytes"] > 10000000 else 1)'; then
    t_ok "the killed capture holds the program's allocations"
else
    t_fail "killed capture" "$(head -c 300 killed.json)"
fi

# The ring a sampling agent writes its records to is shared memory of the
# program, charged to its container.  The controller hands the pages it has
# read back to the kernel, so after 40,000 sampled 1 MiB buffers (about
# 2 MiB of records, which used to stay resident) the ring comes down to a
# few pages once drained, and no record was lost on the way.
ring_code='import re, sys, time
def ring_kb():
    with open("/proc/self/smaps") as f:
        m = re.search(r"memprof-ring.*\n(?:[A-Z].*\n)*?Rss:\s+(\d+) kB", f.read())
    return int(m.group(1)) if m else -1
for i in range(40000):
    b = bytearray(1 << 20)
    del b
high = ring_kb()
deadline = time.monotonic() + 20
while ring_kb() > 256 and time.monotonic() < deadline:
    time.sleep(0.02)
print(high, ring_kb())'
t_run "$MEMPROF" run -o ring.mprof "$PY" -c "$ring_code"
set -- $T_OUT
if [ "$T_RC" -eq 0 ] && [ "${2:--1}" -ge 0 ] && [ "${2:-999}" -le 256 ]; then
    t_ok "a sampling ring is ${2} KiB resident once drained (${1} KiB right after the loop)"
else
    t_fail "sampling ring resident" "rc $T_RC, ring resident after the loop and once drained: $T_OUT KiB"
fi
t_run "$MEMPROF" report -f json ring.mprof
out=$(printf '%s' "$T_OUT" | python3 -c '
import json, sys
t = json.load(sys.stdin)["totals"]
ok = t["dropped_records"] == 0 and abs(t["allocated_bytes"] - (40000 << 20)) < (40000 << 20) * 0.03
print("%s %d bytes allocated, %d records dropped" % ("ok" if ok else "FAIL", t["allocated_bytes"], t["dropped_records"]))')
case $out in
ok*) t_ok "and its records all arrived: ${out#ok }" ;;
*) t_fail "records through a returned ring" "${out#FAIL }" ;;
esac

# An exact ring is zeroed in place while the program allocates (a page
# fault per 4 KiB of records would cost more), so it is 16 MiB resident
# after a lap; once the program has been still for a second the controller
# gives its free space back to the kernel too.  What the program records
# afterwards must all arrive: 100,000 blocks of 1000 bytes, kept.
idle_code='import os, sys
keep = []
for i in range(1500000):
    keep.append(str(i))
    if len(keep) > 1000:
        keep = keep[500:]
print("ready", os.getpid(), flush=True)
sys.stdin.readline()
blocks = [bytearray(1000) for i in range(100000)]
print("done", flush=True)'
rm -f idle.fifo
mkfifo idle.fifo
"$MEMPROF" run --exact -o idle.mprof "$PY" -c "$idle_code" <idle.fifo >idle.out 2>idle.err &
mp=$!
exec 4>idle.fifo
# ring_kb: the resident KiB of the ring mapping in the program, -1 if none.
ring_kb() {
    awk '/memprof-ring/ { f = 1 } f && /^Rss:/ { print $2; found = 1; exit } END { if (!found) print -1 }' \
        "/proc/$pypid/smaps" 2>/dev/null
}
ring_small() { kb=$(ring_kb); [ "${kb:--1}" -ge 0 ] && [ "$kb" -le 1024 ]; }
t_wait_for 60 grep -q ready idle.out
pypid=$(awk '/^ready/ { print $2 }' idle.out)
high=$(ring_kb)
if [ -n "$pypid" ] && t_wait_for 20 ring_small; then
    t_ok "an exact ring still for a second goes back to the kernel: $high KiB resident, then $(ring_kb) KiB"
else
    t_fail "exact ring given back when still" "pid ${pypid:-none}, ring resident $high KiB, then $(ring_kb) KiB"
fi
(echo go >&4) 2>/dev/null	# the program may be gone: not the test's SIGPIPE
exec 4>&-
wait $mp
rc=$?
out=$("$MEMPROF" report -f json idle.mprof | python3 -c '
import json, sys
d = json.load(sys.stdin)
t = d["totals"]
site = [s for s in d["sites"] if s["line"] == 9]
n = site[0]["allocations"] if site else 0
live = site[0]["live_bytes_at_exit"] if site else 0
ok = t["dropped_records"] == 0 and n >= 100000 and live >= 100000 * 1000
print("%s line 9: %d allocations, %d bytes live at exit, %d records dropped" %
      ("ok" if ok else "FAIL", n, live, t["dropped_records"]))')
case $rc.$out in
0.ok*) t_ok "and what it records afterwards arrives whole: ${out#ok }" ;;
*) t_fail "records after an exact ring was given back" "exit $rc, ${out#FAIL }; $(cat idle.err)" ;;
esac

t_done
