"""What a work control should read where a server batches: the wake-up
model, measured in the same run (results/README.md, "What a cost means at
saturation").

A server's CPU per request is mostly what its wake-ups cost (epoll_wait
blocking, being woken, the context switches), and a server slowed by W ns
of work per request finds more requests waiting at each wake-up, so its
wake-ups per request fall and its other CPU per request with them:

    reading = W + c * dw

with dw the control's wake-ups per request minus its baseline's in the
same windows (loadgen counts each side's voluntary context switches at the
window's edges: records' "wakeups_per_req") and c what one wake-up costs.

c comes from the baseline alone, from its two regimes: at saturation
(keep-alive windows) it wakes a few times per 100 requests, at the fixed
load about once per request, and the rest of a request's work is the same
request parsed, answered and encrypted, so

    c = (cpu_f - cpu_s) / (w_f - w_s)

(f the fixed load's windows, s saturation's; each the interquartile mean
over the baseline's windows): between the regimes the wake-ups per request
differ five- to tenfold, so c has leverage. The assumption it rests on:
what the regimes do differently per request is waking, and a wake-up
costs the same in both. It may not: at a low fixed load the server's CPU
idles between requests and a wake-up brings the idle exit and cold caches
with it, at saturation it does not. So beside it, "c_within": the slope of
the baseline's CPU per request on its wake-ups per request over the
windows of the row's own regime (Theil-Sen: the median of the pairwise
slopes, robust to a window the machine disturbed), and "expected_within",
the model's reading with it; a point each, no interval (the windows of one
regime spread little in wake-ups, so it has little leverage where the
machine is quiet). A functional run on a busy machine (3 windows a mode,
700 req/s) read c about 58,000 ns between the regimes and 66,000 within the
fixed load: which is sounder is for a measured run to say
(results/README.md).

Intervals: the windows of each set (the baseline's saturation windows, its
fixed-load windows, the control's paired windows in the row's mode) are
resampled as the analysis resamples windows (stats.resampled_centres,
epochs as clusters), and the model is evaluated on every resample. Pure:
records in, numbers out."""
import numpy as np

from sblib.analysis import stats as st
from sblib.analysis.slices import epochs, seed_of, variant_info
from sblib.records import windows as win

SATURATED = "keepalive"
MODES = (SATURATED, win.FIXED)
WAKE = "wakeups_per_req"
CPU = "cpu_ns_per_req"


def _num(r, k):
    v = r.get(k)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _windows(res, server, mode):
    """{variant: {round: record}} of SERVER's good duet windows in MODE
    that carry CPU and wake-ups per request."""
    out = {}
    for r in res["runs"]:
        if (r.get("phase") == win.PHASE and r.get("mode") == mode and r.get("server") == server
                and r.get("status", "ok") == "ok" and not r.get("alone")
                and _num(r, CPU) is not None and _num(r, WAKE) is not None):
            out.setdefault(r["variant"], {})[r["round"]] = r
    return out


def _baseline(res, server):
    return next((v for v, d in variant_info(res).items()
                 if d["server"] == server and d["role"] == "baseline"), None)


def _clusters(res, rounds):
    ep = epochs(res)
    cl = [ep.get(w) for w in rounds] if ep else None
    return cl if cl and None not in cl else None


def _centres(res, rows, keys, label, resamples):
    """(point centres, resampled centres) of KEYS over records ROWS
    ({round: record}), the resample seeded by LABEL."""
    rounds = sorted(rows, key=str)
    cols = [[_num(rows[w], k) for w in rounds] for k in keys]
    point = [st.center(c) for c in cols]
    draws = st.resampled_centres(cols, st.derive_seed(seed_of(res), "wakeups", *label),
                                 clusters=_clusters(res, rounds), resamples=resamples)
    return point, draws


def _interval(draws):
    s = sorted(x for x in draws.tolist() if np.isfinite(x))
    if not s:
        return None, None
    tail = (1.0 - st.CONF) / 2.0
    return st.quantile(s, tail), st.quantile(s, 1.0 - tail)


