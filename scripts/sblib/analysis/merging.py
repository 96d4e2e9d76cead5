"""Runs of one matrix made one results directory (sandbench merge, and
reproduce of a merged set): what must be equal, the slices one run after the
other, the variants' records and verdicts joined, and the merged set written.
The report of the set is the command's (sblib.report); so are the widths
compared for --require-narrower, from report.interval_width."""
import json
import os
import shutil

from sblib.analysis import results as rs
from sblib.analysis import summary
from sblib.records import writer

# what must be equal for slices of two runs to be compared as one run's
SAME_SPEC = ("schema", "servers", "modes", "duration", "warmup", "slice_warmup", "loadgen",
             "pinning", "unit", "url", "combine")
SAME_ENV = ("kernel", "arch", "systemd", "openssl", "liburing", "nginx", "cpu_model", "cores",
            "host", "bpf_enforced")


class MergeError(Exception):
    pass


class Wider(Exception):
    """The merged set's intervals are wider than the first source's."""

    def __init__(self, widths):
        super().__init__("wider")
        self.widths = widths


def _grew(a, b):
    # by more than 0.01 percentage points (the bootstrap is seeded, so an
    # unchanged set gives exactly its old width)
    return a is not None and b is not None and b > a + 1e-4


def compare_widths(before, after):
    """[(server, mode, width before, after, floor before, after, wider)]
    for every group of AFTER; wider when the interval grew."""
    out = []
    for key, (w1, f1) in after.items():
        w0, f0 = before.get(key, (None, None))
        out.append((key[0], key[1], w0, w1, f0, f1, _grew(w0, w1)))
    return out


def _pct(x):
    return "n/a" if x is None else f"±{x * 100:.2f}%"


def width_lines(rows):
    return [f"{s} {m}: interval {_pct(w0)} -> {_pct(w1)}, A/A floor {_pct(f0)} -> {_pct(f1)}"
            + ("  WIDER" if wider else "") + ("  (floor wider)" if _grew(f0, f1) else "")
            for s, m, w0, w1, f0, f1, wider in rows]


def _variants_key(spec):
    return sorted((v["id"], v["role"], tuple(v.get("directives") or []))
                  for v in spec.get("variants") or [])


def check(sources):
    """Raises MergeError unless SOURCES (rs.load() results) can be one run."""
    first = sources[0]
    seeds = {}
    for s in sources:
        state = (s.get("status") or {}).get("state")
        if state != "complete":
            raise MergeError(f"{s['path']}: the run is not complete (state {state!r})")
        for seed in dict.fromkeys(m.get("seed") for m in _runs_of(s)):
            if seed in seeds:
                raise MergeError(f"{s['path']} and {seeds[seed]} have the same seed {seed}: the "
                                 "same order and places, so nothing averages out; run again "
                                 "with another --seed")
            seeds[seed] = s["path"]
    for s in sources[1:]:
        for k in SAME_SPEC:
            if s["spec"].get(k) != first["spec"].get(k):
                raise MergeError(f"{s['path']}: spec '{k}' is {s['spec'].get(k)!r}, "
                                 f"{first['path']} has {first['spec'].get(k)!r}")
        if _variants_key(s["spec"]) != _variants_key(first["spec"]):
            a = {v[0] for v in _variants_key(first["spec"])}
            b = {v[0] for v in _variants_key(s["spec"])}
            diff = sorted(a ^ b) or ["the same ids with other directives or roles"]
            raise MergeError(f"{s['path']}: other variants than {first['path']}: "
                             + ", ".join(diff[:6]))
        for k in SAME_ENV:
            if s["env"].get(k) != first["env"].get(k):
                raise MergeError(f"{s['path']}: measured on another {k} ({s['env'].get(k)!r}, "
                                 f"{first['path']}: {first['env'].get(k)!r}); compare them "
                                 "instead (sandbench compare)")


def _epochs_of(spec):
    e = spec.get("epochs")
    return e if isinstance(e, int) and e >= 1 else 1


def _runs_of(s):
    """The runs a source holds: spec.json "merged" of one merged before,
    else the source itself."""
    return s["spec"].get("merged") or [{
        "path": _name(s), "seed": s["spec"].get("seed"), "reps": s["spec"].get("reps"),
        "epochs": _epochs_of(s["spec"]), "created": s["spec"].get("created"),
        "commit": s["spec"].get("commit"), "argv": s["spec"].get("argv")}]


def merged_runs(sources):
    """The slices of every source, one run after the other: rounds, epochs
    and slice numbers offset, each slice tagged with its source ("run")."""
    out = []
    rounds = epochs = nrun = 0
    for s in sources:
        spec = s["spec"]
        reps = spec.get("reps") or (1 + max((r.get("round", 0) for r in s["runs"]), default=0))
        # a resumed run measures an epoch in flight again under a number of
        # its own, beyond spec.epochs: the next source starts past the largest
        ne = max([_epochs_of(spec)] + [r["epoch"] + 1 for r in s["runs"]
                                       if isinstance(r.get("epoch"), int)])
        for r in s["runs"]:
            r = dict(r)
            rnd = r.get("round", r.get("rep", 0))
            r["round"] = r["rep"] = rnd + rounds
            # a run of one epoch is one placement: its own cluster
            r["epoch"] = (r["epoch"] if isinstance(r.get("epoch"), int) else 0) + epochs
            r["slice"] = len(out)
            # a source merged before keeps its runs apart
            r["run"] = nrun + (r["run"] if isinstance(r.get("run"), int) else 0)
            out.append(r)
        rounds += reps
        epochs += ne
        nrun += len(_runs_of(s))
    return out, rounds, epochs


