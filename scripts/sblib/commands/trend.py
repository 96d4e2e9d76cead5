"""sandbench trend SET...: directive costs over time, and where they stepped.

A CI matrix gives one results directory per machine kind per pipeline; this
reads any number of them. Sets are grouped by machine kind (env.json
cpu_model, cores, arch and host: what a runner is; the kernel, systemd and
the code under test are what changes over time, so they are not part of
it) and ordered by time (spec.json "created"). Per kind, server, mode,
directive and metric, each set's cost (variant / the same set's baseline,
from the set's own analysis, as its report shows it) makes one point of a
series, and the series' change points are found in the spirit of Hunter
(Apache Otava): E-Divisive means with a Student's t-test.

  1. Candidates: of every split of a segment (at least --min-sets points
     each side), the one with the largest energy statistic (Matteson and
     James 2014, alpha = 1): (m k / (m + k)) (2 E|x - y| - E|x - x'| -
     E|y - y'|), x on one side, y on the other; then the same on both
     sides, down to the shortest segments.
  2. Each candidate is tested against the segments either side of it (up
     to its neighbouring candidates) with a two-sample t-test (pooled
     variance); the weakest, p >= --p (default 0.001) or a step below
     --min-change (default 1%), is dropped, and the rest tested again,
     until every candidate left is significant. Each set knows its own
     precision (its interval), so the pooled variance is never taken below
     the sets' mean squared standard error: a step smaller than what one
     set can tell is not called when a few sets happen to agree closely.
Points are log costs, so a step is relative. A change point is named with
the set where the new level starts and what changed between it and the set
before (kernel, systemd, OpenSSL, nginx, the commit).

Exit 0 when no cost stepped, 1 when some did, 2 on bad input.
"""
import argparse
import json
import math
import sys

from sblib.analysis import results as rs
from sblib.analysis import stats as st

HELP = "directive costs across many results directories over time, and their change points"
SCHEMA = "sandbench-trend/1"
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
    return " ".join(str(res["env"].get(k)) for k in KIND_KEYS)


def load_sets(paths, resamples, progress):
    """[(res, analysis)] of PATHS, ordered by spec.json "created"."""
    out = []
    for k, p in enumerate(paths):
        res = rs.load(p)
        analysis, _ = rs.analysed(res, resamples)
        out.append((res, analysis))
        progress(k + 1, len(paths))
    return sorted(out, key=lambda ra: (str(ra[0]["spec"].get("created") or ""),
                                       ra[0]["path"]))


def series(sets, metric):
    """{(server, mode, variant): [(set index, log cost, its standard error)]}."""
    out = {}
    for i, (res, analysis) in enumerate(sets):
        info = analysis["info"]
        for g in analysis["groups"]:
            for r in g["rows"]:
                c = r["cmp"].get(metric)
                if not c or (info.get(r["variant"]) or {}).get("role") == "aa":
                    continue
                if not (c["ratio"] > 0 and c["lo"] > 0 and c["hi"] > 0):
                    continue
                se = (math.log(c["hi"]) - math.log(c["lo"])) / (2 * 1.96)
                out.setdefault((g["server"], g["mode"], r["variant"]), []).append(
                    (i, math.log(c["ratio"]), se))
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


def trend(sets, metric="cpu_ns_per_req", p_max=0.001, min_size=2, min_change=0.01):
    """The trend of loaded SETS [(res, analysis)] per machine kind."""
    kinds = {}
    for ra in sets:
        kinds.setdefault(kind_of(ra[0]), []).append(ra)
    out = {"schema": SCHEMA, "metric": metric, "p": p_max, "min_sets": min_size,
           "min_change": min_change, "kinds": []}
    for kind, members in kinds.items():
        k = {"kind": kind, "sets": [{"path": r["path"], "created": r["spec"].get("created"),
                                     "kernel": r["env"].get("kernel"),
                                     "systemd": r["env"].get("systemd"),
                                     "commit": r["spec"].get("commit")} for r, _ in members],
             "series": 0, "changes": []}
        for (server, mode, vid), pts in sorted(series(members, metric).items()):
            k["series"] += 1
            xs = [x for _, x, _ in pts]
            for c in change_points(xs, [s for _, _, s in pts], p_max, min_size,
                                   math.log1p(min_change)):
                at = pts[c["index"]][0]
                res_at, res_before = members[at][0], members[pts[c["index"] - 1][0]][0]
                k["changes"].append({
                    "server": server, "mode": mode, "variant": vid, "metric": metric,
                    "set": res_at["path"], "set_before": res_before["path"],
                    "before": math.exp(c["before"]), "after": math.exp(c["after"]),
                    "t": c["t"], "p": c["p"], "points": len(xs),
                    "changed": what_changed(res_before, res_at)})
        out["kinds"].append(k)
    return out


def render_text(t):
    lines = []
    for k in t["kinds"]:
        lines.append(f"machine kind: {k['kind']}: {len(k['sets'])} set(s), {k['series']} "
                     f"series of {t['metric']} costs")
        for s in k["sets"]:
            lines.append(f"  {s['created']}  {s['path']}  kernel {s['kernel']}, commit "
                         f"{s['commit']}")
        for c in k["changes"]:
            lines.append(f"CHANGE: {c['variant']} {c['mode']} cost {st.pct(c['before'])} -> "
                         f"{st.pct(c['after'])} at {c['set']} (p {c['p']:.2g}, {c['points']} "
                         f"sets)" + (": " + ", ".join(c["changed"]) if c["changed"] else ""))
        if not k["changes"]:
            lines.append("  no cost stepped")
    n = sum(len(k["changes"]) for k in t["kinds"])
    lines.append(f"{n} change point(s)" if n else "no change point")
    return lines


def main(argv):
    p = argparse.ArgumentParser(prog="sandbench trend", description=HELP,
                                epilog="exit 0: no cost stepped; 1: some did (CHANGE lines); "
                                       "2: bad input")
    p.add_argument("sets", metavar="SET", nargs="+", help="results directories, any order")
    p.add_argument("--metric", default="cpu_ns_per_req", choices=["cpu_ns_per_req", "rps"],
                   help="whose cost (default cpu_ns_per_req)")
    p.add_argument("--p", type=float, default=0.001, dest="p_max",
                   help="t-test p-value below which a split is a change point (default 0.001)")
    p.add_argument("--min-sets", type=int, default=2,
                   help="sets on each side of a change point at least (default 2)")
    p.add_argument("--min-change", type=float, default=1.0, metavar="PCT",
                   help="smallest step named, in percent of the cost (default 1)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--resamples", type=int, default=st.RESAMPLES, help=argparse.SUPPRESS)
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    if not 0 < args.p_max < 1 or args.min_sets < 1 or args.min_change < 0:
        print("sandbench trend: want 0 < --p < 1, --min-sets >= 1, --min-change >= 0",
              file=sys.stderr)
        return 2
    tty = sys.stderr.isatty()

    def progress(done, total):
        if tty:
            sys.stderr.write(f"\rsandbench trend: reading sets: {done}/{total}\033[K"
                             + ("\r\033[K" if done == total else ""))
            sys.stderr.flush()
    try:
        sets = load_sets(args.sets, args.resamples, progress)
    except rs.ResultsError as e:
        print(f"sandbench trend: {e}", file=sys.stderr)
        return 2
    t = trend(sets, args.metric, args.p_max, args.min_sets, args.min_change / 100.0)
    if args.format == "json":
        rs.emit(json.dumps(t, indent=1, default=str))
    else:
        rs.emit("\n".join(render_text(t)))
    return 1 if any(k["changes"] for k in t["kinds"]) else 0
