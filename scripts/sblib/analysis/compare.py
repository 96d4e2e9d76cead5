"""Two results sets compared: the regression gate (sandbench compare) and
the agreement of a reproduction (sandbench reproduce).

Sets of every kind (sblib.analysis.sets) are compared by what they measure:
  - run sets: each directive's cost (variant / the same run's baseline, CPU
    per request and req/s) and how it moved: NEW's cost over BASE's, with a
    95% interval combined from the two runs' own intervals
    (st.combine_intervals); exposure that rose; compatibility (a variant that
    worked in BASE and fails in NEW); coverage (what BASE measured and NEW
    did not is "lost"); calibration controls checked against their known
    answer; with --absolute, absolute figures with st.compare's intervals;
  - start-up sets: each directive's start-up (or per-connection) change as
    a ratio to its baseline, per server, kind and mount count, moved the
    same way;
  - advise sets: the exposure the drop-in reaches, and each directive that
    was proposed in BASE and is rejected (or not tried) in NEW;
  - syscost and micro sets: minima without intervals, shown side by side
    and never called a change;
  - collections: member by member, by their names.

No change is ever called from fewer than MIN_N samples on either side of
either cost, or from an interval of zero width: such a comparison is "not
comparable (n<3 / no interval)", counted apart and never a regression or an
agreement. A comparison where nothing was comparable is EMPTY.
"""
import math

from sblib.analysis import cliffs
from sblib.analysis import results as rs
from sblib.analysis import sets
from sblib.analysis import stats as st
from sblib.records import schema

SCHEMA = schema.tag("compare")
PASS, REGRESSION, BAD, INVALID, INCOMPLETE, EMPTY = 0, 1, 2, 3, 4, 5
MIN_N = st.MIN_N

# what gates by default: every cost a run gives with an interval (in duet
# windows each is a per-window ratio to the baseline of the same moment),
# the sender part of CPU per request (the load generator's, where loopback's
# softirq lands) gated like the server's: a move beyond both runs' intervals
COST_METRICS = ["cpu_ns_per_req", rs.SENDER, "rps", "p50", "p99"]
ABS_METRICS = [m for m, _, _ in rs.METRICS] + ["startup_ms"]
# start-up sets: what gates by default, per kind of sample
STARTUP_GATE = {"start": ["total_ms"], "connection": ["cpu_per_conn_ms", "conns_per_s"]}
STARTUP_METRICS = ["total_ms", "fork_to_answer_ms", "setup_and_init_ms", "to_fork_ms",
                   "ready_to_answer_ms", "pid1_cpu_ms", "unit_cpu_ms", "cpu_per_conn_ms",
                   "pid1_per_conn_ms", "units_per_conn_ms", "conns_per_s"]
HIGHER_IS_BETTER = {"rps", "conns_per_s"}
EXPOSURE_EPS = 0.05
LABELS = {m: lab for m, lab, _ in rs.METRICS}
LABELS.update({"startup_ms": "start-up", "total_ms": "start-up",
               "fork_to_answer_ms": "fork to answer", "cpu_per_conn_ms": "CPU per connection",
               "conns_per_s": "connections/s"})
NOT_COMPARABLE = "not comparable"


class CompareError(Exception):
    """Two sets that cannot be compared (of different kinds); the message
    says why."""


# --- one comparison ------------------------------------------------------------

n_of, why_not = st.n_of, st.why_not


def p_of_interval(ratio, lo, hi, z95=1.959964):
    """Two-sided p of no change, read off a 95% interval of a ratio (log
    scale, the half toward 1): below 0.05 exactly when the interval leaves
    out 1."""
    d = math.log(ratio)
    half = (d - math.log(lo)) if d >= 0 else (math.log(hi) - d)
    if half <= 0:
        return None
    return math.erfc(abs(d) / (half / z95) / math.sqrt(2.0))


def verdict(metric, row, threshold):
    """st.verdict, with connections/s higher-is-better like req/s."""
    return st.verdict("rps" if metric in HIGHER_IS_BETTER else metric, row, threshold)


