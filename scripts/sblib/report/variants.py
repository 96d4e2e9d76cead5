"""Which variants the report shows where: the calibration controls (kept out
of every ranking, plot and verdict), the combined hardened unit, the rows
that rank, the Pareto frontier, and the figures several sections and plots
share (interval width, latency medians)."""
import functools

from sblib import catalogue as cat
from sblib.analysis import results as rs
from sblib.analysis import stats as st


def directive_label(info, vid):
    """A variant's directive name (its id when it has none)."""
    return (info.get(vid) or {}).get("name") or vid


@functools.lru_cache(maxsize=None)
def _is_control(name):
    return cat.is_control(name)


def controls(res, info):
    """The variants made only of calibration controls (a known effect that is not
    hardening: spec.json "expect", or `calibration: yes` in the catalogue). They
    have their own table and are left out of every ranking, plot and verdict."""
    expect = res["spec"].get("expect") or {}
    return {vid for vid, d in info.items()
            if d.get("directives") and all(x in expect or _is_control(x)
                                           for x in d["directives"])}


def combined_variant(res, info, server):
    """The combined hardened unit of SERVER measured in this set (a variant of
    several directives, or one named combined/hardened*), or None."""
    for d in info.values():
        if d["server"] != server or d["role"] in ("baseline", "aa") or \
                (res["variants"].get(d["id"]) or {}).get("status", "ok") != "ok":
            continue
        # `sandbench advise` measures its proposal as one drop-in named advice
        if len(d.get("directives") or []) > 1 or d["name"] in ("combined", "advice") or \
                d["name"].endswith("-combined") or d["name"].startswith("hardened"):
            return d["id"]
    return None


def hardened_variant(res, info, server):
    """The variant to set against the baseline in latency plots: the combined
    hardened unit, else the working single directive with the lowest exposure.
    Returns (variant or None, True when it is the combined unit)."""
    cv = combined_variant(res, info, server)
    if cv:
        return cv, True
    ok = [d for d in info.values() if d["server"] == server and d["role"] not in ("baseline", "aa")
          and (res["variants"].get(d["id"]) or {}).get("status", "ok") == "ok"]
    scored = [(rs.exposure(res, d["id"]), d["id"]) for d in ok
              if rs.exposure(res, d["id"]) is not None]
    if scored:
        return min(scored)[1], False
    return (ok[0]["id"] if ok else None), False


def ranked_rows(g, ctl):
    """G's rows that rank: neither the A/A control nor a calibration control."""
    return [r for r in g["rows"] if r["variant"] != g["aa"] and r["variant"] not in ctl]


def interval_width(g, rows=None, metric="cpu_ns_per_req"):
    """Median half-width of the METRIC intervals of ROWS (default: G's
    directives, A/A excluded), as a fraction; None without any that can
    carry a cost (st.why_not)."""
    ws = [max(c["ratio"] - c["lo"], c["hi"] - c["ratio"])
          for r in (rows if rows is not None else
                    [r for r in g["rows"] if r["variant"] != g["aa"]])
          for c in [r["cmp"].get(metric)] if c and not st.why_not(c)]
    return st.median(ws) if ws else None


def no_cost_bound(g, rows, metric="cpu_ns_per_req"):
    """The change below which this group cannot see a cost of METRIC: the
    larger of its A/A floor and the typical directive's interval half-width
    (a fraction)."""
    return max((g.get("floors") or {}).get(metric) or 0.0,
               interval_width(g, rows, metric) or 0.0)


def frontier(res, g, ctl=()):
    """[(cpu ratio, exposure, variant)] on the Pareto frontier of one group
    (variants in CTL, the calibration controls, left out)."""
    pts = []
    if g["baseline"] and rs.exposure(res, g["baseline"]) is not None:
        pts.append((1.0, rs.exposure(res, g["baseline"]), g["baseline"]))
    for r in g["rows"]:
        c = r["cmp"].get("cpu_ns_per_req")
        e = rs.exposure(res, r["variant"])
        if c and e is not None and r["variant"] != g["aa"] and r["variant"] not in ctl:
            pts.append((c["ratio"], e, r["variant"]))
    return st.pareto_frontier(pts)


def latency_medians(res, vid, mode):
    """Each percentile's median over VID's isolated slices in MODE (one
    instance loaded at a time: absolute levels), else over its duet windows
    as measured (two instances sharing the CPU)."""
    out = {}
    for p in rs.PERCENTILES:
        vals = [v for _, v in rs.isolated(res, vid, mode, p)] or \
            [v for r in rs.runs_of(res, vid, mode) for v in [rs.metric_value(r, p)] if v]
        if vals:
            out[p] = st.median(vals)
    return out
