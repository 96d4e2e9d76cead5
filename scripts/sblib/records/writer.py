"""The results directory as a run writes it (results/README.md): JSON
files written whole or not at all (util.write_atomic), the append-only
runs.jsonl, status.json, and summary.json/.csv made from the one analysis
(sblib.analysis.summary). Used by `run` and `merge`; no container or
systemd code here."""
import datetime
import json
import os

from sblib.records import status
from sblib.util import write_atomic


class Results:
    """The results directory: atomic JSON files and the append-only runs.jsonl."""

    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)
        self.runs = open(os.path.join(path, "runs.jsonl"), "a")
        self.done = 0
        self.planned = 0

    def write(self, name, obj):
        self.write_text(name, json.dumps(obj, indent=1) + "\n")

    def write_text(self, name, text):
        write_atomic(os.path.join(self.path, name), text)

    def status(self, state):
        self.write("status.json", {"state": state, "runs_done": self.done,
                                   "runs_planned": self.planned, "updated": now_iso(),
                                   "writer": status.writer_id()})

    def add_run(self, rec):
        """Appends one record to runs.jsonl, on disk when this returns."""
        self.add_runs([rec])

    def add_runs(self, recs):
        """Appends RECS to runs.jsonl, one line each, on disk when this returns."""
        self.runs.writelines(json.dumps(r) + "\n" for r in recs)
        self.runs.flush()
        os.fsync(self.runs.fileno())
        self.done += len(recs)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
