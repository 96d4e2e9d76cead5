"""The statistics of `sandbench startup` (sblib.analysis.startup_stats), its
analysis of crafted samples of known cost, the environment's cliffs
(sblib.analysis.cliffs) and the report's section for them."""
import json
import os
import random
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))

from sblib.analysis import cliffs as _cliffs  # noqa: E402
from sblib.analysis import stats as st  # noqa: E402
from sblib.analysis import startup_stats as ss  # noqa: E402
from sblib.report import core as report  # noqa: E402
from sblib.report import document  # noqa: E402
from sblib.report import startup as report_startup  # noqa: E402
from sblib.commands import report as report_cmd  # noqa: E402
from sblib.commands import startup as startup_cmd  # noqa: E402
from sblib.commands._cli import Usage  # noqa: E402
from sblib.measuring import runplan, startup  # noqa: E402

BASE = "activated/baseline"


def crafted(costs, rounds, seed=1, noise=4.0, base=120.0, drift=30.0, levels=(0,),
            growth=None):
    """Start-up samples as startup._measure records them: per level and
    round every variant once and the baseline baseline_share() times, over
    a machine whose speed drifts by DRIFT ms from round to round. COSTS:
    {variant: ms added}; GROWTH: {variant: ms per mount} (the baseline's
    key too)."""
    rng = random.Random(seed)
    growth = growth or {}
    ids = [BASE] + list(costs)
    out = []
    for lv in levels:
        for r in range(rounds):
            slow = rng.uniform(-drift, drift)
            for vid in ss.round_order(ids, BASE, seed, f"{lv}/{r}"):
                t = base + slow + costs.get(vid, 0.0) + growth.get(vid, 0.0) * lv \
                    + rng.gauss(0, noise)
                out.append({"kind": "start", "variant": vid, "mounts": lv, "round": r,
                            "status": "ok", "total_ms": t, "pid1_cpu_ms": 20 + rng.gauss(0, 1)})
    return out


class RoundOrder(unittest.TestCase):
    def test_baseline_share(self):
        self.assertEqual([ss.baseline_share(k) for k in (0, 1, 2, 4, 8, 9, 30)],
                         [1, 1, 1, 2, 3, 3, 5])

    def test_round_order(self):
        ids = [BASE, "a", "b", "c", "d"]
        o = ss.round_order(ids, BASE, 7, "0/1")
        self.assertEqual(sorted(o), sorted(["a", "b", "c", "d", BASE, BASE]))
        self.assertEqual(o, ss.round_order(ids, BASE, 7, "0/1"))
        orders = {tuple(ss.round_order(ids, BASE, 7, f"0/{r}")) for r in range(20)}
        self.assertGreater(len(orders), 10)

    def test_level_blocks(self):
        b = startup.level_blocks([0, 250, 1000], 8, 3)
        per = {}
        for lv, first, n in b:
            per.setdefault(lv, []).append((first, n))
        self.assertEqual({lv: sum(n for _, n in x) for lv, x in per.items()},
                         {0: 8, 250: 8, 1000: 8})
        # two passes, rounds 0-3 then 4-7, each level in each
        self.assertEqual(sorted(x for lv in per for x in per[lv]),
                         sorted([(0, 4)] * 3 + [(4, 4)] * 3))
        self.assertEqual(startup.level_blocks([0], 5, 3), [(0, 0, 5)])