def cost_row(vid, mode, metric, x0, x1, threshold, control):
    """One directive's cost in BASE (X0) and NEW (X1), each a comparison
    with its own baseline ({ratio, lo, hi, n...}), and how it moved."""
    row = {"kind": "cost", "variant": vid, "mode": mode, "metric": metric,
           "base": x0["ratio"], "base_lo": x0["lo"], "base_hi": x0["hi"], "base_n": n_of(x0),
           "new": x1["ratio"], "new_lo": x1["lo"], "new_hi": x1["hi"], "new_n": n_of(x1),
           "control": control}
    why = why_not(x0, x1)
    if why:
        row.update(change=None, lo=None, hi=None, p=None, significant=False, comparable=False,
                   why=why, verdict=NOT_COMPARABLE)
        return row
    ratio, lo, hi = st.combine_intervals(x0["ratio"], x0["lo"], x0["hi"],
                                         x1["ratio"], x1["lo"], x1["hi"])
    row.update(change=ratio, lo=lo, hi=hi, p=p_of_interval(ratio, lo, hi),
               significant=lo > 1.0 or hi < 1.0, comparable=True)
    row["verdict"] = verdict(metric, dict(row, ratio=ratio), threshold)
    return row


# --- run sets ------------------------------------------------------------------

def state_of(res):
    """(state, done, planned) of a results directory from status.json."""
    s = res.get("status") or {}
    return s.get("state"), s.get("runs_done"), s.get("runs_planned")


def costs_of(res, analysis):
    """{(variant, mode): {metric: analyse() comparison}} of every variant
    (A/A control included) that has one."""
    out = {}
    for g in (analysis or {}).get("groups") or []:
        for r in g["rows"]:
            if r["cmp"]:
                out[(r["variant"], g["mode"])] = r["cmp"]
    return out


def _status(res, vid):
    return (res["variants"].get(vid) or {}).get("status")


def _lost(b, ca, cb, info_b, only_base):
    """What BASE measured and NEW did not: [{variant, mode, why}], leaving
    out variants NEW says stopped working (a compatibility regression)."""
    out = []
    new_modes = set(rs.modes(b))
    measured_b = {}
    for r in b["runs"]:
        measured_b.setdefault((r["variant"], r["mode"]), []).append(r.get("status", "ok"))
    for (vid, mode) in ca:
        if (vid, mode) in cb:
            continue
        sb = _status(b, vid)
        if vid in info_b and sb not in (None, "ok"):
            continue
        slices = measured_b.get((vid, mode), [])
        if vid in only_base:
            why = "not in NEW"
        elif mode not in new_modes:
            why = f"mode {mode} not measured in NEW"
        elif slices and all(x != "ok" for x in slices):
            why = f"all {len(slices)} slice(s) failed"
        elif not slices:
            why = "no slice in NEW"
        else:
            why = "no comparison with its baseline in NEW (the baseline unmeasured?)"
        out.append({"variant": vid, "mode": mode, "why": why})
    # a variant BASE knew only by its status (it never started there)
    for vid in only_base:
        if not any(k[0] == vid for k in ca):
            out.append({"variant": vid, "mode": "-", "why": "not in NEW (its compatibility "
                        "is no longer checked)"})
    return out


def _calibration_checks(a, aa, b, ab):
    """Each control with a known answer, as NEW measured it, against the
    answer and against BASE: [{server, mode, variant, directive, expected,
    new: rs.calibration row, base: row or None, agrees: "yes" | "like BASE" |
    "vague" | "n/a" | "missing" | "no"}]."""
    base = {(c["variant"], c["mode"]): c for c in rs.calibration(a, aa)}
    out = []
    for c in rs.calibration(b, ab):
        c0 = base.get((c["variant"], c["mode"]))
        word = c["agrees"]
        if word == "no" and c0 and c0["measured"] is not None:
            _, lo, hi = st.combine_intervals(c0["measured"], c0["lo"], c0["hi"], c["measured"],
                                             c["lo"], c["hi"], log=False)
            if lo <= 0 <= hi:
                word = "like BASE"
        out.append({"server": c["server"], "mode": c["mode"], "variant": c["variant"],
                    "directive": c["directive"], "metric": c["metric"],
                    "expected": c["expected"], "new": c, "base": c0, "agrees": word})
    return out


