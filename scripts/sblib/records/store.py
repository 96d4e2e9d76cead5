"""Reading a results directory (results/README.md): its JSON files, their
schema tags checked (schema.py), and runs.jsonl, every record checked
(model.run_problem). load() is where every command's reading starts;
writer.py writes what it reads.

What is read otherwise than it was written (a last line cut short, a
derived file made again) is said in a note on standard error; what cannot
be read is a ResultsError naming the file, and the line.
"""
import gzip
import hashlib
import json
import os
import sys
import zlib

from sblib import evidence as ev
from sblib.records import schema
from sblib.records import status as status_mod
from sblib.records.model import ResultsError, SchemaError, VariantId, run_problem

# a run appends runs.jsonl; a published set keeps it gzipped (sandbench publish)
RUNS_FILES = ("runs.jsonl", "runs.jsonl.gz")


def note(text):
    """Tells standard error what was read otherwise than it was written."""
    print(f"sandbench: note: {text}", file=sys.stderr, flush=True)


def read_json(path, required=False):
    """The JSON of PATH; None when it is missing and not REQUIRED."""
    if not os.path.exists(path):
        if required:
            raise ResultsError(f"{path}: missing")
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ResultsError(f"{path}: not valid JSON ({e})") from None


def read_tagged(path, kind, required=False):
    """(object, schema version) of the JSON object file PATH of KIND
    (schema.CURRENT); (None, None) when it is missing and not REQUIRED.
    A file newer than this sandbench reads is a SchemaError."""
    obj = read_json(path, required)
    if obj is None:
        return None, None
    if not isinstance(obj, dict):
        raise ResultsError(f"{path}: not a JSON object")
    return obj, schema.version(path, obj, kind)


def runs_file(path):
    """The slices file of results directory PATH, plain or gzipped."""
    for fn in RUNS_FILES:
        if os.path.exists(os.path.join(path, fn)):
            return os.path.join(path, fn)
    raise ResultsError(f"{os.path.join(path, RUNS_FILES[0])}: missing")


def open_runs(runs_path):
    """A text stream of runs.jsonl or runs.jsonl.gz."""
    if runs_path.endswith(".gz"):
        return gzip.open(runs_path, "rt", encoding="utf-8")
    return open(runs_path, encoding="utf-8")


def read_runs(runs_path):
    """The records of RUNS_PATH in order. A last line cut short (no newline
    and no JSON: the run was killed while appending it) is left out with a
    note; any other line that is no valid record (model.run_problem) is a
    ResultsError naming the file and the line."""
    runs = []
    try:
        with open_runs(runs_path) as f:
            for lineno, line in enumerate(f, 1):
                text = line.strip()
                if not text:
                    continue
                try:
                    r = json.loads(text)
                except ValueError as e:
                    if not line.endswith("\n"):
                        note(f"{runs_path}:{lineno}: the last line is cut short (the run "
                             f"stopped while writing it): left out")
                        continue
                    raise ResultsError(f"{runs_path}:{lineno}: not valid JSON ({e})") from None
                why = run_problem(r)
                if why:
                    raise ResultsError(f"{runs_path}:{lineno}: {why}")
                runs.append(r)
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as e:
        raise ResultsError(f"{runs_path}: unreadable ({e})") from None
    return runs


def load(path):
    """Read a results directory. Raises ResultsError with a clear message.

    Returns a dict with spec, env, variants, status, runs (list) and path.
    """
    if not os.path.isdir(path):
        raise ResultsError(f"{path}: not a directory")
    spec, _ = read_tagged(os.path.join(path, "spec.json"), "spec", True)
    # an older spec is read as it is: every field added since is optional
    env = read_json(os.path.join(path, "env.json")) or {}
    variants = read_json(os.path.join(path, "variants.json")) or {}
    status = read_json(os.path.join(path, "status.json")) or {}
    if isinstance(status, dict):
        status = status_mod.settle_state(status)
    if not isinstance(variants, dict) or not isinstance(env, dict):
        raise ResultsError(f"{path}: variants.json and env.json must be JSON objects")
    runs_path = runs_file(path)
    runs = read_runs(runs_path)
    spec_variants = spec.get("variants")
    if spec_variants is not None and not isinstance(spec_variants, list):
        raise ResultsError(f"{path}/spec.json: 'variants' must be a list")
    _check_ids(f"{path}/spec.json", [v["id"] for v in spec_variants or []
                                     if isinstance(v, dict) and "id" in v])
    _check_ids(f"{path}/variants.json", variants)
    # each "no" is re-derived from the evidence stored beside it, so a set
    # measured before a rule was learnt reads as one measured after it
    ev.rejudge(variants)
    return {"path": path, "spec": spec, "env": env, "variants": variants,
            "status": status, "runs": runs}


def _check_ids(where, ids):
    for vid in ids:
        try:
            VariantId.parse(vid)
        except ValueError as e:
            raise ResultsError(f"{where}: {e}") from None


def read_analysis(path):
    """The analysis.json of results directory PATH, or None when there is
    none or it is not one to reuse: cut short, unparseable or older than
    this sandbench writes (a note says so, and the set is analysed again).
    A newer one is a SchemaError."""
    p = os.path.join(path, "analysis.json")
    try:
        a, v = read_tagged(p, "analysis")
    except ResultsError as e:
        if isinstance(e, SchemaError) and e.newer:
            raise
        note(f"{e}: analysing the slices again")
        return None
    if a is not None and v < schema.CURRENT["analysis"]:
        note(f"{p} is {schema.Tag('analysis', v)}; this sandbench writes "
             f"{schema.tag('analysis')}: analysing the slices again")
        return None
    return a


def read_summary(path):
    """The summary.json of results directory PATH (results/README.md: rows
    and the A/A controls, "aa"), its tag checked; ResultsError when it is
    missing, cut short or not of that shape."""
    p = os.path.join(path, "summary.json")
    obj, _ = read_tagged(p, "summary", required=True)
    if not isinstance(obj.get("rows"), list) or not isinstance(obj.get("aa") or [], list) \
            or not all(isinstance(r, dict) for r in obj["rows"] + (obj.get("aa") or [])):
        raise ResultsError(f"{p}: 'rows' and 'aa' must be lists of objects")
    return obj


def order_digest(spec):
    """The planned slice order of SPEC as one hash, computed from its list, or
    a published spec's order_sha256 (publish keeps only the hash: the plan
    follows from the seed, and reproduce needs only to tell plans apart)."""
    if spec.get("order"):
        return hashlib.sha256("\n".join(spec["order"]).encode()).hexdigest()
    return spec.get("order_sha256")
