#!/usr/bin/python3
# timeout: 120
"""Description: connection churn against a real nginx. --close opens one
TCP (and TLS) connection per request with a full handshake, --resume really
resumes TLS sessions; both checked on loadgen's side and on nginx's
($connection and $ssl_session_reused in the access log)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import lgtest  # noqa: E402
from lgtest import check  # noqa: E402

N = 400


def main():
    # tickets and the cache on: --close must still do full handshakes
    with lgtest.Nginx(19110, 19111, ssl_extra="ssl_session_cache shared:lg:1m;") as ng:
        for tls in (False, True):
            name = "https" if tls else "http"
            ng.truncate_log()
            o, _ = lgtest.run_loadgen("--close", "-c", 4, "-n", N, ng.url(tls))
            check(o["mode"] == "close", name + ": mode close")
            check(o["requests"] == N and o["errors"]["total"] == 0, name + ": %d requests" % N)
            check(o["connections_opened"] == N, name + ": one connection per request (loadgen)")
            log = ng.access_lines()
            check(len(log) == N and len({l[0] for l in log}) == N,
                  name + ": nginx saw %d requests on %d connections" % (N, N))
            check(o["connect_us"]["count"] == N, name + ": every connect timed")
            if tls:
                check(o["handshakes"] == {"full": N, "resumed": 0}, "https --close: all full")
                check(all(l[1] == "." for l in log), "nginx: no session was reused")
                check(o["handshake_us"]["count"] == N, "every handshake timed")

        ng.truncate_log()
        o, _ = lgtest.run_loadgen("--resume", "-c", 4, "-n", N, ng.url(True))
        check(o["mode"] == "resume" and o["requests"] == N, "--resume: %d requests" % N)
        hs = o["handshakes"]
        check(hs["full"] + hs["resumed"] == N, "every connection did one handshake")
        # only the first connection of each slot has no ticket yet
        check(hs["resumed"] >= N - 8, "--resume resumed %d of %d" % (hs["resumed"], N))
        log = ng.access_lines()
        reused = sum(1 for l in log if l[1] == "r")
        check(reused == hs["resumed"], "nginx agrees: %d reused sessions" % reused)
        check(len({l[0] for l in log}) == N, "nginx: one connection per request")

    # without tickets and cache nothing can resume, and loadgen says so
    with lgtest.Nginx(19110, 19111,
                      ssl_extra="ssl_session_tickets off; ssl_session_cache off;") as ng:
        o, _ = lgtest.run_loadgen("--resume", "-c", 2, "-n", 50, ng.url(True))
        check(o["handshakes"] == {"full": 50, "resumed": 0},
              "--resume against a server without tickets: all full, none claimed resumed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
