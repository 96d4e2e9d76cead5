"""`sandbench run --upgrade FROM,TO`: one plan measured under two releases
side by side, two sandbox hosts up at once (their own names, cgroups and
port ranges: sblib.measuring.host, ports).

Per server and epoch both hosts start the plan's variants (Instances, in
seeded places); then every round holds one window per variant and mode
in which four instances are loaded at the same moment by one loadgen, a
thread each: FROM's baseline and variant, TO's baseline and variant. So
every window gives FROM's cost (variant / baseline), TO's, and the
baseline's own change across the upgrade (TO / FROM: the whole stack's,
systemd, glibc, OpenSSL and the servers built against them), all seen at
one speed of the machine.

Writes DIR/FROM and DIR/TO, each a results directory as `run` writes one
(spec.json, env.json, runs.jsonl, variants.json, summary.json, its own
report), whose windows pair that release's baseline and variant (records
name the whole window in "upgrade_with"), and in DIR the matrix
(sblib.analysis.upgrade: upgrade.json, summary.json, report.md/.html).
"""
import concurrent.futures
import copy
import os
import random
import sys
import time

from sblib import catalogue as cat
from sblib import util
from sblib.analysis import upgrade as an
from sblib.measuring import collect as coll
from sblib.measuring import host as _host
from sblib.analysis.summary import write_summary
from sblib.measuring import kernel, life, releases, resume, session
from sblib.measuring.instances import Instances
from sblib.measuring.load import Loader
from sblib.measuring.runplan import PlanError
from sblib.records import store
from sblib.records import windows as win
from sblib.records.writer import now_iso

MACHINE = "machine"         # this machine's own stack (its /usr, or $SANDBENCH_ROOT)
MODES = ("keepalive", "close", "resume")


def parse_pair(text):
    """(FROM, TO) of "FROM,TO": two different releases of
    releases.RELEASES or MACHINE. Raises PlanError."""
    parts = [p.strip() for p in (text or "").split(",")]
    valid = list(releases.RELEASES) + [MACHINE]
    if len(parts) != 2 or parts[0] == parts[1] or any(p not in valid for p in parts):
        raise PlanError(f"--upgrade takes FROM,TO: two different ones of {', '.join(valid)}")
    return tuple(parts)


def check_plan(a, spec):
    """Raises PlanError where SPEC cannot be measured in four-instance
    windows (the reference servers, every mode windowed)."""
    if a.unit:
        raise PlanError("--upgrade measures the reference servers (--unit: not yet)")
    if a.release or a.root or a.resume:
        raise PlanError("--upgrade names both releases; not with --release, --root or --resume")
    if a.startup_reps:
        raise PlanError("--upgrade measures CPU per request in windows; no --startup-reps")
    duet = spec.get("duet") or {}
    for s in spec["servers"]:
        ms = (duet.get("by_server") or {}).get(s, {}).get("modes") or []
        if set(ms) != set(spec["modes"]) or any(m not in MODES for m in ms):
            raise PlanError(f"--upgrade: {s} {','.join(spec['modes'])} cannot be measured in "
                            f"windows (modes {', '.join(MODES)}, not inetd's close/resume)")


def host_name(a, rel):
    return f"{a.name}-{rel}"


def half_spec(spec, rel, pair):
    """The spec.json of release REL's half of an upgrade run."""
    s = copy.deepcopy({k: v for k, v in spec.items() if k != "_order"})
    s.pop("release", None)
    if rel != MACHINE:
        s["release"] = rel
    s["order"] = []                     # windows only: no isolated slices
    s["duet"]["isolated_reps"] = 0
    s["upgrade"] = {"from": pair[0], "to": pair[1], "side": "from" if rel == pair[0] else "to"}
    return s


def plan_windows(variant_ids, base_id, modes, rounds, seed, label):
    """[(round, mode, variant, order)] of an epoch: one window per variant
    (the A/A copy included) and mode per round, shuffled, ORDER the URL
    order of the four instances (a permutation of range(4): FROM base,
    FROM variant, TO base, TO variant)."""
    rng = random.Random(f"{seed}/{label}/upgrade")
    out = []
    for rnd, mode, vid, _ in win.plan(variant_ids, base_id, modes, rounds, seed, label):
        order = list(range(4))
        rng.shuffle(order)
        out.append((rnd, mode, vid, order))
    return out


