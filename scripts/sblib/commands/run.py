"""sandbench run: the matrix runner (see results/README.md for what it writes)."""
import argparse
import json
import os
import random
import signal
import sys
import time

from sblib import catalogue as cat
from sblib.measuring import collect as coll
from sblib.measuring import host as _host
from sblib.measuring import kernel
from sblib import util
from sblib.measuring import plan
from sblib.analysis import results as rs
from sblib.analysis import stats as st
from sblib.measuring import unit as _unit
from sblib.records import windows as win
from sblib.measuring.instances import Instances, settle
from sblib.measuring.load import Loader
from sblib.records.writer import Results, now_iso
from sblib.analysis.summary import write_summary
from sblib.report import core as report

HELP = "measure servers under directives side by side through real systemd"

DESC = """\
Runs each server under each directive through real systemd and measures it
against a baseline, side by side: every variant of a server (baseline, an A/A
copy of it, one instance per directive or combination) is started at once on
its own port, all pinned to the server CPU, and the load generator (pinned to
the other CPU) moves between them in short slices over many rounds, in a
seeded random order. Per slice it records the loadgen JSON and the unit
cgroup's CPU time per request (the primary metric); per variant the start-up
time, memory, sandbox evidence from /proc and systemd-analyze exposure. A
variant that fails to start is recorded as incompatible (with the journal's
reason), one that does not answer as a hang; the run goes on.

With --unit FILE --url URL any service can be measured: if FILE uses @PORT@
its variants run side by side like ours, otherwise one at a time (restarted
per variant and round) on the URL's port.
"""


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="sandbench run", description=DESC,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default=",".join(cat.SERVERS),
                    help="comma list of %s (default: all)" % ", ".join(cat.SERVERS))
    ap.add_argument("--profile", help="a profile of units/profiles (default: quick)")
    ap.add_argument("--directives",
                    help="comma list of catalogue directives (each alone); a drop-in of your "
                         "own is given as its file, NAME.conf")
    ap.add_argument("--combine", action="store_true",
                    help="measure the directives together as one variant 'combined'")
    ap.add_argument("--mode", default="keepalive",
                    help="comma list of %s (default: keepalive)" % ", ".join(plan.MODES))
    ap.add_argument("--method", default="duet", choices=("duet", "isolated"),
                    help="how CPU per request is measured: duet (default: the baseline and "
                         "one variant loaded at the same time, --windows rounds of windows) "
                         "or isolated (one instance at a time, as throughput and latency "
                         "always are)")
    ap.add_argument("--windows", type=int, default=12,
                    help="duet: rounds of windows, each holding one window per variant and "
                         "mode (default 12)")
    ap.add_argument("--window", type=float, default=0.3,
                    help="duet: measured seconds per window (default 0.3)")
    ap.add_argument("--window-warmup", type=float, default=0.1,
                    help="duet: unmeasured seconds of load before each window (default 0.1)")
    ap.add_argument("--window-connections", type=int, default=8,
                    help="duet: connections per instance in a window (default 8: the "
                         "isolated slices' 16 shared by the two; see results/README.md for "
                         "what the count does to a cost)")
    ap.add_argument("--reps", type=int, default=6,
                    help="rounds of isolated slices, one instance at a time, for a server "
                         "whose CPU per request is not measured in windows (inetd, or "
                         "--method isolated) (default 6: the fewest a rank test can call "
                         "significant)")
    ap.add_argument("--duet-reps", type=int, default=2,
                    help="duet: rounds of isolated slices for absolute throughput and "
                         "latency of the servers measured in windows (default 2)")
    ap.add_argument("--epochs", type=int,
                    help="restart every server's instances in new, seeded places (start order, "
                         "port, name) this many times over the run, the rounds and windows "
                         "split evenly between them (default: 4 with --method duet, else 1); "
                         "the intervals then include what where an instance stands costs")
    ap.add_argument("--duration", type=float, default=0.6,
                    help="measured seconds per slice (default 0.6)")
    ap.add_argument("--warmup", type=float, default=0.3,
                    help="seconds of unmeasured load per variant before its first slice")
    ap.add_argument("--slice-warmup", type=float, default=0.2,
                    help="seconds of unmeasured load at the start of every slice (connections "
                         "set up; inetd: at least 1.25)")
    ap.add_argument("--connections", type=int, default=16, help="loadgen -c (default 16)")
    ap.add_argument("--rate", type=int, default=2000, help="req/s of --mode rate (default 2000)")
    ap.add_argument("--path", default="/", help="request path (default /)")
    ap.add_argument("--aa-copies", type=int, default=1,
                    help="identical copies of the baseline to measure as variants (default 1: "
                         "the A/A control); more check how many a run calls significant")
    ap.add_argument("--out", help="results directory (default results/runs/<UTC timestamp>)")
    ap.add_argument("--seed", type=int, help="order seed (default: from the clock; recorded)")
    ap.add_argument("--unit", action="append",
                    help="measure this unit file instead of the reference servers; give it "
                         "twice for a .socket and the service it activates")
    ap.add_argument("--url", help="with --unit: the URL it answers on")
    ap.add_argument("--server-cpu", type=int, default=1, help="CPU the units are pinned to")
    ap.add_argument("--loadgen-cpu", type=int, default=0, help="CPU the load generator runs on")
    ap.add_argument("--loadgen", help="load generator binary (default build/bin/loadgen)")
    ap.add_argument("--start-timeout", type=float, default=10.0,
                    help="seconds a variant may take to answer before it is a hang")
    ap.add_argument("--name", default="sandbench", help="sandbox host name")
    ap.add_argument("--lock-timeout", type=float, default=300)
    ap.add_argument("--startup-reps", type=int, default=0,
                    help="after the matrix, this many rounds of cold starts of every variant "
                         "(inetd: of connections), as `sandbench startup` measures them, into "
                         "the same results (default 0: none)")
    ap.add_argument("--no-report", action="store_true", help="skip sandbench report at the end")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    return ap.parse_args(argv)


