"""sandbench reproduce DIR: re-run exactly what DIR recorded, then compare.

Reads DIR/spec.json, re-runs the same command (same variants, modes,
repetitions, durations and seed) through `sandbench run` into a new results
directory, and compares the two: which figures agree within their intervals
and which do not, with both environments side by side. Writes the verdict to
NEW/reproduce.md too.

A figure agrees when the 95% interval of new/original contains 1, i.e. the
difference is within what the two runs' own noise allows. The costs of the
directives (variant / baseline in the same run) are what a reproduction
should match; absolute figures also depend on the machine and are shown for
information.

Exit 0 when every directive's cost agrees, 1 when some disagree, 2 on bad
input or when the re-run failed.
"""
import argparse
import os
import subprocess
import sys
import time

from . import _results as rs
from . import _stats as st
from . import compare as cmp

HELP = "re-run what a results directory recorded and say which figures agree"

# options of `sandbench run` that must not be copied into the re-run
DROP_OPTS = {"--out": True, "--seed": True, "-o": True}


def rerun_argv(spec, out):
    """The `sandbench ...` argv that repeats spec into `out`.

    The recorded argv with its output directory and seed replaced, so the
    re-run uses the same seed (same slice order) whatever the original said.
    """
    argv = list(spec.get("argv") or [])
    if spec.get("merged"):
        raise rs.ResultsError("a merged set (sandbench merge): reproduce each of its runs; "
                              "spec.json 'merged' lists them with their argv")
    if not argv or argv[0] != "run":
        raise rs.ResultsError("spec.json: 'argv' does not record a `sandbench run` command")
    kept = []
    skip = False
    for a in argv[1:]:
        if skip:
            skip = False
            continue
        name = a.split("=", 1)[0]
        if name in DROP_OPTS:
            skip = "=" not in a and DROP_OPTS[name]
            continue
        kept.append(str(a))
    seed = spec.get("seed")
    extra = ["--out", out]
    if "method" not in spec:
        # recorded before duet windows existed: one instance at a time
        extra += ["--method", "isolated"]
    if seed is not None:
        extra += ["--seed", str(seed)]
    return ["run"] + kept + extra


def env_table(a, b):
    keys = []
    for k in list(a["env"]) + list(b["env"]):
        if k not in keys:
            keys.append(k)
    rows = []
    for k in keys:
        va, vb = a["env"].get(k), b["env"].get(k)
        rows.append((k, str(va), str(vb), "" if va == vb else "differs"))
    for k in ("commit", "created"):
        va, vb = a["spec"].get(k), b["spec"].get(k)
        rows.append((k, str(va), str(vb), "" if va == vb or k == "created" else "differs"))
    return rows


def spec_differences(a, b):
    """What the re-run did differently from the original spec (the catalogue or a
    profile may have changed since): a list of sentences, empty when identical."""
    out = []
    for k in ("seed", "servers", "modes", "reps", "epochs", "duration", "warmup", "loadgen",
              "combine", "method", "duet"):
        if a.get(k) != b.get(k):
            out.append(f"{k}: {a.get(k)} -> {b.get(k)}")
    va = {v["id"]: v.get("directives") for v in a.get("variants") or [] if isinstance(v, dict)}
    vb = {v["id"]: v.get("directives") for v in b.get("variants") or [] if isinstance(v, dict)}
    if set(va) - set(vb):
        out.append("variants not re-run: " + ", ".join(sorted(set(va) - set(vb))))
    if set(vb) - set(va):
        out.append("variants new in the re-run: " + ", ".join(sorted(set(vb) - set(va))))
    changed = [v for v in va if v in vb and va[v] != vb[v]]
    if changed:
        out.append("variants whose directives changed: " + ", ".join(changed))
    da, db = rs.order_digest(a), rs.order_digest(b)
    if da and db and da != db and not out:
        out.append("the slice order differs")
    return out


def verdicts(result):
    """Split comparison rows into (agree, disagree) lists of directive costs."""
    agree, disagree = [], []
    for r in result["rows"]:
        if r["kind"] != "cost":
            continue
        (disagree if r["significant"] else agree).append(r)
    return agree, disagree


