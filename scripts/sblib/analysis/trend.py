"""Directive costs across many results sets over time, and where they
stepped (sandbench trend): series of each set's costs per machine kind,
and their change points found as Hunter (Apache Otava) finds them (the
method is described in sblib/commands/trend.py).

Sets of every kind are read (sblib.analysis.sets): run sets give the cost of
--metric (CPU per request or req/s), start-up sets their start-up (or per
connection) costs, a collection its members; sets without costs (advise,
syscost) and sets that cannot be read are skipped with a note.
"""
import math

from sblib.analysis import compare as cmp
from sblib.analysis import results as rs
from sblib.analysis import sets as sets_
from sblib.analysis import stats as st
from sblib.records import schema
from sblib.records import windows as win
from sblib.records.model import VariantId

SCHEMA = schema.tag("trend")
# the costs a run set gives a series of (--metric): in duet windows each is
# a per-window ratio to the baseline, so latency has an interval as CPU has
TREND_METRICS = ("cpu_ns_per_req", win.SENDER, "rps", "p50", "p99", "p99.9")
KIND_KEYS = ("cpu_model", "cores", "arch", "host")
CHANGE_KEYS = ("kernel", "systemd", "openssl", "liburing", "nginx")


# --- Student's t distribution, standard library only --------------------------

def _betacf(a, b, x):
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def betai(a, b, x):
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf2(t, df):
    """Two-sided p-value of Student's t with DF degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return betai(df / 2.0, 0.5, df / (df + t * t))


# --- change points -------------------------------------------------------------

def energy(left, right):
    """The E-Divisive energy statistic of a split (alpha = 1)."""
    m, k = len(left), len(right)

    def within(xs):
        n = len(xs)
        if n < 2:
            return 0.0
        return sum(abs(xs[i] - xs[j]) for i in range(n) for j in range(i + 1, n)) / (
            n * (n - 1) / 2.0)
    between = sum(abs(x - y) for x in left for y in right) / (m * k)
    return m * k / (m + k) * (2.0 * between - within(left) - within(right))


def t_test(left, right, floor_var=0.0):
    """(t, p) of a pooled two-sample t-test, its variance at least FLOOR_VAR."""
    m, k = len(left), len(right)
    ml, mr = sum(left) / m, sum(right) / k
    df = m + k - 2
    ss = sum((x - ml) ** 2 for x in left) + sum((x - mr) ** 2 for x in right)
    var = max(ss / df if df > 0 else 0.0, floor_var)
    if df < 1:
        return 0.0, 1.0
    if var <= 0.0:
        return (math.inf, 0.0) if mr != ml else (0.0, 1.0)
    t = (mr - ml) / math.sqrt(var * (1.0 / m + 1.0 / k))
    return t, t_sf2(abs(t), df)


def change_points(xs, se=None, p_max=0.001, min_size=2, min_change=0.0):
    """Change points of series XS (a list of numbers), each a dict: index
    (where the new level starts), before and after (the means of the
    segments either side, up to the neighbouring change points), t, p.

    As Hunter does: first every candidate, splitting each segment where the
    energy statistic is largest until a segment is shorter than twice
    MIN_SIZE; then, again and again, each candidate is tested against its
    neighbouring segments and the weakest (the largest p, or a step below
    MIN_CHANGE) dropped, until every one left is significant. Testing a
    candidate only against its neighbours lets two steps that undo each
    other both be found. SE: each point's standard error, whose mean square
    bounds the t-test's variance from below."""
    se = se or [0.0] * len(xs)
    cands = []

    def split(lo, hi):
        best = None
        for tau in range(lo + min_size, hi - min_size + 1):
            q = energy(xs[lo:tau], xs[tau:hi])
            if best is None or q > best[0]:
                best = (q, tau)
        if best is not None:
            cands.append(best[1])
            split(lo, best[1])
            split(best[1], hi)

    split(0, len(xs))
    cands.sort()

    def test(k):
        lo = cands[k - 1] if k > 0 else 0
        hi = cands[k + 1] if k + 1 < len(cands) else len(xs)
        left, right = xs[lo:cands[k]], xs[cands[k]:hi]
        floor = sum(s * s for s in se[lo:hi]) / (hi - lo)
        t, p = t_test(left, right, floor)
        before, after = sum(left) / len(left), sum(right) / len(right)
        weak = p >= p_max or abs(after - before) <= min_change
        return {"index": cands[k], "before": before, "after": after, "t": t, "p": p,
                "weak": weak}

    while cands:
        tests = [test(k) for k in range(len(cands))]
        weak = [c for c in tests if c["weak"]]
        if not weak:
            return [{k: v for k, v in c.items() if k != "weak"} for c in tests]
        cands.remove(max(weak, key=lambda c: c["p"])["index"])
    return []


