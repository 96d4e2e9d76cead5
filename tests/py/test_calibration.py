"""The quota control's expected reading in the capacity regime, worked out
from what the baseline's limited unit used alone (analysis/calibration.py)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))

from sblib.analysis import calibration as cal  # noqa: E402


def res_of(server, use, conns=None, share=None):
    """A results dict whose SERVER baseline used USE CPUs in 0.3 s capacity
    turns; SHARE: the limited unit's part of the server's CPU per request."""
    runs = []
    for k in range(5):
        r = {"variant": f"{server}/baseline", "mode": "capacity", "status": "ok",
             "duration_s": 0.3, "cpu_usec": int(use * 0.3e6) + k, "cpu_ns_per_req": 1000.0}
        if share is not None:
            r["cpu_ns_per_req_all"] = 1000.0 / share
        runs.append(r)
    spec = {"variants": [{"id": f"{server}/baseline", "server": server, "role": "baseline"}],
            "duet": {"capacity_connections": 64},
            "loadgen": {"connections_per_server": {server: conns or 16}}}
    return {"spec": spec, "runs": runs}


class Quota(unittest.TestCase):
    def test_quota_of_the_catalogue(self):
        self.assertEqual(cal.quota_of("cpu-quota-50"), 0.5)
        self.assertIsNone(cal.quota_of("private-tmp-yes"))
        self.assertIsNone(cal.quota_of("no-such-directive"))

    def test_one_unit_saturating_a_cpu_halves(self):
        want, why = cal.quota_expectation(res_of("drop", 1.0), "drop", 0.5)
        self.assertAlmostEqual(want, -50.0, places=1)
        self.assertIn("1.00 CPU", why)

    def test_a_unit_below_the_quota_is_not_limited(self):
        self.assertEqual(cal.quota_expectation(res_of("drop", 0.4), "drop", 0.5)[0], 0.0)
        # 0.8 CPU: the quota leaves 5/8 of it
        self.assertAlmostEqual(cal.quota_expectation(res_of("drop", 0.8), "drop", 0.5)[0],
                               -37.5, places=1)

    def test_per_connection_instances_each_get_the_quota(self):
        want, why = cal.quota_expectation(res_of("inetd", 1.0, conns=4), "inetd", 0.5)
        self.assertEqual(want, 0.0)
        self.assertIn("each of 4 instances", why)

    def test_a_unit_sharing_the_cpu_with_a_proxy_has_no_answer(self):
        want, why = cal.quota_expectation(res_of("proxied", 0.9, share=0.4), "proxied", 0.5)
        self.assertIsNone(want)
        self.assertIn("proxy", why)

    def test_no_capacity_turn_no_answer(self):
        res = res_of("drop", 1.0)
        res["runs"] = []
        self.assertIsNone(cal.quota_expectation(res, "drop", 0.5)[0])


if __name__ == "__main__":
    unittest.main()
