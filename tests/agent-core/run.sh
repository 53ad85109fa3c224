#!/bin/sh
# run.sh: proves the agent's recorder (agent-core, -record, -hooks, -ring,
# -sampler, -addrset, -maps, -stack) with real programs under
# tests/wire-dump.c, the debugging consumer of the wire protocol.
#
# Builds the agent with gcc and with clang (-std=gnu11 -O2 -fPIC -shared
# -fvisibility=hidden, warnings are errors) into a temporary folder, never
# in the tree, together with wire-dump and alloc-test.c.  The agent is built
# with src/agent/agent-python.c and agent-pymem.c when they are there, or
# with a stub that finds no interpreter (MEMPROF_TEST_STUB_PYTHON=1 forces
# the stub).  Then checks, one line each:
#  - exact mode: per-site totals of alloc-test (every hooked function, five
#    threads and a fork child) match what the program counted, to the byte;
#  - sampling mode (64K): sites of at least 5% are within 10%;
#  - /bin/ls, /bin/true, sh -c 'echo hi | cat' and python3 print the same
#    and exit the same under the agent (recording and inert);
#  - _exit(3) gives 3, SIGKILL gives 137 and the records before it;
#  - errno survives every hook; realloc(p, 0) is a free;
#  - 8 threads freeing each other's blocks while forking: no deadlock;
#  - no deadlock when libgcc allocates under its own mutex, nor when a
#    signal handler maps and unmaps inside the agent's own bookkeeping;
#  - no undefined behaviour (a UBSan-trapping build of the agent);
#  - MEMPROF_FOLLOW=0, controller detach, full rings (dropped and counted
#    when sampling; waiting, then dropping when exact).
# Exit status per automake: 0 pass, 1 a failure, 77 nothing could run (no
# compiler), 99 a hard error (the build failed).
#
# Usage: tests/agent-core/run.sh

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
src=$top/src
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memprof-agent-core.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C
unset MEMPROF_SOCKET MEMPROF_SAMPLE_EVERY MEMPROF_NATIVE MEMPROF_FOLLOW \
    MEMPROF_ROOT_PID MEMPROF_RING_SIZE LD_PRELOAD

n=0
failed=0

ok() {
    n=$((n + 1))
    echo "PASS $n $*"
}

not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "FAIL $n $*"
}

skip() {
    echo "SKIP $*"
}

command -v gcc >/dev/null 2>&1 || { echo "SKIP gcc not found"; exit 77; }

# --- build ------------------------------------------------------------------

core="$src/agent/agent-core.c $src/agent/agent-record.c $src/agent/agent-ring.c
    $src/agent/agent-hooks.c $src/agent/agent-sampler.c $src/agent/agent-addrset.c $src/agent/agent-maps.c
    $src/agent/agent-stack.c $src/wire-resident.c"
if [ -z "${MEMPROF_TEST_STUB_PYTHON:-}" ] && [ -f "$src/agent/agent-python.c" ] &&
    [ -f "$src/agent/agent-pymem.c" ] && [ -f "$src/linetable.c" ]; then
    python_src="$src/agent/agent-python.c $src/agent/agent-pymem.c $src/linetable.c"
    python_kind="agent-python.c"
else
    cat >"$tmp/stub-python.c" <<'EOF'
/* Stand-in for agent-python.c and agent-pymem.c: there is never an interpreter. */
#include "agent.h"
uint32_t agent_python_detect(void) { return 0; }
int agent_python_is_static(void) { return 0; }
int agent_python_walk_raw(struct agent_pyraw *r, int max, int *t)
{ (void)r; (void)max; *t = 0; return 0; }
int agent_python_cook(const struct agent_pyraw *r, struct agent_pyframe *f)
{ (void)r; (void)f; return 0; }
int agent_python_cook_all(const struct agent_pyraw *r, int n, struct agent_pyframe *f, int max, int *t)
{ (void)r; (void)n; (void)f; (void)max; (void)t; return 0; }
uint64_t agent_python_code_key(uintptr_t code) { (void)code; return 0; }
int agent_python_describe(uintptr_t code, struct agent_pycode *out, char *buf, size_t cap)
{ (void)code; (void)out; (void)buf; (void)cap; return -1; }
void agent_pymem_maybe_install(void) { }
_Atomic int agent_pymem_state = AGENT_PYMEM_OFF;
EOF
    python_src="$tmp/stub-python.c"
    python_kind="stub"
