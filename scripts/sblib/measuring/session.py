"""A `sandbench run` from its plan to its results directory, for `run` and
advise's cost run alike: the results directory opened (open_results), the
run measured in the sandbox host whatever its end (measure: spec.json,
env.json, the matrix, start-up beside it if asked, variants.json,
summary.json/.csv, status.json) and its summary as text (summary_lines)."""
import collections
import os
import sys

from sblib import catalogue as cat
from sblib import util
from sblib.analysis import results as rs
from sblib.analysis.summary import write_summary
from sblib.measuring import collect as coll
from sblib.measuring import host as _host
from sblib.measuring import kernel
from sblib.measuring import life
from sblib.measuring import releases
from sblib.measuring import resume
from sblib.measuring import startup
from sblib.measuring.runner import BaselineFailed, Runner, Stalled, baseline_failure
from sblib.measuring.runplan import PlanError
from sblib.records import status as status_mod
from sblib.records import store
from sblib.records.model import ResultsError
from sblib.records.writer import Results, now_iso

End = collections.namedtuple("End", "state rows aa analysed variants path startup")
End.__doc__ = """How a run ended: STATE (complete, interrupted, busy, failed, stalled),
the summary's ROWS and AA, ANALYSED (what the report is written from; None
when nothing could be analysed), the VARIANTS' records, its results
directory PATH, and the STARTUP groups measured beside it."""


def say(line):
    """A message of the run (stderr)."""
    print(f"sandbench run: {line}", file=sys.stderr)


def loadgen_path(given):
    """(the load generator's path, None) when this process is root and the
    load generator (GIVEN, or build/bin/loadgen) is built; else (None, why)."""
    if os.geteuid() != 0:
        return None, "must run as root (it boots/uses systemd)"
    loadgen = given or os.path.join(util.repo_root(), "build", "bin", "loadgen")
    if not os.access(loadgen, os.X_OK):
        return None, f"load generator {loadgen} not built (make)"
    return loadgen, None


def fixed_ports(spec):
    """True when SPEC runs a unit one at a time on its own port (which no
    port range holds: sblib.measuring.ports); the reference servers and
    copies side by side listen in their host's range or namespaces."""
    uu = spec.get("user_unit")
    return bool(uu) and uu.get("copies") not in ("netns", "ports")


def recorded(spec):
    """SPEC as spec.json holds it (without the slice order's tuples)."""
    return {k: v for k, v in spec.items() if k != "_order"}


def open_results(out):
    """The results directory of a new run, created if need be (before the
    host is booted). Raises PlanError, with one line to print, when OUT
    already holds results or cannot be a directory we write in."""
    if any(os.path.isfile(os.path.join(out, f)) and os.path.getsize(os.path.join(out, f)) > 0
           for f in rs.RUNS_FILES):
        raise PlanError(f"{out} already holds results; choose another --out")
    try:
        return Results(out)
    except OSError as e:
        why = e.strerror or str(e)
        if isinstance(e, FileExistsError):
            why = "it exists and is not a directory"
        elif isinstance(e, NotADirectoryError):
            why = "a part of the path is a file, not a directory"
        raise PlanError(f"--out {out}: cannot write the results there ({why})") from None


def interrupted_run(path):
    """(spec.json, status.json) of the interrupted run in PATH, read, not
    changed. Raises PlanError when PATH holds no run to resume: none at
    all, one still running, or one that is complete."""
    try:
        spec = store.read_json(os.path.join(path, "spec.json"), required=True)
        status = store.read_json(os.path.join(path, "status.json")) or {}
        store.runs_file(path)
    except ResultsError as e:
        raise PlanError(f"--resume {path}: no run to resume ({e})") from None
    status = status_mod.settle_state(status)
    why = resume.not_resumable(path, status, "run")
    if why:
        raise PlanError(why)
    return spec, status


def reopen(path, status, say=say):
    """(Results to go on appending to, PAST for Runner) of the interrupted
    run in PATH whose status.json is STATUS (interrupted_run): what a kill
    left half-written removed first (said)."""
    res, notes = Results.reopen(path)
    for line in notes:
        say(line)
    past = {"runs": store.read_runs(store.runs_file(path)),
            "variants": store.read_json(os.path.join(path, "variants.json")) or {},
            "epochs_done": status.get("epochs_done") or {},
            "resumes": status.get("resumes") or []}
    return res, past


