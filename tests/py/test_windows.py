"""Duet windows: the seeded plan, the records a window's loadgen JSON makes,
and the analysis of windows on crafted data of known answer (a 1% cost found
through a machine drifting by 25%, A/A controls not called)."""
import os
import sys
import tempfile
import types
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))

from sblib.analysis import results as rs  # noqa: E402
from sblib.records import windows as win  # noqa: E402
from sblib.records.model import run_problem  # noqa: E402
from sblib.measuring import runplan  # noqa: E402
from sblib.measuring.load import Loader  # noqa: E402
from sblib.commands import report as report_cmd  # noqa: E402
import sbfixture  # noqa: E402


class Plan(unittest.TestCase):
    def test_every_variant_once_a_round_with_the_baseline(self):
        ids = ["s/baseline", "s/baseline-aa", "s/a", "s/b"]
        p = win.plan(ids, "s/baseline", ["keepalive", "close"], range(2, 5), 7, "s/0")
        self.assertEqual(len(p), 3 * 3 * 2)
        for rnd in (2, 3, 4):
            cells = sorted((m, v) for r, m, v, _ in p if r == rnd)
            self.assertEqual(cells, sorted((m, v) for v in ids[1:]
                                           for m in ("keepalive", "close")))
        self.assertNotIn("s/baseline", {v for _, _, v, _ in p})
        # seeded: the same arguments give the same plan, another label another order
        self.assertEqual(p, win.plan(ids, "s/baseline", ["keepalive", "close"], range(2, 5), 7,
                                     "s/0"))
        self.assertNotEqual(p, win.plan(ids, "s/baseline", ["keepalive", "close"], range(2, 5),
                                        7, "s/1"))
        # which URL comes first is drawn, not fixed
        self.assertEqual({b for *_, b in p}, {True, False})


def target(reqs, cgroups):
    return {"requests": reqs, "rps": reqs / 0.3, "duration_s": 0.3, "errors": {"total": 0},
            "latency_us": {"p50": 100.0, "p99": 400.0},
            "server_cpu": {"usec": sum(u for _, u in cgroups),
                           "cgroups": [{"path": p, "usec": u} for p, u in cgroups]}}


class Records(unittest.TestCase):
    META = {"slice": 0, "round": "w3", "rep": 1, "window": 3, "mode": "keepalive",
            "start": 1.0, "duration_s": 0.3, "warmup_s": 0.1}

    def test_own_cgroups_and_parts(self):
        # a proxied pair: the backend is the directive's unit, nginx is reported beside it
        js = {"targets": [target(1000, [("/b0", 20000), ("/n0", 30000)]),
                          target(500, [("/b1", 11000), ("/n1", 15000)])]}
        recs = win.records(js, [("p/baseline", "p", {"/b0"}), ("p/x", "p", {"/b1"})],
                           self.META)
        self.assertEqual([r["status"] for r in recs], ["ok", "ok"])
        self.assertEqual(recs[0]["cpu_ns_per_req"], 20000.0)
        self.assertEqual(recs[1]["cpu_ns_per_req"], 22000.0)
        self.assertEqual(recs[1]["cpu_ns_per_req_all"], 52000.0)
        self.assertEqual(recs[1]["cpu_parts_usec"], {"/b1": 11000, "/n1": 15000})
        self.assertEqual(recs[0]["with"], ["p/x"])
        self.assertEqual((recs[0]["phase"], recs[1]["place"], recs[1]["round"]),
                         ("duet", 1, "w3"))

    def test_sender_part_per_target(self):
        # a thread per target: each record holds its own thread's CPU per request
        ts = [target(1000, [("/a", 20000)]), target(500, [("/b", 10000)])]
        ts[0]["loadgen_cpu"] = {"usec": 8000, "ns_per_request": 8000.4}
        ts[1]["loadgen_cpu"] = {"usec": 4300, "ns_per_request": 8600.0}
        recs = win.records({"targets": ts}, [("d/baseline", "d", {"/a"}), ("d/x", "d", {"/b"})],
                           self.META)
        self.assertEqual([r["status"] for r in recs], ["ok", "ok"])
        self.assertEqual([r[win.SENDER] for r in recs], [8000.4, 8600.0])
        self.assertEqual([r["loadgen_cpu_usec"] for r in recs], [8000, 4300])
        self.assertIsNone(run_problem(recs[1]))
        # one ring for both (loadgen_cpu null) or an unreadable clock: no sender
        # part, and the window still gives its server figures
        ts[0]["loadgen_cpu"], ts[1]["loadgen_cpu"] = None, {"usec": None, "ns_per_request": None}
        recs = win.records({"targets": ts}, [("d/baseline", "d", {"/a"}), ("d/x", "d", {"/b"})],
                           self.META)
        self.assertEqual([r["status"] for r in recs], ["ok", "ok"])
        self.assertEqual([r[win.SENDER] for r in recs], [None, None])
        self.assertEqual(recs[1]["cpu_ns_per_req"], 20000.0)
        # a negative figure is a damaged record
        self.assertIn(win.SENDER, run_problem(dict(recs[1], **{win.SENDER: -1.0})))

    def test_a_failed_side_fails_the_pair(self):
        js = {"targets": [target(1000, [("/a", 20000)]), target(0, [("/b", 10)])]}
        recs = win.records(js, [("d/baseline", "d", {"/a"}), ("d/x", "d", {"/b"})], self.META)
        self.assertEqual([r["status"] for r in recs], ["error", "error"])
        self.assertIn("partner", recs[0]["error"])
        self.assertIn("no request", recs[1]["error"])
        recs = win.records(None, [("d/baseline", "d", set()), ("d/x", "d", set())],
                           dict(self.META, error="loadgen did not finish in 20s"))
        self.assertEqual([r["error"] for r in recs], ["loadgen did not finish in 20s"] * 2)


