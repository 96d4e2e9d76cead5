"""The results directory as a run writes it (results/README.md): JSON
files written whole or not at all (util.write_atomic), the append-only
runs.jsonl, status.json, and summary.json/.csv made from the one analysis
(sblib.analysis.summary). Used by `run` and `merge`; no container or
systemd code here."""
import datetime
import json
import os
import re

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
        self.more = {}      # further status.json fields (what is left, the resume command)

    def write(self, name, obj):
        self.write_text(name, json.dumps(obj, indent=1) + "\n")

    def write_text(self, name, text):
        write_atomic(os.path.join(self.path, name), text)

    def status(self, state):
        self.write("status.json", {"state": state, "runs_done": self.done,
                                   "runs_planned": self.planned, "updated": now_iso(),
                                   "writer": status.writer_id(), **self.more})

    def add_run(self, rec):
        """Appends one record to runs.jsonl, on disk when this returns."""
        self.add_runs([rec])

    def add_runs(self, recs):
        """Appends RECS to runs.jsonl, one line each, on disk when this
        returns. A kill while appending leaves a torn tail, which reopen()
        cuts off and readers leave out (store.read_runs); a write that fails
        (the disk full) is undone, the file cut back to where it ended, and
        raises OSError."""
        append_whole(self.runs.fileno(), "".join(json.dumps(r) + "\n" for r in recs).encode())
        self.done += len(recs)

    @classmethod
    def reopen(cls, path):
        """(Results, notes) of the interrupted run in PATH, to go on
        appending: what a kill left half-written is removed first
        (repair_tail, stale temporary files), each removal a note."""
        notes = remove_temporaries(path)
        kept, more = repair_tail(os.path.join(path, "runs.jsonl"))
        res = cls(path)
        res.done = kept
        return res, notes + more


def append_whole(fd, data):
    """Appends DATA to the file open (for appending) as FD, on disk when
    this returns; on an error (ENOSPC, EIO) what made it in is cut off
    again, so that the file ends where it did, and the error raised."""
    end = os.lseek(fd, 0, os.SEEK_END)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError:
        try:
            os.ftruncate(fd, end)
        except OSError:
            pass        # reopen() cuts a torn tail all the same
        raise


def repair_tail(runs_path):
    """Cuts off the end of RUNS_PATH that a kill left half-written: a last
    line without its newline, and the records of a last duet window whose
    partner's line is missing (a window is a pair, recorded together).
    Returns (records kept, notes)."""
    with open(runs_path, "rb") as f:
        data = f.read()
    notes = []
    end = data.rfind(b"\n") + 1
    if end < len(data):
        notes.append(f"{runs_path}: the last line was cut short ({len(data) - end} bytes, "
                     "the run was killed while writing it): removed")
    starts, pos = [], 0
    while pos < end:
        starts.append(pos)
        pos = data.index(b"\n", pos) + 1
    lines = [data[a:b] for a, b in zip(starts, starts[1:] + [end])]
    recs = [_parsed(ln) for ln in lines]
    n = len(recs)
    last = recs[-1].get("window") if recs else None
    if isinstance(last, int):
        k = n
        while k > 0 and recs[k - 1].get("window") == last:
            k -= 1
        if n - k < 1 + len(recs[-1].get("with") or []):
            notes.append(f"{runs_path}: window {last} has {n - k} of its records (the run was "
                         "killed while writing them): removed")
            n, end = k, starts[k] if k < len(starts) else end
    if end < len(data):
        with open(runs_path, "r+b") as f:
            f.truncate(end)
            os.fsync(f.fileno())
    return sum(1 for ln in lines[:n] if ln.strip()), notes


def _parsed(line):
    """A line's record, {} for a blank or damaged one (a reader says which)."""
    try:
        r = json.loads(line)
    except ValueError:
        return {}
    return r if isinstance(r, dict) else {}


# util.write_atomic's temporary files: "." NAME "." and mkstemp's 8 characters
_TEMPORARY = re.compile(r"^\.(.+)\.[a-z0-9_]{8}$")


def remove_temporaries(path):
    """Removes the temporary files of atomic writes a kill left in PATH;
    a note for each."""
    notes = []
    for fn in sorted(os.listdir(path)):
        m = _TEMPORARY.match(fn)
        if m and os.path.isfile(os.path.join(path, fn)):
            os.unlink(os.path.join(path, fn))
            notes.append(f"{os.path.join(path, fn)}: half-written copy of {m.group(1)} "
                         "(the run was killed while writing it): removed")
    return notes


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
