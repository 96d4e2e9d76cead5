"""The results directory as a run writes it (results/README.md): atomic
JSON files, the append-only runs.jsonl, status.json, and summary.json/.csv
made from the one analysis (sblib._results). Used by `run` and `merge`; no
container or systemd code here."""
import datetime
import json
import os
import sys

from sblib import _results as rs


class Results:
    """The results directory: atomic JSON files and the append-only runs.jsonl."""

    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)
        self.runs = open(os.path.join(path, "runs.jsonl"), "a")
        self.done = 0
        self.planned = 0

    def write(self, name, obj):
        p = os.path.join(self.path, name)
        with open(p + ".tmp", "w") as f:
            json.dump(obj, f, indent=1, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(p + ".tmp", p)

    def write_text(self, name, text):
        p = os.path.join(self.path, name)
        with open(p + ".tmp", "w") as f:
            f.write(text)
        os.replace(p + ".tmp", p)

    def status(self, state):
        self.write("status.json", {"state": state, "runs_done": self.done,
                                   "runs_planned": self.planned, "updated": now_iso(),
                                   "writer": rs.writer_id()})

    def add_run(self, rec):
        self.runs.write(json.dumps(rec) + "\n")
        self.runs.flush()
        os.fsync(self.runs.fileno())
        self.done += 1


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_summary(res, spec, variants):
    """summary.json and summary.csv from the analysis the report makes
    (sblib._results), and the analysis itself (None when nothing was
    measured)."""
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
    return rows, aa, analysis
