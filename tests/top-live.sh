#!/bin/sh
# top-live.sh: `memprof run --live` on a real Python program, driven in
# tmux.  The program holds 40 MiB from one known line (hold_memory) and
# then churns short-lived lists from another (churn) until told to stop,
# then exits with status 3.  The dashboard must show the program running,
# hold_memory as the top site by live bytes (about 40 MiB), churn as the
# top site by allocation rate once sorted so, a site's full Python stack
# when expanded, its container row and output; then, when the program
# ends, its exit status with the last figures kept until q, and memprof's
# exit status must be the program's.  Second run: q while the program
# runs leaves the dashboard, the program runs on, the capture goes on.
# Then `memprof attach --live` on a program already running: the pane shows
# it attached, q detaches, and the program runs on and ends normally.

. "$(dirname "$0")/lib.sh"

[ -x "$MEMPROF" ] || { echo "memprof binary not built: $MEMPROF"; exit 99; }
command -v tmux >/dev/null || t_skip "needs tmux (Debian package tmux)"
PY=$(command -v python3) || t_skip "needs python3"
SOCK=memprof-top-live-$$
TM="tmux -L $SOCK -f /dev/null"
cleanup() {
    touch "$T_TMP/stopA" "$T_TMP/stopB" "$T_TMP/stopC" "$T_TMP/stopE" 2>/dev/null
    $TM kill-server 2>/dev/null
    rm -rf "$T_TMP"
}
trap cleanup EXIT
cd "$T_TMP" || exit 99
# A session that outlives the others: killing the last one makes the server
# exit, and a new-session racing that exit fails ("server exited unexpectedly").
$TM new-session -d -s keep "sleep 3600" || { echo "tmux cannot start"; exit 99; }

cat > prog.py <<'EOF'
import os, sys, time

def hold_memory():
    keep = []
    for i in range(160):
        keep.append(bytearray(256 * 1024))
    return keep

def churn():
    for i in range(20):
        x = [str(j) for j in range(2000)]

data = hold_memory()
print("holding", len(data), flush=True)
while not os.path.exists(sys.argv[1]):
    churn()
    time.sleep(0.02)
print("finished work", flush=True)
sys.exit(3)
EOF

TM_TARGET=live
. "$MEMPROF_SRCDIR/tests/lib-tmux.sh"
# first_site: the first row under the sites table's header.
first_site() { screen | awk 'f { print; exit } /LIVE .*ALLOC\/s .*FUNCTION/ { f = 1 }'; }
# check_first NAME REGEX: wait until the first site matches.
check_first() {
    _n=400
    while [ "$_n" -gt 0 ]; do first_site | grep -Eq -- "$2" && { t_ok "$1"; return; }; sleep 0.05; _n=$((_n - 1)); done
    t_fail "$1" "first site: '$(first_site)':
$(screen)"
}
# start NAME: memprof run --live on prog.py, stopping when T_TMP/stopNAME exists.
start() {
    $TM kill-session -t live 2>/dev/null
    $TM new-session -d -s live -x 120 -y 36 -c "$T_TMP" \
        "env TERM=screen LC_ALL=C MEMPROF_AGENT=$MEMPROF_AGENT $MEMPROF run --live -o $1.mprof $PY prog.py $T_TMP/stop$1; echo EXIT=\$?; sleep 600" ||
        { echo "tmux cannot start"; exit 99; }
}

# --- A: the program ends while the dashboard is on ----------------------
start A
check "the dashboard opens on the running program" '^ PID [0-9]+ prog\.py +running '
check "its RSS and heap" 'RSS [0-9.]+[KMG]iB max [0-9.]+[KMG]iB  heap [0-9.]+[KMG]iB max '
check "the program's output is shown" 'output \(A\.mprof\.log\): holding 160'
# Read once it holds all 160 blocks (an earlier frame may show it halfway).
check_first "hold_memory is the top site by live bytes" ' hold_memory +.*prog\.py:6$'
live=$(first_site | awk '{ print $1 }')
case $live in
*MiB) if awk -v v="${live%MiB}" 'BEGIN { exit !(v >= 30 && v <= 50) }'; then
        t_ok "it holds about 40 MiB ($live, a sampled estimate)"; else t_fail "live bytes" "$live"; fi ;;
