"""summary.json and summary.csv of a run (results/README.md): per server,
mode and variant each metric's centre and its change against the baseline,
made from the one analysis (analyse.py) so that they say what the report
says; and the table `sandbench run` prints of them."""
import sys

from sblib.analysis.analyse import analyse
from sblib.analysis.calibration import calibration
from sblib.analysis import stats as st
from sblib.analysis.slices import isolated, samples
from sblib.records import schema, store
from sblib.records import windows as win
from sblib.records.model import ResultsError

SUMMARY_METRICS = ("cpu_ns_per_req", win.SENDER, "rps", "p50", "p99")
# the two parts of what a directive costs in CPU per request: the server's
# cgroup and the sender (on loopback the server's ingress softirq runs in
# the load generator), each "<metric>_delta" in ns with its interval, and
# their sum "cpu_total_delta"
CPU_PARTS = ("cpu_ns_per_req", win.SENDER)


def delta_ns(c):
    """(change, lo, hi) in ns per request of one compare() result C: the
    baseline's level times the ratio's change and its interval's ends;
    None where C carries no cost (st.why_not) or has no level."""
    if not c or st.why_not(c) or not isinstance(c.get("base"), (int, float)):
        return None
    return tuple(c["base"] * (c[k] - 1.0) for k in ("ratio", "lo", "hi"))


def cpu_parts(cmp):
    """{"server": delta_ns or None, "sender": delta_ns or None, "total": the
    sum of the two changes in ns, or None unless both have one} of one
    row's comparisons CMP ({metric: compare() result})."""
    server, sender = (delta_ns(cmp.get(m)) for m in CPU_PARTS)
    return {"server": server, "sender": sender,
            "total": server[0] + sender[0] if server and sender else None}
# where costs come from duet windows: each variant's level alone (its
# isolated slices, one instance loaded at a time), as "<metric>_alone"
ALONE_METRICS = ("rps", "p50", "p99")


def summary(res, analysis):
    """The rows `sandbench run` prints and writes to summary.json/.csv, from
    ANALYSIS (analyse(res)), so they say what the report says: per server,
    mode and variant (its baseline first) each metric's centre, its change
    against the baseline with the 95% interval and verdict, and the method
    that measured it ("duet" windows or "isolated" slices); no change from
    fewer than 3 samples or a zero-width interval ("<metric>_why" says
    which). In windowed groups "<metric>_alone" is the variant's absolute
    level from its isolated slices (no change is taken from it)."""
    rows = []
    info = analysis["info"]
    for g in analysis["groups"]:
        if g["baseline"] is None:
            continue
        base = {"variant": g["baseline"], "server": g["server"], "mode": g["mode"],
                "role": "baseline", "n": None}
        for m in SUMMARY_METRICS:
            base[m] = g["base_levels"].get(m)
            base[m + "_method"] = g["methods"].get(m)
        base["startup_ms"] = (res["variants"].get(g["baseline"]) or {}).get("startup_ms")
        base["n"] = len(samples(res, g["baseline"], g["mode"], "cpu_ns_per_req"))
        _alone(res, g, base)
        rows.append(base)
        for r in g["rows"]:
            row = {"variant": r["variant"], "server": g["server"], "mode": g["mode"],
                   "role": (info.get(r["variant"]) or {}).get("role"), "n": r["n"],
                   "startup_ms": (res["variants"].get(r["variant"]) or {}).get("startup_ms")}
            for m in SUMMARY_METRICS:
                c = r["cmp"].get(m)
                row[m + "_method"] = g["methods"].get(m)
                if not c:
                    continue
                row[m] = c["new"]
                row[m + "_n"] = c["n_new"]
                why = st.why_not(c)
                if why:
                    row[m + "_why"] = why
                    continue
                row[m + "_change"] = c["ratio"] - 1.0
                row[m + "_lo"] = c["lo"] - 1.0
                row[m + "_hi"] = c["hi"] - 1.0
                row[m + "_verdict"] = c.get("verdict")
            parts = cpu_parts(r["cmp"])
            for m, part in zip(CPU_PARTS, (parts["server"], parts["sender"])):
                if part:
                    row[m + "_delta"], row[m + "_delta_lo"], row[m + "_delta_hi"] = part
            row["cpu_total_delta"] = parts["total"]
            _alone(res, g, row)
            rows.append(row)
    return rows


def _alone(res, g, row):
    """ROW's "<metric>_alone" levels where G's costs come from windows."""
    if (g.get("methods") or {}).get("cpu_ns_per_req") != "duet":
        return
    for m in ALONE_METRICS:
        xs = [v for _, v in isolated(res, row["variant"], g["mode"], m)]
        row[m + "_alone"] = st.center(xs) if xs else None


