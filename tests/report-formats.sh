#!/bin/sh
# report-formats.sh: the folded-stack (collapsed) and speedscope reports of a
# real capture hold the known site with its Python frame, add up to the JSON
# report's totals under each view, keep the processes of a multi-process
# capture apart; the text report's site table has one column per figure
# under every view and its header counts processes, names the Python ones
# and gives the recording's duration (as the JSON does); peak RSS counts a
# spike between two samples and a process too short for any; and the formats
# not built yet say so in one line.

. "$(dirname "$0")/lib.sh"

PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || t_skip "python3 not installed"
PROG="$MEMPROF_SRCDIR/tests/py/two_sites.py"
cd "$T_TMP" || exit 99

t_run "$MEMPROF" run --exact -o one.mprof "$PY" "$PROG"
t_expect_rc "a one-process capture is recorded" 0
t_run "$MEMPROF" run --exact -o two.mprof "$PY" "$PROG" fork
t_expect_rc "a two-process capture is recorded" 0

# total CAPTURE VIEW: the JSON report's total for the view.
total() {
    "$MEMPROF" report -f json -v "$2" "$1" | python3 -c '
import json, sys
t = json.load(sys.stdin)["totals"]
key = {"allocated": "allocated_bytes", "peak": "peak_bytes", "leaks": "live_bytes_at_exit",
       "live": "live_bytes_at_end"}[sys.argv[1]]
print(t[key])' "$2"
}

for cap in one two; do
    for view in allocated peak leaks; do
        "$MEMPROF" report -f collapsed -v $view -o $cap.$view.folded $cap.mprof 2>err
        if [ $? -ne 0 ]; then
            t_fail "collapsed $cap $view" "$(cat err)"
            continue
        fi
        bad=$(grep -cvE '^[^ ].* [0-9]+$' $cap.$view.folded)
        sum=$(awk '{s += $NF} END {printf "%.0f", s}' $cap.$view.folded)
        want=$(total $cap.mprof $view)
        if [ "$bad" -eq 0 ] && [ "$sum" = "$want" ]; then
            t_ok "collapsed $cap-process $view: lines add up to the JSON total ($sum)"
        else
            t_fail "collapsed $cap $view" "$bad malformed lines, sum $sum, JSON total $want"
        fi
    done
done

line=$(grep -n 'return bytearray(n)' "$PROG" | cut -d: -f1)
if grep -q "make_blob ($PROG:$line) [0-9]*$" one.allocated.folded; then
    t_ok "the known site is the leaf of its stacks, with its file and line"
else
    t_fail "known site in collapsed" "$(sort -t' ' -k2 -n one.allocated.folded | tail -2)"
fi
if grep -q "^python3[.0-9]* \[[0-9]*\];" two.allocated.folded &&
    [ "$(sed 's/;.*//' two.allocated.folded | sort -u | wc -l)" -ge 2 ]; then
    t_ok "a multi-process capture starts each stack with its process"
else
    t_fail "process root frames" "$(sed 's/;.*//' two.allocated.folded | sort -u | head -3)"
fi

for view in allocated peak; do
    "$MEMPROF" report -f speedscope -v $view -o two.$view.speedscope.json two.mprof
    if python3 - two.$view.speedscope.json "$(total two.mprof $view)" "$PROG" "$line" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
want, prog, line = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
assert d["$schema"] == "https://www.speedscope.app/file-format-schema.json"
frames = d["shared"]["frames"]
total = 0
for p in d["profiles"]:
    assert p["type"] == "sampled" and p["unit"] == "bytes"
    assert len(p["samples"]) == len(p["weights"])
    assert all(0 <= i < len(frames) for s in p["samples"] for i in s)
    assert p["endValue"] == sum(p["weights"])
    total += sum(p["weights"])
assert total == want, (total, want)
assert len(d["profiles"]) >= 2, len(d["profiles"])
assert any(f["name"] == "make_blob" and f.get("file") == prog and f.get("line") == line
           for f in frames)
PYEOF
    then
        t_ok "speedscope $view: valid, one profile per process, weights add up to the total"
    else
        t_fail "speedscope $view" "see above"
    fi
done

# The text table: allocated, count, at peak, at exit under every view, and
# a first "live" column only under live, the one figure without its own.
for view in allocated peak leaks live; do
    t_run "$MEMPROF" report -v $view one.mprof
    cols="allocated +count +at peak +at exit +function +location"
    [ $view = live ] && cols="live +$cols"
    t_expect_match "text $view: the site table's columns" out "^ +$cols\$"
    [ $view = allocated ] && t_expect_match "text allocated: the known site's row has its four figures" out \
        "^ +[0-9.]+ [KMG]?i?B +[0-9.]+[KMG]?( +[0-9.]+ [KMG]?i?B){2} +make_blob +.*two_sites.py:$line\$"
done

# The header counts every process and names the Python ones.
t_run "$MEMPROF" run -o shell.mprof sh -c "\"$PY\" -c 'x = [0] * 1000'; true"
t_run "$MEMPROF" report shell.mprof
t_expect_match "text: a shell and its Python child, the child named" out \
    '^Processes:  2, 1 running Python: pid [0-9]+ \(Python 3\.[0-9]+\.[0-9]+\)$'
t_run "$MEMPROF" report one.mprof
t_expect_match "text: one Python process, named" out '^Processes:  1: pid [0-9]+ \(Python 3\.[0-9.]+\)$'

