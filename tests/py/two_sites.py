"""Two known allocation sites, in the parent and in a forked child (report-formats.sh)."""
import os
import sys


def make_blob(n):
    return bytearray(n)


def child_work():
    return [bytes(4096) for _ in range(512)]


keep = [make_blob(1 << 20) for _ in range(8)]
if len(sys.argv) > 1 and sys.argv[1] == "fork":
    pid = os.fork()
    if pid == 0:
        held = child_work()
        os._exit(0)
    os.waitpid(pid, 0)
print("done", len(keep))