def absolute_row(vid, mode, metric, c, threshold):
    """An absolute figure of NEW against BASE (st.compare's result C)."""
    c.update({"kind": "absolute", "variant": vid, "metric": metric, "mode": mode,
              "change": c["ratio"], "base_n": c.get("n_base"), "new_n": c.get("n_new")})
    why = why_not(c)
    c.update(comparable=not why, why=why)
    if why:
        c.update(significant=False, verdict=NOT_COMPARABLE)
    else:
        c["verdict"] = verdict(metric, c, threshold)
    return c


def _absolute_rows(a, b, pairs, metrics, threshold, resamples, progress):
    """--absolute: each figure of each variant, NEW against BASE, with the
    interval of st.compare (the statistic every analysis uses)."""
    seed = rs.seed_of(b)
    first_mode = {}
    todo = []
    for vid, mode in pairs:
        first_mode.setdefault(vid, mode)
        for m in metrics:
            if m == "startup_ms" and first_mode[vid] != mode:
                continue
            todo.append((vid, mode, m))
    rows = []
    for k, (vid, mode, m) in enumerate(todo):
        if m == "startup_ms":
            xa, xb = rs.startup_samples(a, vid), rs.startup_samples(b, vid)
        else:
            xa = [v for _, v in rs.samples(a, vid, mode, m)]
            xb = [v for _, v in rs.samples(b, vid, mode, m)]
        if xa and xb:
            c = st.compare(xa, xb, st.derive_seed(seed, "cmp", vid, mode, m), resamples=resamples)
            rows.append(absolute_row(vid, mode if m != "startup_ms" else "-", m, c, threshold))
        progress("absolute figures", k + 1, len(todo))
    return rows


def methods_of(analysis, metric="cpu_ns_per_req"):
    """The methods (duet, isolated) that measured METRIC's costs, sorted."""
    return sorted({(g.get("methods") or {}).get(metric) or "isolated"
                   for g in (analysis or {}).get("groups") or [] if g["rows"]})


def _has_cost(analysis, metric):
    """Whether ANALYSIS compares any variant on METRIC (a set from before
    the sender part has none of it)."""
    return any(metric in r["cmp"] for g in (analysis or {}).get("groups") or []
               for r in g["rows"])


def _what_cost(r):
    x = (f"cost {LABELS.get(r['metric'], r['metric'])} {st.pct(r['base'])} -> "
         f"{st.pct(r['new'])}: {st.pct(r['change'])} {st.interval(r['lo'], r['hi'])}")
    return x + f" (n {r['base_n']} -> {r['new_n']}" + (
        f", p {r['p']:.2g})" if r.get("p") is not None else ")")


def _costs(out, ca, cb, metrics, threshold, skip, ctl):
    """Cost rows of every (variant, mode) of CA that CB has too."""
    for (vid, mode), c0 in ca.items():
        c1 = cb.get((vid, mode))
        if c1 is None or vid in skip:
            continue
        for m in metrics:
            x0, x1 = c0.get(m), c1.get(m)
            if not x0 or not x1 or m == "startup_ms":
                continue
            row = cost_row(vid, mode, m, x0, x1, threshold, vid in ctl)
            out["costs"].append(row)
            if row["verdict"] == "worse" and not row["control"]:
                out["regressions"].append(dict(row, what=_what_cost(row)))


