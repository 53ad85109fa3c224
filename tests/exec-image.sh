#!/bin/sh
# exec-image.sh: an image replaced by exec (a shell or launcher that execs
# Python) holds nothing "at exit": what it held went with its address space,
# so the leaks view and the live-at-exit totals count only images that
# exited.  The image after the exec keeps its own figures, and a child that
# exits normally still reports what it left live.

. "$(dirname "$0")/lib.sh"

PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || t_skip "python3 not installed"
cd "$T_TMP" || exit 99

# The first image holds 8 MiB when it execs; the second holds 3 MiB through
# its atexit handlers; a forked child of the second holds 2 MiB when it exits.
cat > first.py <<'PYEOF'
import os, sys
held = [bytearray(1 << 20) for _ in range(8)]
os.execv(sys.executable, [sys.executable, "second.py"])
PYEOF
cat > second.py <<'PYEOF'
import os
kept = bytearray(3 << 20)
pid = os.fork()
if pid == 0:
    child = bytearray(2 << 20)
    os._exit(0)
os.waitpid(pid, 0)
print("second done")
PYEOF

t_run "$MEMPROF" run --exact -o exec.mprof "$PY" first.py
t_expect_rc "a capture across exec is recorded" 0
t_expect_match "the exec'd program ran" out "^second done$"

"$MEMPROF" report -f json -v leaks exec.mprof > exec.json 2>err || t_fail "json report" "$(cat err)"
python3 - exec.json > checks 2>&1 <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
procs = d["processes"]
MiB = 1 << 20
def line(ok, name, detail):
    print(("ok " if ok else "FAIL ") + name + ": " + detail)
line(len(procs) == 3, "three images", "%d: %s" % (len(procs), [(p["pid"], p["ppid"]) for p in procs]))
if len(procs) == 3:
    first, second, child = procs
    line(first["pid"] == second["pid"] and child["ppid"] == second["pid"],
         "the second image replaced the first, the third is its child",
         "pids %d %d %d, ppid of the third %d" % (first["pid"], second["pid"], child["pid"], child["ppid"]))
    line(first["peak_bytes"] >= 8 * MiB, "the exec'd image's peak stays", "%d" % first["peak_bytes"])
    line(first["live_bytes_at_exit"] == 0, "the exec'd image held nothing at exit",
         "%d" % first["live_bytes_at_exit"])
    line(second["live_bytes_at_exit"] >= 3 * MiB, "the image after exec keeps its at-exit bytes",
         "%d" % second["live_bytes_at_exit"])
    line(child["live_bytes_at_exit"] >= 2 * MiB, "a child that exits keeps what it left live",
         "%d" % child["live_bytes_at_exit"])
    # The sites: the interpreter's own start-up objects vary, the program's do not.
    def at_exit(line_no):
        return sum(s["live_bytes_at_exit"] for s in d["sites"]
                   if s["file"].endswith("/second.py") and s["line"] == line_no)
    line(3 * MiB <= at_exit(2) < 3 * MiB + 4096, "second.py:2 holds its 3 MiB at exit", "%d" % at_exit(2))
    line(2 * MiB <= at_exit(5) < 2 * MiB + 4096, "second.py:5 (the child) holds its 2 MiB at exit",
         "%d" % at_exit(5))
    want = sum(p["live_bytes_at_exit"] for p in procs)
    line(d["totals"]["live_bytes_at_exit"] == want, "the total is the images' sum",
         "%d, images %d" % (d["totals"]["live_bytes_at_exit"], want))
    line(not any("first.py" in s["file"] for s in d["sites"] if s["live_bytes_at_exit"] > 0),
         "no site of the exec'd image in the leaks view",
         "%s" % [(s["file"], s["line"], s["live_bytes_at_exit"]) for s in d["sites"] if "first.py" in s["file"]])
PYEOF
while read -r verdict rest; do
    case $verdict in
    ok) t_ok "$rest" ;;
    *) t_fail "${rest%%:*}" "${rest#*: }" ;;
    esac
done < checks
grep -qE '^(ok|FAIL) ' checks || t_fail "json checks ran" "$(cat checks)"

t_done
