#!/bin/sh
# run-cli.sh: `memprof run` and `memprof report` as a script sees them:
# exit statuses pass through (128+N for signals), output is untouched,
# bad commands and bad paths give one clear line and a documented status,
# and report refuses captures it cannot trust without crashing.

. "$(dirname "$0")/lib.sh"

cd "$T_TMP" || exit 99

t_run "$MEMPROF" run -o ok.mprof sh -c 'echo out; echo err >&2; exit 7'
t_expect_rc "exit status passes through" 7
if [ "$T_OUT" = out ]; then t_ok "stdout untouched"; else t_fail "stdout untouched" "got '$T_OUT'"; fi
t_expect_match "stderr of the command passes through" err '^err$'
t_expect_match "summary names the capture" err "memprof: capture ok.mprof"

t_run "$MEMPROF" run -o sig.mprof sh -c 'kill -TERM $$'
t_expect_rc "killed by SIGTERM gives 128+15" 143
t_run "$MEMPROF" run -o sig.mprof sh -c 'kill -KILL $$'
t_expect_rc "killed by SIGKILL gives 128+9" 137

t_run "$MEMPROF" run -o x.mprof ./no-such-program
t_expect_rc "missing command" 127
t_expect_lines "missing command says one line" err 1
t_expect_match "missing command message" err "^memprof: run: cannot run './no-such-program': command not found$"
if [ -e x.mprof ]; then t_fail "no capture left behind" "x.mprof exists"; else t_ok "no capture left behind"; fi

printf 'echo hi\n' > notexec.sh
t_run "$MEMPROF" run -o x.mprof ./notexec.sh
t_expect_rc "non-executable command" 126
t_expect_match "non-executable message" err "cannot run './notexec.sh': Permission denied"

t_run "$MEMPROF" run -o /nonexistent/dir/x.mprof true
t_expect_rc "unwritable output" 1
t_expect_lines "unwritable output says one line" err 1
t_expect_match "unwritable output message" err "^memprof: run: cannot write capture '/nonexistent/dir/x.mprof'"

t_run "$MEMPROF" run true
t_expect_rc "default output path" 0
if ls memprof-true.*.mprof >/dev/null 2>&1; then t_ok "default capture memprof-true.PID.mprof"; else t_fail "default capture" "$(ls)"; fi

t_run "$MEMPROF" run -o args.mprof -- sh -c 'echo "$@"' sh --help -o x
if [ "$T_OUT" = "--help -o x" ]; then t_ok "the command's own options are not memprof's"; else t_fail "command options" "got '$T_OUT'"; fi

t_run "$MEMPROF" report ok.mprof
t_expect_rc "report of a capture" 0
t_expect_match "report names the command" out '^Command: +sh -c'

t_run "$MEMPROF" report --format json -o ok.json ok.mprof
t_expect_rc "report -o" 0
if python3 -c 'import json,sys; d=json.load(open("ok.json")); assert d["version"]==1 and d["command"][0]=="sh"' 2>/dev/null; then
    t_ok "JSON report parses"; else t_fail "JSON report parses" "$(head -c 300 ok.json)"; fi

t_run "$MEMPROF" report missing.mprof
t_expect_rc "report of a missing file" 1
t_expect_lines "missing file says one line" err 1

printf 'hello, not a capture\n' > junk.mprof
t_run "$MEMPROF" report junk.mprof
t_expect_rc "report of a non-capture" 1
t_expect_match "non-capture message" err "^memprof: report: 'junk.mprof' is not a memprof capture$"

size=$(wc -c < ok.mprof)
head -c $((size - 5)) ok.mprof > cut.mprof
t_run "$MEMPROF" report cut.mprof
t_expect_rc "report of a truncated capture" 0
t_expect_match "truncated capture is reported as incomplete" err "incomplete"

python3 - <<'PY'
data = bytearray(open("ok.mprof", "rb").read())
data[80] ^= 0xff
open("corrupt.mprof", "wb").write(data)
PY
t_run "$MEMPROF" report corrupt.mprof
t_expect_rc "report of a corrupt capture" 1
t_expect_match "corrupt capture message" err "is corrupt at byte"

t_run "$MEMPROF" report -o /nonexistent/dir/r.txt ok.mprof
t_expect_rc "report to an unwritable path" 1

t_run "$MEMPROF" report --pid 999999 ok.mprof
t_expect_rc "report --pid of a pid not in the capture" 1

t_done
