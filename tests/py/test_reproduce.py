"""sandbench reproduce: the re-run command and the agreement verdicts, on crafted directories.

The real re-run through `sandbench run` (systemd in a container) is in
tests/integration/report-reproduce.sh.
"""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))
from sblib.commands import reproduce  # noqa: E402
from sblib.analysis import cliffs  # noqa: E402
from sblib.analysis import reproduction as rp  # noqa: E402
from sblib.analysis import results as rs  # noqa: E402
from sblib.analysis import sets  # noqa: E402
import sbfixture  # noqa: E402


def run(argv):
    return sbfixture.run_main(reproduce.main, argv + ["--resamples", "500"])


class RerunArgv(unittest.TestCase):
    def test_out_and_seed_replaced(self):
        spec = {"argv": ["run", "--profile", "quick", "--out", "x", "--seed=9", "--reps", "3"],
                "seed": 9}
        # recorded before duet windows: re-run one instance at a time, as measured
        self.assertEqual(rp.rerun_argv(spec, "new"),
                         ["run", "--profile", "quick", "--reps", "3", "--out", "new",
                          "--method", "isolated", "--seed", "9"])
        spec["method"] = "duet"
        self.assertEqual(rp.rerun_argv(spec, "new"),
                         ["run", "--profile", "quick", "--reps", "3", "--out", "new",
                          "--seed", "9"])

    def test_not_a_run(self):
        with self.assertRaises(rs.ResultsError):
            rp.rerun_argv({"argv": ["report", "x"]}, "new")
        with self.assertRaises(rs.ResultsError):
            rp.rerun_argv({}, "new")


def plan(spec, out):
    """rp.run_plan() as ([(argv, out)], merge sources)."""
    steps, merge = rp.run_plan(spec, out)
    return [(s["argv"], s["out"]) for s in steps], merge


class MergedPlan(unittest.TestCase):
    def test_each_run_again_then_merged(self):
        spec = {"argv": ["merge", "out", "a", "b"], "seed": 1, "merged": [
            {"path": "runs/a", "seed": 1, "argv": ["run", "--reps", "3", "--seed", "1",
                                                   "--out", "runs/a"]},
            {"path": "runs/b", "seed": 2, "argv": ["run", "--reps", "5", "--seed", "2",
                                                   "--out", "runs/b"]}]}
        runs, parts = plan(spec, "new")
        self.assertEqual(runs, [
            (["run", "--reps", "3", "--out", "new.parts/1-a", "--method", "isolated",
              "--seed", "1"], "new.parts/1-a"),
            (["run", "--reps", "5", "--out", "new.parts/2-b", "--method", "isolated",
              "--seed", "2"], "new.parts/2-b")])
        self.assertEqual(parts, ["new.parts/1-a", "new.parts/2-b"])
        # a merged set of duet runs re-runs duet runs
        spec["method"] = "duet"
        self.assertNotIn("--method", plan(spec, "new")[0][0][0])
        spec["merged"][1]["argv"] = ["report", "x"]
        with self.assertRaisesRegex(rs.ResultsError, "run 2 \\(b\\)"):
            plan(spec, "new")
        self.assertEqual(plan({"argv": ["run", "--reps", "2"], "seed": 4}, "new"),
                         ([(["run", "--reps", "2", "--out", "new", "--method", "isolated",
                             "--seed", "4"], "new")], None))

    def test_every_published_set_has_a_plan(self):
        # start-up, mounts, advise and seccomp sets said "spec.json: missing"
        top = os.path.join(os.path.dirname(__file__), "..", "..", "results", "published")
        sets = [d for d in sorted(os.listdir(top)) if os.path.isdir(os.path.join(top, d))]
        self.assertGreaterEqual(len(sets), 9)
        tools = {"startup": "sandbench startup ", "mounts": "sandbench startup ",
                 "advise": "sandbench advise ", "seccomp": "build/bin/syscost "}
        for d in sets:
            with self.subTest(set=d):
                rc, out, err = sbfixture.run_main(reproduce.main, [os.path.join(top, d),
                                                                   "--dry-run", "--out", "x"])
                self.assertEqual(rc, 0, d + err)
                want = next((t for k, t in tools.items() if d.endswith(k)), "sandbench run ")
                self.assertIn("running: " + want, out)
                self.assertRegex(out, r"expected duration: about \d+ (h \d+ min|min|s) ")
                if "-full" in d:
                    self.assertEqual(out.count("running: sandbench run "), 3)
                    self.assertIn("then: sandbench merge x x.parts/1-full-24x6 "
                                  "x.parts/2-full-8x2 x.parts/3-full-32x8-s3", out)
                    self.assertIn("expected duration: about 4 h 19 min", out)
        rc, out, _ = sbfixture.run_main(reproduce.main, [os.path.join(top, sets[0]),
                                                         "--dry-run", "--out", "x"])
        self.assertFalse(os.path.exists("x"))

    def test_plans_of_other_kinds(self):
        top = os.path.join(os.path.dirname(__file__), "..", "..", "results", "published")
        from sblib.analysis import sets
        p = rp.plan(sets.load(os.path.join(top, "debian12-2core-vm-2026-12-startup")), "new")
        self.assertEqual([s["out"] for s in p["steps"]], ["new/activated", "new/inetd"])
        self.assertEqual(p["steps"][0]["argv"][-4:], ["--out", "new/activated", "--seed", "2101"])
        p = rp.plan(sets.load(os.path.join(top, "debian12-2core-vm-2026-12-advise")), "new")
        nginx = next(s["argv"] for s in p["steps"] if s["out"] == "new/nginx")
        self.assertEqual(nginx, ["advise", "--unit", "/lib/systemd/system/nginx.service",
                                 "--url", "https://127.0.0.1:18446/", "--out", "new/nginx"])
        drop = next(s["argv"] for s in p["steps"] if s["out"] == "new/servers/drop")
        self.assertIn("--no-cost", drop)
        self.assertIn("--public", drop)
        self.assertTrue(drop[drop.index("--unit") + 1].endswith("units/lunchd-drop.service"))
        p = rp.plan(sets.load(os.path.join(top, "seccomp")), "new")
        first = p["steps"][0]
        self.assertEqual((first["tool"], first["stdout"]), ("syscost",
                                                            "new/getpid-selftest.json"))
        self.assertIn("--mode none,allow1,allow", " ".join(first["argv"]))
        self.assertEqual(p["steps"][-1]["argv"][1:3], ["--combine-micro",
                                                       "new/micro-summary.json"])


