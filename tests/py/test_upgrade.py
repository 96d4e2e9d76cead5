"""run --upgrade: the matrix's analysis on crafted windows of known answer
(a directive whose cost grows 8% across the upgrade under a machine
drifting by 25%, the baseline's own change, the A/A control not called,
windows a half lost left out), the matrix over a chain of three releases
(each step's change, a middle release's cost pooled over both its steps,
no change called where a step did not change it), the chain's parsing,
steps and directories, its progress and ETA, the four-instance window plan
and record split, and the port ranges of sandbox hosts up at once (never
the same port twice, a held range never taken, range 0 kept from older
trees)."""
import os
import random
import sys
import tempfile
import types
import unittest
import unittest.mock

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))

from sblib.analysis import upgrade as an  # noqa: E402
from sblib.analysis import upgrade_chain as chain_an  # noqa: E402
from sblib.measuring import cgroups, plan, ports, session  # noqa: E402
from sblib.measuring import upgrade as up  # noqa: E402
from sblib.measuring import upgrade_plan as upp  # noqa: E402
from sblib.measuring.runplan import PlanError  # noqa: E402
from sblib.report import upgrade as rep  # noqa: E402

B, AA, V = "drop/baseline", "drop/baseline-aa", "drop/private-tmp-yes"


def halves(n=24, cost_from=1.02, cost_to=1.10, base_change=0.9, seed=1, lose=()):
    """Runs of the FROM and TO halves: N windows per variant, each at its
    own machine speed (drift up to 25%), noise 0.5% per instance."""
    rng = random.Random(seed)
    runs = ([], [])
    wid = 0
    for k in range(n):
        for vid, cf, ct in ((V, cost_from, cost_to), (AA, 1.0, 1.0)):
            speed = 1.0 + 0.25 * rng.random()
            vals = {(0, B): 8000 * speed, (0, vid): 8000 * speed * cf,
                    (1, B): 8000 * speed * base_change, (1, vid): 8000 * speed * base_change * ct}
            for (side, v), x in vals.items():
                rec = {"window": wid, "server": "drop", "mode": "keepalive", "variant": v,
                       "epoch": k * 2 // n, "status": "ok",
                       "cpu_ns_per_req": x * (1 + rng.gauss(0, 0.005))}
                if wid in lose and side == 1:
                    rec["status"] = "error"
                runs[side].append(rec)
            wid += 1
    spec = {"seed": 5, "variants": [{"id": B, "server": "drop", "role": "baseline"},
                                    {"id": AA, "server": "drop", "role": "aa"},
                                    {"id": V, "server": "drop", "role": "variant"}]}
    env = {"release": "x", "systemd_package": "systemd 252"}
    ok = {v: {"status": "ok"} for v in (B, AA, V)}
    new = "drop/protect-hostname-private"
    var = ({**ok, new: {"status": "unsupported", "reason": "unknown to systemd 252"}},
           {**ok, new: {"status": "ok"}})
    return [{"spec": spec, "env": env, "runs": runs[k], "variants": var[k],
             "status": {"state": "complete"}} for k in (0, 1)]


