"""sandbench compare BASE NEW: the regression gate a CI job runs.

By default the gate judges what each set measures about itself, so that two
machines, or one machine on two days, can be compared: each directive's cost
against the same set's baseline (run sets: CPU per request and req/s;
start-up sets: start-up, or CPU per connection and connections/s), and how
it moved, NEW's cost over BASE's with a 95% interval combined from the two
sets' own intervals; exposure that rose; a variant that worked in BASE and
fails in NEW; coverage (what BASE measured and NEW did not is "lost", a
failure unless --allow-missing). Advise sets are compared by the exposure
their drop-in reaches and by what they propose; syscost sets hold minima
without intervals, shown side by side and never called a change; a
directory of sets is compared member by member. Absolute figures move with
the machine and gate only with --absolute, then with intervals.

No change is called from fewer than 3 samples on a side or from an
interval of zero width: such comparisons are "not comparable (n<3 / no
interval)" and counted apart; when nothing at all was compared the exit is
5 unless --allow-empty.

Run sets are read through the one analysis the report makes: a set's
analysis.json is reused when it records that it is the analysis of exactly
these slices, else the set is analysed here (progress on a terminal).

Calibration controls (spec.json "expect", catalogue "calibration: yes") are
never regressions; a control with a known answer that NEW measures at
neither its answer nor what BASE measured makes the comparison invalid.
The library is sblib.analysis.compare (and compare_text for the outputs).
"""
import argparse
import math
import os
import sys

from sblib.analysis import compare as cmp
from sblib.analysis import compare_text as out_
from sblib.analysis import results as rs
from sblib.analysis import stats as st
from sblib.commands import _cli

HELP = "the CI gate: compare two results sets; exit 1 on a regression or lost coverage"
EXITS = {
    0: "pass: nothing regressed, nothing lost",
    1: "regression: a cost (or with --absolute a figure) significantly worse by more than "
       "the threshold, exposure up, a variant stopped working, or coverage lost",
    2: "bad input: a set missing or malformed, sets of different kinds, BASE with nothing "
       "measured, a bad option",
    3: "invalid: a calibration control in NEW disagrees with its known answer and with BASE",
    4: "incomplete: NEW is not a complete run; not gated without --allow-incomplete",
    5: "empty: nothing was comparable (n<3 or no interval everywhere); --allow-empty "
       "makes it 0",
}
FORMATS = ("text", "markdown", "junit", "json")
THRESHOLD_MAX = 1000.0


