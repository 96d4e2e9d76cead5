"""advise's cost run resumed: advise again with the same --out finds the
cost run it left interrupted (the same drop-ins and options) and goes on
with it as `run --resume` would; one made with other code or another plan
is refused, the field named, and measured anew; a cost run's results read
as a CostRun. No root, no systemd."""
import io
import json
import os
import sys
import tempfile
import types
import unittest
from contextlib import redirect_stderr
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))

from sblib.measuring import advisor, costrun, resume, runplan, session  # noqa: E402

ARGV = ["--servers", "drop", "--directives", "private-tmp-yes", "--windows", "8", "--epochs",
        "2", "--duet-reps", "1", "--window", "0.2", "--seed", "1", "--no-report"]


def cost_dir(out, n, argv, state="interrupted", code=None):
    """OUT/cost-N as a cost run made with ARGV left it."""
    d = os.path.join(out, f"cost-{n}")
    os.makedirs(d)
    spec = session.recorded(runplan.build_plan(runplan.parse(argv + ["--out", d])))
    spec.update(argv=["run"] + argv + ["--out", d], code=code or resume.code_identity(),
                catalogue_sha256=resume.catalogue_digests(spec))
    for name, obj in (("spec.json", spec), ("status.json", {"state": state})):
        with open(os.path.join(d, name), "w") as f:
            json.dump(obj, f)
    with open(os.path.join(d, "runs.jsonl"), "w") as f:
        f.write(json.dumps({"server": "drop", "epoch": 0, "window": 0, "mode": "keepalive",
                            "variant": "drop/baseline", "status": "ok"}) + "\n")
    return d