class Matrix(unittest.TestCase):
    def setUp(self):
        self.m = an.matrix(halves(), ("bookworm", "trixie"), resamples=500)
        self.g = self.m["groups"][0]
        self.rows = {r["variant"]: r for r in self.g["rows"]}

    def test_costs_and_change_through_drift(self):
        r = self.rows[V]
        self.assertAlmostEqual(r["from"]["ratio"], 1.02, delta=0.005)
        self.assertAlmostEqual(r["to"]["ratio"], 1.10, delta=0.005)
        c = r["change"]
        self.assertAlmostEqual(c["ratio"], 1.10 / 1.02, delta=0.006)
        self.assertTrue(c["lo"] > 1.0 and c["lo"] < c["ratio"] < c["hi"], c)
        self.assertLess(c["hi"] - c["lo"], 0.03)      # paired: the 25% drift cancels
        self.assertTrue(r["beyond_noise"])
        self.assertEqual(r["verdict"], "worse")

    def test_baseline_change_and_floors(self):
        b = self.g["baseline"]
        self.assertAlmostEqual(b["ratio"], 0.9, delta=0.005)
        self.assertTrue(b["hi"] < 1.0)
        self.assertEqual(self.g["windows"], 48)
        aa = self.rows[AA]
        self.assertFalse(aa["beyond_noise"])
        self.assertTrue(aa["change"]["lo"] < 1.0 < aa["change"]["hi"])
        for k in ("from", "to", "change"):
            self.assertIsNotNone(self.g["floors"][k])
            self.assertLess(self.g["floors"][k], 0.02)

    def test_beyond_noise_first(self):
        self.assertEqual([r["variant"] for r in self.g["rows"]], [V, AA])

    def test_unchanged_cost_not_called(self):
        m = an.matrix(halves(cost_to=1.02, seed=2), ("a", "b"), resamples=500)
        r = {x["variant"]: x for x in m["groups"][0]["rows"]}[V]
        self.assertFalse(r["beyond_noise"])
        self.assertEqual(r["verdict"], "~")

    def test_windows_a_half_lost_are_left_out(self):
        m = an.matrix(halves(lose={0, 1, 2, 3}), ("a", "b"), resamples=200)
        g = m["groups"][0]
        self.assertEqual(g["windows"], 44)
        self.assertEqual({r["variant"]: r["n"] for r in g["rows"]}, {V: 22, AA: 22})

    def test_a_directive_unknown_to_one_release_is_named(self):
        u = self.g["unmeasured"]
        self.assertEqual([x["variant"] for x in u], ["drop/protect-hostname-private"])
        self.assertIn("unknown to systemd 252", u[0]["bookworm"])
        self.assertEqual(u[0]["trixie"], "ok")
        self.assertIn("protect-hostname-private: not measured in both", "\n".join(an.lines(self.m)))

    def test_summary_rows_and_text(self):
        rows = an.summary_rows(self.m)
        self.assertEqual({(r["variant"], r["release"]) for r in rows},
                         {(v, rel) for v in (B, V, AA)
                          for rel in ("bookworm", "trixie", "bookworm->trixie")})
        by = {(r["variant"], r["release"]): r for r in rows}
        # fractions, as a run's summary rows
        self.assertAlmostEqual(by[V, "trixie"]["cpu_ns_per_req_change"], 0.10, delta=0.005)
        self.assertAlmostEqual(by[B, "bookworm->trixie"]["cpu_ns_per_req_change"], -0.10,
                               delta=0.005)
        self.assertEqual(by[V, "bookworm->trixie"]["cpu_ns_per_req_verdict"], "worse")
        text = "\n".join(an.lines(self.m))
        self.assertIn("whole stack", text)
        self.assertIn("* private-tmp-yes", text)
        md = "\n".join(str(b) for b in rep.blocks(self.m, "/x/run"))
        self.assertIn("Changes in cost beyond the noise", md)


CHAIN = ("bullseye", "bookworm", "trixie")
# private-tmp-yes costs 2% in bullseye and bookworm, 10% in trixie; the
# baseline speeds up 10% from bullseye to bookworm, not at all after
COST = {"bullseye": 1.02, "bookworm": 1.02, "trixie": 1.10}
LEVEL = {"bullseye": 1.0, "bookworm": 0.9, "trixie": 0.9}


def chain_steps(n=24, seed=1, skip_last=False):
    """[(pair, halves, step matrix)] of a chain run over CHAIN, each step
    crafted as halves() crafts one (its own drift and noise)."""
    out = []
    for k, pair in enumerate(zip(CHAIN, CHAIN[1:])):
        if skip_last and k == 1:
            out.append((pair, None, None))
            continue
        hs = halves(n, cost_from=COST[pair[0]], cost_to=COST[pair[1]],
                    base_change=LEVEL[pair[1]] / LEVEL[pair[0]], seed=seed + k)
        for rel, h in zip(pair, hs):
            h["env"] = {"release": rel, "systemd_package": f"systemd of {rel}"}
        out.append((pair, hs, an.matrix(hs, pair, resamples=400)))
    return out


