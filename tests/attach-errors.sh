#!/bin/sh
# attach-errors.sh: every reason `memprof attach` cannot work is found up
# front and said in one line, and the target is left running as it was
# (not stopped, not traced, no agent loaded, still making progress).  Each
# condition is set up for real where this host allows it: no such process;
# a target already traced (strace); a target of another user with memprof
# lacking CAP_SYS_PTRACE (capsh drops it); a non-dumpable target
# (prctl(PR_SET_DUMPABLE, 0) through ctypes); a statically linked program
# (busybox); a 32-bit program; a stopped process; Yama's ptrace_scope 1 and
# 3 when the kernel has Yama; a second memprof attaching to a process that
# already has one.

. "$(dirname "$0")/lib.sh"

DIR="$MEMPROF_SRCDIR/tests/attach"
PY=/usr/bin/python3.11
[ -x "$PY" ] || PY=$(command -v python3) || t_skip "no python3"
cd "$T_TMP" || exit 99
chmod 755 "$T_TMP"

# wait_for CMD...: poll CMD for up to 20 s (tests/lib.sh).
wait_for() { t_wait_for 20 "$@"; }
grown() { [ "$(wc -l <"$1")" -gt "$2" ]; }

# start_target DIR [RUNNER...]: a Python target in sleep mode, files in DIR; sets tp and pid.
start_target() {
    d=$1; shift
    rm -f "$d/ready" "$d/stop" "$d/t.out"
    "$@" "$PY" "$d/target.py" sleep "$d/ready" "$d/stop" >"$d/t.out" 2>"$d/t.err" &
    tp=$!
    wait_for test -f "$d/ready" || { echo "target did not start: $(cat "$d/t.err")"; exit 99; }
    pid=$(head -1 "$d/ready")
}

# untouched NAME PID [OUT]: the target is running, untraced, without the agent, and progressing.
untouched() {
    st=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' /proc/$2/status)
    tr=$(sed -n 's/^TracerPid:[[:space:]]*//p' /proc/$2/status)
    if [ "$st" = T ] || [ "$st" = t ]; then t_fail "$1" "target left stopped ($st)"; return; fi
    if [ "$tr" != 0 ] && [ -z "$3" ]; then t_fail "$1" "target left traced by $tr"; return; fi
    if grep -Eq "libmemprof|memprof-agent" /proc/$2/maps; then t_fail "$1" "the agent was loaded"; return; fi
    if [ -n "$4" ]; then
        n=$(wc -l <"$4")
        wait_for grown "$4" "$n" || { t_fail "$1" "target makes no progress"; return; }
    fi
    t_ok "$1: target left running unchanged"
}

cp "$DIR/target.py" .

# 1. No such process.
free=$(( $(cat /proc/sys/kernel/pid_max) - 7 ))
while [ -d /proc/$free ]; do free=$((free - 1)); done
t_run "$MEMPROF" attach --pid $free --duration 1
t_expect_rc "nonexistent pid" 1
t_expect_match "nonexistent pid: message" err "^memprof: attach: no process with pid $free$"
t_expect_lines "nonexistent pid: one line" err 1

# 2. Already traced.
start_target "$T_TMP"
strace -f -qq -e trace=none -p "$pid" -o /dev/null 2>/dev/null &
sp=$!
if wait_for sh -c "! grep -q '^TracerPid:[[:space:]]*0$' /proc/$pid/status"; then
    t_run "$MEMPROF" attach --pid "$pid" --duration 1
    t_expect_rc "already traced" 1
    t_expect_match "already traced: message" err "is already traced by pid $sp \(strace\)"
    t_expect_lines "already traced: one line" err 1
    untouched "already traced" "$pid" traced
else
    t_fail "already traced" "strace did not attach"
fi
kill $sp; wait $sp 2>/dev/null
untouched "after strace left" "$pid" "" t.out
touch stop; wait $tp

# 3. Another user's process, memprof without CAP_SYS_PTRACE.
mkdir other && chmod 777 other && cp target.py other/
if command -v capsh >/dev/null && command -v setpriv >/dev/null; then
    start_target "$T_TMP/other" setpriv --reuid=nobody --regid=nogroup --clear-groups
    t_run capsh --drop=cap_sys_ptrace -- -c "exec \"$MEMPROF\" attach --pid $pid --duration 1"
    t_expect_rc "missing CAP_SYS_PTRACE" 1
    t_expect_match "missing CAP_SYS_PTRACE: message" err \
        "belongs to uid 65534 and memprof lacks CAP_SYS_PTRACE: .*cap_add: \[SYS_PTRACE\]"
    t_expect_lines "missing CAP_SYS_PTRACE: one line" err 1
    untouched "missing CAP_SYS_PTRACE" "$pid" "" other/t.out
    touch other/stop; wait $tp
else
    echo "skip: missing CAP_SYS_PTRACE: capsh (libcap2-bin) or setpriv not installed"
fi

