"""The machine's speed at each isolated slice's time (results/README.md,
"Isolated slices"): a shared machine is slow or fast for seconds to
minutes, and dividing each slice by it takes that out of every ratio."""
import math

import numpy as np

from sblib.analysis import stats as st
from sblib.records import windows as win
from sblib.records.model import metric_value

# Slices on each side whose speed estimates the machine's at a slice's time.
DRIFT_WINDOW = 4
DRIFT_METRICS = ("cpu_ns_per_req", "rps")


def drift_factors(res, metric):
    """The machine's speed at each slice's time, as a factor per slice index:
    {index in res["runs"]: factor}. A shared, noisy machine is slow or fast
    for seconds to minutes at a time (neighbouring slices' deviations
    correlate at 0.75-0.93 on the project's VM), and slices of every variant
    are interleaved in random order, so the deviation common to a slice's
    neighbours is the machine's, not the variant's. Per server and mode:
    each good slice's log ratio to its variant's median; the factor of a slice
    is the exponential of the median of that over the DRIFT_WINDOW nearest
    slices in time on each side (itself excluded); two passes, the second
    with the variants' medians of corrected values. Only where a round is
    longer than the window (at least 2 * DRIFT_WINDOW + 2 variants)."""
    groups = {}
    for i, r in enumerate(res["runs"]):
        if r.get("status", "ok") != "ok" or not isinstance(r.get("start"), (int, float)):
            continue
        if r.get("phase") == win.PHASE:
            continue  # a window's two sides share the machine's speed already
        v = metric_value(r, metric)
        if v is None or v <= 0:
            continue
        # per server, mode and source run (sandbench merge): machine speed
        # is a matter of time, and two runs' times are not neighbours
        groups.setdefault((r.get("server"), r["mode"], r.get("run")), []).append(
            (r["start"], i, r["variant"], v))
    out = {}
    for rows in groups.values():
        rows.sort()
        # A round holds one slice of every variant: with fewer variants than
        # the window, rounds are short and pairing by round already cancels
        # the machine's drift (a window across rounds would only blur it).
        if len({vid for _, _, vid, _ in rows}) < 2 * DRIFT_WINDOW + 2:
            continue
        fac = [1.0] * len(rows)
        for _ in range(2):
            byv = {}
            for (_, _, vid, v), f in zip(rows, fac):
                byv.setdefault(vid, []).append(v / f)
            med = {vid: st.median(xs) for vid, xs in byv.items()}
            dev = [math.log(v / med[vid]) for _, _, vid, v in rows]
            fac = [math.exp(x) for x in _window_medians(dev, DRIFT_WINDOW)]
        for (_, i, _, _), f in zip(rows, fac):
            out[i] = f
    return out


def _window_medians(xs, w):
    """For each k, the median of XS's W nearest values on each side of k
    (fewer at the ends), itself excluded: as st.median of each window,
    the full ones all at once."""
    n = len(xs)
    out = [0.0] * n
    edge = list(range(min(w, n))) + list(range(max(n - w, w), n))
    if n > 2 * w:
        win = np.lib.stride_tricks.sliding_window_view(np.asarray(xs, dtype=float), 2 * w + 1)
        out[w:n - w] = np.median(np.delete(win, w, axis=1), axis=1).tolist()
    for k in edge:
        out[k] = st.median(xs[max(0, k - w):k] + xs[k + 1:k + w + 1])
    return out


def factors(res, metric):
    if not res.get("drift", True) or metric not in DRIFT_METRICS:
        return None
    cache = res.setdefault("_drift", {})
    if metric not in cache:
        cache[metric] = drift_factors(res, metric)
    return cache[metric]
