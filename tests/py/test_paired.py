"""Every cost from paired windows: req/s, p50, p99 (and p99.9 where a
window holds enough requests) are per-window ratios against the baseline
loaded at the same moment, with the same seeded, epoch-clustered bootstrap
as CPU per request. Crafted windows of known ratio: the machine's speed
moves by up to 25% from window to window (common to both sides), each side
has 1% noise of its own, and the isolated slices disagree wildly (they give
levels, never a cost)."""
import json
import math
import os
import random
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))

from sblib.analysis import results as rs  # noqa: E402
from sblib.analysis import stats as st  # noqa: E402
from sblib.report import core as report  # noqa: E402
import sbfixture  # noqa: E402

# variant: (req/s, p50, p99, p99.9) multipliers against the baseline
TRUTH = {"x": (0.95, 1.05, 1.10, 1.20), "y": (1.0, 1.0, 1.0, 1.0)}
BASE = {"rps": 16000.0, "p50": 300.0, "p99": 1500.0, "p99.9": 3000.0}
METRICS = ("rps", "p50", "p99", "p99.9")


def craft(path, requests=5000, windows=24, epochs=4, noise=0.01, seed=3, drop=None,
          aa_copies=1):
    """A duet set (sbfixture.make_duet_results) whose windows' req/s and
    latency are rewritten to known ratios (TRUTH) under a common machine
    speed; its isolated slices read the variants at twice and half the
    baseline's req/s. DROP: {variant: windows to keep}. Returns (path,
    {(window, variant): {metric: value}} as written)."""
    sbfixture.make_duet_results(path, costs={k: 1.0 for k in TRUTH}, windows=windows,
                                epochs=epochs, seed=seed, aa_copies=aa_copies)
    fn = os.path.join(path, "runs.jsonl")
    with open(fn, encoding="utf-8") as f:
        runs = [json.loads(line) for line in f]
    rng = random.Random(seed)
    speed = {}
    written = {}
    gone = set()
    for name, keep in (drop or {}).items():
        ws = list(dict.fromkeys(r["round"] for r in runs if r["variant"] == f"drop/{name}"
                                and r.get("phase") == "duet"))
        gone |= set(ws[keep:])
    out = []
    for r in runs:
        name = r["variant"].split("/")[1]
        if r.get("phase") != "duet":
            if name in TRUTH:
                r["rps"] = BASE["rps"] * (2.0 if name == "x" else 0.5)
            out.append(r)
            continue
        w = r["round"]
        if w in gone:
            continue
        s = speed.setdefault(w, 1.0 + 0.25 * rng.uniform(-1, 1))
        mult = TRUTH.get(name, (1.0,) * 4)
        vals = {"rps": BASE["rps"] * s * mult[0] * rng.gauss(1.0, noise)}
        for k, m in zip(("p50", "p99", "p99.9"), mult[1:]):
            vals[k] = BASE[k] / s * m * rng.gauss(1.0, noise)
        r["rps"], r["requests"] = vals["rps"], requests
        r["latency_us"] = {"p50": vals["p50"], "p99": vals["p99"], "p99.9": vals["p99.9"]}
        written[(w, r["variant"])] = vals
        out.append(r)
    with open(fn, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in out)
    return path, written


def window_ratios(written, vid, metric):
    """Per window, VID's value over the baseline's in that window."""
    return [v[metric] / written[(w, "drop/baseline")][metric]
            for (w, x), v in written.items() if x == vid and (w, "drop/baseline") in written]


