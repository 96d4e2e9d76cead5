"""sandbench startup: what each directive adds to a service's start-up and,
for an inetd-style service (Accept=yes, a unit start per connection), to
every connection, as changes against the baseline with 95% intervals; and
with --host-mounts, how those grow with the host's mount count.

    sandbench startup --servers activated --profile quick --reps 40
    sandbench startup --servers inetd --directives private-tmp-yes --reps 12
    sandbench startup --servers activated --directives protect-home-yes \\
        --host-mounts 0,250,1000,2000 --reps 8

Python API (what `advise` and tests call):

    r = measure_startup(host, ["protect-home-yes"], reps=20, seed=1)
    r["analysis"]["costs"]["0"]["activated/protect-home-yes"]["total_ms"]
    # -> {"delta": ms, "lo", "hi", "pct", "pct_lo", "pct_hi", "n", "base"}

A start is `systemctl start` of the server's first unit (the socket for a
socket-activated one) until the first good HTTPS response, with what systemd
recorded about it (sblib.analysis.startup_stats.PHASES), PID 1's CPU time over it
(the host systemd's init.scope cgroup) and the unit's own CPU time when it
answered (the forked child's sandbox set-up and the service's
initialisation); the unit is stopped after each start, so every start is
from cold. A connection sample is N connections of one request each
(loadgen -n N --close), its CPU the template units' slice plus PID 1,
read when none of the per-connection units is left. Samples go round by
round, each round every variant once and the baseline sqrt(k) times in a
seeded order; sblib.analysis.startup_stats turns them into paired differences.
Writes into --out: startup-spec.json, startup.jsonl (one line a sample),
startup-variants.json (status, evidence verdicts), startup.json (the
analysis), env.json (unless there), and `sandbench report` adds its section.
"""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

from sblib import catalogue as cat
from sblib.analysis import cliffs as _cliffs
from sblib.measuring import collect as coll
from sblib.measuring import host as _host
from sblib.measuring import kernel
from sblib import util
from sblib.measuring import plan
from sblib.analysis import startup_stats as ss
from sblib.measuring.instances import Instances, probe, settle
from sblib.records.writer import now_iso

HELP = "start-up and per-connection cost per directive, with intervals (and a host-mount sweep)"

START_METRICS = ("total_ms", "pid1_cpu_ms", "unit_cpu_ms") + tuple(p[0] for p in ss.PHASES)
CONN_METRICS = ("cpu_per_conn_ms", "pid1_per_conn_ms", "units_per_conn_ms", "conns_per_s")
MOUNT_DIR = "/home/sandbench-mnt"   # the --host-mounts go under it


# --- reading PID 1 ---------------------------------------------------------------

def pid1_cpu(host):
    """A function returning the host systemd's CPU time in µs, and where it
    reads it: its init.scope cgroup's cpu.stat (everything PID 1 and the
    children it forks before they join a unit's cgroup do), else
    /proc/PID/schedstat of its main thread."""
    try:
        rel = kernel.pid_cgroup2(host.leader)
        if rel.rstrip("/").endswith("/init.scope"):
            path = kernel.cgroup2_mount() + rel.rstrip("/") + "/cpu.stat"
            with open(path) as f:
                if ss.cpu_usec_of_stat(f.read()) is not None:
                    def from_cgroup():
                        with open(path) as f2:
                            return ss.cpu_usec_of_stat(f2.read())
                    return from_cgroup, "init.scope cpu.stat"
    except (OSError, _host.HostError):
        pass
    path = f"/proc/{host.leader}/schedstat"

    def from_schedstat():
        with open(path) as f:
            return int(f.read().split()[0]) // 1000
    return from_schedstat, "schedstat of PID 1"


def wait_pid1_idle(read, limit=60.0, window=0.3, busy=0.1):
    """Waits until PID 1 uses less than BUSY of a CPU over WINDOW seconds (it
    turns every new mount into a .mount unit); at most LIMIT seconds.
    Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        a = read()
        time.sleep(window)
        if read() - a < busy * window * 1e6:
            break
    return time.monotonic() - t0


# --- host mounts -----------------------------------------------------------------

# Run by the host's python3: makes or removes tmpfs mounts MOUNT_DIR/uN, one
# mount(2) or umount2(2) each (no process per mount: 2000 take a second).
MOUNT_SCRIPT = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
top, have, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def ck(r, what):
    if r != 0:
        e = ctypes.get_errno()
        sys.exit(f"{what}: {os.strerror(e)}")
if have == 0 and want > 0:
    os.makedirs(top, exist_ok=True)
    ck(libc.mount(b"sandbench", top.encode(), b"tmpfs", 0, b"size=4m,mode=0755"), top)
for i in range(have + 1, want + 1):
    d = f"{top}/u{i}"
    os.mkdir(d)
    ck(libc.mount(b"sandbench", d.encode(), b"tmpfs", 0, b"size=16k,mode=0755"), d)
for i in range(have, want, -1):
    d = f"{top}/u{i}"
    ck(libc.umount2(d.encode(), 2), d)
    os.rmdir(d)
if want == 0 and have > 0:
    ck(libc.umount2(top.encode(), 2), top)
"""


