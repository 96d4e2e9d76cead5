"""sandbench trend: the change-point method on crafted series, and the
command on crafted results directories with a known step."""
import json
import os
import random
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))
from sblib.analysis import trend as tr  # noqa: E402
from sblib.commands import trend  # noqa: E402
import sbfixture  # noqa: E402


class StudentT(unittest.TestCase):
    def test_two_sided_p_matches_tables(self):
        # t_{0.975} of 1, 10 and 30 degrees of freedom, t_{0.9995} of 10
        for t, df, p in ((12.706, 1, 0.05), (2.228, 10, 0.05), (2.042, 30, 0.05),
                         (4.587, 10, 0.001)):
            self.assertAlmostEqual(tr.t_sf2(t, df), p, delta=p * 0.01)
        self.assertEqual(tr.t_sf2(0.0, 5), 1.0)


class ChangePoints(unittest.TestCase):
    def test_known_step_is_found_where_it_is(self):
        rng = random.Random(3)
        xs = [rng.gauss(0.02, 0.005) for _ in range(10)] + \
             [rng.gauss(0.10, 0.005) for _ in range(7)]
        cps = tr.change_points(xs)
        self.assertEqual([c["index"] for c in cps], [10])
        self.assertAlmostEqual(cps[0]["after"] - cps[0]["before"], 0.08, delta=0.01)
        self.assertLess(cps[0]["p"], 0.001)

    def test_two_steps(self):
        rng = random.Random(4)
        xs = [rng.gauss(0.0, 0.004) for _ in range(8)] + \
             [rng.gauss(0.05, 0.004) for _ in range(8)] + \
             [rng.gauss(0.01, 0.004) for _ in range(8)]
        self.assertEqual([c["index"] for c in tr.change_points(xs)], [8, 16])

    def test_no_step_no_change_point(self):
        for seed in range(40):
            rng = random.Random(seed)
            xs = [rng.gauss(0.03, 0.01) for _ in range(16)]
            self.assertEqual(tr.change_points(xs), [], seed)

    def test_a_step_within_the_sets_own_precision_is_not_named(self):
        # sets that agree closely by chance, a step of 0.2% where each set
        # knows its cost to +-2%: no change point
        xs = [0.010, 0.0101, 0.0099, 0.0100, 0.012, 0.0121, 0.0119, 0.0120]
        self.assertTrue(tr.change_points(xs))
        self.assertEqual(tr.change_points(xs, se=[0.01] * len(xs)), [])
        # and below --min-change
        self.assertEqual(tr.change_points(xs, min_change=0.005), [])


