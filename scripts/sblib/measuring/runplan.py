"""The plan of a `sandbench run`: its options (add_options, parse: the one
parser `run` and advise's cost run share) and the spec built from them
(build_plan: the variants, the seeded slice order, the duet windows), as
spec.json records it (results/README.md). No container code here."""
import argparse
import os
import time

from sblib import catalogue as cat
from sblib.measuring import copies
from sblib.measuring import plan
from sblib.measuring import releases
from sblib.measuring import unit as _unit
from sblib.records import windows as win
from sblib.records import schema


class PlanError(ValueError):
    """Options no run can be made of (or a --out it cannot write): one line
    to print; the command exits 2."""


# a user's unit in duet windows (measured on Debian's stock nginx, quick
# profile, 2-core VM: A/A floor of CPU per request ±6.8% with 8 connections
# and 12 windows, ±2.5% with 64, ±1.0% with 64 and 48 windows in 146 s;
# scripts/docs/measuring.md)
UNIT_WINDOWS = 48
UNIT_WINDOW_CONNECTIONS = 64


def add_options(ap):
    """Adds the options of `sandbench run` to the ArgumentParser AP; AP."""
    ap.add_argument("--servers", default=",".join(cat.SERVERS),
                    help="comma list of %s (default: all)" % ", ".join(cat.SERVERS))
    ap.add_argument("--profile", help="a profile of units/profiles (default: quick)")
    ap.add_argument("--directives",
                    help="comma list of catalogue directives (each alone); a drop-in of your "
                         "own is given as its file, NAME.conf")
    ap.add_argument("--combine", action="store_true",
                    help="measure the directives together as one variant 'combined'")
    ap.add_argument("--mode", default="keepalive",
                    help="comma list of %s (default: keepalive)" % ", ".join(plan.MODES))
    ap.add_argument("--method", default="duet", choices=("duet", "isolated"),
                    help="how CPU per request is measured: duet (default: the baseline and "
                         "one variant loaded at the same time, --windows rounds of windows) "
                         "or isolated (one instance at a time, as throughput and latency "
                         "always are)")
    ap.add_argument("--windows", type=int,
                    help="duet: rounds of windows, each holding one window per variant and "
                         "mode (default 12; with --unit %d)" % UNIT_WINDOWS)
    ap.add_argument("--window", type=float, default=0.3,
                    help="duet: measured seconds per window (default 0.3)")
    ap.add_argument("--window-close", type=float, default=0.9,
                    help="duet: measured seconds per close or resume window (default 0.9: "
                         "a TLS handshake per request; on drop and activated 0.3 s windows "
                         "held ~300 requests and a per-window A/A spread of 2.4%%, 0.9 s "
                         "~800 and 1.2%%)")
    ap.add_argument("--window-warmup", type=float, default=0.1,
                    help="duet: unmeasured seconds of load before each window (default 0.1)")
    ap.add_argument("--window-connections", type=int,
                    help="duet: connections per instance in a window (default 8: the "
                         "isolated slices' 16 shared by the two; with --unit %d: a server "
                         "of several workers, as Debian's nginx, shares a window's fresh "
                         "connections among them at random, and few connections make that "
                         "share, and so its CPU per request, vary from window to window; "
                         "see results/README.md for what the count does to a cost)"
                         % UNIT_WINDOW_CONNECTIONS)
    ap.add_argument("--fixed-share", type=float, default=win.LOAD_SHARE,
                    help="mode rate in windows: the fixed offered load per instance as a share "
                         "of the lowest capacity per instance that %d keepalive windows of the "
                         "baseline beside itself measure at the server's first rate window "
                         "(default %g); the window is long enough for %d requests a side"
                         % (win.PROBES, win.LOAD_SHARE, win.MIN_REQUESTS))
    ap.add_argument("--arrivals", choices=(win.POISSON, win.UNIFORM), default=win.POISSON,
                    help="mode rate in windows: poisson (default: each connection a Poisson "
                         "process, two instances meet at every phase within a window) or "
                         "uniform (loadgen's fixed schedule, one phase a window)")
    ap.add_argument("--fixed-rate", type=int,
                    help="mode rate in windows: this many req/s per instance instead of a share "
                         "of the probed capacity (still probed and recorded)")
    ap.add_argument("--controls-only", default="",
                    help="comma list of modes in which only the controls are measured: the A/A "
                         "copies and the calibration directives whose known answer holds in "
                         "that mode's regime (catalogue 'expect: ... in MODE', or none named); "
                         "make bench: rate,capacity")
    ap.add_argument("--controls-every", type=int, default=2,
                    help="with --controls-only: those modes have windows in every Nth round "
                         "only (default 2)")
    ap.add_argument("--capacity-slice", type=float, default=0.3,
                    help="mode capacity: measured seconds of each instance's turn alone in a "
                         "capacity pair (default 0.3: a whole number of CPUQuota= periods of "
                         "100 ms, so a quota's share is read exactly)")
    ap.add_argument("--capacity-connections", type=int, default=64,
                    help="mode capacity: connections of each instance's turn alone (default 64: "
                         "with 16 one drop instance used about 45%% of its CPU, so a quota "
                         "never bit)")
    ap.add_argument("--window-loadgen", choices=win.LOADGEN_THREADS,
                    default=win.THREAD_PER_TARGET,
                    help="duet: how loadgen drives a window's two instances: a thread each "
                         "(default thread-per-target: each thread's CPU, where loopback's "
                         "softirq lands, is the instance's sender part) or one-ring (one "
                         "thread for both, no sender part)")
    ap.add_argument("--reps", type=int, default=6,
                    help="rounds of isolated slices, one instance at a time, for a server "
                         "whose CPU per request is not measured in windows (inetd, or "
                         "--method isolated) (default 6: the fewest a rank test can call "
                         "significant)")
    ap.add_argument("--duet-reps", type=int, default=2,
                    help="duet: rounds of isolated slices for absolute throughput and "
                         "latency of the servers measured in windows (default 2; 0: none, "
                         "the levels alone come from the capacity turns where --mode has "
                         "capacity)")
    ap.add_argument("--epochs", type=int,
                    help="restart every server's instances in new, seeded places (start order, "
                         "port, name) this many times over the run, the rounds and windows "
                         "split evenly between them (default: 4 with --method duet, else 1); "
                         "the intervals then include what where an instance stands costs")
    ap.add_argument("--duration", type=float, default=0.6,
                    help="measured seconds per slice (default 0.6)")
    ap.add_argument("--warmup", type=float, default=0.3,
                    help="seconds of unmeasured load per variant before its first slice")
    ap.add_argument("--slice-warmup", type=float, default=0.2,
                    help="seconds of unmeasured load at the start of every slice (connections "
                         "set up; inetd: at least 1.25)")
    ap.add_argument("--connections", type=int, default=16, help="loadgen -c (default 16)")
    ap.add_argument("--rate", type=int, default=2000, help="req/s of --mode rate (default 2000)")
    ap.add_argument("--path", default="/", help="request path (default /)")
    ap.add_argument("--aa-copies", type=int, default=1,
                    help="identical copies of the baseline to measure as variants (default 1: "
                         "the A/A control); more check how many a run calls significant")
    ap.add_argument("--out", help="results directory (default results/runs/<UTC timestamp>)")
    ap.add_argument("--seed", type=int, help="order seed (default: from the clock; recorded)")
    ap.add_argument("--unit", action="append",
                    help="measure this unit file instead of the reference servers; give it "
                         "twice for a .socket and the service it activates")
    ap.add_argument("--url", help="with --unit: the URL it answers on")
    ap.add_argument("--copies", choices=("netns", "ports"), default="netns",
                    help="with --unit: how its variants run side by side: netns (default: "
                         "every copy in its own network namespace, with its own pid file, "
                         "its ports and URL as written) or ports (only a unit that takes "
                         "@PORT@ or a .socket on the URL's port; any other runs one at a time "
                         "in isolated slices)")
    ap.add_argument("--server-cpu", type=int, default=1, help="CPU the units are pinned to")
    ap.add_argument("--loadgen-cpu", type=int, default=0, help="CPU the load generator runs on")
    ap.add_argument("--loadgen", help="load generator binary (default build/bin/loadgen)")
    ap.add_argument("--max-restarts", type=int, default=3,
                    help="an instance that stops serving in the middle of the run is restarted "
                         "at most this many times, then given up (default 3; a baseline given "
                         "up stops the run, resumable)")
    ap.add_argument("--start-timeout", type=float, default=10.0,
                    help="seconds a variant may take to answer before it is a hang")
    ap.add_argument("--name", default="sandbench", help="sandbox host name")
    ap.add_argument("--lock-timeout", type=float, default=300)
    releases.add_options(ap)
    ap.add_argument("--startup-reps", type=int, default=0,
                    help="after the matrix, this many rounds of cold starts of every variant "
                         "(inetd: of connections), as `sandbench startup` measures them, into "
                         "the same results (default 0: none)")
    ap.add_argument("--no-report", action="store_true", help="skip sandbench report at the end")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    return ap