class Usage(Exception):
    pass


def build_plan(a):
    """The spec dict (without run-time fields) from parsed args; raises Usage."""
    modes = [m for m in a.mode.split(",") if m]
    for m in modes:
        if m not in plan.MODES:
            raise Usage(f"unknown mode '{m}'; valid: {', '.join(plan.MODES)}")
    duet_on = a.method == "duet"
    if a.epochs is None:
        a.epochs = min(4, a.windows) if duet_on else 1
    if a.reps < 1 or a.reps > 1000 or not (1 <= a.duet_reps <= 1000):
        raise Usage("--reps and --duet-reps must be 1..1000")
    if a.epochs < 1 or a.epochs > (a.windows if duet_on else a.reps):
        raise Usage(f"--epochs must be 1..{'--windows' if duet_on else '--reps'} "
                    f"({a.windows if duet_on else a.reps})")
    if duet_on and not (1 <= a.windows <= 1000):
        raise Usage("--windows must be 1..1000")
    if duet_on and not (0.05 <= a.window <= 600 and 0 <= a.window_warmup <= 60):
        raise Usage("--window must be 0.05..600 seconds and --window-warmup 0..60")
    if duet_on and not 1 <= a.window_connections <= 1000:
        raise Usage("--window-connections must be 1..1000")
    if not (0.1 <= a.duration <= 600):
        raise Usage("--duration must be 0.1..600 seconds")
    if a.warmup < 0 or a.warmup > 60:
        raise Usage("--warmup must be 0..60 seconds")
    if not 1 <= a.aa_copies <= 50:
        raise Usage("--aa-copies must be 1..50")
    if a.connections < 1 or a.connections > 10000:
        raise Usage("--connections must be 1..10000")
    if bool(a.unit) != bool(a.url):
        raise Usage("--unit and --url go together")
    if a.profile is not None and a.directives is not None:
        raise Usage("give --profile or --directives, not both")
    if a.profile is not None and not a.profile.strip():
        raise Usage("--profile is empty: name a profile of units/profiles, or leave it out "
                    "for quick")
    uspec = None
    if a.unit:
        try:
            uspec = _unit.server_spec(a.unit, a.url)
        except _unit.UnitError as e:
            raise Usage(str(e)) from None
        servers = ["unit"]
    else:
        servers = [s for s in a.servers.split(",") if s]
        for s in servers:
            if s not in cat.SERVERS:
                raise Usage(cat.unknown("server", s, list(cat.SERVERS)))
        if not servers:
            raise Usage("--servers is empty")
        if len(set(servers)) != len(servers):
            raise Usage("--servers names a server twice")
    combines = []
    if a.directives is not None:
        dirs = [d.strip() for d in a.directives.split(",") if d.strip()]
        if not dirs:
            raise Usage("--directives is empty: name at least one directive, or give "
                        "--profile")
        # a drop-in of one's own is given as its file (NAME.conf)
        dirs = [cat.add_file(d) if d.endswith(".conf") else d for d in dirs]
        for d in dirs:
            cat.load_directive(d)  # raises with the valid names
        profile = None
    else:
        profile = a.profile or "quick"
        dirs, combines = cat.load_profile(profile)
    seed = a.seed if a.seed is not None else int(time.time() * 1000) % 1000003
    label = profile if profile and profile not in ("baseline", "quick", "all") else "combined"
    variants = plan.variants_for(servers, dirs, combines, a.combine, label, a.aa_copies)
    if len(variants) > plan.MAX_INSTANCES * len(servers):
        raise Usage(f"at most {plan.MAX_INSTANCES - 2} directives per run")
    ids = [v["id"] for v in variants]
    entry = {**cat.SERVERS, **({"unit": uspec} if uspec else {})}
    duet = duet_plan(a, servers, modes, entry) if duet_on else None
    if duet:
        duet["all_modes"] = {s: len(duet["by_server"][s]["modes"]) == len(modes)
                             for s in duet["servers"]}
        # per server: fewer isolated rounds where windows measure CPU per request
        order = []
        for s in servers:
            sid = [i for i, v in zip(ids, variants) if v["server"] == s]
            order += plan.slice_order(sid, modes, reps_of(a.reps, duet, s),
                                      f"{seed}/{s}")
    else:
        order = plan.slice_order(ids, modes, a.reps, seed)
    # per server and churn mode: slices of a fixed number of connections
    counted = {s: {m: n for m, n in entry[s].get("slice_connections", {}).items()
                   if m in modes} for s in servers}
    counted = {s: v for s, v in counted.items() if v}
    return {
        "schema": "sandbench-spec/1",
        "seed": seed,
        "servers": servers,
        "profile": profile,
        "directives": dirs,
        "combine": bool(a.combine),
        "modes": modes,
        "reps": a.reps,
        "epochs": a.epochs,
        "method": a.method,
        **({"duet": duet} if duet else {}),
        "duration": a.duration,
        "warmup": a.warmup,
        "slice_warmup": {s: max(a.slice_warmup, entry[s].get("slice_warmup", 0))
                         for s in servers},
        "loadgen": {"connections": a.connections, "threads": 1,
                    "connections_per_server": {s: min(a.connections, entry[s].get(
                        "connections", a.connections)) for s in servers},
                    "rate": a.rate if "rate" in modes else None, "path": a.path,
                    **({"slice_connections": counted} if counted else {})},
        "pinning": {"server_cpu": a.server_cpu, "loadgen_cpu": a.loadgen_cpu},
        "unit": uspec["target"] if uspec else None,
        **({"units": uspec["units"], "user_unit": uspec} if uspec else {}),
        "url": a.url,
        "expect": cat.expectations(dirs),
        **({"directive_files": {d: cat.FILES[d] for d in dirs if d in cat.FILES}}
           if any(d in cat.FILES for d in dirs) else {}),
        "variants": variants,
        "order": [plan.slice_key(*o) for o in order],
        "_order": order,
    }


