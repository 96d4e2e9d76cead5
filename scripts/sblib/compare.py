"""sandbench compare BASE NEW [--threshold PCT]: the regression gate.

For every variant and mode present in both results directories, and every
metric, a benchstat-style line: both centres (interquartile means, see
_stats), the ratio new/base with its 95% bootstrap interval, the p-value and
a verdict. Two kinds of line:
  - absolute figures (CPU per request, req/s, latency, start-up) of each variant;
  - the cost of each directive (variant / same run's baseline) and how it moved
    between the runs (a ratio of ratios), which cancels machine drift between
    the two runs.
Exit 0 when nothing regressed significantly by more than the threshold,
1 when something did (exposure that rose and a variant that stopped working
count too), 2 on bad input.
"""
import argparse
import json
import sys

from . import _results as rs
from . import _stats as st

HELP = "compare two results directories, benchstat style; exit 1 on a regression (the CI gate)"

COST_METRICS = ["cpu_ns_per_req", "rps"]
EXPOSURE_EPS = 0.05


def _fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e4:
        return f"{v / 1e3:.1f}k"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def _samples(res, vid, mode, metric):
    if metric == "startup_ms":
        return rs.startup_samples(res, vid)
    return [v for _, v in rs.samples(res, vid, mode, metric)]


def compare_dirs(a, b, threshold=0.05, metrics=None, resamples=st.RESAMPLES, costs_only=False):
    """Compare two loaded results (rs.load). Returns a dict:

    rows: [{kind: "metric"|"cost"|"exposure"|"status", variant, mode, metric,
            base, new, ratio, lo, hi, p, significant, verdict, regression, gate}]
    regressions: the rows with regression True and gate True.
    metrics: the metric keys that gate (default: all).
    costs_only: absolute figures do not gate, only directive costs, exposure and
    compatibility (these are immune to the machine running faster or slower
    between the two runs).
    """
    all_metrics = [m for m, _, _ in rs.METRICS] + ["startup_ms"]
    gate = set(metrics) if metrics else set(all_metrics)
    seed = rs.seed_of(b)
    ia, ib = rs.variant_info(a), rs.variant_info(b)
    common = [v for v in ia if v in ib]
    modes = [m for m in rs.modes(a) if m in rs.modes(b)]
    rows = []

    def add(row):
        row.setdefault("gate", True)
        row["regression"] = bool(row.get("regression"))
        rows.append(row)

    for vid in common:
        sa = (a["variants"].get(vid) or {}).get("status")
        sb = (b["variants"].get(vid) or {}).get("status")
        if sa or sb:
            add({"kind": "status", "variant": vid, "mode": "-", "metric": "status",
                 "base": sa, "new": sb, "regression": sa == "ok" and sb not in (None, "ok"),
                 "verdict": "same" if sa == sb else f"{sa} -> {sb}"})
        ea, eb = rs.exposure(a, vid), rs.exposure(b, vid)
        if ea is not None and eb is not None:
            rose = eb > ea + EXPOSURE_EPS
            add({"kind": "exposure", "variant": vid, "mode": "-", "metric": "exposure",
                 "base": ea, "new": eb, "regression": rose,
                 "verdict": "worse" if rose else ("better" if eb < ea - EXPOSURE_EPS else "~")})
        for mode in modes:
            for m in all_metrics:
                if m == "startup_ms" and mode != modes[0]:
                    continue
                xa, xb = _samples(a, vid, mode, m), _samples(b, vid, mode, m)
                if not xa or not xb:
                    continue
                c = st.compare(xa, xb, st.derive_seed(seed, "cmp", vid, mode, m),
                               resamples=resamples)
                c["verdict"] = st.verdict(m, c, threshold)
                c.update({"kind": "metric", "variant": vid,
                          "mode": mode if m != "startup_ms" else "-", "metric": m,
                          "regression": c["verdict"] == "worse",
                          "gate": m in gate and not costs_only})
                add(c)
    # the cost of each directive, and how it moved
    for vid in common:
        d = ib[vid]
        if d["role"] == "baseline":
            continue
        base_a = next((x["id"] for x in ia.values()
                       if x["server"] == d["server"] and x["role"] == "baseline"), None)
        base_b = next((x["id"] for x in ib.values()
                       if x["server"] == d["server"] and x["role"] == "baseline"), None)
        if not base_a or not base_b:
            continue
        for mode in modes:
            for m in COST_METRICS:
                b0, n0 = rs.samples(a, base_a, mode, m), rs.samples(a, vid, mode, m)
                b1, n1 = rs.samples(b, base_b, mode, m), rs.samples(b, vid, mode, m)
                if not (b0 and n0 and b1 and n1):
                    continue
                s0 = rs.comparison(a, d["server"], mode, m, b0, n0)
                s1 = rs.comparison(b, d["server"], mode, m, b1, n1)
                ratio, lo, hi = st.bootstrap_ratio_of_ratios(
                    s0, s1, st.derive_seed(seed, "cost", vid, mode, m), resamples=resamples)
                c = {"kind": "cost", "variant": vid, "mode": mode, "metric": m,
                     "base": st.cost_of(s0), "new": st.cost_of(s1),
                     "ratio": ratio, "lo": lo, "hi": hi, "p": None,
                     "significant": lo > 1.0 or hi < 1.0}
                c["verdict"] = st.verdict(m, c, threshold)
                c["regression"] = c["verdict"] == "worse"
                c["gate"] = m in gate
                add(c)
    regressions = [r for r in rows if r["regression"] and r["gate"]]
    fa, fb = rs.noise_floors(a, resamples=resamples), rs.noise_floors(b, resamples=resamples)
    floors = [{"server": k[0], "mode": k[1], "base": fa.get(k), "new": fb.get(k)}
              for k in fb if k in fa]
    return {"rows": rows, "regressions": regressions, "threshold": threshold, "floors": floors,
            "only_base": [v for v in ia if v not in ib],
            "only_new": [v for v in ib if v not in ia]}