def _variants(out, a, b, ctl):
    """Compatibility and exposure of every variant both sets know."""
    ia, ib = rs.variant_info(a), rs.variant_info(b)
    for vid in ia:
        if vid not in ib:
            continue
        s0, s1 = _status(a, vid), _status(b, vid)
        if s0 != s1 and (s0 or s1):
            row = {"kind": "compatibility", "variant": vid, "mode": "-", "base": s0, "new": s1,
                   "control": vid in ctl}
            out["compatibility"].append(row)
            if s0 == "ok" and s1 not in (None, "ok") and not row["control"]:
                out["regressions"].append(dict(row, what=f"worked in BASE, {s1} in NEW"))
        e0, e1 = rs.exposure(a, vid), rs.exposure(b, vid)
        if e0 is not None and e1 is not None and abs(e1 - e0) > EXPOSURE_EPS:
            row = {"kind": "exposure", "variant": vid, "mode": "-", "base": e0, "new": e1,
                   "control": vid in ctl}
            out["exposure"].append(row)
            if e1 > e0 and not row["control"]:
                out["regressions"].append(dict(row, what=f"exposure rose {e0:.1f} -> {e1:.1f}"))


def _gate_run(out, a, aa, b, ab, o):
    ia, ib = rs.variant_info(a), rs.variant_info(b)
    ctl = rs.controls(a) | rs.controls(b)
    out["controls"] = sorted(set(out["controls"]) | ctl)
    ca, cb = costs_of(a, aa), costs_of(b, ab)
    only_base = [v for v in ia if v not in ib]
    out["only_base"] += only_base
    out["only_new"] += [v for v in ib if v not in ia]
    for m in o["metrics"]:
        ma, mb = methods_of(aa, m), methods_of(ab, m)
        if ma and mb and ma != mb and _has_cost(aa, m) and _has_cost(ab, m):
            out["notes"].append(
                f"{LABELS.get(m, m)} measured by {'/'.join(ma)} in BASE, by {'/'.join(mb)} in "
                "NEW (results/README.md): " + (
                    "the calibration control reads differently by method"
                    if m == "cpu_ns_per_req" else "a cost of one instance loaded alone "
                    "against one of two sharing the CPU in windows"))
    _costs(out, ca, cb, o["metrics"], o["threshold"],
           {v for v in ia if ia[v]["role"] == "aa"}, ctl)
    _variants(out, a, b, ctl)
    out["lost"] += _lost(b, ca, cb, ib, only_base)
    out["calibration"] += _calibration_checks(a, aa, b, ab)
    for c in out["calibration"]:
        if c["agrees"] == "no":
            n, b0 = c["new"], c["base"]
            out["invalid"].append(
                f"{c['variant']} {c['mode']}: NEW measures {n['measured']:+,.0f} "
                f"[{n['lo']:+,.0f}, {n['hi']:+,.0f}]{n.get('unit', '')} against the known "
                f"{c['expected']:+,.0f}"
                + (f" and BASE's {b0['measured']:+,.0f} [{b0['lo']:+,.0f}, {b0['hi']:+,.0f}]"
                   if b0 and b0["measured"] is not None else ""))
    if o["absolute"]:
        pairs = [k for k in ca if k in cb] + [(v, g["mode"]) for g in aa["groups"]
                                              for v in [g["baseline"]] if v in ib]
        rows = _absolute_rows(a, b, pairs, o["metrics"], o["threshold"], o["resamples"],
                              o["progress"])
        out["absolute_rows"] += rows
        for r in rows:
            r["control"] = r["variant"] in ctl
            if r["verdict"] == "worse" and not r["control"]:
                out["regressions"].append(dict(
                    r, what=f"{LABELS.get(r['metric'], r['metric'])} {fmt(r['base'])} -> "
                    f"{fmt(r['new'])}: {st.pct(r['ratio'])} {st.interval(r['lo'], r['hi'])} "
                    f"(n {r['base_n']} -> {r['new_n']}, p {r['p']:.2g})"))


# --- start-up sets -------------------------------------------------------------

def startup_mode(g, level):
    """The "mode" of a start-up cost: its kind, and the mount count when the
    set swept them."""
    levels = g.get("levels") or [0]
    return g.get("kind", "start") if levels == [0] else f"{g.get('kind', 'start')} " \
        f"@{level} mounts"