fi

AGENT_CFLAGS="-std=gnu11 -O2 -g -fPIC -shared -fvisibility=hidden
    -ftls-model=initial-exec -Wall -Wextra -Wshadow -Wpointer-arith
    -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Werror"
AGENT_LDFLAGS="-Wl,-z,now -Wl,--no-undefined -ldl -pthread -lm"

# build_agent CC: the agent into $tmp/libmemprof-CC.so.
build_agent() {
    # shellcheck disable=SC2086
    "$1" $AGENT_CFLAGS -I"$src/agent" -I"$src" -o "$tmp/libmemprof-$1.so" \
        $core $python_src $AGENT_LDFLAGS >"$tmp/build-$1.log" 2>&1
}

if build_agent gcc; then
    ok "gcc builds the agent without warnings (python part: $python_kind)"
else
    echo "ERROR: gcc could not build the agent:"; cat "$tmp/build-gcc.log"; exit 99
fi
have_clang=0
if command -v clang >/dev/null 2>&1; then
    if build_agent clang; then
        ok "clang builds the agent without warnings"
        have_clang=1
    else
        not_ok "clang: warnings or errors:"; cat "$tmp/build-clang.log"
    fi
else
    skip "clang not installed"
fi
if ! gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -o "$tmp/wire-dump" "$top/tests/wire-dump.c" \
        >"$tmp/build-dump.log" 2>&1; then
    echo "ERROR: wire-dump does not build:"; cat "$tmp/build-dump.log"; exit 99
fi
# -O0, no builtins, non-PIE: the sites stay separate functions at fixed
# addresses; -shared-libgcc: its unwind mode shares libgcc_s with the agent.
if ! gcc -std=gnu11 -O0 -g -fno-builtin -no-pie -fno-pie -shared-libgcc -Wall -Wextra -Werror \
        -o "$tmp/alloc-test" "$here/alloc-test.c" -pthread >"$tmp/build-test.log" 2>&1; then
    echo "ERROR: alloc-test does not build:"; cat "$tmp/build-test.log"; exit 99
fi
AGENT=$tmp/libmemprof-gcc.so
DUMP=$tmp/wire-dump
TEST=$tmp/alloc-test

# The agent exports the interposed names and nothing else.
exports=$(nm -D --defined-only "$AGENT" | awk '{print $3}' | sort | tr '\n' ' ')
want="aligned_alloc calloc free malloc memalign mmap mmap64 mremap munmap posix_memalign pvalloc realloc reallocarray valloc "
if [ "$exports" = "$want" ]; then
    ok "exports only the interposed functions"
else
    not_ok "exports: $exports"
fi
if readelf -d "$AGENT" | grep -q 'STATIC_TLS' && readelf -d "$AGENT" | grep -q 'libgcc_s'; then
    ok "initial-exec TLS, libgcc_s linked directly (no dlopen by the unwinder)"
else
    not_ok "TLS model or libgcc_s dependency: $(readelf -d "$AGENT" | grep -E 'NEEDED|FLAGS')"
fi

# --- helpers ----------------------------------------------------------------

