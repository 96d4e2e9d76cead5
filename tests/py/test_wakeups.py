"""The servers' wake-ups: loadgen's counts into the window records
(records/windows.py) and the wake-up model of the work control's expected
reading (analysis/wakeups.py), in the calibration table and summary.json."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))

from sblib.analysis import calibration as cal  # noqa: E402
from sblib.analysis import results as rs  # noqa: E402
from sblib.analysis import wakeups as wk  # noqa: E402
from sblib.commands import report as report_cmd  # noqa: E402
from sblib.records import windows as win  # noqa: E402
from sblib.records.model import run_problem  # noqa: E402
from tests.py import sbfixture  # noqa: E402

CAL = "calibration-work-2us"
META = {"slice": 0, "round": "w1", "rep": 1, "window": 1, "mode": "keepalive",
        "start": 1.0, "duration_s": 0.3, "warmup_s": 0.1}


def target(reqs, cgroups, wakeups=True):
    """A loadgen target: CGROUPS [(path, usec, voluntary, nonvoluntary)]."""
    t = {"requests": reqs, "rps": reqs / 0.3, "duration_s": 0.3, "errors": {"total": 0},
         "latency_us": {"p50": 100.0},
         "server_cpu": {"usec": sum(c[1] for c in cgroups),
                        "cgroups": [{"path": p, "usec": u} for p, u, *_ in cgroups]},
         "server_wakeups": None}
    if wakeups:
        for c, (_, _, v, n) in zip(t["server_cpu"]["cgroups"], cgroups):
            c.update(voluntary=v, nonvoluntary=n)
        t["server_wakeups"] = {"voluntary": sum(c[2] for c in cgroups),
                               "nonvoluntary": sum(c[3] for c in cgroups)}
    return t


class Records(unittest.TestCase):
    def test_per_request_of_the_own_cgroups(self):
        # a proxied pair: the backend's threads are the directive's unit's
        js = {"targets": [target(1000, [("/b0", 20000, 120, 3), ("/n0", 30000, 900, 40)]),
                          target(500, [("/b1", 11000, 75, 5), ("/n1", 15000, 450, 9)])]}
        recs = win.records(js, [("p/baseline", "p", {"/b0"}), ("p/x", "p", {"/b1"})], META)
        self.assertEqual([r["wakeups_per_req"] for r in recs], [0.12, 0.15])
        self.assertEqual([r["preempt_per_req"] for r in recs], [0.003, 0.01])
        self.assertTrue(all(run_problem(r) is None for r in recs))

    def test_all_of_a_target_when_none_is_its_own(self):
        js = {"targets": [target(1000, [("/a", 20000, 300, 10)]),
                          target(1000, [("/b", 20000, 100, 0)])]}
        recs = win.records(js, [("d/baseline", "d", set()), ("d/x", "d", set())], META)
        self.assertEqual([r["wakeups_per_req"] for r in recs], [0.3, 0.1])

    def test_absent_wakeups_leave_the_cpu_figure(self):
        js = {"targets": [target(1000, [("/a", 20000, 0, 0)], wakeups=False),
                          target(1000, [("/b", 21000, 0, 0)], wakeups=False)]}
        recs = win.records(js, [("d/baseline", "d", {"/a"}), ("d/x", "d", {"/b"})], META)
        self.assertEqual([r["status"] for r in recs], ["ok", "ok"])
        self.assertEqual(recs[1]["cpu_ns_per_req"], 21000.0)
        self.assertTrue(all("wakeups_per_req" not in r for r in recs))
        # a negative count is a damaged record
        self.assertIn("wakeups_per_req", run_problem(dict(recs[0], wakeups_per_req=-1.0)))


def res_of(c, other, w, dw, work=2000.0, windows=8, wakeups=True):
    """Noise-free windows of drop's baseline and the work control: per mode
    the baseline wakes W[mode] (+ a per-window wobble) times a request and
    spends OTHER + C per wake-up; the control wakes DW[mode] more per
    request and spends WORK more."""
    variants = [{"id": "drop/baseline", "server": "drop", "role": "baseline", "directives": []},
                {"id": f"drop/{CAL}", "server": "drop", "role": "variant",
                 "directives": [CAL]}]
    runs = []
    for mode in ("keepalive", "rate"):
        for k in range(windows):
            wb = w[mode] * (1.0 + 0.02 * (k % 5 - 2))
            for vid, wv, extra in (("drop/baseline", wb, 0.0),
                                   (f"drop/{CAL}", wb + dw[mode], work)):
                r = {"variant": vid, "server": "drop", "mode": mode, "phase": win.PHASE,
                     "status": "ok", "round": f"{mode}{k}", "epoch": k % 2,
                     "requests": 10000, "cpu_ns_per_req": other + extra + c * wv}
                if wakeups:
                    r["wakeups_per_req"] = wv
                runs.append(r)
    return {"spec": {"variants": variants, "seed": 3}, "variants": {}, "runs": runs}


class Model(unittest.TestCase):
    W = {"keepalive": 0.08, "rate": 1.10}

    def test_c_from_the_two_regimes(self):
        res = res_of(c=6000.0, other=4000.0, w=self.W, dw={"keepalive": -0.05, "rate": -0.01})
        c, draws, why = wk.wake_cost(res, "drop", resamples=200)
        self.assertIsNone(why)
        self.assertAlmostEqual(c, 6000.0, places=6)
        # every window lies on the line: every resample reads the same c
        self.assertAlmostEqual(float(draws.min()), 6000.0, places=3)
        self.assertAlmostEqual(float(draws.max()), 6000.0, places=3)

    def test_expected_is_the_work_plus_c_times_dw(self):
        res = res_of(c=6000.0, other=4000.0, w=self.W, dw={"keepalive": -0.05, "rate": -0.01})
        sat = wk.model(res, "drop", "keepalive", f"drop/{CAL}", 2000.0, resamples=200)
        self.assertAlmostEqual(sat["dw"], -0.05, places=9)
        self.assertAlmostEqual(sat["expected"], 2000.0 - 300.0, places=3)
        self.assertAlmostEqual(sat["lo"], 1700.0, places=2)
        self.assertAlmostEqual(sat["hi"], 1700.0, places=2)
        self.assertAlmostEqual(sat["w_base"], 0.08, delta=0.0016)   # its windows wobble
        self.assertEqual(sat["n"], 8)
        fixed = wk.model(res, "drop", "rate", f"drop/{CAL}", 2000.0, resamples=200)
        self.assertAlmostEqual(fixed["expected"], 2000.0 - 60.0, places=3)
        # a control that wakes more reads more
        up = res_of(c=6000.0, other=4000.0, w=self.W, dw={"keepalive": 0.02, "rate": 0.0})
        self.assertAlmostEqual(wk.model(up, "drop", "keepalive", f"drop/{CAL}", 2000.0,
                                        resamples=200)["expected"], 2120.0, places=3)

    def test_slope_within_a_regime(self):
        # every baseline window on the line: the slope is c, whatever the wobble
        res = res_of(c=6000.0, other=4000.0, w=self.W, dw={"keepalive": -0.05, "rate": -0.01})
        self.assertAlmostEqual(wk.slope_within(res, "drop", "keepalive")[0], 6000.0, places=3)
        # one window the machine disturbed does not move the median slope
        base = [r for r in res["runs"] if r["variant"] == "drop/baseline"
                and r["mode"] == "keepalive"]
        base[0]["cpu_ns_per_req"] *= 3
        self.assertAlmostEqual(wk.slope_within(res, "drop", "keepalive")[0], 6000.0, places=3)
        m = wk.model(res, "drop", "keepalive", f"drop/{CAL}", 2000.0, resamples=200)
        self.assertAlmostEqual(m["expected_within"], 2000.0 + m["c_within"] * m["dw"],
                               places=6)
        # wake-ups that never differ: no slope
        for r in base:
            r["wakeups_per_req"] = 0.1
        self.assertIsNone(wk.slope_within(res, "drop", "keepalive")[0])

    def test_intervals_hold_the_point_when_windows_scatter(self):
        res = res_of(c=6000.0, other=4000.0, w=self.W, dw={"keepalive": -0.05, "rate": -0.01})
        for k, r in enumerate(res["runs"]):
            if r["variant"].endswith(CAL):
                r["wakeups_per_req"] += 0.004 * ((k * 7) % 5 - 2)
        m = wk.model(res, "drop", "keepalive", f"drop/{CAL}", 2000.0, resamples=400)
        self.assertLess(m["lo"], m["expected"])
        self.assertGreater(m["hi"], m["expected"])
        self.assertLessEqual(m["dw_lo"], m["dw"])
        self.assertGreaterEqual(m["dw_hi"], m["dw"])

    def test_agrees(self):
        m = {"expected": 1700.0, "lo": 1650.0, "hi": 1750.0}
        self.assertEqual(wk.agrees(m, 1400.0, 1200.0, 1800.0), "yes")   # point in measured
        self.assertEqual(wk.agrees(m, 1720.0, 1719.0, 1721.0), "yes")   # measured in model
        self.assertEqual(wk.agrees(m, 1300.0, 1200.0, 1400.0), "no")

    def test_no_wakeups_no_model(self):
        res = res_of(c=6000.0, other=4000.0, w=self.W, dw={"keepalive": -0.05, "rate": 0.0},
                     wakeups=False)
        self.assertIsNone(wk.model(res, "drop", "keepalive", f"drop/{CAL}", 2000.0))

    def test_one_regime_only_says_why(self):
        res = res_of(c=6000.0, other=4000.0, w=self.W, dw={"keepalive": -0.05, "rate": 0.0})
        res["runs"] = [r for r in res["runs"] if r["mode"] == "keepalive"]
        m = wk.model(res, "drop", "keepalive", f"drop/{CAL}", 2000.0)
        self.assertNotIn("expected", m)
        self.assertIn("fixed-load", m["why"])


class Centres(unittest.TestCase):
    """stats.resampled_centres: the one window draw, several columns at once."""

    def test_columns_are_drawn_from_the_same_windows(self):
        from sblib.analysis import stats as st
        a = [1.0, 5.0, 2.0, 9.0, 4.0, 7.0, 3.0, 8.0]
        b = [2 * x + 1 for x in a]
        da, db = st.resampled_centres([a, b], seed=11, clusters=[0, 0, 1, 1, 2, 2, 3, 3],
                                      resamples=300)
        self.assertEqual(len(da), 300)
        # the interquartile mean is affine: the same windows give 2a + 1 exactly
        self.assertTrue(all(abs(y - (2 * x + 1)) < 1e-9 for x, y in zip(da, db)))
        self.assertGreater(float(da.max()), float(da.min()))
        again = st.resampled_centres([a], seed=11, clusters=[0, 0, 1, 1, 2, 2, 3, 3],
                                     resamples=300)[0]
        self.assertTrue((again == da).all())   # the seed alone decides
        with self.assertRaises(ValueError):
            st.resampled_centres([a, b[:3]], seed=1)


class Report(unittest.TestCase):
    """The calibration table and summary.json, with and without wake-ups."""

    def make(self, tmp, wake):
        return sbfixture.make_duet_results(
            os.path.join(tmp, "r"), {CAL: {"keepalive": 1.05, "rate": 1.10}}, windows=16,
            epochs=4, drift=0.05, modes=("keepalive", "rate"),
            expect={CAL: {"metric": "cpu_ns_per_req", "delta": 2000}}, wake=wake)

    def test_the_model_in_the_table(self):
        wake = {"c": 5000.0, "w": {"keepalive": 0.1, "rate": 1.0},
                "dw": {CAL: {"keepalive": -0.06, "rate": -0.01}}}
        with tempfile.TemporaryDirectory() as tmp:
            d = self.make(tmp, wake)
            res = rs.load(d)
            rows = {c["mode"]: c for c in cal.calibration(res, rs.analyse(res, resamples=400))}
            m = rows["keepalive"]["model"]
            # c from the baseline's regimes: within its drift of 5000
            self.assertAlmostEqual(m["c"], 5000.0, delta=600)
            self.assertAlmostEqual(m["dw"], -0.06, delta=0.002)
            self.assertAlmostEqual(m["expected"], 2000.0 + m["c"] * m["dw"], places=6)
            self.assertIn(m["agrees"], ("yes", "no"))
            self.assertEqual(sbfixture.run_main(report_cmd.main, [d, "--no-plots"])[0], 0)
            with open(os.path.join(d, "report.md")) as f:
                md = f.read()
            self.assertIn("expected by the wake-up model [95%]", md)
            self.assertRegex(md, r"\| \+1,\d{3} ns \[\+1,\d{3}, \+1,\d{3}\] \| [\d,]+ "
                                 r"\[[\d,]+, [\d,]+\] \| -0\.06\d\d ")
            # the fixture's baseline wakes alike in every window: no slope within
            self.assertIsNone(m["c_within"])
            self.assertNotIn("within this regime", md)
            self.assertIn("The wake-up model, measured in this run", md)
            self.assertRegex(md, r"\*\*Calibration\*\*: .*; the wake-up model's expected "
                                 r"reading (agrees|\*\*does not agree\*\*) on drop ")

    def test_old_results_keep_todays_table(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = self.make(tmp, None)
            res = rs.load(d)
            rows = cal.calibration(res, rs.analyse(res, resamples=400))
            self.assertTrue(rows and all("model" not in c for c in rows))
            self.assertEqual(sbfixture.run_main(report_cmd.main, [d, "--no-plots"])[0], 0)
            with open(os.path.join(d, "report.md")) as f:
                md = f.read()
            self.assertNotIn("wake-up model", md)
            self.assertIn("| agrees with the expected |", md)


if __name__ == "__main__":
    unittest.main()