def parse(argv, prog="sandbench run"):
    """ARGV parsed with run's options (argparse exits 2 on a bad one)."""
    ap = argparse.ArgumentParser(prog=prog)
    add_options(ap)
    return ap.parse_args(argv)


def build_plan(a):
    """The spec dict (without run-time fields) from parsed args; raises PlanError."""
    modes = [m for m in a.mode.split(",") if m]
    for m in modes:
        if m not in plan.MODES:
            raise PlanError(f"unknown mode '{m}'; valid: {', '.join(plan.MODES)}")
    duet_on = a.method == "duet"
    if a.windows is None:
        a.windows = UNIT_WINDOWS if a.unit else 12
    if a.window_connections is None:
        a.window_connections = UNIT_WINDOW_CONNECTIONS if a.unit else 8
    if a.epochs is None:
        a.epochs = min(4, a.windows) if duet_on else 1
    if a.reps < 1 or a.reps > 1000 or not (0 <= a.duet_reps <= 1000):
        raise PlanError("--reps must be 1..1000 and --duet-reps 0..1000")
    only_modes = [m for m in a.controls_only.split(",") if m]
    if not 1 <= a.controls_every <= 1000:
        raise PlanError("--controls-every must be 1..1000")
    for m in only_modes:
        if m not in modes:
            raise PlanError(f"--controls-only names mode '{m}', which --mode ({a.mode}) "
                            "does not measure")
    if a.epochs < 1 or a.epochs > (a.windows if duet_on else a.reps):
        raise PlanError(f"--epochs must be 1..{'--windows' if duet_on else '--reps'} "
                    f"({a.windows if duet_on else a.reps})")
    if duet_on and not (1 <= a.windows <= 1000):
        raise PlanError("--windows must be 1..1000")
    if duet_on and not (0.05 <= a.window <= 600 and 0.05 <= a.window_close <= 600
                        and 0 <= a.window_warmup <= 60):
        raise PlanError("--window and --window-close must be 0.05..600 seconds and "
                        "--window-warmup 0..60")
    if not (0 < a.fixed_share <= 1 and (a.fixed_rate is None or 100 <= a.fixed_rate <= 10 ** 6)
            and 0.1 <= a.capacity_slice <= 60 and 1 <= a.capacity_connections <= 10000):
        raise PlanError("--fixed-share must be in (0, 1], --fixed-rate 100..1000000 req/s, "
                        "--capacity-slice 0.1..60 seconds and --capacity-connections 1..10000")
    if duet_on and not 1 <= a.window_connections <= 1000:
        raise PlanError("--window-connections must be 1..1000")
    if not (0.1 <= a.duration <= 600):
        raise PlanError("--duration must be 0.1..600 seconds")
    if a.warmup < 0 or a.warmup > 60:
        raise PlanError("--warmup must be 0..60 seconds")
    if not 0 <= a.max_restarts <= 100:
        raise PlanError("--max-restarts must be 0..100")
    if not 1 <= a.aa_copies <= 50:
        raise PlanError("--aa-copies must be 1..50")
    if a.connections < 1 or a.connections > 10000:
        raise PlanError("--connections must be 1..10000")
    if bool(a.unit) != bool(a.url):
        raise PlanError("--unit and --url go together")
    if a.profile is not None and a.directives is not None:
        raise PlanError("give --profile or --directives, not both")
    if a.profile is not None and not a.profile.strip():
        raise PlanError("--profile is empty: name a profile of units/profiles, or leave it out "
                    "for quick")
    uspec = None
    if a.unit:
        try:
            uspec = _unit.server_spec(a.unit, a.url)
        except _unit.UnitError as e:
            raise PlanError(str(e)) from None
        copies_of(uspec, getattr(a, "copies", "netns"))
        servers = ["unit"]
    else:
        servers = [s for s in a.servers.split(",") if s]
        for s in servers:
            if s not in cat.SERVERS:
                raise PlanError(cat.unknown("server", s, list(cat.SERVERS)))
        if not servers:
            raise PlanError("--servers is empty")
        if len(set(servers)) != len(servers):
            raise PlanError("--servers names a server twice")
    combines = []
    if a.directives is not None:
        dirs = [d.strip() for d in a.directives.split(",") if d.strip()]
        if not dirs:
            raise PlanError("--directives is empty: name at least one directive, or give "
                        "--profile")
        # a drop-in of one's own is given as its file (NAME.conf)
        dirs = [cat.add_file(d) if d.endswith(".conf") else d for d in dirs]
        for d in dirs:
            cat.load_directive(d)  # raises with the valid names
        profile = None
    else:
        profile = a.profile or "quick"
        dirs, combines = cat.load_profile(profile)
    seed = a.seed if a.seed is not None else int(time.time() * 1000) % 1000003
    label = profile if profile and profile not in ("baseline", "quick", "all") else "combined"
    variants = plan.variants_for(servers, dirs, combines, a.combine, label, a.aa_copies)
    if len(variants) > plan.MAX_INSTANCES * len(servers):
        raise PlanError(f"at most {plan.MAX_INSTANCES - 2} directives per run")
    ids = [v["id"] for v in variants]
    entry = {**cat.SERVERS, **({"unit": uspec} if uspec else {})}
    duet = duet_plan(a, servers, modes, entry) if duet_on else None
    if only_modes and not duet:
        raise PlanError("--controls-only is for duet windows (--method duet)")
    if duet and only_modes:
        duet["controls_only"] = {"modes": {m: controls_in(variants, m) for m in only_modes},
                                 "every": a.controls_every}
    if duet:
        duet["all_modes"] = {s: len(duet["by_server"][s]["modes"]) == len(modes)
                             for s in duet["servers"]}
        # per server: fewer isolated rounds where windows measure CPU per request
        order = []
        for s in servers:
            sid = [i for i, v in zip(ids, variants) if v["server"] == s]
            # the fixed load and capacity of a server in windows are theirs
            # alone (the isolated phase's levels are saturated keepalive's)
            ms = [m for m in modes if s not in duet["servers"]
                  or m not in (win.FIXED, win.CAPACITY)]
            order += plan.slice_order(sid, ms, reps_of(a.reps, duet, s), f"{seed}/{s}")
    else:
        order = plan.slice_order(ids, modes, a.reps, seed)
    # per server and churn mode: slices of a fixed number of connections
    counted = {s: {m: n for m, n in entry[s].get("slice_connections", {}).items()
                   if m in modes} for s in servers}
    counted = {s: v for s, v in counted.items() if v}
    return {
        "schema": schema.tag("spec"),
        "seed": seed,
        **({"release": a.release} if getattr(a, "release", None) else {}),
        "servers": servers,
        "profile": profile,
        "directives": dirs,
        "combine": bool(a.combine),
        "modes": modes,
        "reps": a.reps,
        "epochs": a.epochs,
        "method": a.method,
        **({"duet": duet} if duet else {}),
        "duration": a.duration,
        "warmup": a.warmup,
        "slice_warmup": {s: max(a.slice_warmup, entry[s].get("slice_warmup", 0))
                         for s in servers},
        "loadgen": {"connections": a.connections, "threads": 1,
                    "connections_per_server": {s: min(a.connections, entry[s].get(
                        "connections", a.connections)) for s in servers},
                    "rate": a.rate if "rate" in modes else None, "path": a.path,
                    **({"slice_connections": counted} if counted else {})},
        "pinning": {"server_cpu": a.server_cpu, "loadgen_cpu": a.loadgen_cpu},
        "unit": uspec["target"] if uspec else None,
        **({"units": uspec["units"], "user_unit": uspec} if uspec else {}),
        "url": a.url,
        "expect": cat.expectations(dirs),
        **({"directive_files": {d: cat.FILES[d] for d in dirs if d in cat.FILES}}
           if any(d in cat.FILES for d in dirs) else {}),
        "variants": variants,
        "order": [plan.slice_key(*o) for o in order],
        "_order": order,
    }


