#!/bin/sh
# stacks.sh: memprof --exact puts every allocation under its whole Python
# stack, frame for frame as the traceback module sees it, under the shapes
# that defeat a stack cache (tests/py/stack_shapes.py), on every CPython
# 3.8-3.13 installed and Debian's static 3.11.

. "$(dirname "$0")/lib.sh"

PY_DIR="$MEMPROF_SRCDIR/tests/py"
checker=$(command -v python3) || t_skip "no python3 to run the checker"

# check_one LABEL PYTHON VERSION: the workload's stacks, traceback's against memprof's.
check_one() {
    label=$1; py=$2; ver=$3
    "$py" "$PY_DIR/stack_shapes.py" "$T_TMP/truth.json" truth ||
        { t_fail "$label ($ver)" "the workload failed in its truth mode"; return; }
    timeout 300 "$MEMPROF" run --exact -o "$T_TMP/st.mprof" "$py" "$PY_DIR/stack_shapes.py" \
        "$T_TMP/unused.json" >/dev/null 2>"$T_TMP/run.err" ||
        { t_fail "$label ($ver)" "memprof run failed: $(tail -2 "$T_TMP/run.err")"; return; }
    "$MEMPROF" report --format collapsed --view allocated -o "$T_TMP/st.folded" "$T_TMP/st.mprof" ||
        { t_fail "$label ($ver)" "report failed"; return; }
    if "$checker" "$PY_DIR/check_stacks.py" "$T_TMP/truth.json" "$T_TMP/st.folded" \
        "$PY_DIR/stack_shapes.py" >"$T_TMP/check.out" 2>&1; then
        t_ok "$label ($ver): $(tail -1 "$T_TMP/check.out")"
    else
        t_fail "$label ($ver)" "$(grep -v '^ok' "$T_TMP/check.out" | tr '\n' ';')"
    fi
}

t_each_python check_one
t_done
