"""summary.json and summary.csv of a run: made from the one analysis."""
import sys

from sblib.analysis import results as rs


def write_summary(res, spec, variants):
    """summary.json and summary.csv from the analysis the report makes
    (sblib.analysis.results); returns (rows, aa, (results, analysis)), the
    last None when nothing could be analysed, so the report is written from
    this one analysis."""
    if not res.runs.closed:
        res.runs.flush()
    try:
        data = rs.load(res.path)
        analysis = rs.analyse(data)
    except rs.ResultsError as e:
        print(f"sandbench run: cannot analyse {res.path}: {e}", file=sys.stderr)
        return [], [], None
    rows = rs.summary(data, analysis)
    aa = rs.summary_aa(analysis)
    res.write("summary.json", {"schema": "sandbench-summary/2", "rows": rows, "aa": aa,
                               "status": {k: v.get("status") for k, v in variants.items()}})
    cols = ["variant", "server", "mode", "role", "n", "startup_ms"]
    for m in rs.SUMMARY_METRICS:
        cols += [m, f"{m}_method", f"{m}_change", f"{m}_lo", f"{m}_hi", f"{m}_verdict"]
    lines = [",".join(cols)]
    for r in rows:
        lines.append(",".join("" if r.get(c) is None else
                              (f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c]))
                              for c in cols))
    res.write_text("summary.csv", "\n".join(lines) + "\n")
    return rows, aa, (data, analysis)