def instance(vid, cg):
    return types.SimpleNamespace(id=vid, v={"server": vid.split("/")[0]}, url=f"https://h/{cg}",
                                 cpu_dirs_cached=[cg], netns_file=None, netns=None,
                                 position=None, epoch=0, own_dirs=lambda: [cg])


class Window(unittest.TestCase):
    SPEC = {"duet": {"window_s": 0.3, "by_server": {"drop": {"connections_per_target": 8,
                                                             "warmup_s": 0.1}}}}

    def window(self, argv):
        lg = Loader(runplan.parse(argv), self.SPEC, None, "lg")
        seen = {}

        def fake(argv, limit):
            seen["argv"] = argv
            ts = [target(1000, [("/a", 20000)]), target(1000, [("/b", 21000)])]
            for t in ts:
                t["loadgen_cpu"] = {"usec": 8000, "ns_per_request": 8000.0} \
                    if "--thread-per-target" in argv else None
            return {"targets": ts}, ""
        lg.run_loadgen = fake
        recs = lg.window([instance("drop/baseline", "/a"), instance("drop/x", "/b")],
                         "keepalive", 0, 0, 0)
        return seen["argv"], recs

    def test_a_thread_per_target_unless_one_ring(self):
        # the default: a loadgen thread per instance, still pinned to --loadgen-cpu
        argv, recs = self.window(["--loadgen-cpu", "0"])
        self.assertEqual(argv[:3], ["taskset", "-c", "0"])
        self.assertIn("--thread-per-target", argv)
        self.assertNotIn("-t", argv)       # loadgen refuses -t 1 beside it with two URLs
        self.assertEqual(argv[argv.index("lg"):argv.index("lg") + 3], ["lg", "-c", "16"])
        self.assertEqual(argv[-2:], ["https://h//a", "https://h//b"])
        self.assertEqual([r[win.SENDER] for r in recs], [8000.0, 8000.0])
        self.assertEqual({r["loadgen_threads"] for r in recs}, {"thread-per-target"})
        # one ring for both: no sender part, the server figures as before
        argv, recs = self.window(["--loadgen-cpu", "0", "--window-loadgen", "one-ring"])
        self.assertNotIn("--thread-per-target", argv)
        self.assertEqual(argv[argv.index("-t") + 1], "1")
        self.assertEqual([r[win.SENDER] for r in recs], [None, None])
        self.assertEqual([r["cpu_ns_per_req"] for r in recs], [20000.0, 21000.0])
        self.assertEqual({r["loadgen_threads"] for r in recs}, {"one-ring"})


