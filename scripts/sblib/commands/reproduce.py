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

A merged set (sandbench merge; spec.json "merged" lists its runs) is
reproduced as it was made: each of its runs is re-run with its own recorded
command and seed, into NEWDIR.parts/, in the recorded order, and the re-runs
are merged into NEWDIR, so the reproduction has the same runs, rounds,
epochs, orders and places, and is analysed the same way (each run's drift
and noise its own). A run of the combined rounds would be another
experiment: one seed, one order, one run's noise.

Exit 0 when every directive's cost agrees, 1 when some disagree, 2 on bad
input or when a re-run or the merge failed.
"""
import argparse
import os
import subprocess
import sys
import time

from sblib.analysis import results as rs
from sblib.analysis import stats as st
from sblib import util
from sblib.commands import compare as cmp

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
        raise rs.ResultsError("a merged set: see plan()")
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


def plan(spec, out):
    """What reproducing SPEC into OUT takes: ([(run argv, its output
    directory)], the merge's sources or None). One run for a run; for a
    merged set, each of its runs (spec.json "merged", with their own argv and
    seed) into OUT.parts/, then merged into OUT."""
    merged = spec.get("merged")
    if not merged:
        return [(rerun_argv(spec, out), out)], None
    if not isinstance(merged, list) or not all(isinstance(m, dict) for m in merged):
        raise rs.ResultsError("spec.json: 'merged' must be a list of the merged runs")
    runs = []
    for k, m in enumerate(merged):
        name = os.path.basename(os.path.normpath(str(m.get("path") or f"run{k + 1}")))
        part = os.path.join(out + ".parts", f"{k + 1}-{name}")
        sub = {"argv": m.get("argv"), "seed": m.get("seed")}
        if "method" in spec:
            sub["method"] = spec["method"]
        try:
            runs.append((rerun_argv(sub, part), part))
        except rs.ResultsError as e:
            raise rs.ResultsError(f"spec.json 'merged' run {k + 1} ({name}): {e}") from None
    return runs, [p for _, p in runs]


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
    """Split a gate's directive costs into (agree, disagree) lists."""
    agree, disagree = [], []
    for r in result["costs"]:
        (disagree if r["significant"] else agree).append(r)
    return agree, disagree


def floors(aa, ab):
    """[(server, mode, original A/A floor, reproduction's)] of CPU per request."""
    fb = {(g["server"], g["mode"]): g.get("floor") for g in ab["groups"]}
    return [(g["server"], g["mode"], g.get("floor"), fb.get((g["server"], g["mode"])))
            for g in aa["groups"] if (g["server"], g["mode"]) in fb]


def summary_lines(orig, new, result, fl=()):
    agree, disagree = verdicts(result)
    lines = [f"# sandbench reproduce: {orig['path']} -> {new['path']}", ""]
    lines.append("## Environments, side by side")
    lines.append("")
    lines.append("| | original | reproduction | |")
    lines.append("|:---|:---|:---|:---|")
    for k, va, vb, d in env_table(orig, new):
        lines.append(f"| {k} | {va} | {vb} | {d} |")
    lines.append("")
    if fl:
        lines.append("Noise floor (A/A control, CPU per request): " + ", ".join(
            f"{server}/{mode} original " + (f"±{f0 * 100:.1f}%" if f0 is not None else "-")
            + " reproduction " + (f"±{f1 * 100:.1f}%" if f1 is not None else "-")
            for server, mode, f0, f1 in fl) + ".")
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
                     f"{st.pct(r['new'])} | {st.pct(r['change'])} | "
                     f"{st.interval(r['lo'], r['hi'])} | "
                     f"{'yes' if not r['significant'] else '**no**'} |")
    lines.append("")
    absolute = result["absolute_rows"]
    moved = [r for r in absolute if r["significant"]]
    lines.append(f"Absolute figures (depend on the machine): {len(absolute) - len(moved)} of "
                 f"{len(absolute)} agree within their intervals"
                 + (": differ: " + ", ".join(f"{r['variant']} {r['mode']} {r['metric']} "
                                             f"{st.pct(r['ratio'])}" for r in moved[:12])
                    if moved else "."))
    for r in result["compatibility"] + result["exposure"]:
        lines.append(f"- {r['variant']}: {r['kind']} {r['base']} -> {r['new']}")
    for x in result["lost"]:
        lines.append(f"- {x['variant']} {x['mode']}: not reproduced ({x['why']})")
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