# field NAME FILE [PID]: the value of NAME= on the first (or PID's last) process line.
field() {
    if [ -n "${3:-}" ]; then
        grep "^process pid=$3 " "$2" | tail -n 1
    else
        grep '^process ' "$2" | head -n 1
    fi | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# sites DUMP: "PID SITE ALLOC LIVE_END" per site_* function of alloc-test, from -S lines.
nm -S --defined-only "$TEST" | awk '$4 ~ /^site_/ { print $1, $2, $4 }' >"$tmp/syms"
sites() {
    awk '
    function hex(s,   i, c, v) {
        v = 0; s = tolower(s); sub(/^0x/, "", s)
        for (i = 1; i <= length(s); i++) {
            c = index("0123456789abcdef", substr(s, i, 1)) - 1
            v = v * 16 + c
        }
        return v
    }
    NR == FNR { lo[NR] = hex($1); hi[NR] = hex($1) + hex($2); name[NR] = $3; nsym = NR; next }
    /^site / {
        pid = ""; frame = ""; alloc = 0; live = 0
        for (i = 2; i <= NF; i++) {
            split($i, kv, "=")
            if (kv[1] == "pid") pid = kv[2]
            else if (kv[1] == "frame") frame = kv[2]
            else if (kv[1] == "alloc") alloc = kv[2]
            else if (kv[1] == "live_end") live = kv[2]
        }
        if (frame !~ /^0x/) next
        a = hex(frame) - 1
        for (j = 1; j <= nsym; j++)
            if (a >= lo[j] && a < hi[j]) {
                key = pid " " name[j]; A[key] += alloc; L[key] += live; break
            }
    }
    END { for (k in A) print k, A[k], L[k] }
    ' "$tmp/syms" "$1" | sort
}

# compare_exact EXPECT SITES ROLE LABEL: every site of ROLE matches to the byte.
compare_exact() {
    _bad=$(awk -v role="$3" '
        NR == FNR { A[$1 " " $2] = $3; L[$1 " " $2] = $4; next }
        $2 == role {
            k = $3 " " $4
            if (!(k in A)) { A[k] = 0; L[k] = 0 }
            if (A[k] != $5 || L[k] != $6)
                printf "%s: allocated %s live %s, expected %s and %s; ", $4, A[k], L[k], $5, $6
            n++
        }
        END { if (n == 0) print "no expectations" }
        ' "$1" "$2")
    if [ -z "$_bad" ]; then
        ok "$4"
    else
        not_ok "$4: $_bad"
    fi
}

# --- exact mode -------------------------------------------------------------

# exact_known CC: alloc-test known under the CC-built agent, exact mode.
exact_known() {
    rm -f "$tmp/expect"
    ALLOC_TEST_EXPECT=$tmp/expect "$DUMP" -a "$tmp/libmemprof-$1.so" -e -S \
        -o "$tmp/exact-$1.dump" -- "$TEST" known 512 4 >"$tmp/exact-$1.out" 2>&1
    _rc=$?
    if [ $_rc -ne 0 ]; then
        not_ok "exact ($1): alloc-test exited $_rc: $(cat "$tmp/exact-$1.out")"
        return
    fi
    sites "$tmp/exact-$1.dump" >"$tmp/exact-$1.sites"
    compare_exact "$tmp/exact-$1.sites" "$tmp/expect" parent \
        "exact ($1): 11 sites x 5 threads, allocated and live bytes match to the byte"
    compare_exact "$tmp/exact-$1.sites" "$tmp/expect" child \
        "exact ($1): the fork child's own session matches to the byte"
    _errs=$(grep '^process ' "$tmp/exact-$1.dump" | tr ' ' '\n' |
        grep -E '^(dropped_records|unmatched_unmaps|reused|unknown_stacks|unknown_codes|bad)=' |
        grep -v '=0$' | sort -u | tr '\n' ' ')
    # Exact mode sends every free; a block the agent's own callees allocated
    # under the guard (the dlerror string of a failed interpreter probe,
    # freed at thread exit) is one the controller never saw: a few at most.
    _unm=$(grep '^process ' "$tmp/exact-$1.dump" | tr ' ' '\n' |
        sed -n 's/^unmatched_frees=//p' | awk '{ s += $1 } END { print s + 0 }')
    _ses=$(grep -c '^process ' "$tmp/exact-$1.dump")
    if [ -z "$_errs" ] && [ "$_ses" -eq 2 ] && [ "$_unm" -le 16 ]; then
        ok "exact ($1): 2 sessions, no drop, no reuse or unknown id, $_unm foreign frees"
    else
        not_ok "exact ($1): sessions $_ses, $_errs unmatched_frees=$_unm"
    fi
    # The totals above hold with young blocks cancelled rather than freed
    # (wire.h, Cancelling): alloc-test frees most of its blocks on the
    # thread that made them, soon after.
    _can=$(grep '^process ' "$tmp/exact-$1.dump" | tr ' ' '\n' |
        sed -n 's/^cancelled=//p' | awk '{ s += $1 } END { print s + 0 }')
    if [ "$_can" -gt 0 ]; then
        ok "exact ($1): $_can allocations cancelled by their own thread's free, totals exact"
    else
        not_ok "exact ($1): no allocation was cancelled"
    fi
}
exact_known gcc
[ $have_clang -eq 1 ] && exact_known clang

# realloc(p, 0) frees: site_r0 keeps one of its two 12345-byte blocks.
r0=$(awk '$2 == "site_r0" { print $3, $4 }' "$tmp/exact-gcc.sites" | head -n 1)
if [ "$r0" = "$(awk '$2 == "parent" && $4 == "site_r0" { print $5, $6 }' "$tmp/expect")" ] &&
    [ -n "$r0" ]; then
    ok "realloc(p, 0) is a free (site_r0 allocated/live: $r0)"
else
    not_ok "realloc(p, 0): site_r0 shows $r0"
fi

# --- sampling mode ----------------------------------------------------------

rm -f "$tmp/expect"
ALLOC_TEST_EXPECT=$tmp/expect "$DUMP" -a "$AGENT" -s 64K -S -o "$tmp/sample.dump" -- \
    "$TEST" known 32768 4 >"$tmp/sample.out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    not_ok "sampling: alloc-test exited $rc: $(cat "$tmp/sample.out")"
else
    sites "$tmp/sample.dump" >"$tmp/sample.sites"
    res=$(awk -v pid="$(awk '$2 == "parent" { print $3; exit }' "$tmp/expect")" '
        NR == FNR { if ($1 == pid) E[$2] = $3; next }
        $2 == "parent" { X[$4] = $5; total += $5 }
        END {
            for (s in X) {
                if (X[s] < total * 0.05) continue
                err = (E[s] - X[s]) / X[s]
                if (err < 0) err = -err
                if (err > worst) worst = err
                if (err > 0.10) bad = bad sprintf("%s %.1f%% ", s, 100 * (E[s] - X[s]) / X[s])
                n++
            }
            printf "%d %.1f %s\n", n, 100 * worst, bad
        }' "$tmp/sample.sites" "$tmp/expect")
    set -- $res
    if [ "$1" -ge 10 ] && [ -z "${3:-}" ]; then
        ok "sampling 64K: $1 sites of >=5% within 10% (worst $2%)"
    else
        not_ok "sampling 64K: $res"
    fi
fi

# --- ordinary programs, unchanged ---------------------------------------------

# same NAME MODE CMD...: identical stdout, stderr and status bare and under the
# agent; MODE exact/sample records through wire-dump, inert preloads only.
same() {
    _name=$1; _mode=$2; shift 2
    "$@" >"$tmp/bare.out" 2>"$tmp/bare.err"
    _brc=$?
    case $_mode in
    inert)  LD_PRELOAD=$AGENT "$@" >"$tmp/agent.out" 2>"$tmp/agent.err" ;;
    exact)  "$DUMP" -a "$AGENT" -e -o "$tmp/same.dump" -- "$@" >"$tmp/agent.out" 2>"$tmp/agent.err" ;;
    sample) "$DUMP" -a "$AGENT" -s 4K -o "$tmp/same.dump" -- "$@" >"$tmp/agent.out" 2>"$tmp/agent.err" ;;
    esac
    _arc=$?
    if [ $_brc -ne $_arc ]; then
        not_ok "$_name ($_mode): exit $_arc under the agent, $_brc bare"
    elif ! cmp -s "$tmp/bare.out" "$tmp/agent.out"; then
        not_ok "$_name ($_mode): stdout differs"
    elif ! cmp -s "$tmp/bare.err" "$tmp/agent.err"; then
        not_ok "$_name ($_mode): stderr differs: $(head -c 300 "$tmp/agent.err")"
    else
        ok "$_name ($_mode): same output, exit $_arc"
    fi
}