def duet_plan(a, servers, modes, entry):
    """spec.json "duet": which servers and modes have CPU per request
    measured in windows, and how. Not where a connection is a unit start
    (inetd close and resume: the window's edges would cut through them; those
    stay counted isolated slices), nor for a user's unit that cannot run
    side by side (no @PORT@). A server's window warm-up and connections
    follow its catalogue entry (inetd: a process per connection, started in
    the warm-up)."""
    by = {}
    for s in servers:
        spec = entry[s]
        if s == "unit" and not spec["side"]:
            continue
        ms = [m for m in modes if m in ("keepalive", "close", "resume")
              and m not in spec.get("slice_connections", {})]
        if ms:
            by[s] = {"modes": ms,
                     "warmup_s": max(a.window_warmup, spec.get("slice_warmup", 0)),
                     "connections_per_target": min(a.window_connections,
                                                   spec.get("connections", a.window_connections))}
    return {"rounds": a.windows, "window_s": a.window,
            "isolated_reps": a.duet_reps,
            "servers": list(by), "by_server": by,
            "metrics": list(win.METRICS)}


def reps_of(reps, duet, server):
    """Rounds of isolated slices of SERVER: --duet-reps where windows
    measure its CPU per request in every mode of the run, else --reps."""
    if duet and server in duet["servers"] and \
            (duet.get("all_modes") or {}).get(server, True):
        return duet["isolated_reps"]
    return reps


