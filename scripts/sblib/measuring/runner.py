"""The matrix of a `sandbench run` measured (results/README.md, "How it is
measured"): per server its variants side by side in epochs (isolated slices,
then duet windows) or one at a time on the unit's own port, every slice
recorded as it ends, the variants' records kept up to date, the machine's
noise said as the rounds end, and a run that stopped measuring (Stalled) or
whose baseline failed (BaselineFailed) ended."""
import os
import random
import sys
import time

from sblib.measuring import host as _host
from sblib.measuring import plan
from sblib.measuring import resume
from sblib.measuring import unit as _unit
from sblib.measuring.instances import Instances
from sblib.measuring.reach import settle
from sblib.measuring.load import Loader
from sblib.measuring.runplan import reps_of
from sblib.measuring.scatter import Scatter, window_noise
from sblib.records import windows as win
from sblib.records.model import VariantId


# A run whose slices all fail, across variants, is no longer measuring (the
# machine or its systemd stopped answering): it stops after this many in a
# row; one broken variant cannot end it, its slices interleaved with others'.
STALL_SLICES = 20
STALL_VARIANTS = 5
# after a failed slice, the longest wait for a per-connection server's unit
# starts still in flight, so that they do not pile into the next slices
DRAIN_S = 30.0
# a window (or slice) that failed is measured again this many times at most,
# once what stopped serving is restarted (recover): one is lost to a fault
# only when it keeps failing
RETRIES = 1


class Stalled(Exception):
    """STALL_SLICES slices in a row failed across variants, or a baseline
    stopped serving for good (restarted as often as it may be)."""


class BaselineFailed(Exception):
    """A server's baseline did not start or answer: nothing of that server
    can be measured against it. Carries the instance."""

    def __init__(self, inst):
        super().__init__(inst.id)
        self.inst = inst


def baseline_failure(inst, host):
    """The lines `run` prints when INST, a baseline, failed: its status, the
    journal's reason, and what it says was missing (exists in the host?)."""
    lines = [f"the baseline {inst.id} ({inst.target}) is {inst.status}: nothing can be "
             "measured against it", f"  reason: {inst.reason or '?'}"]
    gone = _unit.missing_paths(inst.reason, lambda p: os.path.exists(host.path(p)))
    on_machine = os.path.exists if host.mode != "pid1" else (lambda p: False)

    def link_of(p):
        return os.readlink(host.path(p)) if os.path.islink(host.path(p)) else None
    for line in _unit.explain_missing(gone, on_machine, link_of, getattr(host, "root", "/")):
        lines.append(f"  missing: {line}")
    return lines


class Recorded:
    """A variant's record from variants.json standing in, on resume, for the
    instance of its first epoch (which keeps the record)."""

    def __init__(self, vid, rec):
        self.id, self.rec = vid, rec
        self.status, self.reason = rec.get("status"), rec.get("reason")
        self.memory = rec.get("memory_bytes")
        self.restarts = list(rec.get("restarts") or [])
        self.startups = list(rec.get("startup_ms_samples") or
                             ([rec["startup_ms"]] if rec.get("startup_ms") is not None else []))

    def record(self):
        out = {**self.rec, "status": self.status, "reason": self.reason,
               "memory_bytes": self.memory}
        if self.restarts:
            out["restarts"] = self.restarts
        if len(self.startups) > 1:
            out["startup_ms_samples"] = self.startups
        return out


