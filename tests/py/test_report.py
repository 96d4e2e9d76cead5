"""sandbench report on crafted results directories of known answer, with real gnuplot."""
import json
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))
from sblib.report import fmt  # noqa: E402
from sblib.commands import report as report_cmd  # noqa: E402
import sbfixture  # noqa: E402


def run(argv):
    return sbfixture.run_main(report_cmd.main, argv)


def rewrite_and_report(test, d, name, obj):
    """Write OBJ as D/NAME, report D without plots, return its report.md."""
    with open(os.path.join(d, name), "w") as f:
        json.dump(obj, f)
    test.assertEqual(run([d, "--no-plots"])[0], 0)
    with open(os.path.join(d, "report.md")) as f:
        return f.read()


class Report(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sb-report-")
        cls.res = sbfixture.make_results(os.path.join(cls.dir, "r"), seed=4,
                                         servers=("drop", "activated"),
                                         modes=("keepalive", "close"))
        cls.rc, cls.out, cls.err = run([cls.res])
        with open(os.path.join(cls.res, "report.md"), encoding="utf-8") as f:
            cls.md = f.read()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_exit_and_files(self):
        self.assertEqual(self.rc, 0, self.err)
        for f in ("report.md", "report.html", "analysis.json"):
            self.assertTrue(os.path.getsize(os.path.join(self.res, f)) > 0, f)

    def test_what_ran_and_env(self):
        self.assertIn("`sandbench run --profile quick`", self.md)
        self.assertIn("| systemd | 252 |", self.md)
        self.assertIn("commit `abc1234`", self.md)

    def test_noise_floor_shown(self):
        self.assertRegex(self.md, r"\| drop \| keepalive \| isolated \| [-+]\d\.\d% \[.*\] \| .* "
                                  r"\| ±\d\.\d\d% \|")

    def test_cost_table_ranked_with_right_size(self):
        section = self.md.split("### drop, keepalive")[1].split("###")[0]
        rows = [l for l in section.splitlines() if re.match(r"\| \d+ \|", l)]
        self.assertIn("protect-system-strict", rows[0])  # +10%: the dearest
        self.assertIn("system-call-filter", rows[1])     # +4%
        m = re.search(r"\| \+(\d+\.\d)% \[\+(\d+\.\d)%, \+(\d+\.\d)%\] \| \*\*worse\*\*", rows[0])
        self.assertIsNotNone(m, rows[0])
        point, lo, hi = map(float, m.groups())
        self.assertAlmostEqual(point, 10.0, delta=2.0)
        self.assertLessEqual(lo, point)
        self.assertGreaterEqual(hi, point)
        self.assertIn("8.8 (-0.8)", rows[0])  # exposure and its drop
        self.assertIn("| yes |", rows[0])      # evidence: applied
        pt = next(l for l in rows if "private-tmp-yes" in l)
        self.assertRegex(pt, r"\| ~ \|")       # free directive: no verdict

    def test_compatibility_matrix(self):
        self.assertRegex(self.md, r"\| `private-network-yes` \| \*\*incompatible\*\* \[\d\] \|")
        self.assertRegex(self.md, r"\| `memory-deny-write-execute` \| \*\*hang\*\* \[\d\] \|")
        self.assertIn("bind(443): Permission denied", self.md)
        self.assertRegex(self.md, r"\| `private-tmp-yes` \| ok \| ok \|")

    def test_pareto_and_latency_and_startup(self):
        self.assertIn("## Exposure against cost", self.md)
        self.assertRegex(self.md, r"drop, keepalive: .*`system-call-filter` \(8\.2 at \+\d")
        self.assertIn("| `drop/baseline` | ", self.md.split("## Latency")[1])
        # one start each: no change is printed from fewer than 3 samples
        self.assertRegex(self.md, r"\| `drop/protect-system-strict` \| 48 \| 1 \| \(n<3\) \|")

    def test_plots_are_real_images(self):
        plots = os.path.join(self.res, "plots")
        names = ["cost-keepalive", "cost-close", "exposure-keepalive", "exposure-close",
                 "latency-drop-keepalive", "latency-activated-close", "startup"]
        if shutil.which("gnuplot") is None:
            self.skipTest("gnuplot not installed")
        for n in names:
            with open(os.path.join(plots, n + ".png"), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", n)
            with open(os.path.join(plots, n + ".svg"), encoding="utf-8") as f:
                self.assertIn("<svg", f.read(2000), n)
            self.assertIn(f"(plots/{n}.png)", self.md)

    def test_html_is_self_contained(self):
        with open(os.path.join(self.res, "report.html"), encoding="utf-8") as f:
            page = f.read()
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        self.assertNotRegex(page, r'src="(?!data:)')
        self.assertIn('src="data:image/svg+xml;base64,', page)
        self.assertIn("<table>", page)
        self.assertIn("<code>protect-system-strict</code>", page)

    def test_analysis_json(self):
        with open(os.path.join(self.res, "analysis.json")) as f:
            a = json.load(f)
        self.assertEqual(a["resamples"], 2000)
        g = next(g for g in a["groups"] if g["server"] == "drop" and g["mode"] == "keepalive")
        self.assertEqual(g["baseline"], "drop/baseline")
        self.assertEqual(g["aa"], "drop/baseline-aa")
        self.assertIsNotNone(g["floor"])

    def test_levels_are_the_centres_the_changes_divide(self):
        # the baseline line and the start-up table show the interquartile
        # means each change is the ratio of, not medians beside them
        from sblib.analysis import results as rs
        from sblib.analysis import stats as st
        res = rs.load(self.res)
        s = [v for _, v in rs.samples(res, "drop/baseline", "keepalive", "cpu_ns_per_req")]
        self.assertNotEqual(fmt.num(st.center(s)), fmt.num(st.median(s)))
        section = self.md.split("### drop, keepalive")[1]
        self.assertIn(f"baseline (interquartile mean of its slices): {fmt.num(st.center(s))} ns",
                      section)
        with open(os.path.join(self.res, "analysis.json")) as f:
            a = json.load(f)
        c = a["startup"]["drop/protect-system-strict"]
        self.assertAlmostEqual(c["level"], c["cmp"]["new"])
        self.assertIn("| variant | start-up ms (IQM) | starts | change vs baseline [95%] | verdict |",
                      self.md)


class ReportEdges(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-report-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_bad_input_exits_2(self):
        self.assertEqual(run([os.path.join(self.dir, "missing")])[0], 2)
        os.mkdir(os.path.join(self.dir, "empty"))
        rc, _, err = run([os.path.join(self.dir, "empty")])
        self.assertEqual(rc, 2)
        self.assertIn("spec.json: missing", err)
        self.assertEqual(run([])[0], 2)
        self.assertEqual(run(["--help"])[0], 0)

    def test_interrupted_run_is_marked(self):
        d = sbfixture.make_results(os.path.join(self.dir, "i"), rounds=4)
        with open(os.path.join(d, "status.json"), "w") as f:
            json.dump({"state": "interrupted", "runs_done": 10, "runs_planned": 40}, f)
        self.assertEqual(run([d, "--no-plots"])[0], 0)
        with open(os.path.join(d, "report.md")) as f:
            self.assertIn("**This run is interrupted**", f.read())

    def test_corrupt_startup_json_is_said_not_read(self):
        d = sbfixture.make_results(os.path.join(self.dir, "cs"), rounds=4)
        with open(os.path.join(d, "startup.json"), "w") as f:
            f.write('{"groups": [')
        rc, _, err = run([d, "--no-plots"])
        self.assertEqual(rc, 0)
        self.assertIn("startup.json: not valid JSON", err)
        self.assertIn("no start-up section", err)

    def test_killed_run_is_interrupted_not_running(self):
        # a run killed with SIGKILL leaves status.json at "running": its
        # writer (a real process, now reaped) is gone, so it reads as interrupted
        import subprocess
        d = sbfixture.make_results(os.path.join(self.dir, "k"), rounds=4)
        p = subprocess.Popen(["sleep", "30"])
        with open(f"/proc/{p.pid}/stat") as f:
            start = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/sys/kernel/random/boot_id") as f:
            writer = {"pid": p.pid, "start": start, "boot_id": f.read().strip()}
        status = {"state": "running", "runs_done": 10, "runs_planned": 40, "writer": writer}
        self.assertIn("**This run is running**", rewrite_and_report(self, d, "status.json", status))
        p.kill()
        p.wait()
        md = rewrite_and_report(self, d, "status.json", status)
        self.assertIn("**This run is interrupted** (status.json still says running", md)
        self.assertNotIn("This run is running", md)
        # a set written before the writer was kept: the recorded state stands
        del status["writer"]
        self.assertIn("**This run is running**", rewrite_and_report(self, d, "status.json", status))

    def test_stored_no_rederived_from_evidence(self):
        # a set whose run judged RestrictSUIDSGID= "no" on a DynamicUser=
        # baseline (8 filters each): the report re-derives it as n/a
        d = sbfixture.make_results(os.path.join(self.dir, "j"), rounds=4,
                                   costs={"restrict-suid-sgid-yes": (1.0, 9.6, "ok")})
        with open(os.path.join(d, "variants.json")) as f:
            v = json.load(f)
        for vid in v:
            v[vid]["evidence"].update(seccomp=2, seccomp_filters=8)
        v["drop/restrict-suid-sgid-yes"]["applied"] = {"restrict-suid-sgid-yes": False}
        self.assertIn("restrict-suid-sgid-yes **no**",
                      rewrite_and_report(self, d, "variants.json", v))
        v["drop/baseline"]["exposure_checks"] = [{"name": "RestrictSUIDSGID=", "set": True}]
        text = rewrite_and_report(self, d, "variants.json", v)
        self.assertNotIn("restrict-suid-sgid-yes **no**", text)
        self.assertIn("restrict-suid-sgid-yes n/a (seccomp: the baseline already has it", text)

    def test_no_gnuplot_still_reports(self):
        d = sbfixture.make_results(os.path.join(self.dir, "n"), rounds=4)
        old = os.environ["PATH"]
        os.environ["PATH"] = self.dir
        try:
            rc, _, err = run([d])
        finally:
            os.environ["PATH"] = old
        self.assertEqual(rc, 0)
        self.assertIn("gnuplot is not installed", err)
        with open(os.path.join(d, "report.md")) as f:
            self.assertIn("gnuplot is not installed", f.read())

    def test_failed_slices_listed_and_left_out(self):
        d = sbfixture.make_results(os.path.join(self.dir, "f"), rounds=6)
        path = os.path.join(d, "runs.jsonl")
        with open(path) as f:
            runs = [json.loads(l) for l in f]
        bad = 0
        for r in runs:
            if r["variant"] == "drop/private-tmp-yes" and r["round"] < 2:
                r.update({"status": "error", "error": "no request completed",
                          "cpu_ns_per_req": 1e9})
                bad += 1
        with open(path, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in runs)
        self.assertEqual(run([d, "--no-plots"])[0], 0)
        with open(os.path.join(d, "report.md")) as f:
            md = f.read()
        self.assertIn(f"| `drop/private-tmp-yes` | keepalive | {bad} of 6 | 0 | no request completed |", md)
        row = next(l for l in md.splitlines() if l.startswith("| ") and "`private-tmp-yes`" in l
                   and "| ~ |" in l)
        self.assertTrue(row.rstrip().endswith(f"| {6 - bad} |"), row)

    def test_minimal_results_without_variants_json(self):
        d = sbfixture.make_results(os.path.join(self.dir, "m"), rounds=3, costs={
            "private-tmp-yes": (1.0, 9.2, "ok")})
        for f in ("variants.json", "env.json", "status.json"):
            os.unlink(os.path.join(d, f))
        self.assertEqual(run([d, "--no-plots"])[0], 0)

    def test_calibration_agrees_or_not(self):
        # +5% on a 40 us baseline: a known +2000 ns per request
        d = sbfixture.make_results(os.path.join(self.dir, "cal"), rounds=10, seed=11, costs={
            "calibration-work-2us": (1.05, 9.6, "ok"), "private-tmp-yes": (1.0, 9.2, "ok")})
        spec_path = os.path.join(d, "spec.json")
        with open(spec_path) as f:
            spec = json.load(f)
        for want, verdict in ((2000, "yes"), (8000, "**no**")):
            spec["expect"] = {"calibration-work-2us": {"metric": "cpu_ns_per_req",
                                                       "delta": want}}
            with open(spec_path, "w") as f:
                json.dump(spec, f)
            self.assertEqual(run([d, "--no-plots"])[0], 0)
            with open(os.path.join(d, "report.md")) as f:
                md = f.read()
            self.assertIn("## Calibration", md)
            row = next(l for l in md.splitlines() if "`calibration-work-2us` | +" in l)
            m = re.search(r"\| \+([\d,]+) ns \[\+([\d,]+), \+([\d,]+)\] \| (\S+) \|$", row)
            self.assertIsNotNone(m, row)
            got, lo, hi = (float(x.replace(",", "")) for x in m.groups()[:3])
            self.assertAlmostEqual(got, 2000, delta=300)
            self.assertLess(lo, got)
            self.assertGreater(hi, got)
            self.assertEqual(m.group(4), verdict, row)
        # a mode where each connection is a process (counted slices) times
        # the spin at every start: no per-request verdict
        spec["loadgen"] = dict(spec.get("loadgen") or {}, slice_connections={"drop": {"keepalive": 40}})
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        self.assertEqual(run([d, "--no-plots"])[0], 0)
        with open(os.path.join(d, "report.md")) as f:
            row = next(l for l in f.read().splitlines() if "`calibration-work-2us` | +" in l)
        self.assertTrue(row.endswith("| n/a: a process per connection (its start is timed too) |"), row)
        # the precision column: a number, and small for 1% noise
        m = re.search(r"\| drop \| keepalive \| .* \| ±(\d+\.\d+)% \|\n", md)
        self.assertIsNotNone(m)
        self.assertLess(float(m.group(1)), 3.0)


if __name__ == "__main__":
    unittest.main()


class Epochs(unittest.TestCase):
    def test_epochs_reported_with_their_placement(self):
        with tempfile.TemporaryDirectory(prefix="sb-report-ep-") as tmp:
            d = sbfixture.make_results(os.path.join(tmp, "ep"), rounds=8, seed=12)
            with open(os.path.join(d, "runs.jsonl")) as f:
                runs = [json.loads(line) for line in f]
            names = sorted({r["variant"] for r in runs})
            for r in runs:   # 4 epochs of 2 rounds; the last-started instance +5%
                r["epoch"] = r["round"] // 2
                r["position"] = (names.index(r["variant"]) + r["epoch"]) % len(names)
                if r["position"] == len(names) - 1:
                    r["cpu_ns_per_req"] *= 1.05
            with open(os.path.join(d, "runs.jsonl"), "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in runs)
            with open(os.path.join(d, "spec.json")) as f:
                spec = json.load(f)
            spec["epochs"] = 4
            md = rewrite_and_report(self, d, "spec.json", spec)
            self.assertIn("4 epochs: every server's instances restarted", md)
            row = re.search(r"\| drop \| keepalive \| 4 \| ±(\d+\.\d)% \| ([-+]\d+\.\d)% \| "
                            r"([-+]\d+\.\d)% \|", md)
            self.assertIsNotNone(row, md)
            self.assertGreater(float(row.group(1)), 1.0)    # places differ
            self.assertGreater(float(row.group(3)), float(row.group(2)))  # last dearer
            with open(os.path.join(d, "analysis.json")) as f:
                self.assertEqual(json.load(f)["placement"][0]["epochs"], 4)


class VerdictFirst(unittest.TestCase):
    """report.html opens with the verdict: the first section holds the verdict
    table, naming the directive that costs and bounding the rest; calibration
    controls are in their own table, never in a ranking."""

    def test_first_section_holds_the_verdict(self):
        with tempfile.TemporaryDirectory(prefix="sb-report-v-") as tmp:
            d = sbfixture.make_results(os.path.join(tmp, "v"), rounds=8, seed=21, costs={
                "protect-system-strict": (1.10, 8.8, "ok"),
                "private-tmp-yes": (1.00, 9.2, "ok"),
                "calibration-work-2us": (1.05, 9.6, "ok")})
            with open(os.path.join(d, "spec.json")) as f:
                spec = json.load(f)
            spec["expect"] = {"calibration-work-2us": {"metric": "cpu_ns_per_req",
                                                       "delta": 2000}}
            rewrite_and_report(self, d, "spec.json", spec)
            with open(os.path.join(d, "report.html"), encoding="utf-8") as f:
                page = f.read()
            with open(os.path.join(d, "report.md"), encoding="utf-8") as f:
                md = f.read()
        first = page.split("<h2", 1)[1].split("<h2", 1)[0]
        self.assertIn('id="verdict">Verdict</h2>', "<h2" + first)
        table_ = first.split("<table>", 1)[1].split("</table>", 1)[0]
        self.assertIn("<th>directives that change CPU per request beyond the noise", table_)
        row = next(r for r in table_.split("<tr>") if r.startswith("<td") and "keepalive" in r)
        self.assertRegex(row, r"<code>protect-system-strict</code> \+\d+\.\d% \[\+")
        self.assertNotIn("private-tmp-yes", row)
        self.assertRegex(row, r"no cost found above ±\d+\.\d% \(1 directive\)")
        self.assertNotIn("calibration-work-2us", row)          # a control is not a finding
        self.assertRegex(first, r"<b>Calibration</b>: the known cost agrees on drop keepalive")
        self.assertIn('<a href="#cost-of-each-directive">', page)  # contents after the verdict
        self.assertLess(page.index('id="verdict"'), page.index("<nav>"))
        self.assertLess(page.index("<nav>"), page.index('id="method-and-environment"'))
        # the ranking holds no control; the calibration table does
        ranking = md.split("### drop, keepalive")[1].split("##")[0]
        self.assertNotIn("calibration-work-2us", ranking)
        self.assertIn("`calibration-work-2us`", md.split("## Calibration")[1].split("\n## ")[0])
        self.assertNotIn("| |", md.split("## Cost of each directive")[1].split("\n## ")[0]
                         .split("\n| rank by CPU")[1].split("\n")[0])    # every header named
        self.assertIn("exposure (change vs baseline)", md)

    def test_combined_hardened_unit_in_the_verdict_and_latency(self):
        with tempfile.TemporaryDirectory(prefix="sb-report-h-") as tmp:
            d = sbfixture.make_results(os.path.join(tmp, "h"), rounds=8, seed=22, costs={
                "hardened-drop": (1.06, 4.1, "ok"), "private-tmp-yes": (1.00, 9.2, "ok")})
            self.assertEqual(run([d])[0], 0)
            with open(os.path.join(d, "report.md"), encoding="utf-8") as f:
                md = f.read()
        verdict = md.split("## Verdict")[1].split("**Contents**")[0]
        self.assertRegex(verdict, r"\| drop \| `hardened-drop` \| 9\.6 → 4\.1 \| keepalive "
                                  r"\+\d\.\d% \[\+\d\.\d%, \+\d\.\d%\] \*\*worse\*\* \|")
        self.assertNotIn("No combined hardened unit", verdict)
        self.assertIn("## Latency, baseline against the combined hardened unit", md)
        self.assertIn("| `drop/hardened-drop` |", md.split("## Latency")[1])



class TestUserUnitCopies(unittest.TestCase):
    """The method section says how a user's unit was copied, and why not
    side by side where it was not."""

    def items(self, uu):
        from sblib.report import method
        spec = {"argv": ["run"], "unit": "nginx.service", "url": "https://127.0.0.1/",
                "user_unit": uu}
        res = {"spec": spec, "env": {}, "status": {}, "runs": []}
        return "\n".join(method.what_ran(res)[0])

    def test_netns(self):
        self.assertIn("side by side in a network namespace of its own",
                      self.items({"copies": "netns"}))

    def test_one_at_a_time_says_why(self):
        text = self.items({"copies": "one at a time",
                           "copies_why": "nginx.service has PrivateNetwork=yes"})
        self.assertIn("one copy at a time", text)
        self.assertIn("(nginx.service has PrivateNetwork=yes)", text)