class Differences(unittest.TestCase):
    def test_round_pairs(self):
        s = [{"variant": BASE, "round": 0, "status": "ok", "m": 10.0},
             {"variant": BASE, "round": 0, "status": "ok", "m": 14.0},
             {"variant": "v", "round": 0, "status": "ok", "m": 15.0},
             {"variant": BASE, "round": 1, "status": "ok", "m": 20.0},
             {"variant": "v", "round": 1, "status": "error", "m": 99.0},
             {"variant": "v", "round": 2, "status": "ok", "m": 5.0}]
        self.assertEqual(ss.round_pairs(s, "m", BASE, "v"), [([15.0], [10.0, 14.0])])
        self.assertEqual(ss.delta_of([([15.0], [10.0, 14.0])]), (3.0, 12.0))

    def test_skew_unbiased(self):
        """Start-up times are skewed (a start now and then is much slower),
        and a round holds one start of the A/A copy and three of the
        baseline: over 20 crafted runs the copy's cost must average 0,
        which the interquartile mean of per-round differences (the
        estimator this replaced) does not: it averages -1.5 ms here."""
        new, old = [], []
        for seed in range(20):
            rng = random.Random(seed)
            s = []
            for r in range(400):
                for vid in ss.round_order([BASE, "aa", "b", "c", "d", "e"], BASE, 1, str(r)):
                    s.append({"variant": vid, "round": r, "status": "ok",
                              "m": 100 + rng.expovariate(1 / 15.0)})
            p = ss.round_pairs(s, "m", BASE, "aa")
            new.append(ss.delta_of(p)[0])
            old.append(st.center([x - sum(b) / len(b) for v, b in p for x in v]))
        self.assertLess(abs(sum(new) / len(new)), 0.6)
        self.assertLess(sum(old) / len(old), -1.0)

    def test_known_cost_recovered(self):
        """A directive adding 9 ms on a machine drifting by ±30 ms per round:
        the paired interval holds 9 and is narrow; a free one's holds 0."""
        s = crafted({"activated/x": 9.0, "activated/free": 0.0}, rounds=40)
        c = ss.difference_interval(ss.round_pairs(s, "total_ms", BASE, "activated/x"), 5)
        self.assertLess(c["lo"], 9.0)
        self.assertGreater(c["hi"], 9.0)
        self.assertLess(c["hi"] - c["lo"], 6.0)
        self.assertAlmostEqual(c["pct"], 100 * c["delta"] / c["base"])
        self.assertLess(c["pct_lo"], 100 * 9.0 / 120.0)
        self.assertGreater(c["pct_hi"], 100 * 9.0 / 120.0)
        f = ss.difference_interval(ss.round_pairs(s, "total_ms", BASE,
                                                  "activated/free"), 5)
        self.assertLess(f["lo"], 0.0)
        self.assertGreater(f["hi"], 0.0)

    def test_coverage(self):
        """Over 60 crafted runs the 95% interval holds the true cost in at
        least 85% of them (it would be far fewer if the pairing or the
        resampling were wrong)."""
        hits = 0
        for k in range(60):
            s = crafted({"activated/x": 5.0}, rounds=16, seed=100 + k)
            c = ss.difference_interval(ss.round_pairs(s, "total_ms", BASE, "activated/x"), k,
                                       resamples=300)
            hits += c["lo"] <= 5.0 <= c["hi"]
        self.assertGreaterEqual(hits, 51)

    def test_empty_and_single(self):
        self.assertIsNone(ss.difference_interval([], 1))
        c = ss.difference_interval([([12.0], [10.0])], 1)
        self.assertEqual((c["n"], c["lo"], c["hi"], c["resamples"]), (1, 2.0, 2.0, 0))


class Slopes(unittest.TestCase):
    def test_ols(self):
        self.assertAlmostEqual(ss.ols_slope([(0, 1), (1, 3), (2, 5)]), 2.0)
        self.assertIsNone(ss.ols_slope([(1, 1), (1, 2)]))
        self.assertIsNone(ss.ols_slope([(1, 1)]))

    def test_growth_recovered(self):
        """2 ms per 1000 mounts with noise: the interval holds 2 and excludes
        0; a flat series' holds 0."""
        rng = random.Random(3)
        grow = {lv: [5 + 0.002 * lv + rng.gauss(0, 0.5) for _ in range(12)]
                for lv in (0, 250, 1000, 2000)}
        s = ss.slope_interval(grow, 9)
        self.assertLess(s["lo"], 2.0)
        self.assertGreater(s["hi"], 2.0)
        self.assertGreater(s["lo"], 0.0)
        self.assertEqual(s["levels"], [0, 250, 1000, 2000])
        flat = {lv: [5 + rng.gauss(0, 0.5) for _ in range(12)] for lv in (0, 1000, 2000)}
        f = ss.slope_interval(flat, 9)
        self.assertLess(f["lo"], 0.0)
        self.assertGreater(f["hi"], 0.0)
        self.assertIsNone(ss.slope_interval({0: [1.0], 1000: []}, 1))


class Systemd(unittest.TestCase):
    def test_phases(self):
        props = {"ExecMainStartTimestampMonotonic": "1000502000",
                 "ActiveEnterTimestampMonotonic": "1000530000"}
        p = ss.phases(props, 1000.499, 1000.5312)
        self.assertAlmostEqual(p["to_fork_ms"], 3.0)
        self.assertAlmostEqual(p["setup_and_init_ms"], 28.0)
        self.assertAlmostEqual(p["ready_to_answer_ms"], 1.2)
        self.assertAlmostEqual(p["fork_to_answer_ms"], 29.2)
        p = ss.phases({"ExecMainStartTimestampMonotonic": "0"}, 1.0, 2.0)
        self.assertIsNone(p["to_fork_ms"])
        self.assertIsNone(p["setup_and_init_ms"])

    def test_cpu_readers(self):
        self.assertEqual(ss.cpu_usec_of_stat("usage_usec 1234\nuser_usec 1000\n"), 1234)
        self.assertIsNone(ss.cpu_usec_of_stat("user_usec 1\n"))
        line = "1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 150 60 0 0 20 0 1 0 5 6 7"
        self.assertEqual(ss.proc_stat_cpu_ticks(line), 210)
        self.assertEqual(ss.proc_stat_cpu_ticks("9 (a) b) c) S " + " ".join(["0"] * 10)
                                                + " 7 8 0"), 15)


