#!/usr/bin/python3
# timeout: 120
"""Description: one loadgen process drives several targets at once (duet
measurement). Two real lunchd-backend servers, each in a cgroup2 directory
of its own, one of them started with --work-per-request 50 (a known 50 us of
CPU per request); one loadgen with both URLs and one --cgroup per URL. Each
target gets half the connections, its own request count and its own server
CPU from its own cgroup, read over the same window; the dearer target comes
out about 50 us per request dearer (the order and the size of the gap would
both be wrong if the targets' counts or cgroups were mixed up); the
top-level figures are the targets' sums. Mismatched --cgroup counts and
mixed schemes are refused with exit 2."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import lgtest  # noqa: E402
from lgtest import check  # noqa: E402

PORTS = (19140, 19141)








def main():
    mnt = lgtest.cgroup2_mount()
    if os.geteuid() != 0 or not mnt:
        lgtest.skip("needs root and a cgroup2 mount")
    for p in PORTS:
        if not lgtest.port_free(p):
            lgtest.skip("port %d is busy" % p)
    cgs = [tempfile.mkdtemp(prefix="sbtest-duet-%d-" % i, dir=mnt) for i in range(2)]
    srvs = []
    try:
        srvs.append(lgtest.start_backend(cgs[0], PORTS[0]))
        srvs.append(lgtest.start_backend(cgs[1], PORTS[1], "--work-per-request", "50"))
        urls = ["http://127.0.0.1:%d/" % p for p in PORTS]
        o, _ = lgtest.run_loadgen("-c", 8, "-d", "1500ms", "--warmup", "300ms",
                                  "--cgroup", cgs[0], "--cgroup", cgs[1], *urls)
        ts = o.get("targets")
        check(isinstance(ts, list) and len(ts) == 2, "two targets reported")
        check([t["url"] for t in ts] == urls, "in the order given")
        check(all(t["connections"] == 4 for t in ts), "4 connections each")
        check(all(t["requests"] > 0 and t["errors"]["total"] == 0 for t in ts),
              "both answered without errors: %s" % [t["requests"] for t in ts])
        check(sum(t["requests"] for t in ts) == o["requests"],
              "top-level requests = the targets' sum")
        check(sum(t["connections_opened"] for t in ts) == o["connections_opened"],
              "top-level connections = the targets' sum")
        for i, t in enumerate(ts):
            paths = [c["path"] for c in t["server_cpu"]["cgroups"]]
            check(paths == [cgs[i]], "target %d's CPU from its own cgroup" % i)
        check(o["server_cpu"]["usec"] == sum(t["server_cpu"]["usec"] for t in ts),
              "top-level server CPU = the targets' sum")
        # the busy-wait target serves fewer requests in the same window
        check(ts[1]["requests"] < ts[0]["requests"],
              "the dearer target answered fewer (%d < %d)" % (ts[1]["requests"], ts[0]["requests"]))
        cost = [t["server_cpu"]["ns_per_request"] for t in ts]
        delta = cost[1] - cost[0]
        print("  CPU per request %.0f ns and %.0f ns" % tuple(cost))
        check(30000 <= delta <= 80000,
              "--work-per-request 50 shows on its own target: +%.0f ns (want about +50000)" % delta)

        for argv, what in ((["-c", "2", "--cgroup", cgs[0]] + urls, "one --cgroup for two URLs"),
                           (["-c", "2", urls[0], "https://127.0.0.1:%d/" % PORTS[1]],
                            "http and https mixed"),
                           (["-c", "3"] + urls, "-c not a multiple of the URLs")):
            p = subprocess.run([lgtest.loadgen_bin(), "-d", "1s"] + argv, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30)
            check(p.returncode == 2 and p.stderr.startswith("loadgen: "),
                  "%s: refused with exit 2: %r" % (what, p.stderr.strip()))
    finally:
        for s in srvs:
            lgtest.stop(s)
        for d in cgs:
            os.rmdir(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