def startup_costs(doc):
    """{(variant, mode): {metric: {ratio, lo, hi, n}}} of a startup.json:
    each change as a ratio to the baseline (1 + pct / 100)."""
    out = {}
    for g in (doc or {}).get("groups") or []:
        for level, per in (g.get("costs") or {}).items():
            for vid, ms in per.items():
                d = out.setdefault((vid, startup_mode(g, level)), {})
                for m, c in ms.items():
                    if not isinstance(c, dict) or c.get("pct") is None:
                        continue
                    d[m] = {"ratio": 1 + c["pct"] / 100.0, "lo": 1 + c["pct_lo"] / 100.0,
                            "hi": 1 + c["pct_hi"] / 100.0, "n": c.get("n"),
                            "delta": c.get("delta"), "base_ms": c.get("base")}
    return out


def _startup_metrics(metrics, doc):
    kinds = {g.get("kind", "start") for g in (doc or {}).get("groups") or []}
    if metrics and set(metrics) & set(STARTUP_METRICS):
        return [m for m in metrics if m in STARTUP_METRICS]
    return [m for k in sorted(kinds) for m in STARTUP_GATE.get(k, [])]


def _gate_startup(out, a, b, o):
    ra, rb = a["res"], b["res"]
    ctl = rs.controls(ra) | rs.controls(rb)
    out["controls"] = sorted(set(out["controls"]) | ctl)
    ca, cb = startup_costs(a["startup"]), startup_costs(b["startup"])
    aa = {v for v, d in rs.variant_info(ra).items() if d["role"] == "aa"}
    _costs(out, ca, cb, _startup_metrics(o["user_metrics"], a["startup"]), o["threshold"],
           aa, ctl)
    if "run" not in a["kinds"] and "run" not in b["kinds"]:
        _variants(out, ra, rb, ctl)
    censored = {}
    for g in (b["startup"] or {}).get("groups") or []:
        censored.update(g.get("censored") or {})
    for (vid, mode) in ca:
        if (vid, mode) not in cb and vid not in aa:
            why = (f"timed out in NEW at {censored[vid]} mounts or more" if vid in censored
                   else "not measured in NEW's start-up")
            out["lost"].append({"variant": vid, "mode": mode, "why": why})


# --- advise sets ---------------------------------------------------------------

def _gate_advice(out, a, b):
    x0, x1 = a["advice"] or {}, b["advice"] or {}
    unit = x1.get("unit") or x0.get("unit") or "?"
    e0, e1 = (x.get("exposure", {}).get("after") for x in (x0, x1))
    if isinstance(e0, (int, float)) and isinstance(e1, (int, float)):
        out["checked"] += 1
        if abs(e1 - e0) > EXPOSURE_EPS:
            row = {"kind": "exposure", "variant": unit, "mode": "-", "base": e0, "new": e1,
                   "control": False, "check": True}
            out["exposure"].append(row)
            if e1 > e0:
                out["regressions"].append(dict(row, what=f"the advice's exposure rose "
                                               f"{e0:.1f} -> {e1:.1f}"))
    m1, rej1 = set(x1.get("members") or []), x1.get("rejected") or {}
    for d in x0.get("members") or []:
        vid = f"{unit}/{d}"
        if d in m1:
            out["checked"] += 1
        elif d in rej1:
            out["checked"] += 1
            r = rej1[d]
            row = {"kind": "compatibility", "variant": vid, "mode": "-", "base": "proposed",
                   "new": r.get("kind"), "control": False, "check": True}
            out["compatibility"].append(row)
            out["regressions"].append(dict(row, what=f"proposed in BASE, rejected in NEW: "
                                           f"{r.get('kind')} ({str(r.get('reason'))[:160]})"))
        else:
            out["lost"].append({"variant": vid, "mode": "-", "why": "not tried in NEW"})
    for d in sorted(m1 - set(x0.get("members") or [])):
        out["compatibility"].append({"kind": "compatibility", "variant": f"{unit}/{d}",
                                     "mode": "-", "base": "rejected or not tried",
                                     "new": "proposed", "control": False, "check": True})
    c0, c1 = x0.get("capabilities"), x1.get("capabilities")
    if c0 is not None and c1 is not None and c0 != c1:
        out["notes"].append(f"{unit}: capabilities {' '.join(c0) or 'none'} in BASE, "
                            f"{' '.join(c1) or 'none'} in NEW")