# A run whose slices all fail, across variants, is no longer measuring: the
# machine or its systemd stopped answering (unit starts piling up behind a
# stalled kernel, say). It stops after this many in a row rather than record
# failures for hours; a single broken variant cannot end it, its slices being
# interleaved with the others'.
STALL_SLICES = 20
STALL_VARIANTS = 5
# after a failed slice, the longest wait for a per-connection server's unit
# starts still in flight, so that they do not pile into the next slices
DRAIN_S = 30.0


class Stalled(Exception):
    """STALL_SLICES slices in a row failed across variants."""


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


class Scatter:
    """How noisy the machine is, as the run goes. When a server's round
    ends, the robust spread (1.4826 MAD / median) of every variant's CPU per
    request over the baseline's in that round, per mode, is printed with the
    median over the rounds so far: directives cost little next to the
    machine's bursts, so this is mostly the noise an interval will carry,
    known from the first round on instead of hours later in the report
    (results/published/README.md says what quiet runs read). Variants with a
    known answer (spec "expect") are left out; at least MIN_VARIANTS others
    with the baseline make a figure."""
    MIN_VARIANTS = 5

    def __init__(self, spec):
        self.skip = set(spec.get("expect") or {})
        self.base = {v["id"] for v in spec.get("variants") or [] if v["role"] == "baseline"}
        self.round = None       # (server, round) being gathered
        self.cpu = {}           # mode -> {variant: cpu_ns_per_req}
        self.seen = {}          # (server, mode) -> [spread of each round so far]

    def add(self, rec):
        """Takes a slice's record; returns the lines of a round it ended."""
        server = rec["variant"].split("/", 1)[0]
        key = (server, rec.get("round"))
        lines = self.flush() if key != self.round else []
        self.round = key
        if rec.get("status") == "ok" and isinstance(rec.get("cpu_ns_per_req"), (int, float)):
            self.cpu.setdefault(rec["mode"], {})[rec["variant"]] = rec["cpu_ns_per_req"]
        return lines

    def flush(self):
        """The lines of the round being gathered (none if it is too small)."""
        lines = []
        for mode, cpu in self.cpu.items():
            base = [v for k, v in cpu.items() if k in self.base and v > 0]
            ratios = [v / base[0] for k, v in cpu.items()
                      if base and k not in self.base and k.split("/", 1)[1] not in self.skip]
            if len(ratios) < self.MIN_VARIANTS:
                continue
            server, rnd = self.round
            seen = self.seen.setdefault((server, mode), [])
            seen.append(st.mad_cv(ratios))
            lines.append(f"{server} round {rnd + 1} {mode}: scatter ±{seen[-1] * 100:.1f}% over "
                         f"{len(ratios)} variants (median of {len(seen)} rounds "
                         f"±{st.median(seen) * 100:.1f}%)")
        self.cpu = {}
        return lines