for mode in inert sample exact; do
    same "ls -la src" $mode /bin/ls -la "$src"
    same "/bin/true" $mode /bin/true
    same "sh -c 'echo hi | cat'" $mode /bin/sh -c 'echo hi | cat'
done
same "/bin/false" exact /bin/false
if [ $have_clang -eq 1 ]; then
    AGENT=$tmp/libmemprof-clang.so same "ls -la src, clang agent" exact /bin/ls -la "$src"
fi
"$DUMP" -a "$AGENT" -e -o "$tmp/sh.dump" -- /bin/sh -c 'echo hi | cat' >/dev/null 2>&1
nses=$(grep -c '^process ' "$tmp/sh.dump")
if [ "$nses" -ge 3 ]; then
    ok "sh pipeline: $nses sessions (fork children and exec'd images each say hello)"
else
    not_ok "sh pipeline: $nses sessions"
fi

# Python runs unchanged, with every interpreter found.
pythons=""
for p in /usr/bin/python3 "$(pyenv root 2>/dev/null)"/versions/3.*/bin/python3; do
    [ -x "$p" ] && pythons="$pythons $p"
done
pyprog='import sys, json, threading
def work(n): return [dict(a=i, b=str(i) * 20) for i in range(n)]
t = threading.Thread(target=work, args=(20000,)); t.start()
x = work(50000); t.join()
print(json.dumps({"n": len(x), "v": sys.version_info[:2]})); sys.exit(5)'
if [ -z "$pythons" ]; then
    skip "python: no interpreter found"
