"""run --resume's pure parts: what is left of a plan given what was
recorded, the epochs measured again under numbers of their own, a torn
runs.jsonl (its last line, a window half written) cut off on resume and
left out by readers, stale temporary files, and the refusal that names the
field when the code, the catalogue or the plan differ. No root, no systemd."""
import io
import json
import os
import sys
import tempfile
import types
import unittest
from contextlib import redirect_stderr

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))

from sblib.measuring import resume, runplan, session  # noqa: E402
from sblib.measuring.runner import Runner  # noqa: E402
from sblib.records import store, writer  # noqa: E402
from sblib.records.model import ResultsError  # noqa: E402
import sbfixture  # noqa: E402

SHORT = ["--servers", "drop", "--directives", "private-tmp-yes", "--windows", "8",
         "--epochs", "4", "--duet-reps", "1", "--window", "0.2", "--seed", "5"]


def plan_of(argv):
    return runplan.build_plan(runplan.parse(argv))


def as_recorded(spec):
    return json.loads(json.dumps(session.recorded(spec)))


class Left(unittest.TestCase):
    def test_nothing_done_is_the_whole_plan(self):
        for argv in (SHORT, ["--servers", "drop,inetd", "--directives", "private-tmp-yes",
                             "--mode", "keepalive,close", "--reps", "3", "--windows", "6",
                             "--seed", "1"],
                     ["--servers", "drop", "--method", "isolated", "--reps", "5", "--epochs",
                      "3", "--directives", "private-tmp-yes", "--seed", "1"]):
            with self.subTest(argv=argv):
                spec = plan_of(argv)
                left = resume.left(spec, {})
                self.assertEqual(left["slices"], len(spec["order"]))
                d = spec.get("duet") or {}
                want = sum(d["rounds"] * len(d["by_server"][s]["modes"]) *
                           (sum(1 for v in spec["variants"] if v["server"] == s) - 1)
                           for s in d.get("servers", []))
                self.assertEqual(left["windows"], want)
                self.assertEqual(left["runs"], left["slices"] + 2 * left["windows"])
                # the epochs' shares add up to the plan, each round in one epoch
                for s in spec["servers"]:
                    n = resume.epochs_of(spec, s)
                    self.assertEqual(left["epochs"][s], list(range(n)))

    def test_done_epochs_are_not_left(self):
        spec = plan_of(SHORT)
        left = resume.left(spec, {"drop": [0, 1]})
        self.assertEqual(left["epochs"], {"drop": [2, 3]})
        # 8 rounds of windows over 4 epochs, 2 variants beside the baseline
        self.assertEqual(left["windows"], 4 * 2)
        # one isolated round (--duet-reps 1) falls in the last epoch
        self.assertEqual(left["slices"], 3)
        done = resume.left(spec, {"drop": [0, 1, 2, 3]})
        self.assertEqual((done["windows"], done["slices"], done["runs"]), (0, 0, 0))
        # a wrong figure must fail: epoch 3 alone holds the isolated slices
        self.assertEqual(resume.left(spec, {"drop": [3]})["slices"], 0)

    def test_one_at_a_time_resumes_slice_by_slice(self):
        spec = plan_of(SHORT)
        spec["servers"], spec["user_unit"] = ["unit"], {"side": False}
        spec["order"] = ["unit/baseline|keepalive|0", "unit/x|keepalive|0",
                         "unit/baseline|keepalive|1"]
        spec.pop("duet")
        runs = [{"variant": "unit/baseline", "mode": "keepalive", "round": 0,
                 "phase": "isolated", "server": "unit"}]
        keys = resume.recorded_keys(runs, spec)
        self.assertEqual(keys, {"unit/baseline|keepalive|0"})
        self.assertEqual(resume.left(spec, {}, keys)["slices"], 2)


class Todo(unittest.TestCase):
    def test_the_epoch_in_flight_gets_a_number_of_its_own(self):
        spec = plan_of(SHORT)
        runs = [{"server": "drop", "epoch": e} for e in (0, 1, 2)]
        # 0 and 1 done, 2 was in flight (records of it), 3 never started
        self.assertEqual(resume.todo(spec, "drop", {"drop": [0, 1]}, runs), [(2, 4), (3, 3)])
        # killed again while measuring it as 4: next time it is 5
        runs.append({"server": "drop", "epoch": 4, "planned_epoch": 2})
        self.assertEqual(resume.todo(spec, "drop", {"drop": [0, 1]}, runs), [(2, 5), (3, 3)])
        # killed between epochs: nothing to measure again
        self.assertEqual(resume.todo(spec, "drop", {"drop": [0, 1, 2]}, runs), [(3, 3)])
        self.assertEqual(resume.todo(spec, "drop", {}, []), [(e, e) for e in range(4)])

    def test_next_window(self):
        self.assertEqual(resume.next_window([]), 0)
        self.assertEqual(resume.next_window([{"window": 3}, {"slice": 9}, {"window": 7}]), 8)


