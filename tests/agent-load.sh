#!/bin/sh
# agent-load.sh: the agent library loads into ordinary programs without
# changing what they print or how they exit.

. "$(dirname "$0")/lib.sh"

: "${MEMPROF_AGENT:=$MEMPROF_SRCDIR/.libs/libmemprof.so}"
[ -r "$MEMPROF_AGENT" ] || { echo "agent not built: $MEMPROF_AGENT"; exit 99; }

# compare NAME CMD...: same stdout, stderr and status with and without the agent.
compare() {
    _name=$1; shift
    "$@" >"$T_TMP/bare.out" 2>"$T_TMP/bare.err"; _brc=$?
    LD_PRELOAD="$MEMPROF_AGENT" "$@" >"$T_TMP/agent.out" 2>"$T_TMP/agent.err"; _arc=$?
    if [ "$_brc" -ne "$_arc" ]; then
        t_fail "$_name" "exit $_arc under the agent, $_brc bare"
    elif ! cmp -s "$T_TMP/bare.out" "$T_TMP/agent.out"; then
        t_fail "$_name" "stdout differs under the agent"
    elif ! cmp -s "$T_TMP/bare.err" "$T_TMP/agent.err"; then
        t_fail "$_name" "stderr differs under the agent: $(cat "$T_TMP/agent.err")"
    else
        t_ok "$_name behaves the same (exit $_arc)"
    fi
}

compare "/bin/true" /bin/true
compare "/bin/false" /bin/false
compare "ls of the source tree" ls -la "$MEMPROF_SRCDIR/src"
compare "a pipeline in sh" sh -c 'echo hello | tr a-z A-Z; exit 3'
if command -v python3 >/dev/null 2>&1; then
    compare "python3" python3 -c 'import sys, json; print(json.dumps({"a": list(range(5))})); sys.exit(4)'
else
    echo "note: python3 not installed, python check not run"
fi

t_done