def measure(a, spec, res, argv, loadgen, say=say, host=None, past=None, recorded_spec=None):
    """Measures SPEC (runplan.build_plan(A)) into RES (open_results()) as the
    parsed run options A say; ARGV (run's options) is recorded in spec.json.
    Boots the sandbox host A.name, and takes it down at the end, unless HOST
    (a host that is up) is given. An interrupt (SIGINT, SIGTERM), a host
    that fails, a baseline that fails and a stalled run end it with what was
    measured so far written, and the command that resumes it said. With
    PAST (reopen()) and RECORDED_SPEC (its spec.json) the interrupted run
    goes on with what is left of its plan. SAY(line) takes the messages.
    Returns an End."""
    if past is None:
        spec["created"] = now_iso()
        spec["commit"] = util.commit()
        spec["argv"] = ["run"] + list(argv)
        spec["code"] = resume.code_identity()
        spec["catalogue_sha256"] = resume.catalogue_digests(spec)
        res.write("spec.json", recorded(spec))
    else:
        spec.update({k: recorded_spec[k] for k in resume.RUN_FIELDS if k in recorded_spec})
        res.more["resumes"] = past["resumes"] + [{"at": now_iso(), "runs_done": res.done}]
    res.more.update(resume.status_fields(spec, (past or {}).get("epochs_done") or {},
                                         resume.recorded_keys((past or {}).get("runs") or [],
                                                              spec), res.path))
    res.planned = res.done + res.more["left"]["runs"]
    res.status("running")
    booted = runner = unwritable = None
    groups = []
    state = "interrupted"
    with life.interruptible():
        try:
            fac = kernel.facilities()
            if host is None:
                host = booted = _host.up(a.name, owner=os.getpid(), lock_timeout=a.lock_timeout,
                                         fixed_ports=fixed_ports(spec), **releases.host_args(a))
            if past is None or not os.path.exists(os.path.join(res.path, "env.json")):
                res.write("env.json", coll.environment(host, fac))
            say(f"{len(spec['variants'])} variants, {len(spec['_order'])} slices of "
                f"{a.duration:g}s, seed {spec['seed']}, host {host.mode}, results in {res.path}")
            runner = Runner(a, spec, host, res, loadgen, fac, past)
            if past is not None:
                left = res.more["left"]
                say(f"resuming: {res.done} records kept; left: {left['windows']} windows and "
                    f"{left['slices']} slices in " + (", ".join(
                        f"{s} epochs {', '.join(str(e + 1) for e in es)}"
                        for s, es in left["epochs"].items() if es) or "no epoch"))
            runner.run()
            if a.startup_reps > 0:
                groups = startup.beside_run(
                    host, res.path, {**spec, "_unit": a.unit and os.path.abspath(a.unit)},
                    a.startup_reps, loadgen, say)
            state = "complete"
        except KeyboardInterrupt:
            say("interrupted; cleaning up")
            state = "interrupted"
        except (_host.HostError, cat.CatalogueError) as e:
            say(str(e))
            state = "busy" if isinstance(e, _host.LockBusy) else "failed"
        except BaselineFailed as e:
            for line in baseline_failure(e.inst, host):
                say(line)
            if runner is not None:
                runner.variants[e.inst.id] = e.inst.record()
            state = "failed"
        except Stalled as e:
            say(f"{e}; the slices so far are kept in {res.path} (state \"stalled\")")
            state = "stalled"
        except OSError as e:
            # the results' disk full, say: whatever made it in is whole
            say(f"cannot write the results in {res.path}: {e}")
            state = unwritable = "failed"
        finally:
            with life.shielded():
                if runner is not None and getattr(runner, "current", None):
                    try:
                        runner.fleet.uninstall(runner.current)
                    except Exception as e:  # noqa: BLE001 - cleanup goes on
                        say(f"cleanup: {e}")
                if booted is not None and getattr(booted, "owned", False):
                    _host.down(host=booted)
    variants = runner.variants if runner else (past or {}).get("variants") or {}
    rows, aa, analysed = [], [], None
    try:
        if state == "complete":
            res.more.pop("resume", None)
        res.write("variants.json", variants)
        rows, aa, analysed = write_summary(res, spec, variants)
        res.status("failed" if state == "busy" else state)
    except OSError as e:
        # the disk full at the end: status.json still says running, which
        # reads as interrupted once this process is gone; a resume ends it
        if not unwritable:
            say(f"cannot write the results in {res.path}: {e}")
        state = "failed"
        res.more["resume"] = resume.command(res.path)
    if state != "complete":
        say(f"what was measured is kept; to go on where it stopped: {res.more['resume']}")
    res.runs.close()
    return End(state, rows, aa, analysed, variants, res.path, groups)


def summary_lines(end):
    """The text printed at a run's END: start-up measured beside it, the
    table of the summary, the variants that failed or whose directives were
    not in force, the A/A controls' noise floors, the results directory."""
    out = [line for g in end.startup for line in startup.summary_lines(g)]
    variants = end.variants
    st_ = {k: v.get("status") for k, v in variants.items()}
    if end.rows:
        out += [""] + list(rs.summary_table(end.rows, st_))
    bad = [(k, v) for k, v in variants.items() if v.get("status") not in ("ok", None)]
    if bad:
        out.append("")
        for k, v in bad:
            r = v.get("reason") or ""
            out.append(f"{k}: {v['status'].upper()}: {r if len(r) <= 240 else '…' + r[-240:]}")
    notapplied = [(k, d, v["applied_why"].get(d)) for k, v in variants.items()
                  for d, ok in (v.get("applied") or {}).items() if ok is False]
    if notapplied:
        out.append("")
        out += [f"{k}: NOT ENFORCED: {d}: {why}" for k, d, why in notapplied]
    out.append("")
    for x in end.aa:
        fl = "-" if x["floor"] is None else f"±{x['floor'] * 100:.2f}%"
        out.append(f"A/A control {x['server']} {x['mode']}: CPU per request noise floor {fl} "
                   f"({x['method']})")
    out += ["", f"results: {end.path}   (* a change above the noise; the report has the rest)"]
    return out
