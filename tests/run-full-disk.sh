#!/bin/sh
# run-full-disk.sh: a capture that cannot be written.  On a file system that
# fills up during the run (a 1 MiB tmpfs), `memprof run` says so in one line,
# the program runs on to its end with its own output and exit status, the
# summary calls the capture incomplete, and `memprof report` reads what was
# written before the disk filled.  An output that cannot be written at all
# (/dev/full) stops memprof before the program starts, with exit 1.
# Needs root to mount the tmpfs; skipped, saying so, without.

. "$(dirname "$0")/lib.sh"

PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || t_skip "python3 not installed"
cd "$T_TMP" || exit 99
mkdir full
mount -t tmpfs -o size=1m memprof-test "$T_TMP/full" 2>mount.err ||
    t_skip "cannot mount a 1 MiB tmpfs to fill: $(head -n 1 mount.err)"
trap 'umount "$T_TMP/full" 2>/dev/null; rm -rf "$T_TMP"' EXIT

# Blocks of random sizes freed in random order: about 11 MB of capture.
prog='import random, sys
r = random.Random(1)
keep = []
for i in range(1000000):
    keep.append(bytes(r.randrange(1, 2000)))
    if len(keep) > 1000:
        del keep[r.randrange(len(keep))]
print("program done")
sys.exit(3)'

t_run "$MEMPROF" run --exact -o full/cut.mprof "$PY" -c "$prog"
t_expect_rc "the program's own exit status with the disk full" 3
t_expect_match "its output untouched" out "^program done$"
nerr=$(printf '%s\n' "$T_ERR" | grep -c 'capture')
if printf '%s\n' "$T_ERR" | grep -q "^memprof: run: writing capture 'full/cut.mprof' failed: No space left on device$"; then
    t_ok "one line says the capture could not be written: $(printf '%s\n' "$T_ERR" | head -n 1)"
else
    t_fail "full disk message" "$T_ERR"
fi
t_expect_match "the summary calls the capture incomplete" err "capture full/cut\\.mprof \\(incomplete\\)"
if [ "$nerr" -eq 2 ]; then
    t_ok "and says nothing more of it (the error and the summary's capture line)"
else
    t_fail "lines about the capture" "$nerr lines: $T_ERR"
fi

t_run "$MEMPROF" report -f json full/cut.mprof
t_expect_rc "the cut capture is reported" 0
t_expect_match "with a warning that it is incomplete" err "incomplete"
n=$(printf '%s' "$T_OUT" | python3 -c 'import json, sys; print(json.load(sys.stdin)["totals"]["allocations"])' 2>/dev/null)
if [ "${n:-0}" -gt 10000 ] 2>/dev/null && [ "$n" -lt 1900000 ]; then
    t_ok "and holds what was written before the disk filled ($n allocations of about 2 million)"
else
    t_fail "allocations in the cut capture" "${n:-none}"
fi

t_run "$MEMPROF" run -o /dev/full "$PY" -c 'print("ran")'
t_expect_rc "an output that takes nothing: exit 1" 1
t_expect_lines "in one line" err 1
if printf '%s' "$T_OUT" | grep -q ran; then
    t_fail "the program must not start" "it printed: $T_OUT"
else
    t_ok "before the program starts"
fi
t_done
