# lib.sh: helpers for memprof's shell integration tests (sourced).
#
# Tests follow automake's protocol: exit 0 pass, 77 skip (after printing
# why), 99 hard error, anything else fail.  Each check prints one line, so a
# failure in the log says exactly what was expected and what came instead.
# MEMPROF (the binary) and MEMPROF_SRCDIR come from `make check`; run by
# hand, the defaults point at an in-tree build.

: "${MEMPROF_SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
# Canonical form: Python reports the file names it was given, and the
# checkers compare them with os.path.abspath (distcheck passes "sub/../..").
MEMPROF_SRCDIR=$(cd "$MEMPROF_SRCDIR" && pwd -P)
: "${MEMPROF:=$MEMPROF_SRCDIR/memprof}"
export LC_ALL=C

T_FAILED=0
T_PASSED=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/memprof-test.XXXXXX") || exit 99
trap 'rm -rf "$T_TMP"' EXIT

# t_ok NAME: record a passing check.
t_ok() {
    T_PASSED=$((T_PASSED + 1))
    echo "ok: $1"
}

# t_fail NAME DETAIL: record a failing check.
t_fail() {
    T_FAILED=$((T_FAILED + 1))
    echo "FAIL: $1: $2"
}

# t_skip REASON: skip the whole test with a reason.
t_skip() {
    echo "SKIP: $1"
    exit 77
}

# t_run CMD...: run CMD capturing stdout, stderr and status in T_OUT, T_ERR, T_RC.
t_run() {
    "$@" >"$T_TMP/out" 2>"$T_TMP/err"
    T_RC=$?
    T_OUT=$(cat "$T_TMP/out")
    T_ERR=$(cat "$T_TMP/err")
}

# t_expect_rc NAME RC: check the last t_run's status.
t_expect_rc() {
    if [ "$T_RC" -eq "$2" ]; then t_ok "$1 (exit $2)"; else t_fail "$1" "exit $T_RC, expected $2; stderr: $T_ERR"; fi
}

# t_expect_match NAME WHERE REGEX: WHERE is out or err of the last t_run.
t_expect_match() {
    if [ "$2" = out ]; then _s=$T_OUT; else _s=$T_ERR; fi
    if printf '%s\n' "$_s" | grep -Eq -- "$3"; then t_ok "$1"; else t_fail "$1" "no match for /$3/ in $2: $_s"; fi
}

# t_expect_lines NAME WHERE N: WHERE (out or err) has exactly N lines.
t_expect_lines() {
    if [ "$2" = out ]; then _s=$T_OUT; else _s=$T_ERR; fi
    _n=$(printf '%s' "$_s" | grep -c '')
    if [ "$_n" -eq "$3" ]; then t_ok "$1"; else t_fail "$1" "$_n lines in $2, expected $3: $_s"; fi
}

# t_pythons: "label path" lines for every CPython 3.8-3.13 this project
# supports (pyenv's shared builds and Debian's static /usr/bin/python3.11);
# path is "-" for one that is not installed.
t_pythons() {
    _root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    for _v in 3.8 3.9 3.10 3.11 3.12 3.13; do
        _p=$(ls -d "$_root"/versions/$_v.*/bin/python$_v 2>/dev/null | sort -V | tail -1)
        echo "pyenv-$_v ${_p:--}"
    done
    if [ -x /usr/bin/python3.11 ]; then echo "debian-static-3.11 /usr/bin/python3.11"; else echo "debian-static-3.11 -"; fi
}

# t_each_python FUNC: FUNC LABEL PATH VERSION for every installed CPython of
# t_pythons, one "skip:" line with the reason for each missing one, then the
# count of interpreters tested; the whole test skips if none is installed.
t_each_python() {
    _ran=0
    t_pythons > "$T_TMP/pythons"
    while read -r _label _py; do
        if [ "$_py" = - ]; then
            echo "skip: $_label: not installed on this machine"
            continue
        fi
        "$1" "$_label" "$_py" "$("$_py" -c 'import sys; print(sys.version.split()[0])')"
        _ran=$((_ran + 1))
    done < "$T_TMP/pythons"
    [ $_ran -gt 0 ] || t_skip "no CPython 3.8-3.13 installed"
    echo "interpreters tested: $_ran"
}

# t_wait_for SECONDS CMD...: run CMD every 0.05 s until it succeeds or
# SECONDS pass (a poll with a deadline, not a sleep standing in for an
# event); the status of the last try.
t_wait_for() {
    _tw_n=$(( $1 * 20 ))
    shift
    while [ "$_tw_n" -gt 0 ]; do
        "$@" && return 0
        _tw_n=$((_tw_n - 1))
        sleep 0.05
    done
    "$@"
}

# t_done: print the counts and exit with the protocol's status.
t_done() {
    echo "$T_PASSED passed, $T_FAILED failed"
    [ "$T_FAILED" -eq 0 ] || exit 1
    exit 0
}
