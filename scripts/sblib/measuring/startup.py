"""Start-up and per-connection cost of directives (`sandbench startup`, and
`sandbench run --startup-reps` beside a run): the schedule of samples, their
analysis and the life of a measurement.

    r = measure_startup(host, ["protect-home-yes"], reps=20, seed=1)
    r["analysis"]["costs"]["0"]["activated/protect-home-yes"]["total_ms"]
    # -> {"delta": ms, "lo", "hi", "pct", "pct_lo", "pct_hi", "n", "base"}

A start is `systemctl start` of the server's first unit (the socket for a
socket-activated one) until the first good HTTPS response, with what systemd
recorded about it (sblib.analysis.startup_stats.PHASES), PID 1's CPU time over it
(the host systemd's init.scope cgroup) and the unit's own CPU time when it
answered (the forked child's sandbox set-up and the service's
initialisation); the unit is stopped after each start, so every start is
from cold (sblib.measuring.coldstart). A connection sample is N connections
of one request each (loadgen -n N --close), its CPU the template units'
slice plus PID 1, read when none of the per-connection units is left.
Samples go round by round, each round every variant once and the baseline
sqrt(k) times in a seeded order; sblib.analysis.startup_stats turns them
into paired differences. Writes into the results directory:
startup-spec.json, startup.jsonl (one line a sample), startup-variants.json
(status, evidence verdicts), startup.json (the analysis), env.json (unless
there), and `sandbench report` adds its section.
"""
import argparse
import contextlib
import json
import os
import random
import sys
import time

from sblib import catalogue as cat
from sblib import util
from sblib.analysis import startup_stats as ss
from sblib.measuring import collect as coll
from sblib.measuring import host as _host
from sblib.measuring import kernel
from sblib.measuring import life
from sblib.measuring import releases
from sblib.measuring import resume
from sblib.measuring.coldstart import Fleet, variant_list
from sblib.measuring.pid1 import (MOUNT_DIR, clear_mounts, host_mount_count, pid1_cpu,
                                  set_mounts, wait_pid1_idle)
from sblib.records.writer import now_iso
from sblib.records import schema
from sblib.records import status as status_mod
from sblib.records.writer import append_whole
from sblib.records.model import VariantId

START_METRICS = ("total_ms", "pid1_cpu_ms", "unit_cpu_ms") + tuple(p[0] for p in ss.PHASES)
CONN_METRICS = ("cpu_per_conn_ms", "pid1_per_conn_ms", "units_per_conn_ms", "conns_per_s")
# `sandbench startup`'s defaults, which `run --startup-reps` measures with too
DEFAULTS = {"connections": 20, "concurrency": 1, "start_timeout": 30.0, "time_limit": None,
            "server_cpu": 1, "loadgen_cpu": 0}


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
             connections=20, concurrency=1, loadgen_cpu=0, unit=None, url=None, past=()):
    progress = progress or (lambda s: print(s, file=sys.stderr, flush=True))
    if unit:
        server = "unit"
    variants = variant_list(server, directives)
    fleet = Fleet(host, server, variants, start_timeout, server_cpu, progress, unit, url)
    read_pid1, pid1_src = pid1_cpu(host)
    # on resume (PAST: the samples recorded before): what each round holds
    # already is not measured again, the round goes on from there
    samples = [x for x in past if x.get("server") == server and x.get("kind") == kind]
    had = done_in_rounds(samples)
    t_start = time.monotonic()
    stopped = None
    censored = {}   # variant -> the level at which a start timed out
    for x in samples:
        if x.get("timed_out"):
            censored[x["variant"]] = min(x["mounts"], censored.get(x["variant"], x["mounts"]))
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
            if all(sum(had.get((level, r), {}).values()) >= per_round
                   for r in range(first, first + nrounds)):
                done += nrounds * per_round     # measured before a resume
                continue
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
                there = dict(had.get((level, rnd), {}))
                for vid in ss.round_order(ok, base, seed, f"{level}/{rnd}"):
                    done += 1
                    if there.get(vid):
                        there[vid] -= 1         # recorded before a resume
                        continue
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


