"""client.py MODE PORT STOP_FILE: load for target.py's accept and asyncio modes.

accept: one connection per request; asyncio: 8 persistent connections, each
sending a line and waiting for its reply.  Every reply must be "ok " plus
the request.  Runs until STOP_FILE exists, then sends one last request (so
a server blocked in accept sees it and exits), prints "client ok N" and
exits 0, or prints the first mismatch or error and exits 1.
"""

import os
import socket
import sys
import threading

MODE, PORT, STOP = sys.argv[1], int(sys.argv[2]), sys.argv[3]
done = [0]
errors = []
lock = threading.Lock()


def one_shot(i):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    msg = b"req %d" % i
    s.sendall(msg)
    reply = b""
    while True:
        chunk = s.recv(100)
        if not chunk:
            break
        reply += chunk
    s.close()
    if reply != b"ok " + msg:
        raise RuntimeError("reply %r to %r" % (reply, msg))


def persistent(k):
    try:
        s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        f = s.makefile("rwb")
        i = 0
        while not os.path.exists(STOP):
            i += 1
            msg = b"c%d req %d\n" % (k, i)
            f.write(msg)
            f.flush()
            reply = f.readline()
            if reply != b"ok " + msg:
                raise RuntimeError("reply %r to %r" % (reply, msg))
            with lock:
                done[0] += 1
        s.close()
    except Exception as e:  # reported below
        errors.append(repr(e))


try:
    if MODE == "accept":
        i = 0
        while not os.path.exists(STOP):
            i += 1
            try:
                one_shot(i)
            except OSError:
                # The server stops accepting once STOP exists: not an error then.
                if os.path.exists(STOP):
                    break
                raise
            done[0] += 1
        try:
            one_shot(i + 1)
        except OSError:
            pass
    else:
        ts = [threading.Thread(target=persistent, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
except Exception as e:
    errors.append(repr(e))
if errors:
    print("client FAIL: %s" % errors[0])
    sys.exit(1)
print("client ok %d" % done[0])