class FixedLoad(unittest.TestCase):
    """Mode rate in windows: a fixed offered load chosen from probed
    capacity, lowered where an open loop keeps a CPU too busy."""

    def test_offered_rate_from_the_lowest_probe(self):
        o = win.offered_rate([30000.0, 20000.0, None, 26000.0], share=0.6, window_s=0.3)
        self.assertEqual(o["rate_per_target"], 12000)         # 60% of the lowest
        self.assertEqual(o["window_s"], 0.85)                 # 10,000 a side, 50 ms steps
        self.assertGreaterEqual(o["window_s"] * o["rate_per_target"], win.MIN_REQUESTS)
        self.assertEqual(o["capacity_rps"], 20000.0)
        self.assertIn("60% of the lowest capacity probed", o["why"])
        self.assertEqual(win.offered_rate([100000.0], window_s=0.3)["window_s"], 0.3)
        self.assertEqual(win.offered_rate([20000.0], rate=5000)["rate_per_target"], 5000)
        self.assertIsNone(win.offered_rate([None, 0]))

    def test_lowered_where_a_cpu_is_too_busy(self):
        o = win.offered_rate([20000.0], share=0.6)
        # the open loop's sender at 12,000 req/s each: 90% of its CPU
        low = win.within(o, (0.9, 0.3), share=0.6)
        self.assertEqual(low["rate_per_target"], 8000)
        self.assertEqual(low["window_s"], 1.25)
        self.assertEqual(low["busy"], {"sender": 0.9, "server": 0.3, "at": 12000})
        self.assertIn("the sender CPU was 90% busy", low["why"])
        self.assertEqual(win.within(o, (0.5, 0.4))["rate_per_target"], 12000)
        self.assertEqual(win.within(o, (0.9, 0.3), lower=False)["rate_per_target"], 12000)
        self.assertEqual(win.within(o, None), o)

    def test_busy_reads_each_cpu_once(self):
        t = {"server_cpu": {"usec": 300000}, "loadgen_cpu": {"usec": 200000,
                                                             "ns_per_request": 1.0}}
        self.assertEqual(win.busy({"duration_s": 1.0, "targets": [t, dict(t)]}), (0.4, 0.3))
        self.assertIsNone(win.busy({"duration_s": 1.0, "targets": [dict(t, loadgen_cpu=None)]}))

    def test_plan_admits_rate_and_capacity_in_windows(self):
        a = runplan.parse(["--servers", "drop,inetd", "--mode", "keepalive,rate,capacity,close",
                           "--directives", "private-tmp-yes", "--fixed-share", "0.4"])
        spec = runplan.build_plan(a)
        self.assertEqual(spec["duet"]["by_server"]["drop"]["modes"],
                         ["keepalive", "rate", "capacity", "close"])
        self.assertEqual(spec["duet"]["by_server"]["inetd"]["modes"],
                         ["keepalive", "rate", "capacity"])
        self.assertEqual(spec["duet"]["fixed_load"]["share"], 0.4)
        self.assertEqual(spec["duet"]["capacity_s"], 0.3)
        # no isolated slices of the two regimes only windows measure
        self.assertFalse([o for o in spec["order"] if o.split("|")[1] in ("rate", "capacity")
                          and o.startswith("drop/")])
        for bad in (["--fixed-share", "0"], ["--fixed-rate", "5"], ["--capacity-slice", "0"]):
            with self.assertRaises(runplan.PlanError):
                runplan.build_plan(runplan.parse(["--servers", "drop", "--mode", "rate"] + bad))


