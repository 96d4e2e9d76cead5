"""The one analysis: every variant against its server's baseline, per
mode and metric, with intervals, verdicts and the A/A noise floor.
report, compare, reproduce and run all start here, so they agree on every
number."""
import math
import sys
import time

from sblib.analysis import cache
from sblib.analysis import stats as st
from sblib.analysis.noise import group_noise, group_weights, per_group, placement, round_noise
from sblib.analysis.slices import (METRICS, duet, epochs, isolated, method, modes, pair, run_of,
                                   samples, seed_of, variant_info)
from sblib.analysis.startup_time import analyse_startup
from sblib.records import windows as win
from sblib.records.model import ResultsError


def comparison(res, server, mode, metric, a, b):
    """How samples() lists A (base) and B of one (server, mode, metric)
    group are compared, as keyword arguments of st.compare() (and a side of
    st.bootstrap_ratio_of_ratios()): base and new values, paired, the
    epochs as clusters, each pair's weight (group_weights) and in a merged
    set each pair's run (strata: each run is resampled on its own). Rounds
    of one epoch share where each instance stood, so they are resampled
    together."""
    if duet(res, server, mode, metric):
        # the baseline is in every window, a variant in its own only
        mine = {r for r, _ in b}
        a = [x for x in a if x[0] in mine]
    bv, nv, paired = pair(a, b)
    cl, sk, w = None, None, None
    if paired:
        common = sorted({r for r, _ in a} & {r for r, _ in b}, key=str)
        ep = epochs(res)
        if ep:
            cl = [ep.get(r) for r in common]
            cl = cl if None not in cl else None
        gw = group_weights(res, server, mode, metric)
        if gw and all(r in gw for r in common):
            w = [gw[r] for r in common]
            ro = run_of(res)
            sk = [ro.get(r) for r in common] if ro else None
    return {"base": bv, "new": nv, "paired": paired, "clusters": cl, "strata": sk,
            "weights": w}


def level(res, server, mode, metric, s):
    """The centre of a samples() list S: its interquartile mean, weighted
    by each round's weight (group_weights) as compare() weighs a change."""
    gw = group_weights(res, server, mode, metric)
    if gw and all(r in gw for r, _ in s):
        return st.weighted_iqm_sorted(sorted((v, gw[r]) for r, v in s))
    return st.center([v for _, v in s])


def raw_floor(res, group, resamples=st.RESAMPLES):
    """The A/A noise floor of GROUP (an analyse() group) on CPU per request
    without drift correction, to show what the correction bought; None
    without an A/A control or when the run is analysed raw anyway."""
    if not res.get("drift", True) or not group.get("aa") or not group.get("baseline"):
        return None
    if (group.get("methods") or {}).get("cpu_ns_per_req") == win.PHASE:
        return None  # windows are not drift-corrected
    raw = dict(res, drift=False)
    b = samples(raw, group["baseline"], group["mode"], "cpu_ns_per_req")
    a = samples(raw, group["aa"], group["mode"], "cpu_ns_per_req")
    if not a or not b:
        return None
    return st.noise_floor(_compare_task((
        comparison(raw, group["server"], group["mode"], "cpu_ns_per_req", b, a),
        st.derive_seed(seed_of(res), group["aa"], group["mode"], "cpu_ns_per_req"),
        resamples)))


def noise_floors(res, metric="cpu_ns_per_req", resamples=st.RESAMPLES):
    """{(server, mode): noise floor (fraction) or None} from the A/A control alone."""
    info = variant_info(res)
    out = {}
    seed = seed_of(res)
    for server in sorted({d["server"] for d in info.values()}):
        members = [d for d in info.values() if d["server"] == server]
        base = next((d["id"] for d in members if d["role"] == "baseline"), None)
        aa = next((d["id"] for d in members if d["role"] == "aa"), None)
        for mode in modes(res):
            floor = None
            if base and aa:
                b, a = samples(res, base, mode, metric), samples(res, aa, mode, metric)
                if b and a:
                    floor = st.noise_floor(_compare_task((
                        comparison(res, server, mode, metric, b, a),
                        st.derive_seed(seed, aa, mode, metric), resamples)))
            out[(server, mode)] = floor
    return out