def controls_in(variants, mode):
    """The ids of VARIANTS a --controls-only MODE measures: the A/A copies,
    and each control (a single calibration directive) whose known answer
    holds in MODE's regime (its "expect: ... in MODE"), or in every regime
    (an "expect:" that names none)."""
    out = []
    for v in variants:
        if v["name"].startswith("baseline-aa"):
            out.append(v["id"])
            continue
        if len(v["directives"]) != 1 or not cat.is_control(v["directives"][0]):
            continue
        e = cat.expectations(v["directives"]).get(v["directives"][0])
        if e and e.get("mode", mode) == mode:
            out.append(v["id"])
    return out


def copies_of(uspec, how):
    """Sets how the user's unit USPEC runs side by side: "copies" netns (its
    own network namespace per copy: sblib.measuring.copies) when HOW asks
    for it and the unit can be copied so, else by ports where the unit takes
    them, else one at a time; "copies_why" says why not netns."""
    why = None
    if how == "netns":
        texts = {os.path.basename(p): _unit.read(p) for p in uspec["paths"].values()}
        why = copies.why_not(texts)
        if why is None:
            uspec["copies"], uspec["side"] = "netns", True
            return uspec
        why = f"{why}: it cannot be copied into network namespaces of ours"
    uspec["copies"] = "ports" if uspec["side"] else "one at a time"
    if not uspec["side"]:
        why = (why + "; " if why else "") + \
            "its port is fixed in its own config, so its variants run one at a time"
    if why:
        uspec["copies_why"] = why
    return uspec