class FixedAndCapacityWindows(unittest.TestCase):
    SPEC = {"seed": 5, "duet": {"window_s": 0.3, "capacity_s": 0.3,
                     "fixed_load": {"share": 0.6, "min_requests": 10000, "rate": None},
                     "by_server": {"drop": {"connections_per_target": 8, "warmup_s": 0.1}}}}

    def loader(self):
        lg = Loader(runplan.parse(["--loadgen-cpu", "0"]), self.SPEC, None, "lg")
        lg.calls = []

        def fake(argv, limit):
            lg.calls.append(argv)
            rate = "--rate-per-target" in argv
            # an open loop's sender: 0.9 CPU in all at 12,000 req/s a side, 0.6 at 8,000
            r = int(argv[argv.index("--rate-per-target") + 1]) if rate else 0
            urls = [x for x in argv if x.startswith("https://")]
            ts = [dict(target(1000, [(u[-2:], 20000 if rate else 10000)]), rps=20000.0,
                       loadgen_cpu={"usec": 450000 * r // 12000 if rate else 100000,
                                    "ns_per_request": 1.0})
                  for u in urls]
            js = {"targets": ts, "duration_s": 1.0}
            return (js if len(urls) > 1 else dict(ts[0], duration_s=1.0)), ""
        lg.run_loadgen = fake
        return lg

    def test_rate_windows_probe_once_then_offer(self):
        lg = self.loader()
        b, x = instance("drop/baseline", "/a"), instance("drop/x", "/b")
        b.v["role"], x.v["role"] = "baseline", "directive"
        recs = lg.window([x, b], win.FIXED, 0, 0, 0)
        # three closed-loop probes of the baseline beside itself, two open-loop
        self.assertEqual(len(lg.calls), win.PROBES + 3)
        self.assertTrue(all(c[-2:] == ["https://h//a"] * 2 for c in lg.calls[:win.PROBES + 2]))
        self.assertNotIn("--rate-per-target", lg.calls[0])
        fl = recs[0]["fixed_load"]
        # 60% of 20,000 is 12,000; at it the two sender threads were 90% busy,
        # at 8,000 probed again 60%: within the share
        self.assertIn("lowered to 8,000 req/s", fl["why"])
        self.assertEqual(fl["busy"]["sender"], 0.6)
        self.assertEqual(fl["rate_per_target"], 8000)
        self.assertEqual(fl["arrivals"], win.POISSON)
        last = lg.calls[-1]
        self.assertEqual(last[last.index("--rate-per-target") + 1], "8000")
        self.assertEqual(last[last.index("--arrivals") + 1], "poisson")
        self.assertEqual(last[last.index("-d") + 1], "1250ms")
        self.assertEqual({r["mode"] for r in recs}, {"rate"})
        lg.window([b, x], win.FIXED, 1, 1, 2)
        self.assertEqual(len(lg.calls), win.PROBES + 4)       # no second probe
        # every window its own seed of the gaps
        seeds = [c[c.index("--seed") + 1] for c in lg.calls[-2:]]
        self.assertNotEqual(seeds[0], seeds[1])

    def test_close_window_length(self):
        lg = self.loader()
        lg.spec = dict(self.SPEC, duet=dict(self.SPEC["duet"], mode_window_s={"close": 0.9}))
        b, x = instance("drop/baseline", "/a"), instance("drop/x", "/b")
        lg.window([x, b], "close", 0, 0, 0)
        self.assertEqual(lg.calls[-1][lg.calls[-1].index("-d") + 1], "900ms")
        self.assertIn("--close", lg.calls[-1])
        lg.window([x, b], "keepalive", 0, 1, 2)
        self.assertEqual(lg.calls[-1][lg.calls[-1].index("-d") + 1], "300ms")

    def test_capacity_pair_each_alone(self):
        lg = self.loader()
        b, x = instance("drop/baseline", "/a"), instance("drop/x", "/b")
        b.spec = x.spec = {}
        recs = lg.window([x, b], win.CAPACITY, 0, 4, 0)
        self.assertEqual([c[-1] for c in lg.calls], ["https://h//b", "https://h//a"])
        self.assertTrue(all("--rate-per-target" not in c and "-c" in c for c in lg.calls))
        self.assertEqual([r["variant"] for r in recs], ["drop/x", "drop/baseline"])
        self.assertEqual({r["round"] for r in recs}, {"w4"})
        self.assertTrue(all(r["alone"] and r["status"] == "ok" for r in recs))
        self.assertEqual([r["cpu_ns_per_req"] for r in recs], [10000.0, 10000.0])
        # each turn alone with the capacity's own connections (16 did not
        # saturate one drop instance), capped by the server's own count
        self.assertTrue(all(c[c.index("-c", c.index("lg")) + 1] == "16" for c in lg.calls))
        lg.spec = dict(self.SPEC, duet=dict(self.SPEC["duet"], capacity_connections=64))
        lg.calls.clear()
        x.spec = {"connections": 32}
        lg.window([x, b], win.CAPACITY, 0, 5, 0)
        self.assertEqual([c[c.index("-c", c.index("lg")) + 1] for c in lg.calls], ["32", "64"])


