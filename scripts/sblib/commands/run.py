"""sandbench run: the matrix runner (see results/README.md for what it writes).
The run itself is sblib.measuring: runplan (options, plan), runner (the
matrix), session (its life and results)."""
import json
import os
import sys
import time

from sblib import catalogue as cat
from sblib import util
from sblib.commands._cli import Usage, exit_text, parser
from sblib.measuring import life, releases, resume, runplan, session
from sblib.records import store
from sblib.report import core as report

HELP = "measure servers under directives side by side through real systemd"

DESC = """\
Runs each server under each directive through real systemd and measures it
against a baseline, side by side: every variant of a server (baseline, an A/A
copy of it, one instance per directive or combination) is started at once on
its own port, all pinned to the server CPU, and the load generator (pinned to
the other CPU) moves between them in short slices over many rounds, in a
seeded random order. Per slice it records the loadgen JSON and the unit
cgroup's CPU time per request (the primary metric); per variant the start-up
time, memory, sandbox evidence from /proc and systemd-analyze exposure. A
variant that fails to start is recorded as incompatible (with the journal's
reason), one that does not answer as a hang; the run goes on.

With --unit FILE --url URL any service can be measured, side by side like
ours: every copy of the unit (each variant, the A/A copy) runs in its own
network namespace with its ports and URL as written, and its own pid file
where its stop reads a fixed one (--copies netns, the default). A unit that
sets its own network namespace cannot be copied so: it runs one at a time
(restarted per variant and round) on the URL's port, and the run says why.
A variant with PrivateNetwork=yes of a plain service is refused there
(beside NetworkNamespacePath= it has no effect); --copies ports measures it
one at a time.

With --resume DIR an interrupted run (Ctrl-C, SIGTERM, SIGKILL, a reboot,
its container gone) goes on where it stopped, with its own options (given
ones are checked against them): the epochs it finished are kept, the one it
was in is measured again from its start in new places as an epoch of its
own, and the rest of its seeded plan follows. It refuses, naming the field,
when this tree's code (commit and uncommitted changes), the directive files
it measures or its plan differ from the run's. status.json says what is
left and the command that resumes it, which run prints when it stops early.
"""


EXITS = {0: "the run completed (or --dry-run printed its plan)",
         1: "failed: the host, a baseline, or a run that stalled (what was measured is kept)",
         2: "bad usage: options, --out, not root, servers or loadgen not built, or "
            "--resume of a directory holding no interrupted run",
         3: "--resume refused: the code, the catalogue's files or the plan differ from the "
            "run's (the field is named)",
         **life.EXIT_HELP}


def parse_args(argv):
    ap = parser("sandbench run", DESC)
    ap.epilog = exit_text(EXITS)
    ap.add_argument("--upgrade", metavar="FROM,TO[,...]",
                    help="measure the plan under two releases side by side (%s or "
                         "machine, e.g. bookworm,trixie): both sandbox hosts up at once, "
                         "windows loading FROM's and TO's baseline and variant at the same "
                         "moment; the directive x release matrix with each directive's change "
                         "in cost and the baseline's (the whole stack's) change. More than two "
                         "(bullseye,bookworm,trixie): each consecutive step so, one after the "
                         "other, in DIR/FROM-TO, and one matrix over the chain in DIR"
                         % ", ".join(releases.RELEASES))
    ap.add_argument("--resume", metavar="DIR",
                    help="go on with the interrupted run in DIR where it stopped (its own "
                         "options; any given must plan the same run)")
    return runplan.add_options(ap).parse_args(argv)


def check_release_options(a):
    """Raises Usage (PlanError: a bad --upgrade chain) where --install,
    --release, --root and --upgrade do not go together."""
    try:
        releases.check_options(a)
    except ValueError as e:
        raise Usage(str(e)) from None
    if a.upgrade:
        from sblib.measuring import upgrade_plan
        upgrade_plan.parse_chain(a.upgrade)     # PlanError: a bad chain before any plan


def check_built(spec):
    """Raises Usage when the reference servers of SPEC lack a unit file or
    are not built."""
    missing = [u for s in spec["servers"] for u in cat.SERVERS[s]["units"]
               if not os.path.isfile(os.path.join(cat.UNITS, u))]
    if missing:
        raise Usage(f"unit files missing in units/: {', '.join(missing)}")
    progs = sorted({cat.SERVERS[s]["program"] for s in spec["servers"]})
    miss = [p for p in progs if not os.access(os.path.join(util.repo_root(), "build", "bin", p),
                                               os.X_OK)]
    if miss:
        raise Usage(f"servers not built: {', '.join(miss)} (make)")


