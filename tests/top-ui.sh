#!/bin/sh
# top-ui.sh: the real `memprof top` dashboard driven inside tmux (a
# private server, send-keys and capture-pane): start, sort, reverse,
# filter, drill into a container, help overlay, resize down to a too-small
# window and up to a wide one, colours and NO_COLOR, quit with the
# terminal given back.  First on the v1 Docker fixture (known rows and
# figures), then, as root, on real cgroups: a Python process holding
# 48 MiB seen in the drill-down with its RSS/PSS/USS, a cgroup removed
# while shown, and one removed while drilled into.  Every wait polls the
# screen until the expected text appears, with a timeout.

. "$(dirname "$0")/lib.sh"

[ -x "$MEMPROF" ] || { echo "memprof binary not built: $MEMPROF"; exit 99; }
command -v tmux >/dev/null || t_skip "needs tmux (Debian package tmux)"
FX=$MEMPROF_SRCDIR/tests/fixtures
# libproc2 keeps per-thread buffers (static __thread, 2 x 128 KiB) that are
# lost when the dashboard's worker thread ends: LeakSanitizer (--enable-asan)
# is told about that library's, and only that library's, allocations.
printf 'leak:libproc2.so\n' > "$T_TMP/lsan.supp"
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T_TMP/lsan.supp"
export LSAN_OPTIONS
SOCK=memprof-top-ui-$$
TM="tmux -L $SOCK -f /dev/null"
CG=/sys/fs/cgroup
NAME=memprof-top-$$
DIRS=""
PIDS_TO_KILL=""

cleanup() {
    $TM kill-server 2>/dev/null
    for p in $PIDS_TO_KILL; do kill "$p" 2>/dev/null; done
    for p in $PIDS_TO_KILL; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
    for d in $DIRS; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
    rm -rf "$T_TMP"
}
trap cleanup EXIT

. "$MEMPROF_SRCDIR/tests/lib-tmux.sh"
# A session that outlives the others: killing the last one makes the server
# exit, and a new-session racing that exit fails ("server exited unexpectedly").
$TM new-session -d -s keep "sleep 3600" || { echo "tmux cannot start"; exit 99; }

# order A B C: the rows appear in this order, top to bottom.
order() {
    screen | awk -v list="$*" '
        BEGIN { n = split(list, want, " ") }
        { for (i = 1; i <= n; i++) if (!(i in at) && index($0, want[i] " ") == 1) at[i] = NR }
        END { for (i = 1; i <= n; i++) { if (!(i in at)) exit 1; if (i > 1 && at[i] <= at[i-1]) exit 1 } }'
}

# check_order NAME A B C: wait until the rows are in this order.
check_order() {
    _what=$1; shift
    _n=200
    while [ "$_n" -gt 0 ]; do
        order "$@" && { t_ok "$_what"; return; }
        sleep 0.05
        _n=$((_n - 1))
    done
    t_fail "$_what" "rows not in order $*:
$(screen)"
}

# start ENV... -- ARGS: run memprof top in a new tmux session "top", TOP_W (100) x 30.
start() {
    $TM kill-session -t top 2>/dev/null
    _env=""
    while [ "$1" != "--" ]; do _env="$_env $1"; shift; done
    shift
    $TM new-session -d -s top -x "${TOP_W:-100}" -y 30 \
        "env$_env $MEMPROF top $*; echo EXIT=\$?; sleep 600" ||
        { echo "tmux cannot start"; exit 99; }
}

FIXENV="MEMPROF_PROC_ROOT=$FX/cgroup-v1-docker/proc MEMPROF_CGROUP_ROOT=$FX/cgroup-v1-docker/sys/fs/cgroup MEMPROF_DOCKER_ROOT=$FX/cgroup-v1-docker/var/lib/docker MEMPROF_DOCKER_SOCKET= TERM=screen LC_ALL=C"

# --- the fixture: known rows -------------------------------------------
start $FIXENV -- -d 0.3
check "dashboard starts with the fixture's containers" '^mp-net1 '
check "title names the command and counts the rows" 'memprof top .* 3 containers'
check "header has docker's columns plus swap, OOM and pressure" 'NAME .*CPU % .*MEM USAGE .*LIMIT .*MEM % .*SWAP .*OOM .*PSI'
check "mp-net1's figures in docker's units" '^mp-net1 +0\.00% +532KiB +128MiB +0\.41% +0B +0 +0\.0 '
check "host meters in the header" '^CPU .*Mem .*/23\.54GiB'
check "memory graph of the selected row" 'Memory of mp-fixture: 856KiB now'
check_order "default sort: memory, largest first" mp-fixture mp-probe mp-net1
check "sort column marked (v: descending)" 'vMEM USAGE'

