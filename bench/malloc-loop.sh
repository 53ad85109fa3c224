#!/bin/sh
# bench/malloc-loop.sh [RUNS]: the agent's hot-path overhead on a tight
# malloc+free loop of small sizes (bench/malloc-loop.c), in four settings:
#   bare      no agent
#   inert     agent preloaded without MEMPROF_SOCKET (loads, records nothing)
#   sample    recording, Poisson sampling at the default 512 KiB
#   exact     recording every allocation and free (MEMPROF_SAMPLE_EVERY=0)
# Recording settings run under tests/wire-dump.c as the consumer.  Every
# setting runs RUNS times (default 7), interleaved round-robin so machine
# noise hits all alike; the table shows the median (and the minimum, the
# steadier figure on a busy machine) of the ns per malloc+free pair, in the
# loop thread's CPU time, and the ratio of the medians to bare.  Builds in
# a temporary folder, never in the tree.

set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
src=$top/src
runs=${1:-7}
PAIRS=${PAIRS:-20000000}
# Exact mode records (and unwinds) every allocation: fewer pairs, same per-pair figure.
EXACT_PAIRS=${EXACT_PAIRS:-500000}
CC=${CC:-gcc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memprof-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
unset MEMPROF_SOCKET MEMPROF_SAMPLE_EVERY LD_PRELOAD

python_src="$src/agent/agent-python.c $src/agent/agent-pymem.c $src/linetable.c"
for f in $python_src; do
    if [ ! -f "$f" ]; then
        printf '#include "agent.h"\nuint32_t agent_python_detect(void){return 0;}\nint agent_python_is_static(void){return 0;}\nint agent_python_walk(struct agent_pyframe*f,int m,int*t){(void)f;(void)m;*t=0;return 0;}\nuint64_t agent_python_code_key(uintptr_t c){(void)c;return 0;}\nint agent_python_describe(uintptr_t c,struct agent_pycode*o,char*b,size_t n){(void)c;(void)o;(void)b;(void)n;return -1;}\nvoid agent_pymem_maybe_install(void){}\n' >"$tmp/stub.c"
        python_src=$tmp/stub.c
        break
    fi
done
# shellcheck disable=SC2086
$CC -std=gnu11 -O2 -fPIC -shared -fvisibility=hidden -ftls-model=initial-exec \
    -I"$src/agent" -I"$src" -o "$tmp/libmemprof.so" \
    "$src"/agent/agent-core.c "$src"/agent/agent-record.c "$src"/agent/agent-ring.c \
    "$src"/agent/agent-hooks.c "$src"/agent/agent-sampler.c "$src"/agent/agent-addrset.c \
    "$src"/agent/agent-maps.c "$src"/agent/agent-stack.c $python_src -Wl,-z,now -ldl -pthread -lm || exit 1
$CC -std=gnu11 -O2 -o "$tmp/wire-dump" "$top/tests/wire-dump.c" || exit 1
$CC -std=gnu11 -O2 -fno-builtin-malloc -fno-builtin-free -o "$tmp/malloc-loop" \
    "$here/malloc-loop.c" || exit 1

settings="bare inert sample exact"

# run SETTING: one run, appending "pair N" and "batch N" to $tmp/SETTING.PATTERN.
run() {
    case $1 in
    bare)   "$tmp/malloc-loop" "$PAIRS" ;;
    inert)  LD_PRELOAD=$tmp/libmemprof.so "$tmp/malloc-loop" "$PAIRS" ;;
    sample) "$tmp/wire-dump" -a "$tmp/libmemprof.so" -o /dev/null -- \
                "$tmp/malloc-loop" "$PAIRS" ;;
    exact)  "$tmp/wire-dump" -a "$tmp/libmemprof.so" -e -o /dev/null -- \
                "$tmp/malloc-loop" "$EXACT_PAIRS" ;;
    esac | while read -r pattern ns; do
        echo "$ns" >>"$tmp/$1.$pattern"
    done
}

# median FILE: the median of the numbers in FILE.
median() {
    sort -n "$1" | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

echo "malloc-loop: $runs runs per setting, median ns per malloc+free pair ($(nproc) CPUs, $($CC --version | head -n 1))"
for i in $(seq "$runs"); do
    for s in $settings; do
        run "$s"
    done
done

# minimum FILE: the smallest number in FILE.
minimum() {
    sort -n "$1" | head -n 1
}

printf '%-8s %-8s %10s %10s %8s\n' pattern setting median min ratio
for pattern in pair batch; do
    base=$(median "$tmp/bare.$pattern")
    for s in $settings; do
        m=$(median "$tmp/$s.$pattern")
        printf '%-8s %-8s %10.2f %10.2f %8s\n' "$pattern" "$s" "$m" "$(minimum "$tmp/$s.$pattern")" \
            "x$(echo "$m $base" | awk '{ printf "%.2f", $1 / $2 }')"
    done
done
