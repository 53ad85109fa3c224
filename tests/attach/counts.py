"""counts.py PID: print "THREADS FDS" of PID, counting as descriptors only
those that are not sockets or are unix sockets: a test's TCP load comes and
goes, while the agent's channel is a unix socket and must not stay behind."""

import os
import sys

pid = sys.argv[1]
unix = set()
with open("/proc/%s/net/unix" % pid) as f:
    for line in list(f)[1:]:
        unix.add(line.split()[6])
fds = 0
for fd in os.listdir("/proc/%s/fd" % pid):
    try:
        link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
    except OSError:
        continue
    if link.startswith("socket:[") and link[8:-1] not in unix:
        continue
    fds += 1
print("%d %d" % (len(os.listdir("/proc/%s/task" % pid)), fds))
