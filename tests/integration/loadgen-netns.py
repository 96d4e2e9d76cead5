#!/usr/bin/python3
# timeout: 150
"""Description: loadgen --netns and --thread-per-target. Two network
namespaces (ip netns add, named with this PID, deleted at exit, also on
failure), lo up in each, and a real lunchd-drop in each on the SAME address
127.0.0.1:PORT; a third namespace with no server. One loadgen with both URLs,
--netns per URL and a thread per target: both targets answer, each server
spends CPU in its own cgroup (when there is a cgroup2 mount), and each target
reports its namespace and its thread's CPU time, positive. With --rate-per-target both get the same schedule: the same
number of requests. The server-less namespace in either position gives that
target, and only it, connect errors (so its sockets were made there, not in
loadgen's namespace, whatever listens here), and the run ends on time with
status 0; a namespace file that cannot be opened or entered ends loadgen with
status 1, a --netns count that does not match the URLs with 2. Needs root
and ip netns (else exit 77)."""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import lgtest  # noqa: E402
from lgtest import check  # noqa: E402

TOP = lgtest.TOP
PORT = 19180
NS = ["sbtest-lg-%d-%s" % (os.getpid(), x) for x in ("a", "b", "empty")]
NSPATH = ["/run/netns/" + n for n in NS]
URL = "https://127.0.0.1:%d/" % PORT

# Connects to 127.0.0.1:PORT in the namespace it runs in until it answers (or the time is up).
PROBE = """import socket, sys, time
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
"""

made_ns = []
servers = []
cgdirs = []
tmp = []


def ip(*args, timeout=20):
    return subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def cleanup():
    """Stops the servers this test started (by PID), deletes its namespaces and directories."""
    for srv in servers:
        if srv.poll() is None:
            srv.terminate()
            try:
                srv.wait(10)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait(5)
    del servers[:]
    for n in made_ns:
        r = ip("netns", "del", n)
        if r.returncode:
            print("cleanup: ip netns del %s: %s" % (n, r.stderr.strip()))
    del made_ns[:]
    for d in cgdirs:
        try:
            os.rmdir(d)
        except OSError as e:
            print("cleanup: rmdir %s: %s" % (d, e))
    del cgdirs[:]
    for d in tmp:
        shutil.rmtree(d, ignore_errors=True)
    del tmp[:]


def on_signal(sig, _frame):
    sys.exit(128 + sig)  # SystemExit: the finally clause and atexit clean up


def start_drop(ns, cert, cg):
    """lunchd-drop on 127.0.0.1:PORT inside namespace NS (ip netns exec execs it: the
    PID is the server's), in cgroup2 directory CG from before its exec when given."""
    argv = ["ip", "netns", "exec", ns, lgtest.bin_path("lunchd-drop"), "--listen",
            "127.0.0.1:%d" % PORT, "--key", os.path.join(cert, "key.pem"),
            "--cert", os.path.join(cert, "chain.pem"), "--user", "nobody"]
    if cg:
        argv = ["/bin/sh", "-c", 'cg=$1; shift; echo $$ > "$cg/cgroup.procs" && exec "$@"',
                "sh", cg] + argv
    srv = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    servers.append(srv)
    probe = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", PROBE, str(PORT),
                            "10"], timeout=30)
    if probe.returncode != 0 or srv.poll() is not None:
        srv.kill()
        lgtest.fail("lunchd-drop in %s did not listen: %s" % (ns, srv.communicate()[1]))
    return srv


