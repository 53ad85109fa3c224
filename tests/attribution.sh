#!/bin/sh
# attribution.sh: memprof attributes allocations to the right Python lines
# with the right sizes, on every CPython 3.8-3.13 installed with pyenv and on
# Debian's static /usr/bin/python3.11: a program with known sites (retained,
# transient, many small objects, in a thread, in a forked child) checked in
# --exact mode (within 1%) and in the default sampling mode (sites of 5% or
# more within 10%).  Prints one line per interpreter; an interpreter that is
# not installed is listed as skipped with the reason.  Then the same under
# the other allocators PYTHONMALLOC selects (libc malloc, pymalloc's and
# malloc's debug hooks), on the newest and oldest interpreters: the agent
# wraps each differently (agent-pymem.c).

. "$(dirname "$0")/lib.sh"

PY_DIR="$MEMPROF_SRCDIR/tests/py"
checker=$(command -v python3) || t_skip "no python3 to run the checker"

# check_one LABEL PYTHON VERSION: both modes on one interpreter (with
# $PYTHONMALLOC as the caller set it).
check_one() {
    label=$1; py=$2; ver=$3
    for mode in exact sampled; do
        # Sampled figures err by about sqrt(T/bytes) (docs/sampling.md): at the
        # default T = 64 KiB, sites of ~100 MiB keep 10% beyond 3.5 sigma.
        flag=""; scale=4; [ $mode = exact ] && flag=--exact && scale=1
        cap="$T_TMP/$label.$mode.mprof"
        KNOWN_SITES_SCALE=$scale timeout 300 "$MEMPROF" run $flag -o "$cap" "$py" "$PY_DIR/known_sites.py" \
            "$T_TMP/truth.json" >"$T_TMP/run.out" 2>"$T_TMP/run.err"
        rc=$?
        if [ $rc -ne 0 ]; then
            t_fail "$label ($ver) $mode" "memprof run exited $rc: $(tail -3 "$T_TMP/run.err")"
            continue
        fi
        "$MEMPROF" report --format json -o "$T_TMP/rep.json" "$cap" 2>"$T_TMP/rep.err" ||
            { t_fail "$label ($ver) $mode" "report failed: $(cat "$T_TMP/rep.err")"; continue; }
        if "$checker" "$PY_DIR/check_attribution.py" "$T_TMP/truth.json" "$T_TMP/rep.json" $mode \
            >"$T_TMP/check.out" 2>&1; then
            t_ok "$label ($ver) $mode: $(grep -c '^ok' "$T_TMP/check.out") site figures within bounds"
        else
            t_fail "$label ($ver) $mode" "$(grep -v '^ok' "$T_TMP/check.out" | tr '\n' ';')"
        fi
    done
}

t_each_python check_one

# The same under each other allocator, on the first and last interpreters
# found (3.8's and 3.13's obmalloc differ the most).
t_pythons | awk '$2 != "-"' > "$T_TMP/found"
for pair in "$(head -1 "$T_TMP/found")" "$(grep -v debian "$T_TMP/found" | tail -1)"; do
    set -- $pair
    [ $# -eq 2 ] || continue
    ver=$("$2" -c 'import sys; print(sys.version.split()[0])')
    for alloc in malloc pymalloc_debug malloc_debug; do
        PYTHONMALLOC=$alloc check_one "$1 PYTHONMALLOC=$alloc" "$2" "$ver"
    done
done
t_done
