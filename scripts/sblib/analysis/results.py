"""The analysis of a results directory, as one module: what report,
compare, reproduce, trend, merge, publish and run import (as `rs`). The
work is in the modules below it; this one names them together and holds
what reads an analysis back: the analysis.json cache (analysed), the
calibration controls.

    records/store.py     reading the directory (load), schema tags checked
    slices.py            metrics, variants, modes, epochs; the samples
    drift.py             the machine's speed at each isolated slice's time
    noise.py             each round's and run's noise, the weights; placement
    startup_time.py      start-up time against the baseline
    analyse.py           analyse(): every comparison, interval and verdict
    cache.py             analysis.json: written, and reused when it is of these inputs
    summary.py           summary.json / .csv and the table run prints
"""
import os

from sblib.analysis import cache
from sblib.analysis import stats as st
from sblib.analysis.analyse import _Meter, analyse, comparison, level, noise_floors, raw_floor
from sblib.analysis.cache import inputs
from sblib.analysis.drift import DRIFT_METRICS, DRIFT_WINDOW, drift_factors
from sblib.analysis.noise import (ROUND_NOISE_MIN, group_noise, group_weights, placement,
                                  round_noise, run_noise)
from sblib.analysis.slices import (METRICS, MIN_BEYOND, PERCENTILES, STARTUP, duet, epochs,
                                   exposure, isolated, metric_value, method, min_requests,
                                   modes, pair, regime, run_of, runs_of, samples, seed_of,
                                   BATCHING, SATURATION, variant_info)
from sblib.analysis.startup_time import analyse_startup, startup_by_epoch, startup_samples
from sblib.analysis.summary import (CPU_PARTS, SUMMARY_METRICS, cpu_parts, delta_ns, summary,
                                    summary_aa, summary_table)
from sblib.records.model import ResultsError, SchemaError
from sblib.records.store import RUNS_FILES, load, open_runs, order_digest, runs_file
from sblib.records import windows as win
from sblib.records.windows import SENDER

# what `rs.NAME` has named (the commands, the report and the tests use it)
__all__ = [
    "_Meter", "analyse", "comparison", "level", "noise_floors",
    "raw_floor", "inputs", "DRIFT_METRICS", "DRIFT_WINDOW", "drift_factors", "ROUND_NOISE_MIN",
    "group_noise", "group_weights", "placement", "round_noise", "run_noise", "METRICS",
    "PERCENTILES", "STARTUP", "duet", "epochs", "exposure", "metric_value", "method", "modes",
    "MIN_BEYOND", "isolated", "min_requests", "runs_of",
    "pair", "regime", "BATCHING", "SATURATION", "run_of", "samples", "seed_of", "variant_info", "analyse_startup",
    "startup_by_epoch", "startup_samples", "CPU_PARTS", "SUMMARY_METRICS", "cpu_parts",
    "delta_ns", "SENDER", "summary", "summary_aa",
    "summary_table", "ResultsError", "SchemaError", "RUNS_FILES", "load", "open_runs",
    "order_digest", "runs_file", "emit", "analysed", "controls", "calibration"]


def emit(text):
    """Print to stdout; a reader that went away (| head) is not an error."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)


def analysed(res, resamples=st.RESAMPLES, progress=None, reuse=True):
    """analyse(RES), or the analysis.json beside its slices when that says
    (its "inputs") it is the analysis of exactly these inputs, so a set is
    analysed once, by whoever wrote its report (cache.py). Returns
    (analysis, how): how is "analysis.json" or "analysed". A set in which
    nothing was measured has an analysis without comparisons here: its
    readers (compare, trend, reproduce) judge what is missing against
    another set, where analyse() alone refuses it."""
    a = cache.reusable(res, resamples) if reuse else None
    if a is not None:
        a["info"] = variant_info(res)
        a.setdefault("startup", {})
        return a, "analysis.json"
    return analyse(res, resamples, progress, empty=True), "analysed"


def controls(res):
    """Ids of the variants made only of calibration controls: directives
    with a known answer (spec.json "expect") or marked "calibration: yes" in
    the catalogue. They add a cost that is not hardening, by design."""
    from sblib import catalogue as cat
    known = set(res["spec"].get("expect") or {})
    out = set()
    for vid, d in variant_info(res).items():
        names = d.get("directives") or []
        if not names:
            continue
        ok = True
        for n in names:
            if n in known:
                continue
            try:
                ok = cat.load_directive(n).get("calibration") == "yes"
            except cat.CatalogueError:
                ok = False
            if not ok:
                break
        if ok:
            out.add(vid)
    return out


def calibration(res, analysis):
    """Each variant made of one directive with a known answer (spec.json
    "expect") against what ANALYSIS measured, per server and mode: dicts of
    server, mode, variant, directive, metric, expected (the known delta),
    measured, lo, hi (the delta and its 95% interval, in the metric's unit;
    None when not measured) and agrees: "yes", "no", "vague" (the interval
    holds both 0 and twice the answer: it cannot tell), "n/a" (a process per
    connection: the control times its loop at every start, so what it adds
    per request is not the constant it claims), "batching" (at saturation:
    above 0 and below the answer, as a slowed saturated server batches more
    per wake-up) or "missing"; regime (slices.regime) and, beside a reading
    in another regime, "at_fixed_load": the same control's reading at the
    fixed load of the same run, where nothing is batched."""
    expect = res["spec"].get("expect") or {}
    per_process = (res["spec"].get("loadgen") or {}).get("slice_connections") or {}
    out = []
    for g in analysis["groups"]:
        for r in g["rows"]:
            d = (analysis["info"].get(r["variant"]) or {}).get("directives") or []
            if len(d) != 1 or d[0] not in expect:
                continue
            e = expect[d[0]]
            c = r["cmp"].get(e["metric"])
            row = {"server": g["server"], "mode": g["mode"], "variant": r["variant"],
                   "regime": regime(res, g["server"], g["mode"]), "directive": d[0], "metric": e["metric"], "expected": e["delta"],
                   "measured": None, "lo": None, "hi": None, "agrees": "missing"}
            out.append(row)
            if not c or c.get("base") is None:
                continue
            got, lo, hi = (c["base"] * (x - 1.0) for x in (c["ratio"], c["lo"], c["hi"]))
            row.update(measured=got, lo=lo, hi=hi)
            vague = lo <= 0 and hi >= 2 * e["delta"] if e["delta"] > 0 else \
                hi >= 0 and lo <= 2 * e["delta"]
            row["agrees"] = ("n/a" if g["mode"] in per_process.get(g["server"], {}) else
                             "vague" if vague else "yes" if lo <= e["delta"] <= hi else
                             "batching" if row["regime"] in BATCHING
                             and 0 < lo and hi < e["delta"] else "no")
    # the same control at a fixed load on the same server: what batching at
    # saturation took off its reading, measured in this run
    fixed = {(c["server"], c["variant"]): c for c in out if c["mode"] == win.FIXED
             and c["measured"] is not None and c["regime"].startswith("fixed load")}
    for c in out:
        f = fixed.get((c["server"], c["variant"]))
        if f is not None and c is not f and c["measured"] is not None:
            c["at_fixed_load"] = {k: f[k] for k in ("measured", "lo", "hi", "regime")}
    return out