# --- sets ----------------------------------------------------------------------

def kind_of(res):
    """The machine kind of a set: what a runner is (env.json cpu_model,
    cores, arch, host), as one label; "unknown machine (no env.json)"
    without any of them."""
    env = res["env"]
    parts = [env.get("cpu_model"), f"{env['cores']} cores" if env.get("cores") else None,
             env.get("arch"), env.get("host")]
    parts = [str(p) for p in parts if p not in (None, "")]
    return ", ".join(parts) if parts else "unknown machine (no env.json)"


def load_sets(paths, resamples, progress=None):
    """([(side, analysis)] of PATHS that hold costs, ordered by when they
    were made; [(path, why)] of those skipped). A collection counts as its
    members."""
    out, skipped = [], []
    todo = list(paths)
    k = 0
    while todo:
        p = todo.pop(0)
        k += 1
        try:
            side = sets_.load(p)
        except rs.ResultsError as e:
            skipped.append((p, str(e)))
            continue
        if side["kinds"] == ["collection"]:
            todo = [m for _, m in side["members"]] + todo
            continue
        if not {"run", "startup"} & set(side["kinds"]):
            skipped.append((p, f"{sets_.describe(side['kinds'])}: no cost series"))
            continue
        try:
            analysis = rs.analysed(side["res"], resamples)[0] if "run" in side["kinds"] \
                else {"groups": []}
        except rs.ResultsError as e:
            skipped.append((p, str(e)))
            continue
        out.append((side, analysis))
        if progress:
            progress(k, k + len(todo))
    out.sort(key=lambda sa: (sets_.created(sa[0]) or "", sa[0]["path"]))
    return out, skipped


def _point(c):
    """(log cost, its standard error) of comparison C, or None."""
    if not (c["ratio"] > 0 and c["lo"] > 0 and c["hi"] > 0) or cmp.why_not(c):
        return None
    return math.log(c["ratio"]), (math.log(c["hi"]) - math.log(c["lo"])) / (2 * 1.96)


def series(sets, metric):
    """{(server, mode, variant, metric): [(set index, log cost, standard
    error)]}: run sets' costs of METRIC, start-up sets' start-up costs."""
    out = {}
    for i, (side, analysis) in enumerate(sets):
        info = analysis.get("info") or rs.variant_info(side["res"])
        for g in analysis["groups"]:
            for r in g["rows"]:
                c = r["cmp"].get(metric)
                if not c or (info.get(r["variant"]) or {}).get("role") == "aa":
                    continue
                pt = _point(c)
                if pt:
                    out.setdefault((g["server"], g["mode"], r["variant"], metric), []).append(
                        (i,) + pt)
        gates = {m for ms in cmp.STARTUP_GATE.values() for m in ms}
        aa = {v for v, d in rs.variant_info(side["res"]).items() if d["role"] == "aa"}
        for (vid, mode), ms in cmp.startup_costs(side.get("startup")).items():
            for m, c in ms.items():
                pt = _point(c) if m in gates and vid not in aa else None
                if pt:
                    out.setdefault((VariantId.parse(vid).server, mode, vid, m), []).append((i,) + pt)
    return out


