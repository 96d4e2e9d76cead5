#!/usr/bin/python3
# timeout: 120
"""Description: loadgen against a real nginx, HTTP and HTTPS keep-alive:
the JSON contract holds, request counts add up (loadgen's count, the
status counts, the timeline and nginx's access log agree), pipelining and
threads work, and bad arguments exit 2."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import lgtest  # noqa: E402
from lgtest import check  # noqa: E402

HIST_KEYS = {"p50", "p90", "p99", "p99.9", "p99.99", "max", "mean", "stdev"}
TOP_KEYS = {"schema", "url", "mode", "connections", "threads", "rate", "duration_s", "requests",
            "rps", "bytes", "latency_us", "latency_uncorrected_us", "connect_us", "handshake_us",
            "errors", "status", "handshakes", "connections_opened", "timeline", "cpu",
            "interrupted"}


def contract(o):
    check(TOP_KEYS <= set(o), "every documented key is present")
    check(o["schema"] == "sandbench-loadgen/1", "schema name")
    for k in ("latency_us", "connect_us", "handshake_us"):
        check(HIST_KEYS <= set(o[k]), "%s has every percentile" % k)
    check(set(o["errors"]) >= {"connect", "tls", "timeout", "reset", "http_status", "parse",
                               "total"}, "error classes")
    check(o["errors"]["total"] == sum(v for k, v in o["errors"].items() if k != "total"),
          "errors.total is the sum of the classes")
    check(set(o["cpu"]) >= {"user_s", "sys_s"}, "cpu times")
    lat = o["latency_us"]
    check(lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["p99.99"] <= lat["max"],
          "percentiles are ordered")


def main():
    with lgtest.Nginx(19100, 19101) as ng:
        for tls in (False, True):
            name = "https" if tls else "http"
            # counts add up: -n N gives exactly N requests, all seen by nginx
            ng.truncate_log()
            o, _ = lgtest.run_loadgen("-c", 8, "-n", 3000, ng.url(tls))
            contract(o)
            check(o["mode"] == "closed" and o["rate"] is None, name + ": closed loop")
            check(o["requests"] == 3000, name + ": -n 3000 gives 3000 requests")
            check(o["status"] == {"200": 3000}, name + ": all 3000 answered 200")
            check(o["errors"]["total"] == 0, name + ": no errors")
            check(sum(o["timeline"]) == 3000, name + ": the timeline adds up")
            log = ng.access_lines()
            check(len(log) == 3000, name + ": nginx logged 3000 requests (got %d)" % len(log))
            conns = {l[0] for l in log}
            check(len(conns) == 8 and o["connections_opened"] == 8,
                  name + ": 8 keep-alive connections on both sides")
            if tls:
                check(o["handshakes"] == {"full": 8, "resumed": 0}, "https: 8 full handshakes")
                check(o["handshake_us"]["p50"] > 0, "https: handshake time measured")
            check(o["bytes"] >= 3000 * len("<h1>Soup</h1>\n"), name + ": bytes counted")

            # a timed run with two threads and pipelining
            o, wall = lgtest.run_loadgen("-c", 4, "-t", 2, "-d", "1", "--pipeline", 4,
                                         ng.url(tls))
            contract(o)
            check(o["threads"] == 2 and o["requests"] > 100, name + ": pipelined run answered")
            check(o["errors"]["total"] == 0, name + ": pipelined run without errors")
            check(0.9 < o["duration_s"] < 1.5 and wall < 5, name + ": -d 1 lasts about 1 s")
            check(len(o["timeline"]) == 1 and sum(o["timeline"]) == o["requests"],
                  name + ": one timeline second holding every request")

        # warm-up is not counted
        ng.truncate_log()
        o, _ = lgtest.run_loadgen("-c", 2, "-d", "0.5", "--warmup", "0.5", ng.url(False))
        log = ng.access_lines()
        check(len(log) > o["requests"] > 0, "warm-up requests reach nginx but are not counted")

        # non-2xx answers are counted as http_status errors
        o, _ = lgtest.run_loadgen("-c", 2, "-n", 50, ng.url(False, "/missing"))
        check(o["status"] == {"404": 50} and o["errors"]["http_status"] == 50,
              "404s counted as http_status errors")

    # bad arguments: a clear message and exit 2
    lg = lgtest.loadgen_bin()
    for args in (["-c", "0", "http://127.0.0.1:1/"], ["--bogus", "http://127.0.0.1:1/"],
                 ["ftp://x/"], [], ["-d", "abc", "http://127.0.0.1:1/"],
                 ["--close", "--resume", "https://127.0.0.1:1/"],
                 ["--resume", "http://127.0.0.1:1/"], ["-t", "4", "-c", "2", "http://h:1/"],
                 ["-R", "0", "http://127.0.0.1:1/"], ["-H", "NoColon", "http://127.0.0.1:1/"],
                 ["--pipeline", "2", "--close", "http://127.0.0.1:1/"]):
        p = subprocess.run([lg] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=10)
        check(p.returncode == 2 and p.stderr.startswith("loadgen: ") and not p.stdout,
              "bad arguments %r: exit 2 with a message" % args)
    p = subprocess.run([lg, "--help"], stdout=subprocess.PIPE, text=True, timeout=10)
    check(p.returncode == 0 and "--resume" in p.stdout and "--json" in p.stdout, "--help")
    return 0


if __name__ == "__main__":
    sys.exit(main())
