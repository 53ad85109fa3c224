"""check_output.py MODE FILE: target.py's output is what an undisturbed run
prints: "tick N" (or "got line N") lines counting up from 1 without gap or
repeat, then "done" (after "threads joined" in threads mode), nothing else."""

import sys

mode, path = sys.argv[1], sys.argv[2]
lines = open(path).read().split("\n")
if lines and lines[-1] == "":
    lines.pop()
tail = ["threads joined", "done"] if mode == "threads" else ["done"]
if lines[-len(tail):] != tail:
    print("does not end with %r: %r" % (tail, lines[-3:]))
    sys.exit(1)
# Each kind of progress line counts up on its own ("tick" and, in read mode, "got line").
want = {"tick ": 1, "got line ": 1}
for line in lines[:-len(tail)]:
    prefix = "got line " if line.startswith("got line ") else "tick "
    if line != "%s%d" % (prefix, want[prefix]):
        print("expected %r, got %r" % ("%s%d" % (prefix, want[prefix]), line))
        sys.exit(1)
    want[prefix] += 1
print("%d progress lines in order" % (sum(want.values()) - 2))
