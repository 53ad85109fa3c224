#!/bin/sh
# bench/run.sh [RUNS]: overhead of memprof against the bare interpreter and
# the peers available here, on the workloads in bench/workloads/ (or only
# those WORKLOADS names, e.g. WORKLOADS="threads deep_stack").
#
# Every configuration runs each workload RUNS times (default 5) in the same
# session, interleaved round-robin so that machine noise hits all alike; the
# tables show the median wall time with the median over rounds of the ratio
# to the bare run of the same round, and the fastest run with its ratio to
# the fastest bare run (noise only ever adds time).
# Peers: python -X tracemalloc (1 frame, its default), heaptrack and Scalene
# (Debian packages) when installed.  All use one interpreter (PYTHON,
# default /usr/bin/python3) so that the ratios compare like with like.
# heaptrack runs twice: as users run it, when it sees pymalloc's arenas
# (one malloc per 1 MiB arena, whatever line asked for the object that
# needed it) but not the objects in them; and with PYTHONMALLOC=malloc
# (heaptrack-obj), when it sees every object, as --exact and tracemalloc
# do: the like-for-like peer of --exact.

set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
runs=${1:-5}
PY=${PYTHON:-/usr/bin/python3}
MEMPROF=${MEMPROF:-$top/memprof}
if [ ! -x "$MEMPROF" ]; then
    echo "bench: no memprof at $MEMPROF (an out-of-tree build: set MEMPROF=BUILD/memprof)" >&2
    exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

configs="bare memprof memprof-exact tracemalloc"
command -v heaptrack >/dev/null 2>&1 && configs="$configs heaptrack heaptrack-obj"
"$PY" -c 'import scalene' 2>/dev/null && configs="$configs scalene"

# cmd CONFIG WORKLOAD: the command line of one configuration.
cmd() {
    case $1 in
    bare) echo "$PY $2" ;;
    memprof) echo "$MEMPROF run -o $out/run/m.mprof $PY $2" ;;
    memprof-exact) echo "$MEMPROF run --exact -o $out/run/m.mprof $PY $2" ;;
    tracemalloc) echo "$PY -X tracemalloc=1 $2" ;;
    heaptrack) echo "heaptrack -o $out/run/h $PY $2" ;;
    heaptrack-obj) echo "env PYTHONMALLOC=malloc heaptrack -o $out/run/h $PY $2" ;;
    scalene) echo "$PY -m scalene --cli --memory --outfile $out/run/s.txt $2" ;;
    esac
}

# now: seconds since the epoch with nanoseconds.
now() { date +%s.%N; }

# The workloads, read once (a file added meanwhile does not break the tables).
if [ -z "${WORKLOADS:-}" ]; then
    WORKLOADS=
    for w in "$here"/workloads/*.py; do WORKLOADS="$WORKLOADS $(basename "$w" .py)"; done
fi
for name in $WORKLOADS; do
    if [ ! -f "$here/workloads/$name.py" ]; then
        echo "bench: no workload $name in $here/workloads" >&2
        exit 2
    fi
done

echo "bench: $runs runs per configuration, interpreter $($PY -c 'import sys; print(sys.version.split()[0])') ($PY)"
for name in $WORKLOADS; do
    w="$here/workloads/$name.py"
    for i in $(seq "$runs"); do
        for c in $configs; do
            # Every run writes into an empty directory, emptied again (untimed)
            # after it: no run pays for truncating, or the kernel writing back,
            # the output of the one before (--exact writes ~100 MB on threads).
            mkdir -p "$out/run"
            t0=$(now)
            sh -c "$(cmd "$c" "$w")" >/dev/null 2>&1 || echo "bench: $c $name run $i failed" >&2
            t1=$(now)
            rm -rf "$out/run"
            echo "$t1 - $t0" | bc >> "$out/$name.$c"
        done
    done
done

# median FILE: the median of the numbers in FILE.
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# ratio_median NAME CONFIG: the median over rounds of CONFIG's time divided
# by bare's time in the same round.  Runs of one round are seconds apart, so
# this cancels the drifts of this kind of machine's speed (a shared VM's
# bare run alone varied by 20% from round to round) that a ratio of two
# medians keeps.
ratio_median() {
    paste "$out/$1.$2" "$out/$1.bare" | awk '{print $1 / $2}' > "$out/ratio"
    median "$out/ratio"
}

# fastest FILE: the smallest number in FILE.
fastest() { sort -n "$1" | head -1; }

# header TITLE: a table's title and its column names.
header() {
    printf '\n%s\n%-16s' "$1" workload
    for c in $configs; do printf '%16s' "$c"; done
    printf '\n'
}

header 'median wall time, and the median over rounds of the ratio to bare in the same round'
for name in $WORKLOADS; do
    printf '%-16s' "$name"
    for c in $configs; do
        printf '%16s' "$(printf '%.2fs %.2fx' "$(median "$out/$name.$c")" "$(ratio_median "$name" "$c")")"
    done
    printf '\n'
done

# Noise on a shared machine only ever adds time: the fastest runs are the
# least disturbed, and their ratio is the other robust figure.
header 'fastest run, and its ratio to the fastest bare run'
for name in $WORKLOADS; do
    base=$(fastest "$out/$name.bare")
    printf '%-16s' "$name"
    for c in $configs; do
        m=$(fastest "$out/$name.$c")
        printf '%16s' "$(printf '%.2fs %.2fx' "$m" "$(echo "$m / $base" | bc -l)")"
    done
    printf '\n'
done
