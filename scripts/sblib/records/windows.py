"""Duet windows: the baseline and a variant under load at the same time.

A shared machine's speed drifts by tens of percent in phases of seconds to
minutes. Two instances loaded one after the other are measured at different
speeds; two loaded in the same window by one loadgen process (a thread
and ring each, the connections dealt out evenly, one start and one
deadline for both, each instance's cgroups read at those two instants) are
measured at the same speed, whatever it is. The per-window ratio of CPU
per request is then the sample: on this project's 2-core VM its spread is
about 0.7% against 12% for one-after-the-other slices (results/README.md,
"How it is measured").

Pure logic, no I/O: the seeded window order and the records a window's
loadgen JSON makes. run.py runs the windows.
"""
import random

PHASE = "duet"
# Every cost is a per-window ratio against the baseline loaded at the same
# moment: CPU per request, throughput and latency (the percentiles where a
# window holds enough requests: analysis/slices.py min_requests). Isolated
# slices, where a run keeps them, give absolute levels only.
# The sender part (SENDER): on loopback the receiving side's softirq work
# (TCP input, a cgroup's ingress BPF such as IPAddressDeny=) runs in the
# context of the task that sent the packet, the load generator; with a
# loadgen thread per target, that thread's CPU time per request is counted
# per instance beside the server's cgroup CPU (bench/README.md).
SENDER = "loadgen_cpu_ns_per_req"
METRICS = ("cpu_ns_per_req", SENDER, "rps", "p50", "p99", "p99.9")

# How a window's two targets are driven (`run --window-loadgen`): a loadgen
# thread and ring each, or one for both (no sender part per target).
THREAD_PER_TARGET, ONE_RING = "thread-per-target", "one-ring"
LOADGEN_THREADS = {THREAD_PER_TARGET: ["--thread-per-target"], ONE_RING: ["-t", "1"]}

# The fixed offered load (mode FIXED): both instances of a window receive
# the same open-loop rate (loadgen --rate-per-target, latency from the
# intended send times), LOAD_SHARE of the capacity per instance that
# PROBES keepalive windows of the baseline beside itself measured, in a
# window long enough for MIN_REQUESTS a side (results/README.md). Below
# saturation a server has nothing to batch, so a cost reads what it adds
# per request: +2 us of work reads +2,000 ns.
FIXED = "rate"
# Its arrivals (`run --arrivals`): POISSON, each connection a Poisson process
# of its own (loadgen --arrivals poisson), or UNIFORM, loadgen's fixed
# schedule. Two uniform schedules of one rate keep one phase to each other
# for a whole window, and which server's requests find the CPU busy follows
# from it: measured on drop at 5,000 req/s, per-window A/A ratios of CPU per
# request spread ±7% (floor ±8.5% over 16 windows) where Poisson arrivals
# meet at every phase within each window (results/README.md).
POISSON, UNIFORM = "poisson", "uniform"
# Capacity (mode CAPACITY): two instances sharing a CPU split it, so a
# window's req/s ratio says what a directive costs per request, not what a
# quota leaves of a CPU. In a capacity "window" the pair is loaded one after
# the other, each alone and saturated (closed loop, the isolated slices'
# connections), back to back in the window's drawn order: the per-pair
# ratio of req/s is a capacity sample (CPUQuota=50% reads -50%), paired
# like a window's since the two slices are a second apart.
CAPACITY = "capacity"
LOAD_SHARE = 0.6
MIN_REQUESTS = 10000
PROBES = 3
LOWERINGS = 3