def merged_order(sources):
    """The merged plan: every source's planned slice order (spec.order,
    "variant|mode|round") one after the other, rounds offset as
    merged_runs() offsets them. Not the records' order: a slice the runner
    re-measured after a fault is a record more, not a change of plan. A
    source without its list (a published one keeps only its hash) gives
    its records' order."""
    out, rounds = [], 0
    for s in sources:
        spec = s["spec"]
        reps = spec.get("reps") or (1 + max((r.get("round", 0) for r in s["runs"]), default=0))
        keys = spec.get("order") or [f"{r['variant']}|{r['mode']}|{r.get('round', r.get('rep', 0))}"
                                     for r in s["runs"]]
        for k in keys:
            v, m, rnd = k.rsplit("|", 2)
            out.append(f"{v}|{m}|{int(rnd) + rounds}" if rnd.isdigit() else k)
        rounds += reps
    return out


def _name(s):
    return os.path.basename(os.path.normpath(s["path"]))


def _merge_applied(vid, rec, sources):
    """A directive counts as applied only if every run's evidence says so.
    Where one run says yes and another no (the host changed between them),
    the merged figure mixes both: the verdict becomes "no", with each run's
    word; where a run could not tell, the verdict is "could not tell". The
    disagreements are returned so merge can name them."""
    mixed = []
    recs = [(s["variants"].get(vid) or {}).get("applied") or {} for s in sources]
    for d in dict.fromkeys(k for r in recs for k in r):
        words = [r.get(d) for r in recs]
        if len(set(words)) < 2:
            continue
        rec.setdefault("applied", {})[d] = False if False in words else None
        rec.setdefault("applied_why", {})[d] = "differs between the merged runs: " + ", ".join(
            f"{_name(s)} {dict([(True, 'yes'), (False, 'no')]).get(w, 'n/a')}"
            for s, w in zip(sources, words))
        rec.setdefault("applied_runs", {})[d] = words
        if True in words and False in words:
            mixed.append(f"{vid} ({d})")
    return mixed


def merged_variants(sources):
    """The first source's records; start-up samples pooled; a variant whose
    status differs between runs gets the first status other than ok; evidence
    verdicts that differ between runs are marked (see _merge_applied).
    Returns the records and the list of mixed verdicts."""
    out = json.loads(json.dumps(sources[0]["variants"]))
    mixed = []
    for vid, rec in out.items():
        samples = []
        for s in sources:
            o = s["variants"].get(vid) or {}
            samples += o.get("startup_ms_samples") or (
                [o["startup_ms"]] if isinstance(o.get("startup_ms"), (int, float)) else [])
            if o.get("status") not in (None, "ok") and rec.get("status") == "ok":
                rec["status"] = o["status"]
                rec["reason"] = f"{_name(s)}: {o.get('reason')}"
        if len(samples) > 1:
            rec["startup_ms_samples"] = samples
        mixed += _merge_applied(vid, rec, sources)
    return out, mixed


def write_merged(out, paths):
    """Writes the merged set of the results directories PATHS into OUT (a new
    directory; removed again if anything fails). Returns (slices, rounds,
    epochs, mixed verdicts). Raises MergeError or rs.ResultsError."""
    if len(paths) < 2:
        raise MergeError("give at least two results directories to merge")
    if os.path.exists(out):
        raise MergeError(f"{out} exists: merge into a new directory")
    sources = [rs.load(p) for p in paths]  # ResultsError if malformed
    check(sources)
    runs, rounds, epochs = merged_runs(sources)
    spec = json.loads(json.dumps(sources[0]["spec"]))
    spec.pop("order_sha256", None)  # a published source's: not this order
    spec.update({
        "reps": rounds, "epochs": epochs,
        "argv": ["merge", out] + list(paths),
        "order": merged_order(sources),
        "merged": [m for s in sources for m in _runs_of(s)],
    })
    variants, mixed = merged_variants(sources)
    os.makedirs(out)
    try:
        res = writer.Results(out)
        res.write("spec.json", spec)
        res.write("env.json", sources[0]["env"])
        res.write("variants.json", variants)
        res.runs.writelines(json.dumps(r) + "\n" for r in runs)
        res.runs.close()
        res.done = res.planned = len(runs)
        summary.write_summary(res, spec, variants)
        res.status("complete")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return len(runs), rounds, epochs, mixed


def analysed(path):
    """The loaded set at PATH (drift corrected) and its analysis."""
    res = rs.load(path)
    res["drift"] = True
    return res, rs.analyse(res)