fi
for p in $pythons; do
    same "python $p" sample "$p" -c "$pyprog"
done
py=$(echo $pythons | awk '{print $1}')
if [ -n "$py" ]; then
    same "python $py" exact "$py" -c "$pyprog"
    same "python $py" inert "$py" -c "$pyprog"
fi

# With the real agent-python.c: Python stacks reach the ring (CODE and STACK
# records the consumer resolves), and the hot Python function tops the profile.
if [ "$python_kind" = agent-python.c ]; then
    cat >"$tmp/hog.py" <<'EOF'
def hog(n):
    out = []
    for _ in range(n):
        out.append(bytearray(1000))
    return out
def other(n):
    return [str(i) for i in range(n)]
keep = hog(40000)
small = other(2000)
print(len(keep), len(small))
EOF
    for p in $pythons; do
        case $("$p" -c 'import sys; print(sys.version_info[:2] >= (3, 8))' 2>/dev/null) in
        True) ;;
        *) continue ;;
        esac
        for m in "-s 64K" "-e"; do
            # shellcheck disable=SC2086
            "$DUMP" -a "$AGENT" $m -o "$tmp/hog.dump" -- "$p" "$tmp/hog.py" >/dev/null 2>&1
            top=$(grep -m 1 '^  top1 ' "$tmp/hog.dump")
            pyv=$(field python "$tmp/hog.dump")
            unk=$(field unknown_codes "$tmp/hog.dump")
            if echo "$top" | grep -q 'hog.py:.*hog' && [ "$pyv" != 0 ] && [ "$unk" = 0 ]; then
                ok "python stacks $p ($m): interpreter $pyv announced, top site in hog()"
            else
                not_ok "python stacks $p ($m): python=$pyv unknown_codes=$unk $top"
            fi
        done
    done
fi

# --- exits ----------------------------------------------------------------------

"$DUMP" -a "$AGENT" -e -o "$tmp/exit3.dump" -- "$TEST" exit3 >/dev/null 2>&1
rc=$?
if [ $rc -eq 3 ] && [ "$(field alloc "$tmp/exit3.dump")" -ge 1 ]; then
    ok "_exit(3): status 3, its allocations recorded"
else
    not_ok "_exit(3): status $rc"
fi
timeout 60 "$DUMP" -a "$AGENT" -e -o "$tmp/kill.dump" -- "$TEST" kill >/dev/null 2>&1
rc=$?
allocs=$(field alloc "$tmp/kill.dump")
if [ $rc -eq 137 ] && [ "${allocs:-0}" -ge 1000 ] && [ "$(field eof "$tmp/kill.dump")" = 1 ]; then
    ok "SIGKILL: status 137, the connection closed, $allocs allocations recorded before"