def our_mounts(host):
    """Mount points of the host made by set_mounts (MOUNT_DIR and under)."""
    out = []
    try:
        with open(f"/proc/{host.leader}/mountinfo") as f:
            for line in f:
                mp = line.split()[4]
                if mp == MOUNT_DIR or mp.startswith(MOUNT_DIR + "/"):
                    out.append(mp)
    except OSError:
        pass
    return out


def host_mount_count(host):
    try:
        with open(f"/proc/{host.leader}/mountinfo") as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def set_mounts(host, want):
    """Makes WANT small tmpfs mounts MOUNT_DIR/uN in the host, under a tmpfs
    of its own at MOUNT_DIR (so WANT + 1 mounts in all, none at 0), adding
    or removing; raises HostError."""
    have = max(0, len(our_mounts(host)) - 1)
    if want == have:
        return
    host.run(["python3", "-c", MOUNT_SCRIPT, MOUNT_DIR, str(have), str(want)],
             timeout=600, check=True)
    got = max(0, len(our_mounts(host)) - 1)
    if got != want:
        raise _host.HostError(f"asked for {want} mounts under {MOUNT_DIR}, found {got}")


def clear_mounts(host):
    """Removes every mount set_mounts made: one lazy unmount of MOUNT_DIR
    takes the whole tree."""
    if our_mounts(host):
        host.run(["umount", "-l", MOUNT_DIR], timeout=120)
    host.run(["rmdir", MOUNT_DIR], timeout=60)


# --- the variants' instances -------------------------------------------------------

def variant_list(server, directives):
    """plan variants for SERVER: baseline, A/A, one per directive name, one
    per combination: a list of names (named by them joined with +) or
    {"name": NAME, "directives": [names]} (a profile's `combine` line)."""
    singles = [d for d in directives if isinstance(d, str)]
    combos = [(d["name"], list(d["directives"])) if isinstance(d, dict)
              else ("+".join(d), list(d)) for d in directives if not isinstance(d, str)]
    for d in singles + [x for _, ds in combos for x in ds]:
        cat.load_directive(d)   # raises with the valid names
    return plan.variants_for([server], singles, combos, False)


