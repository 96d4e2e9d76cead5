"""Faults in the middle of a run, without a machine: a window that failed
because an instance died or stopped answering restarts it and is measured
again (its records marked), one the load generator lost is measured again,
an instance that cannot be revived is given up as "died", the sandbox host
gone ends the run (HostError); Instances.health/restart on a fake host,
and a unit killed by the OOM killer named as such (from systemd's result
or the kernel log). The real faults: tests/faults/during.py."""
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

    def __init__(self, state, alive=True, result="signal", memory_max="infinity"):
        self.state, self._alive, self.calls = dict(state), alive, []
        self.result, self.memory_max = result, memory_max

    def alive(self):
        return self._alive

    def show(self, unit, *props):
        return {"ActiveState": self.state.get(unit, "inactive"), "Result": self.result,
                "MemoryMax": self.memory_max, "ControlGroup": ""}

    def unit_cgroup(self, unit):
        return "/nonexistent/system.slice/" + unit

    def systemctl(self, *args, **kw):
        self.calls.append(args)
        return types.SimpleNamespace(returncode=0, stdout="", stderr="")

    def journal(self, unit, lines=12, since=None):
        return "lunchd-drop-sb1.service: Main process exited, code=killed, status=9/KILL"


# the kernel's lines of an OOM kill inside a sandbox host's container
# (MemoryMax=6M on cgroup v1, as tests/faults/during.py's instance-oom makes it)
MEMCG = "/process_api/05c5/system.slice/lunchd-drop-sb1.service"
KILL = (f"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
        f"oom_memcg={MEMCG},task_memcg={MEMCG},task=lunchd-drop,pid=1018,uid=999")
GLOBAL = ("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,"
          f"global_oom,task_memcg={MEMCG},task=lunchd-drop,pid=2000,uid=999")
LOG = [(100.0, "lunchd-drop invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0"),
       (100.5, KILL),
       (100.6, "Memory cgroup out of memory: Killed process 1018 (lunchd-drop) total-vm:45412kB")]


class OomNamed(unittest.TestCase):
    def test_a_kmsg_record_is_its_time_and_first_line(self):
        self.assertEqual(recovery.kmsg_record(
            b"4,675,429688710,-;" + KILL.encode() + b"\n SUBSYSTEM=x\n"), (429.68871, KILL))
        self.assertIsNone(recovery.kmsg_record(b"garbage"))

    def test_the_kill_of_the_units_cgroup_since_its_start(self):
        k = recovery.oom_kills(LOG, "/system.slice/lunchd-drop-sb1.service", 99.9)
        self.assertEqual([(x["task"], x["pid"], x["constraint"]) for x in k],
                         [("lunchd-drop", 1018, "CONSTRAINT_MEMCG")])
        # another unit, or a kill before this instance started (a slack aside)
        self.assertEqual(recovery.oom_kills(LOG, "/system.slice/lunchd-drop-sb11.service", 0), [])
        self.assertEqual(recovery.oom_kills(LOG, "/system.slice/lunchd-drop-sb1.service",
                                            100.5 + recovery.CLOCK_SLACK_S + 0.1), [])

    def test_the_wording(self):
        cg = "/system.slice/lunchd-drop-sb1.service"
        kills = recovery.oom_kills(LOG, cg, 0)
        self.assertEqual(recovery.oom_text("signal", "6291456", kills),
                         "killed by the OOM killer (MemoryMax=6M)")
        self.assertEqual(recovery.oom_text("oom-kill", "infinity", []),
                         "killed by the OOM killer (its memory limit)")
        self.assertEqual(recovery.oom_text("exit-code", "3145728", [], events=1),
                         "killed by the OOM killer (MemoryMax=3M)")
        self.assertEqual(recovery.oom_text("signal", "infinity",
                                           recovery.oom_kills([(1.0, GLOBAL)], cg, 0)),
                         "killed by the OOM killer (the machine out of memory)")
        up = KILL.replace(f"oom_memcg={MEMCG}", "oom_memcg=/process_api/05c5/system.slice")
        self.assertEqual(recovery.oom_text("signal", "infinity",
                                           recovery.oom_kills([(1.0, up)], cg, 0)),
                         "killed by the OOM killer (the memory limit of system.slice)")
        self.assertIsNone(recovery.oom_text("signal", "6291456", []))

    def test_sizes_as_systemd_says_them(self):
        self.assertEqual([recovery.size_text(n) for n in (6 << 20, 1 << 30, 1536, 1000)],
                         ["6M", "1G", "1536", "1000"])

    def test_memory_events_of_a_running_unit(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "memory.events"), "w") as f:
                f.write("low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n")
            self.assertEqual(recovery.oom_events(d), 2)
            self.assertEqual(recovery.oom_events(os.path.join(d, "gone")), 0)


class Health(unittest.TestCase):
    def setUp(self):
        # never this machine's own kernel log
        p = mock.patch.object(recovery, "kernel_log", lambda: LOG)
        p.start()
        self.addCleanup(p.stop)

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
        i = self.inst()
        self.assertEqual(f.health(i), "lunchd-drop-sb1.service is failed (result signal)")
        i.started_at = 102.0      # started again after the kill in the log
        self.assertEqual(f.health(i), "lunchd-drop-sb1.service is failed (result signal)")

    def test_a_unit_killed_by_the_oom_killer_is_said_so(self):
        f = self.fleet(FakeHost({"lunchd-drop-sb1.service": "failed"}, memory_max="6291456"))
        i = self.inst()
        i.started_at = 99.0
        self.assertEqual(f.health(i), "lunchd-drop-sb1.service is failed: killed by the OOM "
                                      "killer (MemoryMax=6M)")
        # where systemd reads memory.events (the unified hierarchy) it says so itself
        f = self.fleet(FakeHost({"lunchd-drop-sb1.service": "failed"}, result="oom-kill",
                                memory_max="6291456"))
        i.started_at = 200.0
        self.assertIn("killed by the OOM killer (MemoryMax=6M)", f.health(i))
        f.start = lambda x: True
        self.assertTrue(f.restart(i, f.health(i), {"epoch": 0, "window": 3}))
        self.assertIn("OOM killer", i.restarts[-1]["why"])

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
