"""tm_workload.py OUT: many small objects, each kind made on its own line and
kept until the end, so that bytes allocated per line equal bytes live per
line.  With TRACEMALLOC=1 the program traces itself with tracemalloc and
writes its per-line totals for this file to OUT; otherwise it only runs (for
`memprof run --exact`).  tests/tracemalloc.sh compares the two."""

import json
import os
import sys

N = 20000
KEEP = []


def make(kind, n):
    out = [None] * n
    if kind == 0:
        for i in range(n):
            out[i] = {"id": i, "tag": "x"}                      # dicts
    elif kind == 1:
        for i in range(n):
            out[i] = ("abcdefgh" * 12)[i % 2:]                # str, ~145 B
    elif kind == 2:
        for i in range(n):
            out[i] = (i, i + 1, i + 2, i + 3)                  # 4-tuples
    elif kind == 3:
        for i in range(n):
            out[i] = bytes(300)                                # bytes, 333 B
    elif kind == 4:
        for i in range(n):
            out[i] = [i] * 30                                  # lists of 30
    elif kind == 5:
        for i in range(n):
            out[i] = float(i) + 0.5                            # floats
    elif kind == 6:
        for i in range(n):
            out[i] = {i, i + 1, i + 2}                         # sets
    elif kind == 7:
        for i in range(n):
            out[i] = bytearray(120)                            # bytearrays
    elif kind == 8:
        for i in range(n):
            out[i] = Point(i, i)                               # instances
    elif kind == 9:
        for i in range(n):
            out[i] = "z" * 700                                 # str, 749 B
    elif kind == 10:
        for i in range(n):
            out[i] = (i,) * 12                                 # 12-tuples
    elif kind == 11:
        for i in range(n):
            out[i] = bytes(1500)                               # bytes, 1.5 KB
    KEEP.append(out)


class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


def main():
    trace = os.environ.get("TRACEMALLOC") == "1"
    if trace:
        import tracemalloc
        tracemalloc.start(1)
    for kind in range(12):
        make(kind, N)
    if trace:
        snap = tracemalloc.take_snapshot()
        me = os.path.abspath(__file__)
        lines = {}
        for st in snap.statistics("lineno"):
            fr = st.traceback[0]
            if os.path.abspath(fr.filename) == me:
                lines[fr.lineno] = st.size
        with open(sys.argv[1], "w") as f:
            json.dump({"file": me, "lines": lines}, f)


if __name__ == "__main__":
    main()
