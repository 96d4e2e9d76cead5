#!/usr/bin/python3
# timeout: 120
"""Description: loadgen --cgroup reads the server's CPU time from its
cgroup at the edges of the measured window. A real lunchd-backend runs in a
cgroup2 directory of its own; the figure loadgen reports must be positive,
inside what the cgroup spent over the whole run (warm-up and teardown
excluded, so less), and most of it; an empty second cgroup adds nothing; a
missing directory is refused with exit 2; without --cgroup it is null. The
server's wake-ups beside it: its threads went to sleep at least once in the
window (voluntary context switches), the empty cgroup none. And
the known answer end to end: a backend started with --work-per-request 50
costs 50 us more CPU per request, measured this way."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import lgtest  # noqa: E402
from lgtest import check  # noqa: E402

PORT = 19130




def usage_usec(d):
    with open(os.path.join(d, "cpu.stat")) as f:
        for line in f:
            k, v = line.split()
            if k == "usage_usec":
                return int(v)
    raise RuntimeError("no usage_usec in %s/cpu.stat" % d)


def main():
    mnt = lgtest.cgroup2_mount()
    if os.geteuid() != 0 or not mnt:
        lgtest.skip("needs root and a cgroup2 mount")
    if not lgtest.port_free(PORT):
        lgtest.skip("port %d is busy" % PORT)
    cg = tempfile.mkdtemp(prefix="sbtest-lg-", dir=mnt)
    empty = tempfile.mkdtemp(prefix="sbtest-lg-empty-", dir=mnt)
    srv = None
    try:
        # the server joins its cgroup before it execs, so all of its CPU is there
        srv = lgtest.start_backend(cg, PORT)
        url = "http://127.0.0.1:%d/" % PORT

        o, _ = lgtest.run_loadgen("-c", 8, "-d", "1s", url)
        check(o["server_cpu"] is None, "without --cgroup: server_cpu is null")

        before = usage_usec(cg)
        o, _ = lgtest.run_loadgen("-c", 8, "-d", "1500ms", "--warmup", "500ms", "--cgroup", cg,
                                  "--cgroup", empty, url)
        whole = usage_usec(cg) - before
        sc = o["server_cpu"]
        print("  server_cpu %r, whole run %d usec" % (sc, whole))
        check(sc is not None and sc["usec"] > 0, "server CPU read from the cgroup")
        check(sc["usec"] <= whole, "the window's CPU (%d) is within the whole run's (%d)"
              % (sc["usec"], whole))
        # 1.5 s measured of 2 s loaded: well over half of it, whatever the machine's speed
        check(sc["usec"] >= 0.5 * whole, "and most of it: %d of %d" % (sc["usec"], whole))
        check(abs(sc["ns_per_request"] - sc["usec"] * 1000.0 / o["requests"]) < 1.0,
              "ns_per_request = usec * 1000 / requests")
        check(usage_usec(empty) == 0, "the empty cgroup spent nothing")
        sw = o["server_wakeups"]
        print("  server_wakeups %r" % (sw,))
        check(sw is not None and sw["voluntary"] > 0,
              "the server's threads slept and woke in the window")
        check(abs(sw["voluntary_per_request"] - sw["voluntary"] / o["requests"]) < 1e-3,
              "voluntary_per_request = voluntary / requests")
        each = {c["path"]: c for c in sc["cgroups"]}
        check(each[empty]["voluntary"] == 0 and each[empty]["nonvoluntary"] == 0,
              "the empty cgroup has no threads to wake")
        check(each[cg]["voluntary"] == sw["voluntary"], "the sum is its cgroups'")
        o, _ = lgtest.run_loadgen("-c", 8, "-d", "1s", url)
        check(o["server_wakeups"] is None, "without --cgroup: server_wakeups is null")

        p = subprocess.run([lgtest.loadgen_bin(), "-d", "1s", "--cgroup",
                            os.path.join(cg, "nonexistent"), url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        check(p.returncode == 2 and "--cgroup" in p.stderr and "nonexistent" in p.stderr,
              "a missing cgroup is refused with exit 2: %r" % p.stderr.strip())
        lgtest.stop(srv)
        srv = None

        # the calibration flag, measured: +50 us of CPU per request
        per_req = []
        for work in ("0", "50"):
            srv = lgtest.start_backend(cg, PORT, "--work-per-request", work)
            o, _ = lgtest.run_loadgen("-c", 4, "-d", "1s", "--warmup", "200ms", "--cgroup", cg, url)
            per_req.append(o["server_cpu"]["ns_per_request"])
            lgtest.stop(srv)
            srv = None
        delta = per_req[1] - per_req[0]
        check(40000 <= delta <= 60000, "--work-per-request 50 adds %.0f ns per request "
              "(%.0f -> %.0f; want 50000 +- 20%%)" % (delta, per_req[0], per_req[1]))
    finally:
        lgtest.stop(srv)
        for d in (cg, empty):
            os.rmdir(d)
    return 0






if __name__ == "__main__":
    sys.exit(main())