class KnownRatios(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path, cls.written = craft(os.path.join(cls.tmp.name, "r"))
        cls.res = rs.load(cls.path)
        cls.a = rs.analyse(cls.res, resamples=1000)
        cls.g = cls.a["groups"][0]
        cls.rows = {r["variant"]: r["cmp"] for r in cls.g["rows"]}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_cost_is_the_centre_of_the_per_window_ratios(self):
        for vid in ("drop/x", "drop/y", "drop/baseline-aa"):
            for m in ("rps", "p50", "p99"):
                c = self.rows[vid][m]
                self.assertEqual(self.g["methods"][m], "duet")
                self.assertTrue(c["paired"])
                self.assertEqual((c["n_base"], c["n_new"]), (24, 24), (vid, m))
                # exactly the interquartile mean of that variant's window ratios
                self.assertAlmostEqual(c["ratio"], st.center(window_ratios(self.written, vid, m)),
                                       places=9, msg=(vid, m))

    def test_intervals_hold_the_truth_and_are_as_narrow_as_the_windows(self):
        for k, m in enumerate(("rps", "p50", "p99")):
            x, y = self.rows["drop/x"][m], self.rows["drop/y"][m]
            self.assertTrue(x["lo"] < TRUTH["x"][k] < x["hi"], (m, x))
            self.assertTrue(y["lo"] < 1.0 < y["hi"], (m, y))
            self.assertEqual(x["verdict"], "worse", m)   # fewer req/s, slower answers
            # the window ratios scatter by sqrt(2) x 1%: a 95% half-width near
            # 1.96 x 1.41% / sqrt(24) = 0.57%, not the 25% the machine drifted
            logs = [math.log(r) for r in window_ratios(self.written, "drop/x", m)]
            sd = (sum((v - sum(logs) / len(logs)) ** 2 for v in logs) / (len(logs) - 1)) ** 0.5
            half = (x["hi"] - x["lo"]) / 2 / x["ratio"]
            self.assertLess(half, 2.5 * 1.96 * sd / math.sqrt(len(logs)), m)
            self.assertGreater(half, 0.5 * 1.96 * sd / math.sqrt(len(logs)), m)
            self.assertLess(half, 0.015, m)

    def test_seeded(self):
        again = rs.analyse(rs.load(self.path), resamples=1000)
        c0 = self.rows["drop/x"]["p99"]
        c1 = {r["variant"]: r["cmp"] for r in again["groups"][0]["rows"]}["drop/x"]["p99"]
        self.assertEqual((c0["lo"], c0["hi"]), (c1["lo"], c1["hi"]))

    def test_floors_per_metric_from_the_aa_windows(self):
        for m in ("cpu_ns_per_req", "rps", "p50", "p99"):
            f = self.g["floors"][m]
            self.assertIsNotNone(f, m)
            self.assertLess(f, 0.02, m)
        self.assertIsNone(self.g["floors"].get("p99.9"))   # 5,000 requests: too few

    def test_p999_needs_ten_thousand_requests_a_side(self):
        self.assertEqual(rs.min_requests("p99.9"), 10000)
        self.assertEqual(rs.min_requests("p99"), 1000)
        self.assertEqual(rs.min_requests("p50"), 20)
        self.assertNotIn("p99.9", self.rows["drop/x"])
        self.assertIn("10,000 requests a side for p99.9, the most held 5,000",
                      self.g["why"]["p99.9"])
        with tempfile.TemporaryDirectory() as tmp:
            path, written = craft(os.path.join(tmp, "big"), requests=12000)
            a = rs.analyse(rs.load(path), resamples=500)
            c = {r["variant"]: r["cmp"] for r in a["groups"][0]["rows"]}["drop/x"]["p99.9"]
            self.assertAlmostEqual(c["ratio"], st.center(window_ratios(written, "drop/x",
                                                                       "p99.9")), places=9)
            self.assertTrue(c["lo"] < 1.2 < c["hi"], c)

    def test_isolated_slices_give_levels_not_costs(self):
        # x's isolated slice read twice the baseline's req/s: no cost from it
        self.assertLess(self.rows["drop/x"]["rps"]["ratio"], 1.0)
        self.assertEqual(self.g["levels"]["rps"]["n"], 2)   # the baseline's, alone
        rows = {r["variant"]: r for r in rs.summary(self.res, self.a)}
        self.assertAlmostEqual(rows["drop/x"]["rps_alone"], 2 * BASE["rps"])
        self.assertAlmostEqual(rows["drop/x"]["rps_change"], self.rows["drop/x"]["rps"]["ratio"]
                               - 1.0)
        self.assertEqual(rows["drop/x"]["p50_method"], "duet")
        aa = rs.summary_aa(self.a)[0]
        self.assertEqual(aa["floors"]["p99"], self.g["floors"]["p99"])

    def test_report_tables_and_verdict(self):
        md = "\n".join(str(b) for b in report.build(self.res, self.a, {}))
        self.assertRegex(md, r"'drop', 'keepalive', 'req/s', 'duet', '`x` -5\.\d% \[")
        self.assertRegex(md, r"'drop', 'keepalive', 'p99 latency', 'duet', '`x` \+\d+\.\d% \[")
        self.assertIn("**absolute levels only**", md)


    def test_trend_and_gate_take_the_paired_costs(self):
        from sblib.analysis import compare as cmp
        from sblib.analysis import trend
        self.assertIn("p99", trend.TREND_METRICS)
        self.assertEqual(cmp.COST_METRICS,
                         ["cpu_ns_per_req", "loadgen_cpu_ns_per_req", "rps", "p50", "p99"])
        side = {"res": self.res, "path": self.path, "kinds": ["run"]}
        for m in ("rps", "p99"):
            pts = trend.series([(side, self.a)], m)[("drop", "keepalive", "drop/x", m)]
            c = self.rows["drop/x"][m]
            self.assertAlmostEqual(pts[0][1], math.log(c["ratio"]))
            self.assertGreater(pts[0][2], 0)


class Honesty(unittest.TestCase):
    def test_aa_copies_are_seldom_called(self):
        # 20 copies of the baseline, 12 windows in 4 epochs (make bench's
        # plan): 95% intervals and p < 0.05 call about 1 in 20 by chance
        called = {m: 0 for m in ("rps", "p50", "p99")}
        with tempfile.TemporaryDirectory() as tmp:
            for seed in (1, 2, 3):
                path, _ = craft(os.path.join(tmp, str(seed)), windows=12, seed=seed,
                                aa_copies=20)
                a = rs.analyse(rs.load(path), resamples=500)
                rows = [r for r in a["groups"][0]["rows"] if "baseline-aa" in r["variant"]]
                self.assertEqual(len(rows), 20)
                for m in called:
                    called[m] += sum(r["cmp"][m]["significant"] for r in rows)
        for m, k in called.items():
            self.assertLessEqual(k, 9, (m, called))    # of 60: 3 a run at most


class TooFew(unittest.TestCase):
    def test_no_cost_from_fewer_than_three_windows(self):
        with tempfile.TemporaryDirectory() as tmp:
            path, _ = craft(os.path.join(tmp, "r"), drop={"x": 2})
            res = rs.load(path)
            a = rs.analyse(res, resamples=300)
            c = {r["variant"]: r["cmp"] for r in a["groups"][0]["rows"]}["drop/x"]["rps"]
            self.assertEqual(c["n_new"], 2)
            self.assertEqual((c["verdict"], c["why_not"]), ("~", "n<3"))
            row = {r["variant"]: r for r in rs.summary(res, a)}["drop/x"]
            self.assertEqual(row["rps_why"], "n<3")
            self.assertNotIn("rps_change", row)
            md = "\n".join(str(b) for b in report.build(res, a, {}))
            self.assertIn("(n<3)", md)
            self.assertNotRegex(md, r"'req/s', 'duet', '`x`")


if __name__ == "__main__":
    unittest.main()