class CostResume(unittest.TestCase):
    def test_the_unfinished_run_of_the_same_argv_is_found(self):
        with tempfile.TemporaryDirectory() as out:
            # complete, and advice.json took its figures from it: advise finished
            cost_dir(out, 0, ARGV, state="complete")
            with open(os.path.join(out, "advice.json"), "w") as f:
                json.dump({"cost": {"run": "cost-0"}}, f)
            taken = costrun.used(out)
            self.assertEqual(taken, {"cost-0"})
            self.assertIsNone(costrun.unfinished(out, ARGV, taken))
            d = cost_dir(out, 1, ARGV)
            self.assertEqual(costrun.unfinished(out, ARGV, taken), d)
            other = [x if x != "8" else "10" for x in ARGV]
            self.assertIsNone(costrun.unfinished(out, other, taken))
            # advise stopped after its run was complete, before advice.json
            # took it: that run, the last of the same argv
            d10 = cost_dir(out, 10, ARGV, state="complete")
            with open(os.path.join(out, "advice.json"), "w") as f:
                json.dump({"members": [], "cost": {"pending": "under way"}}, f)
            self.assertEqual(costrun.used(out), set())
            self.assertEqual(costrun.unfinished(out, ARGV, costrun.used(out)), d10)

    def test_it_goes_on_as_run_resume_would(self):
        with tempfile.TemporaryDirectory() as out:
            d = cost_dir(out, 0, ARGV)
            seen = {}

            def measure(a, spec, res, argv, loadgen, host=None, past=None, recorded_spec=None):
                seen.update(past=past, recorded=recorded_spec, path=res.path)
                res.runs.close()
                return types.SimpleNamespace(state="complete")
            with mock.patch.object(session, "measure", measure), \
                    mock.patch.object(session, "summary_lines", lambda end: []), \
                    redirect_stderr(io.StringIO()) as err:
                rc = costrun.cost_run(ARGV + ["--out", d], None, "loadgen", resumes=d)
            self.assertEqual(rc, 0)
            self.assertEqual(seen["path"], d)
            self.assertEqual(len(seen["past"]["runs"]), 1)
            self.assertEqual(seen["recorded"]["argv"][-1], d)
            self.assertIn(f"resuming the cost run in {d}", err.getvalue())

    def test_a_complete_run_is_taken_as_it_is(self):
        with tempfile.TemporaryDirectory() as out:
            d = cost_dir(out, 0, ARGV, state="complete")
            with mock.patch.object(session, "measure", side_effect=AssertionError("measured")), \
                    redirect_stderr(io.StringIO()) as err:
                rc = costrun.cost_run(ARGV + ["--out", d], None, "loadgen", resumes=d)
            self.assertEqual(rc, 0)
            self.assertIn(f"the cost run in {d} is complete", err.getvalue())
            d1 = cost_dir(out, 1, ARGV, state="complete",
                          code=dict(resume.code_identity(), changes="f" * 16))
            with redirect_stderr(io.StringIO()) as err:
                rc = costrun.cost_run(ARGV + ["--out", d1], None, "loadgen", resumes=d1)
            self.assertIsNone(rc)
            self.assertIn("code.changes", err.getvalue())

    def test_other_code_is_refused_naming_the_field(self):
        with tempfile.TemporaryDirectory() as out:
            d = cost_dir(out, 0, ARGV, code=dict(resume.code_identity(), commit="0" * 40))
            with redirect_stderr(io.StringIO()) as err:
                rc = costrun.cost_run(ARGV + ["--out", d], None, "loadgen", resumes=d)
            self.assertIsNone(rc)
            self.assertIn("code.commit", err.getvalue())
            self.assertIn("measured anew", err.getvalue())

    def test_a_changed_drop_in_is_refused_naming_its_file(self):
        with tempfile.TemporaryDirectory() as out:
            conf = os.path.join(out, "dropins", "advice.conf")
            os.makedirs(os.path.dirname(conf))
            with open(conf, "w") as f:
                f.write("[Service]\nPrivateTmp=yes\n")
            argv = [x if x != "private-tmp-yes" else f"private-tmp-yes,{conf}" for x in ARGV]
            d = cost_dir(out, 0, argv)
            with open(conf, "w") as f:
                f.write("[Service]\nProtectHome=yes\n")
            with redirect_stderr(io.StringIO()) as err:
                rc = costrun.cost_run(argv + ["--out", d], None, "loadgen", resumes=d)
            self.assertIsNone(rc)
            self.assertIn(f"catalogue_sha256.{conf}", err.getvalue())

    def test_advise_again_resumes_the_cost_run_it_left(self):
        with tempfile.TemporaryDirectory() as out:
            a = types.SimpleNamespace(out=out, url="https://127.0.0.1:8443/", seed=1, name="x",
                                      server_cpu=1, loadgen_cpu=0, unit=["/x/web.service"],
                                      loadgen=None, cost_args="")
            calls = []

            def fake(argv, host, loadgen, resumes=None):
                d = argv[argv.index("--out") + 1]
                calls.append((d, resumes))
                if not os.path.exists(d):
                    os.makedirs(d)
                    with open(os.path.join(d, "spec.json"), "w") as f:
                        json.dump({"argv": ["run"] + argv}, f)
                    with open(os.path.join(d, "status.json"), "w") as f:
                        json.dump({"state": "interrupted"}, f)
                    open(os.path.join(d, "runs.jsonl"), "w").close()
                return 130
            with mock.patch.object(costrun, "cost_run", fake):
                for _ in range(2):
                    with self.assertRaisesRegex(advisor._host.HostError, "goes on with it"):
                        advisor.cost(a, None, "loadgen", {"private-tmp-yes": "x"})
            first = calls[0][0]
            self.assertEqual(calls, [(first, None), (first, first)])