def _gate_advice_user(out, a, b):
    d0 = (a["advice_user"] or {}).get("directives") or {}
    d1 = (b["advice_user"] or {}).get("directives") or {}
    unit = (b["advice_user"] or {}).get("unit") or "?"
    for d, r0 in d0.items():
        r1 = d1.get(d)
        vid = f"{unit}/{d}"
        if r1 is None:
            out["lost"].append({"variant": vid, "mode": "-", "why": "not tried in NEW"})
            continue
        out["checked"] += 1
        s0, s1 = r0.get("status"), r1.get("status")
        if s0 != s1:
            row = {"kind": "compatibility", "variant": vid, "mode": "-", "base": s0, "new": s1,
                   "control": False, "check": True}
            out["compatibility"].append(row)
            if s0 == "ok":
                out["regressions"].append(dict(row, what=f"started in BASE, {s1} in NEW"))


# --- syscost and micro sets ----------------------------------------------------

def syscost_figures(side):
    """{(what, configuration, metric): value} of a syscost set: every
    syscost configuration's minimum and median ns per call, and every
    directive's micro ratio to its baseline; none has an interval."""
    out = {}
    for fn, doc in (side["syscost"] or {}).items():
        for r in (doc or {}).get("results") or []:
            conf = " ".join(f"{k}={r[k]}" for k in ("mode", "rules", "position", "filters")
                            if r.get(k) not in (None, False))
            for q in ("min", "median"):
                v = (r.get("ns") or {}).get(q)
                if isinstance(v, (int, float)):
                    out[(fn, conf, f"ns {q}")] = v
    for k, ch in enumerate((side["micro"] or {}).get("chunks") or []):
        for var, ops in (ch.get("summary") or {}).items():
            for op, c in ops.items():
                if isinstance(c, dict) and isinstance(c.get("ratio"), (int, float)):
                    out[(f"micro run {k + 1}", var, f"{op} ratio")] = c["ratio"]
    return out


def _gate_figures(out, a, b):
    fa, fb = syscost_figures(a), syscost_figures(b)
    for key, v0 in fa.items():
        if key not in fb:
            continue
        v1 = fb[key]
        out["absolute_rows"].append({
            "kind": "absolute", "variant": f"{key[0]}: {key[1]}", "mode": "-", "metric": key[2],
            "base": v0, "new": v1, "ratio": v1 / v0 if v0 else None, "change": None,
            "lo": None, "hi": None, "p": None, "base_n": None, "new_n": None,
            "significant": False, "comparable": False, "why": "no interval",
            "verdict": NOT_COMPARABLE, "control": False})
    if fa:
        out["notes"].append("syscost and micro figures are minima and medians without "
                            "intervals: shown side by side (-v), never called a change")


# --- the whole -----------------------------------------------------------------

def side_info(side):
    res = side["res"]
    state, done, planned = state_of(res)
    return {"path": side["path"], "kinds": side["kinds"], "state": state, "done": done,
            "planned": planned, "records": len(res["runs"]),
            "analysis": (side.get("analysis") or {}).get("_how"),
            "env": {k: res["env"].get(k) for k in ("kernel", "systemd", "cpu_model", "cores",
                                                   "host")}}


def _empty(a, b, o):
    return {"schema": SCHEMA, "threshold": o["threshold"], "metrics": o["metrics"],
            "absolute": o["absolute"], "base": side_info(a), "new": side_info(b), "costs": [],
            "absolute_rows": [], "compatibility": [], "exposure": [], "lost": [],
            "calibration": [], "controls": [], "only_base": [], "only_new": [], "notes": [],
            "invalid": [], "regressions": [], "checked": 0}