class Chain(unittest.TestCase):
    def setUp(self):
        self.m = chain_an.matrix(CHAIN, chain_steps(), resamples=400)
        self.g = self.m["groups"][0]
        self.rows = {r["variant"]: r for r in self.g["rows"]}

    def test_each_steps_change(self):
        r = self.rows[V]
        one, two = r["change"]["bullseye->bookworm"], r["change"]["bookworm->trixie"]
        self.assertAlmostEqual(one["ratio"], 1.0, delta=0.006)
        self.assertEqual(one["verdict"], "~")
        self.assertAlmostEqual(two["ratio"], 1.10 / 1.02, delta=0.006)
        self.assertEqual(two["verdict"], "worse")
        self.assertEqual(r["beyond_noise"], ["bookworm->trixie"])
        self.assertNotIn("bullseye->trixie", r["change"])     # never side by side

    def test_costs_per_release_the_middle_pooled(self):
        r = self.rows[V]
        for rel, x in COST.items():
            self.assertAlmostEqual(r["cost"][rel]["ratio"], x, delta=0.005, msg=rel)
        self.assertEqual(r["cost"]["bookworm"]["n_base"], 48)        # both steps' windows
        self.assertEqual(r["cost"]["bullseye"]["n_base"], 24)
        self.assertEqual(set(self.g["floors"]["cost"]), set(CHAIN))
        self.assertTrue(all(0 < x < 0.02 for x in self.g["floors"]["cost"].values()))

    def test_baselines_per_step_and_order(self):
        b = {x["step"]: x for x in self.g["baselines"]}
        self.assertAlmostEqual(b["bullseye->bookworm"]["change"]["ratio"], 0.9, delta=0.005)
        self.assertEqual(b["bullseye->bookworm"]["verdict"], "better")
        self.assertAlmostEqual(b["bookworm->trixie"]["change"]["ratio"], 1.0, delta=0.005)
        self.assertEqual([r["variant"] for r in self.g["rows"]], [V, AA])
        self.assertFalse(self.rows[AA]["beyond_noise"])

    def test_unmeasured_names_each_release(self):
        u = {x["variant"]: x for x in self.g["unmeasured"]}["drop/protect-hostname-private"]
        self.assertIn("unknown to systemd 252", u["bullseye"])
        self.assertEqual(u["trixie"], "ok")

    def test_text_summary_and_report(self):
        text = "\n".join(chain_an.lines(self.m))
        self.assertIn("baseline bullseye->bookworm", text)
        self.assertIn("whole stack", text)
        self.assertIn("* private-tmp-yes", text)
        rows = chain_an.summary_rows(self.m)
        keys = {(r["variant"], r["release"]) for r in rows}
        self.assertIn((B, "bullseye->bookworm"), keys)
        self.assertIn((V, "bookworm"), keys)
        self.assertIn((V, "bookworm->trixie"), keys)
        self.assertEqual(len(keys), len(rows))                  # one row per key
        md = "\n".join(str(b) for b in rep.chain_blocks(self.m, "/x/run"))
        self.assertIn("bookworm → trixie", md)
        self.assertIn("never loaded side by side", md)
        self.assertNotIn("not complete", md)

    def test_a_step_not_run(self):
        m = chain_an.matrix(CHAIN, chain_steps(skip_last=True), resamples=200)
        self.assertEqual(m["status"]["bookworm->trixie"], "not run")
        r = {x["variant"]: x for x in m["groups"][0]["rows"]}[V]
        self.assertIsNone(r["cost"]["trixie"])
        self.assertEqual(list(r["change"]), ["bullseye->bookworm"])
        md = "\n".join(str(b) for b in rep.chain_blocks(m, "/x/run"))
        self.assertIn("not complete", md)
        self.assertIn("trixie", "\n".join(chain_an.lines(m)))


