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
from sblib.analysis.calibration import calibration
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
