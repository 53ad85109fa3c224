#!/bin/sh
# tracemalloc.sh: memprof --exact agrees with CPython's own tracemalloc on a
# workload of many small objects: the same top 10 lines by bytes (ties at
# the boundary aside), each within 5%, on every CPython 3.8-3.13 installed
# and Debian's static 3.11.

. "$(dirname "$0")/lib.sh"

PY_DIR="$MEMPROF_SRCDIR/tests/py"
checker=$(command -v python3) || t_skip "no python3 to run the checker"

# check_one LABEL PYTHON VERSION: tracemalloc's top 10 against memprof's on one interpreter.
check_one() {
    label=$1; py=$2; ver=$3
    TRACEMALLOC=1 "$py" "$PY_DIR/tm_workload.py" "$T_TMP/tm.json" ||
        { t_fail "$label ($ver)" "the workload failed under tracemalloc"; return; }
    timeout 300 "$MEMPROF" run --exact -o "$T_TMP/tm.mprof" "$py" "$PY_DIR/tm_workload.py" \
        "$T_TMP/unused.json" >/dev/null 2>"$T_TMP/run.err" ||
        { t_fail "$label ($ver)" "memprof run failed: $(tail -2 "$T_TMP/run.err")"; return; }
    "$MEMPROF" report --format json -o "$T_TMP/tm-report.json" "$T_TMP/tm.mprof" ||
        { t_fail "$label ($ver)" "report failed"; return; }
    if "$checker" "$PY_DIR/check_tracemalloc.py" "$T_TMP/tm.json" "$T_TMP/tm-report.json" \
        >"$T_TMP/check.out" 2>&1; then
        t_ok "$label ($ver): top 10 lines match tracemalloc within 5%"
    else
        t_fail "$label ($ver)" "$(grep -v '^ok' "$T_TMP/check.out" | tr '\n' ';')"
    fi
}

t_each_python check_one
t_done
