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

The library part is sblib.analysis.merging; this is the command.
"""
import shutil
import sys

from sblib.analysis import merging
from sblib.analysis import results as rs
from sblib.commands import _cli
from sblib.report import core as report

HELP = "join finished runs of one matrix (different seeds) into one results directory"
EXITS = {1: "with --require-narrower: a merged interval came out wider (nothing written)",
         2: "bad input: a source missing, unfinished or of another matrix, two sources "
            "with one seed, OUT exists, or OUT cannot be written"}


def group_widths(analysis):
    """{(server, mode): (median CPU interval half-width, A/A floor)}, as
    fractions (None where there is none)."""
    return {(g["server"], g["mode"]): (report.interval_width(g), g.get("floor"))
            for g in analysis["groups"]}


def merge(out, paths, plots=True, write_report=True, require_narrower=False):
    """Writes the merged set into OUT. Returns (slices, rounds, epochs,
    mixed verdicts, width rows (see merging.compare_widths)); raises
    merging.Wider, with nothing written, when REQUIRE_NARROWER and an
    interval grew."""
    n, rounds, epochs, mixed = merging.write_merged(out, paths)
    try:
        merged = merging.analysed(out)
        rows = merging.compare_widths(group_widths(merging.analysed(paths[0])[1]),
                                      group_widths(merged[1]))
        if require_narrower and any(r[-1] for r in rows):
            raise merging.Wider(rows)
        if write_report:
            report.write_report(out, plots=plots, analysed=merged)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return n, rounds, epochs, mixed, rows


def main(argv):
    ap = _cli.parser("sandbench merge", __doc__)
    ap.epilog = _cli.exit_text(EXITS)
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
    except merging.Wider as e:
        print("\n".join(merging.width_lines(e.widths)), file=sys.stderr)
        print(f"sandbench merge: the merged set is wider than {a.src[0]} (marked WIDER): "
              f"nothing written", file=sys.stderr)
        return 1
    except (merging.MergeError, rs.ResultsError, OSError) as e:
        print(f"sandbench merge: {e}", file=sys.stderr)
        return 2
    if mixed:
        print(f"sandbench merge: the runs' evidence disagrees on {len(mixed)} "
              f"verdict(s), marked not applied in the merged set: {', '.join(mixed[:8])}"
              + (" …" if len(mixed) > 8 else ""), file=sys.stderr)
    print("\n".join(merging.width_lines(rows)))
    print(f"sandbench merge: {len(a.src)} sources, {n} slices, {rounds} rounds in {epochs} epochs; "
          f"wrote {a.out}" + ("" if a.no_report else " with its report"))
    return 0
