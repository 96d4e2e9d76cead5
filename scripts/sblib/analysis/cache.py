"""analysis.json: the analysis a report writes beside the slices, reused
by whoever reads the set after it when it records (its "inputs") that it
is the analysis of exactly these slices, spec and options. One that
cannot be reused (cut short, unparseable, older) is made again, with a
note on standard error (store.read_analysis); a newer one is refused."""
import hashlib
import json
import os
import zlib

from sblib.analysis import stats as st
from sblib.records import schema, store
from sblib.records.model import ResultsError
from sblib.util import write_atomic

# How a set with duet windows is analysed, in analysis.json's digest, so
# that one analysed otherwise is analysed again. paired/1: every cost (req/s
# and latency too) from its per-window ratios.
METHOD = "paired/1"


def inputs(res, resamples=st.RESAMPLES):
    """What an analysis of RES depends on, as one digest: the slices
    (runs.jsonl, plain or gzipped, as text), spec.json, variants.json as
    loaded, drift correction and the bootstrap's resamples. analysis.json
    records it, so a reader can tell the analysis is of these slices."""
    h = hashlib.sha256()
    try:
        with store.open_runs(store.runs_file(res["path"])) as f:
            for line in f:
                h.update(line.encode())
    except (ResultsError, OSError, EOFError, zlib.error):
        return None
    for obj in (res["spec"], res["variants"], bool(res.get("drift", True)), resamples):
        h.update(json.dumps(obj, sort_keys=True, default=str).encode())
    if any(r.get("phase") == "duet" for r in res["runs"]):
        h.update(METHOD.encode())   # only windowed sets are analysed otherwise than before
    return h.hexdigest()


def reusable(res, resamples=st.RESAMPLES):
    """The analysis.json beside RES's slices when it is the analysis of
    exactly RES and these RESAMPLES (its "inputs"), else None."""
    a = store.read_analysis(res["path"])
    if a and a.get("inputs") and a["inputs"] == inputs(res, resamples) \
            and isinstance(a.get("groups"), list):
        return a
    return None


def to_json(analysis):
    """What analysis.json holds of ANALYSIS (analyse.analyse())."""
    return {"schema": schema.tag("analysis"), "resamples": st.RESAMPLES, "conf": st.CONF,
            "alpha": st.ALPHA, "groups": analysis["groups"], "startup": analysis["startup"],
            "startup_floor": analysis.get("startup_floor") or {},
            "placement": analysis.get("placement") or [], "inputs": analysis.get("inputs")}


def write(path, analysis):
    """Writes ANALYSIS as the analysis.json of results directory PATH."""
    write_atomic(os.path.join(path, "analysis.json"),
                 json.dumps(to_json(analysis), separators=(",", ":"), default=str) + "\n")