def parse_args(argv):
    argv = _old_json_file(list(argv))
    p = _cli.parser("sandbench compare", __doc__)
    p.epilog = _cli.exit_text(EXITS) + (
        "\n\nExamples:\n  sandbench compare results/published/REF results/runs/NEW\n"
        "  sandbench compare REF NEW --format junit:compare.xml "
        "--format markdown:\"$GITHUB_STEP_SUMMARY\" --json-out compare.json")
    p.add_argument("base", metavar="BASE", help="the reference set (a results directory)")
    p.add_argument("new", metavar="NEW", help="the set under test")
    p.add_argument("--threshold", type=float, default=5.0, metavar="PCT",
                   help="smallest significant change, in percent, that counts as a regression "
                        f"(default 5; 0 <= PCT < {THRESHOLD_MAX:g})")
    p.add_argument("--metrics", metavar="M,M",
                   help="what gates: costs of cpu_ns_per_req,rps (start-up sets: total_ms, "
                        "or cpu_per_conn_ms,conns_per_s) by default; with --absolute any of "
                        + ",".join(cmp.ABS_METRICS))
    p.add_argument("--absolute", action="store_true",
                   help="also gate on absolute figures (CPU per request, req/s, latency, "
                        "start-up; they move with the machine), each with its interval")
    p.add_argument("--costs-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--allow-missing", action="store_true",
                   help="coverage of BASE lost in NEW (a variant, server or mode missing, or "
                        "measured only by failed slices) is listed, not a failure")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="gate an incomplete or interrupted NEW on what it measured")
    p.add_argument("--allow-empty", action="store_true",
                   help="exit 0, not 5, when nothing was comparable")
    p.add_argument("--reanalyse", action="store_true",
                   help="analyse both sets here even where analysis.json is theirs")
    p.add_argument("--format", action="append", metavar="FMT[:FILE]",
                   help="text (default), markdown (for a CI job's summary page) or junit; to "
                        "FILE, '-' or none for standard output; repeat for several (json is "
                        "the old spelling of --json / --json-out FILE)")
    _cli.add_json(p)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="text: every comparison with each side's n and interval, and p")
    p.add_argument("--resamples", type=int, default=st.RESAMPLES, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _old_json_file(argv):
    """`--json FILE` (before the JSON convention) is `--json-out FILE`, with a
    note; `--json` alone prints the JSON to stdout."""
    for i, a in enumerate(argv[:-1]):
        nxt = argv[i + 1]
        if a == "--json" and not nxt.startswith("-") and not os.path.isdir(nxt) \
                and sum(1 for x in argv if not x.startswith("-")) > 2:
            print("sandbench compare: --json FILE is now --json-out FILE (--json prints the "
                  "JSON to stdout)", file=sys.stderr)
            return argv[:i] + ["--json-out"] + argv[i + 1:]
    return argv


def outputs(args):
    """[(format, file or None for stdout)] of --format; folds --format json
    into --json / --json-out. Raises cmp.CompareError."""
    outs = []
    for s in args.format or []:
        fmt, _, path = s.partition(":")
        if fmt not in FORMATS:
            raise cmp.CompareError(f"--format {s!r}: want one of text, markdown, junit[:FILE]")
        path = None if path in ("", "-") else path
        if fmt == "json":
            print(f"sandbench compare: --format {s} is now "
                  + (f"--json-out {path}" if path else "--json"), file=sys.stderr)
            if path:
                args.json_out = path
            else:
                args.json = True
            continue
        outs.append((fmt, path))
    if not outs and not args.json:
        outs = [("text", None)]
    if sum(1 for _, p in outs if p is None) + bool(args.json) > 1:
        raise cmp.CompareError("only one output can go to standard output (--json or one "
                               "--format without a FILE); give the others a FILE")
    return outs


def check_threshold(t):
    if not math.isfinite(t) or not 0 <= t < THRESHOLD_MAX:
        raise cmp.CompareError(
            f"--threshold {t:g}: want a percentage from 0 up to (not including) "
            f"{THRESHOLD_MAX:g}, e.g. 5 for 5%: a significant change larger than it is a "
            f"regression, 0 gates every significant change; at {THRESHOLD_MAX:g}% only a "
            "cost eleven times BASE's would count (and req/s cannot fall by more than 100%), "
            "which gates nothing")


def check_metrics(text, absolute):
    if not text:
        return None
    metrics = [m.strip() for m in text.split(",") if m.strip()]
    known = cmp.ABS_METRICS if absolute else \
        cmp.COST_METRICS + ["p50", "p99", "p99.9"] + cmp.STARTUP_METRICS
    bad = [m for m in metrics if m not in known]
    if bad:
        raise cmp.CompareError(f"unknown metric(s) {', '.join(bad)}; valid"
                               + ("" if absolute else " without --absolute") + ": "
                               + ", ".join(known))
    return metrics


class Progress:
    """A one-line progress meter on standard error when it is a terminal."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.on = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = None

    def __call__(self, what, done, total):
        if not self.on:
            return
        pct = 100 * done // max(total, 1)
        if (what, pct) == self.last and done != total:
            return
        self.last = (what, pct)
        self.stream.write(f"\rsandbench compare: {what}: {done}/{total} ({pct}%)\033[K")
        if done == total:
            self.stream.write("\r\033[K")
        self.stream.flush()

    def say(self, text):
        if self.on:
            self.stream.write(f"\rsandbench compare: {text}\033[K")
            self.stream.flush()

    def clear(self):
        self.say("")
        if self.on:
            self.stream.write("\r\033[K")


def loader(args, progress):
    """load(path, name): a set of any kind, a run's analysed (or its
    analysis.json reused)."""
    def load(path, name):
        progress.say(f"{name}: reading {path}")
        return cmp.load_side(path, name, args.resamples, not args.reanalyse,
                             lambda d, t: progress(f"analysing {name} ({path})", d, t),
                             analyse_incomplete=name != "NEW" or args.allow_incomplete)
    return load


def write(fmt, path, lines):
    text = "\n".join(lines)
    if path is None:
        rs.emit(text)
        return
    # a GitHub job summary collects what every command of the step wrote
    append = path == os.environ.get("GITHUB_STEP_SUMMARY")
    with open(path, "a" if append else "w", encoding="utf-8") as f:
        f.write(text + "\n")


def main(argv):
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else cmp.BAD
    progress = Progress()
    try:
        outs = outputs(args)
        check_threshold(args.threshold)
        metrics = check_metrics(args.metrics, args.absolute)
        load = loader(args, progress)
        a, b = load(args.base, "BASE"), load(args.new, "NEW")
        if a["kinds"] == ["run"] and not cmp.costs_of(a["res"], a["analysis"]):
            raise cmp.CompareError(f"BASE {args.base} has no directive cost measured (every "
                                   "slice failed, or no baseline?): nothing to gate against")
        result = cmp.jsonable(cmp.compare_sides(
            a, b, load, args.threshold / 100.0, metrics, args.absolute, args.allow_missing,
            args.allow_incomplete, args.allow_empty, args.resamples, progress))
    except (cmp.CompareError, rs.ResultsError) as e:
        progress.clear()
        print(f"sandbench compare: {e}", file=sys.stderr)
        return cmp.BAD
    progress.clear()
    try:
        _cli.emit_json(result, args)
        for fmt, path in outs:
            write(fmt, path, out_.RENDER[fmt](result, args.verbose) if fmt == "text"
                  else out_.RENDER[fmt](result))
    except OSError as e:
        print(f"sandbench compare: cannot write {e.filename}: {e.strerror}", file=sys.stderr)
        return cmp.BAD
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in out_.annotations(result):
            print(line, file=sys.stderr)
    return result["exit"]
