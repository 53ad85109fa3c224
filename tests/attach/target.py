"""target.py MODE READY_FILE STOP_FILE: a long-running Python program for
tests/attach.sh, with one known allocation site (hot_site, HOT_LINE).
SIGUSR1 appends to READY_FILE.alloc which file the PyMem domain's malloc lives in.

It writes READY_FILE (its pid) once it is in MODE's steady state and runs
until STOP_FILE exists (checked between units of work), then prints
"done" and exits 0.  Its output is deterministic so that a test can
compare it with a run nobody attached to: one "tick N" line per unit of
work, N counting up from 1 without gaps, and every reply it sends is
checked by the client.

MODE: loop (allocating without pause), sleep (blocked in time.sleep between
units), read (blocked reading stdin, one unit per line), accept (blocked in
accept, one unit per connection; port in READY_FILE's second line),
threads (4 workers in allocation loops, main thread in join), asyncio (an
asyncio TCP server, one unit per request), late (sleeps until READY_FILE.go
exists, then loads the C library named by $LATE_LIB with ctypes and calls its
late_alloc in a loop: a module loaded after the attach; line LATE_LINE).
"""

import os
import socket
import sys
import threading
import time

MODE, READY, STOP = sys.argv[1], sys.argv[2], sys.argv[3]


def allocator_file(*args):
    """SIGUSR1: append "allocator FILE free FILE2" to READY_FILE.alloc, FILE
    holding the PyMem domain's malloc now (the interpreter's own, or the
    agent's wrapper) and FILE2 its free (the agent wraps free only in exact
    mode)."""
    import ctypes

    class Allocator(ctypes.Structure):
        _fields_ = [(n, ctypes.c_void_p) for n in ("ctx", "malloc", "calloc", "realloc", "free")]
    a = Allocator()
    ctypes.pythonapi.PyMem_GetAllocator(1, ctypes.byref(a))
    where = {"malloc": "?", "free": "?"}
    with open("/proc/self/maps") as f:
        for line in f:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            for fn in where:
                if lo <= getattr(a, fn) < hi:
                    where[fn] = line.split()[-1]
    # Its own file: a print here could re-enter a print of the main code.
    with open(READY + ".alloc", "a") as f:
        f.write("allocator %s free %s\n" % (where["malloc"], where["free"]))


import signal  # noqa: E402
signal.signal(signal.SIGUSR1, allocator_file)
KEEP = []
LOCK = threading.Lock()
COUNT = [0]


def hot_site(keep):
    keep.append(bytearray(100000))  # HOT_LINE
    if len(keep) > 40:
        del keep[0]


def tick(out=True):
    with LOCK:
        COUNT[0] += 1
        n = COUNT[0]
    if out and n % 50 == 0:
        print("tick %d" % (n // 50), flush=True)


def ready(extra=""):
    with open(READY + ".tmp", "w") as f:
        f.write("%d\n%s\n" % (os.getpid(), extra))
    os.rename(READY + ".tmp", READY)


def stopped():
    return os.path.exists(STOP)


def work():
    hot_site(KEEP)
    tick()


if MODE == "loop":
    ready()
    while not stopped():
        for _ in range(50):
            work()
elif MODE == "sleep":
    ready()
    while not stopped():
        time.sleep(0.02)
        for _ in range(50):
            work()
elif MODE == "read":
    ready()
    for line in sys.stdin:
        for _ in range(50):
            work()
        print("got %s" % line.strip(), flush=True)
        if stopped():
            break
elif MODE == "accept":
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    ready(str(srv.getsockname()[1]))
    while True:
        conn, _ = srv.accept()
        data = conn.recv(100)
        for _ in range(50):
            work()
        conn.sendall(b"ok " + data)
        conn.close()
        if stopped():
            break
elif MODE == "threads":
    def worker(keep):
        while not stopped():
            for _ in range(50):
                hot_site(keep)
                tick(False)
    ts = [threading.Thread(target=worker, args=([],)) for _ in range(4)]
    for t in ts:
        t.start()
    ready()
    for t in ts:
        t.join()
    print("threads joined", flush=True)
elif MODE == "asyncio":
    import asyncio

    active = [0]

    async def handle(reader, writer):
        active[0] += 1
        try:
            while True:
                data = await reader.readline()
                if not data:
                    break
                for _ in range(10):
                    work()
                writer.write(b"ok " + data)
                await writer.drain()
            writer.close()
        finally:
            active[0] -= 1

    async def main():
        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        ready(str(srv.sockets[0].getsockname()[1]))
        while not stopped():
            await asyncio.sleep(0.05)
        # Let the client's connections end first: a handler cancelled by
        # asyncio.run's shutdown makes 3.12 log an error on stderr.
        deadline = asyncio.get_running_loop().time() + 10
        while active[0] and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        srv.close()
        await srv.wait_closed()

    asyncio.run(main())
elif MODE == "late":
    ready()
    while not os.path.exists(READY + ".go") and not stopped():
        time.sleep(0.01)
    import ctypes
    lib = ctypes.CDLL(os.environ["LATE_LIB"])
    n = 0
    while not stopped():
        for _ in range(50):
            lib.late_alloc()  # LATE_LINE
            n += 1
        print("tick %d" % (n // 50), flush=True)
        time.sleep(0.001)
print("done", flush=True)
