"""robust.py SCENARIO: programs that must behave under memprof exactly as
without it.  Each scenario prints what it did; tests/run-python.sh compares
the output and exit status with a bare run."""

import os
import queue
import signal
import subprocess
import sys
import threading


def threads():
    """8 threads allocating; blocks freed by other threads than their makers."""
    q = queue.Queue(maxsize=1000)
    total = [0] * 8

    def producer(n):
        for i in range(20000):
            q.put(bytes(64 + (i % 512)))
        q.put(None)

    def consumer(n):
        while True:
            b = q.get()
            if b is None:
                break
            total[n] += len(b)

    ts = [threading.Thread(target=producer, args=(i,)) for i in range(4)]
    ts += [threading.Thread(target=consumer, args=(i,)) for i in range(4, 8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("threads moved", sum(total), "bytes")


def fork():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        data = [bytes(1000) for _ in range(1000)]
        os.write(w, b"%d" % sum(map(len, data)))
        os._exit(7)
    os.close(w)
    got = os.read(r, 100)
    _, status = os.waitpid(pid, 0)
    print("child sent", got.decode(), "exit", os.WEXITSTATUS(status))


def subproc():
    out = subprocess.run([sys.executable, "-c", "print(sum(len(bytes(100)) for _ in range(1000)))"],
                         capture_output=True, text=True, check=True)
    print("subprocess said", out.stdout.strip())


def pool():
    import multiprocessing
    with multiprocessing.Pool(3) as p:
        print("pool squares", sum(p.map(pow2, range(200))))
        # Let every worker end by itself: the with block's terminate() could
        # kill one that the scheduler had not run yet, before the agent's hello.
        p.close()
        p.join()


def pow2(x):
    return len(bytes(x * 10)) + x * x


def signals():
    got = []
    signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
    os.kill(os.getpid(), signal.SIGUSR1)
    print("handled", got == [signal.SIGUSR1])
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGTERM)


def exit3():
    keep = [bytes(5000) for _ in range(100)]
    print("exiting with os._exit(3) holding", len(keep))
    sys.stdout.flush()
    os._exit(3)


def sigkill():
    keep = [bytes(100000) for _ in range(200)]
    print("killing myself holding", sum(map(len, keep)))
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def hold():
    """Allocate, say so, then wait for stdin to close (the test kills memprof meanwhile)."""
    keep = [bytes(100000) for _ in range(300)]
    print("holding", sum(map(len, keep)))
    sys.stdout.flush()
    sys.stdin.read()


if __name__ == "__main__":
    globals()[sys.argv[1]]()
