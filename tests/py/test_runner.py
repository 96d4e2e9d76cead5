"""Pure logic of sandbench run/host: order randomization, summary math,
placeholder filling, unit renaming, catalogue headers, evidence parsing and
verdicts on captured /proc text. No root, no systemd needed."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))

from sblib import catalogue as cat  # noqa: E402
from sblib import evidence as ev  # noqa: E402
from sblib.measuring import host as _host  # noqa: E402
from sblib import templates
from sblib.measuring import plan  # noqa: E402
from sblib.commands import run  # noqa: E402
from sblib.measuring import kernel, runner, runplan, session  # noqa: E402
from sblib.records import windows as win  # noqa: E402
from sblib.measuring.reach import busy, settle  # noqa: E402
from sblib.measuring.load import Loader  # noqa: E402
import sbfixture  # noqa: E402

# /proc/PID/status of lunchd-activated under SystemCallFilter=@system-service
# in the nspawn host (captured; trimmed of memory lines).
STATUS = """Name:\tlunchd-activate
Umask:\t0022
State:\tS (sleeping)
Tgid:\t7311
Ngid:\t0
Pid:\t7311
PPid:\t7114
TracerPid:\t0
Uid:\t61849\t61849\t61849\t61849
Gid:\t61849\t61849\t61849\t61849
FDSize:\t64
Groups:\t
NStgid:\t7311\t58
NSpid:\t7311\t58
NSpgid:\t7311\t58
NSsid:\t7311\t58
Threads:\t1
CapInh:\t0000000000000000
CapPrm:\t0000000000000000
CapEff:\t0000000000000000
CapBnd:\t00000000fcecafff
CapAmb:\t0000000000000000
NoNewPrivs:\t1
Seccomp:\t2
Seccomp_filters:\t11
Speculation_Store_Bypass:\tthread vulnerable
Cpus_allowed_list:\t1
"""

BASE = """Uid:\t0\t0\t0\t0
Gid:\t0\t0\t0\t0
CapEff:\t00000000fcecafff
CapPrm:\t00000000fcecafff
CapBnd:\t00000000fcecafff
NoNewPrivs:\t0
Seccomp:\t2
Seccomp_filters:\t5
"""


class TestOrder(unittest.TestCase):
    def test_same_seed_same_order(self):
        ids = ["a/baseline", "a/baseline-aa", "a/x", "a/y"]
        o1 = plan.slice_order(ids, ["keepalive", "close"], 5, 42)
        o2 = plan.slice_order(ids, ["keepalive", "close"], 5, 42)
        self.assertEqual(o1, o2)
        self.assertNotEqual(o1, plan.slice_order(ids, ["keepalive", "close"], 5, 43))

    def test_blocked_every_round_holds_every_cell_once(self):
        ids = ["s/baseline", "s/baseline-aa", "s/d1", "s/d2", "s/d3"]
        order = plan.slice_order(ids, ["keepalive"], 7, 1)
        self.assertEqual(len(order), 35)
        for r in range(7):
            cells = sorted(v for v, m, rnd in order if rnd == r)
            self.assertEqual(cells, sorted(ids))
        # rounds are contiguous blocks, in order
        self.assertEqual([o[2] for o in order], sorted(o[2] for o in order))

    def test_order_is_shuffled(self):
        ids = [f"s/v{i}" for i in range(8)]
        order = plan.slice_order(ids, ["keepalive"], 4, 7)
        blocks = [[v for v, _, r in order if r == k] for k in range(4)]
        self.assertTrue(any(b != ids for b in blocks))
        self.assertGreater(len({tuple(b) for b in blocks}), 1)

    def test_variants(self):
        vs = plan.variants_for(["drop"], ["a", "b"], [("seed", ["a", "c"])], False)
        self.assertEqual([v["id"] for v in vs],
                         ["drop/baseline", "drop/baseline-aa", "drop/a", "drop/b", "drop/seed"])
        self.assertEqual(vs[1]["role"], "aa")
        self.assertEqual(vs[4]["directives"], ["a", "c"])
        vs = plan.variants_for(["drop"], ["a"], [], False, aa_copies=3)
        self.assertEqual([v["id"] for v in vs], ["drop/baseline", "drop/baseline-aa",
                                                 "drop/baseline-aa2", "drop/baseline-aa3",
                                                 "drop/a"])
        self.assertEqual([v["role"] for v in vs][1:4], ["aa", "variant", "variant"])
        vs = plan.variants_for(["drop", "inetd"], ["a", "b"], [], True)
        self.assertEqual([v["id"] for v in vs if v["server"] == "inetd"],
                         ["inetd/baseline", "inetd/baseline-aa", "inetd/combined"])


def run_rec(variant, rnd, rps, cpu, p99, mode="keepalive", status="ok"):
    return {"variant": variant, "server": variant.split("/")[0], "mode": mode, "round": rnd,
            "status": status, "rps": rps, "cpu_ns_per_req": cpu, "errors": 0,
            "latency_us": {"p50": p99 / 4, "p99": p99, "p99.9": p99 * 2}}


class TestUnits(unittest.TestCase):
    def test_fill(self):
        m = templates.placeholders("/opt/sandbench/build/bin")
        t = _host.fill("ExecStart=@BINDIR@/lunchd-drop --key @TLSDIR@/key.pem --user @USER@\n", m)
        self.assertEqual(t, "ExecStart=/opt/sandbench/build/bin/lunchd-drop "
                            "--key /etc/sandbench/tls/key.pem --user lunchd\n")
        self.assertEqual(_host.fill("a@example.com %i @RUNDIR@", m), "a@example.com %i /run/sandbench")

    def test_fill_rejects_unknown(self):
        with self.assertRaises(_host.HostError) as c:
            _host.fill("X=@NOPE@", templates.placeholders("/b"))
        self.assertIn("@NOPE@", str(c.exception))

    def test_instance_names(self):
        self.assertEqual(plan.instance_name("lunchd-drop.service", "sb3"), "lunchd-drop-sb3.service")
        self.assertEqual(plan.instance_name("lunchd-activated-inetd@.service", "sb1"),
                         "lunchd-activated-inetd-sb1@.service")

    def test_rename_refs(self):
        names = ["lunchd-activated.socket", "lunchd-activated.service"]
        t = "Requires=lunchd-activated.socket\nExecStart=@BINDIR@/lunchd-activated --x\n"
        self.assertEqual(plan.rename_refs(t, names, "sb2"),
                         "Requires=lunchd-activated-sb2.socket\n"
                         "ExecStart=@BINDIR@/lunchd-activated --x\n")
        t = "After=lunchd-activated-inetd.socket lunchd-activated.service\n"
        self.assertEqual(plan.rename_refs(t, names, "sb2"),
                         "After=lunchd-activated-inetd.socket lunchd-activated-sb2.service\n")

    def test_fill_ports(self):
        t = ("ListenStream=443\nEnvironment=LISTEN=[::]:443\nDescription=port 443\n"
             "ListenStream=8443\n")
        self.assertEqual(plan.fill_ports(t, 20105, 20605),
                         "ListenStream=20105\nEnvironment=LISTEN=[::]:20105\n"
                         "Description=port 443\nListenStream=8443\n")
        t = "Environment=LISTEN=127.0.0.1:8080\nX=@PORT@ @BACKEND_PORT@\n"
        self.assertEqual(plan.fill_ports(t, 1, 2, 443, 8080),
                         "Environment=LISTEN=127.0.0.1:2\nX=1 2\n")


class TestCatalogue(unittest.TestCase):
    def test_header(self):
        text = ("# sandbench directive: x\n# directive: A=b\n# does: one\n#   two\n"
                "# answers: A=\n# suits: drop inetd\n\n[Service]\nA=b\n")
        h = cat.parse_header(text)
        self.assertEqual(h["directive"], "A=b")
        self.assertEqual(h["does"], "one two")
        self.assertEqual(h["suits"], "drop inetd")
        self.assertNotIn("A", h)

    def test_real_catalogue_parses(self):
        names = cat.directive_names()
        if not names:
            self.skipTest("no catalogue in this tree")
        for n in names:
            d = cat.load_directive(n)
            self.assertTrue(d.get("directive"), n)
            self.assertIn(ev.directive_kind(d), ev.KINDS, n)
        for p in cat.profile_names():
            dirs, comb = cat.load_profile(p)
            for d in dirs + [x for _, ds in comb for x in ds]:
                self.assertIn(d, names)

    def test_expect(self):
        self.assertEqual(cat.parse_expect("cpu_ns_per_req +2000"),
                         {"metric": "cpu_ns_per_req", "delta": 2000.0})
        self.assertEqual(cat.parse_expect("rps -50")["delta"], -50.0)
        self.assertEqual(cat.parse_expect("rps -50% in capacity"),
                         {"metric": "rps", "delta": -50.0, "percent": True, "mode": "capacity"})
        for bad in ("", "cpu_ns_per_req", "cpu_ns_per_req 2000", "latency +1", "rps +x",
                    "rps +1 +2", "rps -50% at capacity", "rps -50% in"):
            with self.assertRaises(cat.CatalogueError, msg=bad):
                cat.parse_expect(bad)
        # the real catalogue's calibration control carries a valid one, and the plan records it
        e = cat.expectations(cat.directive_names())
        self.assertEqual(e.get("calibration-work-2us"),
                         {"metric": "cpu_ns_per_req", "delta": 2000.0, "mode": "rate"})
        spec = runplan.build_plan(runplan.parse(["--servers", "drop", "--profile", "quick"]))
        self.assertIn("calibration-work-2us", spec["expect"])

    def test_close_windows_are_longer(self):
        spec = runplan.build_plan(runplan.parse(["--servers", "drop", "--mode",
                                                 "keepalive,close", "--directives",
                                                 "private-tmp-yes"]))
        self.assertEqual(spec["duet"]["window_s"], 0.3)
        self.assertEqual(spec["duet"]["mode_window_s"], {"close": 0.9})
        spec = runplan.build_plan(runplan.parse(["--servers", "drop", "--directives",
                                                 "private-tmp-yes", "--window-close", "2"]))
        self.assertNotIn("mode_window_s", spec["duet"])
        with self.assertRaises(runplan.PlanError):
            runplan.build_plan(runplan.parse(["--window-close", "0"]))

    def test_controls_only(self):
        # make bench's plan: the fixed load holds the A/A copy and the +2 us
        # control, capacity the A/A copy and the quota, each every 2nd round
        spec = runplan.build_plan(runplan.parse(
            ["--servers", "drop", "--profile", "quick", "--mode", "keepalive,rate,capacity",
             "--controls-only", "rate,capacity", "--duet-reps", "0", "--seed", "1"]))
        only = spec["duet"]["controls_only"]
        self.assertEqual(only["every"], 2)
        self.assertEqual(sorted(only["modes"]["rate"]),
                         ["drop/baseline-aa", "drop/calibration-work-2us"])
        self.assertEqual(sorted(only["modes"]["capacity"]),
                         ["drop/baseline-aa", "drop/cpu-quota-50"])
        self.assertEqual(spec["order"], [])     # no isolated slices
        from sblib.measuring import resume
        ids = [v["id"] for v in spec["variants"]]
        n = len(ids) - 1
        # 12 rounds: every variant each round in keepalive, 2 controls in 6 rounds of 2 modes
        self.assertEqual(resume.left(spec, {})["windows"], 12 * n + 6 * 2 * 2)
        p = win.plan(ids, "drop/baseline", ["keepalive", "rate", "capacity"], range(12), 1,
                     "drop/0", only)
        self.assertEqual(len(p), 12 * n + 6 * 2 * 2)
        self.assertEqual({r for r, m, _, _ in p if m == "rate"}, set(range(0, 12, 2)))

    def test_unknown_names(self):
        with self.assertRaises(cat.CatalogueError) as c:
            cat.load_profile("no-such-profile")
        self.assertIn("valid:", str(c.exception))

    def test_plan_errors(self):
        for argv in (["--mode", "bogus"], ["--servers", "nope"], ["--reps", "0"],
                     ["--unit", "/nonexistent"], ["--profile", "quick", "--directives", "x"],
                     ["--method", "isolated", "--reps", "4", "--epochs", "5"],
                     ["--windows", "3", "--epochs", "4"], ["--epochs", "0"],
                     ["--window-connections", "0"], ["--window", "0"], ["--duet-reps", "-1"],
                     ["--max-restarts", "-1"], ["--max-restarts", "101"],
                     ["--controls-only", "rate"], ["--mode", "rate", "--controls-only", "rate",
                                                   "--method", "isolated"]):
            with self.assertRaises((runplan.PlanError, cat.CatalogueError)):
                runplan.build_plan(runplan.parse(argv))

    def test_empty_directives_or_profile(self):
        """--directives "" (or only commas) is an error, not the quick profile."""
        for argv in (["--directives", ""], ["--directives", ","], ["--directives", " , "],
                     ["--profile", ""], ["--profile", "", "--directives", "x"]):
            with self.assertRaises(runplan.PlanError, msg=argv):
                runplan.build_plan(runplan.parse(argv))
        rc, _, err = sbfixture.run_main(run.main, ["--directives", "", "--dry-run"])
        self.assertEqual(rc, 2)
        self.assertIn("--directives is empty", err)
        # a list with an empty item in it is still the directives named
        d = cat.directive_names()[0]
        spec = runplan.build_plan(runplan.parse(["--servers", "drop", "--directives", d + ",",
                                              "--method", "isolated"]))
        self.assertEqual(spec["directives"], [d])


    def test_counted_slices_for_a_process_per_connection(self):
        # inetd's churn slices are a number of connections, not a window
        spec = runplan.build_plan(runplan.parse(["--servers", "drop,inetd",
                                              "--mode", "keepalive,close", "--reps", "2"]))
        self.assertEqual(spec["loadgen"]["slice_connections"], {"inetd": {"close": 40}})
        spec = runplan.build_plan(runplan.parse(["--servers", "inetd", "--reps", "2"]))
        self.assertNotIn("slice_connections", spec["loadgen"])       # keep-alive only
        spec = runplan.build_plan(runplan.parse(["--servers", "drop,activated", "--mode",
                                              "close,resume", "--reps", "2"]))
        self.assertNotIn("slice_connections", spec["loadgen"])       # specs as before
        a = runplan.parse(["--loadgen-cpu", "0"])
        r = Loader(a, {}, None, "lg")
        argv = r.loadgen_argv("https://h:1/", "close", 0.4, 4, 40)
        self.assertEqual(argv[argv.index("-n") + 1], "40")
        self.assertNotIn("-d", argv)
        self.assertIn("--close", argv)
        # idle: no per-connection unit's cgroup (NAME@...) left under the slice
        import tempfile, shutil, time
        d = tempfile.mkdtemp()
        try:
            os.mkdir(os.path.join(d, "sandbench-keep-sb3.service"))
            self.assertFalse(busy([d]))
            self.assertTrue(settle([d]))
            os.mkdir(os.path.join(d, "lunchd-activated-inetd-sb3@7-1-2.service"))
            self.assertTrue(busy([d]))
            t = time.monotonic()
            self.assertFalse(settle([d], limit=0.05))
            self.assertGreaterEqual(time.monotonic() - t, 0.05)
            self.assertFalse(busy([os.path.join(d, "gone")]))
        finally:
            shutil.rmtree(d)
        argv = r.loadgen_argv("https://h:1/", "keepalive", 0.4, 4)
        self.assertEqual(argv[argv.index("-d") + 1], "400ms")
        self.assertNotIn("-n", argv)

    def test_stall(self):
        """A run stops when its slices fail in a row across variants, not
        when one variant fails (its slices are interleaved with others')."""
        r = runner.Runner.__new__(runner.Runner)

        def fails(ids):
            return [{"variant": v, "mode": "close", "status": "error", "error": "refused"}
                    for v in ids]
        r.live, r.failed = 70, fails(["inetd/x"] * (runner.STALL_SLICES * 3))
        r.check_stall()                                  # one broken variant
        r.failed = fails([f"inetd/v{i % 4}" for i in range(runner.STALL_SLICES * 3)])
        r.check_stall()                                  # fewer variants than asked
        r.failed = fails([f"inetd/v{i % 5}" for i in range(runner.STALL_SLICES - 1)])
        r.check_stall()                                  # one slice short
        r.failed.append(fails(["inetd/v9"])[0])
        with self.assertRaisesRegex(runner.Stalled, r"20 slices in a row failed, across 6 "
                                    r"variants \(the last: inetd/v9 close: refused\)"):
            r.check_stall()
        r.live, r.failed = 3, fails([f"v{i % 3}" for i in range(runner.STALL_SLICES)])
        self.assertRaises(runner.Stalled, r.check_stall)   # a small run: all its variants

    def test_scatter(self):
        """Each round's spread of CPU over the baseline is printed when the
        round ends, with the median so far; controls with a known answer,
        failed slices and rounds of too few variants are left out."""
        spec = {"expect": {"calibration-work-2us": {}},
                "variants": [{"id": "inetd/baseline", "role": "baseline"},
                             {"id": "inetd/baseline-aa", "role": "aa"}]
                + [{"id": f"inetd/d{i}", "role": "variant"} for i in range(6)]
                + [{"id": "inetd/calibration-work-2us", "role": "variant"}]}
        sc = runner.Scatter(spec)

        def rec(v, rnd, cpu, mode="keepalive", status="ok"):
            return {"variant": f"inetd/{v}", "round": rnd, "mode": mode, "status": status,
                    "cpu_ns_per_req": cpu}
        # round 0: ratios 0.9 … 1.1 in steps of 0.05 over aa and d0-d5
        cpus = [90, 95, 100, 100, 100, 105, 110]
        lines = []
        for rnd in (0, 1):
            lines += sc.add(rec("baseline", rnd, 100.0))
            for v, c in zip(["baseline-aa"] + [f"d{i}" for i in range(6)], cpus):
                lines += sc.add(rec(v, rnd, c * (2 if rnd else 1)))
            lines += sc.add(rec("calibration-work-2us", rnd, 1000.0))   # left out
            lines += sc.add(rec("d0", rnd, 1000.0, status="error"))     # left out
            lines += sc.add(rec("d1", rnd, 100.0, mode="close"))         # too few
        lines += sc.flush()
        # MAD of 0.90 0.95 1.00 1.00 1.00 1.05 1.10 is 0.05: ±7.4%
        self.assertEqual(lines[0], "inetd round 1 keepalive: scatter ±7.4% over 7 variants "
                                   "(median of 1 rounds ±7.4%)")
        # round 1: every variant twice the baseline: ±7.4% again (spread of 1.8 … 2.2)
        self.assertEqual(len(lines), 2)
        self.assertIn("inetd round 2 keepalive: scatter ±7.4%", lines[1])
        self.assertIn("median of 2 rounds", lines[1])
        self.assertEqual(sc.flush(), [])


class TestEvidence(unittest.TestCase):
    def test_parse_status(self):
        e = ev.parse_status(STATUS)
        self.assertEqual(e["uid"], 61849)
        self.assertEqual(e["uids"], [61849] * 4)
        self.assertEqual(e["cap_eff"], "0000000000000000")
        self.assertEqual(e["cap_bnd"], "00000000fcecafff")
        self.assertEqual(e["no_new_privs"], 1)
        self.assertEqual(e["seccomp"], 2)
        self.assertEqual(e["seccomp_filters"], 11)
        self.assertIsNone(ev.parse_status("Name:\tx\n")["seccomp_filters"])

    def test_verdicts(self):
        v, b = ev.parse_status(STATUS), ev.parse_status(BASE)
        self.assertEqual(ev.verdict("seccomp", v, b)[0], True)
        self.assertEqual(ev.verdict("seccomp", b, b)[0], False)
        self.assertEqual(ev.verdict("uid", v, b)[0], True)
        self.assertEqual(ev.verdict("uid", b, b)[0], False)
        self.assertEqual(ev.verdict("uid", v, v)[0], None)
        self.assertEqual(ev.verdict("nnp", v, b)[0], True)
        caps = dict(b, cap_bnd="00000000fcccafff", cap_eff="00000000fcccafff")
        self.assertEqual(ev.verdict("caps", caps, b)[0], True)
        self.assertEqual(ev.verdict("caps", b, b)[0], False)
        ns = {"mnt_ns_differs": True, "mnt_ns": "mnt:[1]"}
        self.assertEqual(ev.verdict("mntns", ns, {"mnt_ns_differs": False})[0], True)
        self.assertEqual(ev.verdict("mntns", ns, ns)[0], None)
        self.assertEqual(ev.verdict("mntns", {"mnt_ns_differs": False}, {})[0], False)
        self.assertEqual(ev.verdict("bpf", {"cgroup_bpf_progs": 2}, {"cgroup_bpf_progs": 0})[0], True)
        self.assertEqual(ev.verdict("bpf", {"cgroup_bpf_progs": 0}, {"cgroup_bpf_progs": 0})[0],
                         False)
        base0 = {"cgroup_bpf_progs": 0, "devices_v1": None}
        self.assertEqual(ev.verdict("devices", {"cgroup_bpf_progs": 1}, base0)[0], True)
        self.assertEqual(ev.verdict("devices", dict(base0, devices_v1="c 1:3 rwm\nc 1:5 rwm"),
                                    base0)[0], True)
        self.assertEqual(ev.verdict("devices", dict(base0, devices_v1="a *:* rwm"), base0)[0],
                         False)
        self.assertEqual(ev.verdict("devices", base0, base0)[0], False)
        q = {"cpu_quota_set": "500ms", "cpu_quota_kernel": None}
        self.assertEqual(ev.verdict("quota", q, {})[0], False)
        q = {"cpu_quota_set": "500ms", "cpu_quota_kernel": "50000 100000"}
        self.assertEqual(ev.verdict("quota", q, {})[0], True)
        self.assertEqual(ev.verdict("none", v, b)[0], None)
        argv = ["/b/lunchd-drop", "--listen", "[::]:443"]
        ok, why = ev.verdict("cmdline", {"cmdline": argv + ["--work-per-request=2"]},
                             {"cmdline": argv})
        self.assertEqual((ok, why), (True, "runs with --work-per-request=2 (the baseline without)"))
        self.assertEqual(ev.verdict("cmdline", {"cmdline": argv}, {"cmdline": argv})[0], False)
        self.assertEqual(ev.verdict("cmdline", {"cmdline": argv}, {})[0], None)

    def test_baseline_has(self):
        # a DynamicUser= unit in a container: bounding set fcecafff (no
        # NET_ADMIN, IPC_LOCK, SYS_MODULE, SYS_RAWIO, SYS_PACCT, SYS_RESOURCE,
        # SYS_TIME, nothing above SETFCAP), RestrictSUIDSGID= implied
        b = ev.parse_status(BASE)
        checks = [{"name": "RestrictSUIDSGID=", "set": True},
                  {"name": "SystemCallFilter=~@swap", "set": False},
                  {"name": "SystemCallFilter=~@clock", "set": True}]
        rawio, chown = cat.load_directive("capability-bounding-set-drop-sys-rawio"), \
            cat.load_directive("capability-bounding-set-drop-chown")
        self.assertIn("already lacks CAP_SYS_RAWIO", ev.baseline_has(rawio, b, checks))
        self.assertIsNone(ev.baseline_has(chown, b, checks))
        self.assertIsNone(ev.baseline_has(rawio, dict(b, cap_bnd="000001ffffffffff"), checks))
        only = cat.load_directive("capability-bounding-set-drop-only")
        self.assertIsNone(ev.baseline_has(only, b, checks))
        self.assertIn("already within", ev.baseline_has(only, dict(b, cap_bnd="00000000000001c0"), checks))
        amb = cat.load_directive("ambient-capabilities-none")
        self.assertIsNone(ev.baseline_has(amb, b, []))  # no CapAmb line: cannot tell
        self.assertEqual(ev.baseline_has(amb, dict(b, cap_amb="0000000000000000"), []),
                         "the baseline has no ambient capabilities")
        self.assertIsNone(ev.baseline_has(amb, dict(b, cap_amb="0000000000000400"), []))
        suid = cat.load_directive("restrict-suid-sgid-yes")
        self.assertIn("RestrictSUIDSGID= as set", ev.baseline_has(suid, b, checks))
        self.assertIsNone(ev.baseline_has(suid, b, [{"name": "RestrictSUIDSGID=", "set": False}]))
        self.assertIsNone(ev.baseline_has(suid, b, None))
        # every check a directive answers must already be set, not just one
        d = {"answers": "SystemCallFilter=~@clock, SystemCallFilter=~@swap", "body": ""}
        self.assertIsNone(ev.baseline_has(d, b, checks))
        self.assertIsNotNone(ev.baseline_has(dict(d, answers="SystemCallFilter=~@clock"), b, checks))
        # judge: "no" becomes "could not tell" only where the baseline has it
        self.assertEqual(ev.judge(suid, b, b, checks)[0], None)
        self.assertEqual(ev.judge(suid, b, b, [])[0], False)
        self.assertEqual(ev.judge(suid, ev.parse_status(STATUS), b, checks)[0], True)

    def test_rejudge(self):
        b = ev.parse_status(BASE)
        checks = [{"name": "RestrictSUIDSGID=", "set": True}]
        variants = {
            "a/baseline": {"server": "a", "role": "baseline", "evidence": b, "exposure_checks": checks},
            "a/suid": {"server": "a", "role": "variant", "evidence": b,
                       "applied": {"restrict-suid-sgid-yes": False},
                       "applied_why": {"restrict-suid-sgid-yes": "seccomp: no more"}},
            "a/mixed": {"server": "a", "role": "variant", "evidence": b,
                        "applied": {"restrict-suid-sgid-yes": False},
                        "applied_runs": {"restrict-suid-sgid-yes": [True, False]}},
            "a/gone": {"server": "a", "role": "variant", "evidence": b,
                       "applied": {"no-such-directive": False}},
            "a/chown": {"server": "a", "role": "variant", "evidence": b,
                        "applied": {"capability-bounding-set-drop-chown": False}},
            "z/suid": {"server": "z", "role": "variant", "evidence": b,
                       "applied": {"restrict-suid-sgid-yes": False}},
        }
        self.assertEqual(ev.rejudge(variants), 1)
        self.assertIsNone(variants["a/suid"]["applied"]["restrict-suid-sgid-yes"])
        self.assertIn("already has it", variants["a/suid"]["applied_why"]["restrict-suid-sgid-yes"])
        for vid, d in (("a/mixed", "restrict-suid-sgid-yes"), ("a/gone", "no-such-directive"),
                       ("a/chown", "capability-bounding-set-drop-chown"),
                       ("z/suid", "restrict-suid-sgid-yes")):
            self.assertIs(variants[vid]["applied"][d], False, vid)

    def test_exposure_parsing(self):
        text = "  NAME  DESCRIPTION\n...\n→ Overall exposure level for x.service: 8.2 EXPOSED 🙁\n"
        self.assertEqual(ev.parse_exposure(text), (8.2, "EXPOSED"))
        self.assertEqual(ev.parse_exposure("garbage"), (None, None))
        js = ('[{"set":true,"name":"PrivateTmp=","json_field":"PrivateTmp","description":"d",'
              '"exposure":null},{"set":false,"name":"ProtectHome=","exposure":"0.2"}]')
        checks = ev.parse_checks(js)
        self.assertEqual(checks[0], {"name": "PrivateTmp=", "set": True, "exposure": None})
        self.assertEqual(checks[1]["exposure"], 0.2)
        self.assertEqual(ev.parse_checks("not json"), [])


class TestOutDir(unittest.TestCase):
    """run --out: checked and created before the host is booted; a path that
    cannot be the results directory is a one-line error and exit 2."""

    def setUp(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="sb-out-")
        self.file = os.path.join(self.dir, "f")
        with open(self.file, "w") as f:
            f.write("a file\n")

    def tearDown(self):
        import shutil
        shutil.rmtree(self.dir)

    def test_open_results(self):
        for bad in (os.path.join(self.file, "sub"), self.file):
            with self.assertRaises(runplan.PlanError, msg=bad) as c:
                session.open_results(bad)
            self.assertIn(bad, str(c.exception))
            self.assertNotIn("\n", str(c.exception))
        old = os.path.join(self.dir, "old")
        os.mkdir(old)
        with open(os.path.join(old, "runs.jsonl"), "w") as f:
            f.write("{}\n")
        with self.assertRaises(runplan.PlanError) as c:
            session.open_results(old)
        self.assertIn("already holds results", str(c.exception))
        new = os.path.join(self.dir, "new", "deeper")
        res = session.open_results(new)
        res.runs.close()
        self.assertTrue(os.path.isfile(os.path.join(new, "runs.jsonl")))

    @unittest.skipUnless(os.geteuid() == 0, "run's main checks for root first")
    def test_main_refuses_before_booting(self):
        from unittest import mock
        unit = os.path.join(self.dir, "x.service")
        with open(unit, "w") as f:
            f.write("[Service]\nExecStart=/bin/true\n")
        boot = mock.Mock(side_effect=AssertionError("the host was booted"))
        with mock.patch.object(_host, "up", boot), \
                mock.patch.object(kernel, "facilities", boot):
            rc, _, err = sbfixture.run_main(run.main, [
                "--unit", unit, "--url", "http://127.0.0.1:1/", "--loadgen", "/bin/true",
                "--out", os.path.join(self.file, "sub")])
        self.assertEqual(rc, 2)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("--out", err)
        boot.assert_not_called()


if __name__ == "__main__":
    unittest.main()
