"""What a results directory holds, as values (results/README.md): a
variant's id, the error a malformed directory raises, and what makes one
runs.jsonl record valid. No I/O here: store.py reads, writer.py writes."""
import functools
import math
from dataclasses import dataclass


class ResultsError(Exception):
    """A results directory is missing or malformed; the message says how."""


class SchemaError(ResultsError):
    """A file's schema tag is not one this sandbench reads (schema.py);
    NEWER: the file is of a later version of it."""

    def __init__(self, message, newer=False):
        super().__init__(message)
        self.newer = newer


# the baseline's name and the A/A control's: a second, identical baseline
BASELINE = "baseline"
AA = "baseline-aa"


@dataclass(frozen=True, order=True)
class VariantId:
    """A variant's id, SERVER/NAME (results/README.md, spec.json): its
    server and its name (baseline, baseline-aa, a directive, a profile)."""
    server: str
    name: str

    @classmethod
    def parse(cls, text):
        """The id TEXT ("drop/private-tmp-yes") split at its first "/";
        ValueError unless both sides are there."""
        server, sep, name = text.partition("/") if isinstance(text, str) else ("", "", "")
        if not (sep and server and name):
            raise ValueError(f"{text!r} is not a variant id SERVER/NAME")
        return cls(server, name)

    def __str__(self):
        return f"{self.server}/{self.name}"

    @property
    def role(self):
        """The role a variant of this name has unless spec.json says
        otherwise: baseline, aa (the A/A control) or variant."""
        return {BASELINE: "baseline", AA: "aa"}.get(self.name, "variant")


def metric_value(run, metric):
    """The value of METRIC in one runs.jsonl record (a latency percentile
    from its latency_us), or None when it has none."""
    if metric in ("cpu_ns_per_req", "loadgen_cpu_ns_per_req", "rps", "startup_ms",
                  "wakeups_per_req", "preempt_per_req"):
        v = run.get(metric)
    else:
        v = (run.get("latency_us") or {}).get(metric)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if math.isnan(v) or math.isinf(v):
        return None
    return float(v)


# A slice's measured figures: each absent, null or a finite number >= 0.
FIGURES = ("cpu_ns_per_req", "cpu_ns_per_req_all", "loadgen_cpu_ns_per_req", "loadgen_cpu_usec",
           "rps", "requests", "errors", "cpu_usec",
           "duration_s", "warmup_s", "startup_ms", "connections_counted",
           "wakeups_per_req", "preempt_per_req")
# ... and the objects of such figures (latency percentiles, usec per cgroup)
FIGURE_MAPS = ("latency_us", "cpu_parts_usec")


def _why_no_figure(v):
    """Why V is not a figure: None or a finite number >= 0."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return f"{json_repr(v)}, not a number"
    if math.isnan(v) or math.isinf(v):
        return f"{v}, not a finite number"
    return f"{v}, below 0"


def json_repr(v):
    return f'"{v}"' if isinstance(v, str) else repr(v)


@functools.lru_cache(maxsize=4096)
def _id_problem(text):
    try:
        VariantId.parse(text)
    except ValueError as e:
        return str(e)
    return None


def run_problem(rec):
    """What makes REC (one parsed runs.jsonl line) no valid record, or None:
    it must be an object with a variant id SERVER/NAME and a mode, and every
    measured figure it has must be a number no less than 0 (a negative CPU
    time or a "fast" req/s is a damaged record, not a measurement)."""
    if not isinstance(rec, dict) or "variant" not in rec or "mode" not in rec:
        return "a run needs 'variant' and 'mode'"
    why = _id_problem(rec["variant"]) if isinstance(rec["variant"], str) else \
        f"{rec['variant']!r} is not a variant id SERVER/NAME"
    if why:
        return f"'variant' {why}"
    if not isinstance(rec["mode"], str) or not rec["mode"]:
        return f"'mode' is {json_repr(rec['mode'])}, not a mode name"
    for k in FIGURES:
        v = rec.get(k)
        # a figure: None, or a finite int or float >= 0 (NaN fails 0 <= v)
        if v is not None and not (type(v) in (int, float) and 0 <= v < math.inf):
            return f"'{k}' is {_why_no_figure(v)}"
    for k in FIGURE_MAPS:
        m = rec.get(k)
        if m is None:
            continue
        if not isinstance(m, dict):
            return f"'{k}' is {json_repr(m)}, not an object"
        for name, v in m.items():
            if v is not None and not (type(v) in (int, float) and 0 <= v < math.inf):
                return f"'{k}' '{name}' is {_why_no_figure(v)}"
    return None
