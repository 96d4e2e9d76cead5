"""`sandbench run --upgrade FROM,TO`: one plan measured under two releases
side by side, two sandbox hosts up at once (their own names, cgroups and
port ranges: sblib.measuring.host, ports). `--upgrade A,B,C...`: a chain,
measured as its consecutive steps A->B, B->C ..., each such a run of two
releases, one after the other (a release's host stays up into the next
step that needs it).

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
A chain writes each step so in DIR/A-B, DIR/B-C ..., and in DIR the
chain's matrix (sblib.analysis.upgrade_chain: chain.json, summary.json).
What it plans before booting anything (the chain, its steps, the windows,
the progress line) is sblib.measuring.upgrade_plan.
"""
import concurrent.futures
import os
import random
import time

from sblib import catalogue as cat
from sblib import util
from sblib.analysis import upgrade as an
from sblib.analysis import upgrade_chain as chain_an
from sblib.measuring import collect as coll
from sblib.measuring import host as _host
from sblib.analysis.summary import write_summary
from sblib.measuring import kernel, life, releases, resume, session
from sblib.measuring.instances import Instances
from sblib.measuring.load import Loader
from sblib.measuring.upgrade_plan import (MACHINE, Progress, check_plan, clock, half_spec,
                                          parse_chain, plan_windows, step_out, steps_of,
                                          windows_planned)
from sblib.records import store
from sblib.records.writer import now_iso


def host_name(a, rel):
    return f"{a.name}-{rel}"


class Side:
    """One release's half: its host, results, instances and records."""

    def __init__(self, rel, a, spec, res, host, fac, progress):
        self.rel, self.spec, self.res, self.host = rel, spec, res, host
        self.fleet = Instances(a, spec, host, fac, progress, lambda inst: None)
        self.variants = {}
        self.insts = []


class Upgrade:
    """Measures SPEC under releases PAIR (FROM, TO) in SIDES, as `run`'s
    options A say, with the load generator LOADGEN; PROG the chain's
    Progress, LABEL what names this step in it ("" for a single step)."""

    def __init__(self, a, spec, pair, sides, loadgen, prog, label=""):
        self.a, self.spec, self.pair, self.sides = a, spec, pair, sides
        self.lg = Loader(a, sides[0].spec, sides[0].host, loadgen)
        self.wid = 0                # the next window's number (both halves' "window")
        self.prog, self.label = prog, label
        self.total = windows_planned(spec)
        # the seeds of a chain's steps differ, so a release measured in two
        # steps gets other places (and window orders) in the second
        self.tag = f"/{pair[0]}-{pair[1]}" if label else ""

    def progress(self, what):
        self.prog.say(self.label + what)

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
            random.Random(f"{self.spec['seed']}/{server}/{s.rel}/positions/{e}"
                          f"{self.tag}").shuffle(order)
            s.insts = [s.fleet.make_instance(sspec, v, i) for i, v in enumerate(order)]
            for i, inst in enumerate(s.insts):
                inst.position, inst.epoch, inst.release = i, e, s.rel
            s.sources = s.fleet.sources(sspec)
        try:
            for s in self.sides:
                s.fleet.bring_up(s.insts, s.sources, evidence=(e == 0), warm=False)
                base = self.base(s)
                if base.status != "ok":
                    hint = ("; a user's unit needs its program in each release's root "
                            "(--install PACKAGE) and its files shown (--show PATH)"
                            if server == "unit" and s.rel != MACHINE else "")
                    raise _host.HostError(f"{s.rel}: the baseline {base.id} is {base.status}: "
                                          f"{base.reason}{hint}")
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
                                                  self.spec["seed"], f"{server}/{e}{self.tag}"):
            four = [by[0][base_id], by[0].get(vid), by[1][base_id], by[1].get(vid)]
            if any(i is None or i.status != "ok" for i in four):
                self.total -= 1         # not measured: one side did not run
                self.prog.total -= 1
                continue
            self.progress(f"{vid} {mode} window round {rnd + 1}/{d['rounds']} "
                          f"({self.pair[0]} and {self.pair[1]})")
            placed = [four[k] for k in order]
            self.prog.started()
            recs = self.lg.window(placed, mode, rnd, self.wid, from_.res.done + to.res.done)
            self.wid += 1
            self.prog.done += 1
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
    extra = releases.host_args(a)       # --install (a release's root), --show

    def one(rel):
        return _host.up(host_name(a, rel), owner=os.getpid(), lock_timeout=a.lock_timeout,
                        release=None if rel == MACHINE else rel, fixed_ports=False,
                        install=() if rel == MACHINE else extra.get("install", ()),
                        show=extra.get("show"))
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


