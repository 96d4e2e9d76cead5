"""sandbench advise: the most hardened drop-in a user's own service
tolerates, within a cost budget, found by trying each step in real systemd.

  1. the unit as written (the baseline) must start and answer, or advise
     stops at once (exit 1) with the journal's reason;
  2. compatibility: every catalogue directive alone must start, answer,
     survive a short load and answer again (a watchdog bounds each try);
  3. capabilities: the smallest CapabilityBoundingSet= the service runs
     with, found by dropping groups of capabilities and halving a group that
     fails (the manual search of the second source document, automated);
  4. the tolerated directives combined (per setting the strongest value that
     was tolerated) and verified together; when the whole fails, it is
     rebuilt one member at a time and a member that breaks it is rejected;
  5. a public service (decided from the addresses it listens on, or
     --public/--private) is never offered a directive that cuts its clients
     off (the catalogue's `public:` header);
  6. cost: `sandbench run` of the proposed drop-in and each member against
     the baseline, side by side; where the whole exceeds --budget, the
     exposure/cost frontier (the whole less its costliest 1, 2, 3 members,
     each started and costed) and the first point within it proposed;
  7. DIR/advice.conf (the drop-in), DIR/advice.md, DIR/advice.json.

With --check CMD, the user's own acceptance test runs after every try that
started and answered (each directive alone, its repairs, the capability
search, the combination and the final drop-in's verification): `sh -c CMD`
on this machine, in the directory advise was started from, inside the
try's network namespace (the sandbox host's when it has none), with the
try's URL in $SANDBENCH_URL and a short name of the try in $SANDBENCH_TRY.
Exit 0 passes; anything else, or --check-timeout seconds (its process
group is then ended), rejects the try as a failed start would, its exit
status and last 20 lines of output (stdout and stderr) the reason in
advice.json and advice.md. A check that fails against the unit as written
would reject everything: advise stops there (exit 3).
"""
import os
import sys

from sblib import catalogue as cat
from sblib.commands._cli import Usage, exit_text, parser
from sblib.measuring import advisor, life
from sblib.measuring import host as _host
from sblib.measuring import kernel
from sblib.measuring import unit as _unit
from sblib.measuring import usermgr
from sblib.measuring.runner import BaselineFailed, baseline_failure
from sblib.measuring.session import loadgen_path
from sblib.measuring.tries import CheckFailed

HELP = "propose the most hardened drop-in a unit tolerates, within a cost budget"

DESC = __doc__.split("\n", 2)[2].replace("\n  ", "\n") if __doc__ else HELP

EX_BASELINE = 1
EX_CHECK = 3
EXITS = {0: "advice written (--user: advice-user.md)",
         1: "the unit as written does not start or answer, or the host or the cost run failed",
         EX_CHECK: "--check fails against the unit as written (it would reject every try)",
         2: "bad usage: options, --cost-args, --out, not root, or loadgen not built",
         **life.EXIT_HELP}


