"""sandbench startup: what each directive adds to a service's start-up and,
for an inetd-style service (Accept=yes, a unit start per connection), to
every connection, as changes against the baseline with 95% intervals; and
with --host-mounts, how those grow with the host's mount count. See
scripts/docs/measuring.md, `sandbench startup`.

    sandbench startup --servers activated --profile quick --reps 40
    sandbench startup --servers inetd --directives private-tmp-yes --reps 12
    sandbench startup --servers activated --directives protect-home-yes \\
        --host-mounts 0,250,1000,2000 --reps 8

With --resume DIR an interrupted measurement (Ctrl-C, SIGTERM, SIGKILL, its
container gone, the disk full) goes on where it stopped, with its own
options: every round measures only the samples it does not hold yet. It
refuses, naming the field, when this tree's code, the directive files or
the plan differ from the measurement's; startup.json says the command
that resumes it.

The measurement itself is sblib.measuring.startup.
"""
import json
import os
import re
import sys
import time

from sblib import catalogue as cat
from sblib import util
from sblib.analysis import cliffs as _cliffs
from sblib.commands._cli import Usage, exit_text, parser
from sblib.measuring import life
from sblib.measuring import releases
from sblib.measuring import resume, startup
from sblib.report import core as report
from sblib.records import schema

HELP = "start-up and per-connection cost per directive, with intervals (and a host-mount sweep)"

EXITS = {0: "measured (or --analyse analysed DIR again)",
         1: "failed: the host, or a baseline that did not start (what was measured is kept)",
         2: "bad usage: options, --out, --analyse DIR, not root, a server not built, or "
            "--resume of a directory holding no interrupted measurement",
         3: "--resume refused: the code, the directive files or the plan differ from the "
            "measurement's (the field is named)",
         **life.EXIT_HELP}


def parse_args(argv):
    D = startup.DEFAULTS
    ap = parser("sandbench startup", __doc__.split("\n\n")[0])
    ap.epilog = exit_text(EXITS)
    ap.add_argument("--servers", default="activated",
                    help="comma list of drop, activated, proxied (start-up) and inetd "
                         "(per connection) (default activated)")
    ap.add_argument("--profile", help="a profile of units/profiles (default: quick)")
    ap.add_argument("--directives", help="comma list of catalogue directives (each alone)")
    ap.add_argument("--unit", help="measure this unit file instead of the reference servers")
    ap.add_argument("--url", help="with --unit: the URL it answers on")
    ap.add_argument("--reps", type=int, default=40,
                    help="rounds per mount count: each holds every variant once and the "
                         "baseline sqrt(k) times (default 40)")
    ap.add_argument("--host-mounts", default="0",
                    help="comma list of mount counts to make under /home in the sandbox host "
                         "before measuring (default 0: none added); removed afterwards")
    ap.add_argument("--connections", type=int, default=D["connections"],
                    help="inetd: connections per sample (default 20)")
    ap.add_argument("--concurrency", type=int, default=D["concurrency"],
                    help="inetd: connections at a time (default 1)")
    ap.add_argument("--start-timeout", type=float, default=D["start_timeout"],
                    help="seconds a start may take to answer; a variant that takes longer is "
                         "not started again at that mount count or above (default 30)")
    ap.add_argument("--time-limit", type=float,
                    help="minutes after which no new round starts (the host is shared)")
    ap.add_argument("--seed", type=int, help="order seed (default: from the clock; recorded)")
    ap.add_argument("--out", help="results directory (default results/runs/<UTC>-startup); an "
                          "existing run's directory gets the start-up files beside its own")
    ap.add_argument("--server-cpu", type=int, default=D["server_cpu"],
                    help="CPU the units are pinned to")
    ap.add_argument("--loadgen-cpu", type=int, default=D["loadgen_cpu"],
                    help="CPU loadgen runs on (inetd)")
    ap.add_argument("--name", default="sandbench", help="sandbox host name")
    ap.add_argument("--lock-timeout", type=float, default=300)
    releases.add_options(ap)
    ap.add_argument("--no-report", action="store_true", help="skip sandbench report at the end")
    ap.add_argument("--resume", metavar="DIR",
                    help="go on with the interrupted measurement in DIR where it stopped (its "
                         "own options; any given must plan the same measurement)")
    ap.add_argument("--analyse", metavar="DIR",
                    help="measure nothing: analyse DIR's startup.jsonl again (this version's "
                         "statistics) into its startup.json, and write its report")
    return ap.parse_args(argv)