$TM send-keys -t top N
check_order "N sorts by name" mp-fixture mp-net1 mp-probe
check "NAME marked as the sort column" 'NAME\^'
$TM send-keys -t top r
check_order "r reverses the order" mp-probe mp-net1 mp-fixture
$TM send-keys -t top M
check_order "M sorts by memory again" mp-fixture mp-probe mp-net1
$TM send-keys -t top s
check "s moves the sort to the next column" 'sorted by LIMIT'
check_order "sorted by limit, largest first" mp-probe mp-net1 mp-fixture

$TM send-keys -t top / p r o b
check "/ opens the filter line" 'Filter: prob_'
check_gone "filter hides rows as it is typed" '^mp-net1 '
$TM send-keys -t top e Enter
check "filter keeps the match" '^mp-probe '
check "title says the view is filtered" '1 container \(filtered\)'
$TM send-keys -t top Escape
check "Esc clears the filter" '^mp-net1 '

$TM send-keys -t top Home Enter
check "Enter drills into the selected container" 'Processes of mp-probe'
check "the process table has RSS, PSS, USS and swap" 'PID +.?RSS +PSS +USS +SWAP +COMMAND'
$TM send-keys -t top Escape
check "Esc goes back to the containers" '^mp-net1 '

$TM send-keys -t top '?'
check "? opens the help" 'memprof top: keys'
check "help lists the keys" 'filter by name, id, cgroup or image'
$TM send-keys -t top x
check_gone "any key closes the help" 'memprof top: keys'
$TM send-keys -t top F1
check "F1 opens the help too" 'memprof top: keys'
$TM send-keys -t top x
check_gone "and closes" 'memprof top: keys'

$TM resize-window -t top -x 40 -y 10
check "a too-small window gets a message" 'Terminal too small: 40x10'
$TM resize-window -t top -x 160 -y 40
check "a wide window shows network and block I/O" 'NET I/O +BLOCK I/O +PIDS'
check "and the full id" 'CONTAINER ID'
$TM resize-window -t top -x 80 -y 24
check "80x24: the table again" '^mp-net1 '
check_gone "80x24 drops network I/O first" 'NET I/O'
check "80x24 keeps the memory columns" 'MEM USAGE +.?LIMIT +MEM % +SWAP +OOM +PSI'

$TM send-keys -t top p
check "p pauses" 'PAUSED'
$TM send-keys -t top p
check_gone "p resumes" 'PAUSED'

# Colour where the terminal has it (SGR 30-37/40-47), none under NO_COLOR.
if $TM capture-pane -p -e -t top | grep -q "$(printf '\033')\[[0-9;]*[34][0-7]m"; then
    t_ok "colours on a colour terminal"
else
    t_fail "colours" "no colour sequences in capture-pane -e"
fi

$TM send-keys -t top q
check "q quits with status 0" '^EXIT=0$'
check_gone "the terminal is given back (no dashboard left)" 'F1Help'

start $FIXENV NO_COLOR=1 -- -d 0.3
check "NO_COLOR: the dashboard runs" '^mp-net1 '
if $TM capture-pane -p -e -t top | grep -q "$(printf '\033')\[[0-9;]*[34][0-7]m"; then
    t_fail "NO_COLOR" "colour sequences found"
else
    t_ok "NO_COLOR: no colour sequences"
fi
if $TM capture-pane -p -e -t top | grep -q "$(printf '\033')\[[0-9;]*7m"; then
    t_ok "NO_COLOR: selection still shown in reverse video"
else
    t_fail "NO_COLOR selection" "no reverse video"
fi
$TM send-keys -t top q
check "quits" '^EXIT=0$'

# --- the tree of cgroups (pure v2, systemd) --------------------------------
FX2="$FX/cgroup-v2-systemd"
start "MEMPROF_PROC_ROOT=$FX2/proc MEMPROF_CGROUP_ROOT=$FX2/sys/fs/cgroup MEMPROF_DOCKER_ROOT=$FX2/var/lib/docker MEMPROF_DOCKER_SOCKET= TERM=screen LC_ALL=C" -- --all -d 0.3
check "--all lists systemd units and containers" '^web +'
$TM send-keys -t top t
check "t shows the tree: a container under its slice" '^\|- web +'
check "the slice's last child" '^`- nginx-proxy\.service +'
check "three levels deep" '^   `- session-2\.scope +'
check_order "children after their parent" system.slice "|-" limited.slice
$TM send-keys -t top t
check "t again: a flat list" '^web +'
$TM send-keys -t top q
check "quits" '^EXIT=0$'