class Fleet:
    """One server's variants installed in HOST, started once (evidence,
    verdicts), then started and stopped one at a time. A user's unit (UNIT,
    answering at URL) that cannot run beside copies of itself (no @PORT@)
    has one variant installed at a time: before each start its files are
    written and systemd reloaded, after it they are removed, both outside
    the timed part."""

    def __init__(self, host, server, variants, start_timeout, server_cpu, progress,
                 unit=None, url=None):
        a = argparse.Namespace(start_timeout=start_timeout, server_cpu=server_cpu, path="/",
                               warmup=0, unit=unit, url=url)
        self.host = host
        self.inst = Instances(a, {"servers": [server]}, host, kernel.facilities(), progress,
                              lambda i: None)
        self.sspec = self.inst.server_spec(server)
        self.sources = self.inst.sources(self.sspec)
        self.side = self.sspec["side"]
        self.insts = [self.inst.make_instance(self.sspec, v, i) for i, v in enumerate(variants)]
        self.by = {i.id: i for i in self.insts}
        self.start_timeout = start_timeout

    def up(self):
        if not self.side:
            return self.up_one_at_a_time()
        self.inst.bring_up(self.insts, self.sources, evidence=True, warm=False)
        for i in self.insts:
            if i.status == "ok" and "@." not in i.target:
                self.stop(i)

    def up_one_at_a_time(self):
        base = None
        for i in self.insts:
            why = self.inst.unsupported(i.v)
            if why:
                i.status, i.reason = "unsupported", why
                continue
            self.put(i)
            try:
                if self.inst.start(i):
                    self.inst.collect(i, base)
                    base = base or i
                else:
                    print(f"    {i.id}: {i.status}: …{i.reason[-300:]}", file=sys.stderr)
            finally:
                self.take(i)

    def put(self, i):
        if not self.side:
            self.inst.install(i, self.sources)
            self.host.systemctl("daemon-reload")

    def take(self, i):
        if not self.side:
            self.inst.uninstall([i])

    def stop(self, i):
        try:
            self.host.systemctl("stop", i.start, i.target, *[i.names[u] for u in
                                                            i.spec.get("pre_start", [])],
                                check=False, timeout=120)
        except _host.HostError as e:      # a stop that hangs is the host's end
            raise _host.HostError(f"cannot stop {i.id}: {e}") from None

    def down(self):
        self.inst.uninstall([i for i in self.insts if i.installed])

    def records(self):
        return {i.id: {k: v for k, v in i.record().items() if k not in ("startup_ms",)}
                for i in self.insts}

    def start_once(self, i, read_pid1):
        """One cold start of I: the sample's fields (status "ok" or "error")."""
        h = self.host
        pre = [i.names[u] for u in i.spec.get("pre_start", [])]
        c0 = read_pid1()
        t0 = time.monotonic()
        try:
            r = h.systemctl("start", *pre, i.start, check=False, timeout=self.start_timeout)
        except _host.HostError:
            # a Type=notify service not ready within the timeout: the stop
            # cancels its start job
            self.stop(i)
            h.systemctl("reset-failed", i.start, i.target, check=False)
            return {"status": "error", "timed_out": True,
                    "error": f"systemctl start did not return within {self.start_timeout:g}s"}
        t1 = time.monotonic()
        rec = {"systemctl_ms": round((t1 - t0) * 1000, 3)}
        if r.returncode != 0:
            self.stop(i)
            return {**rec, "status": "error", "error": (r.stderr or "").strip()[-300:]}
        deadline = t0 + self.start_timeout
        good, last_check = False, t1
        while time.monotonic() < deadline:
            code = probe(i.url, timeout=max(0.05, min(30.0, deadline - time.monotonic())))
            if code is not None and 200 <= code < 400:
                good = True
                break
            if time.monotonic() - last_check > 0.5:
                last_check = time.monotonic()
                if h.show(i.target, "ActiveState").get("ActiveState") == "failed":
                    break
            time.sleep(0.002)
        t2 = time.monotonic()
        c1 = read_pid1()
        if not good:
            why = self.inst.why(i, None, "")
            self.stop(i)
            h.systemctl("reset-failed", i.start, i.target, check=False)
            return {**rec, "status": "error",
                    "error": ("no good answer within %gs: " % self.start_timeout
                              if t2 >= deadline else "failed: ") + why[-300:],
                    "timed_out": t2 >= deadline}
        props = h.show(i.target, "ControlGroup", *ss.PHASE_PROPS)
        ucpu = h.cpu_usec(None, cgdir=h.cgroup_root() + props.get("ControlGroup", "")) \
            if props.get("ControlGroup") else None
        self.stop(i)
        return {**rec, "status": "ok", "total_ms": round((t2 - t0) * 1000, 3),
                "pid1_cpu_ms": round((c1 - c0) / 1000.0, 3),
                "unit_cpu_ms": round(ucpu / 1000.0, 3) if ucpu is not None else None,
                **ss.phases(props, t0, t2)}

    def connections_once(self, i, read_pid1, loadgen, n, conc, loadgen_cpu):
        """N connections of one request each to inetd instance I."""
        dirs = i.cpu_dirs_cached
        idle0 = settle(dirs)
        u0 = sum(self.host.cpu_usec(None, cgdir=d) or 0 for d in dirs)
        p0 = read_pid1()
        argv = ["taskset", "-c", str(loadgen_cpu), loadgen, "-c", str(conc), "-t", "1",
                "-n", str(n), "--close", "--json", i.url]
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=n * 2 + 30)
            js = json.loads(p.stdout)
        except (subprocess.TimeoutExpired, ValueError) as e:
            settle(dirs, 30)
            return {"status": "error", "error": f"loadgen: {e}"}
        idle1 = settle(dirs)
        u1 = sum(self.host.cpu_usec(None, cgdir=d) or 0 for d in dirs)
        p1 = read_pid1()
        reqs = int(js.get("requests") or 0)
        rec = {"connections": n, "concurrency": conc, "answered": reqs,
               "settled": idle0 and idle1, "duration_s": js.get("duration_s")}
        if reqs != n or not js.get("duration_s"):
            return {**rec, "status": "error", "error": f"{reqs} of {n} connections answered"}
        units, pid1 = (u1 - u0) / 1000.0 / n, (p1 - p0) / 1000.0 / n
        return {**rec, "status": "ok", "units_per_conn_ms": round(units, 4),
                "pid1_per_conn_ms": round(pid1, 4), "cpu_per_conn_ms": round(units + pid1, 4),
                "conns_per_s": round(n / js["duration_s"], 3)}


# --- the schedule --------------------------------------------------------------------