class Against(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-repro-")
        self.orig = sbfixture.make_results(os.path.join(self.dir, "orig"), seed=1)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_same_costs_agree(self):
        again = sbfixture.make_results(os.path.join(self.dir, "again"), seed=2)
        with open(os.path.join(again, "env.json"), "w") as f:
            f.write('{"kernel": "6.1.0-other", "systemd": "252"}')
        rc, out, err = run([self.orig, "--against", again])
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"\*\*(\d+) of \1 directive costs agree\*\*")
        self.assertIn("| kernel | 6.1.0-test | 6.1.0-other | differs |", out)
        self.assertTrue(os.path.exists(os.path.join(again, "reproduce.md")))

    def test_spec_differences_reported(self):
        other = sbfixture.make_results(os.path.join(self.dir, "fewer"), seed=1, rounds=5,
                                       costs={"private-tmp-yes": (1.0, 9.2, "ok")})
        rc, out, _ = run([self.orig, "--against", other])
        self.assertIn("**The re-run is not the same experiment**", out)
        self.assertIn("reps: 8 -> 5", out)
        self.assertIn("variants not re-run: drop/memory-deny-write-execute", out)
        same = sbfixture.make_results(os.path.join(self.dir, "same"), seed=1)
        self.assertIn("Same spec:", run([self.orig, "--against", same])[1])

    def test_changed_cost_disagrees(self):
        costs = dict(sbfixture.DEFAULT_COSTS)
        costs["protect-system-strict"] = (1.25, 8.8, "ok")
        other = sbfixture.make_results(os.path.join(self.dir, "other"), seed=2, costs=costs)
        rc, out, _ = run([self.orig, "--against", other])
        self.assertEqual(rc, 1)
        self.assertRegex(out, r"`drop/protect-system-strict` \| keepalive \| cpu_ns_per_req "
                              r"\| \+\d+\.\d% \| 8 \| \+2\d\.\d% .*\| \*\*no\*\* \|")
        self.assertRegex(out, r"`drop/private-tmp-yes` \| keepalive \| cpu_ns_per_req .*\| yes \|")

    def test_a_startup_set_against_its_reproduction(self):
        top = os.path.join(os.path.dirname(__file__), "..", "..", "results", "published")
        orig = os.path.join(top, "debian12-2core-vm-2026-12-startup")
        again = os.path.join(self.dir, "again")
        shutil.copytree(orig, again)
        rc, out, err = sbfixture.run_main(reproduce.main, [orig, "--against", again])
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"\*\*(\d+) of \1 directive costs agree\*\*")
        self.assertRegex(out, r"`activated: activated/private-tmp-yes` \| start \| total_ms \| "
                              r".* \| yes \|")
        self.assertTrue(os.path.exists(os.path.join(again, "reproduce.md")))

    def test_bad_input(self):
        self.assertEqual(run([os.path.join(self.dir, "missing")])[0], 2)
        self.assertEqual(run([self.orig, "--against", os.path.join(self.dir, "missing")])[0], 2)
        rc, out, _ = run([self.orig, "--dry-run", "--out", "somewhere"])
        self.assertEqual(rc, 0)
        self.assertIn("sandbench run --profile quick --out somewhere --method isolated --seed 1",
                      out)