LABELS = {m: f"{lab} ({unit})" for m, lab, unit in rs.METRICS}
LABELS["startup_ms"] = "start-up (ms)"


def format_table(result):
    """The comparison as fixed-width text lines."""
    lines = []
    fl = [f"{f['server']}/{f['mode']} " + "/".join(
        f"±{v * 100:.1f}%" if v is not None else "-" for v in (f["base"], f["new"]))
        for f in result.get("floors", [])]
    if fl:
        lines.append("noise floor (A/A control, CPU per request), BASE/NEW: " + ", ".join(fl))
        lines.append("")
    head = (f"{'variant':<34} {'mode':<10} {'metric':<22} {'base':>9} {'new':>9} "
            f"{'change':>8} {'95% interval':<19} {'p':>6}  verdict")
    kinds = [("status", "compatibility"), ("exposure", "exposure (systemd-analyze security)"),
             ("metric", "figures of each variant (new vs base)"),
             ("cost", "cost of each directive vs its baseline (new cost / base cost)")]
    for kind, title in kinds:
        rows = [r for r in result["rows"] if r["kind"] == kind]
        if kind == "status":
            same = [r for r in rows if r["base"] == r["new"]]
            rows = [r for r in rows if r["base"] != r["new"]]
            if same:
                lines.append(f"compatibility unchanged for {len(same)} variant(s)")
        if not rows:
            continue
        lines.append(f"## {title}")
        lines.append(head)
        for r in rows:
            metric = r["metric"] if kind != "cost" else "cost " + r["metric"]
            label = LABELS.get(r["metric"], metric) if kind == "metric" else metric
            if kind in ("status",):
                ch = iv = p = ""
                base, new = str(r["base"]), str(r["new"])
            elif kind == "exposure":
                ch, iv, p = f"{r['new'] - r['base']:+.1f}", "", ""
                base, new = f"{r['base']:.1f}", f"{r['new']:.1f}"
            else:
                ch, iv = st.pct(r["ratio"]), st.interval(r["lo"], r["hi"])
                p = f"{r['p']:.3f}" if r.get("p") is not None else "-"
                if kind == "cost":
                    base, new = st.pct(r["base"]), st.pct(r["new"])
                else:
                    base, new = _fmt(r["base"]), _fmt(r["new"])
            verdict = r["verdict"]
            if r["regression"]:
                verdict += "  REGRESSION" if r["gate"] else "  (not gated)"
            lines.append(f"{r['variant']:<34} {r['mode']:<10} {label:<22} {base:>9} "
                         f"{new:>9} {ch:>8} {iv:<19} {p:>6}  {verdict}")
        lines.append("")
    if result["only_base"]:
        lines.append("only in BASE: " + ", ".join(result["only_base"]))
    if result["only_new"]:
        lines.append("only in NEW: " + ", ".join(result["only_new"]))
    n = len(result["regressions"])
    for r in result["regressions"]:
        what = ("cost " if r["kind"] == "cost" else "") + LABELS.get(r["metric"], r["metric"])
        if r["kind"] in ("metric", "cost"):
            how = f"{st.pct(r['ratio'])} {st.interval(r['lo'], r['hi'])}"
        else:
            how = f"{r['base']} -> {r['new']}"
        lines.append(f"REGRESSION: {r['variant']} {r['mode']} {what}: {how}")
    lines.append(f"threshold {result['threshold'] * 100:g}%: "
                 + (f"{n} regression(s)" if n else "no regression"))
    return lines


def parse_args(argv):
    p = argparse.ArgumentParser(prog="sandbench compare", description=HELP,
                                epilog="exit 0: no regression, 1: regression, 2: bad input")
    p.add_argument("base", metavar="BASE", help="results directory of the reference run")
    p.add_argument("new", metavar="NEW", help="results directory of the run under test")
    p.add_argument("--threshold", type=float, default=5.0, metavar="PCT",
                   help="smallest significant change that counts as a regression (default 5)")
    p.add_argument("--metrics", metavar="M,M",
                   help="gate only on these metrics (default all): "
                        + ",".join([m for m, _, _ in rs.METRICS] + ["startup_ms"]))
    p.add_argument("--costs-only", action="store_true",
                   help="gate only on directive costs (variant / its baseline), exposure and "
                        "compatibility, not on absolute figures, which move with the machine")
    p.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    p.add_argument("--resamples", type=int, default=st.RESAMPLES, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv):
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    if not 0 <= args.threshold < 1000:
        print("sandbench compare: --threshold must be a percentage >= 0", file=sys.stderr)
        return 2
    metrics = None
    if args.metrics:
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
        known = {m for m, _, _ in rs.METRICS} | {"startup_ms"}
        bad = [m for m in metrics if m not in known]
        if bad:
            print(f"sandbench compare: unknown metric(s) {', '.join(bad)}; valid: "
                  + ", ".join(sorted(known)), file=sys.stderr)
            return 2
    try:
        a, b = rs.load(args.base), rs.load(args.new)
    except rs.ResultsError as e:
        print(f"sandbench compare: {e}", file=sys.stderr)
        return 2
    result = compare_dirs(a, b, args.threshold / 100.0, metrics, args.resamples,
                          args.costs_only)
    if not any(r["kind"] in ("metric", "cost") for r in result["rows"]):
        print("sandbench compare: no variant and mode with measurements in both directories",
              file=sys.stderr)
        return 2
    rs.emit("\n".join(format_table(result)))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1, default=str)
    return 1 if result["regressions"] else 0
