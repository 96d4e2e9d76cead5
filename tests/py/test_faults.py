"""Faults in the middle of a run, without a machine: a window that failed
because an instance died or stopped answering restarts it and is measured
again (its records marked), one the load generator lost is measured again,
an instance that cannot be revived is given up as "died", the sandbox host
gone ends the run (HostError); and Instances.health/restart on a fake
host. The real faults: tests/faults/during.py."""
import os
import sys
import tempfile
import types
import unittest
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))

from sblib.measuring import host as _host  # noqa: E402
from sblib.measuring import recovery, runner  # noqa: E402
from sblib.measuring.instances import Instances  # noqa: E402
from sblib.measuring.recovery import MAX_RESTARTS  # noqa: E402
from sblib.records import writer  # noqa: E402


def inst(vid, role="directive"):
    i = types.SimpleNamespace(id=vid, status="ok", reason=None, restarts=[], target="x.service",
                              v={"server": "drop", "role": role})
    return i


class FakeLoader:
    """Windows that fail as OUTCOMES says, in turn (True: good)."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)

    def window(self, pair, mode, rnd, wid, slice_no):
        good = self.outcomes.pop(0)
        return [{"variant": i.id, "window": wid, "mode": mode, "rep": rnd, "phase": "duet",
                 "status": "ok" if good else "error",
                 **({} if good else {"error": "loadgen exit -9"})} for i in pair]


class FakeFleet:
    """health(): what SICK says of an instance (popped per call); restart()
    revives it unless it is in DEAD."""

    def __init__(self, sick=None, dead=(), gone=False):
        self.sick, self.dead, self.gone = dict(sick or {}), set(dead), gone
        self.restarted = []

    def health(self, i):
        if self.gone:
            raise _host.HostError("the sandbox host x is gone")
        return self.sick.pop(i.id, None)

    def restart(self, i, why, where):
        self.restarted.append((i.id, why, where))
        i.restarts.append({**where, "why": why})
        if i.id in self.dead:
            i.status = "died"
            return False
        return True


class Measured(unittest.TestCase):
    def runner(self, d, outcomes, fleet):
        r = runner.Runner.__new__(runner.Runner)
        r.res = writer.Results(d)
        r.lg, r.fleet = FakeLoader(outcomes), fleet
        r.windows_done, r.total, r.remeasures = 5, 10, None
        r.t0, r.slice_times, r.done0 = 0.0, [], 0
        r.progress = lambda what: None
        return r

    def test_a_killed_baseline_is_restarted_and_the_window_measured_again(self):
        with tempfile.TemporaryDirectory() as d:
            base, v = inst("drop/baseline", "baseline"), inst("drop/x")
            fleet = FakeFleet(sick={"drop/baseline": "lunchd-drop-sb1.service is failed "
                                                     "(result signal)"})
            r = self.runner(d, [False, True], fleet)
            recs = r.measure_window([base, v], "keepalive", 3, 2)
            r.res.runs.close()
            self.assertEqual([x["status"] for x in recs], ["ok", "ok"])
            self.assertEqual(fleet.restarted[0][:1], ("drop/baseline",))
            self.assertEqual(fleet.restarted[0][2], {"epoch": 2, "window": 5})
            with open(os.path.join(d, "runs.jsonl")) as f:
                lines = [__import__("json").loads(ln) for ln in f]
            self.assertEqual(len(lines), 4)
            failed, again = lines[:2], lines[2:]
            for x in failed:
                self.assertEqual(x["status"], "error")
                self.assertTrue(x["remeasured"])
                self.assertIn("drop/baseline: lunchd-drop-sb1.service is failed", x["fault"])
                self.assertIn("restarted", x["fault"])
            for x in again:
                self.assertEqual((x["window"], x["remeasures"]), (6, 5))
            self.assertEqual(r.windows_done, 7)
            self.assertEqual(r.total, 12)       # the window measured again is planned too

    def test_a_window_the_load_generator_lost_is_measured_again_once(self):
        with tempfile.TemporaryDirectory() as d:
            pair = [inst("drop/baseline", "baseline"), inst("drop/x")]
            r = self.runner(d, [False, False], FakeFleet())
            recs = r.measure_window(pair, "keepalive", 0, 0)
            r.res.runs.close()
            self.assertEqual([x["status"] for x in recs], ["error", "error"])
            self.assertEqual(r.res.done, 4)
            self.assertIn("still answers", recs[0]["fault"])
            self.assertNotIn("remeasured", recs[0])     # the last try is not measured again
            self.assertEqual(recs[0]["remeasures"], 5)

    def test_an_instance_that_cannot_be_revived_is_not_measured_again(self):
        with tempfile.TemporaryDirectory() as d:
            pair = [inst("drop/baseline", "baseline"), inst("drop/x")]
            fleet = FakeFleet(sick={"drop/x": "out of memory"}, dead={"drop/x"})
            r = self.runner(d, [False], fleet)
            recs = r.measure_window(pair, "keepalive", 0, 0)
            r.res.runs.close()
            self.assertEqual(r.res.done, 2)
            self.assertEqual(pair[1].status, "died")
            self.assertNotIn("remeasured", recs[0])
            self.assertIn("drop/x: out of memory; died", recs[0]["fault"])

    def test_the_host_gone_ends_the_run(self):
        with tempfile.TemporaryDirectory() as d:
            r = self.runner(d, [False], FakeFleet(gone=True))
            with self.assertRaisesRegex(_host.HostError, "gone"):
                r.measure_window([inst("drop/baseline", "baseline"), inst("drop/x")],
                                 "keepalive", 0, 0)
            r.res.runs.close()


class FullDisk(unittest.TestCase):
    def test_a_failed_append_is_cut_back_whole(self):
        """The disk fills in the middle of a window's pair: runs.jsonl ends
        where it did, the error raised, nothing counted."""
        with tempfile.TemporaryDirectory() as d:
            res = writer.Results(d)
            res.add_runs([{"variant": "drop/baseline", "mode": "keepalive"}])
            real, calls = os.write, []

            def write(fd, data):
                calls.append(len(data))
                if len(calls) == 1:
                    return real(fd, bytes(data[:10]))       # part of it, then full
                raise OSError(28, "No space left on device")
            with mock.patch.object(writer.os, "write", write):
                with self.assertRaises(OSError):
                    res.add_runs([{"variant": "drop/x", "window": 1}] * 2)
            res.runs.close()
            with open(os.path.join(d, "runs.jsonl")) as f:
                self.assertEqual(f.read(), '{"variant": "drop/baseline", "mode": "keepalive"}\n')
            self.assertEqual(res.done, 1)
            self.assertEqual(len(calls), 2)


class FakeHost:
    """A sandbox host whose units are in STATE ({unit: ActiveState})."""

    name = "fake"

    def __init__(self, state, alive=True):
        self.state, self._alive, self.calls = dict(state), alive, []

    def alive(self):
        return self._alive

    def show(self, unit, *props):
        return {"ActiveState": self.state.get(unit, "inactive"), "Result": "signal"}

    def systemctl(self, *args, **kw):
        self.calls.append(args)
        return types.SimpleNamespace(returncode=0, stdout="", stderr="")

    def journal(self, unit, lines=12, since=None):
        return "lunchd-drop-sb1.service: Main process exited, code=killed, status=9/KILL"


class Health(unittest.TestCase):
    def fleet(self, host):
        f = Instances.__new__(Instances)
        f.host, f.progress = host, lambda what: None
        return f

    def inst(self):
        i = inst("drop/baseline", "baseline")
        i.start = i.target = "lunchd-drop-sb1.service"
        i.url, i.netns_file, i.startups, i.startup_ms = "https://127.0.0.1:1/", None, [2.0], 2.0
        return i

    def test_a_unit_not_active_is_said_with_its_result(self):
        f = self.fleet(FakeHost({"lunchd-drop-sb1.service": "failed"}))
        self.assertEqual(f.health(self.inst()),
                         "lunchd-drop-sb1.service is failed (result signal)")

    def test_an_active_unit_that_does_not_answer(self):
        f = self.fleet(FakeHost({"lunchd-drop-sb1.service": "active"}))
        old = recovery.probe
        recovery.probe = lambda url, timeout=1.0, netns=None: None
        try:
            self.assertIn("gave no good answer", f.health(self.inst()))
            recovery.probe = lambda url, timeout=1.0, netns=None: 200
            self.assertIsNone(f.health(self.inst()))
        finally:
            recovery.probe = old

    def test_a_host_gone_raises(self):
        f = self.fleet(FakeHost({}, alive=False))
        with self.assertRaisesRegex(_host.HostError, "container ended"):
            f.health(self.inst())

    def test_restart_keeps_the_planned_startups_and_gives_up_after_max(self):
        f = self.fleet(FakeHost({}))
        starts = []

        def start(i):
            starts.append(i.id)
            i.startups.append(9.0)
            i.status = "ok"
            return True
        f.start = start
        i = self.inst()
        for n in range(MAX_RESTARTS):
            self.assertTrue(f.restart(i, "killed", {"epoch": 0, "window": n}))
            self.assertEqual(i.startups, [2.0])
            self.assertEqual(i.restarts[-1]["outcome"], "answers again")
        self.assertFalse(f.restart(i, "killed", {"epoch": 0, "window": 9}))
        self.assertEqual(i.status, "died")
        self.assertEqual(i.restarts[-1]["outcome"], "given up")
        self.assertIn("killed, 4 times", i.reason)
        self.assertEqual(len(starts), MAX_RESTARTS)

    def test_max_restarts_is_the_runs(self):
        f = self.fleet(FakeHost({}))
        f.a = types.SimpleNamespace(max_restarts=1)
        f.start = lambda i: True
        i = self.inst()
        self.assertTrue(f.restart(i, "killed", {"epoch": 0, "window": 0}))
        self.assertFalse(f.restart(i, "killed", {"epoch": 0, "window": 1}))
        self.assertIn("(restarted 1)", i.reason)

    def test_restart_that_does_not_start_is_died(self):
        f = self.fleet(FakeHost({}))

        def start(i):
            i.status, i.reason = "incompatible", "Failed to allocate memory"
            return False
        f.start = start
        i = self.inst()
        self.assertFalse(f.restart(i, "out of memory", {"epoch": 1, "window": 3}))
        self.assertEqual(i.status, "died")
        self.assertIn("restarted: incompatible", i.reason)


if __name__ == "__main__":
    unittest.main()
