"""sandbench compare on crafted results directories of known answer."""
import json
import os
import shutil
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))
from sblib.analysis import compare as cmp  # noqa: E402
from sblib.commands import compare  # noqa: E402
import sbfixture  # noqa: E402


def run(argv):
    if "--help" not in argv:
        argv = argv + ["--resamples", "500"]
    return sbfixture.run_main(compare.main, argv)


class Compare(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-compare-")
        self.base = sbfixture.make_results(os.path.join(self.dir, "base"), seed=1,
                                           modes=("keepalive", "close"), drift=0.0)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def dearer(self):
        """A run where system-call-filter costs 15% where BASE's cost 4%."""
        costs = dict(sbfixture.DEFAULT_COSTS)
        costs["system-call-filter"] = (1.15, 8.2, "ok")
        return sbfixture.make_results(self.path("dear"), seed=3, costs=costs,
                                      modes=("keepalive", "close"))

    def test_no_regression_exits_0(self):
        same = sbfixture.make_results(self.path("same"), seed=2, modes=("keepalive", "close"),
                                      drift=0.0)
        rc, out, err = run([self.base, same])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("no regression", out)

    def test_a_different_stack_is_named(self):
        other = sbfixture.make_results(self.path("stack"), seed=2, modes=("keepalive", "close"),
                                       drift=0.0)
        env_path = os.path.join(other, "env.json")
        with open(env_path) as f:
            env = json.load(f)
        env.update(kernel="6.12.9-test", spec_store_bypass="Mitigation; SSB disabled via prctl")
        with open(env_path, "w") as f:
            json.dump(env, f)
        rc, out, err = run([self.base, other])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("BASE and NEW ran on different stacks (kernel 6.1.0-test -> 6.12.9-test; "
                      "spec_store_bypass None -> Mitigation; SSB disabled via prctl)", out)
        rc, out, err = run([self.base, self.base])
        self.assertNotIn("different stacks", out)

    def test_cpu_regression_exits_1(self):
        # every slice of the new run costs 10% more CPU per request: the
        # machine, not a directive; the default gate does not look
        slower = sbfixture.make_results(self.path("slower"), seed=2, drift=0.0,
                                        modes=("keepalive", "close"), base_cpu=44000.0)
        rc, out, _ = run([self.base, slower])
        self.assertEqual(rc, 0, out)
        rc, out, _ = run([self.base, slower, "--absolute", "--threshold", "5"])
        self.assertEqual(rc, 1)
        line = next(l for l in out.splitlines() if l.startswith("REGRESSION: drop/baseline ")
                    and "CPU per request" in l and "keepalive" in l)
        self.assertRegex(line, r"\+(9|10|11)\.\d% \[\+\d+\.\d%, \+\d+\.\d%\]")
        # the same 10% is no regression against a 15% threshold
        self.assertEqual(run([self.base, slower, "--absolute", "--threshold", "15"])[0], 0)

    def test_default_ignores_absolute_tails(self):
        # "drop/baseline p99.9 +116%" across runs: tails move with the machine
        tails = self.path("tails")
        shutil.copytree(self.base, tails)
        runs = read_runs(tails)
        for r in runs:
            r["latency_us"]["p99.9"] *= 2.16
            r["latency_us"]["p99"] *= 1.8
        write_runs(tails, runs)
        rc, out, _ = run([self.base, tails])
        self.assertEqual(rc, 0, out)
        self.assertNotIn("p99", out)
        rc, out, _ = run([self.base, tails, "--absolute", "--metrics", "p99.9"])
        self.assertEqual(rc, 1)
        self.assertRegex(out, r"REGRESSION: drop/baseline keepalive latency p99.9 .*\+1[01]\d\.\d%")

    def test_dearer_directive_is_a_cost_regression(self):
        dear = self.dearer()
        res = cmp.compare_paths(self.base, dear, 0.05, resamples=500)
        regs = {(r["kind"], r["variant"], r["metric"]) for r in res["regressions"]}
        self.assertIn(("cost", "drop/system-call-filter", "cpu_ns_per_req"), regs)
        self.assertNotIn(("cost", "drop/private-tmp-yes", "cpu_ns_per_req"), regs)
        row = next(r for r in res["costs"] if r["mode"] == "keepalive"
                   and r["variant"] == "drop/system-call-filter"
                   and r["metric"] == "cpu_ns_per_req")
        self.assertAlmostEqual(row["change"], 1.15 / 1.04, delta=0.03)
        self.assertLess(row["lo"], 1.15 / 1.04)
        self.assertGreater(row["hi"], 1.15 / 1.04)
        self.assertEqual(res["exit"], cmp.REGRESSION)

    def test_exposure_rise_is_a_regression(self):
        worse = sbfixture.make_results(self.path("expo"), seed=1, modes=("keepalive", "close"),
                                       drift=0.0,
                                       exposure_override={"drop/private-tmp-yes": 9.5})
        rc, out, _ = run([self.base, worse])
        self.assertEqual(rc, 1)
        self.assertIn("REGRESSION: drop/private-tmp-yes - exposure rose 9.2 -> 9.5", out)

    def test_variant_that_stopped_working_is_a_regression(self):
        costs = dict(sbfixture.DEFAULT_COSTS)
        costs["private-tmp-yes"] = (1.0, 9.2, "incompatible")
        broke = sbfixture.make_results(self.path("broke"), seed=1, costs=costs, drift=0.0,
                                       modes=("keepalive", "close"))
        rc, out, _ = run([self.base, broke])
        self.assertEqual(rc, 1)
        self.assertIn("REGRESSION: drop/private-tmp-yes - worked in BASE, incompatible in NEW",
                      out)
        # named once, as compatibility, not also as lost coverage
        self.assertNotIn("LOST", out)

    def test_lost_coverage_fails(self):
        # `compare FULL CALIBRATION` passed with 198 of 210 variants gone
        few = sbfixture.make_results(self.path("few"), seed=2, drift=0.0,
                                     modes=("keepalive", "close"),
                                     costs={"private-tmp-yes": (1.0, 9.2, "ok")})
        rc, out, _ = run([self.base, few, "--threshold", "50"])
        self.assertEqual(rc, 1, out)
        self.assertIn("LOST COVERAGE", out)
        self.assertIn("drop/protect-system-strict keepalive", out)
        self.assertIn("not in NEW", out)
        self.assertIn("drop/private-network-yes -", out)  # its compatibility check is gone
        rc, out, _ = run([self.base, few, "--allow-missing"])
        self.assertEqual(rc, 0, out)
        self.assertIn("lost coverage (allowed)", out)
        # a mode of BASE not measured in NEW
        ka = sbfixture.make_results(self.path("ka"), seed=2, drift=0.0, modes=("keepalive",))
        rc, out, _ = run([self.base, ka])
        self.assertEqual(rc, 1)
        self.assertRegex(out, r"4 mode close not measured in NEW: .*drop/private-tmp-yes close")

    def test_variant_whose_slices_all_failed_is_lost(self):
        failed = self.path("failed")
        shutil.copytree(self.base, failed)
        runs = read_runs(failed)
        for r in runs:
            if r["variant"] == "drop/private-tmp-yes":
                r["status"] = "error"
        write_runs(failed, runs)
        rc, out, _ = run([self.base, failed])
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"all 8 slice\(s\) failed: drop/private-tmp-yes keepalive, "
                              r"drop/private-tmp-yes close")
        # every slice failed, or none written at all: everything is lost
        for r in runs:
            r["status"] = "error"
        write_runs(failed, runs)
        rc, out, _ = run([self.base, failed])
        self.assertEqual(rc, 1, out)
        self.assertIn("LOST COVERAGE: 8 of what BASE measured", out)
        write_runs(failed, [])
        self.assertEqual(run([self.base, failed])[0], 1)

    def test_incomplete_new_is_named_and_not_gated(self):
        part = self.path("part")
        shutil.copytree(self.base, part)
        runs = read_runs(part)
        # stopped half-way, before it reached one directive
        write_runs(part, [r for r in runs[:len(runs) // 2]
                          if r["variant"] != "drop/system-call-filter"])
        with open(os.path.join(part, "status.json"), "w") as f:
            json.dump({"state": "interrupted", "runs_done": len(runs) // 2,
                       "runs_planned": len(runs)}, f)
        rc, out, _ = run([self.base, part])
        self.assertEqual(rc, cmp.INCOMPLETE)
        self.assertIn("NEW is not complete: state 'interrupted', 40 of 80 records", out)
        # gated on request: what it did not reach is lost
        rc, out, _ = run([self.base, part, "--allow-incomplete"])
        self.assertEqual(rc, 1, out)
        self.assertIn("LOST COVERAGE: 2", out)
        self.assertIn("drop/system-call-filter keepalive", out)
        rc, out, _ = run([self.base, part, "--allow-incomplete", "--allow-missing"])
        self.assertEqual(rc, 0, out)

    def calibrated(self, name, seed, base_cpu, control_mult, quota_mult=1.0):
        costs = dict(sbfixture.DEFAULT_COSTS)
        costs["calibration-work-2us"] = (control_mult, 9.6, "ok")
        costs["cpu-quota-50"] = (quota_mult, 9.6, "ok")
        d = sbfixture.make_results(self.path(name), seed=seed, costs=costs, drift=0.0,
                                   base_cpu=base_cpu, modes=("keepalive",), rounds=10)
        with open(os.path.join(d, "spec.json")) as f:
            spec = json.load(f)
        spec["expect"] = {"calibration-work-2us": {"metric": "cpu_ns_per_req", "delta": 2000.0}}
        with open(os.path.join(d, "spec.json"), "w") as f:
            json.dump(spec, f)
        return d

    def test_calibration_controls_never_count(self):
        # +2 us on 40 us, then on a machine where the baseline costs 10 us:
        # the control's cost relative to its baseline quadruples, by design
        base = self.calibrated("cal-a", 1, 40000.0, 1.05, quota_mult=1.0)
        new = self.calibrated("cal-b", 2, 10000.0, 1.20, quota_mult=1.3)
        rc, out, _ = run([base, new])
        self.assertEqual(rc, 0, out)
        self.assertNotIn("REGRESSION", out)
        self.assertRegex(out, r"drop/calibration-work-2us keepalive: \+2,\d{3} ns \[.*\] against "
                              r"\+2,000 ns: agrees")
        self.assertIn("controls whose cost moved (by design, not gated)", out)
        self.assertIn("drop/cpu-quota-50", out)

    def test_calibration_that_disagrees_is_invalid(self):
        base = self.calibrated("cal-a", 1, 40000.0, 1.05)
        # NEW's control reads +6 us: neither its known +2 us nor what BASE read
        new = self.calibrated("cal-c", 2, 40000.0, 1.15)
        rc, out, _ = run([base, new])
        self.assertEqual(rc, cmp.INVALID, out)
        self.assertIn("INVALID: calibration drop/calibration-work-2us keepalive: NEW measures "
                      "+6,", out)
        self.assertIn("DISAGREES", out)
        # a control that misses its answer as BASE's did (a pipeline that gives
        # some of the work back) is the method behaving as in the reference
        half = self.calibrated("cal-h", 1, 40000.0, 1.025)
        half2 = self.calibrated("cal-h2", 2, 40000.0, 1.025)
        rc, out, _ = run([half, half2])
        self.assertEqual(rc, 0, out)
        self.assertIn("as in BASE", out)

    def test_metrics_option_limits_the_gate(self):
        dear = self.dearer()
        self.assertEqual(run([self.base, dear, "--metrics", "rps"])[0], 1)
        self.assertEqual(run([self.base, dear, "--metrics", "nonsense"])[0], 2)
        self.assertEqual(run([self.base, dear, "--metrics", "startup_ms"])[0], 2)

    def test_bad_input_exits_2(self):
        rc, _, err = run([self.base, self.path("missing")])
        self.assertEqual(rc, 2)
        self.assertIn("not a directory", err)
        empty = self.path("empty")
        os.mkdir(empty)
        rc, _, err = run([self.base, empty])
        self.assertEqual(rc, 2)
        self.assertIn("no results set here", err)
        bad = self.path("bad")
        shutil.copytree(self.base, bad)
        with open(os.path.join(bad, "runs.jsonl"), "a") as f:
            f.write("{not json\n")
        rc, _, err = run([self.base, bad])
        self.assertEqual(rc, 2)
        self.assertIn("runs.jsonl", err)
        with open(os.path.join(bad, "spec.json"), "w") as f:
            f.write("[1, 2]")
        self.assertEqual(run([self.base, bad])[0], 2)
        self.assertEqual(run([self.base])[0], 2)
        self.assertEqual(run([self.base, self.base, "--threshold", "-1"])[0], 2)
        self.assertEqual(run([self.base, self.base, "--format", "yaml"])[0], 2)
        self.assertEqual(run([self.base, self.base, "--format", "json", "--format", "junit"])[0],
                         2)
        # nothing measured in BASE: nothing to gate against
        nothing = self.path("nothing")
        shutil.copytree(self.base, nothing)
        write_runs(nothing, [])
        rc, _, err = run([nothing, self.base])
        self.assertEqual(rc, 2)
        self.assertIn("nothing to gate against", err)
        rc, out, _ = run(["--help"])
        self.assertEqual(rc, 0)
        for code in range(5):
            self.assertRegex(out, rf"(?m)^  {code} +\w")

    def test_formats(self):
        dear = self.dearer()
        js, xml, md = self.path("cmp.json"), self.path("cmp.xml"), self.path("cmp.md")
        rc, out, err = run([self.base, dear, "--format", "json:-", "--format", "junit:" + xml,
                            "--format", "markdown:" + md])
        self.assertEqual(rc, 1)
        data = json.loads(out)  # standard output holds the JSON and nothing else
        self.assertEqual(data["schema"], "sandbench-compare/1")
        self.assertEqual(data["exit"], 1)
        self.assertTrue(data["regressions"])
        # one list: every regression is a row that says so, every other row does not
        keys = {(r["variant"], r["mode"], r["metric"]) for r in data["regressions"]}
        for r in data["costs"]:
            self.assertEqual((r["variant"], r["mode"], r["metric"]) in keys,
                             r["verdict"] == "worse" and not r["control"])
        self.assertFalse(os.path.exists("-"))
        root = ET.parse(xml).getroot()
        failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
        self.assertEqual(sorted(failed), ["drop/system-call-filter close",
                                          "drop/system-call-filter keepalive"])
        self.assertEqual(root.get("failures"), "2")
        with open(md) as f:
            text = f.read()
        self.assertTrue(text.startswith("### sandbench compare: ❌ FAIL"))
        self.assertIn("| `drop/system-call-filter` | keepalive | cost CPU per request", text)
        # the old --json FILE still works
        run([self.base, self.base, "--json", js])
        with open(js) as f:
            self.assertEqual(json.load(f)["regressions"], [])

    def test_github_annotations(self):
        dear = self.dearer()
        os.environ["GITHUB_ACTIONS"] = "true"
        try:
            _, out, err = run([self.base, dear])
        finally:
            del os.environ["GITHUB_ACTIONS"]
        self.assertIn("::error title=sandbench regression: drop/system-call-filter keepalive::"
                      "cost CPU per request", err)
        self.assertNotIn("::error", out)
        self.assertNotIn("::error", run([self.base, dear])[2])

    def test_reuses_the_sets_own_analysis(self):
        from sblib.report import core as report
        res = compare.rs.load(self.base)
        analysis = compare.rs.analyse(res, resamples=500)
        with open(os.path.join(self.base, "analysis.json"), "w") as f:
            json.dump(report.analysis_json(analysis), f, default=str)
        rc, out, _ = run([self.base, self.base])
        self.assertEqual(rc, 0)
        self.assertIn("BASE: " + self.base + " (complete, 80 records; analysis.json;", out)
        self.assertIn("--reanalyse", compare.parse_args([self.base, self.base]).__repr__()
                      .replace("reanalyse=False", "--reanalyse"))
        self.assertIn("analysed here", run([self.base, self.base, "--reanalyse"])[1])
        # another slice makes it another analysis
        runs = read_runs(self.base)
        runs[0]["cpu_ns_per_req"] *= 1.01
        write_runs(self.base, runs)
        self.assertIn("BASE: " + self.base + " (complete, 80 records; analysed here;",
                      run([self.base, self.base])[1])


PUBLISHED = os.path.join(os.path.dirname(__file__), "..", "..", "results", "published")


class NotComparable(unittest.TestCase):
    """No change is called from fewer than 3 samples or a zero-width
    interval: such comparisons are counted apart, never regressions."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-compare-nc-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_one_isolated_slice_is_never_a_regression(self):
        # compare FULL DUET: 133 throughput "regressions" whose NEW interval
        # had zero width, one isolated slice per variant. Now a windowed set's
        # costs all come from its windows (the one isolated slice is a level),
        # and here every window's two sides served the same requests at the
        # same p99: a ratio of exactly 1, an interval of zero width
        costs = {"private-tmp-yes": (1.0, 9.6, "ok"), "protect-system-strict": (1.10, 9.6, "ok"),
                 "system-call-filter": (1.04, 9.6, "ok")}
        base = sbfixture.make_results(os.path.join(self.dir, "base"), seed=1, costs=costs,
                                      drift=0.0)
        new = sbfixture.make_duet_results(os.path.join(self.dir, "duet"), seed=5,
                                          costs={d: c[0] for d, c in costs.items()},
                                          isolated_rounds=1)
        res = cmp.compare_paths(base, new, 0.05, resamples=300)
        for m in ("rps", "p99"):
            rows = [r for r in res["costs"] if r["metric"] == m]
            self.assertEqual(len(rows), 3)
            for r in rows:
                self.assertEqual((r["verdict"], r["why"], r["new_n"]),
                                 ("not comparable", "no interval", 12))
                self.assertIsNone(r["change"])
        self.assertEqual([x for x in res["regressions"] if x.get("metric") != "cpu_ns_per_req"],
                         [])
        self.assertEqual(res["counts"]["not_comparable"], 6)   # the A/A control is not a cost
        rc, out, _ = run([base, new, "-v"])
        self.assertEqual(rc, 0, out)
        self.assertNotIn("REGRESSION", out)
        self.assertIn("note: throughput measured by isolated in BASE, by duet in NEW", out)
        self.assertRegex(out, r"summary: \d+ compared, 0 regression\(s\), \d+ improvement\(s\), "
                              r"\d+ unchanged at the 5% threshold, 6 not comparable "
                              r"\(n<3 / no interval\)")
        # benchstat-like rows: each side's cost with its interval and n, p
        head = next(l for l in out.splitlines() if l.startswith("variant "))
        self.assertRegex(head, r"BASE cost +n +NEW cost +n +change +95% interval +p +verdict")
        row = next(l for l in out.splitlines() if l.startswith("drop/protect-system-strict")
                   and " rps " in l)
        self.assertRegex(row, r"[-+]\d+\.\d% ±\d+\.\d% +8 +[-+]\d+\.\d% ±0\.0% +12 +- +- +- +"
                              r"not comparable \(no interval\)")
        row = next(l for l in out.splitlines() if l.startswith("drop/protect-system-strict")
                   and " cpu_ns_per_req " in l)
        self.assertRegex(row, r" 8 .* 12 .*\] +\d\.\d+(e-\d+)? +~")

    def test_zero_width_interval_is_not_comparable(self):
        wide = {"ratio": 1.02, "lo": 1.0, "hi": 1.04, "n_base": 12, "n_new": 12}
        flat = {"ratio": 1.30, "lo": 1.30, "hi": 1.30, "n_base": 12, "n_new": 12}
        self.assertIsNone(cmp.why_not(wide))
        self.assertEqual(cmp.why_not(wide, flat), "no interval")
        self.assertEqual(cmp.why_not(dict(wide, n_new=2)), "n<3")
        row = cmp.cost_row("drop/x", "keepalive", "cpu_ns_per_req", wide, flat, 0.05, False)
        self.assertEqual((row["verdict"], row["comparable"], row["significant"]),
                         ("not comparable", False, False))
        row = cmp.cost_row("drop/x", "keepalive", "cpu_ns_per_req", wide,
                           dict(wide, ratio=1.3, lo=1.25, hi=1.35), 0.05, False)
        self.assertEqual(row["verdict"], "worse")
        self.assertLess(row["p"], 0.001)
        # p read off the interval: below 0.05 exactly when it leaves out 1
        self.assertAlmostEqual(cmp.p_of_interval(1.1, 1.0, 1.2), 0.05, delta=0.002)

    def test_nothing_comparable_exits_5_unless_allowed(self):
        a = sbfixture.make_results(os.path.join(self.dir, "a"), seed=1, rounds=2)
        b = sbfixture.make_results(os.path.join(self.dir, "b"), seed=2, rounds=2)
        rc, out, _ = run([a, b])
        self.assertEqual(rc, cmp.EMPTY, out)
        self.assertTrue(out.startswith("EMPTY: nothing compared ("), out)
        rc, out, _ = run([a, b, "--allow-empty"])
        self.assertEqual(rc, 0, out)
        self.assertIn("PASS: nothing compared (--allow-empty)", out)
        rc, out, _ = run([a, b, "--json"])
        self.assertEqual((rc, json.loads(out)["counts"]["compared"]), (cmp.EMPTY, 0))

    def test_threshold_message_says_the_range(self):
        base = sbfixture.make_results(os.path.join(self.dir, "a"), seed=1)
        for bad in ("1000", "-1", "nan", "inf"):
            rc, out, err = run([base, base, "--threshold", bad])
            self.assertEqual((rc, out), (2, ""), bad)
            self.assertIn("want a percentage from 0 up to (not including) 1000", err)
            self.assertIn("gates nothing", err)
            self.assertNotIn(">= 0", err)
        self.assertEqual(run([base, base, "--threshold", "999"])[0], 0)

    @unittest.skipUnless(os.path.isdir(PUBLISHED), "no published sets")
    def test_published_full_against_duet(self):
        full = os.path.join(PUBLISHED, "debian12-2core-vm-2026-11-full")
        duet = os.path.join(PUBLISHED, "debian12-2core-vm-2026-12-duet")
        # as published (their analysis.json is of the default resamples)
        rc, out, err = sbfixture.run_main(compare.main, [full, duet, "--json"])
        data = json.loads(out)
        for r in data["regressions"]:
            if r["kind"] == "cost":
                self.assertGreaterEqual(min(r["base_n"], r["new_n"]), cmp.MIN_N, r)
                self.assertLess(r["new_lo"], r["new_hi"], r)
        # the duet set's req/s and latency costs are its windows' ratios (12
        # a variant), no longer one isolated slice a side: all comparable
        rps = [r for r in data["costs"] if r["metric"] == "rps"]
        self.assertGreater(len(rps), 300)
        self.assertTrue(all(r["new_n"] >= 12 and r["comparable"] for r in rps))
        self.assertFalse([r for r in data["regressions"] if r.get("metric") == "rps"])


class SenderPart(unittest.TestCase):
    """The sender part of CPU per request (the load generator thread's, where
    loopback's softirq lands) gates like the server's: a move beyond both
    runs' intervals is a regression, one within them is not."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-compare-sender-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def make(self, name, seed, sender):
        return sbfixture.make_duet_results(os.path.join(self.dir, name), seed=seed,
                                           costs={"x": 1.0, "y": 1.0}, sender=sender,
                                           windows=16, epochs=4)

    def test_a_sender_regression_is_gated(self):
        base = self.make("base", 1, {"x": 1.0, "y": 1.0})
        new = self.make("new", 2, {"x": 1.05, "y": 1.0})
        res = cmp.compare_paths(base, new, 0.0, resamples=500)
        rows = {(r["variant"], r["metric"]): r for r in res["costs"]}
        x = rows[("drop/x", "loadgen_cpu_ns_per_req")]
        self.assertEqual(x["verdict"], "worse")
        self.assertAlmostEqual(x["change"], 1.05, delta=0.015)
        self.assertEqual(rows[("drop/y", "loadgen_cpu_ns_per_req")]["verdict"], "~")
        self.assertEqual(rows[("drop/x", "cpu_ns_per_req")]["verdict"], "~")
        self.assertEqual([(r["variant"], r["metric"]) for r in res["regressions"]],
                         [("drop/x", "loadgen_cpu_ns_per_req")])
        rc, out, _ = run([base, new])
        self.assertEqual(rc, cmp.REGRESSION, out)
        self.assertRegex(out, r"drop/x .*sender CPU per request")

    def test_a_set_without_it_compares_the_rest(self):
        new = self.make("new", 2, {"x": 1.05, "y": 1.0})
        for base in (self.make("base", 1, None),         # one ring: no sender part
                     sbfixture.make_results(os.path.join(self.dir, "iso"), seed=1, drift=0.0,
                                            costs={"x": (1.0, 9.6, "ok"),
                                                   "y": (1.0, 9.6, "ok")})):
            res = cmp.compare_paths(base, new, 0.0, resamples=300)
            self.assertNotIn("loadgen_cpu_ns_per_req", {r["metric"] for r in res["costs"]})
            self.assertEqual([r for r in res["regressions"] if r.get("metric") != "cpu_ns_per_req"],
                             [])
            # no note that BASE measured the sender part otherwise: it did not measure it
            self.assertEqual([n for n in res["notes"] if "sender" in n], [])
        self.assertTrue(any(n.startswith("CPU per request measured by isolated in BASE")
                            for n in res["notes"]), res["notes"])


class StartupSets(unittest.TestCase):
    """Start-up sets compared as start-up: each directive's change to its
    baseline, moved from BASE to NEW."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-compare-su-")
        src = os.path.join(PUBLISHED, "debian12-2core-vm-2026-12-mounts")
        if not os.path.isdir(src):
            self.skipTest("no published start-up set")
        self.base = os.path.join(self.dir, "base")
        shutil.copytree(src, self.base)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_startup_sets_compare_startup(self):
        rc, out, err = run([self.base, self.base, "-v"])
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("spec.json: missing", err)
        self.assertIn("start-up set", out)
        self.assertRegex(out, r"summary: 2\d compared, 0 regression")
        self.assertRegex(out, r"drop/private-tmp-yes +start @1000 mounts total_ms")
        # NEW's PrivateTmp= start-up at 1000 mounts costs twice as much
        new = os.path.join(self.dir, "new")
        shutil.copytree(self.base, new)
        path = os.path.join(new, "startup.json")
        with open(path) as f:
            doc = json.load(f)
        c = doc["groups"][0]["costs"]["1000"]["drop/private-tmp-yes"]["total_ms"]
        for k in ("pct", "pct_lo", "pct_hi"):
            c[k] = (100 + c[k]) * 2 - 100
        with open(path, "w") as f:
            json.dump(doc, f)
        rc, out, _ = run([self.base, new])
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"REGRESSION: drop/private-tmp-yes start @1000 mounts cost "
                              r"start-up \+\d+\.\d% -> \+\d+\.\d%: \+\d+\.\d% .*\(n 8 -> 8, p ")

    def test_sets_of_different_kinds_are_bad_input(self):
        run_set = sbfixture.make_results(os.path.join(self.dir, "run"), seed=1)
        rc, _, err = run([self.base, run_set])
        self.assertEqual(rc, 2)
        self.assertIn("is a start-up set, NEW", err)
        self.assertIn("is a run set: compare sets of one kind", err)

    def test_every_published_set_against_itself(self):
        for d in sorted(os.listdir(PUBLISHED)):
            path = os.path.join(PUBLISHED, d)
            if not os.path.isdir(path):
                continue
            with self.subTest(set=d):
                rc, out, err = sbfixture.run_main(compare.main, [path, path, "--allow-empty"])
                self.assertEqual(rc, 0, out + err)
                self.assertNotIn("missing", err)


def read_runs(path):
    with open(os.path.join(path, "runs.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip()]


def write_runs(path, runs):
    with open(os.path.join(path, "runs.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in runs)


if __name__ == "__main__":
    unittest.main()
