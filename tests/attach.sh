#!/bin/sh
# attach.sh: `memprof attach --pid` on real running Python programs, on
# every CPython 3.8-3.13 installed with pyenv and on Debian's static
# /usr/bin/python3.11, in six situations (tests/attach/target.py): an
# allocation loop, blocked in sleep, blocked reading stdin, blocked in
# accept, four threads allocating while the main thread joins, an asyncio
# server under load.  For each: the capture is readable and its top site is
# target.py's known allocation line; the program's output is exactly what
# an undisturbed run prints (in order, nothing lost or repeated) before,
# during and after the attach; it keeps running after the detach with no
# thread or descriptor left behind, and later exits normally (status 0).
# Also: a C library loaded (ctypes) after the attach has its mallocs seen.

. "$(dirname "$0")/lib.sh"

DIR="$MEMPROF_SRCDIR/tests/attach"
TARGET="$DIR/target.py"
HOT_LINE=$(grep -n '# HOT_LINE' "$TARGET" | head -1 | cut -d: -f1)
checker=$(command -v python3) || t_skip "no python3 to run the checkers"
: "${ATTACH_MODES:=loop sleep read accept threads asyncio}"
cd "$T_TMP" || exit 99

# wait_for CMD...: poll CMD for up to 20 s (tests/lib.sh).
wait_for() { t_wait_for 20 "$@"; }

# grown FILE N: FILE has more than N lines.
grown() { [ "$(wc -l <"$1")" -gt "$2" ]; }

# counts PID: "threads fds" of PID; TCP sockets (connections of the load) are not counted.
counts() { "$checker" "$DIR/counts.py" "$1"; }

# scenario LABEL PY MODE
scenario() {
    label=$1; py=$2; mode=$3; name="$label $mode"
    rm -f ready stop t.out t.err client.out
    if [ "$mode" = read ]; then
        rm -f in.fifo; mkfifo in.fifo
        timeout 300 "$py" "$TARGET" read ready stop <in.fifo > t.out 2>t.err &
        tp=$!
        exec 3>in.fifo
        ( i=0; while [ ! -f stop ]; do i=$((i + 1)); echo "line $i" >&3 || exit 0; sleep 0.01; done
          echo "line $((i + 1))" >&3 ) &
        wp=$!
    else
        timeout 300 "$py" "$TARGET" "$mode" ready stop > t.out 2>t.err &
        tp=$!
    fi
    if ! wait_for test -f ready; then
        t_fail "$name" "target never got ready: $(cat t.err)"; kill $tp 2>/dev/null; touch stop; return
    fi
    pid=$(head -1 ready)
    cp=""
    case $mode in
    accept|asyncio)
        timeout 300 "$py" "$DIR/client.py" "$mode" "$(sed -n 2p ready)" stop >client.out 2>&1 &
        cp=$!
        ;;
    esac
    # Progress before the attach, and what the process holds then.
    if [ "$mode" != threads ]; then wait_for grown t.out 1 || t_fail "$name" "no progress before the attach"; fi
    before=$(counts "$pid")
    t_run "$MEMPROF" attach --pid "$pid" --duration 1 -o "$label.$mode.mprof"
    if [ "$T_RC" -ne 0 ]; then
        t_fail "$name attach" "exit $T_RC: $T_ERR"
    else
        "$MEMPROF" report --format json -o rep.json "$label.$mode.mprof" 2>rep.err
        top=$("$checker" -c '
import json, sys
d = json.load(open("rep.json"))
s = d["sites"][0] if d["sites"] else {}
print("%s:%s %s %d" % (s.get("function"), s.get("line"), d["processes"][0].get("python"), len(d["processes"])))' 2>&1)
        case $top in
        "hot_site:$HOT_LINE "*" 1") t_ok "$name: attached, top site hot_site line $HOT_LINE (Python ${top#* })" ;;
        *) t_fail "$name" "top site: $top (wanted hot_site:$HOT_LINE); $(cat rep.err)" ;;
        esac
    fi
    # After the detach: nothing left behind, and the program goes on.
    after=$(counts "$pid")
    wait_for sh -c "[ \"\$($checker $DIR/counts.py $pid)\" = \"$before\" ]"
    after=$(counts "$pid")
    if [ "$after" = "$before" ]; then t_ok "$name: threads and fds as before ($after)"
    else t_fail "$name" "threads/fds $after after the detach, $before before"; fi
    if [ "$mode" != threads ]; then
        n=$(wc -l <t.out)
        if wait_for grown t.out "$((n + 1))"; then t_ok "$name: still making progress after the detach"
        else t_fail "$name" "no progress after the detach"; fi
    fi
    touch stop
    [ -n "$cp" ] && { wait $cp; crc=$?; } || crc=0
    wait $tp; rc=$?
    [ "$mode" = read ] && { exec 3>&-; wait $wp 2>/dev/null; }
    if [ $rc -eq 0 ] && [ ! -s t.err ] && [ $crc -eq 0 ] && chk=$("$checker" "$DIR/check_output.py" "$mode" t.out); then
        t_ok "$name: exited 0, output intact ($chk${cp:+; $(cat client.out)})"
    else
        t_fail "$name" "exit $rc, client $crc ($(cat client.out 2>/dev/null)), stderr '$(head -c 300 t.err)', output: $chk"
    fi
}

# late LABEL PY: a library loaded after the attach is patched (its malloc is seen).
late() {
    label=$1; py=$2; name="$label late-loaded library"
    rm -f ready ready.go stop t.out t.err a.err
    LATE_LIB="$T_TMP/late.so" timeout 300 "$py" "$TARGET" late ready stop > t.out 2>t.err &
    tp=$!
    wait_for test -f ready || { t_fail "$name" "target never got ready"; kill $tp; return; }
    pid=$(head -1 ready)
    "$MEMPROF" attach --pid "$pid" --duration 2 -o late.mprof 2>a.err &
    ap=$!
    wait_for grep -qs attached a.err
    touch ready.go
    wait $ap
    top=$("$MEMPROF" report --format json late.mprof | "$checker" -c '
import json, sys
d = json.load(sys.stdin)
s = d["sites"][0] if d["sites"] else {}
print("%s:%s" % (s.get("function"), s.get("line")))')
    if [ "$top" = "<module>:$LATE_LINE" ]; then t_ok "$name: its mallocs are seen (top site line $LATE_LINE)"
    else t_fail "$name" "top site $top, wanted <module>:$LATE_LINE; $(cat a.err)"; fi
    touch stop; wait $tp
    [ $? -eq 0 ] && "$checker" "$DIR/check_output.py" late t.out >/dev/null || t_fail "$name" "exit or output"
}
LATE_LINE=$(grep -n '# LATE_LINE' "$TARGET" | head -1 | cut -d: -f1)
cc=${CC:-cc}
"$cc" -shared -fPIC -O1 -o late.so "$DIR/late.c" 2>/dev/null || cc=""

ran=0
t_pythons > pythons
while read -r label py; do
    if [ "$py" = - ]; then
        echo "skip: $label: not installed on this machine"
        continue
    fi
    for mode in $ATTACH_MODES; do
        scenario "$label" "$py" "$mode"
    done
    if [ -n "$cc" ]; then late "$label" "$py"; else echo "skip: $label late: no C compiler"; fi
    ran=$((ran + 1))
done < pythons
[ $ran -gt 0 ] || t_skip "no CPython 3.8-3.13 installed"
echo "interpreters tested: $ran"
t_done