def level_blocks(levels, reps, seed):
    """[(level, first round, rounds)]: with several levels, REPS rounds per
    level in two passes (half each) over the levels in a seeded order, so
    that a drift of the machine is not read as growth with the level."""
    if len(levels) == 1:
        return [(levels[0], 0, reps)]
    passes = 2 if reps >= 2 else 1
    out = []
    for p in range(passes):
        order = list(levels)
        random.Random(f"{seed}/levels/{p}").shuffle(order)
        lo, hi = p * reps // passes, (p + 1) * reps // passes
        out += [(lv, lo, hi - lo) for lv in order if hi > lo]
    return out


def _measure(host, server, directives, reps, seed, kind, mounts=(0,), start_timeout=30.0,
             server_cpu=1, progress=None, sink=None, time_limit=None, loadgen=None,
             connections=20, concurrency=1, loadgen_cpu=0, unit=None, url=None):
    progress = progress or (lambda s: print(s, file=sys.stderr, flush=True))
    if unit:
        server = "unit"
    variants = variant_list(server, directives)
    fleet = Fleet(host, server, variants, start_timeout, server_cpu, progress, unit, url)
    read_pid1, pid1_src = pid1_cpu(host)
    samples = []
    t_start = time.monotonic()
    stopped = None
    censored = {}   # variant -> the level at which a start timed out
    level_mounts = {}
    try:
        clear_mounts(host)
        fleet.up()
        ok = [i.id for i in fleet.insts if i.status == "ok"]
        base = variants[0]["id"]
        if base not in ok:
            raise _host.HostError(f"the baseline {base} did not start: "
                                  f"{fleet.by[base].reason}")
        blocks = level_blocks(list(mounts), reps, seed)
        per_round = len(ss.round_order(ok, base, seed, "x"))
        total = sum(b[2] for b in blocks) * per_round
        done = 0
        for level, first, nrounds in blocks:
            if stopped:
                break
            tm = time.monotonic()
            set_mounts(host, level)
            tm = time.monotonic() - tm
            waited = wait_pid1_idle(read_pid1)
            level_mounts[level] = host_mount_count(host)
            progress(f"{server}: {level} mounts under {MOUNT_DIR} (made in {tm:.1f} s; host "
                     f"mountinfo {level_mounts[level]} lines; PID 1 idle after {waited:.1f} s)")
            for rnd in range(first, first + nrounds):
                if time_limit and time.monotonic() - t_start > time_limit:
                    stopped = f"time limit {time_limit:g} s reached in round {rnd + 1}"
                    break
                for vid in ss.round_order(ok, base, seed, f"{level}/{rnd}"):
                    done += 1
                    if vid in censored and censored[vid] <= level:
                        continue
                    i = fleet.by[vid]
                    if kind == "start":
                        fleet.put(i)
                        try:
                            rec = fleet.start_once(i, read_pid1)
                        finally:
                            fleet.take(i)
                        if rec.get("timed_out"):
                            censored[vid] = level
                    else:
                        rec = fleet.connections_once(i, read_pid1, loadgen, connections,
                                                     concurrency, loadgen_cpu)
                    rec = {"kind": kind, "server": server, "variant": vid,
                           "mounts": level, "round": rnd, "seq": len(samples),
                           "time": round(time.time(), 3), **rec}
                    samples.append(rec)
                    if sink:
                        sink(rec)
                el = time.monotonic() - t_start
                eta = el / max(done, 1) * (total - done)
                progress(f"[{done}/{total} {int(el // 60)}:{int(el % 60):02d}, ETA "
                         f"{int(eta // 60)}:{int(eta % 60):02d}] {server} {level} mounts round "
                         f"{rnd + 1}: {_round_line(samples, kind, level, rnd)}")
    finally:
        try:
            fleet.down()
        finally:
            clear_mounts(host)
    analysis = analyse(samples, variants, seed, kind)
    analysis.update({"pid1_cpu_source": pid1_src, "host_mounts": {str(k): v for k, v in
                                                                  level_mounts.items()},
                     "censored": {v: lv for v, lv in censored.items()},
                     **({"stopped": stopped} if stopped else {})})
    return {"samples": samples, "variants": fleet.records(), "analysis": analysis}


def _round_line(samples, kind, level, rnd):
    xs = [s for s in samples if s["mounts"] == level and s["round"] == rnd]
    bad = sum(1 for s in xs if s["status"] != "ok")
    key = "total_ms" if kind == "start" else "cpu_per_conn_ms"
    vals = sorted(s[key] for s in xs if s["status"] == "ok" and s.get(key) is not None)
    mid = f"median {key} {vals[len(vals) // 2]:.1f}" if vals else "nothing answered"
    return mid + (f", {bad} failed" if bad else "")