class Analysis(unittest.TestCase):
    def test_analyse_sweep(self):
        """A directive growing 3 ms per 1000 mounts beside a baseline growing
        1: its own growth reads ~4, its change's ~3, the free one's ~0."""
        variants = [{"id": BASE}, {"id": "activated/baseline-aa"}, {"id": "activated/home"}]
        s = crafted({"activated/baseline-aa": 0.0, "activated/home": 6.0}, rounds=12,
                    levels=(0, 1000, 2000), noise=1.0, drift=2.0,
                    growth={BASE: 0.001, "activated/baseline-aa": 0.001,
                            "activated/home": 0.004})
        a = startup.analyse(s, variants, 4, "start")
        self.assertEqual(a["levels"], [0, 1000, 2000])
        c0 = a["costs"]["0"]["activated/home"]["total_ms"]
        self.assertAlmostEqual(c0["delta"], 6.0, delta=1.0)
        self.assertLess(c0["lo"], c0["delta"])
        self.assertGreater(c0["hi"], c0["delta"])
        d = a["slopes"]["activated/home"]["delta_total_ms"]
        self.assertAlmostEqual(d["slope"], 3.0, delta=0.7)
        self.assertGreater(d["lo"], 1.0)
        own = a["slopes"]["activated/home"]["total_ms"]
        self.assertAlmostEqual(own["slope"], 4.0, delta=0.7)
        aa = a["slopes"]["activated/baseline-aa"]["delta_total_ms"]
        self.assertLess(abs(aa["slope"]), 0.7)
        self.assertLess(aa["lo"], 1.0)
        self.assertIn("pid1_cpu_ms", a["costs"]["1000"]["activated/home"])
        self.assertNotIn(BASE, a["costs"]["0"])
        json.dumps(a)   # the analysis is written as JSON

    def test_variant_list(self):
        v = startup.variant_list("activated", ["private-tmp-yes",
                                               ["private-tmp-yes", "protect-home-yes"]])
        self.assertEqual([x["id"] for x in v],
                         [BASE, "activated/baseline-aa", "activated/private-tmp-yes",
                          "activated/private-tmp-yes+protect-home-yes"])
        with self.assertRaises(Exception):
            startup.variant_list("activated", ["no-such-directive"])

    def test_spec_errors(self):
        for argv in (["--servers", "nope"], ["--host-mounts", "0,x"], ["--host-mounts", "0,0"],
                     ["--reps", "0"], ["--directives", ""], ["--profile", "quick",
                                                             "--directives", "private-tmp-yes"],
                     ["--connections", "2", "--concurrency", "3"]):
            with self.assertRaises((Usage, Exception), msg=argv):
                startup_cmd.build_spec(startup_cmd.parse_args(argv))
        s = startup_cmd.build_spec(startup_cmd.parse_args(
            ["--profile", "mounts", "--host-mounts", "0,250,1000,2000", "--seed", "3"]))
        self.assertEqual(s["host_mounts"], [0, 250, 1000, 2000])
        self.assertIn("protect-system-strict-read-write-paths", s["directives"])


    def test_spec_beside_a_run(self):
        """run --startup-reps: the run's own variants, singles and the
        profile's combination by name, its seed and servers."""
        rs = runplan.build_plan(runplan.parse(["--servers", "drop,inetd", "--profile", "quick",
                                            "--seed", "9"]))
        spec, a = startup.spec_beside(rs, 5)
        self.assertEqual(spec["servers"], ["drop", "inetd"])
        self.assertEqual(spec["directives"], rs["directives"])
        self.assertEqual([c[0] for c in spec["combines"]], ["seed-lunchd"])
        self.assertEqual((spec["seed"], spec["reps"], a.reps, spec["host_mounts"]),
                         (9, 5, 5, [0]))
        v = startup.variant_list("drop", spec["directives"] + [
            {"name": n, "directives": ds} for n, ds in spec["combines"]])
        self.assertEqual({x["id"] for x in v},
                         {x["id"] for x in rs["variants"] if x["server"] == "drop"})