def offered_rate(probe_rps, share=LOAD_SHARE, min_requests=MIN_REQUESTS, window_s=0.3,
                 rate=None):
    """{"rate_per_target", "window_s", "capacity_rps", "why"} of the fixed
    load from PROBE_RPS, the per-instance req/s of the probe windows (each
    side of each): SHARE of the lowest (the machine's slow phases come back
    during the run), rounded down to 100 req/s (at least 100), or RATE
    where given; and a window of at least WINDOW_S seconds that holds
    MIN_REQUESTS requests a side at that rate (rounded up to 50 ms). None
    without a probe figure."""
    vals = sorted(v for v in probe_rps if isinstance(v, (int, float)) and v > 0)
    if not vals:
        return None
    cap = vals[0]
    r = rate or max(100, int(cap * share // 100) * 100)
    w = max(window_s, -(-min_requests * 20 // r) / 20)
    why = (f"{r / cap:.0%} of the lowest capacity probed, {cap:,.0f} req/s per instance (of "
           f"{len(vals)} probe sides, the baseline beside itself in keepalive windows); "
           + ("the rate asked for" if rate else f"{share:.0%} asked for")
           + f"; {min_requests:,} requests a side")
    return {"rate_per_target": r, "window_s": round(w, 2), "capacity_rps": round(cap, 1),
            "why": why}


def busy(js):
    """(the sender's CPU, the server's CPU), each as a share of one CPU, over
    a probe window of the baseline beside itself (loadgen's JSON JS with
    --thread-per-target): the loadgen threads' CPU summed (they share one
    CPU), the server's read once (both targets read the one cgroup). None
    where loadgen gave no figure."""
    ts = (js or {}).get("targets") or []
    dur = (js or {}).get("duration_s")
    if not ts or not dur:
        return None
    lg = [sender_cpu(t)[0] for t in ts]
    srv = (ts[0].get("server_cpu") or {}).get("usec")
    if None in lg or not isinstance(srv, (int, float)):
        return None
    return sum(lg) / (dur * 1e6), srv / (dur * 1e6)


def within(offer, use, share=LOAD_SHARE, min_requests=MIN_REQUESTS, window_s=0.3,
           lower=True):
    """OFFER (offered_rate's) lowered where USE, the (sender, server) CPU
    shares busy() read at its rate, shows either CPU above SHARE: an open
    loop costs the sender far more per request than a closed one (a timed
    send and a wake-up each), so a closed-loop capacity overstates what an
    open loop can offer below saturation. The figures read go in "busy";
    LOWER False (a rate asked for) only records them."""
    out = dict(offer)
    if use is None:
        return out
    out["busy"] = {"sender": round(use[0], 3), "server": round(use[1], 3),
                   "at": offer["rate_per_target"]}
    top = max(use)
    if lower and top > share:
        r = max(100, int(offer["rate_per_target"] * share / top // 100) * 100)
        out["rate_per_target"] = r
        out["window_s"] = round(max(window_s, -(-min_requests * 20 // r) / 20), 2)
        out["why"] += (f"; lowered to {r:,} req/s: at {offer['rate_per_target']:,} the "
                       f"{'sender' if use[0] >= use[1] else 'server'} CPU was {top:.0%} busy, "
                       f"above {share:.0%}")
    return out


def round_cells(variant_ids, base_id, modes, only=None, rnd=0):
    """[(mode, variant)]: the windows of round RND (plan). ONLY: {"modes":
    {mode: variant ids measured in it}, "every": N}: such a mode has
    windows in every Nth round only (rounds 0, N, 2N, ...)."""
    only = only or {}
    sub, every = only.get("modes") or {}, max(1, only.get("every", 1))
    return [(m, v) for v in variant_ids if v != base_id for m in modes
            if m not in sub or (v in sub[m] and rnd % every == 0)]


def plan(variant_ids, base_id, modes, rounds, seed, label, only=None):
    """[(round, mode, variant, base_first)] for ROUNDS (an iterable of round
    numbers): each round holds one window per (variant, mode), every
    variant of VARIANT_IDS except BASE_ID paired with the baseline, in an
    order shuffled by a random.Random of SEED and LABEL (a server and
    epoch), and which of the two is the first URL drawn per window. ONLY:
    the modes that measure some variants alone, in some rounds
    (round_cells; `run --controls-only`). Same arguments, same plan."""
    rng = random.Random(f"{seed}/{label}/windows")
    out = []
    for r in rounds:
        block = round_cells(variant_ids, base_id, modes, only, r)
        rng.shuffle(block)
        out += [(r, m, v, rng.random() < 0.5) for m, v in block]
    return out


def target_cpu(target, own):
    """(the directive's CPU usec, {cgroup path: usec}) of one loadgen target
    object: the CPU of the cgroups in OWN (the unit the directives go to;
    a proxied backend without its nginx) and each cgroup's own figure.
    (None, {}) when loadgen could not read the cgroups."""
    sc = target.get("server_cpu")
    if not isinstance(sc, dict):
        return None, {}
    parts = {c["path"]: c["usec"] for c in sc.get("cgroups") or []
             if isinstance(c, dict) and isinstance(c.get("usec"), int)}
    if not parts:
        return sc.get("usec"), {}
    mine = [u for p, u in parts.items() if p in own]
    return (sum(mine) if mine else sc.get("usec")), parts


def sender_cpu(t):
    """(usec, ns per request) of the load generator's own CPU time for one
    loadgen object T ("loadgen_cpu": the thread that drove it alone, or
    the threads of a one-URL run), each None where loadgen gave none (one
    ring for several targets, a clock it could not read)."""
    lc = t.get("loadgen_cpu")
    if not isinstance(lc, dict):
        return None, None
    usec, ns = lc.get("usec"), lc.get("ns_per_request")
    ok = [isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in (usec, ns)]
    return (usec if ok[0] else None), (round(float(ns), 1) if ok[1] else None)


def server_wakeups(t, own):
    """(voluntary, nonvoluntary) context switches over the window of the
    threads of the cgroups in OWN (as target_cpu: all of the target's
    where none is in OWN) from one loadgen object T; (None, None) where
    loadgen gave none (an older loadgen, a list or status it could not
    read). A voluntary switch is a thread going to sleep: one per wake-up."""
    if not isinstance(t.get("server_wakeups"), dict):
        return None, None
    cgs = [c for c in (t.get("server_cpu") or {}).get("cgroups") or [] if isinstance(c, dict)]
    mine = [c for c in cgs if c.get("path") in own] or cgs
    pairs = [(c.get("voluntary"), c.get("nonvoluntary")) for c in mine]
    if not pairs or not all(_count(v) and _count(n) for v, n in pairs):
        sw = t["server_wakeups"]
        pairs = [(sw.get("voluntary"), sw.get("nonvoluntary"))]
        if not all(_count(x) for x in pairs[0]):
            return None, None
    return sum(v for v, _ in pairs), sum(n for _, n in pairs)


def _count(x):
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def figures(t, own, duration_s):
    """The measured fields of a record from one loadgen object T (the whole
    JSON of a one-URL run, or one of its "targets"): requests, rps, errors,
    the CPU of the cgroups in OWN (see target_cpu) and per request, the
    load generator's own CPU (sender_cpu: "loadgen_cpu_usec", SENDER) where
    loadgen gave it, the server's wake-ups and preemptions per request
    (server_wakeups: "wakeups_per_req", "preempt_per_req") where loadgen
    read them, the latency percentiles, and with two or more cgroups
    each one's usec and their sum per request."""
    reqs = int(t.get("requests") or 0)
    cpu, parts = target_cpu(t, own)
    lg_usec, lg_ns = sender_cpu(t)
    out = {
        "duration_s": t.get("duration_s", duration_s),
        "requests": reqs, "rps": t.get("rps"),
        "errors": (t.get("errors") or {}).get("total", 0),
        "cpu_usec": cpu,
        "cpu_ns_per_req": round(cpu * 1000.0 / reqs, 1) if (cpu is not None and reqs) else None,
        "loadgen_cpu_usec": lg_usec,
        SENDER: lg_ns if reqs else None,
        "latency_us": {k: (t.get("latency_us") or {}).get(k)
                       for k in ("p50", "p90", "p99", "p99.9", "p99.99", "max", "mean")},
    }
    vol, nonvol = server_wakeups(t, own)
    if vol is not None and reqs:
        out["wakeups_per_req"] = round(vol / reqs, 4)
        out["preempt_per_req"] = round(nonvol / reqs, 4)
    if len(parts) > 1:
        out["cpu_parts_usec"] = parts
        out["cpu_ns_per_req_all"] = round(sum(parts.values()) * 1000.0 / reqs, 1) if reqs else None
    return out


def records(js, members, meta):
    """The runs.jsonl records of one window, one per member.

    JS: loadgen's JSON (or None when it failed; META["error"] then says
    why); MEMBERS: [(variant id, server, own cgroup paths)] in URL order;
    META: fields every record carries (window, round, mode, start, ...).
    A record's cpu_ns_per_req is its unit's own CPU over its own requests,
    measured over the same window as its partner's ("with"); its SENDER
    the CPU of the loadgen thread that drove it alone, over the same
    requests (absent with one ring for both: it is not an error)."""
    targets = (js or {}).get("targets") or []
    out = []
    for i, (vid, server, own) in enumerate(members):
        rec = {**meta, "variant": vid, "server": server, "phase": PHASE, "place": i,
               "with": [m[0] for m in members if m[0] != vid]}
        if js is None or i >= len(targets):
            rec.update({"status": "error",
                        "error": meta.get("error") or "loadgen reported no such target"})
            out.append(rec)
            continue
        rec.pop("error", None)
        rec.update({"status": "ok", **figures(targets[i], own, meta.get("duration_s"))})
        if rec["requests"] == 0:
            rec["status"] = "error"
            rec["error"] = "no request completed in the window"
        elif rec["cpu_usec"] is None:
            rec["status"] = "error"
            rec["error"] = "the unit's CPU time could not be read"
        out.append(rec)
    # a window is a pair: one side without a figure leaves the other unpaired
    if any(r["status"] != "ok" for r in out):
        for r in out:
            if r["status"] == "ok":
                r["status"] = "error"
                r["error"] = "its partner in the window failed"
    return out