def measure_startup(host, directives, reps, seed, server="activated", **kw):
    """Start-up cost of each of DIRECTIVES (names, or lists of names measured
    together) on SERVER against its baseline, REPS rounds, in HOST (a
    sblib.measuring.host.Host that is up). Keywords: mounts (host mount counts to
    measure at, default (0,)), start_timeout, server_cpu, progress(text),
    sink(sample), time_limit (seconds), unit and url (a user's unit file
    and the URL it answers on, instead of SERVER; variant ids "unit/..."). Returns {"samples", "variants",
    "analysis"} (analysis(): "costs"[level][variant][metric] as
    sblib.analysis.startup_stats.difference_interval, "slopes" with several levels)."""
    return _measure(host, server, directives, reps, seed, "start", **kw)


def measure_connections(host, directives, reps, seed, loadgen, connections=20, **kw):
    """Per-connection cost of an Accept=yes server (inetd): each sample is
    CONNECTIONS connections of one request each; CPU per connection is the
    template units' slice and PID 1 together. Same keywords and result as
    measure_startup (metrics CONN_METRICS)."""
    return _measure(host, "inetd", directives, reps, seed, "connection", loadgen=loadgen,
                    connections=connections, **kw)


# --- analysis ---------------------------------------------------------------------

def analyse(samples, variants, seed, kind):
    """{"kind", "baseline", "metrics", "levels", "costs": {level: {variant:
    {metric: difference_interval}}}, "levels_abs": {level: {variant:
    {metric: {"centre", "n"}}}}, "slopes": {variant: {metric: slope_interval
    of its own values, "delta_" + metric: of its differences}} (several
    levels only)}; levels are JSON strings."""
    from sblib.analysis import stats as st
    metrics = START_METRICS if kind == "start" else CONN_METRICS
    base = variants[0]["id"]
    levels = sorted({s["mounts"] for s in samples})
    out = {"schema": "sandbench-startup/1", "kind": kind, "baseline": base,
           "metrics": list(metrics), "levels": levels, "costs": {}, "levels_abs": {},
           "slopes": {}}
    for lv in levels:
        xs = [s for s in samples if s["mounts"] == lv]
        costs, absl = {}, {}
        for v in variants:
            vid = v["id"]
            absl[vid] = {}
            for m in metrics:
                vals = [s[m] for s in xs if s["variant"] == vid and s["status"] == "ok"
                        and isinstance(s.get(m), (int, float))]
                if vals:
                    absl[vid][m] = {"centre": st.center(vals), "n": len(vals)}
            if vid == base:
                continue
            costs[vid] = {}
            for m in metrics:
                c = ss.difference_interval(ss.round_pairs(xs, m, base, vid),
                                           st.derive_seed(seed, vid, m, lv))
                if c:
                    costs[vid][m] = c
        out["costs"][str(lv)] = costs
        out["levels_abs"][str(lv)] = absl
    if len(levels) > 1:
        for v in variants:
            vid = v["id"]
            sl = {}
            for m in metrics[:3]:
                own = {lv: [s[m] for s in samples if s["mounts"] == lv and s["variant"] == vid
                            and s["status"] == "ok" and isinstance(s.get(m), (int, float))]
                       for lv in levels}
                r = ss.slope_interval(own, st.derive_seed(seed, vid, m, "slope"))
                if r:
                    sl[m] = r
                if vid != base:
                    d = {lv: ss.round_pairs([s for s in samples if s["mounts"] == lv], m,
                                            base, vid) for lv in levels}
                    r = ss.slope_interval(d, st.derive_seed(seed, vid, m, "dslope"),
                                          stat=lambda p: ss.delta_of(p)[0])
                    if r:
                        sl["delta_" + m] = r
            out["slopes"][vid] = sl
    return out


# --- the command --------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(prog="sandbench startup", description=__doc__.split("\n\n")[0],
                                 epilog="See scripts/README.md, `sandbench startup`.")
    ap.add_argument("--servers", default="activated",
                    help="comma list of drop, activated, proxied (start-up) and inetd "
                         "(per connection) (default activated)")
    ap.add_argument("--profile", help="a profile of units/profiles (default: quick)")
    ap.add_argument("--directives", help="comma list of catalogue directives (each alone)")
    ap.add_argument("--unit", help="measure this unit file instead of the reference servers")
    ap.add_argument("--url", help="with --unit: the URL it answers on")
    ap.add_argument("--reps", type=int, default=40,
                    help="rounds per mount count: each holds every variant once and the "
                         "baseline sqrt(k) times (default 40)")
    ap.add_argument("--host-mounts", default="0",
                    help="comma list of mount counts to make under /home in the sandbox host "
                         "before measuring (default 0: none added); removed afterwards")
    ap.add_argument("--connections", type=int, default=20,
                    help="inetd: connections per sample (default 20)")
    ap.add_argument("--concurrency", type=int, default=1,
                    help="inetd: connections at a time (default 1)")
    ap.add_argument("--start-timeout", type=float, default=30.0,
                    help="seconds a start may take to answer; a variant that takes longer is "
                         "not started again at that mount count or above (default 30)")
    ap.add_argument("--time-limit", type=float,
                    help="minutes after which no new round starts (the host is shared)")
    ap.add_argument("--seed", type=int, help="order seed (default: from the clock; recorded)")
    ap.add_argument("--out", help="results directory (default results/runs/<UTC>-startup); an "
                          "existing run's directory gets the start-up files beside its own")
    ap.add_argument("--server-cpu", type=int, default=1, help="CPU the units are pinned to")
    ap.add_argument("--loadgen-cpu", type=int, default=0, help="CPU loadgen runs on (inetd)")
    ap.add_argument("--name", default="sandbench", help="sandbox host name")
    ap.add_argument("--lock-timeout", type=float, default=300)
    ap.add_argument("--no-report", action="store_true", help="skip sandbench report at the end")
    ap.add_argument("--analyse", metavar="DIR",
                    help="measure nothing: analyse DIR's startup.jsonl again (this version's "
                         "statistics) into its startup.json, and write its report")
    return ap.parse_args(argv)