def summary_aa(analysis):
    """Per server and mode the A/A control's noise floor on CPU per request
    (a fraction: the furthest end of its interval from no change), and on
    every metric ("floors"), with the methods that measured them."""
    return [{"server": g["server"], "mode": g["mode"], "aa": g["aa"], "floor": g["floor"],
             "method": g["methods"].get("cpu_ns_per_req"), "floors": dict(g.get("floors") or {}),
             "methods": dict(g.get("methods") or {})}
            for g in analysis["groups"] if g["baseline"] is not None]


def _pct(x):
    return "-" if x is None else f"{x * 100:+.1f}%"


def _num(x):
    return "-" if x is None else f"{x:,.0f}"


def _sender(r):
    """A row's sender part: the baseline's level, else its change (* above the noise)."""
    if r["role"] == "baseline":
        return _num(r.get(win.SENDER))
    sig = "*" if r.get(win.SENDER + "_verdict") in ("worse", "better") else ""
    return _pct(r.get(win.SENDER + "_change")) + sig


def summary_table(rows, status=None):
    """summary()'s rows as text lines: CPU per request with its change and
    interval (* where the change is above the noise), the sender part's
    change (the baseline: its level), req/s, p50 and p99
    with their changes ("-" where none can be shown: fewer than 3 samples
    or no interval); a variant that never ran shows its status."""
    status = status or {}
    head = (f"{'variant':<44} {'mode':<9} {'n':>3} {'CPU ns/req':>10} {'change':>8} "
            f"{'95% interval':>17} {'sender':>8} {'req/s':>9} {'change':>7} {'p50':>7} "
            f"{'p99 us':>8} {'change':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        state = status.get(r["variant"], "ok")
        if state != "ok" and not r.get("n"):
            lines.append(f"{r['variant']:<44} {r['mode']:<9}  {state.upper()}")
            continue
        base = r["role"] == "baseline"
        iv = "" if r.get("cpu_ns_per_req_lo") is None else \
            f"[{_pct(r['cpu_ns_per_req_lo'])}, {_pct(r['cpu_ns_per_req_hi'])}]"
        sig = "*" if r.get("cpu_ns_per_req_verdict") in ("worse", "better") else " "
        cpu_ch = "base" if base else _pct(r.get("cpu_ns_per_req_change"))
        lines.append(
            f"{r['variant']:<44} {r['mode']:<9} {r.get('n') or 0:>3} "
            f"{_num(r.get('cpu_ns_per_req')):>10} {cpu_ch:>7}{sig} {iv:>17} "
            f"{_sender(r):>8} "
            f"{_num(r.get('rps')):>9} {'' if base else _pct(r.get('rps_change')):>7} "
            f"{'' if base else _pct(r.get('p50_change')):>7} "
            f"{_num(r.get('p99')):>8} {'' if base else _pct(r.get('p99_change')):>7}")
    return lines


def write_summary(res, spec, variants):
    """summary.json and summary.csv of RES (a records.writer.Results) from
    the analysis the report makes; returns (rows, aa, (results, analysis)),
    the last None when nothing could be analysed, so the report is written
    from this one analysis."""
    if not res.runs.closed:
        res.runs.flush()
    try:
        data = store.load(res.path)
        analysis = analyse(data)
    except ResultsError as e:
        print(f"sandbench run: cannot analyse {res.path}: {e}", file=sys.stderr)
        return [], [], None
    rows = summary(data, analysis)
    aa = summary_aa(analysis)
    res.write("summary.json", {"schema": schema.tag("summary"), "rows": rows, "aa": aa,
                               "calibration": calibration(data, analysis),
                               "status": {k: v.get("status") for k, v in variants.items()}})
    cols = ["variant", "server", "mode", "role", "n", "startup_ms"]
    for m in SUMMARY_METRICS:
        cols += [m, f"{m}_method", f"{m}_change", f"{m}_lo", f"{m}_hi", f"{m}_verdict"]
    for m in CPU_PARTS:
        cols += [f"{m}_delta", f"{m}_delta_lo", f"{m}_delta_hi"]
    cols.append("cpu_total_delta")
    cols += [f"{m}_alone" for m in ALONE_METRICS]
    lines = [",".join(cols)]
    for r in rows:
        lines.append(",".join("" if r.get(c) is None else
                              (f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c]))
                              for c in cols))
    res.write_text("summary.csv", "\n".join(lines) + "\n")
    return rows, aa, (data, analysis)