class Runner:
    def __init__(self, a, spec, host, res, loadgen, facilities):
        self.a = a
        self.spec = spec
        self.host = host
        self.res = res
        self.fleet = Instances(a, spec, host, facilities, self.progress, self.warm)
        self.lg = Loader(a, spec, host, loadgen)
        self.variants = {}
        self.t0 = time.monotonic()
        self.slice_times = []
        self.duet = spec.get("duet") or {}
        self.windows_done = 0       # window number, unique over the run
        self.window_ratios = {}     # (server, mode) -> {variant: [CPU/request over the baseline's]}
        self.total = len(spec["_order"]) + self.windows_planned()
        self.failed = []         # the failed slices since the last good one
        self.live = 1            # variants being measured now
        self.scatter = Scatter(spec)

    def warm(self, inst):
        """Unmeasured load on a started instance before its first slice."""
        self.lg.load(inst.url, "keepalive", self.a.warmup, connections=inst.spec.get("connections"))

    def windows_planned(self):
        d = self.duet
        if not d:
            return 0
        return sum(2 * d["rounds"] * len(d["by_server"][s]["modes"]) *
                   (sum(1 for v in self.spec["variants"] if v["server"] == s) - 1)
                   for s in d["servers"])

    # progress
    def progress(self, what):
        done = self.res.done
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
            sl = [o for o in order if o[0].split("/", 1)[0] == server]
            if sspec["side"]:
                self.run_side_by_side(sspec, vs, sl)
            else:
                self.run_sequential(sspec, vs, sl)
            for line in self.scatter.flush():
                self.progress(line)


    # start-up, verdicts


    # load


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
            rec = self.lg.measure(inst, mode, rnd, self.res.done)
            self.res.add_run(rec)
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
    def run_windows(self, insts, e):
        """Epoch E's share of the duet rounds: per round one window per
        (variant, mode), the variant and the baseline loaded at once."""
        d = self.duet
        server = insts[0].v["server"] if insts else None
        if not d or server not in d["servers"]:
            return
        n = self.spec.get("epochs", 1)
        rounds = range(e * d["rounds"] // n, (e + 1) * d["rounds"] // n)
        base = next((i for i in insts if i.v["role"] == "baseline"), None)
        by = {i.id: i for i in insts}
        ds = d["by_server"][server]
        plan_ = win.plan([i.id for i in insts], base.id if base else None, ds["modes"], rounds,
                         self.spec["seed"], f"{server}/{e}")
        # variants that failed in an earlier epoch are not in this one's plan
        nvar = sum(1 for v in self.spec["variants"] if v["server"] == server) - 1
        self.total -= 2 * (len(rounds) * len(ds["modes"]) * nvar - len(plan_))
        self.res.planned = self.total
        last = None
        for rnd, mode, vid, base_first in plan_ + [(None, None, None, None)]:
            if last is not None and rnd != last:
                for line in self.window_noise(server):
                    self.progress(line)
            last = rnd
            if rnd is None:
                break
            inst = by[vid]
            if base is None or base.status != "ok" or inst.status != "ok":
                self.total -= 2
                self.res.planned = self.total
                continue
            t = time.monotonic()
            pair = [base, inst] if base_first else [inst, base]
            self.progress(f"{vid} {mode} window round {rnd + 1}/{d['rounds']}")
            recs = self.lg.window(pair, mode, rnd, self.windows_done, self.res.done)
            self.windows_done += 1
            for rec in recs:
                self.res.add_run(rec)
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

    def window_noise(self, server):
        """Progress lines after a round of windows: per mode, the spread of
        the per-window ratios about each variant's median (what an interval
        narrows from) and the A/A control's median so far."""
        out = []
        for (s_, mode), byv in sorted(self.window_ratios.items()):
            if s_ != server:
                continue
            devs = [x / st.median(xs) - 1.0 for xs in byv.values() if len(xs) > 1 for x in xs]
            aa = [xs for v, xs in byv.items() if v.endswith("/baseline-aa")]
            if len(devs) < 4:
                continue
            out.append(f"{server} {mode} windows: per-window ratios scatter "
                       f"±{st.mad_cv([1.0 + d for d in devs]) * 100:.2f}%"
                       + (f", A/A {(st.median(aa[0]) - 1.0) * 100:+.2f}% after {len(aa[0])}"
                          if aa else ""))
        return out


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
        reps = reps_of(self.spec["reps"], self.duet, sspec["name"])
        windows = bool(self.duet) and sspec["name"] in self.duet["servers"]
        # a server measured in windows re-places its instances every epoch
        # (windows in each); others need an isolated round per epoch
        n = self.spec.get("epochs", 1) if windows else min(self.spec.get("epochs", 1), reps)
        first = {}   # variant id -> its epoch-0 instance, which keeps the record
        for e in range(n):
            rounds = range(e * reps // n, (e + 1) * reps // n)
            esl = [x for x in slices if x[2] in rounds]
            live = [v for v in vs if e == 0 or first[v["id"]].status == "ok"]
            if not live:
                break
            if n > 1:
                self.progress(f"{sspec['name']}: epoch {e + 1}/{n}"
                              + (f", rounds {rounds[0] + 1}-{rounds[-1] + 1}" if rounds else ""))
            insts = self.epoch(sspec, sources, live, esl, e)
            for inst in insts:
                f = first.setdefault(inst.id, inst)
                if f is not inst:
                    f.startups += inst.startups
                    f.memory = inst.memory if inst.memory is not None else f.memory
                    if inst.status != "ok":
                        f.status = inst.status
                        f.reason = f"epoch {e + 1}: {inst.reason}"
            self.finish_variant_records(list(first.values()))

    def epoch(self, sspec, sources, vs, slices, e):
        """Starts VS (epoch E), measures SLICES, stops them; the instances."""
        # Where an instance stands (start order, port, name) is shuffled with
        # the seed: instances started later were measured 1.5-2% dearer than
        # the first ones (whole-catalogue runs, 20 rounds), so a fixed order
        # with the baseline first would charge that to every directive.
        # Epochs beyond the first draw new places, so what a place costs
        # varies within the run and shows in its intervals.
        order = list(vs)
        key = f"{self.spec['seed']}/{sspec['name']}/positions" + (f"/{e}" if e else "")
        random.Random(key).shuffle(order)
        insts = [self.fleet.make_instance(sspec, v, i) for i, v in enumerate(order)]
        for i, inst in enumerate(insts):
            inst.position, inst.epoch = i, e
        self.current = insts
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
            self.res.planned = self.total
            # isolated slices first, while every instance is as fresh as the
            # others (the baseline is in every window of the epoch)
            self.run_slices(insts, [s for s in slices if s[0] in ok])
            self.run_windows(insts, e)
            for inst in insts:
                if inst.status == "ok":
                    inst.memory = sum(self.host.memory_bytes(None, cgdir=d)
                                      for d in inst.cpu_dirs_cached)
                    self.fleet.check_alive(inst)
        finally:
            self.fleet.uninstall(insts)
            self.current = []
        return insts

    def run_sequential(self, sspec, vs, slices):
        """One instance at a time on the unit's own port: per round and
        variant, install its drop-ins, start, measure its modes, stop."""
        sources = self.fleet.sources(sspec)
        insts = {v["id"]: self.fleet.make_instance(sspec, v, i) for i, v in enumerate(vs)}
        base = insts[vs[0]["id"]]
        self.live = len(insts)
        rounds = {}
        for vid, mode, rnd in slices:
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
                    if not self.fleet.start(inst):
                        print(f"    {inst.status}: …{inst.reason[-300:]}", file=sys.stderr)
                        if inst is base:
                            raise BaselineFailed(inst)
                        continue
                    inst.cpu_dirs_cached = self.fleet.cpu_dirs(inst)
                    if inst.evidence is None:
                        self.fleet.collect(inst, base if base is not inst else None)
                    if self.a.warmup > 0:
                        self.lg.load(inst.url, "keepalive", self.a.warmup,
                          connections=inst.spec.get("connections"))
                    for mode in modes:
                        self.run_slices([inst], [(vid, mode, rnd)])
                    inst.memory = sum(self.host.memory_bytes(None, cgdir=d)
                                      for d in inst.cpu_dirs_cached)
                    self.fleet.check_alive(inst)
                finally:
                    self.fleet.uninstall([inst])
                    self.current = []
        for inst in insts.values():
            self.fleet.judge(inst, base)
        self.finish_variant_records(list(insts.values()))


def print_summary(rows, aa, variants, path):
    st_ = {k: v.get("status") for k, v in variants.items()}
    if rows:
        print()
        for line in rs.summary_table(rows, st_):
            print(line)
    bad = [(k, v) for k, v in variants.items() if v.get("status") not in ("ok", None)]
    if bad:
        print()
        for k, v in bad:
            r = v.get("reason") or ""
            print(f"{k}: {v['status'].upper()}: {r if len(r) <= 240 else '…' + r[-240:]}")
    notapplied = [(k, d, v["applied_why"].get(d)) for k, v in variants.items()
                  for d, ok in (v.get("applied") or {}).items() if ok is False]
    if notapplied:
        print()
        for k, d, why in notapplied:
            print(f"{k}: NOT ENFORCED: {d}: {why}")
    print()
    for x in aa:
        fl = "-" if x["floor"] is None else f"±{x['floor'] * 100:.2f}%"
        print(f"A/A control {x['server']} {x['mode']}: CPU per request noise floor {fl} "
              f"({x['method']})")
    print(f"\nresults: {path}   (* a change above the noise; the report has the rest)")


def root_and_loadgen(prog, given):
    """The load generator's path when this process is root and it is built;
    otherwise None, the reason printed for `sandbench PROG`."""
    if os.geteuid() != 0:
        print(f"sandbench {prog}: must run as root (it boots/uses systemd)", file=sys.stderr)
        return None
    loadgen = given or os.path.join(util.repo_root(), "build", "bin", "loadgen")
    if not os.access(loadgen, os.X_OK):
        print(f"sandbench {prog}: load generator {loadgen} not built (make)", file=sys.stderr)
        return None
    return loadgen


def open_results(out):
    """The results directory of a new run, created if need be (before the
    host is booted). Raises Usage, with one line to print, when OUT already
    holds results or cannot be a directory we write in."""
    if any(os.path.isfile(os.path.join(out, f)) and os.path.getsize(os.path.join(out, f)) > 0
           for f in rs.RUNS_FILES):
        raise Usage(f"{out} already holds results; choose another --out")
    try:
        return Results(out)
    except OSError as e:
        why = e.strerror or str(e)
        if isinstance(e, FileExistsError):
            why = "it exists and is not a directory"
        elif isinstance(e, NotADirectoryError):
            why = "a part of the path is a file, not a directory"
        raise Usage(f"--out {out}: cannot write the results there ({why})") from None


def main(argv):
    a = parse_args(argv)
    try:
        spec = build_plan(a)
    except (Usage, cat.CatalogueError) as e:
        print(f"sandbench run: {e}", file=sys.stderr)
        return 2
    order = spec.pop("_order")
    if a.dry_run:
        print(json.dumps(spec, indent=1))
        return 0
    loadgen = root_and_loadgen("run", a.loadgen)
    if loadgen is None:
        return 2
    if not a.unit:
        missing = [u for s in spec["servers"] for u in cat.SERVERS[s]["units"]
                   if not os.path.isfile(os.path.join(cat.UNITS, u))]
        if missing:
            print(f"sandbench run: unit files missing in units/: {', '.join(missing)}",
                  file=sys.stderr)
            return 2
        progs = sorted({cat.SERVERS[s]["program"] for s in spec["servers"]})
        miss = [p for p in progs if not os.access(os.path.join(util.repo_root(), "build", "bin", p),
                                                   os.X_OK)]
        if miss:
            print(f"sandbench run: servers not built: {', '.join(miss)} (make)", file=sys.stderr)
            return 2
    out = a.out or os.path.join(util.runs_dir(),
                                time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    try:
        res = open_results(out)
    except Usage as e:
        print(f"sandbench run: {e}", file=sys.stderr)
        return 2
    spec["created"] = now_iso()
    spec["commit"] = util.commit()
    spec["argv"] = ["run"] + list(argv)
    spec["_order"] = order
    res.planned = len(order)
    res.status("running")
    res.write("spec.json", {k: v for k, v in spec.items() if k != "_order"})

    def on_term(*_):
        raise KeyboardInterrupt()
    old = signal.signal(signal.SIGTERM, on_term)
    host = None
    runner = None
    state = "interrupted"
    try:
        fac = kernel.facilities()
        host = _host.up(a.name, owner=os.getpid(), lock_timeout=a.lock_timeout)
        res.write("env.json", coll.environment(host, fac))
        print(f"sandbench run: {len(spec['variants'])} variants, {len(order)} slices of "
              f"{a.duration:g}s, seed {spec['seed']}, host {host.mode}, results in {out}",
              file=sys.stderr)
        runner = Runner(a, spec, host, res, loadgen, fac)
        runner.run()
        if a.startup_reps > 0:
            from sblib.commands import startup
            startup.beside_run(host, out, {**spec, "_unit": a.unit and os.path.abspath(a.unit)},
                               a.startup_reps, loadgen)
        state = "complete"
    except KeyboardInterrupt:
        print("sandbench run: interrupted; cleaning up", file=sys.stderr)
        state = "interrupted"
    except (_host.HostError, cat.CatalogueError) as e:
        print(f"sandbench run: {e}", file=sys.stderr)
        state = "busy" if isinstance(e, _host.LockBusy) else "failed"
    except BaselineFailed as e:
        for line in baseline_failure(e.inst, host):
            print(f"sandbench run: {line}", file=sys.stderr)
        if runner is not None:
            runner.variants[e.inst.id] = e.inst.record()
        state = "failed"
    except Stalled as e:
        print(f"sandbench run: {e}; the slices so far are kept in {out} "
              f"(state \"stalled\")", file=sys.stderr)
        state = "stalled"
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if runner is not None and getattr(runner, "current", None):
                try:
                    runner.fleet.uninstall(runner.current)
                except Exception as e:  # noqa: BLE001 - cleanup goes on
                    print(f"sandbench run: cleanup: {e}", file=sys.stderr)
            if host is not None and getattr(host, "owned", False):
                _host.down(host=host)
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, old)
    variants = runner.variants if runner else {}
    res.write("variants.json", variants)
    rows, aa, analysed = write_summary(res, spec, variants)
    res.status("failed" if state == "busy" else state)
    res.runs.close()
    print_summary(rows, aa, variants, out)
    if state == "complete" and not a.no_report and analysed:
        try:
            report.write_report(out, analysed=analysed)
            print(f"sandbench run: wrote {os.path.join(out, 'report.md')} and report.html")
        except Exception as e:  # noqa: BLE001 - the run's data is safe already
            print(f"sandbench run: report failed: {e}", file=sys.stderr)
    return {"complete": 0, "interrupted": 130, "busy": _host.EX_TEMPFAIL}.get(state, 1)
