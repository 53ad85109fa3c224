#!/bin/sh
# run.sh: proves agent-python.c, agent-pymem.c and linetable.c inside every
# CPython 3.8-3.13 on this machine (pyenv's shared builds and Debian's
# static /usr/bin/python3.11), in three modes each (see check.py):
#   early   test library preloaded, detection and install from the malloc hook
#   stress  as early, and every allocation walks and describes the stack
#   late    loaded with ctypes only and installed by hand (the attach case)
# then checks that unsupported interpreters and non-Python programs run
# untouched with the library preloaded.
#
# Builds with plain gcc (CC to override; clang, if present, must compile
# the same files without a warning) into a temporary folder, never in the
# tree.  One line per interpreter: PASS, FAIL or SKIP with the reason.
# Exit status per automake: 0 pass, 1 a failure, 77 nothing to test, 99 a
# hard error (the build failed).
#
# Usage: tests/agent-python/run.sh [PYTHON...]   (default: all found)

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../src" && pwd)
CC=${CC:-gcc}
CFLAGS="-std=c11 -O2 -fPIC -fvisibility=hidden -Wall -Wextra"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memprof-agent-python.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C

sources="$here/shim.c $src/agent/agent-python.c $src/agent/agent-pymem.c $src/linetable.c"

# build CC: the test library into $tmp/libshim-CC.so, warnings are errors.
build() {
    # shellcheck disable=SC2086
    "$1" $CFLAGS -Werror -shared -I"$src" -I"$src/agent" -o "$tmp/libshim-$1.so" \
        $sources -ldl -lpthread 2>"$tmp/build-$1.log"
}

if ! build "$CC"; then
    echo "ERROR: $CC could not build the test library:"
    cat "$tmp/build-$CC.log"
    exit 99
fi
if [ "$CC" != clang ] && command -v clang >/dev/null 2>&1; then
    if build clang; then
        echo "PASS clang: builds without warnings"
    else
        echo "FAIL clang: warnings or errors:"
        cat "$tmp/build-clang.log"
        failed=1
    fi
fi
SHIM_LIB="$tmp/libshim-$CC.so"
export SHIM_LIB

failed=${failed:-0}
passed=0

# mode PYTHON MODE: runs check.py once in MODE; on failure prints why.
mode() {
    case $2 in
    early)  _env="LD_PRELOAD=$SHIM_LIB SHIM_EARLY=1" ;;
    stress) _env="LD_PRELOAD=$SHIM_LIB SHIM_EARLY=1 SHIM_STRESS=1" ;;
    *)      _env= ;;
    esac
    # 900 s: the stress mode walks millions of stacks on a slow machine.
    # shellcheck disable=SC2086
    env $_env timeout 900 "$1" "$here/check.py" --mode "$2" \
        >"$tmp/$2.out" 2>"$tmp/$2.err"
    _rc=$?
    [ $_rc -eq 0 ] && return 0
    echo "    $2: exit $_rc"
    sed 's/^/    /' "$tmp/$2.out" | head -20
    grep -v '^memprof-shim: exit recorded$' "$tmp/$2.err" | sed 's/^/    /' | tail -20
    return 1
}

# checks MODE: the number of checks the last run of MODE passed ("ok N checks; ...").
checks() {
    sed -n 's/^ok \([0-9]*\) checks.*/\1/p' "$tmp/$1.out"
}

# one PYTHON: all modes against one interpreter, one summary line.
one() {
    _py=$1
    if [ ! -x "$_py" ]; then
        echo "SKIP $_py: not installed"
        return 2
    fi
    _ver=$("$_py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)
    case $_ver in
    3.8.*|3.9.*|3.10.*|3.11.*|3.12.*|3.13.*) ;;
    *)  echo "SKIP $_py: version '$_ver' is not 3.8-3.13"; return 2 ;;
    esac
    _kind=$("$_py" -c 'print("shared" if "libpython3" in open("/proc/self/maps").read() else "static")')
    _log=$tmp/log.$$
    : >"$_log"
    for _m in early stress late; do
        if ! mode "$_py" "$_m" >>"$_log"; then
            echo "FAIL $_ver $_py ($_kind): mode $_m"
            cat "$_log"
            return 1
        fi
    done
    _notes=$(sed -n 's/^ok [0-9]* checks; //p' "$tmp/early.out")
    _walks=$(sed -n 's/.*; \([0-9]* stress walks\)$/\1/p' "$tmp/stress.out")
    echo "PASS $_ver $_py ($_kind): checks early $(checks early), stress $(checks stress)," \
        "late $(checks late); $_notes; $_walks"
    return 0
}

# untouched NAME CMD...: same output and status with the library preloaded.
untouched() {
    _name=$1
    shift
    "$@" >"$tmp/bare.out" 2>&1
    _brc=$?
    env LD_PRELOAD="$SHIM_LIB" SHIM_EARLY=1 SHIM_STRESS=1 "$@" >"$tmp/shim.out" 2>&1
    _arc=$?
    if [ $_brc -eq $_arc ] && cmp -s "$tmp/bare.out" "$tmp/shim.out"; then
        echo "PASS untouched: $_name"
        passed=$((passed + 1))
    else
        echo "FAIL untouched: $_name: exit $_arc (bare $_brc); output:"
        sed 's/^/    /' "$tmp/shim.out" | head -10
        failed=1
    fi
}

if [ $# -eq 0 ]; then
    root=$(pyenv root 2>/dev/null || echo /root/.pyenv)
    for m in 8 9 10 11 12 13; do
        found=
        for py in "$root"/versions/3."$m".*/bin/python3; do
            [ -x "$py" ] && set -- "$@" "$py" && found=1
        done
        [ -n "$found" ] || echo "SKIP 3.$m: no $root/versions/3.$m.*/bin/python3"
    done
    if [ -x /usr/bin/python3.11 ]; then
        set -- "$@" /usr/bin/python3.11
    else
        echo "SKIP static 3.11: no /usr/bin/python3.11"
    fi
    probe_unsupported=1
fi

for py; do
    one "$py"
    case $? in
    0) passed=$((passed + 1)) ;;
    1) failed=1 ;;
    esac
done

if [ -n "${probe_unsupported:-}" ]; then
    untouched "/bin/sh pipeline" sh -c 'echo hello | tr a-z A-Z; ls / >/dev/null; exit 3'
    for py in "$root"/versions/2.*/bin/python "$root"/versions/3.[67].*/bin/python3; do
        [ -x "$py" ] || continue
        untouched "unsupported $py" "$py" -c \
            'import ctypes, os; print(ctypes.CDLL(os.environ["SHIM_LIB"]).shim_detect())'
        grep -qx 0 "$tmp/shim.out" || { echo "FAIL $py: detected as supported"; failed=1; }
    done
fi

if [ "$failed" -ne 0 ]; then
    exit 1
fi
if [ "$passed" -eq 0 ]; then
    echo "SKIP: no interpreter to test"
    exit 77
fi
exit 0
