#!/bin/sh
# bench/floor.sh [RUNS]: how much of the default mode's overhead is the
# floor of its design, on each workload of bench/workloads/ (or WORKLOADS).
#
# A profiler that sees Python's objects through PyMem_SetAllocator (memprof,
# tracemalloc, Scalene, memray) puts a wrapper between the interpreter and
# pymalloc; on a PGO build that alone costs something, whatever the wrapper
# does (docs/sampling.md).  This builds two agents from the same sources
# with the same flags: memprof's, and a floor agent (MEMPROF_BENCH_FLOOR)
# whose wrappers of Python's domains only call the original allocator,
# counting and recording nothing (its malloc hooks still sample what the
# interpreter asks of malloc, a few blocks a second, which is also how it
# finds the interpreter and installs the wrappers).  Then bench/ab.py runs both under `memprof run`,
# interleaved round by round with the bare run, RUNS rounds (default 7):
# the floor agent's ratio to bare is the floor on this machine and this
# interpreter, and memprof's own cost is what its ratio adds.
#
# MEMPROF names the controller (default: the source tree's memprof; after
# an out-of-tree build, MEMPROF=../build/memprof), PYTHON the interpreter
# (default /usr/bin/python3).  Builds in a temporary folder, never in the
# tree.  Exit 2 on bad arguments or a missing memprof, 1 if a build fails.

set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
src=$top/src
runs=${1:-7}
CC=${CC:-gcc}
PY=${PYTHON:-/usr/bin/python3}
MEMPROF=${MEMPROF:-$top/memprof}
case $runs in
'' | *[!0-9]*) echo "bench/floor.sh: RUNS must be a number, not '$runs'" >&2; exit 2 ;;
esac
if [ ! -x "$MEMPROF" ]; then
    echo "bench/floor.sh: no memprof at $MEMPROF (an out-of-tree build: set MEMPROF=BUILD/memprof)" >&2
    exit 2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memprof-floor.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# build NAME [CFLAGS...]: an agent into $tmp/NAME-agent.so, as
# Makefile.am builds libmemprof.so (its flags, every agent source).
build() {
    name=$1
    shift
    # shellcheck disable=SC2046
    $CC -std=gnu11 -O2 -g -fPIC -shared -fvisibility=hidden -fno-omit-frame-pointer \
        -ftls-model=initial-exec "$@" -I"$src/agent" -I"$src" \
        -o "$tmp/$name-agent.so" $(ls "$src"/agent/*.c) "$src/wire-resident.c" \
        -Wl,-z,nodelete -Wl,-z,now -Wl,--no-undefined -ldl -lpthread -lm -lgcc_s ||
        { echo "bench/floor.sh: could not build the $name agent" >&2; exit 1; }
}
build memprof
build floor -DMEMPROF_BENCH_FLOOR

if [ -z "${WORKLOADS:-}" ]; then
    WORKLOADS=
    for w in "$here"/workloads/*.py; do WORKLOADS="$WORKLOADS $(basename "$w" .py)"; done
fi
echo "floor: $runs rounds per workload, interpreter $($PY -c 'import sys; print(sys.version.split()[0])') ($PY)"
echo "A is the floor agent (Python wrappers that only forward), B memprof's default mode"
for name in $WORKLOADS; do
    echo
    MEMPROF=$MEMPROF python3 "$here/ab.py" -n "$runs" -w "$name" --python "$PY" \
        "$tmp/floor-agent.so" "$tmp/memprof-agent.so" || exit $?
done
