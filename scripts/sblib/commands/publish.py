"""sandbench publish SRC DEST: a results directory made fit to commit.

A run's directory keeps every slice's whole load-generator object (histogram
percentiles of connect and handshake times, the per-second timeline, error
texts): useful while looking into one run, too much to commit for thousands
of slices. publish copies SRC into DEST without those objects (every figure
the reports, compare and reproduce read stays): runs.jsonl gzipped as
runs.jsonl.gz (every sandbench command reads either), the JSON files
unindented, spec.json's planned slice order replaced by its hash,
order_sha256 (the plan follows from the seed; reproduce compares hashes),
records DEST as the run's
--out (and as a merged set's OUT, its sources by their names) so the report
and spec name the set by its own path, writes the report and plots there,
and refuses to leave a path of this machine (the source directory, the
checkout) in any file of DEST, saying where it is and what to do.
"""
import gzip
import json
import os
import shutil
import sys

from sblib import util
from sblib.analysis import results as rs
from sblib.records import store
from sblib.commands import _cli
from sblib.report import core as report

HELP = "copy a results directory for committing: no raw loadgen objects, report rewritten"
EXITS = {1: "failed: DEST could not be written (the message says why; nothing left)",
         2: "bad input: SRC not a finished results directory, DEST exists, or a path of "
            "this machine would be left in the set"}

COPY = ("spec.json", "env.json", "status.json", "variants.json", "summary.json", "summary.csv")
DROP = ("loadgen", "loadgen_stderr")
# rewritten without indentation: a third smaller, the same data
COMPACT = ("spec.json", "variants.json", "summary.json")


class PublishError(Exception):
    pass


def compact_runs(src, dest):
    """Copies runs.jsonl line by line without the raw loadgen objects, into
    DEST gzipped (no name or time in the header: the same input gives the
    same bytes). Returns (lines, bytes before, bytes after)."""
    n = 0
    with rs.open_runs(src) as f, open(dest, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        for line in f:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise PublishError(f"{src}: line {n + 1}: not JSON: {e}") from None
            for k in DROP:
                rec.pop(k, None)
            gz.write((json.dumps(rec, separators=(",", ":")) + "\n").encode())
            n += 1
    return n, os.path.getsize(src), os.path.getsize(dest)


def compact_json(path):
    obj = store.read_json(path)
    if obj is not None:
        util.write_atomic(path, json.dumps(obj, separators=(",", ":")) + "\n")


def _portable(path, repo):
    """PATH as a reader of the set can take it: relative to the checkout
    when inside it, else its last name (a merged run is named so in
    spec.json "merged")."""
    p = os.path.abspath(path)
    if p.startswith(repo + os.sep):
        return os.path.relpath(p, repo)
    return os.path.basename(os.path.normpath(path))


def rewrite_out(spec, dest_rel, repo=None):
    """SPEC with the recorded command's output named DEST_REL: a run's
    --out, a merge's OUT (and its sources by portable names)."""
    argv = [str(a) for a in spec.get("argv") or []]
    if argv[:1] == ["merge"] and len(argv) > 1:
        repo = repo or util.repo_root()
        argv = ["merge", dest_rel] + [a if a.startswith("-") else _portable(a, repo)
                                      for a in argv[2:]]
    for i, a in enumerate(argv):
        if a == "--out" and i + 1 < len(argv):
            argv[i + 1] = dest_rel
        elif a.startswith("--out="):
            argv[i] = "--out=" + dest_rel
    spec["argv"] = argv
    return spec


def machine_paths(dest, forbidden):
    """(file, path) pairs where a file of DEST names one of FORBIDDEN."""
    hits = []
    for d, _, files in os.walk(dest):
        for fn in files:
            p = os.path.join(d, fn)
            try:
                opener = gzip.open if fn.endswith(".gz") else open
                with opener(p, "rt", errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            hits += [(p, s) for s in forbidden if s and s in text]
    return hits


def machine_paths_message(hits, dest, src):
    """What publish says when HITS ((file, path) pairs of DEST) name this
    machine: where, and what to do about it."""
    where = "; ".join(f"{os.path.relpath(p, dest)}: {s}" for p, s in hits[:5])
    paths = sorted({s for _, s in hits})
    names = {os.path.relpath(p, dest) for p, _ in hits}
    srcs = [os.path.join(src, n) for n in sorted(names) if n in COPY] or \
        [f for f, _ in machine_paths(src, paths)]
    fix = ("replace them in " + ", ".join(sorted(set(srcs))[:5]) + " (by the set's name, or "
           "a path relative to the checkout)" if srcs else "replace them in SRC's records")
    return (f"paths of this machine left in the set, meaningless to its readers: {where}. "
            "publish rewrites the recorded command's --out (and a merge's OUT and sources), "
            f"not paths inside the records: {fix}, then publish again; nothing was written")


def publish(src, dest, plots=True):
    src = os.path.abspath(src)
    state = (rs.load(src).get("status") or {}).get("state")  # ResultsError if malformed
    if state != "complete":
        raise PublishError(f"{src}: the run is not complete (status.json state {state!r})")
    if os.path.exists(dest):
        raise PublishError(f"{dest} exists: publish into a new directory")
    repo = util.repo_root()
    dest_abs = os.path.abspath(dest)
    dest_rel = os.path.relpath(dest_abs, repo) if dest_abs.startswith(repo + os.sep) else dest
    os.makedirs(dest_abs)
    try:
        for fn in COPY:
            if os.path.exists(os.path.join(src, fn)):
                shutil.copy(os.path.join(src, fn), os.path.join(dest_abs, fn))
        spec = store.read_json(os.path.join(dest_abs, "spec.json"), required=True)
        # the order is runs.jsonl's own; the spec keeps its hash for reproduce
        if spec.get("order"):
            spec["order_sha256"] = rs.order_digest(spec)
            del spec["order"]
        util.write_atomic(os.path.join(dest_abs, "spec.json"),
                          json.dumps(rewrite_out(spec, dest_rel, repo), indent=1) + "\n")
        n, before, after = compact_runs(rs.runs_file(src),
                                        os.path.join(dest_abs, "runs.jsonl.gz"))
        report.write_report(dest_abs, plots=plots)
        for fn in COMPACT:
            compact_json(os.path.join(dest_abs, fn))
        hits = machine_paths(dest_abs, [src, repo + os.sep])
        if hits:
            raise PublishError(machine_paths_message(hits, dest_abs, src))
    except BaseException:
        shutil.rmtree(dest_abs, ignore_errors=True)
        raise
    return n, before, after


def main(argv):
    ap = _cli.parser("sandbench publish", __doc__)
    ap.epilog = _cli.exit_text(EXITS)
    ap.add_argument("src", metavar="SRC", help="a finished results directory")
    ap.add_argument("dest", metavar="DEST", help="the new directory, e.g. results/published/NAME")
    ap.add_argument("--no-plots", action="store_true", help="tables only, no gnuplot")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    try:
        n, before, after = publish(a.src, a.dest, plots=not a.no_plots)
    except (PublishError, rs.ResultsError) as e:
        print(f"sandbench publish: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"sandbench publish: cannot write {a.dest}: {e}", file=sys.stderr)
        return 1
    print(f"sandbench publish: {n} slices, {os.path.basename(rs.runs_file(a.src))} "
          f"{before / 1e6:.1f} MB -> runs.jsonl.gz {after / 1e6:.1f} MB; "
          f"wrote {a.dest} with its report")
    return 0