# 4. A non-dumpable process (same user), memprof without CAP_SYS_PTRACE.
cat > nodump.py <<'PYEOF'
import ctypes, runpy, sys
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
PYEOF
if command -v capsh >/dev/null; then
    rm -f ready stop t.out
    "$PY" nodump.py target.py sleep ready stop >t.out 2>t.err &
    tp=$!
    wait_for test -f ready || { echo "non-dumpable target did not start: $(cat t.err)"; exit 99; }
    pid=$(head -1 ready)
    t_run capsh --drop=cap_sys_ptrace -- -c "exec \"$MEMPROF\" attach --pid $pid --duration 1"
    t_expect_rc "non-dumpable" 1
    t_expect_match "non-dumpable: message" err "process $pid is not dumpable .*CAP_SYS_PTRACE"
    t_expect_lines "non-dumpable: one line" err 1
    untouched "non-dumpable" "$pid" "" t.out
    # With the capability (root), a non-dumpable process can be profiled.
    t_run "$MEMPROF" attach --pid "$pid" --duration 0.5 -o nodump.mprof
    t_expect_rc "non-dumpable, with CAP_SYS_PTRACE: attached" 0
    touch stop; wait $tp
else
    echo "skip: non-dumpable: capsh (libcap2-bin) not installed"
fi

# 5. A statically linked program: no loader, no dlopen.
if command -v busybox >/dev/null && file -L "$(command -v busybox)" | grep -q 'statically linked'; then
    busybox sleep 600 &
    bp=$!
    wait_for sh -c "grep -q busybox /proc/$bp/cmdline"
    t_run "$MEMPROF" attach --pid $bp --duration 1
    t_expect_rc "static binary" 1
    t_expect_match "static binary: message" err "process $bp is a statically linked program: .*no dlopen"
    t_expect_lines "static binary: one line" err 1
    untouched "static binary" $bp
    kill $bp; wait $bp 2>/dev/null
else
    echo "skip: static binary: no statically linked busybox (busybox-static) installed"
fi

# 6. A 32-bit program.
"$PY" "$DIR/mkelf32.py" elf32 && chmod 755 elf32
./elf32 2>/dev/null &
ep=$!
if wait_for sh -c "[ \"\$(readlink /proc/$ep/exe)\" = \"$T_TMP/elf32\" ] && grep -q '^State:.*S' /proc/$ep/status"; then
    t_run "$MEMPROF" attach --pid $ep --duration 1
    t_expect_rc "32-bit program" 1
    t_expect_match "32-bit program: message" err "process $ep is a 32-bit program"
    t_expect_lines "32-bit program: one line" err 1
    untouched "32-bit program" $ep
else
    echo "skip: 32-bit program: this kernel does not run i386 executables"
fi
kill $ep 2>/dev/null; wait $ep 2>/dev/null

# 7. A stopped process is not resumed behind its owner's back.
start_target "$T_TMP"
kill -STOP "$pid"
wait_for sh -c "grep -q '^State:[[:space:]]*T' /proc/$pid/status"
t_run "$MEMPROF" attach --pid "$pid" --duration 1
t_expect_rc "stopped process" 1
t_expect_match "stopped process: message" err "is stopped \(SIGSTOP\): resume it first"
if grep -q '^State:[[:space:]]*T' /proc/$pid/status; then t_ok "stopped process: still stopped"
else t_fail "stopped process" "it was resumed"; fi
kill -CONT "$pid"
untouched "stopped process, continued" "$pid" "" t.out

# 8. A second memprof while one is attached: refused by the agent, the first goes on.
# The first one records until it is told to stop (Ctrl-C), not for a set
# time that a slow injection of the second could outlast.
"$MEMPROF" attach --pid "$pid" -o first.mprof 2>first.err &
mp=$!
wait_for grep -qs attached first.err
t_run "$MEMPROF" attach --pid "$pid" --duration 1 -o second.mprof
t_expect_rc "second memprof" 1
t_expect_match "second memprof: message" err "another memprof is attached"
t_expect_lines "second memprof: one line" err 1
kill -INT $mp
wait $mp
if [ $? -eq 0 ] && "$MEMPROF" report --format json first.mprof | grep -q '"function":"hot_site"'; then
    t_ok "second memprof: the first capture is complete"
else
    t_fail "second memprof" "first attach: $(cat first.err)"
fi
if [ ! -e second.mprof ]; then t_ok "second memprof: no capture left behind"
else t_fail "second memprof" "second.mprof exists"; fi
touch stop; wait $tp
if [ $? -eq 0 ] && "$PY" "$DIR/check_output.py" sleep t.out >/dev/null; then
    t_ok "target exits 0 with its output intact after all of the above"
else
    t_fail "target output" "$(tail -3 t.out)"
fi

# 9. Yama's ptrace_scope (only where the kernel has Yama).
Y=/proc/sys/kernel/yama/ptrace_scope
if [ -w "$Y" ]; then
    old=$(cat $Y)
    start_target "$T_TMP"
    echo 1 >$Y
    t_run capsh --drop=cap_sys_ptrace -- -c "exec \"$MEMPROF\" attach --pid $pid --duration 1"
    echo "$old" >$Y
    t_expect_rc "ptrace_scope 1" 1
    t_expect_match "ptrace_scope 1: message" err "kernel.yama.ptrace_scope=1"
    untouched "ptrace_scope 1" "$pid" "" t.out
    touch stop; wait $tp
else
    echo "skip: ptrace_scope: this kernel has no Yama ($Y missing)"
fi

t_done