def build_spec(a):
    servers = [s for s in a.servers.split(",") if s]
    if bool(a.unit) != bool(a.url):
        raise Usage("--unit and --url go together")
    if a.unit:
        if not os.path.isfile(a.unit):
            raise Usage(f"--unit: no such file '{a.unit}'")
        if not re.match(r"^https?://[^/]+", a.url):
            raise Usage(f"--url must be http(s)://HOST:PORT/...: '{a.url}'")
        servers = ["unit"]
    for s in servers:
        if s not in cat.SERVERS and s != "unit":
            raise Usage(cat.unknown("server", s, list(cat.SERVERS)))
    if not servers or len(set(servers)) != len(servers):
        raise Usage("--servers: name each server once")
    if a.profile is not None and a.directives is not None:
        raise Usage("give --profile or --directives, not both")
    if a.directives is not None:
        dirs = [d.strip() for d in a.directives.split(",") if d.strip()]
        if not dirs:
            raise Usage("--directives is empty")
        for d in dirs:
            cat.load_directive(d)
        combos = []
    else:
        dirs, combos = cat.load_profile(a.profile or "quick")
    try:
        mounts = [int(x) for x in a.host_mounts.split(",") if x.strip()]
    except ValueError:
        raise Usage(f"--host-mounts must be a comma list of counts: '{a.host_mounts}'") from None
    if not mounts or any(m < 0 or m > 20000 for m in mounts) or len(set(mounts)) != len(mounts):
        raise Usage("--host-mounts: distinct counts 0..20000")
    if not 1 <= a.reps <= 10000:
        raise Usage("--reps must be 1..10000")
    if not 1 <= a.connections <= 1000 or not 1 <= a.concurrency <= a.connections:
        raise Usage("--connections must be 1..1000 and --concurrency 1..--connections")
    if not 0.5 <= a.start_timeout <= 600:
        raise Usage("--start-timeout must be 0.5..600 seconds")
    try:
        releases.check_options(a)
    except ValueError as e:
        raise Usage(str(e)) from None
    seed = a.seed if a.seed is not None else int(time.time() * 1000) % 1000003
    return {"schema": schema.tag("startup-spec"), "seed": seed, "servers": servers,
            "profile": None if a.directives is not None else (a.profile or "quick"),
            "directives": dirs, "combines": [[n, ds] for n, ds in combos],
            "reps": a.reps, "host_mounts": mounts, "connections": a.connections,
            "concurrency": a.concurrency, "start_timeout": a.start_timeout,
            "time_limit_min": a.time_limit,
            "unit": os.path.basename(a.unit) if a.unit else None, "url": a.url,
            "pinning": {"server_cpu": a.server_cpu, "loadgen_cpu": a.loadgen_cpu}}



def check_built(spec):
    """Raises Usage unless this process is root and SPEC's servers (and
    loadgen for inetd) are built; the load generator's path."""
    if os.geteuid() != 0:
        raise Usage("must run as root (it boots/uses systemd)")
    loadgen = os.path.join(util.repo_root(), "build", "bin", "loadgen")
    progs = sorted({cat.SERVERS[s]["program"] for s in spec["servers"] if s != "unit"})
    miss = [p for p in progs + (["loadgen"] if "inetd" in spec["servers"] else [])
            if not os.access(os.path.join(util.repo_root(), "build", "bin", p), os.X_OK)]
    if miss:
        raise Usage(f"not built: {', '.join(miss)} (make)")
    return loadgen


def open_out(a):
    """The results directory (--out, or a new one), created; raises Usage
    when it holds start-up results already or cannot be made."""
    out = a.out or os.path.join(util.repo_root(), "results", "runs",
                                time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-startup")
    if os.path.exists(os.path.join(out, "startup.jsonl")):
        raise Usage(f"{out} already holds start-up results; choose another --out")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise Usage(f"--out {out}: {e.strerror or e}") from None
    return out


def say(line):
    print(f"sandbench startup: {line}", file=sys.stderr)


def write_report(out):
    report.write_report(out)
    print(f"sandbench startup: wrote {os.path.join(out, 'report.md')} and report.html")


def main(argv):
    a = parse_args(argv)
    if a.analyse:
        try:
            groups = startup.reanalyse(a.analyse)
        except (OSError, ValueError, KeyError) as e:
            say(f"--analyse {a.analyse}: not a start-up results directory ({e})")
            return 2
        for g in groups:
            for line in startup.summary_lines(g):
                print(line)
        if not a.no_report:
            write_report(a.analyse)
        return 0
    if a.resume:
        return resume_dir(a, argv)
    try:
        spec = build_spec(a)
        loadgen = check_built(spec)
        out = open_out(a)
    except (Usage, cat.CatalogueError) as e:
        say(str(e))
        return 2
    return finish(a, out, *startup.measure_dir(a, spec, out, argv, loadgen, say))


def resume_dir(a, argv):
    """startup --resume DIR: the interrupted measurement in DIR planned again
    from its own options (and ARGV's), checked against what it was made
    with (resume.check: exit 3 naming the field), and measured on from
    where it stopped."""
    out = a.resume
    try:
        if a.out is not None:
            raise Usage("--resume goes on in the measurement's own directory; --out is for a "
                        "new one")
        recorded, _ = resume.startup_interrupted(out)
        a = parse_args(resume.resume_argv(recorded.get("argv"), argv))
        if a.seed is None:
            a.seed = recorded.get("seed")
        spec = build_spec(a)
        loadgen = check_built(spec)
    except (Usage, ValueError, cat.CatalogueError) as e:
        say(str(e))
        return 2
    try:
        resume.check(recorded, spec, resume.code_identity(),
                     resume.startup_digests(spec, a.unit))
    except resume.Refused as e:
        say(f"--resume {out} refused: {e}")
        return 3
    spec.update({k: recorded[k] for k in resume.RUN_FIELDS if k in recorded})
    past = resume.startup_samples(out, say)
    say(f"resuming: {len(past)} samples kept")
    return finish(a, out, *startup.measure_dir(a, spec, out, argv, loadgen, say, past=past))


def finish(a, out, state, groups):
    """Prints the analysed GROUPS of the measurement in OUT that ended in
    STATE, writes its report when it is complete; its exit status."""
    for g in groups:
        for line in startup.summary_lines(g):
            print(line)
    for name, text in _cliffs.known(read_env(out)):
        print(f"cliff {name}: {text}")
    print(f"\nresults: {out}")
    if state == "complete" and not a.no_report:
        try:
            write_report(out)
        except Exception as e:  # noqa: BLE001 - the data is safe already
            say(f"report failed: {e}")
    return life.exit_status(state)


def read_env(out):
    try:
        with open(os.path.join(out, "env.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