# The recording's duration: at least the program's own 1.5 s, at most the run's wall time.
t0=$(date +%s.%N)
t_run "$MEMPROF" run -o slow.mprof "$PY" -c 'import time; time.sleep(1.5)'
t1=$(date +%s.%N)
t_run "$MEMPROF" report -f json slow.mprof
dur=$(printf '%s' "$T_OUT" | python3 -c 'import json, sys; print(json.load(sys.stdin)["totals"]["duration_seconds"])')
if python3 -c 'import sys; d, a, b = map(float, sys.argv[1:]); sys.exit(not 1.5 <= d <= b - a)' "$dur" "$t0" "$t1"; then
    t_ok "json: duration_seconds $dur, at least 1.5 and at most the run's wall time"
else
    t_fail "json: duration_seconds" "$dur, expected at least 1.5 and at most the run's wall time ($t0 to $t1)"
fi
t_run "$MEMPROF" report slow.mprof
t_expect_match "text: the Recording line gives a duration" out \
    "^Recording:  [0-9]+\.[0-9]{2} s, sampled every 64.0 KiB on average; figures are estimates\$"
# The same duration as the JSON's, each rounded its own way (1.5555: "1.56 s" and 1.556).
text=$(printf '%s\n' "$T_OUT" | sed -n 's/^Recording:  \([0-9.]*\) s,.*/\1/p')
if python3 -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 0.0051)' "$text" "$dur"; then
    t_ok "text: the Recording line's $text s is the JSON's $dur"
else
    t_fail "text: the Recording line's duration" "$text s, the JSON says $dur"
fi

# peak_rss NAME MiB PYTHON-CODE: profile the code; the JSON report's
# rss_peak_bytes must be at least MiB.
peak_rss() {
    t_run "$MEMPROF" run -o rss.mprof "$PY" -c "$3"
    t_run "$MEMPROF" report -f json rss.mprof
    rss=$(printf '%s' "$T_OUT" | python3 -c 'import json, sys; print(json.load(sys.stdin)["totals"]["rss_peak_bytes"])')
    if [ "$rss" -ge $(($2 << 20)) ] 2>/dev/null; then
        t_ok "json: rss_peak_bytes $rss covers $1's $2 MiB"
    else
        t_fail "json: rss_peak_bytes of $1" "$rss, expected at least $(($2 << 20))"
    fi
}
# Peak RSS is the kernel's high-water mark: a spike freed at once counts,
# though no 100 ms sample may land on it; and a process over before the
# collector's first read reports its peak when its code finishes.
peak_rss "a spike" 300 'import time; b = b"x" * (300 << 20); del b; time.sleep(0.5)'
peak_rss "a short process" 50 'b = b"x" * (50 << 20)'
# The run's peak RSS counts images that ran at once, not one after another:
# a shell's eight short children do not add up, the shell and Python do.
t_run env PY="$PY" "$MEMPROF" run -o seq.mprof sh -c \
    'for i in 1 2 3 4 5 6 7 8; do /bin/true; done; "$PY" -c "b = b\"x\" * (50 << 20)"'
t_run "$MEMPROF" report -f json seq.mprof
out=$(printf '%s' "$T_OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
total = d["totals"]["rss_peak_bytes"]
peaks = {}
for p in d["processes"]:
    name = p["exe"].rsplit("/", 1)[-1]
    peaks.setdefault("python" if p["python"] else name, []).append(p["rss_peak_bytes"])
py = max(peaks.get("python", [0]))
others = sum(v for k, vs in peaks.items() if k != "python" for v in vs)
# At most the shell, one child and Python at once (the shell image has its pid).
bound = py + sum(sorted((v for k, vs in peaks.items() if k != "python" for v in vs), reverse=True)[:2])
ok = py >= (50 << 20) and py <= total <= bound and total < py + others
print("%s total %d, Python %d, the others %d in %d images, bound %d" %
      ("ok" if ok else "FAIL", total, py, others, sum(len(v) for k, v in peaks.items() if k != "python"), bound))')
case $out in
ok*) t_ok "json: rss_peak_bytes of images one after another: ${out#ok }" ;;
*) t_fail "json: rss_peak_bytes of images one after another" "${out#FAIL }" ;;
esac

# Peak RSS is the program's, not memprof's: the agent's ring (16 MiB under
# --exact, every page of it touched) is taken off, so the figure stays near
# the bare run's own high-water mark (the agent's tables and code remain,
# a few MiB).  Without that it read 16 MiB over.
ring_code='x = [str(i) * 3 for i in range(300000)]
with open("/proc/self/status") as f:
    print([l.split()[1] for l in f if l.startswith("VmHWM")][0])'
t_run "$PY" -c "$ring_code"
bare_kb=$T_OUT
t_run "$MEMPROF" run --exact -o ring.mprof "$PY" -c "$ring_code"
under_kb=$T_OUT
t_run "$MEMPROF" report -f json ring.mprof
rss=$(printf '%s' "$T_OUT" | python3 -c 'import json, sys; print(json.load(sys.stdin)["totals"]["rss_peak_bytes"])')
over=$((rss / 1024 - bare_kb))
if [ "$over" -lt 6144 ] && [ "$over" -gt -2048 ]; then
    t_ok "json: --exact peak RSS ${rss} is the bare run's ${bare_kb} kB + ${over} kB (VmHWM under memprof: ${under_kb} kB, ring included)"
else
    t_fail "json: --exact peak RSS without the ring" "$rss bytes against the bare run's $bare_kb kB (under memprof VmHWM $under_kb kB)"
fi

for f in flamegraph html pprof; do
    t_run "$MEMPROF" report -f $f one.mprof
    t_expect_rc "$f: not built yet, exit 1" 1
    t_expect_lines "$f: one line" err 1
done
t_done