class Stack(unittest.TestCase):
    def test_what_differs_in_the_stack(self):
        a = {"release": "bookworm", "systemd_package": "systemd 252.39-1~deb12u2",
             "libssl_package": "libssl3 3.0.17-1~deb12u2", "glibc_package": "libc6 2.36-9",
             "kernel_package": "6.1.129-1", "kernel": "6.1.0-32-amd64"}
        b = dict(a, release="trixie", systemd_package="systemd 257.13-1~deb13u1")
        self.assertEqual(cliffs.stack_differences(a, b),
                         [("release", "bookworm", "trixie"),
                          ("systemd_package", "systemd 252.39-1~deb12u2",
                           "systemd 257.13-1~deb13u1")])
        self.assertEqual(cliffs.stack_differences(a, dict(a)), [])
        # a set made before releases: its systemd and openssl lines
        old = {"systemd": "systemd 252 (252.39-1~deb12u2)", "openssl": "OpenSSL 3.0.17"}
        self.assertEqual(cliffs.stack_differences(old, dict(old, openssl="OpenSSL 3.5.10")),
                         [("openssl", "OpenSSL 3.0.17", "OpenSSL 3.5.10")])
        # the kernel's mitigations only when asked for, a fact one side lacks included
        k = dict(a, spec_store_bypass="Mitigation; SSB disabled via prctl and seccomp",
                 bpf_jit_enable=1)
        k2 = dict(k, kernel="6.12.9-amd64", spec_store_bypass="Mitigation; SSB disabled via prctl",
                  spectre_v2="Mitigation; Retpolines")
        self.assertEqual(cliffs.stack_differences(k, k2), [])
        self.assertEqual(cliffs.stack_differences(k, k2, mitigations=True),
                         [("spec_store_bypass", "Mitigation; SSB disabled via prctl and seccomp",
                           "Mitigation; SSB disabled via prctl"),
                          ("spectre_v2", None, "Mitigation; Retpolines")])

    def test_reproduce_md_says_so(self):
        d = tempfile.mkdtemp(prefix="sb-repro-")
        try:
            orig = sbfixture.make_results(os.path.join(d, "orig"), seed=1)
            again = sbfixture.make_results(os.path.join(d, "again"), seed=2)
            for path, rel in ((orig, "bookworm"), (again, "trixie")):
                with open(os.path.join(path, "env.json"), "w") as f:
                    f.write('{"kernel": "6.1.0-test", "release": "%s"}' % rel)
            rc, out, err = run([orig, "--against", again])
            self.assertIn("**The stack differs from the set's:** release bookworm -> trixie",
                          out)
            self.assertIn("the whole stack's", out)
            self.assertNotIn("The stack differs", run([orig, "--against", orig])[1])
            plan = rp.plan(sets.load(again),
                           os.path.join(d, "new"))
            self.assertTrue(any("ran under trixie" in n and "gave no --release" in n
                                for n in plan["notes"]), plan["notes"])
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