LISTS = ("costs", "absolute_rows", "compatibility", "exposure", "lost", "calibration",
         "only_base", "only_new", "invalid", "regressions")


def _gate_pair(a, b, o):
    out = _empty(a, b, o)
    state = out["new"]["state"]
    if state != "complete":
        out["notes"].append(f"NEW is not complete: state {state!r}, {out['new']['done']} of "
                            f"{out['new']['planned']} records"
                            + ("" if o["allow_incomplete"] else
                               "; not gated (--allow-incomplete gates what it measured)"))
        if not o["allow_incomplete"]:
            out["exit"] = INCOMPLETE
            return out
    if out["base"]["state"] != "complete":
        out["notes"].append(f"BASE is not complete: state {out['base']['state']!r}")
    stack = cliffs.stack_differences(a["res"]["env"], b["res"]["env"], mitigations=True)
    if stack:
        out["notes"].append("BASE and NEW ran on different stacks (" + "; ".join(
            f"{k} {va} -> {vb}" for k, va, vb in stack) + "): a change below can be the "
            "stack's (kernel, mitigations, systemd, OpenSSL) as well as the code's")
    ka, kb = set(a["kinds"]), set(b["kinds"])
    if "run" in ka & kb:
        _gate_run(out, a["res"], a.get("analysis"), b["res"], b.get("analysis"), o)
    if "startup" in ka & kb:
        _gate_startup(out, a, b, o)
    if "advice" in ka & kb:
        _gate_advice(out, a, b)
    if "advice-user" in ka & kb:
        _gate_advice_user(out, a, b)
    if ka & kb & {"syscost", "micro"}:
        _gate_figures(out, a, b)
    for k in sorted(ka - kb - {"collection"}):
        out["lost"].append({"variant": f"({describe_kind(k)})", "mode": "-",
                            "why": f"BASE is {describe_kind(k)}, NEW is not"})
    for k in sorted(kb - ka - {"collection"}):
        out["notes"].append(f"NEW is also {describe_kind(k)}, BASE is not: not compared")
    return out


def describe_kind(k):
    return sets.KIND_WORDS.get(k, k)


def check_kinds(a, b):
    """Raises CompareError when sets A and B have no kind in common."""
    if not set(a["kinds"]) & set(b["kinds"]):
        raise CompareError(f"BASE {a['path']} is {sets.describe(a['kinds'])}, NEW {b['path']} "
                           f"is {sets.describe(b['kinds'])}: compare sets of one kind")


def load_side(path, name="", resamples=st.RESAMPLES, reuse=True, progress=None,
              analyse_incomplete=True):
    """sets.load(PATH) with a run's analysis (its analysis.json reused when
    REUSE and it is the analysis of exactly these slices; PROGRESS(done,
    total) while analysing). NAME is BASE or NEW, for the caller's messages.
    Without ANALYSE_INCOMPLETE an incomplete run is not analysed."""
    side = sets.load(path)
    res = side["res"]
    if "run" not in side["kinds"] or (not analyse_incomplete
                                      and state_of(res)[0] != "complete"):
        side["analysis"] = {"groups": [], "info": rs.variant_info(res)}
        return side
    analysis, how = rs.analysed(res, resamples, progress=progress, reuse=reuse)
    analysis["_how"] = how if how == "analysis.json" else "analysed here"
    side["analysis"] = analysis
    return side


def compare_paths(base, new, threshold=0.05, resamples=st.RESAMPLES, **kw):
    """compare_sides() of the sets at paths BASE and NEW."""
    def load(path, name):
        return load_side(path, name, resamples)
    return compare_sides(load(base, "BASE"), load(new, "NEW"), load, threshold,
                         resamples=resamples, **kw)