def main(argv):
    a = parse_args(argv)
    if a.resume:
        return resume_run(a, argv)
    try:
        check_release_options(a)
        spec = runplan.build_plan(a)
        if a.dry_run:
            print(json.dumps(session.recorded(spec), indent=1))
            return 0
        loadgen, why = session.loadgen_path(a.loadgen)
        if loadgen is None:
            raise Usage(why)
        if not a.unit:
            check_built(spec)
        out = a.out or os.path.join(util.runs_dir(),
                                    time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
        if a.upgrade:
            return upgrade_run(a, argv, spec, loadgen, out)
        res = session.open_results(out)
    except (Usage, runplan.PlanError, cat.CatalogueError) as e:
        print(f"sandbench run: {e}", file=sys.stderr)
        return 2
    uu = spec.get("user_unit")
    if uu:
        print(f"sandbench run: {uu['target']}: copies "
              + ("side by side, each in its own network namespace" if uu["copies"] == "netns"
                 else "side by side on ports of their own" if uu["copies"] == "ports"
                 else "one at a time in isolated slices")
              + (f" ({uu['copies_why']})" if uu.get("copies_why") else ""), file=sys.stderr)
    return finish(a, session.measure(a, spec, res, argv, loadgen))


def finish(a, end):
    """Prints the summary of the run that ended so (END), writes its report
    when it is complete; its exit status."""
    for line in session.summary_lines(end):
        print(line)
    if getattr(a, "release", None) or getattr(a, "root", None):
        note = cat.STACK_NOTE.split(';')[0]
        if a.unit:
            note = note.replace("the servers built against them",
                                "the unit's own program as the release packages it")
        print(f"release {a.release or 'of ' + a.root}: each cost above is against this "
              f"release's own baseline; {note} (env.json names it"
              + (", and the --install packages' versions)" if a.install else ")"))
    if end.state == "complete" and not a.no_report and end.analysed:
        try:
            report.write_report(end.path, analysed=end.analysed)
            print(f"sandbench run: wrote {os.path.join(end.path, 'report.md')} and report.html")
        except Exception as e:  # noqa: BLE001 - the run's data is safe already
            print(f"sandbench run: report failed: {e}", file=sys.stderr)
    return life.exit_status(end.state)


def upgrade_run(a, argv, spec, loadgen, out):
    """run --upgrade A,B[,...] (sblib.measuring.upgrade) into OUT: its
    halves' reports, each step's matrix's and a chain's; its exit status."""
    from sblib.measuring import upgrade
    from sblib.report import upgrade as upgrade_report
    rc, steps = upgrade.measure(a, spec, argv, loadgen, out)
    if not a.no_report:
        for d, pair in steps:
            for rel in pair:
                try:
                    report.write_report(os.path.join(d, rel))
                except Exception as e:  # noqa: BLE001 - the run's data is safe already
                    print(f"sandbench run: report of {d}/{rel} failed: {e}", file=sys.stderr)
            if d != out:
                upgrade_report.write(d)
        if upgrade_report.write(out):
            print(f"sandbench run: wrote {os.path.join(out, 'report.md')} and report.html "
                  + (f"(the matrix; each release's own report in {out}/{steps[0][1][0]} and "
                     f"{steps[0][1][1]})" if len(steps) == 1 and steps[0][0] == out else
                     "(the chain's matrix; each step's own in its directory)"))
    return rc


def resume_run(a, argv):
    """run --resume DIR: the interrupted run in DIR planned again from its
    own options (and ARGV's), checked against what it was made with, and
    measured on from where it stopped."""
    path = a.resume
    try:
        if a.out is not None:
            raise Usage("--resume goes on in the run's own directory; --out is for a new run")
        recorded, status = session.interrupted_run(path)
        a = parse_args(resume.resume_argv(recorded.get("argv"), argv))
        check_release_options(a)
        if a.seed is None:
            a.seed = recorded.get("seed")
        spec = runplan.build_plan(a)
        if not a.dry_run:
            loadgen, why = session.loadgen_path(a.loadgen)
            if loadgen is None:
                raise Usage(why)
        if not a.unit:
            check_built(spec)
    except (Usage, runplan.PlanError, cat.CatalogueError) as e:
        print(f"sandbench run: {e}", file=sys.stderr)
        return 2
    try:
        resume.check(recorded, session.recorded(spec), resume.code_identity(),
                     resume.catalogue_digests(spec))
    except resume.Refused as e:
        print(f"sandbench run: --resume {path} refused: {e}", file=sys.stderr)
        return 3
    if a.dry_run:
        runs = store.read_runs(store.runs_file(path))
        print(json.dumps(resume.status_fields(spec, status.get("epochs_done") or {},
                                              resume.recorded_keys(runs, spec), path), indent=1))
        return 0
    res, past = session.reopen(path, status)
    return finish(a, session.measure(a, spec, res, argv, loadgen, past=past,
                                     recorded_spec=recorded))