class FakeRunner(Runner):
    """The runner's epoch loop without a machine: every epoch "measured"
    records its plan epoch and number."""

    def __init__(self, spec, past, res):
        a = types.SimpleNamespace(warmup=0)
        super().__init__(a, spec, None, res, "loadgen", {}, past)
        self.calls = []

    def progress(self, what):
        pass

    def epoch(self, sspec, sources, vs, slices, e, num):
        self.calls.append((e, num))
        self.epoch_done(sspec["name"], e)
        insts = []
        for v in vs:
            i = types.SimpleNamespace(id=v["id"], status="ok", reason=None, memory=1,
                                      startups=[1.0], v=v)
            i.record = lambda i=i: {"status": i.status, "startups": list(i.startups)}
            insts.append(i)
        return insts


class RunnerResume(unittest.TestCase):
    def test_only_what_is_left_is_measured(self):
        spec = plan_of(SHORT)
        with tempfile.TemporaryDirectory() as d:
            res = writer.Results(d)
            res.done = 40
            past = {"runs": [{"server": "drop", "epoch": e, "window": e} for e in (0, 1, 2)],
                    "epochs_done": {"drop": [0, 1]},
                    "variants": {v["id"]: {"status": "ok", "startup_ms": 3.0}
                                 for v in spec["variants"]}}
            r = FakeRunner(spec, past, res)
            self.assertEqual(r.windows_done, 3)
            # what is left: epochs 2 and 3 of the plan, nothing done counted
            self.assertEqual(r.total, resume.left(spec, {"drop": [0, 1]})["runs"])
            self.assertEqual(res.planned, 40 + r.total)
            r.run()
            self.assertEqual(r.calls, [(2, 4), (3, 3)])
            # the recorded variants keep their records, the new epochs' start-ups added
            self.assertEqual(r.variants["drop/baseline"]["startup_ms_samples"], [3.0, 1.0, 1.0])
            with open(os.path.join(d, "status.json")) as f:
                st = json.load(f)
            self.assertEqual(st["resume"], resume.command(d))
            self.assertEqual(st["epochs_done"], {"drop": [0, 1, 2, 3]})
            self.assertEqual(st["left"], {"epochs": {"drop": []}, "slices": 0, "windows": 0,
                                          "runs": 0})
            res.runs.close()


def write_lines(path, text):
    with open(path, "w") as f:
        f.write(text)