class Regimes(unittest.TestCase):
    """Each figure says its regime; the +2 us control read per regime."""

    def test_calibration_per_regime_and_the_report(self):
        with tempfile.TemporaryDirectory() as tmp:
            cal = "calibration-work-2us"
            # 20 us a request: +2 us reads +1,000 at saturation, +2,000 at the fixed load
            d = sbfixture.make_duet_results(
                os.path.join(tmp, "r"), {cal: {"keepalive": 1.05, "rate": 1.10}}, windows=16,
                epochs=4, drift=0.2, modes=("keepalive", "rate"),
                expect={cal: {"metric": "cpu_ns_per_req", "delta": 2000}})
            res = rs.load(d)
            self.assertEqual(rs.regime(res, "drop", "rate"), "fixed load 8,000 req/s per instance")
            self.assertEqual(rs.regime(res, "drop", "keepalive"), rs.SATURATION)
            self.assertTrue(rs.regime(res, "drop", win.CAPACITY).startswith("capacity"))
            rows = {c["mode"]: c for c in rs.calibration(res, rs.analyse(res, resamples=400))}
            self.assertEqual(rows["rate"]["agrees"], "yes")
            self.assertEqual(rows["keepalive"]["agrees"], "batching")
            self.assertAlmostEqual(rows["keepalive"]["at_fixed_load"]["measured"], 2000,
                                   delta=150)
            self.assertNotIn("at_fixed_load", rows["rate"])
            self.assertEqual(sbfixture.run_main(report_cmd.main, [d, "--no-plots"])[0], 0)
            with open(os.path.join(d, "report.md")) as f:
                md = f.read()
            self.assertIn("Regime: fixed load 8,000 req/s per instance.", md)
            self.assertIn(f"| drop | rate | fixed load 8,000 req/s per instance | `{cal}` "
                          "| +2,000 ns |", md)
            self.assertRegex(md, r"\| ≤ \+2,000 ns \(batching\) \| \+1,\d{3} ns .*below it, "
                                 r"above 0: batching at saturation; at the fixed load 8,000 "
                                 r"req/s per instance: \+\d,\d{3} ns .*so batching took [\d,]+ "
                                 r"ns off here")


