"""sandbench report DIR: the report of a results directory (sblib.report)."""
import os
import sys

from sblib.analysis import results as rs
from sblib.commands import _cli
from sblib.report.core import write_report

HELP = "write report.md, report.html and plots for a results directory"
EXITS = {0: "written (a plot gnuplot could not draw is named on stderr)",
         2: "bad input: DIR missing or malformed, nothing measured, or a bad option"}


def main(argv):
    p = _cli.parser("sandbench report", HELP, EXITS)
    p.add_argument("dir", metavar="DIR", help="a results directory (see results/README.md)")
    p.add_argument("--no-plots", action="store_true", help="tables only, no gnuplot")
    p.add_argument("--raw", action="store_true",
                   help="no drift correction: every slice as measured (see the report's noise "
                        "floor section)")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    try:
        _, _, pl = write_report(args.dir, plots=not args.no_plots, drift=not args.raw)
    except rs.ResultsError as e:
        print(f"sandbench report: {e}", file=sys.stderr)
        return 2
    if pl and pl.get("error"):
        print(f"sandbench report: {pl['error']}", file=sys.stderr)
    print(f"sandbench report: wrote {os.path.join(args.dir, 'report.md')} and report.html")
    return 0