def loadgen(*args, timeout=30):
    """loadgen ARGS (no --json added): (exit status, stdout, stderr)."""
    cmd = [lgtest.loadgen_bin()] + [str(a) for a in args]
    print("+", " ".join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def main():
    if os.geteuid() != 0:
        lgtest.skip("needs root (setns, ip netns add)")
    if not shutil.which("ip"):
        lgtest.skip("no ip command")
    if ip("netns", "list").returncode != 0:
        lgtest.skip("ip netns is unavailable")
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for n in NS:
            r = ip("netns", "add", n)
            if r.returncode != 0:
                lgtest.skip("ip netns add %s: %s" % (n, r.stderr.strip()))
            made_ns.append(n)
            r = ip("netns", "exec", n, "ip", "link", "set", "lo", "up")
            check(r.returncode == 0, "lo up in %s %s" % (n, r.stderr.strip()))
        d = tempfile.mkdtemp(prefix="loadgen-netns-")
        tmp.append(d)
        cert = os.path.join(d, "cert")
        subprocess.run([os.path.join(TOP, "scripts", "mkcert"), cert], check=True,
                       stdout=subprocess.DEVNULL)
        mnt = lgtest.cgroup2_mount()
        cgs = [None, None]
        if mnt:
            for i in range(2):
                cgs[i] = tempfile.mkdtemp(prefix="sbtest-netns-%d-" % i, dir=mnt)
                cgdirs.append(cgs[i])
        for i in range(2):
            start_drop(NS[i], cert, cgs[i])

        # both namespaces, the same address, a thread each
        cgargs = sum((["--cgroup", c] for c in cgs if c), [])
        o, _ = lgtest.run_loadgen("-c", 4, "-d", "1500ms", "--warmup", "300ms",
                                  "--thread-per-target", "--netns", NSPATH[0],
                                  "--netns", NSPATH[1], *cgargs, URL, URL)
        ts = o.get("targets")
        check(isinstance(ts, list) and len(ts) == 2, "two targets reported")
        check(o["threads"] == 2 and o["thread_per_target"] is True, "a thread per target")
        check([t["netns"] for t in ts] == NSPATH[:2], "each target reports its namespace")
        check(o["netns"] == NSPATH[0], "the top level reports the first URL's")
        for i, t in enumerate(ts):
            check(t["requests"] > 100 and t["errors"]["total"] == 0,
                  "target %d (%s) answered %d requests, %d errors" %
                  (i, NS[i], t["requests"], t["errors"]["total"]))
            lc = t.get("loadgen_cpu")
            check(isinstance(lc, dict) and lc["usec"] > 0 and lc["ns_per_request"] > 0
                  and lc["user_s"] >= 0 and lc["sys_s"] >= 0 and lc["user_s"] + lc["sys_s"] > 0,
                  "target %d's thread CPU: %r" % (i, lc))
            check(lc["usec"] <= 1.6e6 * 1.2,
                  "target %d's thread CPU fits in the measured window: %d us" % (i, lc["usec"]))
            if cgs[i]:
                sc = t["server_cpu"]
                check(sc["cgroups"][0]["path"] == cgs[i] and sc["usec"] > 0,
                      "target %d's server (in %s) spent CPU: %d us" % (i, NS[i], sc["usec"]))
        tot = o["loadgen_cpu"]
        check(tot["usec"] == sum(t["loadgen_cpu"]["usec"] for t in ts) or
              abs(tot["usec"] - sum(t["loadgen_cpu"]["usec"] for t in ts)) <= 2,
              "top-level loadgen_cpu is the threads' sum")
        print("  loadgen CPU per request: %.0f and %.0f ns" %
              tuple(t["loadgen_cpu"]["ns_per_request"] for t in ts))

        # one ring for both (no --thread-per-target): no per-target thread CPU
        o, _ = lgtest.run_loadgen("-c", 2, "-d", "500ms", "--netns", ",".join(NSPATH[:2]),
                                  URL, URL)
        ts = o["targets"]
        check(o["threads"] == 1 and all(t["requests"] > 0 for t in ts),
              "one thread loads both namespaces: %s" % [t["requests"] for t in ts])
        check(all(t["loadgen_cpu"] is None for t in ts) and o["loadgen_cpu"]["usec"] > 0,
              "per-target loadgen_cpu null with one ring, the top-level one measured")

        # open loop: the same schedule for each, in its namespace
        o, _ = lgtest.run_loadgen("-c", 4, "-d", "1s", "--warmup", "200ms", "--thread-per-target",
                                  "--rate-per-target", 400, "--netns", ",".join(NSPATH[:2]),
                                  URL, URL)
        ts = o["targets"]
        check(o["rate"] == 800 and all(t["rate"] == 400 for t in ts), "400/s each, 800/s in all")
        check(all(abs(t["requests"] - 400) <= 8 and t["errors"]["total"] == 0 for t in ts)
              and abs(ts[0]["requests"] - ts[1]["requests"]) <= 2,
              "each target got its 400 requests: %s" % [t["requests"] for t in ts])
        check(all(t["latency_us"]["count"] == t["requests"] and
                  0 < t["latency_us"]["p50"] <= t["latency_us"]["p99"] <= t["latency_us"]["p99.9"]
                  and t["latency_uncorrected_us"]["count"] == t["requests"] for t in ts),
              "per-target latency from the intended times, p50 <= p99 <= p99.9")

        # a namespace without a server, in either position: its target only fails, on time
        for order in ((0, 2), (2, 1)):
            t0 = time.monotonic()
            o, _ = lgtest.run_loadgen("-c", 4, "-d", "800ms", "--thread-per-target",
                                      "--netns", ",".join(NSPATH[i] for i in order), URL, URL)
            wall = time.monotonic() - t0
            ts = o["targets"]
            for t, i in zip(ts, order):
                if i == 2:
                    check(t["requests"] == 0 and t["errors"]["connect"] > 0 and
                          t["errors"]["total"] == t["errors"]["connect"] and
                          "refused" in t["error_detail"]["socket"],
                          "%s (no server): connect errors only: %s, %r" %
                          (NS[i], t["errors"], t["error_detail"]["socket"]))
                else:
                    check(t["requests"] > 0 and t["errors"]["total"] == 0,
                          "%s beside it still answers: %d" % (NS[i], t["requests"]))
            check(wall < 10, "the run ended on time (%.1f s)" % wall)

        # a file that cannot be opened, one that is no network namespace; bad counts
        for args, rc, what in ((["--netns", "/run/netns/sbtest-lg-no-such-%d" % os.getpid()],
                                1, "cannot open it"),
                               (["--netns", "/proc/self/ns/mnt"], 1, "not a network namespace"),
                               (["--netns", "/etc/hostname"], 1, "not a network namespace"),
                               (["--netns", ",".join(NSPATH[:2])], 2, "give one per URL")):
            r, out, err = loadgen("-c", 2, "-d", "300ms", *args, URL, timeout=30)
            check(r == rc and out == "" and err.startswith("loadgen: --netns") and what in err,
                  "%s: exit %d (want %d): %r" % (args[-1], r, rc, err.strip()))
    finally:
        cleanup()
    for n in NS:
        check(not os.path.exists("/run/netns/" + n), "namespace %s deleted" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
