"""check_tracemalloc.py TRACEMALLOC_JSON REPORT_JSON: the top 10 lines of the
workload file by bytes agree between tracemalloc and memprof --exact (as
sets, allowing a swap at the boundary between lines within 5% of each
other), and each line's bytes are within 5%."""

import json
import sys

tm = json.load(open(sys.argv[1]))
rep = json.load(open(sys.argv[2]))
tm_lines = {int(k): v for k, v in tm["lines"].items()}
mp_lines = {}
for s in rep["sites"]:
    if s["file"] == tm["file"]:
        mp_lines[s["line"]] = mp_lines.get(s["line"], 0) + s["allocated_bytes"]

top_tm = sorted(tm_lines, key=tm_lines.get, reverse=True)
top_mp = sorted(mp_lines, key=mp_lines.get, reverse=True)
failed = 0
tenth = tm_lines[top_tm[9]] if len(top_tm) >= 10 else 0
for line in top_tm[:10]:
    have = mp_lines.get(line, 0)
    want = tm_lines[line]
    err = abs(have - want) / want
    ok = err <= 0.05
    print("%s line %d: memprof %d, tracemalloc %d (%.2f%%)" % ("ok" if ok else "FAIL", line, have, want, 100 * err))
    failed += not ok
for line in top_mp[:10]:
    if line not in top_tm[:10]:
        # A tie at the boundary: fine if tracemalloc has it within 5% of its 10th line.
        if abs(tm_lines.get(line, 0) - tenth) > 0.05 * tenth:
            print("FAIL line %d is in memprof's top 10 (%d bytes) but not tracemalloc's" % (line, mp_lines[line]))
            failed += 1
print("top 10 compared: %d lines" % min(10, len(top_tm)))
if rep["totals"].get("dropped_records"):
    print("FAIL memprof dropped %d records" % rep["totals"]["dropped_records"])
    failed += 1
sys.exit(1 if failed else 0)