def wake_cost(res, server, resamples=st.RESAMPLES):
    """(c, draws, why): what one wake-up of SERVER's baseline costs in ns,
    from its saturation and fixed-load windows (module docstring), with
    its resampled values; (None, None, why) where it has no answer."""
    base = _baseline(res, server)
    sets = [_windows(res, server, m).get(base) or {} for m in MODES]
    if any(len(s) < 3 for s in sets):
        return None, None, ("wake-up cost c needs the baseline's keep-alive and fixed-load "
                            "windows with wake-ups, 3 of each")
    (cs, ws), (ds_cpu, ds_w) = _centres(res, sets[0], (CPU, WAKE), (server, SATURATED),
                                        resamples)
    (cf, wf), (df_cpu, df_w) = _centres(res, sets[1], (CPU, WAKE), (server, win.FIXED),
                                        resamples)
    if wf - ws <= 0.05:
        return None, None, (f"the baseline's wake-ups per request barely differ between the "
                            f"regimes ({ws:.3f} at saturation, {wf:.3f} at the fixed load)")
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = (df_cpu - ds_cpu) / (df_w - ds_w)
    return (cf - cs) / (wf - ws), draws, None


def slope_within(res, server, mode):
    """(Theil-Sen slope of the baseline's CPU per request on its wake-ups
    per request over its windows in MODE, windows) or (None, windows) with
    fewer than 3 windows or wake-ups that never differ."""
    rows = list((_windows(res, server, mode).get(_baseline(res, server)) or {}).values())
    pts = [(_num(r, WAKE), _num(r, CPU)) for r in rows]
    slopes = [(y1 - y0) / (x1 - x0) for i, (x0, y0) in enumerate(pts)
              for x1, y1 in pts[i + 1:] if x1 != x0]
    if len(pts) < 3 or not slopes:
        return None, len(pts)
    return st.median(slopes), len(pts)


def model(res, server, mode, variant, work_ns, resamples=st.RESAMPLES):
    """The wake-up model's reading of VARIANT (a control adding WORK_NS per
    request) on SERVER in MODE: a dict of expected, lo, hi (ns per request,
    its 95% interval), c, c_lo, c_hi (ns per wake-up), dw, dw_lo, dw_hi
    (the control's wake-ups per request minus its baseline's in the same
    windows), w_base (the baseline's wake-ups per request in MODE), n (the
    paired windows), c_within and expected_within (slope_within: None
    where it has none); or {"why": ...} where the run has no answer (None
    where it measured no wake-ups at all: an older run)."""
    if mode not in MODES:
        return None
    wins = _windows(res, server, mode)
    base = _baseline(res, server)
    if not wins.get(base) and not wins.get(variant):
        return None
    c, c_draws, why = wake_cost(res, server, resamples)
    if c is None:
        return {"why": why}
    b, v = wins.get(base) or {}, wins.get(variant) or {}
    pairs = {w: {"dw": _num(v[w], WAKE) - _num(b[w], WAKE), "wb": _num(b[w], WAKE)}
             for w in set(b) & set(v)}
    if len(pairs) < 3:
        return {"why": f"{len(pairs)} paired windows with wake-ups in {mode} (3 needed)"}
    (dw, wb), (dw_draws, _) = _centres(res, pairs, ("dw", "wb"), (server, mode, variant),
                                       resamples)
    exp_draws = work_ns + c_draws * dw_draws
    lo, hi = _interval(exp_draws)
    c_lo, c_hi = _interval(c_draws)
    dw_lo, dw_hi = _interval(dw_draws)
    within, _ = slope_within(res, server, mode)
    return {"expected": work_ns + c * dw, "lo": lo, "hi": hi, "c": c, "c_lo": c_lo,
            "c_hi": c_hi, "dw": dw, "dw_lo": dw_lo, "dw_hi": dw_hi, "w_base": wb,
            "n": len(pairs), "c_within": within,
            "expected_within": None if within is None else work_ns + within * dw}


def agrees(m, measured, lo, hi):
    """"yes" when the model's expected reading lies in the measured
    interval or the measured reading in the model's interval, else "no"."""
    if m.get("lo") is None or measured is None:
        return "no"
    return "yes" if lo <= m["expected"] <= hi or m["lo"] <= measured <= m["hi"] else "no"