class Step:
    """One step (FROM, TO) of an upgrade run: its two halves' results in
    OUT/FROM and OUT/TO, opened when it begins, and its sides once measured."""

    def __init__(self, spec, chain, pair, out):
        self.pair, self.out, self.sides = pair, out, []
        self.results = [session.open_results(os.path.join(out, rel)) for rel in pair]
        self.halves = [half_spec(spec, rel, pair, chain) for rel in pair]
        for res, hs in zip(self.results, self.halves):
            res.write("spec.json", hs)
            res.status("running")

    def measure(self, a, spec, hosts, fac, loadgen, prog, label):
        """Measures the step in HOSTS ({release: Host}, both up)."""
        for rel, res, hs in zip(self.pair, self.results, self.halves):
            h = hosts[rel]
            res.write("env.json", {**coll.environment(h, fac), "port_range": h.slot,
                                   "host_name": h.name})
            self.sides.append(Side(rel, a, hs, res, h, fac, session.say))
        up = Upgrade(a, spec, self.pair, self.sides, loadgen, prog, label)
        for s in self.sides:
            s.fleet.progress = up.progress
            s.res.planned = 2 * up.total
        up.run()

    def cleanup(self):
        """Stops the instances a step that did not finish left running."""
        for s in self.sides:
            if s.insts:
                try:
                    s.fleet.uninstall(s.insts)
                except Exception as e:  # noqa: BLE001 - cleanup goes on
                    session.say(f"cleanup: {e}")
                s.insts = []

    def finish(self, state):
        """Each half's variants.json, summary and status (STATE), and the
        step's matrix in OUT, which it returns (None when unreadable)."""
        for k, res in enumerate(self.results):
            variants = self.sides[k].variants if k < len(self.sides) else {}
            res.write("variants.json", variants)
            write_summary(res, store.read_json(os.path.join(res.path, "spec.json")), variants)
            res.status("failed" if state == "busy" else state)
            res.runs.close()
        return an.write(self.out, self.pair)


def down_host(h):
    if getattr(h, "owned", False):
        _host.down(host=h)


def measure(a, spec, argv, loadgen, out):
    """The upgrade run of `run --upgrade` (parsed options A, SPEC from
    runplan.build_plan) into OUT: (its exit status, [(step directory,
    (FROM, TO))] of the steps that ran). Raises PlanError (before anything
    is booted) for a plan it cannot measure."""
    chain = parse_chain(a.upgrade)
    check_plan(a, spec)
    spec["created"] = now_iso()
    spec["commit"] = util.commit()
    spec["argv"] = ["run"] + list(argv)
    steps = steps_of(chain)
    prog = Progress(windows_planned(spec) * len(steps))
    session.say(f"--upgrade {' -> '.join(chain)}: {len(spec['variants'])} variants in each "
                f"release, windows of four instances"
                + (f" in {len(steps)} steps, one after the other" if len(steps) > 1 else "")
                + f", {prog.total} windows, seed {spec['seed']}, results in {out}")
    hosts, ran, step, state = {}, [], None, "interrupted"
    with life.interruptible():
        try:
            fac = kernel.facilities()
            for k, pair in enumerate(steps):
                step = Step(spec, chain, pair, step_out(out, chain, pair))
                for rel in [r for r in hosts if r not in pair]:
                    down_host(hosts.pop(rel))       # not needed by this step
                need = [r for r in pair if r not in hosts]
                hosts.update(zip(need, boot(a, need)))
                step.measure(a, spec, hosts, fac, loadgen, prog,
                             f"{pair[0]}->{pair[1]} ({k + 1}/{len(steps)}): "
                             if len(steps) > 1 else "")
                ran.append((step, step.finish("complete")))
                step = None
            state = "complete"
        except KeyboardInterrupt:
            session.say("interrupted; cleaning up")
        except (_host.HostError, cat.CatalogueError, OSError) as e:
            session.say(str(e))
            state = "busy" if isinstance(e, _host.LockBusy) else "failed"
        finally:
            with life.shielded():
                if step is not None:
                    step.cleanup()
                for h in hosts.values():
                    down_host(h)
    if step is not None:
        ran.append((step, step.finish(state)))
    return finish(out, chain, ran, state, prog)


def finish(out, chain, ran, state, prog):
    """Prints the matrix (a step's, or the chain's written in OUT) of the
    steps RAN [(Step, its matrix)]; the exit status of a run that ended in
    STATE and [(step directory, pair)]."""
    if len(chain) == 2:
        for line in an.lines(ran[0][1] if ran else None):
            print(line)
        print(f"\nresults: {out} (each release's half in {out}/{chain[0]} and {out}/{chain[1]})")
    else:
        m = chain_an.write(out, chain)
        for line in chain_an.lines(m):
            print(line)
        print(f"\nresults: {out} (each step's run in " + ", ".join(
            f"{out}/{chain_an.step_dir(p)}" for p in steps_of(chain)) + ")")
    print(f"{prog.done} windows in {clock(time.monotonic() - prog.t0)}")
    return life.exit_status(state), [(st.out, st.pair) for st, _ in ran]
