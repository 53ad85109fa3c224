"""stack_shapes.py OUT.json [truth]: allocates 20,000-byte buffers under the
stack shapes that make a profiler's stack cache lie if it can: one helper
called from two lines of a loop, a function allocating on two lines called
from two lines, two callers at the same depth, recursion
whose depth jumps, a generator resumed from two callers, coroutines, threads,
comprehensions, C code calling back into Python, an except block.  With
"truth" it records, instead of allocating, each buffer's stack as CPython's
traceback module sees it and writes {stack: bytes} to OUT.json; without, it
allocates (run it under memprof run --exact) and writes nothing."""

import asyncio
import json
import sys
import threading
import traceback

N = 20000
ROUNDS = 60
TRUTH = len(sys.argv) > 2 and sys.argv[2] == "truth"
truth = {}
lock = threading.Lock()


def record(n):
    frames = traceback.extract_stack()[:-1]
    key = ";".join("%s:%d" % (f.filename, f.lineno) for f in frames)
    with lock:
        truth[key] = truth.get(key, 0) + n


def alloc(n):
    return record(n) if TRUTH else bytearray(n)


def leafy():
    x = bytearray(N) if not TRUTH else record(N)
    y = bytearray(2 * N) if not TRUTH else record(2 * N)
    return x, y


def leaves():
    for _ in range(ROUNDS):
        leafy()
        leafy()


def two_lines():
    for _ in range(ROUNDS):
        alloc(N)
        alloc(N)


def first():
    alloc(N)


def second():
    alloc(N)


def same_depth():
    for _ in range(ROUNDS):
        first()
        second()


def rec(depth):
    if depth == 0:
        alloc(N)
    else:
        rec(depth - 1)


def jumping_depth():
    for _ in range(ROUNDS // 4):
        for d in (3, 40, 7, 1, 40, 2, 0, 12):
            rec(d)


def gen():
    while True:
        alloc(N)
        yield
        alloc(N)
        yield


def resume_a(g):
    next(g)


def resume_b(g):
    next(g)


def generators():
    g = gen()
    for _ in range(ROUNDS):
        resume_a(g)
        resume_b(g)
        resume_a(g)


async def worker(k):
    for _ in range(ROUNDS // 2):
        alloc(N)
        await asyncio.sleep(0)
        alloc(N * k)


async def both():
    await asyncio.gather(worker(1), worker(2))


def threaded(k):
    for _ in range(ROUNDS):
        alloc(N)
        first()


def threads():
    ts = [threading.Thread(target=threaded, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def comprehensions():
    for _ in range(ROUNDS // 4):
        [alloc(N) for _ in range(3)]
        sorted(range(3), key=lambda x: (alloc(N), x)[1])


def excepting():
    for _ in range(ROUNDS):
        try:
            raise ValueError
        except ValueError:
            alloc(N)


two_lines()
leaves()
same_depth()
jumping_depth()
generators()
asyncio.run(both())
threads()
comprehensions()
excepting()
if TRUTH:
    with open(sys.argv[1], "w") as f:
        json.dump(truth, f)
