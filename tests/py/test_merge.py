"""sandbench merge on crafted results directories: rounds and epochs
renumbered one run after the other, each run a cluster of its own, start-up
pooled, the report written; and what it refuses."""
import json
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))
from sblib.analysis import results as rs  # noqa: E402
from sblib.analysis import compare as cmp  # noqa: E402
from sblib.analysis import reproduction as rp  # noqa: E402
from sblib.commands import merge  # noqa: E402
from sblib.analysis import merging  # noqa: E402
import sbfixture  # noqa: E402

COSTS = {"private-tmp-yes": (1.0, 9.2, "ok"), "protect-system-strict": (1.08, 8.9, "ok")}


def run(argv):
    return sbfixture.run_main(merge.main, argv)


def edit_json(path, fn):
    with open(path) as f:
        obj = json.load(f)
    fn(obj)
    with open(path, "w") as f:
        json.dump(obj, f)


class Merge(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-merge-")
        self.a = sbfixture.make_results(os.path.join(self.dir, "a"), rounds=6, seed=1, costs=COSTS)
        self.b = sbfixture.make_results(os.path.join(self.dir, "b"), rounds=6, seed=2, costs=COSTS)
        self.out = os.path.join(self.dir, "m")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_merged_run(self):
        rc, out, err = run([self.out, self.a, self.b, "--no-plots"])
        self.assertEqual(rc, 0, err)
        self.assertIn("12 rounds in 2 epochs", out)
        m = rs.load(self.out)
        self.assertEqual(len(m["runs"]), 2 * len(rs.load(self.a)["runs"]))
        self.assertEqual(sorted({r["round"] for r in m["runs"]}), list(range(12)))
        self.assertEqual({r["epoch"] for r in m["runs"] if r["round"] < 6}, {0})
        self.assertEqual({r["epoch"] for r in m["runs"] if r["round"] >= 6}, {1})
        self.assertEqual([r["slice"] for r in m["runs"]], list(range(len(m["runs"]))))
        self.assertEqual((m["spec"]["reps"], m["spec"]["epochs"]), (12, 2))
        self.assertEqual([x["seed"] for x in m["spec"]["merged"]], [1, 2])
        self.assertEqual(m["status"]["state"], "complete")
        # each run is a cluster of its own in the analysis; the cost is found
        a = rs.analyse(m, resamples=300)
        g = next(g for g in a["groups"] if g["mode"] == "keepalive")
        row = next(r for r in g["rows"] if r["variant"] == "drop/protect-system-strict")
        c = row["cmp"]["cpu_ns_per_req"]
        self.assertEqual((c["epochs"], c["n_new"]), (2, 12))
        self.assertAlmostEqual(c["ratio"], 1.08, delta=0.02)
        # start-up pooled: one sample per source
        v = m["variants"]["drop/baseline"]
        self.assertEqual(len(v["startup_ms_samples"]), 2)
        with open(os.path.join(self.out, "report.md")) as f:
            md = f.read()
        self.assertIn("12 repetitions", md)
        # the runs are weighted by their noise, which the report prints
        self.assertTrue(c.get("weighted"))
        self.assertRegex(md, r"Merged runs \(2\): every round is weighted .*drop keepalive "
                             r"±\d\.\d% / ±\d\.\d%")
        # a merged set is reproduced run by run, and says so
        with self.assertRaises(rs.ResultsError) as e:
            rp.rerun_argv(m["spec"], "x")
        self.assertIn("merged", str(e.exception))

    def test_published_sources_and_unknown_verdicts(self):
        from sblib.commands import publish
        pa = os.path.join(self.dir, "pa")
        self.assertEqual(sbfixture.run_main(publish.main, [self.a, pa, "--no-plots"])[0], 0)
        # run a could not tell PrivateTmp=, run b says yes: "could not tell"
        edit_json(os.path.join(pa, "variants.json"),
                  lambda v: v["drop/private-tmp-yes"]["applied"].update({"private-tmp-yes": None}))
        rc, _, err = run([self.out, pa, self.b, "--no-report"])
        self.assertEqual(rc, 0, err)
        self.assertNotIn("disagrees", err)      # no yes against no
        m = rs.load(self.out)
        self.assertIsNone(m["variants"]["drop/private-tmp-yes"]["applied"]["private-tmp-yes"])
        # the merged order is its own, not the published source's hash
        self.assertNotIn("order_sha256", m["spec"])
        self.assertEqual(len(m["spec"]["order"]), len(m["runs"]))
        # a slice re-measured after a fault is a record more, not another plan:
        # the merged order is the sources' planned orders, rounds offset
        src = [{"spec": {"reps": 2, "order": ["drop/a|keepalive|0", "drop/b|keepalive|1"]},
                "runs": [{"variant": "drop/a", "mode": "keepalive", "round": 0}] * 3},
               {"spec": {"reps": 2, "order": ["drop/b|keepalive|0", "drop/a|keepalive|1"]},
                "runs": []}]
        self.assertEqual(merging.merged_order(src),
                         ["drop/a|keepalive|0", "drop/b|keepalive|1",
                          "drop/b|keepalive|2", "drop/a|keepalive|3"])
        self.assertNotEqual(rs.order_digest(m["spec"]), rs.order_digest(rs.load(pa)["spec"]))

    def test_merged_set_extended(self):
        # a set merged before keeps its runs apart (weights, seeds, reproduce)
        c = sbfixture.make_results(os.path.join(self.dir, "c"), rounds=6, seed=3, costs=COSTS)
        ab = os.path.join(self.dir, "ab")
        self.assertEqual(run([ab, self.a, self.b, "--no-report"])[0], 0)
        rc, _, err = run([self.out, ab, c, "--no-report"])
        self.assertEqual(rc, 0, err)
        m = rs.load(self.out)
        self.assertEqual([x["seed"] for x in m["spec"]["merged"]], [1, 2, 3])
        self.assertEqual({r["run"] for r in m["runs"] if r["round"] >= 12}, {2})
        self.assertEqual({r["run"] for r in m["runs"] if r["round"] < 6}, {0})
        g = rs.analyse(m, resamples=50)["groups"][0]
        self.assertEqual(len(g["run_noise"]), 3)
        # a run with a seed already inside the set is refused
        shutil.rmtree(self.out)
        d = sbfixture.make_results(os.path.join(self.dir, "d"), rounds=6, seed=2, costs=COSTS)
        rc, _, err = run([self.out, ab, d, "--no-report"])
        self.assertEqual(rc, 2)
        self.assertIn("same seed 2", err)

    def test_no_report(self):
        rc, out, err = run([self.out, self.a, self.b, "--no-report"])
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(os.path.join(self.out, "report.md")))
        self.assertEqual(len(rs.load(self.out)["runs"]), 2 * len(rs.load(self.a)["runs"]))

    def test_evidence_that_differs(self):
        # the host changed between the runs: the second run enforced a
        # directive the first did not; the merged verdict is "no", with both
        edit_json(os.path.join(self.a, "variants.json"),
                  lambda v: v["drop/private-tmp-yes"]["applied"].update({"private-tmp-yes": False}))
        rc, _, err = run([self.out, self.a, self.b, "--no-plots"])
        self.assertEqual(rc, 0, err)
        self.assertIn("disagrees on 1 verdict", err)
        self.assertIn("drop/private-tmp-yes (private-tmp-yes)", err)
        v = rs.load(self.out)["variants"]
        self.assertIs(v["drop/private-tmp-yes"]["applied"]["private-tmp-yes"], False)
        self.assertEqual(v["drop/private-tmp-yes"]["applied_runs"]["private-tmp-yes"],
                         [False, True])
        self.assertIn("a no, b yes", v["drop/private-tmp-yes"]["applied_why"]["private-tmp-yes"])
        # runs that agree are left alone
        self.assertIs(v["drop/protect-system-strict"]["applied"]["protect-system-strict"], True)
        self.assertNotIn("applied_runs", v["drop/protect-system-strict"])
        with open(os.path.join(self.out, "report.md")) as f:
            self.assertIn("differs between the merged runs", f.read())

    def test_require_narrower(self):
        # a run as quiet as the set narrows it: written, and the lines say so
        rc, out, err = run([self.out, self.a, self.b, "--no-report", "--require-narrower"])
        self.assertEqual(rc, 0, err)
        line = next(x for x in out.splitlines() if x.startswith("drop keepalive: interval"))
        before, after = map(float, re.match(r".*interval ±([\d.]+)% -> ±([\d.]+)%", line).groups())
        self.assertLess(after, before)
        self.assertNotIn("WIDER", out)
        shutil.rmtree(self.out)
        # a run eight times noisier is weighted by its noise (1/64 of the
        # quiet run's weight): it no longer widens the set
        noisy = sbfixture.make_results(os.path.join(self.dir, "n"), rounds=6, seed=4,
                                       costs=COSTS, noise=0.08)
        rc, out, err = run([self.out, self.a, noisy, "--no-report"])
        self.assertEqual(rc, 0, err)
        line = next(x for x in out.splitlines() if x.startswith("drop keepalive: interval"))
        before, after = map(float, re.match(r".*interval ±([\d.]+)% -> ±([\d.]+)%", line).groups())
        self.assertLess(after, before * 1.1)
        g = next(g for g in rs.analyse(rs.load(self.out), resamples=200)["groups"])
        self.assertGreater(g["run_noise"][1], 4 * g["run_noise"][0])
        self.assertTrue(all(r["cmp"]["cpu_ns_per_req"].get("weighted") for r in g["rows"]))
        # pooled, as when a run is too short to know its noise (two rounds),
        # a noisy run widens it: nothing written, exit 1
        shutil.rmtree(self.out)
        noisy = sbfixture.make_results(os.path.join(self.dir, "n2"), rounds=2, seed=5,
                                       costs=COSTS, noise=0.08)
        rc, out, err = run([self.out, self.a, noisy, "--no-report", "--require-narrower"])
        self.assertEqual(rc, 1, err)
        self.assertIn("drop keepalive: interval", err)
        self.assertIn("WIDER", err)
        self.assertIn("(floor wider)", err)     # the A/A twin is as noisy: marked too
        self.assertIn("nothing written", err)
        self.assertFalse(os.path.exists(self.out))
        # without the flag the same merge is written, and still marked
        rc, out, err = run([self.out, self.a, noisy, "--no-report"])
        self.assertEqual(rc, 0, err)
        self.assertIn("WIDER", out)
        self.assertTrue(os.path.exists(os.path.join(self.out, "runs.jsonl")))

    def test_compare_weighs_a_merged_set_as_the_report_does(self):
        # a set with a run eight times noisier: the report's baseline level,
        # compare's directive costs and its noise floors are the weighted
        # figures analyse() gives its changes, not the pooled ones
        noisy = sbfixture.make_results(os.path.join(self.dir, "n"), rounds=6, seed=4,
                                       costs=COSTS, noise=0.08)
        rc, out, err = run([self.out, self.a, noisy, "--no-report"])
        self.assertEqual(rc, 0, err)
        m = rs.load(self.out)
        g = next(g for g in rs.analyse(m, resamples=200)["groups"] if g["mode"] == "keepalive")
        aa = g["rows"][0]["cmp"]["cpu_ns_per_req"]
        self.assertTrue(aa.get("weighted"))
        self.assertEqual(g["base_levels"]["cpu_ns_per_req"], aa["base"])
        vid = "drop/protect-system-strict"
        row = next(r for r in g["rows"] if r["variant"] == vid)["cmp"]["cpu_ns_per_req"]
        res = cmp.compare_paths(self.out, self.out, resamples=200)
        cost = next(r for r in res["costs"] if r["variant"] == vid
                    and r["mode"] == "keepalive" and r["metric"] == "cpu_ns_per_req")
        self.assertAlmostEqual(cost["base"], row["ratio"], places=12)
        self.assertEqual((cost["base_lo"], cost["base_hi"]), (row["lo"], row["hi"]))
        self.assertAlmostEqual(cost["change"], 1.0, places=12)
        # pooled (the run tags dropped) every one of them is another figure
        m = rs.load(self.out)
        for r in m["runs"]:
            r.pop("run", None)
        p = next(g for g in rs.analyse(m, resamples=200)["groups"] if g["mode"] == "keepalive")
        self.assertNotAlmostEqual(p["base_levels"]["cpu_ns_per_req"],
                                  g["base_levels"]["cpu_ns_per_req"], places=6)
        prow = next(r for r in p["rows"] if r["variant"] == vid)["cmp"]["cpu_ns_per_req"]
        self.assertNotAlmostEqual(prow["ratio"], row["ratio"], places=6)

    def test_refusals(self):
        self.assertEqual(run([self.out, self.a])[0], 2)            # one source
        self.assertEqual(run([self.out, self.a, self.a])[0], 2)    # same seed
        os.makedirs(self.out)
        self.assertEqual(run([self.out, self.a, self.b])[0], 2)    # OUT exists
        os.rmdir(self.out)
        self.assertEqual(run([self.out, self.a, os.path.join(self.dir, "nope")])[0], 2)
        c = sbfixture.make_results(os.path.join(self.dir, "c"), rounds=6, seed=3,
                                   costs={"private-tmp-yes": (1.0, 9.2, "ok")})
        rc, _, err = run([self.out, self.a, c])                     # other variants
        self.assertEqual(rc, 2)
        self.assertIn("protect-system-strict", err)
        edit_json(os.path.join(self.b, "spec.json"), lambda s: s.update(duration=5.0))
        rc, _, err = run([self.out, self.a, self.b])                # other slice length
        self.assertEqual(rc, 2)
        self.assertIn("duration", err)
        edit_json(os.path.join(self.b, "spec.json"), lambda s: s.update(duration=2.0))
        edit_json(os.path.join(self.b, "env.json"), lambda e: e.update(kernel="6.9"))
        rc, _, err = run([self.out, self.a, self.b])                # other kernel
        self.assertEqual(rc, 2)
        self.assertIn("kernel", err)
        edit_json(os.path.join(self.b, "env.json"), lambda e: e.update(kernel="6.1.0-test"))
        edit_json(os.path.join(self.b, "status.json"), lambda s: s.update(state="interrupted"))
        rc, _, err = run([self.out, self.a, self.b])                # unfinished
        self.assertEqual(rc, 2)
        self.assertIn("not complete", err)
        self.assertFalse(os.path.exists(self.out))


if __name__ == "__main__":
    unittest.main()


class ResumedEpochs(unittest.TestCase):
    """A resumed run measured an epoch in flight again under a number of its
    own (beyond spec.epochs): the next source's epochs start past it."""

    def test_no_collision(self):
        from sblib.analysis import merging
        a = {"path": "a", "spec": {"epochs": 4, "reps": 2},
             "runs": [{"epoch": e, "round": 0} for e in (0, 1, 2, 3, 4)]}   # 4: a resumed epoch
        b = {"path": "b", "spec": {"epochs": 4, "reps": 2}, "runs": [{"epoch": 0, "round": 0}]}
        out, _rounds, epochs = merging.merged_runs([a, b])
        self.assertEqual([r["epoch"] for r in out], [0, 1, 2, 3, 4, 5])
        self.assertEqual(epochs, 9)