def reanalyse(out):
    """startup.json of results directory OUT made again from its samples
    (startup.jsonl) and plan (startup-spec.json), keeping what the run
    recorded beside the figures. Raises OSError/ValueError on a directory
    that is not one `startup` wrote."""
    with open(os.path.join(out, "startup-spec.json")) as f:
        spec = json.load(f)
    with open(os.path.join(out, "startup.json")) as f:
        old = json.load(f)
    with open(os.path.join(out, "startup.jsonl")) as f:
        samples = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(out, "startup-variants.json")) as f:
        ran = list(json.load(f))       # the variants as the run named them
    groups = []
    for g in old["groups"]:
        xs = [x for x in samples if x["server"] == g["server"]]
        ids = [v for v in ran if v.split("/", 1)[0] == g["server"]]
        ids.sort(key=lambda v: v != g["baseline"])
        a = analyse(xs, [{"id": v} for v in ids], spec["seed"], g["kind"])
        a.update({k: g[k] for k in ("server", "pid1_cpu_source", "host_mounts", "censored",
                                    "stopped") if k in g})
        groups.append(a)
    _write_json(os.path.join(out, "startup.json"),
                {"schema": "sandbench-startup/1", "state": old.get("state"), "groups": groups})
    return groups


class Usage(Exception):
    pass


def build_spec(a):
    servers = [s for s in a.servers.split(",") if s]
    if bool(a.unit) != bool(a.url):
        raise Usage("--unit and --url go together")
    if a.unit:
        if not os.path.isfile(a.unit):
            raise Usage(f"--unit: no such file '{a.unit}'")
        if not re.match(r"^https?://[^/]+", a.url):
            raise Usage(f"--url must be http(s)://HOST:PORT/...: '{a.url}'")
        servers = ["unit"]
    for s in servers:
        if s not in cat.SERVERS and s != "unit":
            raise Usage(cat.unknown("server", s, list(cat.SERVERS)))
    if not servers or len(set(servers)) != len(servers):
        raise Usage("--servers: name each server once")
    if a.profile is not None and a.directives is not None:
        raise Usage("give --profile or --directives, not both")
    if a.directives is not None:
        dirs = [d.strip() for d in a.directives.split(",") if d.strip()]
        if not dirs:
            raise Usage("--directives is empty")
        for d in dirs:
            cat.load_directive(d)
        combos = []
    else:
        dirs, combos = cat.load_profile(a.profile or "quick")
    try:
        mounts = [int(x) for x in a.host_mounts.split(",") if x.strip()]
    except ValueError:
        raise Usage(f"--host-mounts must be a comma list of counts: '{a.host_mounts}'") from None
    if not mounts or any(m < 0 or m > 20000 for m in mounts) or len(set(mounts)) != len(mounts):
        raise Usage("--host-mounts: distinct counts 0..20000")
    if not 1 <= a.reps <= 10000:
        raise Usage("--reps must be 1..10000")
    if not 1 <= a.connections <= 1000 or not 1 <= a.concurrency <= a.connections:
        raise Usage("--connections must be 1..1000 and --concurrency 1..--connections")
    if not 0.5 <= a.start_timeout <= 600:
        raise Usage("--start-timeout must be 0.5..600 seconds")
    seed = a.seed if a.seed is not None else int(time.time() * 1000) % 1000003
    return {"schema": "sandbench-startup-spec/1", "seed": seed, "servers": servers,
            "profile": None if a.directives is not None else (a.profile or "quick"),
            "directives": dirs, "combines": [[n, ds] for n, ds in combos],
            "reps": a.reps, "host_mounts": mounts, "connections": a.connections,
            "concurrency": a.concurrency, "start_timeout": a.start_timeout,
            "time_limit_min": a.time_limit,
            "unit": os.path.basename(a.unit) if a.unit else None, "url": a.url,
            "pinning": {"server_cpu": a.server_cpu, "loadgen_cpu": a.loadgen_cpu}}


