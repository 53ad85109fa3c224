"""check_stacks.py TRUTH_JSON COLLAPSED WORKLOAD: every stack under which
stack_shapes.py allocated (as CPython's traceback module saw it) is one of
memprof's, frame for frame (file and line, outermost first), with its bytes
within 1%; and memprof puts no bytes of the workload's allocating lines
under a stack that never allocated."""

import json
import re
import sys

truth = json.load(open(sys.argv[1]))
workload = sys.argv[3]
alloc_lines = {k.split(";")[-1] for k in truth}
frame_re = re.compile(r"\((.+):(\d+)\)$")

got = {}
for line in open(sys.argv[2]):
    stack, _, value = line.rstrip("\n").rpartition(" ")
    frames = []
    for f in stack.split(";"):
        m = frame_re.search(f)
        if m:
            frames.append("%s:%s" % (m.group(1), m.group(2)))
    if frames and frames[-1] in alloc_lines:
        key = ";".join(frames)
        got[key] = got.get(key, 0) + int(value)

failed = 0
for key, want in sorted(truth.items()):
    have = got.get(key, 0)
    err = abs(have - want) / want
    ok = err <= 0.01
    short = ";".join(f.rsplit("/", 1)[-1] for f in key.split(";"))
    print("%s %s: memprof %d, traceback %d" % ("ok" if ok else "FAIL", short, have, want))
    failed += not ok
extra = {k: v for k, v in got.items() if k not in truth}
total = sum(got.values())
for key, v in sorted(extra.items(), key=lambda kv: -kv[1]):
    print("FAIL memprof's stack never allocated: %s (%d bytes)" %
          (";".join(f.rsplit("/", 1)[-1] for f in key.split(";")), v))
    failed += 1
print("stacks compared: %d, memprof's bytes on the allocating lines: %d" % (len(truth), total))
sys.exit(1 if failed else 0)