else
    not_ok "SIGKILL: status $rc, allocs ${allocs:-none}"
fi

# --- errno ------------------------------------------------------------------------

for m in "-e" "-s 1" "inert"; do
    if [ "$m" = inert ]; then
        LD_PRELOAD=$AGENT "$TEST" errno >"$tmp/errno.out" 2>&1
    else
        # shellcheck disable=SC2086
        "$DUMP" -a "$AGENT" $m -o "$tmp/errno.dump" -- "$TEST" errno >"$tmp/errno.out" 2>&1
    fi
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "errno preserved by every hook ($m)"
    else
        not_ok "errno ($m): $(head -c 400 "$tmp/errno.out")"
    fi
done

# --- threads: cross-thread frees while forking ----------------------------------

for m in "-s 64K" "-e"; do
    # shellcheck disable=SC2086
    timeout 120 "$DUMP" -a "$AGENT" $m -S -o "$tmp/churn.dump" -- "$TEST" churn 3 8 \
        >"$tmp/churn.out" 2>&1
    rc=$?
    pid=$(awk '/^process / { print $2; exit }' "$tmp/churn.dump" | sed 's/pid=//')
    live=$(sites "$tmp/churn.dump" | awk -v pid="$pid" '$1 == pid && $2 == "site_churn" { print $4 }')
    kids=$(grep -c '^process ' "$tmp/churn.dump")
    bad=$(field bad "$tmp/churn.dump")
    if [ $rc -eq 0 ] && [ "${live:-0}" -eq 0 ] && [ "$kids" -ge 5 ] && [ "$bad" = 0 ]; then
        ok "8 threads x 3 s, cross-thread frees, forking ($m): no deadlock, $kids sessions, nothing left live"
    else
        not_ok "churn ($m): status $rc, live ${live:-?}, sessions $kids, bad $bad: $(head -c 300 "$tmp/churn.out")"
    fi
done

# --- libgcc's unwinder allocating under its own mutex ------------------------------

# The inner timeout ends a hung alloc-test, so that wire-dump reports 124.
timeout 60 "$DUMP" -a "$AGENT" -e -o "$tmp/unwind.dump" -- timeout 20 "$TEST" unwind \
    >"$tmp/unwind.out" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
    ok "malloc from libgcc_s under its object_mutex (registered frames): not unwound, no deadlock"
else
    not_ok "libgcc_s allocating under its mutex: status $rc $(head -c 200 "$tmp/unwind.out")"
fi

# A signal handler's munmap landing inside the agent's own bookkeeping of a
# mapping (same thread, registry lock held) must not wait for that lock.
for m in "-e" "-s 4K"; do
    # shellcheck disable=SC2086
    timeout 60 "$DUMP" -a "$AGENT" $m -o "$tmp/signals.dump" -- timeout 20 "$TEST" signals 3 \
        >"$tmp/signals.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "mmap/munmap from a signal handler amid the agent's own ($m): no deadlock ($(cat "$tmp/signals.out"))"
    else
        not_ok "signal handler munmap ($m): status $rc"
    fi
done

# --- undefined behaviour -----------------------------------------------------------

# UBSan in trapping mode: no runtime library, which would allocate through
# the hooks; any undefined behaviour on these paths ends the program (132).
if gcc $AGENT_CFLAGS -O1 -fsanitize=undefined -fsanitize-undefined-trap-on-error \
        -I"$src/agent" -I"$src" -o "$tmp/libmemprof-ubsan.so" $core $python_src \
        $AGENT_LDFLAGS >"$tmp/build-ubsan.log" 2>&1; then
    res=""
    for m in "-e" "-s 4K"; do
        for prog in "known 256 4" "churn 1 8" "errno"; do
            # shellcheck disable=SC2086
            timeout 120 "$DUMP" -a "$tmp/libmemprof-ubsan.so" $m -o "$tmp/ubsan.dump" -- \
                "$TEST" $prog >/dev/null 2>&1 || res="$res [$m $prog: $?]"
        done
    done
    if [ -n "$py" ]; then
        timeout 120 "$DUMP" -a "$tmp/libmemprof-ubsan.so" -e -o "$tmp/ubsan.dump" -- \
            "$py" -c "$pyprog" >/dev/null 2>&1
        [ $? -eq 5 ] || res="$res [python]"
    fi
    if [ -z "$res" ]; then
        ok "UBSan-trapping agent: alloc-test (known, churn, errno) and python, exact and sampling"
    else
        not_ok "UBSan-trapping agent:$res"
    fi
