"""sandbench trend SET...: directive costs over time, and where they stepped.

A CI matrix gives one results directory per machine kind per pipeline; this
reads any number of them. Sets are grouped by machine kind (env.json
cpu_model, cores, arch and host: what a runner is; the kernel, systemd and
the code under test are what changes over time, so they are not part of
it) and ordered by time (spec.json "created"). Per kind, server, mode,
directive and metric, each set's cost (variant / the same set's baseline,
from the set's own analysis, as its report shows it) makes one point of a
series, and the series' change points are found in the spirit of Hunter
(Apache Otava): E-Divisive means with a Student's t-test.

  1. Candidates: of every split of a segment (at least --min-sets points
     each side), the one with the largest energy statistic (Matteson and
     James 2014, alpha = 1): (m k / (m + k)) (2 E|x - y| - E|x - x'| -
     E|y - y'|), x on one side, y on the other; then the same on both
     sides, down to the shortest segments.
  2. Each candidate is tested against the segments either side of it (up
     to its neighbouring candidates) with a two-sample t-test (pooled
     variance); the weakest, p >= --p (default 0.001) or a step below
     --min-change (default 1%), is dropped, and the rest tested again,
     until every candidate left is significant. Each set knows its own
     precision (its interval), so the pooled variance is never taken below
     the sets' mean squared standard error: a step smaller than what one
     set can tell is not called when a few sets happen to agree closely.
Points are log costs, so a step is relative. A change point is named with
the set where the new level starts and what changed between it and the set
before (kernel, systemd, OpenSSL, nginx, the commit).

Sets of every kind are read: run sets give the cost of --metric, start-up
sets their start-up (or per-connection) costs, a directory of sets its
members; a set without costs (advise, syscost) or one that cannot be read
is skipped with a note. A series needs 2 x --min-sets sets before anything
can be called: with fewer, trend says so instead of "no change point". The
library is sblib.analysis.trend.
"""
import argparse
import sys

from sblib.analysis import results as rs
from sblib.analysis import stats as st
from sblib.analysis import trend as tr
from sblib.commands import _cli

HELP = "directive costs across many results directories over time, and their change points"
EXITS = {0: "no cost stepped (every series with sets enough tested)",
         1: "some cost stepped (CHANGE lines)",
         2: "bad input: an option, or not one set that could be read",
         5: "too few sets to call anything (2 x --min-sets per series); --allow-empty makes "
            "it 0"}


def main(argv):
    p = _cli.parser("sandbench trend", __doc__)
    p.epilog = _cli.exit_text(EXITS)
    p.add_argument("sets", metavar="SET", nargs="+", help="results sets, any order")
    p.add_argument("--metric", default="cpu_ns_per_req", choices=tr.TREND_METRICS,
                   help="whose cost in run sets (default cpu_ns_per_req)")
    p.add_argument("--p", type=float, default=0.001, dest="p_max",
                   help="t-test p-value below which a split is a change point (default 0.001)")
    p.add_argument("--min-sets", type=int, default=2,
                   help="sets on each side of a change point at least (default 2)")
    p.add_argument("--min-change", type=float, default=1.0, metavar="PCT",
                   help="smallest step named, in percent of the cost (default 1)")
    p.add_argument("--allow-empty", action="store_true",
                   help="exit 0, not 5, when there were too few sets to call anything")
    _cli.add_json(p)
    p.add_argument("--format", choices=["text", "json"],
                   help="old spelling: --format json is --json")
    p.add_argument("--resamples", type=int, default=st.RESAMPLES, help=argparse.SUPPRESS)
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    if args.format == "json":
        print("sandbench trend: --format json is now --json", file=sys.stderr)
        args.json = True
    if not 0 < args.p_max < 1 or args.min_sets < 1 or not 0 <= args.min_change < 1e6:
        print("sandbench trend: want 0 < --p < 1, --min-sets >= 1, --min-change >= 0",
              file=sys.stderr)
        return 2
    tty = sys.stderr.isatty()

    def progress(done, total):
        if tty:
            sys.stderr.write(f"\rsandbench trend: reading sets: {done}/{total}\033[K"
                             + ("\r\033[K" if done == total else ""))
            sys.stderr.flush()
    sets, skipped = tr.load_sets(args.sets, args.resamples, progress)
    if not sets:
        for path, why in skipped:
            print(f"sandbench trend: {path}: {why}", file=sys.stderr)
        print("sandbench trend: no set with costs to read", file=sys.stderr)
        return 2
    t = tr.trend(sets, args.metric, args.p_max, args.min_sets, args.min_change / 100.0,
                 skipped)
    if not _cli.emit_json(t, args):
        rs.emit("\n".join(tr.render_text(t)))
    if any(k["changes"] for k in t["kinds"]):
        return 1
    return 0 if tr.called(t) or args.allow_empty else 5
