"""sandbench reproduce DIR: re-measure what a set recorded, then compare.

Works for a set of every kind (sblib.analysis.sets): a run set re-runs its
recorded `sandbench run` (same variants, modes, repetitions, durations and
seed) into a new directory; a merged set each of its runs with its own
command and seed, into NEWDIR.parts/, merged into NEWDIR (the same runs,
rounds, epochs, orders and places, each run's drift and noise its own: a
run of the combined rounds would be another experiment); a start-up set its
`sandbench startup`; an advise set its `sandbench advise` (as its README.md
or advice.json records it); a syscost set its syscost commands and `sandbench
micro` runs; a directory of sets each member into NEWDIR/MEMBER. --dry-run
prints the plan and how long the original took.

Then the two are compared (sblib.analysis.compare, at threshold 0): a
directive's cost agrees when the 95% interval of new/original holds 1; a
cost from fewer than 3 samples or without an interval is not comparable and
counts neither way; absolute figures depend on the machine and are for
information. The verdict is printed and written to NEWDIR/reproduce.md.
"""
import argparse
import os
import subprocess
import sys
import time

from sblib import util
from sblib.analysis import compare as cmp
from sblib.analysis import merging
from sblib.analysis import reproduction as rp
from sblib.analysis import results as rs
from sblib.analysis import sets
from sblib.analysis import stats as st
from sblib.commands import _cli
from sblib.report import core as report

HELP = "re-measure what a results set recorded and say which figures agree"
EXITS = {0: "every comparable directive cost (and advise check) agrees; --dry-run: the plan",
         1: "some disagree, or the reproduction measured nothing of the original",
         2: "bad input, or a re-run or the merge failed",
         5: "nothing was comparable (n<3 or no interval everywhere, e.g. syscost minima)"}


def default_out(orig_path):
    base = os.path.basename(os.path.normpath(orig_path))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return os.path.join("results", "runs", f"{stamp}-reproduce-{base}")


def execute(p, new_path):
    """Runs plan P; returns an exit status, 0 when every step and the merge
    finished."""
    root = util.repo_root()
    tools = {"sandbench": [sys.executable, os.path.join(root, "scripts", "sandbench")],
             "syscost": [os.path.join(root, "build", "bin", "syscost")],
             "python": [sys.executable]}
    for k, step in enumerate(p["steps"]):
        if len(p["steps"]) > 1:
            print(f"sandbench reproduce: step {k + 1} of {len(p['steps'])}", flush=True)
        if step["stdout"]:
            os.makedirs(os.path.dirname(step["stdout"]), exist_ok=True)
        with open(step["stdout"], "w") if step["stdout"] else open(os.devnull) as f:
            rc = subprocess.run(tools[step["tool"]] + step["argv"],
                                stdout=f if step["stdout"] else None).returncode
        if rc != 0:
            print(f"sandbench reproduce: {rp.command_line(step)} exited {rc}", file=sys.stderr)
            if p["merge"] or step["tool"] != "sandbench" \
                    or not os.path.exists(os.path.join(step["out"], "runs.jsonl")):
                return 2
    if p["merge"]:
        try:
            merging.write_merged(new_path, p["merge"])
            report.write_report(new_path, analysed=merging.analysed(new_path))
        except (merging.MergeError, rs.ResultsError, OSError) as e:
            print(f"sandbench reproduce: merging the re-runs failed: {e}", file=sys.stderr)
            return 2
    return 0


def show_plan(p, orig_path, new_path):
    if p["merge"]:
        print(f"sandbench reproduce: {orig_path} is {len(p['steps'])} runs merged: re-running "
              f"each, then merging them into {new_path}", flush=True)
    for step in p["steps"]:
        print("sandbench reproduce: running: " + rp.command_line(step), flush=True)
    if p["merge"]:
        print(f"sandbench reproduce: then: sandbench merge {new_path} " + " ".join(p["merge"]),
              flush=True)
    for n in p["notes"]:
        print(f"sandbench reproduce: note: {n}", flush=True)
    print(f"sandbench reproduce: expected duration: {rp.hours(p['duration_s'])} "
          "(what the original took)", flush=True)


def main(argv):
    p = _cli.parser("sandbench reproduce", __doc__)
    p.epilog = _cli.exit_text(EXITS)
    p.add_argument("dir", metavar="DIR", help="the results set to reproduce")
    p.add_argument("--out", metavar="NEWDIR",
                   help="where the re-run goes (default results/runs/STAMP-reproduce-NAME; "
                        "a merged set's runs go to NEWDIR.parts/)")
    p.add_argument("--against", metavar="NEWDIR",
                   help="do not run: compare DIR with an existing reproduction NEWDIR")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan and the expected duration, and stop")
    p.add_argument("--resamples", type=int, default=st.RESAMPLES, help=argparse.SUPPRESS)
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    try:
        orig = sets.load(args.dir)
        if args.against:
            new_path = args.against
        else:
            new_path = args.out or default_out(args.dir)
            plan = rp.plan(orig, new_path)
            show_plan(plan, args.dir, new_path)
            if args.dry_run:
                return 0
            for path in [new_path] + (plan["merge"] or []):
                if os.path.exists(path):
                    print(f"sandbench reproduce: {path} exists; choose another --out",
                          file=sys.stderr)
                    return 2
            if "run" not in orig["kinds"] and "startup" not in orig["kinds"]:
                os.makedirs(new_path)
            rc = execute(plan, new_path)
            if rc:
                return rc
        orig = cmp.load_side(args.dir, "BASE", args.resamples)
        new = cmp.load_side(new_path, "NEW", args.resamples)
        result = cmp.compare_sides(orig, new, cmp.load_side, 0.0, cmp.COST_METRICS, absolute=True,
                                   allow_missing=True, allow_incomplete=True, allow_empty=True,
                                   resamples=args.resamples)
    except (rs.ResultsError, cmp.CompareError) as e:
        print(f"sandbench reproduce: {e}", file=sys.stderr)
        return 2
    c = result["counts"]
    if not c["compared"] and result["lost"]:
        print(f"sandbench reproduce: {new_path} has nothing to set against {args.dir}'s: the "
              "reproduction measured none of it", file=sys.stderr)
        return 1
    lines, bad = rp.summary_lines(orig, new, result)
    text = "\n".join(lines) + "\n"
    rs.emit(text)
    _cli.write_atomic(os.path.join(new_path, "reproduce.md"), text)
    if not c["compared"]:
        print(f"sandbench reproduce: nothing comparable ({c['not_comparable']} figures without "
              "an interval or from fewer than 3 samples)", file=sys.stderr)
        return cmp.EMPTY
    return 1 if bad else 0
