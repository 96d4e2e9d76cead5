"""sandbench merge OUT SRC SRC...: runs of the same matrix made one.

A directive's cost gets more precise with more rounds, and what an instance's
place costs averages out only over more placements; both take machine time
that one sitting may not have. merge joins finished runs of the same matrix
(same servers, variants, modes, slice length and load, on the same software,
with different seeds, hence different orders and places) into one results
directory: rounds and epochs are renumbered one run after the other, so the
analysis pairs slices within a round and resamples each run's epochs as
clusters of their own; drift correction stays within each run; start-up
samples are pooled; a directive counts as applied only if every run's
evidence says so (merge names those where the runs disagree). spec.json
lists the sources under "merged" (each one's seed, rounds, epochs, commit and
argv); the report is written into OUT unless --no-report.

Pooled, a run measured while the machine was busy would widen the set it
joins. The analysis weights every round by its 1/noise^2 (the noise
measured on all of the round's variants at once; a round with too few
variants takes its run's full rounds', and where no round has enough, the
rounds take their run's noise; see _results.round_noise and
run_noise) and a merged set's analysis resamples each run on its own, so
a noisy run counts for less. A run too short to know its noise (fewer than
3 rounds) is pooled unweighted. merge
analyses the first SRC (the set being extended) and the merged set alike
and prints, per server and mode, the median CPU-per-request interval and
the A/A noise floor before and after; with --require-narrower it writes
nothing and exits 1 when any interval came out wider.

Exit 0; 1 with --require-narrower when the merged intervals are wider
(nothing written); 2 on bad input (a source missing, unfinished or of another
matrix, two sources with one seed, OUT exists) or when OUT cannot be written.
"""
import argparse
import json
import os
import shutil
import sys

from sblib.analysis import results as rs
from sblib.report import core as report
from sblib.records import writer
from sblib.analysis import summary

HELP = "join finished runs of one matrix (different seeds) into one results directory"

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


def group_widths(analysis):
    """{(server, mode): (median CPU interval half-width, A/A floor)}, as
    fractions (None where there is none)."""
    return {(g["server"], g["mode"]): (report.interval_width(g), g.get("floor"))
            for g in analysis["groups"]}


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
        ne = _epochs_of(spec)
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


def _analysis(path):
    res = rs.load(path)
    res["drift"] = True
    return res, rs.analyse(res)


def merge(out, paths, plots=True, write_report=True, require_narrower=False):
    """Writes the merged set into OUT. Returns (slices, rounds, epochs,
    mixed verdicts, width rows (see compare_widths)); raises Wider, with
    nothing written, when REQUIRE_NARROWER and an interval grew."""
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
        "order": [f"{r['variant']}|{r['mode']}|{r['round']}" for r in runs],
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
        merged = _analysis(out)
        rows = compare_widths(group_widths(_analysis(paths[0])[1]), group_widths(merged[1]))
        if require_narrower and any(r[-1] for r in rows):
            raise Wider(rows)
        if write_report:
            report.write_report(out, plots=plots, analysed=merged)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return len(runs), rounds, epochs, mixed, rows


def main(argv):
    ap = argparse.ArgumentParser(prog="sandbench merge", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", metavar="OUT", help="the new results directory")
    ap.add_argument("src", metavar="SRC", nargs="+", help="finished runs of the same matrix")
    ap.add_argument("--no-plots", action="store_true", help="tables only, no gnuplot")
    ap.add_argument("--no-report", action="store_true",
                    help="no report (sandbench publish or report writes one later)")
    ap.add_argument("--require-narrower", action="store_true",
                    help="write nothing and exit 1 if any server and mode's median CPU interval "
                         "comes out wider than the first SRC's")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    try:
        n, rounds, epochs, mixed, rows = merge(a.out, a.src, plots=not a.no_plots,
                                               write_report=not a.no_report,
                                               require_narrower=a.require_narrower)
    except Wider as e:
        print("\n".join(width_lines(e.widths)), file=sys.stderr)
        print(f"sandbench merge: the merged set is wider than {a.src[0]} (marked WIDER): "
              f"nothing written", file=sys.stderr)
        return 1
    except (MergeError, rs.ResultsError, OSError) as e:
        print(f"sandbench merge: {e}", file=sys.stderr)
        return 2
    if mixed:
        print(f"sandbench merge: the runs' evidence disagrees on {len(mixed)} "
              f"verdict(s), marked not applied in the merged set: {', '.join(mixed[:8])}"
              + (" …" if len(mixed) > 8 else ""), file=sys.stderr)
    print("\n".join(width_lines(rows)))
    print(f"sandbench merge: {len(a.src)} sources, {n} slices, {rounds} rounds in {epochs} epochs; "
          f"wrote {a.out}" + ("" if a.no_report else " with its report"))
    return 0