class ChainPlan(unittest.TestCase):
    def test_parsed_in_order(self):
        self.assertEqual(upp.parse_chain("bullseye, bookworm,trixie"), CHAIN)
        self.assertEqual(upp.parse_chain("trixie,bookworm"), ("trixie", "bookworm"))
        for bad in ("bullseye,bookworm,bullseye", "bullseye,,trixie", "bullseye,sid,trixie", ""):
            with self.assertRaises(PlanError, msg=bad):
                upp.parse_chain(bad)
        with self.assertRaisesRegex(PlanError, "named twice"):
            upp.parse_chain("trixie,trixie")

    def test_steps_and_their_directories(self):
        self.assertEqual(upp.steps_of(CHAIN), [("bullseye", "bookworm"), ("bookworm", "trixie")])
        self.assertEqual(upp.step_out("/o", ("a", "b"), ("a", "b")), "/o")      # as before
        self.assertEqual(upp.step_out("/o", CHAIN, ("bookworm", "trixie")), "/o/bookworm-trixie")
        spec = {"duet": {"isolated_reps": 3}, "release": "x", "_order": [1]}
        h = upp.half_spec(spec, "bookworm", ("bookworm", "trixie"), CHAIN)
        self.assertEqual(h["upgrade"], {"from": "bookworm", "to": "trixie", "side": "from",
                                        "chain": list(CHAIN)})
        self.assertNotIn("chain", upp.half_spec(spec, "a", ("a", "b"), ("a", "b"))["upgrade"])

    def test_a_users_unit_only_with_copies_side_by_side(self):
        a = types.SimpleNamespace(release=None, root=None, resume=None, startup_reps=0)

        def spec(copies):
            return {"servers": ["unit"], "modes": ["keepalive"], "unit": "my.service",
                    "user_unit": {"target": "my.service", "copies": copies,
                                  "copies_why": "it sets NetworkNamespacePath="},
                    "duet": {"by_server": {"unit": {"modes": ["keepalive"]}}}}
        upp.check_plan(a, spec("netns"))
        upp.check_plan(a, spec("ports"))
        with self.assertRaisesRegex(PlanError, "one copy at a time .it sets Network"):
            upp.check_plan(a, spec("one at a time"))
        with self.assertRaisesRegex(PlanError, "not with --release"):
            upp.check_plan(types.SimpleNamespace(**{**vars(a), "release": "trixie"}),
                          spec("netns"))

    def test_hosts_get_the_packages_but_the_machine(self):
        got = {}

        def fake_up(name, **kw):
            got[name] = kw
            return types.SimpleNamespace(name=name, owned=True)
        a = types.SimpleNamespace(name="n", lock_timeout=1, install=["webfs"], show=["/srv/x"],
                                  release=None, root=None, upgrade="machine,trixie")
        with unittest.mock.patch.object(up._host, "up", fake_up):
            hosts = up.boot(a, ["machine", "trixie"])
        self.assertEqual([h.name for h in hosts], ["n-machine", "n-trixie"])
        self.assertEqual((got["n-trixie"]["release"], got["n-trixie"]["install"]),
                         ("trixie", ["webfs"]))
        self.assertEqual((got["n-machine"]["release"], got["n-machine"]["install"]), (None, ()))
        self.assertTrue(all(k["show"] == ["/srv/x"] and k["fixed_ports"] is False
                            for k in got.values()))

    def test_a_users_unit_changes_what_the_stack_holds(self):
        hs = halves()
        hs[0]["spec"]["unit"] = "my.service"
        m = an.matrix(hs, ("bookworm", "trixie"), resamples=100)
        self.assertIn("the unit's own program", "\n".join(an.lines(m)))
        self.assertIn("the unit's own program", m["note"])
        self.assertNotIn("servers built", "\n".join(str(b) for b in rep.blocks(m, "/x")))

    def test_windows_planned(self):
        spec = {"servers": ["drop", "activated"],
                "variants": [{"server": "drop"}] * 4 + [{"server": "activated"}] * 2,
                "duet": {"rounds": 5, "by_server": {"drop": {"modes": ["keepalive", "close"]},
                                                    "activated": {"modes": ["keepalive"]}}}}
        self.assertEqual(upp.windows_planned(spec), (2 * 3 + 1 * 1) * 5)

    def test_progress_and_eta(self):
        t = [100.0]
        p = upp.Progress(10, now=lambda: t[0])
        t[0] = 160.0
        self.assertIsNone(p.eta())
        self.assertEqual(p.line("x"), "[0/10 1:00] x")
        p.started()                     # the root builds and first boot are not the pace
        t[0] = 180.0
        p.done = 2
        self.assertEqual(p.eta(), 80.0)
        self.assertEqual(p.line("x"), "[2/10 1:20, ETA 1:20] x")
        p.done, p.total = 10, 9
        self.assertEqual(p.eta(), 0.0)
        self.assertEqual(upp.clock(3725), "1:02:05")


class Windows(unittest.TestCase):
    def test_plan_every_variant_each_round_in_drawn_orders(self):
        p = upp.plan_windows([B, AA, V], B, ["keepalive"], range(3), 4, "drop/0")
        self.assertEqual(sorted((r, v) for r, _, v, _ in p),
                         sorted((r, v) for r in range(3) for v in (AA, V)))
        self.assertTrue(all(sorted(o) == [0, 1, 2, 3] for *_, o in p))
        self.assertGreater(len({tuple(o) for *_, o in p}), 1)
        self.assertEqual(p, upp.plan_windows([B, AA, V], B, ["keepalive"], range(3), 4, "drop/0"))

    def test_split_pairs_each_release(self):
        def inst(rel, vid):
            return types.SimpleNamespace(release=rel, id=vid)
        placed = [inst("trixie", V), inst("bookworm", B), inst("bookworm", V), inst("trixie", B)]
        recs = [{"variant": i.id, "with": ["?"]} for i in placed]
        got = up.split(recs, placed, types.SimpleNamespace(rel="bookworm"))
        self.assertEqual([(r["variant"], r["with"]) for r in got], [(B, [V]), (V, [B])])
        self.assertTrue(all(r["release"] == "bookworm" and len(r["upgrade_with"]) == 4
                            for r in got))

    def test_pair_parsed(self):
        self.assertEqual(upp.parse_chain("bookworm,trixie"), ("bookworm", "trixie"))
        self.assertEqual(upp.parse_chain("machine,trixie"), ("machine", "trixie"))
        for bad in ("bookworm", "bookworm,bookworm", "bookworm,sid", "a,b,c"):
            with self.assertRaises(PlanError):
                upp.parse_chain(bad)