*) t_fail "live bytes" "'$live'" ;;
esac
check "its cgroup's row" '^ (cgroup|docker|[a-z]+) .*: mem [0-9.]+[KMG]iB / '
check "the containers below" 'NAME +CPU % +.?MEM USAGE'
$TM send-keys -t live s
check "s sorts the sites by allocation rate" 'vALLOC/s'
check_first "churn's list is the top site by allocation rate" ' churn.* +.*prog\.py:11$'
$TM send-keys -t live Home Enter
check "Enter expands the site to its Python stacks" 'Python stacks of the site'
check "the full stack: the list comprehension, churn, the module" '^ .*  churn  .*prog\.py:11'
check "down to <module>" '<module>  .*prog\.py:16'
$TM send-keys -t live x
check_gone "any key closes it" 'Python stacks of the site'
$TM send-keys -t live '?'
check "help names the live keys" 'memprof run --live: keys'
$TM send-keys -t live x
touch stopA
check "the end of the program is shown with its status" 'EXITED with status 3 after [0-9]+s'
check "its last output" 'output \(A\.mprof\.log\): finished work'
$TM send-keys -t live s
check "sorted by bytes allocated" 'vALLOCATED'
check "the sites stay on screen" ' hold_memory +.*prog\.py:6$'
check "recording ended" 'EXITED with status 3 after [0-9]+s, recording ended'
$TM send-keys -t live q
check "q after the end: memprof exits with the program's status" '^EXIT=3$'
check "and says where the output went" "^memprof: run: the program's output is in A\.mprof\.log$"
check "the usual summary follows" 'hold_memory  .*prog\.py:6'
if grep -q '^finished work$' A.mprof.log; then t_ok "the log has the program's output"; else t_fail "log" "$(cat A.mprof.log)"; fi
if "$MEMPROF" report --format json -o A.json A.mprof 2>/dev/null && grep -q '"function":"hold_memory"' A.json; then
    t_ok "the capture made under --live is a normal capture"
else
    t_fail "capture" "report failed or no hold_memory"
fi

# --- B: q while the program runs: it runs on, the capture goes on --------
start B
check_first "second run: hold_memory on top" ' hold_memory +.*prog\.py:6$'
$TM send-keys -t live q
check "q leaves the dashboard while the program runs on" '^memprof: run: dashboard closed; pid [0-9]+ runs on and is still recorded'
if screen | grep -q '^EXIT='; then t_fail "program runs on" "memprof exited already"; else t_ok "memprof waits for the program"; fi
touch stopB
check "the program's end ends memprof with its status" '^EXIT=3$'
if grep -q '^finished work$' B.mprof.log; then t_ok "output after the dashboard still logged"; else t_fail "log B" "$(cat B.mprof.log)"; fi
if "$MEMPROF" report --format json -o B.json B.mprof 2>/dev/null && grep -q '"function":"churn' B.json; then
    t_ok "recording went on after the dashboard closed"
else
    t_fail "capture B" "no churn sites"
fi

# --- C: a target flooding its ring (--exact): keys still answer -----------
cat > flood.py <<'EOF2'
import os, sys
while not os.path.exists(sys.argv[1]):
    x = [str(j) for j in range(100000)]
EOF2
$TM kill-session -t live 2>/dev/null
$TM new-session -d -s live -x 120 -y 36 -c "$T_TMP" \
    "env TERM=screen LC_ALL=C MEMPROF_AGENT=$MEMPROF_AGENT $MEMPROF run --live --exact -o C.mprof $PY flood.py $T_TMP/stopC; echo EXIT=\$?; sleep 600"
check_first "--exact flood: the list comprehension on top" ' <listcomp>|flood\.py:3$'
for i in 1 2 3; do
    $TM send-keys -t live '?'
    check "--exact flood: help opens ($i)" 'memprof run --live: keys'
    $TM send-keys -t live x
    check_gone "--exact flood: help closes ($i)" 'memprof run --live: keys'
done
$TM send-keys -t live q
check "--exact flood: q leaves the dashboard" 'dashboard closed; pid [0-9]+ runs on'
touch stopC
check "--exact flood: memprof ends with the program" '^EXIT=0$'

# --- E: attach --live on a running program; q detaches, it runs on --------
"$PY" prog.py "$T_TMP/stopE" > E.out 2>&1 &
tpid=$!
t_wait_for 20 grep -q holding E.out || t_fail "attach target" "did not start: $(cat E.out)"
$TM kill-session -t live 2>/dev/null
$TM new-session -d -s live -x 120 -y 36 -c "$T_TMP" \
    "env TERM=screen LC_ALL=C MEMPROF_AGENT=$MEMPROF_AGENT $MEMPROF attach --live --pid $tpid -o E.mprof; echo EXIT=\$?; sleep 600"
check "attach --live: the dashboard opens on the attached process" '^ memprof attach --live .*|^ PID [0-9]+ .* attached [0-9]+:'
check "attach --live: it says attached" '^ PID [0-9]+ .* +attached [0-9]+:[0-9]+ '
$TM send-keys -t live s
check_first "attach --live: churn is the top site by allocation rate" ' churn.* +.*prog\.py:11$'
$TM send-keys -t live q
check "attach --live: q detaches and memprof ends" '^EXIT=0$'
check "attach --live: with the usual summary" '^memprof: capture E\.mprof'
if kill -0 "$tpid" 2>/dev/null; then t_ok "attach --live: the process runs on after the detach"; else
    t_fail "attach --live: process" "gone after the detach"; fi
touch stopE
wait "$tpid"
rc=$?
if [ $rc -eq 3 ] && grep -q '^finished work$' E.out; then t_ok "attach --live: it ends normally later (status 3)"; else
    t_fail "attach --live: end" "status $rc: $(tail -2 E.out)"; fi

# --- no terminal: --live says so and records as without it ---------------
t_run "$MEMPROF" run --live -o D.mprof "$PY" -c 'print("hi")'
t_expect_rc "--live without a terminal runs the program" 0
t_expect_match "says the dashboard needs a terminal" err '^memprof: run: --live needs a terminal; recording without the dashboard$'
t_expect_match "the program's output stays on stdout" out '^hi$'

t_done