class Analysis(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def analyse(self, **kw):
        path = sbfixture.make_duet_results(os.path.join(self.tmp.name, "r"), **kw)
        res = rs.load(path)
        return res, rs.analyse(res, resamples=1000)

    def test_one_percent_found_through_drift(self):
        # the machine's speed moves by up to 25% from window to window; each
        # window's two sides share it, so a 1% cost stands out of 0.5% noise
        res, a = self.analyse(costs={"x": 1.01, "y": 1.0}, windows=16, epochs=4, drift=0.25,
                              noise=0.005)
        g = a["groups"][0]
        self.assertEqual(g["methods"]["cpu_ns_per_req"], "duet")
        self.assertEqual(g["methods"]["rps"], "duet")   # every cost from the windows
        rows = {r["variant"]: r["cmp"]["cpu_ns_per_req"] for r in g["rows"]}
        x, y, aa = rows["drop/x"], rows["drop/y"], rows["drop/baseline-aa"]
        self.assertTrue(x["lo"] < 1.01 < x["hi"] and x["lo"] > 1.0, x)
        self.assertEqual(x["verdict"], "worse")
        self.assertEqual(y["verdict"], "~")
        self.assertTrue(aa["lo"] < 1.0 < aa["hi"], aa)
        self.assertLess(g["floor"], 0.008)
        # pairing is by window: 16 pairs each, the baseline's level its own windows'
        self.assertEqual((x["n_base"], x["n_new"]), (16, 16))
        self.assertAlmostEqual(g["base_levels"]["cpu_ns_per_req"], 20000.0, delta=400)
        # the run's summary says the same, with its method
        rows = {r["variant"]: r for r in rs.summary(res, a)}
        self.assertEqual(rows["drop/x"]["cpu_ns_per_req_verdict"], "worse")
        self.assertEqual(rows["drop/x"]["cpu_ns_per_req_method"], "duet")
        self.assertEqual(rows["drop/x"]["rps_method"], "duet")
        # the isolated slices give the level alone, never a change
        self.assertAlmostEqual(rows["drop/x"]["rps_alone"], 1e9 / 20200 * 0.8, delta=5000)
        self.assertAlmostEqual(rows["drop/x"]["cpu_ns_per_req_change"], 0.01, delta=0.003)

    def test_sender_part_counted_beside_the_server(self):
        # x costs the server 1% and its sender (loopback softirq in the
        # load generator's thread) 3%: both found, each with its interval,
        # in ns they add up to the total; the A/A copy's both parts hold 0
        res, a = self.analyse(costs={"x": 1.01, "y": 1.0}, sender={"x": 1.03}, windows=16,
                              epochs=4, noise=0.005)
        g = a["groups"][0]
        self.assertEqual(g["methods"][win.SENDER], "duet")
        self.assertAlmostEqual(g["base_levels"][win.SENDER], 8000.0, delta=800)
        rows = {r["variant"]: r["cmp"] for r in g["rows"]}
        x, y, aa = rows["drop/x"][win.SENDER], rows["drop/y"][win.SENDER], \
            rows["drop/baseline-aa"][win.SENDER]
        self.assertTrue(1.0 < x["lo"] < 1.03 < x["hi"], x)
        self.assertEqual(x["verdict"], "worse")
        self.assertEqual(y["verdict"], "~")
        for m in ("cpu_ns_per_req", win.SENDER):
            c = rows["drop/baseline-aa"][m]
            self.assertTrue(c["lo"] < 1.0 < c["hi"], (m, c))
        self.assertLess(g["floors"][win.SENDER], 0.01)
        self.assertEqual((x["n_base"], x["n_new"]), (16, 16))
        srow = {r["variant"]: r for r in rs.summary(res, a)}["drop/x"]
        self.assertEqual(srow[win.SENDER + "_verdict"], "worse")
        self.assertAlmostEqual(srow[win.SENDER + "_delta"], 240.0, delta=60)
        self.assertAlmostEqual(srow["cpu_ns_per_req_delta"], 200.0, delta=80)
        self.assertLess(srow[win.SENDER + "_delta_lo"], srow[win.SENDER + "_delta"])
        self.assertGreater(srow[win.SENDER + "_delta_lo"], 0)
        self.assertAlmostEqual(srow["cpu_total_delta"],
                               srow["cpu_ns_per_req_delta"] + srow[win.SENDER + "_delta"])
        self.assertAlmostEqual(srow[win.SENDER + "_delta"],
                               g["base_levels"][win.SENDER] * srow[win.SENDER + "_change"])

    def test_one_ring_has_no_sender_part(self):
        res, a = self.analyse(costs={"x": 1.01})
        g = a["groups"][0]
        self.assertNotIn(win.SENDER, {m for r in g["rows"] for m in r["cmp"]})
        self.assertIn("one-ring", g["why"][win.SENDER])
        self.assertIsNone(g["floors"].get(win.SENDER))
        srow = {r["variant"]: r for r in rs.summary(res, a)}["drop/x"]
        self.assertNotIn(win.SENDER + "_change", srow)
        self.assertIsNone(srow["cpu_total_delta"])
        self.assertIn("cpu_ns_per_req_delta", srow)

    def test_aa_honesty(self):
        # copies of the baseline: 95% intervals and p < 0.05 should call about
        # 5% of them by chance, not more (too narrow intervals would)
        called, total = [], 0
        for seed in range(1, 6):
            _, a = self.analyse(costs={}, aa_copies=20, windows=12, epochs=3, noise=0.005,
                                seed=seed)
            rows = a["groups"][0]["rows"]
            total += len(rows)
            called += [r["variant"] for r in rows if r["cmp"]["cpu_ns_per_req"]["significant"]]
        self.assertEqual(total, 100)
        self.assertLessEqual(len(called), 10, called)

    def test_place_costs_widen_the_intervals(self):
        # what an instance's start costs it differs by epoch: the intervals,
        # resampling epochs, must hold that, so A/A copies are still not called
        _, quiet = self.analyse(costs={}, aa_copies=6, windows=12, epochs=4, place=0.0)
        _, placed = self.analyse(costs={}, aa_copies=6, windows=12, epochs=4, place=0.01)

        def width(a):
            ws = sorted(r["cmp"]["cpu_ns_per_req"]["hi"] - r["cmp"]["cpu_ns_per_req"]["lo"]
                        for r in a["groups"][0]["rows"])
            return ws[len(ws) // 2]
        self.assertGreater(width(placed), 2 * width(quiet))

    def test_report_names_the_method(self):
        path = sbfixture.make_duet_results(os.path.join(self.tmp.name, "r"), costs={"x": 1.01})
        rc, _, err = sbfixture.run_main(report_cmd.main, [path, "--no-plots"])
        self.assertEqual(rc, 0, err)
        with open(os.path.join(path, "report.md")) as f:
            md = f.read()
        self.assertIn("Every change, CPU per request, req/s and latency alike, comes from "
                      "**duet windows**", md)
        self.assertRegex(md, r"\| drop \| keepalive \| duet \| [-+]\d\.\d% \[")
        self.assertIn("Every change is from **duet windows**", md)
        self.assertIn("one loadgen process (one ring for both, no sender part;", md)
        self.assertIn("**absolute levels only**, no change is taken from them", md)
        self.assertIn("Duet windows need no drift correction", md)

    def test_report_shows_both_parts(self):
        path = sbfixture.make_duet_results(os.path.join(self.tmp.name, "r"),
                                           costs={"x": 1.01}, sender={"x": 1.03}, windows=16)
        rc, _, err = sbfixture.run_main(report_cmd.main, [path, "--no-plots"])
        self.assertEqual(rc, 0, err)
        with open(os.path.join(path, "report.md")) as f:
            md = f.read()
        # the costs table: both parts, labelled, and their sum in ns
        self.assertIn("| server CPU per request change [95%] | server verdict | sender "
                      "(loopback softirq in the load generator) CPU per request change [95%] "
                      "| sender verdict |", md)
        self.assertRegex(md, r"\| `x` \| \+\d\.\d% \[[^|]+\| [^|]*\| \+[23]\.\d% \[[^|]+\| "
                             r"\*\*worse\*\* \| server \+\d+ ns \[[^]]+\] \+ sender "
                             r"\+\d+ ns \[\+\d+, \+\d+\] = \+\d+ ns \|")
        # the verdict names the sender part on its own row, the noise table its floor
        self.assertRegex(md, r"\| drop \| keepalive \| sender \(loopback softirq in the load "
                             r"generator\) \| \d\.\d µs \| `x` \+[23]\.\d% ")
        self.assertIn("noise floor (sender CPU)", md)
        self.assertIn("one loadgen process (a thread and ring per instance, both on the load "
                      "generator's CPU, each thread's own CPU time the instance's sender part;",
                      md)
        self.assertRegex(md, r"ns CPU per request \(sender: \d{4} ns in the load generator's "
                             r"thread\)")


if __name__ == "__main__":
    unittest.main()
