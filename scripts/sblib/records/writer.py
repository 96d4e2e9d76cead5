"""The results directory as a run writes it (results/README.md): atomic
JSON files, the append-only runs.jsonl, status.json, and summary.json/.csv
made from the one analysis (sblib.analysis.results). Used by `run` and `merge`; no
container or systemd code here."""
import datetime
import json
import os

from sblib.records import status


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
                                   "writer": status.writer_id()})

    def add_run(self, rec):
        self.runs.write(json.dumps(rec) + "\n")
        self.runs.flush()
        os.fsync(self.runs.fileno())
        self.done += 1


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