class Side:
    """One release's half: its host, results, instances and records."""

    def __init__(self, rel, a, spec, res, host, fac, progress):
        self.rel, self.spec, self.res, self.host = rel, spec, res, host
        self.fleet = Instances(a, spec, host, fac, progress, lambda inst: None)
        self.variants = {}
        self.insts = []


class Upgrade:
    """Measures SPEC under releases PAIR (FROM, TO) in SIDES, as `run`'s
    options A say, with the load generator LOADGEN."""

    def __init__(self, a, spec, pair, sides, loadgen):
        self.a, self.spec, self.pair, self.sides = a, spec, pair, sides
        self.lg = Loader(a, sides[0].spec, sides[0].host, loadgen)
        self.wid = 0                # the next window's number (both halves' "window")
        self.t0 = time.monotonic()
        self.total = self.windows_planned()

    def windows_planned(self):
        d = self.spec["duet"]
        n = sum(len(d["by_server"][s]["modes"]) * (sum(1 for v in self.spec["variants"]
                                                       if v["server"] == s) - 1)
                for s in self.spec["servers"])
        return n * d["rounds"]

    def progress(self, what):
        el = time.monotonic() - self.t0
        print(f"[{self.wid}/{self.total} {int(el // 60)}:{int(el % 60):02d}] {what}",
              file=sys.stderr, flush=True)

    def run(self):
        for server in self.spec["servers"]:
            for e in range(self.spec["epochs"]):
                self.epoch(server, e)
        for s in self.sides:
            s.res.write("variants.json", s.variants)

    def epoch(self, server, e):
        # a variant that failed in either release is not started again
        vs = [v for v in self.spec["variants"] if v["server"] == server
              and all(s.variants.get(v["id"], {}).get("status", "ok") == "ok"
                      for s in self.sides)]
        for s in self.sides:
            sspec = s.fleet.server_spec(server)
            order = list(vs)
            random.Random(f"{self.spec['seed']}/{server}/{s.rel}/positions/{e}").shuffle(order)
            s.insts = [s.fleet.make_instance(sspec, v, i) for i, v in enumerate(order)]
            for i, inst in enumerate(s.insts):
                inst.position, inst.epoch, inst.release = i, e, s.rel
            s.sources = s.fleet.sources(sspec)
        try:
            for s in self.sides:
                s.fleet.bring_up(s.insts, s.sources, evidence=(e == 0), warm=False)
                base = self.base(s)
                if base.status != "ok":
                    raise _host.HostError(f"{s.rel}: the baseline {base.id} is {base.status}: "
                                          f"{base.reason}")
                if e == 0:
                    s.variants.update({i.id: {**i.record(), "release": s.rel} for i in s.insts})
            self.windows(server, e)
            for s in self.sides:
                for inst in s.insts:
                    if inst.status == "ok":
                        s.fleet.check_alive(inst)
                    if inst.status != "ok" and e > 0:
                        s.variants[inst.id].update(status=inst.status,
                                                   reason=f"epoch {e + 1}: {inst.reason}")
        finally:
            for s in self.sides:
                s.fleet.uninstall(s.insts)
                s.insts = []

    @staticmethod
    def base(side):
        return next(i for i in side.insts if i.v["role"] == "baseline")

    def windows(self, server, e):
        d = self.spec["duet"]
        ds = d["by_server"][server]
        from_, to = self.sides
        rounds = resume.epoch_rounds(d["rounds"], e, self.spec["epochs"])
        by = [{i.id: i for i in s.insts} for s in self.sides]
        ids = [v["id"] for v in self.spec["variants"] if v["server"] == server]
        base_id = next(v["id"] for v in self.spec["variants"]
                       if v["server"] == server and v["role"] == "baseline")
        for rnd, mode, vid, order in plan_windows(ids, base_id, ds["modes"], rounds,
                                                  self.spec["seed"], f"{server}/{e}"):
            four = [by[0][base_id], by[0].get(vid), by[1][base_id], by[1].get(vid)]
            if any(i is None or i.status != "ok" for i in four):
                self.total -= 1         # not measured: one side did not run
                continue
            self.progress(f"{vid} {mode} window round {rnd + 1}/{d['rounds']} "
                          f"({self.pair[0]} and {self.pair[1]})")
            placed = [four[k] for k in order]
            recs = self.lg.window(placed, mode, rnd, self.wid, from_.res.done + to.res.done)
            self.wid += 1
            for s in self.sides:
                s.res.add_runs(split(recs, placed, s))
                s.res.status("running")