def compare_sides(a, b, load, threshold=0.05, metrics=None, absolute=False,
                  allow_missing=False, allow_incomplete=False, allow_empty=False,
                  resamples=st.RESAMPLES, progress=None):
    """The comparison of loaded sets A (BASE) and B (NEW) (sets.load(), a
    run's with its "analysis"). LOAD(path, name) loads a collection's member
    the same way. Returns the result dict every output renders;
    result["exit"] is the exit status. Raises CompareError."""
    o = {"threshold": threshold, "user_metrics": metrics, "absolute": absolute,
         "metrics": list(metrics or (ABS_METRICS if absolute else COST_METRICS)),
         "allow_incomplete": allow_incomplete, "resamples": resamples,
         "progress": progress or (lambda what, done, total: None)}
    check_kinds(a, b)
    if a["kinds"] == ["collection"]:
        out = _empty(a, b, o)
        mb = dict(b["members"])
        for name, path in a["members"]:
            if name not in mb:
                out["lost"].append({"variant": name, "mode": "-", "why": "set not in NEW"})
                continue
            r = compare_sides(load(path, "BASE"), load(mb[name], "NEW"), load, threshold,
                              metrics, absolute, True, allow_incomplete, True, resamples,
                              progress)
            _fold(out, r, name)
        names = dict(a["members"])
        out["only_new"] += [n for n, _ in b["members"] if n not in names]
    else:
        out = _gate_pair(a, b, o)
        if out.get("exit") == INCOMPLETE:
            out["counts"] = counts(out)
            return out
    return finish(out, allow_missing, allow_empty)


def _fold(out, r, name):
    """Member NAME's result R into the collection's OUT."""
    for k in LISTS:
        for x in r[k]:
            out[k].append(dict(x, set=name) if isinstance(x, dict) else f"{name}: {x}")
    out["notes"] += [f"{name}: {n}" for n in r["notes"]]
    out["controls"] = sorted(set(out["controls"]) | set(r["controls"]))
    out["checked"] += r["checked"]
    if r["exit"] == INCOMPLETE:
        out.setdefault("incomplete", []).append(name)


def counts(out):
    """How many comparisons were made and what they said."""
    rows = [r for r in out["costs"] + out["absolute_rows"] if not r.get("control")]
    comparable = [r for r in rows if r.get("comparable", True)]
    worse = sum(r["verdict"] == "worse" for r in comparable)
    better = sum(r["verdict"] == "better" for r in comparable)
    return {"compared": len(comparable) + out["checked"], "costs": len(comparable),
            "checks": out["checked"], "worse": worse, "better": better,
            "unchanged": len(comparable) - worse - better,
            "not_comparable": len(rows) - len(comparable),
            "regressions": len(out["regressions"])}


def finish(out, allow_missing=False, allow_empty=False):
    """Lost coverage gated (unless ALLOW_MISSING), the counts, and the exit
    status of a comparison."""
    out["regressions"] = [x for x in out["regressions"] if x["kind"] != "lost"]
    if out["lost"] and not allow_missing:
        for x in out["lost"]:
            out["regressions"].append(dict({k: v for k, v in x.items() if k != "why"},
                                           kind="lost", what="lost coverage: " + x["why"]))
    out["counts"] = counts(out)
    out["allow_empty"] = allow_empty
    if out["invalid"]:
        out["exit"] = INVALID
    elif out["regressions"]:
        out["exit"] = REGRESSION
    elif out.get("incomplete"):
        out["exit"] = INCOMPLETE
    elif not out["counts"]["compared"] and not allow_empty:
        out["exit"] = EMPTY
    else:
        out["exit"] = PASS
    return out


def jsonable(r):
    """R with non-finite floats (an interval that ran off) as None."""
    def fix(x):
        if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
            return None
        if isinstance(x, dict):
            return {k: fix(v) for k, v in x.items()}
        if isinstance(x, list):
            return [fix(v) for v in x]
        return x
    return fix(r)


def fmt(v):
    """An absolute figure in a few characters: 1.23M, 45.6k, 789, 1.5."""
    if v is None:
        return "-"
    for least, unit, form in ((1e6, 1e6, "{:.2f}M"), (1e4, 1e3, "{:.1f}k"), (100, 1, "{:.0f}")):
        if abs(v) >= least:
            return form.format(v / unit)
    return f"{v:.3g}"
