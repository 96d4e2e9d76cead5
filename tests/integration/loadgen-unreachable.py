#!/usr/bin/python3
# timeout: 120
"""Description: a -n run ends when no connection gets as far as a request
(keep-alive and -R): a connection attempt that fails before the connection is
ready counts toward -n like a failed request. Against a closed port (IPv4 and
[::1]), a listener whose accept queue is full (connects time out), and https
to a server that never speaks TLS, each run ends (a bound of 30 s that only a
hang reaches) with exactly -n connect or timeout errors; a healthy run still
issues exactly -n requests."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import lgtest  # noqa: E402
from lgtest import check  # noqa: E402


def ends(*args):
    """loadgen --json ARGS, which must end by itself."""
    try:
        return lgtest.run_loadgen(*args, timeout=30)[0]
    except subprocess.TimeoutExpired:
        lgtest.fail("loadgen %s did not end within 30 s" % " ".join(map(str, args)))


def errors_only(o, cls, n):
    e = o["errors"]
    return o["requests"] == 0 and e[cls] == n and e["total"] == n


def main():
    with lgtest.BadServer("refuse", 19160) as s:
        o = ends("-c", 1, "-n", 5, "--timeout", 300, s.url())
        check(errors_only(o, "connect", 5), "closed port, -c 1 -n 5: 5 connect errors, then exit")
        o = ends("-c", 3, "-n", 7, s.url())
        check(errors_only(o, "connect", 7), "closed port, -c 3 -n 7: exactly 7 connect errors")
        o = ends("-c", 2, "-n", 4, "-R", 100, s.url())
        check(errors_only(o, "connect", 4), "closed port, -R 100 -n 4: 4 connect errors")

    if lgtest.ipv6_loopback():
        with lgtest.BadServer("refuse", 19161, ipv6=True) as s:
            o = ends("-c", 1, "-n", 3, s.url())
            check(errors_only(o, "connect", 3), "closed [::1] port: 3 connect errors")
    else:
        print("no [::1]: the IPv6 case is left out")

    with lgtest.BadServer("backlog", 19162) as s:
        o = ends("-c", 1, "-n", 3, "--timeout", "200ms", s.url())
        check(errors_only(o, "timeout", 3), "accept queue full: 3 connect timeouts, then exit")
        o = ends("-c", 2, "-n", 4, "-R", 50, "--timeout", "200ms", s.url())
        check(errors_only(o, "timeout", 4), "accept queue full, -R 50: 4 connect timeouts")

    with lgtest.BadServer("stall", 19163) as s:
        o = ends("-c", 1, "-n", 2, "--timeout", "200ms", s.url().replace("http:", "https:"))
        e = o["errors"]
        check(o["requests"] == 0 and e["total"] == 2 and e["timeout"] + e["tls"] == 2,
              "https to a server that never speaks TLS: 2 handshake failures, then exit")

    with lgtest.BadServer("ok", 19163) as s:
        o = ends("-c", 3, "-n", 50, s.url())
        check(o["requests"] == 50 and o["errors"]["total"] == 0,
              "a healthy server: exactly 50 requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
