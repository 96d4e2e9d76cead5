#!/usr/bin/python3
# timeout: 180
"""Description: errors are classified right, and a misbehaving server never
hangs or crashes loadgen: refused connects, resets, a server that never
answers (timeouts, the run still ends on time), garbage (parse), non-2xx
(http_status), TLS spoken to a plain-HTTP port (tls), and SIGINT (results so
far, "interrupted": true). "On time" is read from the run's own measured
window; the wall-clock bounds only catch a hang (a loaded machine cannot
reach them: each is many times the run's length)."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import lgtest  # noqa: E402
from lgtest import check  # noqa: E402


def only(o, cls):
    """All errors are of class cls, and there are some."""
    e = o["errors"]
    others = {k: v for k, v in e.items() if k not in (cls, "total") and v}
    return e[cls] > 0 and not others


def main():
    with lgtest.BadServer("refuse", 19120) as s:
        o, wall = lgtest.run_loadgen("-c", 2, "-d", "1", s.url())
        check(only(o, "connect") and o["requests"] == 0, "refused: connect errors only")
        check(o["duration_s"] <= 1.05 and wall < 20, "refused: the run ends on time")

    with lgtest.BadServer("reset", 19121) as s:
        o, _ = lgtest.run_loadgen("-c", 2, "-d", "1", s.url())
        check(only(o, "reset") and o["requests"] == 0, "reset: reset errors only")

    with lgtest.BadServer("stall", 19122) as s:
        o, wall = lgtest.run_loadgen("-c", 3, "-d", "2", "--timeout", "300ms", s.url())
        check(only(o, "timeout") and o["requests"] == 0, "stall: timeout errors only")
        check(o["errors"]["timeout"] >= 3 * 4, "stall: every connection timed out repeatedly")
        check(o["duration_s"] <= 2.05 and wall < 30,
              "stall: a hung server does not hang the run (%.1fs)" % wall)
        # -n with a hung server ends too: timed-out requests count as done
        o, wall = lgtest.run_loadgen("-c", 2, "-n", 4, "--timeout", "200ms", s.url())
        check(o["errors"]["timeout"] == 4 and wall < 30, "stall with -n 4: 4 timeouts, then exit")

    with lgtest.BadServer("garbage", 19123) as s:
        o, _ = lgtest.run_loadgen("-c", 2, "-d", "1", s.url())
        check(only(o, "parse") and o["requests"] == 0, "garbage: parse errors only")

    with lgtest.BadServer("stall-half", 19128, "4") as s:
        # 12 of 16 connections never get an answer: loadgen would sleep for 8
        # completions when only 4 can come, so without its adaptation every
        # sleep would last the full 1 ms (4000 requests/s at most)
        o, _ = lgtest.run_loadgen("-c", 16, "-d", "2", "--timeout", "10s", s.url())
        b = lgtest.run_loadgen("-c", 16, "-d", "2", "--timeout", "10s", "--no-batch", s.url())[0]
        print("stall 3 of 4: %.0f req/s batched, %.0f req/s unbatched" % (o["rps"], b["rps"]))
        # the 12 stuck connections wait longer than half of -d 2 (< --timeout):
        # at the end each reads as one timeout
        check(o["errors"]["total"] == o["errors"]["timeout"] == 12 and o["requests"] > 0,
              "stall 3 of 4: healthy ones answered, the 12 stuck ones end as timeouts")
        # without the adaptation: at most 4000 req/s, about 5% of unbatched;
        # a busy machine moves the two runs apart by up to 2.5x (seen at 0.39
        # in CI beside other work), so the bound sits between the two
        check(o["rps"] >= 0.2 * b["rps"], "stall 3 of 4: batching does not hold the healthy back")

    with lgtest.BadServer("status", 19124) as s:
        o, _ = lgtest.run_loadgen("-c", 2, "-n", 100, s.url())
        check(only(o, "http_status") and o["status"] == {"503": 100} and o["requests"] == 100,
              "503: counted as responses and as http_status errors")

    with lgtest.BadServer("ok", 19125) as s:
        # SIGINT: results so far, one JSON object, interrupted
        p = subprocess.Popen([lgtest.loadgen_bin(), "--json", "-c", "2", "-d", "30", s.url()],
                             stdout=subprocess.PIPE, text=True)
        time.sleep(1.5)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=10)
        o = json.loads(out)
        check(p.returncode == 0 and o["interrupted"] is True and o["requests"] > 0,
              "SIGINT: exit 0 with results so far")
        check(time.monotonic() - t0 < 8 and o["duration_s"] < 15,
              "SIGINT: stops long before -d 30")

    with lgtest.Nginx(19126, 19127) as ng:
        # TLS to a plain HTTP port: nginx answers 400 in clear text, the handshake fails
        o, _ = lgtest.run_loadgen("-c", 2, "-d", "1", "https://127.0.0.1:19126/")
        check(only(o, "tls") and o["error_detail"]["tls"], "TLS to plain HTTP: tls errors only")

        # --cacert: the right CA verifies, a wrong one fails in TLS
        ca = os.path.join(ng.dir, "cert", "cert.pem")
        o, _ = lgtest.run_loadgen("-c", 1, "-n", 10, "--cacert", ca, ng.url(True))
        check(o["requests"] == 10 and o["errors"]["total"] == 0, "--cacert with the right CA")
        other = lgtest.tempfile.mkdtemp(prefix="loadgen-ca-")
        subprocess.run([os.path.join(lgtest.TOP, "scripts", "mkcert"), other], check=True,
                       stdout=subprocess.DEVNULL)
        o, _ = lgtest.run_loadgen("-c", 1, "-d", "0.5", "--cacert",
                                  os.path.join(other, "cert.pem"), ng.url(True))
        lgtest.shutil.rmtree(other, ignore_errors=True)
        check(only(o, "tls") and "certificate" in o["error_detail"]["tls"],
              "--cacert with a wrong CA: tls errors (%s)" % o["error_detail"]["tls"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