def _write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)


def main(argv):
    a = parse_args(argv)
    if a.analyse:
        try:
            groups = reanalyse(a.analyse)
        except (OSError, ValueError, KeyError) as e:
            print(f"sandbench startup: --analyse {a.analyse}: not a start-up results "
                  f"directory ({e})", file=sys.stderr)
            return 2
        for g in groups:
            for line in summary_lines(g):
                print(line)
        if not a.no_report:
            from sblib.report import core as report
            report.write_report(a.analyse)
            print(f"sandbench startup: wrote {os.path.join(a.analyse, 'report.md')} and report.html")
        return 0
    try:
        spec = build_spec(a)
    except (Usage, cat.CatalogueError) as e:
        print(f"sandbench startup: {e}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("sandbench startup: must run as root (it boots/uses systemd)", file=sys.stderr)
        return 2
    loadgen = os.path.join(util.repo_root(), "build", "bin", "loadgen")
    progs = sorted({cat.SERVERS[s]["program"] for s in spec["servers"] if s != "unit"})
    miss = [p for p in progs + (["loadgen"] if "inetd" in spec["servers"] else [])
            if not os.access(os.path.join(util.repo_root(), "build", "bin", p), os.X_OK)]
    if miss:
        print(f"sandbench startup: not built: {', '.join(miss)} (make)", file=sys.stderr)
        return 2
    out = a.out or os.path.join(util.repo_root(), "results", "runs",
                                time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-startup")
    if os.path.exists(os.path.join(out, "startup.jsonl")):
        print(f"sandbench startup: {out} already holds start-up results; choose another --out",
              file=sys.stderr)
        return 2
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        print(f"sandbench startup: --out {out}: {e.strerror or e}", file=sys.stderr)
        return 2
    spec.update({"created": now_iso(), "argv": ["startup"] + list(argv)})
    spec["commit"] = util.commit()
    _write_json(os.path.join(out, "startup-spec.json"), spec)

    def on_term(*_):
        raise KeyboardInterrupt()
    old = signal.signal(signal.SIGTERM, on_term)
    host, state = None, "interrupted"
    jl = open(os.path.join(out, "startup.jsonl"), "a")

    def sink(rec):
        jl.write(json.dumps(rec) + "\n")
        jl.flush()
    groups, variants = [], {}
    try:
        host = _host.up(a.name, owner=os.getpid(), lock_timeout=a.lock_timeout)
        env = coll.environment(host, kernel.facilities())
        if not os.path.exists(os.path.join(out, "env.json")):
            _write_json(os.path.join(out, "env.json"), env)
        else:
            _write_json(os.path.join(out, "startup-env.json"), env)
        measure_into(host, out, spec, a, loadgen, sink, groups, variants)
        state = "complete"
    except KeyboardInterrupt:
        print("sandbench startup: interrupted; cleaning up", file=sys.stderr)
    except (_host.HostError, cat.CatalogueError) as e:
        print(f"sandbench startup: {e}", file=sys.stderr)
        state = "busy" if isinstance(e, _host.LockBusy) else "failed"
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if host is not None and getattr(host, "owned", False):
                _host.down(host=host)
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, old)
            jl.close()
    _write_json(os.path.join(out, "startup.json"),
                {"schema": "sandbench-startup/1", "state": state, "groups": groups})
    for g in groups:
        for line in summary_lines(g):
            print(line)
    if env_cliffs := _cliffs.known(_read_env(out)):
        for name, text in env_cliffs:
            print(f"cliff {name}: {text}")
    print(f"\nresults: {out}")
    if state == "complete" and not a.no_report:
        try:
            from sblib.report import core as report
            report.write_report(out)
            print(f"sandbench startup: wrote {os.path.join(out, 'report.md')} and report.html")
        except Exception as e:  # noqa: BLE001 - the data is safe already
            print(f"sandbench startup: report failed: {e}", file=sys.stderr)
    return {"complete": 0, "interrupted": 130, "busy": _host.EX_TEMPFAIL}.get(state, 1)


def measure_into(host, out, spec, a, loadgen, sink, groups, variants):
    """Measures SPEC's servers (build_spec()) in HOST as the parsed
    arguments A say, each server's analysis appended to GROUPS and its
    variants' records to VARIANTS, written to OUT's startup-variants.json
    as they come; SINK(sample) takes every sample."""
    limit = a.time_limit * 60 if a.time_limit else None
    t0 = time.monotonic()
    for server in spec["servers"]:
        left = None if limit is None else max(1.0, limit - (time.monotonic() - t0))
        dirs = spec["directives"] + [{"name": n, "directives": ds}
                                     for n, ds in spec["combines"]]
        kw = dict(mounts=spec["host_mounts"], start_timeout=a.start_timeout,
                  server_cpu=a.server_cpu, sink=sink, time_limit=left)
        if server == "inetd":
            r = measure_connections(host, dirs, a.reps, spec["seed"], loadgen,
                                    connections=a.connections, concurrency=a.concurrency,
                                    loadgen_cpu=a.loadgen_cpu, **kw)
        else:
            r = measure_startup(host, dirs, a.reps, spec["seed"], server=server,
                                unit=a.unit and os.path.abspath(a.unit), url=a.url, **kw)
        r["analysis"]["server"] = server
        groups.append(r["analysis"])
        variants.update(r["variants"])
        _write_json(os.path.join(out, "startup-variants.json"), variants)


def spec_beside(run_spec, reps):
    """The startup spec of a run's servers and variants (its spec.json
    RUN_SPEC), REPS rounds, no mounts added, and the parsed arguments."""
    combos, singles = [], []
    for v in run_spec["variants"]:
        if v["role"] in ("baseline", "aa") or v["server"] != run_spec["servers"][0]:
            continue
        if len(v["directives"]) == 1 and v["name"] == v["directives"][0]:
            singles.append(v["directives"][0])
        else:
            combos.append([v["name"], v["directives"]])
    a = parse_args(["--servers", "activated", "--reps", str(reps),
                    "--seed", str(run_spec["seed"])])
    a.unit, a.url = run_spec.get("_unit"), run_spec.get("url")
    spec = {"schema": "sandbench-startup-spec/1", "seed": run_spec["seed"],
            "servers": list(run_spec["servers"]), "profile": run_spec.get("profile"),
            "directives": singles, "combines": combos, "reps": reps, "host_mounts": [0],
            "connections": a.connections, "concurrency": a.concurrency,
            "start_timeout": a.start_timeout, "time_limit_min": None,
            "unit": run_spec.get("unit"), "url": run_spec.get("url"),
            "pinning": run_spec.get("pinning"), "created": now_iso(),
            "argv": list(run_spec.get("argv") or []), "commit": run_spec.get("commit")}
    return spec, a


def beside_run(host, out, run_spec, reps, loadgen):
    """`sandbench run --startup-reps N`: the run's servers and variants
    measured by start-up (inetd: per connection), REPS rounds, into the
    run's directory OUT, so its report has the section beside its
    per-request costs. Returns False (and says why) when it failed; the
    run's own results stand either way."""
    spec, a = spec_beside(run_spec, reps)
    _write_json(os.path.join(out, "startup-spec.json"), spec)
    groups, variants, state = [], {}, "failed"
    with open(os.path.join(out, "startup.jsonl"), "a") as jl:
        def sink(rec):
            jl.write(json.dumps(rec) + "\n")
            jl.flush()
        try:
            measure_into(host, out, spec, a, loadgen, sink, groups, variants)
            state = "complete"
        except (_host.HostError, cat.CatalogueError) as e:
            print(f"sandbench run: start-up: {e}", file=sys.stderr)
        finally:
            _write_json(os.path.join(out, "startup.json"),
                        {"schema": "sandbench-startup/1", "state": state, "groups": groups})
    for g in groups:
        for line in summary_lines(g):
            print(line)
    return state == "complete"


def _read_env(out):
    try:
        with open(os.path.join(out, "env.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def summary_lines(g):
    """The terminal table of one analysed group."""
    key = "total_ms" if g["kind"] == "start" else "cpu_per_conn_ms"
    what = "start-up (systemctl start to first answer)" if g["kind"] == "start" \
        else "CPU per connection (units + PID 1)"
    out = [f"\n{g.get('server', '?')}: {what}, change against the baseline, 95% interval"]
    for lv in g["levels"]:
        for vid, c in g["costs"][str(lv)].items():
            x = c.get(key)
            if not x:
                continue
            out.append(f"  {lv:>5} mounts  {vid:<48} {x['delta']:+8.2f} ms "
                       f"[{x['lo']:+.2f}, {x['hi']:+.2f}]  {x['pct']:+6.1f}% "
                       f"[{x['pct_lo']:+.1f}, {x['pct_hi']:+.1f}]  n={x['n']}")
    for vid, sl in g.get("slopes", {}).items():
        x = sl.get("delta_" + key) or sl.get(key)
        if x:
            out.append(f"  growth {vid:<48} {x['slope']:+8.2f} ms per 1000 mounts "
                       f"[{x['lo']:+.2f}, {x['hi']:+.2f}]")
    return out