def summary_dir(d, summary, spec=None):
    """D as a finished cost run: SUMMARY (a JSON object, or text as it is)
    and its spec.json."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "summary.json"), "w") as f:
        f.write(summary if isinstance(summary, str) else json.dumps(summary))
    with open(os.path.join(d, "spec.json"), "w") as f:
        json.dump(spec or {"schema": "sandbench-spec/1", "user_unit": {"copies": "netns"}}, f)
    return d


SUMMARY = {"schema": "sandbench-summary/2",
           "rows": [{"variant": "unit/baseline", "mode": "keepalive", "startup_ms": 20.0},
                    {"variant": "unit/advice", "mode": "keepalive",
                     "cpu_ns_per_req_change": 0.012},
                    {"variant": "unit/advice", "mode": "close", "cpu_ns_per_req_change": 0.5},
                    {"variant": "unit/protect-system-strict+read-write-paths",
                     "mode": "keepalive", "cpu_ns_per_req_change": 0.003}],
           "aa": [{"server": "unit", "mode": "close", "floor": 0.09},
                  {"server": "unit", "mode": "keepalive", "floor": 0.011}]}


class CostRead(unittest.TestCase):
    """A cost run's results read through records.store into a CostRun: its
    keep-alive rows by name (a repaired member under the member's name too),
    the A/A floor and how the copies ran as named fields."""

    def test_rows_floor_and_copies(self):
        with tempfile.TemporaryDirectory() as d:
            run = costrun.CostRun.read(summary_dir(d, SUMMARY), {
                "protect-system-strict+read-write-paths": "protect-system-strict"})
            self.assertEqual(run.row("advice")["cpu_ns_per_req_change"], 0.012)
            self.assertEqual(run.row("protect-system-strict")["cpu_ns_per_req_change"], 0.003)
            self.assertEqual(run.row("baseline")["startup_ms"], 20.0)
            self.assertIsNone(run.row("private-tmp-yes"))
            self.assertEqual((run.floor, run.copies, run.path), (0.011, "netns", d))
            self.assertFalse(any(k.startswith("_") for k in run.rows))

    def test_a_summary_cut_short_or_newer_is_named(self):
        with tempfile.TemporaryDirectory() as d:
            summary_dir(d, json.dumps(SUMMARY)[:40])
            with self.assertRaisesRegex(costrun.ResultsError, "summary.json: not valid JSON"):
                costrun.CostRun.read(d)
            summary_dir(d, dict(SUMMARY, schema="sandbench-summary/9"))
            with self.assertRaisesRegex(costrun.ResultsError, "update sandbench"):
                costrun.CostRun.read(d)
            summary_dir(d, dict(SUMMARY, rows={"a": 1}))
            with self.assertRaisesRegex(costrun.ResultsError, "'rows' and 'aa'"):
                costrun.CostRun.read(d)

    def test_cost_says_a_run_it_cannot_read(self):
        with tempfile.TemporaryDirectory() as out:
            a = types.SimpleNamespace(out=out, url="https://127.0.0.1:8443/", seed=1, name="x",
                                      server_cpu=1, loadgen_cpu=0, unit=["/x/web.service"],
                                      loadgen=None, cost_args="")

            def fake(argv, host, loadgen, resumes=None):
                summary_dir(argv[argv.index("--out") + 1], '{"rows": [')
                return 0
            with mock.patch.object(costrun, "cost_run", fake):
                with self.assertRaisesRegex(advisor._host.HostError,
                                            "cannot be read: .*summary.json"):
                    advisor.cost(a, None, "loadgen", {"private-tmp-yes": "x"})

            def good(argv, host, loadgen, resumes=None):
                summary_dir(argv[argv.index("--out") + 1], SUMMARY)
                return 0
            with mock.patch.object(costrun, "cost_run", good):
                run = advisor.cost(a, None, "loadgen", {"private-tmp-yes": "x"})
            self.assertEqual(run.row("advice")["cpu_ns_per_req_change"], 0.012)



class CostTexts(unittest.TestCase):
    def test_the_run_measures_the_lines_tried_not_the_comments(self):
        """advice.conf's comments name a namespace's inode and other evidence
        that differ from one advise to the next: the cost run's drop-in of
        the whole is the lines tried (Advisor.body), the same each time, so
        advise again finds it the same file and resumes."""
        with tempfile.TemporaryDirectory() as out:
            a = types.SimpleNamespace(out=out, budget=5.0)
            adv = advisor.Advisor(a, None, {})
            adv.say = lambda text: None
            bodies = []
            for inode in ("4026532185", "4026532311"):
                adv.info = {"private-tmp-yes": {"body": "[Service]\nPrivateTmp=yes\n",
                                                "does": "PrivateTmp=yes",
                                                "in_force": f"mntns: own mnt namespace "
                                                            f"(mnt:[{inode}])"}}
                result = {"members": ["private-tmp-yes"], "exposure": {"after": 9.2}}
                seen = {}

                def cost(a_, host, loadgen, dropins, taken=()):
                    seen.update(dropins)
                    return costrun.CostRun(os.path.join(out, "cost-4"), {})
                with mock.patch.object(advisor, "cost", cost):
                    advisor.measure_cost(a, adv, result, "web.service", None, "lg", {})
                bodies.append(seen["advice"])
                with open(os.path.join(out, "advice.conf")) as f:
                    self.assertIn(inode, f.read())      # advice.conf keeps its evidence
            self.assertEqual(bodies[0], bodies[1])
            self.assertEqual(bodies[0], adv.body(["private-tmp-yes"]))
            self.assertNotIn("mnt:[", bodies[0])


if __name__ == "__main__":
    unittest.main()