# --- a cgroup file that blocks (a FIFO): keys and quitting never wait ----
cp -r "$FX/cgroup-v1-docker" "$T_TMP/fx"
stat=$(ls -d "$T_TMP"/fx/sys/fs/cgroup/memory/docker/d47*)/memory.stat
rm "$stat" && mkfifo "$stat"
start "MEMPROF_PROC_ROOT=$T_TMP/fx/proc MEMPROF_CGROUP_ROOT=$T_TMP/fx/sys/fs/cgroup MEMPROF_DOCKER_ROOT=$T_TMP/fx/var/lib/docker MEMPROF_DOCKER_SOCKET= TERM=screen LC_ALL=C" -- -d 0.3
check "a refresh stuck on a blocking file: the screen says it is reading" 'reading cgroups'
$TM send-keys -t top '?'
check "keys still work (help opens)" 'memprof top: keys'
$TM send-keys -t top x q
check "and q quits without waiting for the stuck read" '^EXIT=0$'

# --- real cgroups: drill-down on a real process, rows that go away -----
if [ "$(id -u)" -ne 0 ]; then
    echo "note: not root, real-cgroup part not run"
    t_done
fi
command -v python3 >/dev/null || { echo "note: no python3, real-cgroup part not run"; t_done; }

# mkcg SUFFIX: make cgroup NAME-SUFFIX (or NAME for "") in every hierarchy;
# MKCG_PROCS lists its cgroup.procs files (not printed: a $(...) subshell
# would lose DIRS, and with it the cleanup).
mkcg() {
    _p=""
    if [ -f "$CG/cgroup.controllers" ]; then
        mkdir "$CG/$NAME$1" && DIRS="$CG/$NAME$1 $DIRS"
        _p="$CG/$NAME$1/cgroup.procs"
    else
        for h in memory cpuacct pids blkio cpu; do
            [ -d "$CG/$h" ] && [ ! -d "$CG/$h/$NAME$1" ] || continue
            mkdir "$CG/$h/$NAME$1" && DIRS="$CG/$h/$NAME$1 $DIRS"
            _p="$_p $CG/$h/$NAME$1/cgroup.procs"
        done
    fi
    MKCG_PROCS=$_p
    [ -n "$_p" ]
}

# rmcg SUFFIX: remove that cgroup everywhere.
rmcg() {
    for d in "$CG/$NAME$1" "$CG"/*/"$NAME$1"; do [ -d "$d" ] && rmdir "$d"; done
}

mkcg "" || { echo "note: cannot create cgroups in $CG, real part not run"; t_done; }
PROCS=$MKCG_PROCS
mkcg -gone
mkcg -drill
cat > "$T_TMP/hold.py" <<'EOF'
import os, sys, time
for p in sys.argv[1:]:
    with open(p, "w") as f:
        f.write(str(os.getpid()))
b = bytearray(48 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
print("ready", flush=True)
time.sleep(600)
EOF
python3 "$T_TMP/hold.py" $PROCS > "$T_TMP/hold.out" &
PIDS_TO_KILL=$!
t_wait_for 30 grep -q ready "$T_TMP/hold.out" 2>/dev/null || { echo "workload did not start"; exit 99; }

# Wide enough for the cgroup paths (a narrow screen cuts their middle).
TOP_W=150
start TERM=screen LC_ALL=C -- --all -d 0.3 -s name -f "$NAME"
check "real cgroups listed with --all" "^/$NAME +"
check "every test cgroup is there" "^/$NAME-gone +"
check_order "sorted by name" "/$NAME" "/$NAME-drill" "/$NAME-gone"
$TM send-keys -t top Home Enter
check "drill into the real cgroup" "Processes of /$NAME"
check "the Python process is listed" "^ *$PIDS_TO_KILL +[0-9.]+MiB .*python3"
rss=$(screen | awk -v p="$PIDS_TO_KILL" '$1 == p { print $2 }')
uss=$(screen | awk -v p="$PIDS_TO_KILL" '$1 == p { print $4 }')
echo "python3 $PIDS_TO_KILL: RSS $rss, USS $uss"
case $rss in
*MiB) if [ "${rss%%.*}" != "" ] && [ "$(echo "${rss%MiB}" | awk '{ print ($1 >= 48) }')" = 1 ]; then
        t_ok "its RSS counts the 48 MiB it holds ($rss)"; else t_fail "RSS" "$rss"; fi ;;
*) t_fail "RSS" "'$rss' is not in MiB" ;;
esac
case $uss in
*MiB) t_ok "USS read from smaps_rollup ($uss)" ;;
*) t_fail "USS" "'$uss'" ;;
esac
$TM send-keys -t top Escape
check "back to the list" "^/$NAME-gone +"

rmcg -gone
check_gone "a removed cgroup leaves the table" "^/$NAME-gone +"
check "the others stay" "^/$NAME +"

$TM send-keys -t top Home Down Enter
check "drill into the cgroup about to go" "Processes of /$NAME-drill"
rmcg -drill
check "a container removed while drilled into is said to be gone" "/$NAME-drill went away"
check "and the view goes back to the list" "^/$NAME +"
$TM send-keys -t top q
check "quits" '^EXIT=0$'

t_done