class Ports(unittest.TestCase):
    def test_ranges_never_overlap(self):
        seen = {}
        for slot in range(plan.SLOTS):
            for g in range(4):
                for i in (0, plan.MAX_INSTANCES - 1):
                    for p in plan.ports(g, i, slot):
                        self.assertNotIn(p, seen, (slot, g, i, seen.get(p)))
                        seen[p] = (slot, g, i)
        self.assertLess(max(seen), 32768)       # below the ephemeral ports
        self.assertEqual(plan.ports(0, 0), (20100, 20500))     # range 0 as before
        with self.assertRaises(ValueError):
            plan.ports(0, 0, plan.SLOTS)

    def test_two_hosts_never_share_a_range(self):
        with tempfile.TemporaryDirectory() as d:
            k0, fds0 = ports.take_slot("a", 0, lock_dir=d)
            k1, fds1 = ports.take_slot("b", 0, lock_dir=d)
            self.assertNotEqual(k0, k1)
            self.assertIsNone(ports.try_slot(k0, d))        # held while its fds are open
            for f in fds0:
                os.close(f)
            k2, fds2 = ports.take_slot("c", 0, lock_dir=d)  # freed with its holder
            self.assertEqual(k2, k0)
            for f in fds1 + fds2:
                os.close(f)

    def test_all_held_is_an_error(self):
        with tempfile.TemporaryDirectory() as d:
            held = [ports.take_slot(str(k), 0, lock_dir=d, slots=2)[1] for k in range(2)]
            with self.assertRaises(ports.HostError):
                ports.take_slot("x", 0, lock_dir=d, slots=2)
            for fds in held:
                for f in fds:
                    os.close(f)

    def test_fixed_ports_only_in_range_zero(self):
        with tempfile.TemporaryDirectory() as d:
            k, fds = ports.take_slot("a", 0, lock_dir=d, fixed=True)
            self.assertEqual(k, 0)
            with self.assertRaises(ports.Busy):      # a second host on 443 waits, then gives up
                ports.take_slot("b", 0, lock_dir=d, fixed=True)
            k1, fds1 = ports.take_slot("c", 0, lock_dir=d)   # a ranged one comes up beside it
            self.assertEqual(k1, 1)
            for f in fds + fds1:
                os.close(f)
        self.assertTrue(session.fixed_ports({"user_unit": {"copies": "one at a time"}}))
        self.assertFalse(session.fixed_ports({"user_unit": {"copies": "netns"}}))
        self.assertFalse(session.fixed_ports({"servers": ["drop"]}))

    def test_range_zero_waits_for_an_older_tree(self):
        with tempfile.TemporaryDirectory() as d:
            fd = ports._flock(os.path.join(d, ports.LEGACY))      # an older sandbench's host
            k, fds = ports.take_slot("a", 0, lock_dir=d)
            self.assertEqual(k, 1)
            os.close(fd)
            for f in fds:
                os.close(f)


class Cgroups(unittest.TestCase):
    def test_own_directory_per_name_in_managed_hierarchies(self):
        with tempfile.TemporaryDirectory() as d:
            for sub in ("unified", "cpu", "memory", "systemd"):
                os.makedirs(os.path.join(d, sub, "here"))
                open(os.path.join(d, sub, "cgroup.procs"), "w").close()
            pc = os.path.join(d, "cgroup")
            with open(pc, "w") as f:
                f.write("9:name=systemd:/here\n4:memory:/here\n1:cpu:/here\n0::/here\n")
            made = cgroups.make("h1", proc_cgroup=pc, root=d)
            self.assertEqual(sorted(os.path.relpath(p, d) for p in made),
                             ["cpu/here/sandbench-host.h1", "systemd/here/sandbench-host.h1",
                              "unified/here/sandbench-host.h1"])
            self.assertNotEqual(made, cgroups.make("h2", proc_cgroup=pc, root=d))
            os.makedirs(os.path.join(made[0], "payload", "system.slice"))
            cgroups.remove("h1", proc_cgroup=pc, root=d)
            self.assertFalse(any(os.path.exists(p) for p in made))
            self.assertTrue(os.path.isdir(os.path.join(d, "cpu", "here", "sandbench-host.h2")))


if __name__ == "__main__":
    unittest.main()