def summary_lines(orig, new, result):
    agree, disagree = verdicts(result)
    lines = [f"# sandbench reproduce: {orig['path']} -> {new['path']}", ""]
    lines.append("## Environments, side by side")
    lines.append("")
    lines.append("| | original | reproduction | |")
    lines.append("|:---|:---|:---|:---|")
    for k, va, vb, d in env_table(orig, new):
        lines.append(f"| {k} | {va} | {vb} | {d} |")
    lines.append("")
    fl = result.get("floors") or []
    if fl:
        lines.append("Noise floor (A/A control, CPU per request): " + ", ".join(
            f"{f['server']}/{f['mode']} original "
            + (f"±{f['base'] * 100:.1f}%" if f["base"] is not None else "-")
            + " reproduction " + (f"±{f['new'] * 100:.1f}%" if f["new"] is not None else "-")
            for f in fl) + ".")
        lines.append("")
    diffs = spec_differences(orig["spec"], new["spec"])
    if diffs:
        lines.append("**The re-run is not the same experiment** (the catalogue, a profile or "
                     "the runner changed since?):")
        lines.extend(f"- {d}" for d in diffs)
    else:
        lines.append("Same spec: servers, variants, modes, repetitions, durations, load and "
                     "seed (hence slice order) as recorded.")
    lines.append("")
    lines.append("## Directive costs (variant / baseline), original against reproduction")
    lines.append("")
    lines.append("| variant | mode | metric | original | reproduction | change | 95% interval | agrees |")
    lines.append("|:---|:---|:---|---:|---:|---:|---:|:---|")
    for r in agree + disagree:
        lines.append(f"| `{r['variant']}` | {r['mode']} | {r['metric']} | {st.pct(r['base'])} | "
                     f"{st.pct(r['new'])} | {st.pct(r['ratio'])} | "
                     f"{st.interval(r['lo'], r['hi'])} | "
                     f"{'yes' if not r['significant'] else '**no**'} |")
    lines.append("")
    absolute = [r for r in result["rows"] if r["kind"] == "metric"]
    moved = [r for r in absolute if r["significant"]]
    lines.append(f"Absolute figures (depend on the machine): {len(absolute) - len(moved)} of "
                 f"{len(absolute)} agree within their intervals"
                 + (": differ: " + ", ".join(f"{r['variant']} {r['mode']} {r['metric']} "
                                             f"{st.pct(r['ratio'])}" for r in moved[:12])
                    if moved else "."))
    other = [r for r in result["rows"] if r["kind"] in ("status", "exposure") and r["regression"]]
    for r in other:
        lines.append(f"- {r['variant']}: {r['metric']} {r['base']} -> {r['new']}")
    lines.append("")
    lines.append(f"**{len(agree)} of {len(agree) + len(disagree)} directive costs agree** "
                 "within their 95% intervals." + ("" if not disagree else
                                                  " Disagree: " + ", ".join(
                                                      f"{r['variant']} {r['mode']} {r['metric']}"
                                                      for r in disagree)))
    return lines, len(disagree)


def default_out(orig_path):
    base = os.path.basename(os.path.normpath(orig_path))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return os.path.join("results", "runs", f"{stamp}-reproduce-{base}")


def main(argv):
    p = argparse.ArgumentParser(prog="sandbench reproduce", description=HELP,
                                epilog="exit 0: every directive cost agrees; 1: some "
                                       "disagree; 2: bad input or the re-run failed")
    p.add_argument("dir", metavar="DIR", help="the results directory to reproduce")
    p.add_argument("--out", metavar="NEWDIR",
                   help="where the re-run goes (default results/runs/STAMP-reproduce-NAME)")
    p.add_argument("--against", metavar="NEWDIR",
                   help="do not run: compare DIR with an existing reproduction NEWDIR")
    p.add_argument("--dry-run", action="store_true", help="print the re-run command and stop")
    p.add_argument("--resamples", type=int, default=st.RESAMPLES, help=argparse.SUPPRESS)
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    try:
        orig = rs.load(args.dir)
        if args.against:
            new_path = args.against
        else:
            new_path = args.out or default_out(args.dir)
            cmd = rerun_argv(orig["spec"], new_path)
            sandbench = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                     "sandbench")
            print("sandbench reproduce: running: sandbench " + " ".join(cmd), flush=True)
            if args.dry_run:
                return 0
            if os.path.exists(new_path):
                print(f"sandbench reproduce: {new_path} exists; choose another --out",
                      file=sys.stderr)
                return 2
            rc = subprocess.run([sys.executable, sandbench] + cmd).returncode
            if rc not in (0,):
                print(f"sandbench reproduce: the re-run exited {rc}", file=sys.stderr)
                if not os.path.exists(os.path.join(new_path, "runs.jsonl")):
                    return 2
        new = rs.load(new_path)
    except rs.ResultsError as e:
        print(f"sandbench reproduce: {e}", file=sys.stderr)
        return 2
    result = cmp.compare_dirs(orig, new, 0.0, resamples=args.resamples)
    if not any(r["kind"] == "cost" for r in result["rows"]):
        had = any(r["kind"] == "cost" for r in
                  cmp.compare_dirs(orig, orig, 0.0, resamples=10)["rows"])
        if had:
            print(f"sandbench reproduce: {new_path} has no directive cost to set against "
                  f"{args.dir}'s: the reproduction measured nothing comparable", file=sys.stderr)
            return 1
        print(f"sandbench reproduce: {args.dir} has no directive cost measured (every slice "
              "failed?); nothing to reproduce", file=sys.stderr)
        return 2
    lines, bad = summary_lines(orig, new, result)
    text = "\n".join(lines) + "\n"
    rs.emit(text)
    tmp = os.path.join(new_path, "reproduce.md.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, os.path.join(new_path, "reproduce.md"))
    return 1 if bad else 0