else
    not_ok "UBSan build: $(head -c 300 "$tmp/build-ubsan.log")"
fi

# --- follow, detach, full rings ---------------------------------------------------

"$DUMP" -a "$AGENT" -N -e -o "$tmp/nofollow.dump" -- /bin/sh -c 'echo hi | cat; /bin/true' >/dev/null 2>&1
nses=$(grep -c '^process ' "$tmp/nofollow.dump")
if [ "$nses" -eq 1 ]; then
    ok "MEMPROF_FOLLOW=0: only the root process records"
else
    not_ok "MEMPROF_FOLLOW=0: $nses sessions"
fi

timeout 60 "$DUMP" -a "$AGENT" -e -D 300 -o "$tmp/detach.dump" -- "$TEST" churn 2 2 >/dev/null 2>&1
rc=$?
state=$(field agent_state "$tmp/detach.dump")
if [ $rc -eq 0 ] && [ "$state" = 3 ]; then
    ok "controller detach: the agent stops (state DETACHED), the program runs on"
else
    not_ok "detach: status $rc, agent_state $state"
fi

timeout 60 "$DUMP" -a "$AGENT" -s 1K -r 64K -z 5000 -o "$tmp/full.dump" -- "$TEST" known 4096 0 \
    >/dev/null 2>&1
rc=$?
dropped=$(field dropped_records "$tmp/full.dump")
dbytes=$(field dropped_bytes "$tmp/full.dump")
if [ $rc -eq 0 ] && [ "${dropped:-0}" -gt 0 ] && [ "${dbytes:-0}" -gt 0 ]; then
    ok "full ring, sampling: records dropped and counted ($dropped records, $dbytes bytes)"
else
    not_ok "full ring, sampling: status $rc, dropped ${dropped:-?} records ${dbytes:-?} bytes"
fi

rm -f "$tmp/expect"
ALLOC_TEST_EXPECT=$tmp/expect timeout 120 "$DUMP" -a "$AGENT" -e -r 64K -S -o "$tmp/small.dump" -- \
    "$TEST" known 512 4 >/dev/null 2>&1
rc=$?
if [ $rc -eq 0 ]; then
    sites "$tmp/small.dump" >"$tmp/small.sites"
    compare_exact "$tmp/small.sites" "$tmp/expect" parent \
        "exact, 64K ring: producers wait for the consumer, totals still exact"
else
    not_ok "exact, 64K ring: status $rc"
fi

# A consumer that stalls for 4 s but stays connected: --exact waits for it
# (it gives up only after 30 s without progress, or at once if it is gone),
# so nothing is dropped and the totals stay exact.  1024 rounds: more than
# the 64K ring holds even with every young block's FREE cancelled.
start=$(date +%s)
timeout 60 "$DUMP" -a "$AGENT" -e -r 64K -z 4000 -o "$tmp/stall.dump" -- "$TEST" known 1024 0 \
    >/dev/null 2>&1
rc=$?
took=$(( $(date +%s) - start ))
dropped=$(field dropped_records "$tmp/stall.dump")
if [ $rc -eq 0 ] && [ "${dropped:-1}" -eq 0 ] && [ $took -ge 4 ]; then
    ok "exact, consumer stalled 4 s: the agent waits, drops nothing, ${took}s"
else
    not_ok "exact, stalled consumer: status $rc, dropped ${dropped:-?}, ${took}s"
fi

echo "agent-core: $n checks, $failed failed"
[ $failed -eq 0 ] || exit 1
exit 0