class Torn(unittest.TestCase):
    REC = {"variant": "drop/baseline", "mode": "keepalive", "status": "ok"}

    def lines(self, *recs):
        return "".join(json.dumps(r) + "\n" for r in recs)

    def test_a_torn_last_line_is_cut_on_resume_and_left_out_by_readers(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "runs.jsonl")
            good = self.lines(self.REC, self.REC, self.REC)
            write_lines(p, good + '{"variant": "drop/base')
            err = io.StringIO()
            with redirect_stderr(err):
                self.assertEqual(len(store.read_runs(p)), 3)
            self.assertIn("cut short", err.getvalue())
            kept, notes = writer.repair_tail(p)
            self.assertEqual(kept, 3)
            self.assertTrue(notes and "cut short" in notes[0])
            with open(p) as f:
                self.assertEqual(f.read(), good)
            # nothing more to cut
            self.assertEqual(writer.repair_tail(p), (3, []))

    def test_half_a_window_is_cut(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "runs.jsonl")
            w = dict(self.REC, window=4, **{"with": ["drop/x"]})
            full = self.lines(self.REC, w, dict(w, variant="drop/x", **{"with": ["drop/baseline"]}))
            write_lines(p, full + self.lines(dict(w, window=5)) + '{"vari')
            kept, notes = writer.repair_tail(p)
            self.assertEqual(kept, 3)
            self.assertEqual(len(notes), 2)
            self.assertIn("window 5", notes[1])
            with open(p) as f:
                self.assertEqual(f.read(), full)

    def test_a_damaged_line_inside_is_an_error_not_a_torn_tail(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "runs.jsonl")
            write_lines(p, self.lines(self.REC) + "{nope\n" + self.lines(self.REC))
            with self.assertRaises(ResultsError):
                store.read_runs(p)

    def test_load_tolerates_a_torn_line(self):
        with tempfile.TemporaryDirectory() as d:
            with redirect_stderr(io.StringIO()):
                sbfixture.make_results(d, rounds=3)
            n = len(store.load(d)["runs"])
            with open(os.path.join(d, "runs.jsonl"), "a") as f:
                f.write('{"variant": "drop/baseline", "mo')
            err = io.StringIO()
            with redirect_stderr(err):
                self.assertEqual(len(store.load(d)["runs"]), n)
            self.assertIn("left out", err.getvalue())

    def test_reopen_removes_temporaries_and_counts_records(self):
        with tempfile.TemporaryDirectory() as d:
            write_lines(os.path.join(d, "runs.jsonl"), self.lines(self.REC, self.REC))
            write_lines(os.path.join(d, ".status.json.ab_3x9k2"), '{"sta')
            write_lines(os.path.join(d, ".keep"), "not ours")
            res, notes = writer.Results.reopen(d)
            res.runs.close()
            self.assertEqual(res.done, 2)
            self.assertFalse(os.path.exists(os.path.join(d, ".status.json.ab_3x9k2")))
            self.assertTrue(os.path.exists(os.path.join(d, ".keep")))
            self.assertEqual(len(notes), 1)


class Refusal(unittest.TestCase):
    CODE = {"commit": "a" * 40, "changes": None}

    def recorded(self):
        spec = plan_of(SHORT)
        rec = as_recorded(spec)
        rec.update(created="x", commit="g123", argv=["run"] + SHORT, code=dict(self.CODE),
                   catalogue_sha256=resume.catalogue_digests(spec))
        return rec

    def refused(self, rebuilt_argv=SHORT, code=None, digests=None):
        rec = self.recorded()
        spec = plan_of(rebuilt_argv)
        try:
            resume.check(rec, session.recorded(spec), code or dict(self.CODE),
                         digests if digests is not None else resume.catalogue_digests(spec))
        except resume.Refused as e:
            return e.field, str(e)
        return None

    def test_the_same_run_is_accepted(self):
        self.assertIsNone(self.refused())

    def test_a_changed_plan_is_refused_naming_the_field(self):
        self.assertEqual(self.refused(SHORT + ["--windows", "10"])[0], "duet.rounds")
        self.assertEqual(self.refused(SHORT + ["--seed", "6"])[0], "seed")
        self.assertEqual(self.refused(SHORT + ["--duration", "0.5"])[0], "duration")
        field, text = self.refused(SHORT + ["--directives", "private-tmp-yes,protect-home-yes"])
        self.assertEqual(field, "catalogue_sha256.units/directives/protect-home-yes.conf")

    def test_changed_code_is_refused(self):
        self.assertEqual(self.refused(code={"commit": "b" * 40, "changes": None})[0],
                         "code.commit")
        self.assertEqual(self.refused(code=dict(self.CODE, changes="1234"))[0], "code.changes")

    def test_a_changed_directive_file_is_refused(self):
        spec = plan_of(SHORT)
        dig = {k: "0" * 64 for k in resume.catalogue_digests(spec)}
        field, _ = self.refused(digests=dig)
        self.assertEqual(field, "catalogue_sha256.units/directives/private-tmp-yes.conf")

    def test_a_run_made_before_resume_is_refused(self):
        rec = self.recorded()
        del rec["code"]
        with self.assertRaises(resume.Refused) as c:
            resume.check(rec, session.recorded(plan_of(SHORT)), self.CODE, {})
        self.assertEqual(c.exception.field, "code")

    def test_the_runs_own_options_then_the_given_ones(self):
        argv = resume.resume_argv(["run", "--out", "/x", "--seed", "5", "--out=/y"],
                                  ["--resume", "/x", "--name", "n"])
        self.assertEqual(argv, ["--seed", "5", "--resume", "/x", "--name", "n"])

    def test_code_identity_of_this_tree(self):
        code = resume.code_identity()
        self.assertIn("commit", code)
        if code["commit"]:
            self.assertEqual(len(code["commit"]), 40)


if __name__ == "__main__":
    unittest.main()