class Runner:
    """Measures SPEC (runplan.build_plan's, with its "_order") in HOST, the
    sandbox host, as the parsed run options A say, every slice and window
    into RES (a records.writer.Results); run() goes server by server, and
    VARIANTS holds each variant's record as it is known. PAST, on resume:
    what the interrupted run left ({"runs", "epochs_done", "variants"});
    only what is left of the plan is measured (sblib.measuring.resume)."""

    def __init__(self, a, spec, host, res, loadgen, facilities, past=None):
        self.a = a
        self.spec = spec
        self.host = host
        self.res = res
        self.fleet = Instances(a, spec, host, facilities, self.progress, self.warm)
        self.lg = Loader(a, spec, host, loadgen)
        past = past or {}
        self.past = past.get("runs") or []
        self.epochs_done = {s: list(e) for s, e in (past.get("epochs_done") or {}).items()}
        self.variants = dict(past.get("variants") or {})
        self.done_keys = resume.recorded_keys(self.past, spec)
        self.remeasures = None      # the plan epoch being measured again, if one is
        self.t0 = time.monotonic()
        self.slice_times = []
        self.duet = spec.get("duet") or {}
        self.windows_done = resume.next_window(self.past)   # window number, unique over the run
        self.window_ratios = {}     # (server, mode) -> {variant: [CPU/request over the baseline's]}
        self.done0 = res.done       # records before this process
        self.total = self.account()["runs"]     # records left to make, at most
        self.replan()
        self.failed = []         # the failed slices since the last good one
        self.live = 1            # variants being measured now
        self.scatter = Scatter(spec)

    def warm(self, inst):
        """Unmeasured load on a started instance before its first slice."""
        self.lg.load(inst.url, "keepalive", self.a.warmup, connections=inst.spec.get("connections"),
                     netns=inst.netns_file)

    def account(self):
        """status.json's account of what is left (resume.left) and the
        command that resumes the run, set in RES; what is left."""
        self.res.more.update(resume.status_fields(self.spec, self.epochs_done, self.done_keys,
                                                  self.res.path))
        return self.res.more["left"]

    def epoch_done(self, server, e):
        """Plan epoch E of SERVER is measured: status.json says so at once
        (a resume measures it no more)."""
        self.epochs_done.setdefault(server, []).append(e)
        self.account()
        self.res.status("running")

    def replan(self):
        self.res.planned = self.done0 + self.total

    def add(self, recs):
        """Records RECS (one slice, or a window's pair) in runs.jsonl."""
        if self.remeasures is not None:
            for r in recs:
                r["planned_epoch"] = self.remeasures
        self.res.add_runs(recs)

    def progress(self, what):
        done = self.res.done - self.done0
        eta = ""
        if self.slice_times:
            per = sum(self.slice_times[-20:]) / len(self.slice_times[-20:])
            left = (self.total - done) * per
            eta = f", ETA {int(left // 60)}:{int(left % 60):02d}"
        el = time.monotonic() - self.t0
        print(f"[{done}/{self.total} {int(el // 60)}:{int(el % 60):02d}{eta}] {what}",
              file=sys.stderr, flush=True)

    def run(self):
        order = self.spec["_order"]
        for server in self.spec["servers"]:
            sspec = self.fleet.server_spec(server)
            vs = [v for v in self.spec["variants"] if v["server"] == server]
            sl = [o for o in order if VariantId.parse(o[0]).server == server]
            if sspec["side"]:
                self.run_side_by_side(sspec, vs, sl)
            else:
                self.run_sequential(sspec, vs, sl)
            for line in self.scatter.flush():
                self.progress(line)

    def finish_variant_records(self, insts):
        for inst in insts:
            self.variants[inst.id] = inst.record()
        self.res.write("variants.json", self.variants)

    def run_slices(self, insts, slices):
        by = {i.id: i for i in insts}
        for vid, mode, rnd in slices:
            inst = by[vid]
            if inst.status != "ok":
                continue
            t = time.monotonic()
            reps = reps_of(self.spec["reps"], self.duet, inst.v["server"])
            self.progress(f"{vid} {mode} round {rnd + 1}/{reps}")
            rec = self.measured_again(lambda: [self.lg.measure(inst, mode, rnd, self.res.done)],
                                      [inst], inst.epoch)[0]
            if inst.position is None:       # one at a time: resumed slice by slice
                self.done_keys.add(plan.slice_key(vid, mode, rnd))
                self.account()
            for line in self.scatter.add(rec):
                self.progress(line)
            self.res.status("running")
            self.slice_times.append(time.monotonic() - t)
            if rec["status"] == "ok":
                self.failed = []
            else:
                self.failed.append(rec)
                self.drain(insts)
                self.check_stall()

    # duet windows
    def run_windows(self, insts, e, num):
        """Plan epoch E's share of the duet rounds, measured as epoch NUM:
        per round one window per (variant, mode), the variant and the
        baseline loaded at once."""
        d = self.duet
        server = insts[0].v["server"] if insts else None
        if not d or server not in d["servers"]:
            return
        rounds = resume.epoch_rounds(d["rounds"], e, self.spec.get("epochs", 1))
        base = next((i for i in insts if i.v["role"] == "baseline"), None)
        by = {i.id: i for i in insts}
        ds = d["by_server"][server]
        only = d.get("controls_only")
        plan_ = win.plan([i.id for i in insts], base.id if base else None, ds["modes"], rounds,
                         self.spec["seed"], f"{server}/{num}", only)
        # variants that failed in an earlier epoch are not in this one's plan
        self.total -= 2 * (resume.planned(self.spec, server, e)[1] - len(plan_))
        self.replan()
        last = None
        for rnd, mode, vid, base_first in plan_ + [(None, None, None, None)]:
            if last is not None and rnd != last:
                for line in self.window_noise(server):
                    self.progress(line)
            last = rnd
            if rnd is None:
                break
            inst = by[vid]
            if base is not None and base.status != "ok":
                raise Stalled(f"the baseline {base.id} stopped serving and was given up ("
                              f"{(base.reason or '?')[-200:]}): nothing more of {server} can be "
                              "measured against it, so the run stops here")
            if base is None or inst.status != "ok":
                self.total -= 2
                self.replan()
                continue
            t = time.monotonic()
            pair = [base, inst] if base_first else [inst, base]
            self.progress(f"{vid} {mode} window round {rnd + 1}/{d['rounds']}")
            recs = self.measure_window(pair, mode, rnd, num)
            if all(r["status"] == "ok" for r in recs):
                cpu = {r["variant"]: r["cpu_ns_per_req"] for r in recs}
                if cpu[base.id]:
                    self.window_ratios.setdefault((server, mode), {}).setdefault(
                        vid, []).append(cpu[vid] / cpu[base.id])
            self.res.status("running")
            self.slice_times += [(time.monotonic() - t) / 2] * 2
            if all(r["status"] == "ok" for r in recs):
                self.failed = []
            else:
                self.failed += recs
                self.check_stall()

    def measure_window(self, pair, mode, rnd, num):
        """A duet window of PAIR (plan round RND, epoch NUM) recorded, again
        if it failed (measured_again); its records, the last measured."""
        def take():
            wid = self.windows_done
            self.windows_done += 1
            return self.lg.window(pair, mode, rnd, wid, self.res.done)
        return self.measured_again(take, pair, num)

    def measured_again(self, take, insts, num):
        """TAKE()'s records (a window's pair or a slice of INSTS, in epoch
        NUM) recorded; when they failed, what no longer serves is restarted
        (recover) and, while INSTS all serve, they are measured once more:
        the failed records say the fault and "remeasured", the new ones
        which window (or slice) they measure again. The last records."""
        redo = {}
        for attempt in range(1 + RETRIES):
            recs = take()
            for r in recs:
                r.update(redo)
            if all(r["status"] == "ok" for r in recs):
                self.add(recs)
                return recs
            which = recs[0].get("window", recs[0].get("slice"))
            fault = self.recover(insts, {"epoch": num, "window" if "window" in recs[0]
                                         else "slice": which})
            again = attempt < RETRIES and all(i.status == "ok" for i in insts)
            for r in recs:
                r["fault"] = fault or "every instance still answers: the window's own failure"
                if again:
                    r["remeasured"] = True
            self.add(recs)
            if not again:
                return recs
            self.total += len(recs)
            self.replan()
            self.progress(f"{'window' if 'window' in recs[0] else 'slice'} {which} failed "
                          f"({(fault or recs[0].get('error') or '?')[:160]}): measured again")
            self.drain(insts)
            redo = {"remeasures": which}
        return recs

    def recover(self, insts, where):
        """After a failed window or slice: each of INSTS that no longer
        serves (its unit killed, out of memory, stopped answering) is
        restarted (Instances.restart; "died" when that fails or it has
        been restarted too often). The faults found, as text, or None when
        every instance serves (the load generator failed). Raises HostError
        when the sandbox host is gone."""
        found = []
        for inst in insts:
            if inst.status != "ok":
                continue
            why = self.fleet.health(inst)
            if why:
                ok = self.fleet.restart(inst, why, where)
                found.append(f"{inst.id}: {why}" + ("; restarted" if ok else
                                                      f"; {inst.status}"))
        return "; ".join(found) or None

    def window_noise(self, server):
        """Progress lines after a round of SERVER's windows (scatter.window_noise)."""
        return window_noise(self.window_ratios, server)

    def drain(self, insts):
        """After a failed slice: waits (at most DRAIN_S) for the per-connection
        units of INSTS still starting or exiting, which the next slices would
        otherwise queue behind."""
        dirs = [d for i in insts if i.status == "ok" and "@." in i.target
                for d in (getattr(i, "cpu_dirs_cached", None) or [])]
        if dirs and not settle(dirs, DRAIN_S):
            print(f"    per-connection units still running {DRAIN_S:g} s after a failed slice",
                  file=sys.stderr)

    def check_stall(self):
        need = min(STALL_VARIANTS, self.live)
        kinds = {r["variant"] for r in self.failed}
        if len(self.failed) >= STALL_SLICES and len(kinds) >= need:
            last = self.failed[-1]
            raise Stalled(f"{len(self.failed)} slices in a row failed, across {len(kinds)} "
                          f"variants (the last: {last['variant']} {last['mode']}: "
                          f"{last.get('error', '?')[:200]}); the servers or the machine "
                          f"stopped answering, so the run stops here")

    def run_side_by_side(self, sspec, vs, slices):
        """Every variant of one server at once, each on its own port. With
        --epochs, the rounds are split into epochs and every epoch starts the
        instances afresh in a new shuffled order."""
        sources = self.fleet.sources(sspec)
        server = sspec["name"]
        reps = reps_of(self.spec["reps"], self.duet, server)
        # a server measured in windows re-places its instances every epoch
        # (windows in each); others need an isolated round per epoch
        n = resume.epochs_of(self.spec, server)
        # variant id -> its epoch-0 instance, which keeps the record (on
        # resume, once epoch 0 is done, the record variants.json holds)
        first = {v["id"]: Recorded(v["id"], self.variants[v["id"]]) for v in vs
                 if 0 in self.epochs_done.get(server, ()) and v["id"] in self.variants}
        for e, num in resume.todo(self.spec, server, self.epochs_done, self.past):
            rounds = resume.epoch_rounds(reps, e, n)
            esl = [x for x in slices if x[2] in rounds]
            live = [v for v in vs if e == 0 or v["id"] not in first
                    or first[v["id"]].status == "ok"]
            if not any(v["role"] == "baseline" for v in live):
                # its baseline died in an earlier epoch: nothing to measure
                # the others against (its record says why)
                if live:
                    self.progress(f"{sspec['name']}: the baseline is no longer running; "
                                  f"no epoch after {e}")
                break
            if n > 1 or num != e:
                self.progress(f"{server}: epoch {e + 1}/{n}"
                              + (f", rounds {rounds[0] + 1}-{rounds[-1] + 1}" if rounds else "")
                              + (f", measured again from its start in new places as epoch "
                                 f"{num + 1}" if num != e else ""))
            insts = self.epoch(sspec, sources, live, esl, e, num)
            for inst in insts:
                f = first.setdefault(inst.id, inst)
                if f is not inst:
                    f.startups += inst.startups
                    f.restarts = getattr(f, "restarts", []) + getattr(inst, "restarts", [])
                    f.memory = inst.memory if inst.memory is not None else f.memory
                    if inst.status != "ok":
                        f.status = inst.status
                        f.reason = f"epoch {e + 1}: {inst.reason}"
            self.finish_variant_records(list(first.values()))

    def epoch(self, sspec, sources, vs, slices, e, num):
        """Starts VS (plan epoch E, measured as epoch NUM: E itself, or on
        resume a number of its own), measures SLICES, stops them; the
        instances. E is done (status.json) once its last window is in."""
        # Where an instance stands (start order, port, name) is shuffled with
        # the seed: instances started later were measured 1.5-2% dearer than
        # the first ones (whole-catalogue runs, 20 rounds), so a fixed order
        # with the baseline first would charge that to every directive.
        # Epochs beyond the first draw new places, so what a place costs
        # varies within the run and shows in its intervals.
        order = list(vs)
        key = f"{self.spec['seed']}/{sspec['name']}/positions" + (f"/{num}" if num else "")
        random.Random(key).shuffle(order)
        insts = [self.fleet.make_instance(sspec, v, i) for i, v in enumerate(order)]
        for i, inst in enumerate(insts):
            inst.position, inst.epoch = i, num
        self.current = insts
        self.remeasures = e if num != e else None
        try:
            # isolated slices need warm instances; windows warm their own pair
            self.fleet.bring_up(insts, sources, evidence=(e == 0), warm=bool(slices))
            base = next(i for i in insts if i.v["role"] == "baseline")
            if e == 0 and base.status != "ok":
                raise BaselineFailed(base)
            if e == 0:
                self.finish_variant_records(insts)
            ok = {i.id for i in insts if i.status == "ok"}
            self.live = len(ok)
            self.total -= sum(1 for s in slices if s[0] not in ok)
            self.replan()
            # isolated slices first, while every instance is as fresh as the
            # others (the baseline is in every window of the epoch)
            self.run_slices(insts, [s for s in slices if s[0] in ok])
            self.run_windows(insts, e, num)
            self.epoch_done(sspec["name"], e)
            for inst in insts:
                if inst.status == "ok":
                    inst.memory = sum(self.host.memory_bytes(None, cgdir=d)
                                      for d in inst.cpu_dirs_cached)
                    self.fleet.check_alive(inst)
        except BaseException:
            self.take_down(insts, failed=True)
            raise
        self.take_down(insts)
        return insts

    def take_down(self, insts, failed=False):
        """INSTS stopped and removed, no longer current. After a failure
        (FAILED) a failure of its own (the host gone) is said, not raised:
        it would hide why the run stopped."""
        self.current = []
        self.remeasures = None
        try:
            self.fleet.uninstall(insts)
        except _host.HostError as e:
            if not failed:
                raise
            print(f"    cleanup: {e}", file=sys.stderr)

    def measure_one(self, inst, base, modes, rnd):
        """INST, started on the unit's own port: its evidence the first
        time, warmed, its slices of MODES in round RND, its memory."""
        inst.cpu_dirs_cached = self.fleet.cpu_dirs(inst)
        if inst.evidence is None:
            self.fleet.collect(inst, base if base is not inst else None)
        if self.a.warmup > 0:
            self.lg.load(inst.url, "keepalive", self.a.warmup,
                         connections=inst.spec.get("connections"))
        for mode in modes:
            self.run_slices([inst], [(inst.id, mode, rnd)])
        inst.memory = sum(self.host.memory_bytes(None, cgdir=d) for d in inst.cpu_dirs_cached)
        self.fleet.check_alive(inst)

    def run_sequential(self, sspec, vs, slices):
        """One instance at a time on the unit's own port: per round and
        variant, install its drop-ins, start, measure its modes, stop."""
        sources = self.fleet.sources(sspec)
        insts = {v["id"]: self.fleet.make_instance(sspec, v, i) for i, v in enumerate(vs)}
        base = insts[vs[0]["id"]]
        self.live = len(insts)
        rounds = {}
        for vid, mode, rnd in slices:
            if plan.slice_key(vid, mode, rnd) not in self.done_keys:   # on resume
                rounds.setdefault(rnd, {}).setdefault(vid, []).append(mode)
        for rnd in sorted(rounds):
            # the baseline first: if it cannot start, the run stops at once
            todo = sorted(rounds[rnd].items(), key=lambda kv: kv[0] != base.id)
            for vid, modes in todo:
                inst = insts[vid]
                if inst.status in ("incompatible", "hang", "unsupported"):
                    continue
                why = self.fleet.unsupported(inst.v)
                if why:
                    inst.status, inst.reason = "unsupported", why
                    continue
                self.current = [inst]
                try:
                    self.fleet.install(inst, sources)
                    self.host.systemctl("daemon-reload")
                    self.progress(f"start {inst.id}")
                    if self.fleet.start(inst):
                        self.measure_one(inst, base, modes, rnd)
                    else:
                        print(f"    {inst.status}: …{inst.reason[-300:]}", file=sys.stderr)
                        if inst is base:
                            raise BaselineFailed(inst)
                except BaseException:
                    self.take_down([inst], failed=True)
                    raise
                self.take_down([inst])
        for inst in insts.values():
            self.fleet.judge(inst, base)
        # on resume, a variant left nothing to measure keeps its record
        self.finish_variant_records([i for i in insts.values()
                                     if i.status != "pending" or i.id not in self.variants])