class Cliffs(unittest.TestCase):
    def test_cmdline_and_versions(self):
        cl = "BOOT_IMAGE=x mitigations=auto,nosmt quiet mitigations=off -- mitigations=x"
        self.assertEqual(_cliffs.cmdline_param(cl, "mitigations"), "off")
        self.assertIsNone(_cliffs.cmdline_param("quiet", "mitigations"))
        self.assertEqual(_cliffs.kernel_version("5.10.0-28-amd64"), (5, 10))
        self.assertEqual(_cliffs.libmount_version(
            "mount from util-linux 2.38.1 (libmount 2.38.1: selinux, btrfs)"), "2.38.1")

    def test_known(self):
        names = lambda env: [n for n, _ in _cliffs.known(env)]  # noqa: E731
        old = {"kernel": "5.10.0", "spec_store_bypass":
               "Mitigation: Speculative Store Bypass disabled via prctl and seccomp",
               "seccomp_action_cache": False, "bpf_jit_enable": 0, "host_mounts": 2040}
        self.assertEqual(names(old), ["ssbd-seccomp", "no-seccomp-cache", "bpf-interpreted",
                                      "many-mounts"])
        new = {"kernel": "6.1.0", "spec_store_bypass":
               "Mitigation: Speculative Store Bypass disabled via prctl",
               "seccomp_action_cache": True, "bpf_jit_enable": 1, "host_mounts": 40}
        self.assertEqual(names(new), [])
        self.assertEqual(names({}), [])

    def test_read_here(self):
        r = _cliffs.read()
        self.assertIsInstance(r["machine_mounts"], int)
        self.assertIn(r["seccomp_action_cache"], (True, False))


class Report(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sbtest-startup-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_section_and_startup_only_report(self):
        variants = [{"id": BASE}, {"id": "activated/baseline-aa"}, {"id": "activated/home"}]
        s = crafted({"activated/baseline-aa": 0.0, "activated/home": 6.0}, rounds=8,
                    levels=(0, 1000))
        g = startup.analyse(s, variants, 4, "start")
        g.update({"server": "activated", "pid1_cpu_source": "init.scope cpu.stat",
                  "host_mounts": {"0": 40, "1000": 1040}, "censored": {}})
        with open(os.path.join(self.dir, "startup.json"), "w") as f:
            json.dump({"schema": "sandbench-startup/1", "state": "complete", "groups": [g]}, f)
        with open(os.path.join(self.dir, "env.json"), "w") as f:
            json.dump({"kernel": "6.1.0", "host_mounts": 1040}, f)
        blocks = report_startup.startup_cost_section(self.dir)
        text = document.render_md(blocks)
        self.assertIn("`activated/home`", text)
        self.assertIn("growth with the host's mount count", text)
        c = g["costs"]["1000"]["activated/home"]["total_ms"]
        self.assertIn(f"{c['delta']:+.2f} ms", text)
        self.assertEqual(report_startup.startup_cost_section(os.path.join(self.dir, "none")), [])
        rc = report_cmd.main([self.dir, "--no-plots"])
        self.assertEqual(rc, 0)
        with open(os.path.join(self.dir, "report.md")) as f:
            md = f.read()
        self.assertIn("many-mounts", md)
        self.assertIn("start-up change", md)


    def test_beside_a_run(self):
        """startup files written into a run's directory: the run's report
        has the section after its own, and the cliffs of its env.json."""
        from tests.py import sbfixture
        sbfixture.make_results(self.dir, rounds=4)
        variants = [{"id": BASE}, {"id": "activated/x"}]
        g = startup.analyse(crafted({"activated/x": 5.0}, rounds=6), variants, 2, "start")
        g["server"] = "activated"
        with open(os.path.join(self.dir, "startup.json"), "w") as f:
            json.dump({"schema": "sandbench-startup/1", "state": "complete", "groups": [g]}, f)
        with open(os.path.join(self.dir, "env.json")) as f:
            env = json.load(f)
        env.update({"kernel": "5.10.0", "seccomp_action_cache": False})
        with open(os.path.join(self.dir, "env.json"), "w") as f:
            json.dump(env, f)
        report.write_report(self.dir, plots=False)
        with open(os.path.join(self.dir, "report.md")) as f:
            md = f.read()
        self.assertIn("## Start-up and per-connection cost", md)
        self.assertIn("`activated/x`", md)
        self.assertIn("no-seccomp-cache", md)
        # beside the run's own start-up times, after the verdict
        self.assertLess(md.index("## Start-up time"), md.index("## Start-up and per-connection"))
        self.assertLess(md.index("## Verdict") if "## Verdict" in md else 0,
                        md.index("## Start-up and per-connection"))


if __name__ == "__main__":
    unittest.main()