def parse_args(argv):
    ap = parser("sandbench advise", DESC)
    ap.epilog = exit_text(EXITS)
    ap.add_argument("--unit", action="append", required=True,
                    help="the service's unit file; give it twice for a .socket and its service")
    ap.add_argument("--url", required=True, help="a URL the service answers on (2xx/3xx)")
    ap.add_argument("--out", required=True, help="directory for advice.conf/.md/.json")
    ap.add_argument("--budget", type=float, default=5.0,
                    help="the most CPU per request the drop-in may add, in %% of the baseline, "
                         "judged on the upper end of its 95%% interval (default 5)")
    pub = ap.add_mutually_exclusive_group()
    pub.add_argument("--public", dest="public", action="store_true", default=None,
                     help="clients come from other machines: never propose a directive that "
                          "cuts them off (default: decided from the addresses the service "
                          "listens on: anything but loopback is public)")
    pub.add_argument("--private", dest="public", action="store_false",
                     help="only local clients (loopback): loopback-only firewalls may be proposed")
    ap.add_argument("--directives",
                    help="try only these catalogue directives (comma list; default: the "
                         "whole catalogue but the calibration controls)")
    ap.add_argument("--load", type=float, default=0.5,
                    help="seconds of load each try must survive (default 0.5)")
    ap.add_argument("--start-timeout", type=float, default=10.0,
                    help="seconds for a try to answer before it counts as a hang (default 10)")
    ap.add_argument("--user", action="store_true",
                    help="a user service (systemctl --user): run it under a real user manager "
                         "and write which directives it can apply at all (advice-user.md/.json; "
                         "no drop-in, no cost: a user manager cannot drop capabilities, so "
                         "most sandboxing fails there)")
    ap.add_argument("--check", metavar="CMD",
                    help="your own acceptance test, run with `sh -c` after every try that "
                         "answered, in the try's network namespace, with $SANDBENCH_URL (the "
                         "try's URL) and $SANDBENCH_TRY (its name); any exit but 0 rejects "
                         "the try with the command's output as the reason")
    ap.add_argument("--check-timeout", type=float, default=30.0, metavar="S",
                    help="seconds the --check command may take before it is ended (its "
                         "process group) and the try rejected (default 30)")
    ap.add_argument("--no-cost", action="store_true",
                    help="skip the cost measurement (tolerance and exposure only)")
    ap.add_argument("--cost-args", default="",
                    help="extra `sandbench run` options for the cost step, e.g. "
                         "'--windows 24' (quoted as one argument)")
    ap.add_argument("--write-profile", metavar="FILE",
                    help="also write the proposal as a profile of catalogue directives "
                         "(how units/profiles/hardened-*.profile are made)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--server-cpu", type=int, default=1)
    ap.add_argument("--loadgen-cpu", type=int, default=0)
    ap.add_argument("--loadgen", help="load generator binary (default build/bin/loadgen)")
    ap.add_argument("--name", default="sandbench", help="sandbox host name")
    ap.add_argument("--lock-timeout", type=float, default=300)
    return ap.parse_args(argv)


def check(a):
    """The unit's spec and the load generator's path; raises Usage (or
    CatalogueError) when the options cannot be advised on."""
    if a.budget < 0 or a.load <= 0 or a.start_timeout <= 0:
        raise Usage("--budget must be >= 0, --load and --start-timeout > 0")
    if a.check is not None and not a.check.strip():
        raise Usage("--check needs a command")
    if not 0 < a.check_timeout < float("inf"):
        raise Usage("--check-timeout must be > 0")
    if a.check and a.user:
        raise Usage("--check is for the tries of a drop-in; --user makes none")
    a.check_cwd = os.getcwd()
    try:
        uspec = _unit.server_spec(a.unit, a.url)
    except _unit.UnitError as e:
        raise Usage(str(e)) from None
    loadgen, why = loadgen_path(a.loadgen)
    if loadgen is None:
        raise Usage(why)
    try:
        os.makedirs(a.out, exist_ok=True)
    except OSError as e:
        raise Usage(f"--out {a.out}: {e.strerror}") from None
    for n in (a.directives or "").split(","):
        if n.strip():
            cat.load_directive(n.strip())
    if a.user and uspec["units"] != [uspec["target"]]:
        raise Usage("--user takes one .service")
    return uspec, loadgen


def main(argv):
    a = parse_args(argv)
    try:
        uspec, loadgen = check(a)
    except (Usage, cat.CatalogueError) as e:
        print(f"sandbench advise: {e}", file=sys.stderr)
        return 2
    host = None
    try:
        fac = kernel.facilities()
        host = _host.up(a.name, owner=os.getpid(), lock_timeout=a.lock_timeout)
        if a.user:
            return usermgr.matrix(a, host)
        advisor.advise(a, host, fac, uspec, loadgen, argv)
        return 0
    except CheckFailed as e:
        print(f"sandbench advise: {e}; no directive was tried (a check that fails on the "
              "baseline would reject every try): fix the check or the unit", file=sys.stderr)
        print(f"sandbench advise: the check was `{e.command}`, run with "
              f"SANDBENCH_URL={a.url} SANDBENCH_TRY=baseline; its last output:", file=sys.stderr)
        for line in (e.check.get("output") or "(no output)").splitlines():
            print(f"  {line}", file=sys.stderr)
        return EX_CHECK
    except BaselineFailed as e:
        for line in baseline_failure(e.inst, host):
            print(f"sandbench advise: {line}", file=sys.stderr)
        return EX_BASELINE
    except KeyboardInterrupt:
        print("sandbench advise: interrupted", file=sys.stderr)
        return 130
    except (_host.HostError, cat.CatalogueError) as e:
        print(f"sandbench advise: {e}", file=sys.stderr)
        return _host.EX_TEMPFAIL if isinstance(e, _host.LockBusy) else 1
    finally:
        if host is not None and getattr(host, "owned", False):
            _host.down(host=host)
