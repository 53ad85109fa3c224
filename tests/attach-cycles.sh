#!/bin/sh
# attach-cycles.sh: 100 attach/detach cycles (--duration 0.2) on one
# long-running Python asyncio server under load.  Every capture must be
# readable and show the known top site; the server answers every request
# correctly throughout (the client checks each reply); afterwards it has
# the threads and descriptors it had before, its resident memory has not
# grown by more than 8 MiB since the first cycle, and it exits normally.
# Also: Ctrl-C detaches; Python's allocator domains are wrapped while
# attached (free too in exact mode only) and the interpreter's own again
# after the detach; an exact attach after sampling ones wraps free; a target
# exiting while attached ends the recording by itself.
# Prints the numbers measured.

. "$(dirname "$0")/lib.sh"

DIR="$MEMPROF_SRCDIR/tests/attach"
HOT_LINE=$(grep -n '# HOT_LINE' "$DIR/target.py" | head -1 | cut -d: -f1)
PY=$(t_pythons | awk '$2 != "-" { p = $2 } END { print p }')
[ -n "$PY" ] || t_skip "no CPython 3.8-3.13 installed"
: "${ATTACH_CYCLES:=100}"
cd "$T_TMP" || exit 99

# wait_for CMD...: poll CMD for up to 20 s (tests/lib.sh).
wait_for() { t_wait_for 20 "$@"; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$1/status; }

timeout 900 "$PY" "$DIR/target.py" asyncio ready stop >t.out 2>t.err &
tp=$!
wait_for test -f ready || { echo "target did not start: $(cat t.err)"; exit 99; }
pid=$(head -1 ready)
timeout 900 "$PY" "$DIR/client.py" asyncio "$(sed -n 2p ready)" stop >client.out 2>&1 &
cp=$!
before=$(python3 "$DIR/counts.py" "$pid")

# Ctrl-C (SIGINT) detaches as --duration does.
"$MEMPROF" attach --pid "$pid" -o sigint.mprof 2>sigint.err &
mp=$!
wait_for grep -qs "press Ctrl-C to detach" sigint.err
# While attached, Python's allocator domain is the agent's wrapper...
kill -USR1 "$pid"
if wait_for sh -c "grep -qs 'allocator .*memprof.* free ' ready.alloc" &&
    tail -1 ready.alloc | grep -vq 'free .*memprof'; then
    t_ok "attached: Python's allocator domains are wrapped, free left to pymalloc ($(tail -1 ready.alloc))"
else
    t_fail "attached" "allocator: $(tail -1 ready.alloc 2>/dev/null)"
fi
kill -INT $mp
wait $mp; rc=$?
if [ $rc -eq 0 ] && grep -q "detached after" sigint.err &&
    "$MEMPROF" report --format json sigint.mprof | grep -q '"function":"hot_site"'; then
    t_ok "Ctrl-C detaches (exit 0, capture with the top site)"
else
    t_fail "Ctrl-C" "exit $rc: $(cat sigint.err)"
fi
# ...and after the detach the interpreter's own again (restored from a pending call).
kill -USR1 "$pid"
if wait_for sh -c "[ \$(wc -l <ready.alloc) -ge 2 ] && tail -1 ready.alloc | grep -vq memprof"; then
    t_ok "detached: Python's own allocators are back ($(tail -1 ready.alloc))"
else
    t_fail "detached" "allocator: $(tail -1 ready.alloc)"
fi

start=$(date +%s)
i=0; bad=0; rss1=0
while [ $i -lt "$ATTACH_CYCLES" ]; do
    i=$((i + 1))
    if ! "$MEMPROF" attach --pid "$pid" --duration 0.2 -o c.mprof 2>a.err; then
        bad=$((bad + 1)); echo "cycle $i: attach failed: $(cat a.err)"; continue
    fi
    top=$("$MEMPROF" report --format json c.mprof 2>&1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%s:%s" % (d["sites"][0]["function"], d["sites"][0]["line"]) if d["sites"] else "none")' 2>&1)
    if [ "$top" != "hot_site:$HOT_LINE" ]; then
        bad=$((bad + 1)); echo "cycle $i: top site $top"
    fi
    [ $i -eq 1 ] && rss1=$(rss "$pid")
done
secs=$(( $(date +%s) - start ))
[ $bad -eq 0 ] && t_ok "$ATTACH_CYCLES cycles in ${secs} s, every capture readable with top site hot_site:$HOT_LINE" ||
    t_fail "cycles" "$bad of $ATTACH_CYCLES cycles failed"
wait_for sh -c "[ \"\$(python3 $DIR/counts.py $pid)\" = \"$before\" ]"
after=$(python3 "$DIR/counts.py" "$pid")
[ "$after" = "$before" ] && t_ok "threads and fds as before the first cycle ($after)" ||
    t_fail "leak" "threads/fds $after, before $before"
rssn=$(rss "$pid")
echo "resident memory: ${rss1} KiB after cycle 1, ${rssn} KiB after cycle $ATTACH_CYCLES"
[ $((rssn - rss1)) -le 8192 ] && t_ok "resident memory stable (+$((rssn - rss1)) KiB)" ||
    t_fail "memory" "grew by $((rssn - rss1)) KiB"
# An exact attach after the sampling ones wraps free too: it must see every
# free (the collector would otherwise only drop a block when its address
# comes back, which hides the loss from the live figures).
n=$(wc -l <ready.alloc)
"$MEMPROF" attach --pid "$pid" --exact -o exact.mprof 2>exact.err &
mp=$!
wait_for grep -qs "press Ctrl-C to detach" exact.err
kill -USR1 "$pid"
if wait_for sh -c "[ \$(wc -l <ready.alloc) -gt $n ]" && tail -1 ready.alloc | grep -q 'free .*memprof'; then
    t_ok "exact attach: free wrapped too ($(tail -1 ready.alloc))"
else
    t_fail "exact attach" "allocator: $(tail -1 ready.alloc)"
fi
kill -INT $mp; wait $mp
touch stop
wait $cp; crc=$?
wait $tp; rc=$?
if [ $rc -eq 0 ] && [ $crc -eq 0 ] && [ ! -s t.err ] && python3 "$DIR/check_output.py" asyncio t.out >/dev/null; then
    t_ok "server answered every request ($(cat client.out)) and exited 0"
else
    t_fail "server" "exit $rc, client $crc: $(cat client.out) $(head -c 300 t.err)"
fi
# A process that exits while attached ends the recording by itself.
rm -f ready2 stop2
timeout 300 "$PY" "$DIR/target.py" sleep ready2 stop2 >t2.out 2>t2.err &
tp2=$!
wait_for test -f ready2 || { echo "second target did not start"; exit 99; }
"$MEMPROF" attach --pid "$(head -1 ready2)" -o exit.mprof 2>exit.err &
mp=$!
wait_for grep -qs attached exit.err
touch stop2
wait $tp2; rc2=$?
wait $mp; rc=$?
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && "$MEMPROF" report --format json exit.mprof >exit.json &&
    python3 -c 'import json,sys; d=json.load(open("exit.json")); sys.exit(0 if d["processes"][0]["ended"] else 1)'; then
    t_ok "target exiting while attached: memprof ends with it (exit 0), capture complete"
else
    t_fail "target exit" "memprof $rc, target $rc2: $(cat exit.err)"
fi
t_done
