"""known_sites.py: allocations whose sites and sizes are known exactly.

Each SITE is one source line that allocates a known number of bytes, some
kept until exit and some freed at once, in the main thread, in another
thread and in a forked child.  The program writes the truth as JSON
(site line -> allocated and live-at-exit bytes, as the allocator sees them)
to the file named by argv[1], for tests/attribution.sh to compare with
memprof's report.

Sizes: bytes(n) is one allocation of sys.getsizeof(b) bytes; bytearray(n)
is a small object plus one buffer of n+1 bytes.  The sizes are large enough
that nothing else allocates on those lines: lists are made full-size first.
"""

import json
import os
import sys
import threading

MIB = 1024 * 1024
truth = {}
keep = []


def site(tag, line, allocated, live):
    t = truth.setdefault(tag, {"line": line, "allocated": 0, "live": 0})
    t["allocated"] += allocated
    t["live"] += live


def line_of(tag):
    """The line number of the statement marked with '# SITE tag'."""
    with open(__file__) as f:
        for n, text in enumerate(f, 1):
            if text.rstrip().endswith("# SITE " + tag):
                return n
    raise KeyError(tag)


def retained_buffers(count, size):
    slots = [None] * count
    for i in range(count):
        slots[i] = bytes(size)  # SITE retained
    keep.append(slots)
    one = sys.getsizeof(bytes(size))
    site("retained", line_of("retained"), count * one, count * one)


def transient_buffers(count, size):
    total = 0
    for _ in range(count):
        b = bytes(size)  # SITE transient
        total += len(b)
        del b
    one = sys.getsizeof(bytes(size))
    site("transient", line_of("transient"), count * one, 0)


def small_objects(count):
    # Sizes are computed first: on CPython <= 3.10 even "i & 7" allocates
    # (and frees) a temporary int, which would land on the site's line.
    sizes = [200 + (i & 7) for i in range(count)]
    slots = [None] * count
    for i in range(count):
        slots[i] = bytes(sizes[i])  # SITE small
    keep.append(slots)
    allocated = sum(sys.getsizeof(bytes(n)) for n in sizes)
    site("small", line_of("small"), allocated, allocated)


def small_transient(count):
    # Each freed after 16384 others, so that pymalloc spreads them over many
    # blocks: a free not seen leaves its block's record live until exit (a
    # block handed out again at once would hide it, see profile.c).
    # Sizes and slots are computed first, as in small_objects.
    sizes = [300 + (i & 7) for i in range(count)]
    slots = [i & 16383 for i in range(count)]
    ring = [None] * 16384
    for j, n in zip(slots, sizes):
        ring[j] = bytes(n)  # SITE small_transient
    del ring
    allocated = sum(sys.getsizeof(bytes(n)) for n in sizes)
    site("small_transient", line_of("small_transient"), allocated, 0)


def thread_body(count, size):
    local = [None] * count
    for i in range(count):
        local[i] = bytes(size)  # SITE thread
    keep.append(local)


def in_thread(count, size):
    t = threading.Thread(target=thread_body, args=(count, size))
    t.start()
    t.join()
    one = sys.getsizeof(bytes(size))
    site("thread", line_of("thread"), count * one, count * one)


def child_body(count, size):
    held = [None] * count
    for i in range(count):
        held[i] = bytes(size)  # SITE child
    os._exit(0)


def in_child(count, size):
    pid = os.fork()
    if pid == 0:
        child_body(count, size)
    os.waitpid(pid, 0)
    one = sys.getsizeof(bytes(size))
    # The child exits with os._exit: no atexit, so its "at exit" is its end.
    site("child", line_of("child"), count * one, count * one)


def main():
    scale = int(os.environ.get("KNOWN_SITES_SCALE", "1"))
    retained_buffers(40 * scale, 1 * MIB)
    transient_buffers(200 * scale, 512 * 1024)
    small_objects(100000 * scale)
    small_transient(100000 * scale)
    in_thread(20 * scale, 2 * MIB)
    if hasattr(os, "fork") and os.environ.get("KNOWN_SITES_NO_FORK") != "1":
        in_child(15 * scale, 2 * MIB)
    with open(sys.argv[1], "w") as f:
        json.dump({"file": os.path.abspath(__file__), "sites": truth}, f)


if __name__ == "__main__":
    main()