def what_changed(a, b):
    """What differs between the sets A (before) and B (at the step)."""
    out = []
    for k in CHANGE_KEYS:
        va, vb = a["env"].get(k), b["env"].get(k)
        if va != vb:
            out.append(f"{k} {va} -> {vb}")
    ca, cb = a["spec"].get("commit"), b["spec"].get("commit")
    if ca != cb:
        out.append(f"commit {ca} -> {cb}")
    return out


def trend(sets, metric="cpu_ns_per_req", p_max=0.001, min_size=2, min_change=0.01,
          skipped=()):
    """The trend of loaded SETS [(side, analysis)] per machine kind. A kind
    (and a series) with fewer than 2 * MIN_SIZE sets cannot have a change
    point: it says so ("too_few") rather than that there is none."""
    kinds = {}
    for sa in sets:
        kinds.setdefault(kind_of(sa[0]["res"]), []).append(sa)
    out = {"schema": SCHEMA, "metric": metric, "p": p_max, "min_sets": min_size,
           "min_change": min_change, "kinds": [],
           "skipped": [{"path": p, "why": why} for p, why in skipped]}
    for kind, members in kinds.items():
        k = {"kind": kind, "sets": [{"path": s["path"], "created": sets_.created(s),
                                     "kernel": s["res"]["env"].get("kernel"),
                                     "systemd": s["res"]["env"].get("systemd"),
                                     "commit": s["res"]["spec"].get("commit")
                                     or (s.get("startup_spec") or {}).get("commit")}
                                    for s, _ in members],
             "series": 0, "tested": 0, "changes": [],
             "too_few": len(members) < 2 * min_size}
        for (server, mode, vid, m), pts in sorted(series(members, metric).items()):
            k["series"] += 1
            if len(pts) < 2 * min_size:
                continue
            k["tested"] += 1
            xs = [x for _, x, _ in pts]
            for c in change_points(xs, [s for _, _, s in pts], p_max, min_size,
                                   math.log1p(min_change)):
                at = pts[c["index"]][0]
                res_at, res_before = members[at][0]["res"], \
                    members[pts[c["index"] - 1][0]][0]["res"]
                k["changes"].append({
                    "server": server, "mode": mode, "variant": vid, "metric": m,
                    "set": members[at][0]["path"],
                    "set_before": members[pts[c["index"] - 1][0]][0]["path"],
                    "before": math.exp(c["before"]), "after": math.exp(c["after"]),
                    "t": c["t"], "p": c["p"], "points": len(xs),
                    "changed": what_changed(res_before, res_at)})
        out["kinds"].append(k)
    return out


def called(t):
    """Whether any series had sets enough to call a change point."""
    return any(k["tested"] for k in t["kinds"])


def render_text(t):
    lines = [f"skipped {x['path']}: {x['why']}" for x in t["skipped"]]
    need = 2 * t["min_sets"]
    for k in t["kinds"]:
        lines.append(f"machine kind: {k['kind']}: {len(k['sets'])} set(s), {k['series']} "
                     f"series of costs ({t['metric']} of run sets, start-up of start-up sets)")
        for s in k["sets"]:
            lines.append(f"  {s['created']}  {s['path']}  kernel {s['kernel']}, commit "
                         f"{s['commit']}")
        for c in k["changes"]:
            lines.append(f"CHANGE: {c['variant']} {c['mode']} cost {st.pct(c['before'])} -> "
                         f"{st.pct(c['after'])} at {c['set']} (p {c['p']:.2g}, {c['points']} "
                         f"sets)" + (": " + ", ".join(c["changed"]) if c["changed"] else ""))
        if k["too_few"] or not k["tested"]:
            lines.append(f"  too few sets to call a change point: a series needs at least "
                         f"{need} (2 x --min-sets {t['min_sets']}), "
                         + (f"this kind has {len(k['sets'])}" if k["too_few"] else
                            "none has that many"))
        elif not k["changes"]:
            lines.append(f"  no cost stepped ({k['tested']} of {k['series']} series had "
                         f"{need} sets or more)")
    n = sum(len(k["changes"]) for k in t["kinds"])
    lines.append(f"{n} change point(s)" if n else "no change point" if called(t) else
                 "nothing could be called: too few sets")
    return lines