class Command(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-trend-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def make(self, k, mult, kernel, cpu="Test CPU"):
        costs = {"private-tmp-yes": (1.0, 9.2, "ok"), "system-call-filter": (mult, 8.2, "ok")}
        d = sbfixture.make_results(os.path.join(self.dir, f"{cpu[:4]}-{k:02d}"), seed=100 + k,
                                   costs=costs, rounds=6, drift=0.0)
        for name, key, value in (("env.json", "kernel", kernel), ("env.json", "cpu_model", cpu),
                                 ("spec.json", "created", f"2026-12-{k + 1:02d}T00:00:00Z")):
            with open(os.path.join(d, name)) as f:
                obj = json.load(f)
            obj[key] = value
            with open(os.path.join(d, name), "w") as f:
                json.dump(obj, f)
        return d

    def run_trend(self, sets, *extra):
        # given newest first: trend orders them by time
        return sbfixture.run_main(trend.main, list(reversed(sets)) + ["--resamples", "300"]
                                  + list(extra))

    def test_step_with_a_kernel_is_named_with_its_set(self):
        sets = [self.make(k, 1.04 if k < 5 else 1.14, "6.1" if k < 5 else "6.2")
                for k in range(9)]
        # another machine kind, no step: its own series
        other = [self.make(k, 1.04, "6.1" if k < 5 else "6.2", cpu="Other CPU")
                 for k in range(6)]
        rc, out, err = self.run_trend(sets + other)
        self.assertEqual(rc, 1, out + err)
        changes = [l for l in out.splitlines() if l.startswith("CHANGE:")]
        self.assertEqual(len(changes), 1, out)
        self.assertRegex(changes[0], r"CHANGE: drop/system-call-filter keepalive cost "
                                     r"\+[34]\.\d% -> \+1[345]\.\d% at .*Test-05 .*"
                                     r"kernel 6\.1 -> 6\.2")
        self.assertIn("machine kind: Other CPU, 2 cores, nspawn: 6 set(s)", out)
        rc, out, _ = self.run_trend(sets, "--json")
        data = json.loads(out)
        self.assertEqual(data["schema"], "sandbench-trend/1")
        self.assertEqual([c["set"] for c in data["kinds"][0]["changes"]], [sets[5]])

    def test_no_step_exits_0(self):
        sets = [self.make(k, 1.04, "6.1") for k in range(8)]
        rc, out, _ = self.run_trend(sets)
        self.assertEqual(rc, 0, out)
        self.assertIn("no change point", out)

    def test_too_few_sets_is_not_no_change_point(self):
        # one set said "no change point" and exit 0
        one = self.make(0, 1.04, "6.1")
        rc, out, _ = self.run_trend([one])
        self.assertEqual(rc, 5, out)
        self.assertNotIn("no change point", out)
        self.assertIn("too few sets to call a change point: a series needs at least 4 "
                      "(2 x --min-sets 2), this kind has 1", out)
        self.assertIn("nothing could be called: too few sets", out)
        self.assertEqual(self.run_trend([one], "--allow-empty")[0], 0)
        rc, out, _ = self.run_trend([one], "--json")
        self.assertTrue(json.loads(out)["kinds"][0]["too_few"])

    def test_unreadable_sets_skipped_with_a_note(self):
        sets = [self.make(k, 1.04, "6.1") for k in range(5)]
        empty = os.path.join(self.dir, "empty")
        os.mkdir(empty)
        broken = os.path.join(self.dir, "broken")
        shutil.copytree(sets[0], broken)
        with open(os.path.join(broken, "runs.jsonl"), "a") as f:
            f.write("{not json\n")
        rc, out, err = self.run_trend(sets + [empty, broken])
        self.assertEqual(rc, 0, out + err)
        self.assertIn(f"skipped {empty}: {empty}: no results set here", out)
        self.assertRegex(out, rf"skipped {broken}: .*runs.jsonl:\d+: not valid JSON")
        self.assertIn("5 set(s)", out)
        # nothing readable at all is bad input
        rc, _, err = self.run_trend([empty])
        self.assertEqual(rc, 2)
        self.assertIn("no results set here", err)

    def test_sets_without_env_json(self):
        # printed "machine kind: None None None None"
        sets = [self.make(k, 1.04, "6.1") for k in range(4)]
        for d in sets:
            os.unlink(os.path.join(d, "env.json"))
        rc, out, _ = self.run_trend(sets)
        self.assertNotIn("None None", out)
        self.assertIn("machine kind: unknown machine (no env.json): 4 set(s)", out)

    def test_start_up_sets_make_series(self):
        top = os.path.join(os.path.dirname(__file__), "..", "..", "results", "published")
        src = os.path.join(top, "debian12-2core-vm-2026-12-mounts")
        if not os.path.isdir(src):
            self.skipTest("no published start-up set")
        sets = []
        for k in range(4):
            d = os.path.join(self.dir, f"mounts-{k}")
            shutil.copytree(src, d)
            with open(os.path.join(d, "startup-spec.json")) as f:
                spec = json.load(f)
            spec["created"] = f"2026-12-0{k + 1}T00:00:00Z"
            with open(os.path.join(d, "startup-spec.json"), "w") as f:
                json.dump(spec, f)
            sets.append(d)
        rc, out, err = self.run_trend(sets + [os.path.join(top, "seccomp")])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("4 set(s), 23 series", out)
        self.assertIn("no cost stepped (23 of 23 series had 4 sets or more)", out)
        self.assertIn("a syscost (seccomp) set: no cost series", out)

    def test_json_convention(self):
        sets = [self.make(k, 1.04, "6.1") for k in range(4)]
        js = os.path.join(self.dir, "t.json")
        rc, out, err = self.run_trend(sets, "--json-out", js)
        self.assertIn("no change point", out)
        with open(js) as f:
            self.assertEqual(json.load(f)["schema"], "sandbench-trend/1")
        rc, out, err = self.run_trend(sets, "--format", "json")
        self.assertEqual(json.loads(out)["schema"], "sandbench-trend/1")
        self.assertIn("--format json is now --json", err)

    def test_bad_input(self):
        self.assertEqual(sbfixture.run_main(trend.main, [os.path.join(self.dir, "x")])[0], 2)
        self.assertEqual(sbfixture.run_main(trend.main, [])[0], 2)
        self.assertEqual(sbfixture.run_main(trend.main, ["--help"])[0], 0)


if __name__ == "__main__":
    unittest.main()