def done_in_rounds(samples):
    """{(mount level, round): {variant: samples recorded}}: on resume a
    round measures only the samples of each variant it does not hold yet."""
    out = {}
    for x in samples:
        per = out.setdefault((x["mounts"], x["round"]), {})
        per[x["variant"]] = per.get(x["variant"], 0) + 1
    return out


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
    sblib.measuring.host.Host that is up). Keywords: mounts (host mount
    counts to measure at, default (0,)), start_timeout, server_cpu,
    progress(text), sink(sample), time_limit (seconds), unit and url (a
    user's unit file and the URL it answers on, instead of SERVER; variant
    ids "unit/..."). Returns {"samples", "variants", "analysis"} (analysis():
    "costs"[level][variant][metric] as
    sblib.analysis.startup_stats.difference_interval, "slopes" with several
    levels)."""
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
    out = {"schema": schema.tag("startup"), "kind": kind, "baseline": base,
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
        ids = [v for v in ran if VariantId.parse(v).server == g["server"]]
        ids.sort(key=lambda v: v != g["baseline"])
        a = analyse(xs, [{"id": v} for v in ids], spec["seed"], g["kind"])
        a.update({k: g[k] for k in ("server", "pid1_cpu_source", "host_mounts", "censored",
                                    "stopped") if k in g})
        groups.append(a)
    write_json(os.path.join(out, "startup.json"),
                {"schema": schema.tag("startup"), "state": old.get("state"), "groups": groups})
    return groups


def write_json(path, obj):
    util.write_atomic(path, json.dumps(obj, indent=1) + "\n")


def write_result(out, state, groups, command=True):
    """OUT's startup.json: the analysed GROUPS and the STATE the measurement
    ended in ("running" while it goes: who writes it, for a resume to tell
    a measurement going on from a killed one; unless complete, the command
    that resumes it, where it has one: not COMMAND beside a run)."""
    write_json(os.path.join(out, "startup.json"),
               {"schema": schema.tag("startup"), "state": state, "groups": groups,
                **({"writer": status_mod.writer_id()} if state == "running" else {}),
                **({"resume": resume.startup_command(out)}
                   if state != "complete" and command else {})})


@contextlib.contextmanager
def samples_file(out):
    """A sink(sample) appending to OUT's startup.jsonl, a line as it comes,
    whole or not at all (writer.append_whole: a full disk raises OSError)."""
    with open(os.path.join(out, "startup.jsonl"), "a") as jl:
        def sink(rec):
            append_whole(jl.fileno(), (json.dumps(rec) + "\n").encode())
        yield sink


# --- a measurement -------------------------------------------------------------------

def measure_dir(a, spec, out, argv, loadgen, say, past=None):
    """`sandbench startup`: SPEC (its plan) measured as the parsed options A
    say, in the sandbox host A.name (booted here and taken down at the end)
    into the directory OUT, ARGV recorded in startup-spec.json; env.json
    (startup-env.json when OUT has a run's already). An interrupt (SIGINT,
    SIGTERM) or a host that fails ends it with what was measured so far,
    and the command that resumes it said. With PAST (reopen()'s samples)
    the measurement in OUT goes on: only what its rounds lack is measured.
    SAY(line) takes the messages. Returns (state, the analysed groups)."""
    if past is None:
        spec.update({"created": now_iso(), "argv": ["startup"] + list(argv)})
        spec["commit"] = util.commit()
        spec["code"] = resume.code_identity()
        spec["catalogue_sha256"] = resume.startup_digests(spec, a.unit)
        write_json(os.path.join(out, "startup-spec.json"), spec)
    host, state, groups = None, "interrupted", []
    write_result(out, "running", [])
    with life.interruptible(), samples_file(out) as sink:
        try:
            host = _host.up(a.name, owner=os.getpid(), lock_timeout=a.lock_timeout,
                            **releases.host_args(a))
            env = coll.environment(host, kernel.facilities())
            there = os.path.exists(os.path.join(out, "env.json"))
            if past is None or not there:
                write_json(os.path.join(out, "startup-env.json" if there else "env.json"), env)
            measure_into(host, out, spec, a, loadgen, sink, groups, past or ())
            state = "complete"
        except KeyboardInterrupt:
            say("interrupted; cleaning up")
        except (_host.HostError, cat.CatalogueError) as e:
            say(str(e))
            state = "busy" if isinstance(e, _host.LockBusy) else "failed"
        except OSError as e:
            # the results' disk full, say: whatever made it in is whole
            say(f"cannot write the results in {out}: {e}")
            state = "failed"
        finally:
            with life.shielded():
                if host is not None and getattr(host, "owned", False):
                    _host.down(host=host)
    if state != "complete":
        say(f"what was measured is kept; to go on where it stopped: {resume.startup_command(out)}")
    try:
        write_result(out, state, groups)
    except OSError as e:
        say(f"cannot write {os.path.join(out, 'startup.json')}: {e}")
        state = "failed"
    return state, groups


def measure_into(host, out, spec, a, loadgen, sink, groups, past=()):
    """Measures SPEC's servers (`startup`'s plan, or spec_beside's) in HOST
    as the options A say, each server's analysis appended to GROUPS and its
    variants' records written to OUT's startup-variants.json as they come;
    SINK(sample) takes every sample. PAST: the samples recorded before a
    resume, not measured again."""
    variants = {}
    limit = a.time_limit * 60 if a.time_limit else None
    t0 = time.monotonic()
    for server in spec["servers"]:
        left = None if limit is None else max(1.0, limit - (time.monotonic() - t0))
        dirs = spec["directives"] + [{"name": n, "directives": ds}
                                     for n, ds in spec["combines"]]
        kw = dict(mounts=spec["host_mounts"], start_timeout=a.start_timeout,
                  server_cpu=a.server_cpu, sink=sink, time_limit=left, past=past)
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
        write_json(os.path.join(out, "startup-variants.json"), variants)


def spec_beside(run_spec, reps):
    """The startup spec of a run's servers and variants (its spec.json
    RUN_SPEC), REPS rounds, no mounts added, and the options (DEFAULTS)."""
    combos, singles = [], []
    for v in run_spec["variants"]:
        if v["role"] in ("baseline", "aa") or v["server"] != run_spec["servers"][0]:
            continue
        if len(v["directives"]) == 1 and v["name"] == v["directives"][0]:
            singles.append(v["directives"][0])
        else:
            combos.append([v["name"], v["directives"]])
    a = argparse.Namespace(**DEFAULTS, reps=reps, seed=run_spec["seed"],
                           unit=run_spec.get("_unit"), url=run_spec.get("url"))
    spec = {"schema": schema.tag("startup-spec"), "seed": run_spec["seed"],
            "servers": list(run_spec["servers"]), "profile": run_spec.get("profile"),
            "directives": singles, "combines": combos, "reps": reps, "host_mounts": [0],
            "connections": a.connections, "concurrency": a.concurrency,
            "start_timeout": a.start_timeout, "time_limit_min": None,
            "unit": run_spec.get("unit"), "url": run_spec.get("url"),
            "pinning": run_spec.get("pinning"), "created": now_iso(),
            "argv": list(run_spec.get("argv") or []), "commit": run_spec.get("commit")}
    return spec, a


def beside_run(host, out, run_spec, reps, loadgen, say):
    """`sandbench run --startup-reps N`: the run's servers and variants
    measured by start-up (inetd: per connection), REPS rounds, into the
    run's directory OUT, so its report has the section beside its
    per-request costs. Returns the analysed groups; a failure is said
    (SAY) and ends it, the run's own results standing either way."""
    spec, a = spec_beside(run_spec, reps)
    # a run resumed: the samples its start-up part made before go on
    past = resume.startup_samples(out, say)
    write_json(os.path.join(out, "startup-spec.json"), spec)
    groups, state = [], "failed"
    with samples_file(out) as sink:
        try:
            measure_into(host, out, spec, a, loadgen, sink, groups, past)
            state = "complete"
        except (_host.HostError, cat.CatalogueError) as e:
            say(f"start-up: {e}")
        finally:
            write_result(out, state, groups, command=None)
    return groups


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
