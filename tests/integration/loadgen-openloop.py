#!/usr/bin/python3
# timeout: 120
"""Description: open loop. The schedule holds the rate; a server that stalls
once for 500 ms shows in the corrected p99.9 (latency from the scheduled
time) and not in the uncorrected one (from the actual send): coordinated
omission is corrected, and the uncorrected figure shows what it hides."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import lgtest  # noqa: E402
from lgtest import check  # noqa: E402


def schedule_kept(o, rate, seconds):
    """The run issued rate x seconds requests: all are counted but those still
    in flight at its end, at most rate x the longest latency (which a loaded
    machine stretches, so the bound follows it instead of a fixed window)."""
    want = rate * seconds
    late = rate * o["latency_us"]["max"] / 1e6 + 2
    return want - late - 0.01 * want <= o["requests"] <= want + 0.01 * want


def main():
    with lgtest.BadServer("ok", 19130) as s:
        o, _ = lgtest.run_loadgen("-R", 500, "-c", 4, "-d", "2", s.url())
        check(o["mode"] == "open" and o["rate"] == 500, "open loop mode and rate")
        check(schedule_kept(o, 500, 2), "2 s at 500/s: about 1000 requests (%d, max latency %.0f us)"
              % (o["requests"], o["latency_us"]["max"]))
        check(all(230 <= t <= 270 for t in o["timeline"][:2]) or
              schedule_kept(dict(o, requests=sum(o["timeline"])), 500, 2),
              "the timeline follows the rate")
        check(o["latency_uncorrected_us"] is not None, "uncorrected latency reported")

    if lgtest.ipv6_loopback():
        with lgtest.BadServer("ok", 19132, ipv6=True) as s:
            o, _ = lgtest.run_loadgen("-R", 200, "-c", 2, "-d", "1", s.url())
            check(schedule_kept(o, 200, 1) and o["errors"]["total"] == 0, "IPv6 [::1] target")

    with lgtest.BadServer("stall-once", 19131, "2") as s:
        o, _ = lgtest.run_loadgen("-R", 2000, "-c", 2, "-d", "5", s.url())
        cor, unc = o["latency_us"], o["latency_uncorrected_us"]
        print("corrected p99.9 %.0f us, uncorrected p99.9 %.0f us, max %.0f us"
              % (cor["p99.9"], unc["p99.9"], unc["max"]))
        check(o["errors"]["total"] == 0 and o["requests"] > 9000, "the stall run completed")
        check(cor["p99.9"] >= 300000, "the 500 ms stall shows in the corrected p99.9")
        check(unc["p99.9"] < 100000, "and not in the uncorrected p99.9")
        check(unc["max"] >= 400000, "the uncorrected max still saw the stalled request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