def duet_plan(a, servers, modes, entry):
    """spec.json "duet": which servers and modes have CPU per request
    measured in windows, and how. Not where a connection is a unit start
    (inetd close and resume: the window's edges would cut through them; those
    stay counted isolated slices), nor for a user's unit that cannot run
    side by side (no @PORT@). Mode rate runs in windows too, at a fixed
    offered load (records.windows FIXED). A server's window warm-up and connections
    follow its catalogue entry (inetd: a process per connection, started in
    the warm-up)."""
    by = {}
    for s in servers:
        spec = entry[s]
        if s == "unit" and not spec["side"]:
            continue
        ms = [m for m in modes if m in ("keepalive", "close", "resume", win.FIXED, win.CAPACITY)
              and m not in spec.get("slice_connections", {})]
        if ms:
            by[s] = {"modes": ms,
                     "warmup_s": max(a.window_warmup, spec.get("slice_warmup", 0)),
                     **({"rate_warmup_s": max(a.window_warmup, spec["rate_warmup"])}
                        if win.FIXED in ms and spec.get("rate_warmup") else {}),
                     "connections_per_target": min(a.window_connections,
                                                   spec.get("connections", a.window_connections))}
    return {"rounds": a.windows, "window_s": a.window,
            # a handshake per request: fewer requests a second, longer windows
            **({"mode_window_s": {m: a.window_close for m in ("close", "resume")
                                  if m in modes}}
               if any(m in modes for m in ("close", "resume")) else {}),
            "isolated_reps": a.duet_reps,
            **({"capacity_s": a.capacity_slice, "capacity_connections": a.capacity_connections}
               if win.CAPACITY in modes else {}),
            # mode rate: a fixed offered load per server, probed at run time
            # (each rate window's record says it: "fixed_load")
            **({"fixed_load": {"share": a.fixed_share, "rate": a.fixed_rate,
                               "arrivals": a.arrivals,
                               "min_requests": win.MIN_REQUESTS, "probes": win.PROBES}}
               if win.FIXED in modes else {}),
            "servers": list(by), "by_server": by,
            "metrics": list(win.METRICS)}


def reps_of(reps, duet, server):
    """Rounds of isolated slices of SERVER: --duet-reps where windows
    measure its CPU per request in every mode of the run, else --reps."""
    if duet and server in duet["servers"] and \
            (duet.get("all_modes") or {}).get(server, True):
        return duet["isolated_reps"]
    return reps