def split(recs, placed, side):
    """SIDE's two records of a four-instance window RECS (one per instance
    of PLACED, as Loader.window made them): each names its partner of its
    own release in "with" (a window pair as `run` records one) and the
    whole window in "upgrade_with" (release/variant in URL order)."""
    names = [f"{inst.release}/{inst.id}" for inst in placed]
    out = []
    for rec, inst in zip(recs, placed):
        if inst.release != side.rel:
            continue
        r = dict(rec)
        r["with"] = [i.id for i in placed if i.release == side.rel and i.id != inst.id]
        r["upgrade_with"] = names
        r["release"] = side.rel
        out.append(r)
    return out


def boot(a, rels):
    """The sandbox hosts of RELS, booted at the same time (each its name,
    a-name-REL): [Host]. On an error the ones that came up are taken down."""
    def one(rel):
        return _host.up(host_name(a, rel), owner=os.getpid(), lock_timeout=a.lock_timeout,
                        release=None if rel == MACHINE else rel, fixed_ports=False)
    with concurrent.futures.ThreadPoolExecutor(len(rels)) as ex:
        futs = [ex.submit(one, r) for r in rels]
        hosts, err = [], None
        for f in futs:
            try:
                hosts.append(f.result())
            except BaseException as e:  # noqa: BLE001 - the other host is taken down
                err = err or e
    if err is not None:
        for h in hosts:
            if getattr(h, "owned", False):
                _host.down(host=h)
        raise err
    return hosts


def measure(a, spec, argv, loadgen, out):
    """The upgrade run of `run --upgrade` (parsed options A, SPEC from
    runplan.build_plan) into OUT: (its exit status, (FROM, TO)). Raises
    PlanError (before anything is booted) for a plan it cannot measure."""
    pair = parse_pair(a.upgrade)
    check_plan(a, spec)
    spec["created"] = now_iso()
    spec["commit"] = util.commit()
    spec["argv"] = ["run"] + list(argv)
    results = [session.open_results(os.path.join(out, rel)) for rel in pair]
    halves = [half_spec(spec, rel, pair) for rel in pair]
    for res, hs in zip(results, halves):
        res.write("spec.json", hs)
        res.status("running")
    session.say(f"--upgrade {pair[0]} -> {pair[1]}: {len(spec['variants'])} variants in each, "
                f"windows of four instances, seed {spec['seed']}, results in {out}")
    hosts, sides, state = [], [], "interrupted"
    with life.interruptible():
        try:
            fac = kernel.facilities()
            hosts = boot(a, pair)
            for rel, res, hs, h in zip(pair, results, halves, hosts):
                res.write("env.json", {**coll.environment(h, fac), "port_range": h.slot,
                                       "host_name": h.name})
                sides.append(Side(rel, a, hs, res, h, fac, session.say))
            up = Upgrade(a, spec, pair, sides, loadgen)
            for s in sides:
                s.fleet.progress = up.progress
                s.res.planned = 2 * up.total
            up.run()
            state = "complete"
        except KeyboardInterrupt:
            session.say("interrupted; cleaning up")
        except (_host.HostError, cat.CatalogueError, OSError) as e:
            session.say(str(e))
            state = "busy" if isinstance(e, _host.LockBusy) else "failed"
        finally:
            with life.shielded():
                for s in sides:
                    if s.insts:
                        try:
                            s.fleet.uninstall(s.insts)
                        except Exception as e:  # noqa: BLE001 - cleanup goes on
                            session.say(f"cleanup: {e}")
                for h in hosts:
                    if getattr(h, "owned", False):
                        _host.down(host=h)
    return finish_halves(out, pair, sides, results, state)


def finish_halves(out, pair, sides, results, state):
    """Each half's variants.json, summary and status; the matrix in OUT;
    the exit status of the run that ended in STATE."""
    for k, res in enumerate(results):
        variants = sides[k].variants if k < len(sides) else {}
        res.write("variants.json", variants)
        write_summary(res, store.read_json(os.path.join(res.path, "spec.json")), variants)
        res.status("failed" if state == "busy" else state)
        res.runs.close()
    matrix = an.write(out, pair)
    for line in an.lines(matrix):
        print(line)
    print(f"\nresults: {out} (each release's half in {out}/{pair[0]} and {out}/{pair[1]})")
    return life.exit_status(state), pair