def execute(runs, merge_from, new_path):
    """Runs the plan (see plan()); returns an exit status, 0 when every
    re-run and the merge finished."""
    sandbench = os.path.join(util.repo_root(), "scripts", "sandbench")
    for k, (cmd, out) in enumerate(runs):
        if len(runs) > 1:
            print(f"sandbench reproduce: run {k + 1} of {len(runs)}", flush=True)
        rc = subprocess.run([sys.executable, sandbench] + cmd).returncode
        if rc != 0:
            print(f"sandbench reproduce: the re-run into {out} exited {rc}", file=sys.stderr)
            if merge_from or not os.path.exists(os.path.join(out, "runs.jsonl")):
                return 2
    if merge_from:
        from sblib.commands import merge as mg
        try:
            mg.merge(new_path, merge_from)
        except (mg.MergeError, mg.Wider, rs.ResultsError, OSError) as e:
            print(f"sandbench reproduce: merging the re-runs failed: {e}", file=sys.stderr)
            return 2
    return 0


def main(argv):
    p = argparse.ArgumentParser(prog="sandbench reproduce", description=HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="A merged set is reproduced run by run, then merged "
                                       "(see the module's documentation).\n\nexit 0: every "
                                       "directive cost agrees; 1: some disagree; 2: bad input, "
                                       "or a re-run or the merge failed")
    p.add_argument("dir", metavar="DIR", help="the results directory to reproduce")
    p.add_argument("--out", metavar="NEWDIR",
                   help="where the re-run goes (default results/runs/STAMP-reproduce-NAME; "
                        "a merged set's runs go to NEWDIR.parts/)")
    p.add_argument("--against", metavar="NEWDIR",
                   help="do not run: compare DIR with an existing reproduction NEWDIR")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
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
            runs, merge_from = plan(orig["spec"], new_path)
            if merge_from:
                print(f"sandbench reproduce: {args.dir} is {len(runs)} runs merged: re-running "
                      f"each, then merging them into {new_path}", flush=True)
            for cmd, _ in runs:
                print("sandbench reproduce: running: sandbench " + " ".join(cmd), flush=True)
            if merge_from:
                print(f"sandbench reproduce: then: sandbench merge {new_path} "
                      + " ".join(merge_from), flush=True)
            if args.dry_run:
                return 0
            for path in [new_path] + (merge_from or []):
                if os.path.exists(path):
                    print(f"sandbench reproduce: {path} exists; choose another --out",
                          file=sys.stderr)
                    return 2
            rc = execute(runs, merge_from, new_path)
            if rc:
                return rc
        new = rs.load(new_path)
        ao, _ = rs.analysed(orig, args.resamples)
        an, _ = rs.analysed(new, args.resamples)
    except rs.ResultsError as e:
        print(f"sandbench reproduce: {e}", file=sys.stderr)
        return 2
    if not cmp.costs_of(orig, ao):
        print(f"sandbench reproduce: {args.dir} has no directive cost measured (every slice "
              "failed?); nothing to reproduce", file=sys.stderr)
        return 2
    result = cmp.gate(orig, ao, new, an, 0.0, cmp.COST_METRICS, absolute=True,
                      allow_missing=True, allow_incomplete=True, resamples=args.resamples)
    if not result["costs"]:
        print(f"sandbench reproduce: {new_path} has no directive cost to set against "
              f"{args.dir}'s: the reproduction measured nothing comparable", file=sys.stderr)
        return 1
    lines, bad = summary_lines(orig, new, result, floors(ao, an))
    text = "\n".join(lines) + "\n"
    rs.emit(text)
    tmp = os.path.join(new_path, "reproduce.md.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, os.path.join(new_path, "reproduce.md"))
    return 1 if bad else 0
