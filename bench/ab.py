#!/usr/bin/env python3
"""ab.py [-n RUNS] [-w WORKLOAD] [--exact] BUILD_A BUILD_B: two memprof builds
(their build directories, or the path of a memprof binary or of a
libmemprof.so) on one workload, interleaved round by round with the bare
run, the way to tell a change from this VM's drift.  For each: the fastest
and median wall time, and the median of its same-round ratios to the bare
run.  A libmemprof.so names the agent only (MEMPROF_AGENT), run under the
other build's controller, or $MEMPROF's (default: the source tree's
memprof) when both are agents, so the two agents meet the same collector.
Exit 2 on bad arguments."""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def resolve(build):
    """(memprof binary, agent library or None) for a build directory, binary or library."""
    if os.path.isdir(build):
        return os.path.join(build, "memprof"), None
    if build.endswith(".so"):
        return None, build
    return build, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("-w", default="threads", help="workload in bench/workloads (default threads)")
    ap.add_argument("--exact", action="store_true", help="run memprof with --exact")
    ap.add_argument("--python", default="/usr/bin/python3", help="interpreter")
    ap.add_argument("a")
    ap.add_argument("b")
    o = ap.parse_args()
    workload = os.path.join(HERE, "workloads", o.w + ".py")
    if not os.path.isfile(workload) or o.n < 1:
        print("ab.py: no workload %s, or fewer than one round" % workload, file=sys.stderr)
        return 2
    a_bin, a_lib = resolve(o.a)
    b_bin, b_lib = resolve(o.b)
    a_bin = a_bin or b_bin
    b_bin = b_bin or a_bin
    if a_bin is None:
        a_bin = b_bin = os.environ.get("MEMPROF", os.path.join(HERE, "..", "memprof"))
    if a_bin is None or not os.access(a_bin, os.X_OK) or not os.access(b_bin, os.X_OK):
        print("ab.py: no memprof binary among %s and %s" % (o.a, o.b), file=sys.stderr)
        return 2
    mode = ["--exact"] if o.exact else []
    configs = [("bare", [o.python, workload], {})]
    for name, binary, lib in (("A " + o.a, a_bin, a_lib), ("B " + o.b, b_bin, b_lib)):
        env = {"MEMPROF_AGENT": lib} if lib else {}
        configs.append((name, [binary, "run"] + mode + ["-o", "CAPTURE", o.python, workload], env))
    times = {name: [] for name, _, _ in configs}
    ratios = {name: [] for name, _, _ in configs}
    for _ in range(o.n):
        bare = None
        for name, argv, env in configs:
            with tempfile.TemporaryDirectory() as tmp:
                cmd = [x.replace("CAPTURE", os.path.join(tmp, "c.mprof")) for x in argv]
                t0 = time.perf_counter()
                subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, **env), check=False)
                t = time.perf_counter() - t0
            bare = t if bare is None else bare
            times[name].append(t)
            ratios[name].append(t / bare)
    print("%s, %d rounds%s: fastest, median, median of same-round ratios to bare" %
          (o.w, o.n, " (--exact)" if o.exact else ""))
    for name, _, _ in configs:
        print("%-50s %7.3fs %7.3fs %6.2fx" % (name[:50], min(times[name]),
              statistics.median(times[name]), statistics.median(ratios[name])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
