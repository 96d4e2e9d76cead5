"""`sandbench startup --resume DIR` without a machine: a measurement cut in
the middle of a round goes on with exactly the samples its rounds lack
(none measured twice, none missing, the analysis over all of them); one
still going, complete, or made with other code, files or plan is refused
(the field named); a torn last sample line is cut."""
import collections
import json
import os
import sys
import tempfile
import types
import unittest
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))

from sblib.measuring import resume, startup  # noqa: E402
from sblib.records import status  # noqa: E402


class FakeFleet:
    """Every variant starts, every start takes 10 ms (20 for a directive)."""

    def __init__(self, host, server, variants, *args):
        self.insts = [types.SimpleNamespace(id=v["id"], status="ok") for v in variants]
        self.by = {i.id: i for i in self.insts}
        self.started = []

    def up(self):
        pass

    def down(self):
        pass

    def put(self, i):
        pass

    def take(self, i):
        pass

    def start_once(self, i, read_pid1):
        self.started.append(i.id)
        return {"status": "ok", "total_ms": 10.0 if i.id.endswith("baseline") else 20.0}

    def records(self):
        return {i.id: {"status": "ok"} for i in self.insts}


class Stop(Exception):
    pass


def measure(past=(), stop_after=None):
    """startup._measure with the machine faked: (samples of this process,
    the result); STOP_AFTER samples in, it is "killed" (Stop)."""
    new = []

    def sink(rec):
        if stop_after is not None and len(new) >= stop_after:
            raise Stop()
        new.append(rec)
    with mock.patch.multiple(startup, Fleet=FakeFleet, clear_mounts=lambda h: None,
                             set_mounts=lambda h, lv: None, wait_pid1_idle=lambda r: 0.0,
                             host_mount_count=lambda h: 0,
                             pid1_cpu=lambda h: (lambda: 0, "fake")):
        try:
            r = startup.measure_startup(None, ["private-tmp-yes", "protect-home-yes"], reps=6,
                                        seed=3, server="drop", mounts=(0, 100), sink=sink,
                                        progress=lambda s: None, past=list(past))
        except Stop:
            r = None
    return new, r


def cells(samples):
    return collections.Counter((s["mounts"], s["round"], s["variant"]) for s in samples)


class Resume(unittest.TestCase):
    def test_a_cut_measurement_goes_on_with_what_its_rounds_lack(self):
        whole, full = measure()
        for cut in (1, 7, len(whole) // 2, len(whole) - 1):
            before, _ = measure(stop_after=cut)
            self.assertEqual(len(before), cut)
            after, r = measure(past=before)
            # nothing measured twice, nothing missing: the plan's samples
            self.assertEqual(cells(before) + cells(after), cells(whole), cut)
            self.assertEqual(len(r["samples"]), len(whole))
            self.assertEqual(r["analysis"]["costs"], full["analysis"]["costs"])
            self.assertEqual([s["seq"] for s in r["samples"]], list(range(len(whole))))

    def test_nothing_left_measures_nothing(self):
        whole, _ = measure()
        after, r = measure(past=whole)
        self.assertEqual(after, [])
        self.assertEqual(len(r["samples"]), len(whole))


def write(path, obj):
    with open(path, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))


class Refusals(unittest.TestCase):
    SPEC = {"seed": 1, "servers": ["drop"], "directives": ["private-tmp-yes"],
            "combines": [["both", ["private-tmp-yes", "protect-home-yes"]]], "reps": 4,
            "host_mounts": [0]}

    def recorded(self):
        return dict(self.SPEC, code=resume.code_identity(), argv=["startup"],
                    catalogue_sha256=resume.startup_digests(self.SPEC, None))

    def test_its_own_plan_is_accepted_another_refused_naming_the_field(self):
        rec = self.recorded()
        resume.check(rec, dict(self.SPEC), resume.code_identity(),
                     resume.startup_digests(self.SPEC, None))
        with self.assertRaises(resume.Refused) as c:
            resume.check(rec, dict(self.SPEC, reps=5), resume.code_identity(),
                         resume.startup_digests(self.SPEC, None))
        self.assertEqual(c.exception.field, "reps")
        with self.assertRaises(resume.Refused) as c:
            resume.check(rec, dict(self.SPEC), dict(resume.code_identity(), commit="0" * 40),
                         resume.startup_digests(self.SPEC, None))
        self.assertEqual(c.exception.field, "code.commit")

    def test_the_files_of_combinations_and_a_unit_are_checked(self):
        d = resume.startup_digests(self.SPEC, None)
        self.assertIn("units/directives/protect-home-yes.conf", d)     # only in the combination
        with tempfile.TemporaryDirectory() as t:
            unit = os.path.join(t, "my.service")
            write(unit, "[Service]\nExecStart=/bin/true\n")
            rec = dict(self.recorded(), catalogue_sha256=resume.startup_digests(self.SPEC, unit))
            write(unit, "[Service]\nExecStart=/bin/false\n")
            with self.assertRaises(resume.Refused) as c:
                resume.check(rec, dict(self.SPEC), resume.code_identity(),
                             resume.startup_digests(self.SPEC, unit))
            self.assertEqual(c.exception.field, f"catalogue_sha256.{unit}")

    def test_which_directories_can_be_resumed(self):
        with tempfile.TemporaryDirectory() as t:
            self.assertRaisesRegex(ValueError, "no start-up measurement",
                                   resume.startup_interrupted, t)
            write(os.path.join(t, "startup-spec.json"), self.SPEC)
            # killed before startup.json: resumable
            self.assertEqual(resume.startup_interrupted(t)[1]["state"], "interrupted")
            write(os.path.join(t, "startup.json"), {"state": "running",
                                                   "writer": status.writer_id()})
            self.assertRaisesRegex(ValueError, "still going", resume.startup_interrupted, t)
            dead = dict(status.writer_id(), pid=2 ** 22 + 1)
            write(os.path.join(t, "startup.json"), {"state": "running", "writer": dead})
            self.assertEqual(resume.startup_interrupted(t)[1]["state"], "interrupted")
            write(os.path.join(t, "startup.json"), {"state": "complete"})
            self.assertRaisesRegex(ValueError, "complete", resume.startup_interrupted, t)

    def test_a_torn_last_sample_and_temporaries_are_removed(self):
        with tempfile.TemporaryDirectory() as t:
            write(os.path.join(t, "startup.jsonl"), '{"round": 0}\n{"round": 1}\n{"rou')
            write(os.path.join(t, ".startup.json.abcd1234"), "{")
            said = []
            self.assertEqual(resume.startup_samples(t, said.append), [{"round": 0}, {"round": 1}])
            self.assertEqual(len(said), 2)
            self.assertEqual(sorted(os.listdir(t)), ["startup.jsonl"])

    def test_startup_json_says_the_resume_command_unless_complete(self):
        with tempfile.TemporaryDirectory() as t:
            startup.write_result(t, "interrupted", [])
            with open(os.path.join(t, "startup.json")) as f:
                self.assertEqual(json.load(f)["resume"], resume.startup_command(t))
            startup.write_result(t, "complete", [])
            with open(os.path.join(t, "startup.json")) as f:
                self.assertNotIn("resume", json.load(f))


if __name__ == "__main__":
    unittest.main()