def analyse(res, resamples=st.RESAMPLES, progress=None, empty=False):
    """Compare every variant against its server's baseline, per mode and metric.

    Returns {"groups": [group...], "info": variant_info}, one group per
    (server, mode) holding: server, mode, baseline, aa, floor (noise floor
    of cpu_ns_per_req, a fraction, or None), floors (per metric) and rows:
    one per variant (A/A included, baseline excluded) with "cmp": {metric:
    compare() result + verdict} and "n" slices. PROGRESS(done, total) is
    called as comparisons finish; without it a slow analysis shows its
    progress on standard error when that is a terminal (_Meter).

    A set with no slice is a ResultsError (nothing was measured: its
    report would hold a verdict of nothing) unless EMPTY allows it.
    """
    if not res["runs"] and not empty:
        status = res.get("status")
        state = status.get("state") if isinstance(status, dict) else None
        raise ResultsError(f"{res['path']}: no slice recorded (status.json: {state or 'none'}): "
                           f"nothing was measured")
    progress = progress or _Meter()
    info = variant_info(res)
    seed = seed_of(res)
    only = ((res["spec"].get("duet") or {}).get("controls_only") or {}).get("modes") or {}
    groups = []
    tasks = []    # (dict to fill, metric, compare() arguments)
    pending = []  # groups whose verdicts need the noise floor
    servers = []
    for vid, d in info.items():
        if d["server"] not in servers:
            servers.append(d["server"])
    for server in servers:
        members = [d for d in info.values() if d["server"] == server]
        base = next((d["id"] for d in members if d["role"] == "baseline"), None)
        aa = next((d["id"] for d in members if d["role"] == "aa"), None)
        for mode in modes(res):
            g = {"server": server, "mode": mode, "baseline": base, "aa": aa,
                 "floor": None, "floors": {}, "rows": [], "base_levels": {},
                 "methods": {m: method(res, server, mode, m) for m, _, _ in METRICS}}
            groups.append(g)
            if base is None:
                continue
            base_s = {m: samples(res, base, mode, m) for m, _, _ in METRICS}
            if not any(base_s.values()):
                groups.pop()
                continue
            for m, _, _ in METRICS:
                if base_s[m]:
                    g["base_levels"][m] = level(res, server, mode, m, base_s[m])
            if win.PHASE in g["methods"].values():
                _window_notes(res, g)
            noise = group_noise(res, server, mode, "cpu_ns_per_req")
            if noise:
                g["run_noise"] = [noise[k] for k in sorted(noise)]
            rn = per_group(res, server, mode, "cpu_ns_per_req", round_noise)
            if rn:
                x = sorted(rn.values())
                g["round_noise"] = [x[0], st.median(x), x[-1]]
            order = ([aa] if aa else []) + [d["id"] for d in members
                                            if d["role"] not in ("baseline", "aa")]
            # a mode that measures only the controls (run --controls-only)
            # has rows for them alone
            sub = only.get(mode)
            for vid in (order if sub is None else [v for v in order if v in sub]):
                row = {"variant": vid, "cmp": {}, "n": 0}
                for m, _, _ in METRICS:
                    new_s = samples(res, vid, mode, m)
                    row["n"] = max(row["n"], len(new_s))
                    if not new_s or not base_s[m]:
                        continue
                    tasks.append((row["cmp"], m, (comparison(res, server, mode, m, base_s[m],
                                                             new_s),
                                                  st.derive_seed(seed, vid, mode, m), resamples)))
                g["rows"].append(row)
            pending.append(g)
    _run_tasks(tasks, progress)
    for g in pending:
        aa = g["aa"]
        if aa and g["rows"]:
            for m, c in g["rows"][0]["cmp"].items():
                g["floors"][m] = st.noise_floor(c)
            g["floor"] = g["floors"].get("cpu_ns_per_req")
        for row in g["rows"]:
            for m, c in row["cmp"].items():
                floor = None if row["variant"] == aa else g["floors"].get(m)
                c["verdict"] = st.verdict(m, c, 0.0, floor)
                why = st.why_not(c)
                if why:
                    c["why_not"] = why
    startup, startup_floor = analyse_startup(res, info, servers, seed, resamples)
    return {"groups": groups, "info": info, "startup": startup, "startup_floor": startup_floor,
            "placement": placement(res), "inputs": cache.inputs(res, resamples)}


def _window_notes(res, g):
    """Where G's server and mode were measured in duet windows (every cost
    from them): the baseline's absolute levels from its isolated slices,
    one instance loaded at a time (g["levels"]: {metric: {"value", "n"}};
    a window's figures are each instance's share of a CPU), and why a
    metric has no cost (g["why"]: windows too short for a percentile)."""
    g["levels"], g["why"] = {}, {}
    for m, _, _ in METRICS:
        iso = [v for _, v in isolated(res, g["baseline"], g["mode"], m)]
        if iso:
            g["levels"][m] = {"value": st.center(iso), "n": len(iso)}
        d = duet(res, g["server"], g["mode"], m)
        if d is not None and d["base"] is None:
            g["why"][m] = (f"a window needs {d['need']:,} requests a side for {m}, "
                           f"the most held {d['most']:,}" if d["need"] else
                           "no window recorded it" + (
                               " (one loadgen thread drove both instances: run "
                               "--window-loadgen one-ring, or a set from before the sender "
                               "part)" if m == win.SENDER else ""))


def _compare_task(args):
    kw, seed, resamples = args
    c = st.compare(seed=seed, resamples=resamples, **kw)
    c["paired"] = kw["paired"]
    if kw["clusters"]:
        c["epochs"] = len(set(kw["clusters"]))
    return c


class _Meter:
    """analyse()'s progress when its caller gives none: one line on
    standard error, updated in place, with how long is left at the rate so
    far. Only when standard error is a terminal, and only once the analysis
    has taken DELAY seconds: a quick one prints nothing."""
    DELAY = 2.0

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.on = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self.first = None    # (time, done) at the first tick: the rate is counted from there
        self.last = 0.0
        self.shown = False

    def __call__(self, done, total):
        if not self.on:
            return
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
        if done >= total:
            if self.shown:
                self.stream.write("\r\033[K")
                self.stream.flush()
            return
        if now - self.start < self.DELAY or now - self.last < 0.25:
            return
        self.last = now
        t0, d0 = self.first
        left = ""
        if done > d0 and now > t0:
            left = f", about {math.ceil((total - done) * (now - t0) / (done - d0))} s left"
        self.stream.write(f"\rsandbench: analysing: {done}/{total} comparisons "
                          f"({100 * done // max(total, 1)}%){left}\033[K")
        self.stream.flush()
        self.shown = True


def _run_tasks(tasks, progress=None):
    """Run the bootstrap comparisons, one after the other. Each task carries
    its own derived seed, so no answer depends on the others. (A process
    per core no longer pays: with the bootstrap on numpy, 1940 comparisons
    of 64 rounds take about 5 s, and a pool of two saved a median 5% of the
    report's time on the project's shared 2-core VM.) PROGRESS(done,
    total), if given, is called as they finish.
    """
    tick = progress or (lambda done, total: None)
    tick(0, len(tasks))
    for k, (target, m, args) in enumerate(tasks):
        target[m] = _compare_task(args)
        tick(k + 1, len(tasks))
