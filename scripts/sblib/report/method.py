"""The report's sections on how it was measured: the noise floor (the A/A
control, drift correction, rounds and runs weighted by their noise), what an
instance's place costs (epochs), and the method and environment: what ran,
on what, and the known cliffs of that environment."""
from sblib.analysis import cliffs
from sblib.analysis import results as rs
from sblib.analysis import stats as st
from sblib.report.document import bullets, h, para, table
from sblib.report.fmt import change, min_p
from sblib.report.variants import interval_width


# the noise floors the report shows, each from the A/A control's own comparison
FLOOR_METRICS = {"cpu_ns_per_req": "CPU", rs.SENDER: "sender CPU", "rps": "req/s", "p50": "p50",
                 "p99": "p99", "p99.9": "p99.9"}


def sec_noise(res, analysis, ctx):
    duet = ctx["duet"]
    out = [h(2, "Noise floor (A/A control)")]
    rows = []
    for g in analysis["groups"]:
        aa = next((r for r in g["rows"] if r["variant"] == g["aa"]), None)
        if not aa:
            rows.append([g["server"], g["mode"], "-", "no A/A control"]
                        + ["-"] * (len(FLOOR_METRICS) + 2))
            continue
        floors = [g["floors"].get(m) for m in FLOOR_METRICS]
        width = interval_width(g)
        raw = rs.raw_floor(res, g)
        rows.append([g["server"], g["mode"], g.get("methods", {}).get("cpu_ns_per_req", "-"),
                     change(aa["cmp"].get("cpu_ns_per_req"))]
                    + [f"±{f * 100:.2f}%" if f is not None else "-" for f in floors]
                    + [f"±{raw * 100:.1f}%" if raw is not None else "-",
                       f"±{width * 100:.2f}%" if width is not None else "-"])
    out.append(table(["server", "mode", "measured in", "A/A CPU per request"]
                     + [f"noise floor ({lab})" for _, lab in FLOOR_METRICS.items()]
                     + ["floor without drift correction (CPU)", "median interval (CPU)"], rows))
    small = [c for g in analysis["groups"] for r in g["rows"] for c in r["cmp"].values()
             if min_p(c) >= st.ALPHA and not st.why_not(c)]
    if small:
        worst = max(small, key=min_p)
        kind = (f"{worst['n_base']} paired rounds" if worst.get("paired")
                else f"{worst['n_base']} and {worst['n_new']} slices")
        out.append(para(f"**Too few rounds for a verdict**: with {kind} the smallest p-value "
                        f"the rank test can reach is {min_p(worst):.3f} > {st.ALPHA}, so "
                        f"{len(small)} comparisons cannot be called significant however large "
                        "the change"
                        + ". Run with `--reps 6` or more (8+ for intervals that mean "
                        "something); no cost is shown from fewer than 3."))
    out.append(para("The A/A control is a second, identical baseline instance. Its "
                    "difference from the baseline is pure noise; the noise floor of each "
                    "figure is the furthest end of its interval from 0 (none from fewer than "
                    "3 windows or slices, or a zero-width interval). The median interval is "
                    "the half-width of the typical directive's 95% interval on CPU per "
                    "request: the precision of this run's costs."
                    + (f" A window gives a latency percentile only when each side holds at "
                       f"least {rs.MIN_BEYOND} requests beyond it (p99: "
                       f"{rs.min_requests('p99'):,} requests, p99.9: "
                       f"{rs.min_requests('p99.9'):,}): with fewer, the percentile is one "
                       "of the window's slowest few requests, whose rank scatters by about "
                       "the square root of their number and whose value grows with the "
                       "requests served (a faster side would read slower)." if duet else "")))
    iso_cpu = any(g.get("methods", {}).get("cpu_ns_per_req") != "duet"
                  for g in analysis["groups"])
    out.append(para(
        ("Duet windows need no drift correction: both sides of a ratio are measured in the "
         "same window. For isolated slices: " if duet else "") +
        "Drift correction " + ("**on**" if res.get("drift", True) else "**off** (`--raw`)") +
        ": a shared machine is slower or faster for seconds to minutes at a time, and with "
        "dozens of variants a round lasts longer than that, so pairing by round cannot cancel "
        "it. Slices of all variants are interleaved at random, so what a slice's neighbours in "
        "time have in common is the machine's speed, not their variants': each slice's CPU per "
        "request and req/s are divided by the median, over the "
        f"{2 * rs.DRIFT_WINDOW} nearest slices of the same server and mode, of their ratio to "
        "their own variant's median. Only where a round holds at least "
        f"{2 * rs.DRIFT_WINDOW + 2} variants: shorter rounds are left to pairing. The A/A "
        "control and the calibration check that this removes noise and not effects."
        + ("" if iso_cpu or not duet else " (Here it applies to throughput and latency only.)")))
    by_round = [g for g in analysis["groups"] if g.get("round_noise")]
    if by_round:
        out.append(para(
            "Rounds weighted by their noise: a shared machine is busy in some rounds and quiet "
            "in others, so every round counts with weight 1/noise², its noise the robust spread, "
            "about the round's median, of every variant's ratio to the baseline that round less "
            "the variant's usual ratio (so the error of the round's baseline slice, which all its "
            "ratios share, does not set its weight), where a round holds at least "
            f"{rs.ROUND_NOISE_MIN} variants (fewer, and it takes the noise of its run's full rounds). Each side's centre, "
            "and each baseline level shown, is the weighted "
            "interquartile mean, the bootstrap draws rounds with their weights, and `sandbench "
            "compare` weighs them the same way. Round noise on CPU per request, least / median "
            "/ most: "
            + "; ".join(f"{g['server']} {g['mode']} "
                        + " / ".join(f"±{x * 100:.1f}%" for x in g["round_noise"])
                        for g in by_round) + "."))
    noisy = [g for g in analysis["groups"] if g.get("run_noise")]
    if noisy:
        out.append(para(
            f"Merged runs ({len(noisy[0]['run_noise'])}): "
            + ("each run is resampled on its own and its rounds keep their weights, "
               if by_round else
               "every round is weighted by its run's 1/noise² (each side's centre, and each "
               "baseline level shown, is the weighted interquartile mean; `sandbench compare` "
               "weighs the set the same way) and each run is resampled on its own, ")
            + "so a run measured while the machine was busy counts for less instead of "
            "widening the set. Each run's noise on CPU per request (the same spread over all "
            "its rounds): "
            + "; ".join(f"{g['server']} {g['mode']} "
                        + " / ".join(f"±{x * 100:.1f}%" for x in g["run_noise"])
                        for g in noisy) + "."))
    return out


def sec_placement(res, analysis, ctx):
    place = analysis.get("placement") or []
    if not place:
        return []
    return [h(2, "What an instance's place costs (epochs)"), table(
        ["server", "mode", "epochs", "place to place (sd, CPU)", "first third started",
         "last third started"],
        [[p["server"], p["mode"], p["epochs"], f"±{p['spread'] * 100:.1f}%",
          st.pct(1.0 + p["first"]) if p["first"] is not None else "-",
          st.pct(1.0 + p["last"]) if p["last"] is not None else "-"] for p in place]),
        para("Every epoch started each server's instances afresh in a new seeded order. Place to "
             "place: the standard deviation of a variant's CPU per request between its places, "
             "noise removed (the covariance of its even and odd rounds' deviations within an "
             "epoch). First and last third: the median deviation of instances started first and "
             "last, from their own variant's median; a gap between them is a trend with start "
             "order. The intervals above resample epochs, so they include this.")]


def sec_method(res, analysis, ctx):
    out = [h(2, "Method and environment")]
    out.append(para(
        "What each systemd sandbox directive costs, measured: every figure is a ratio against "
        "the same server's baseline, measured in the same run, with a 95% bootstrap interval "
        f"(seeded, {st.RESAMPLES} resamples). "
        + ("Every change, CPU per request, req/s and latency alike, comes from **duet "
           "windows**: the variant and the baseline loaded at the same time, so whatever the "
           "machine did during a window it did to both; each window gives one ratio, and a "
           "cost is the interquartile mean of its windows' ratios (the intervals resample "
           "epochs, then windows within them). Two instances share the server CPU in a "
           "window, so its req/s and latency are each one's share: the **isolated slices**, "
           "one instance loaded at a time, give the absolute levels, and no change is taken "
           "from them. " if ctx["duet"] else
           "Each side is the interquartile mean of its slices (the mean of the middle half of "
           "its rounds, as deaf as a median to the slices a burst of the machine spoiled). ")
        + "A change is called significant when its interval excludes 0 and a rank test agrees "
        "(p < 0.05); changes inside the A/A noise floor are shown as ~."))
    items, env_rows = what_ran(res)
    out.append(bullets(items))
    if env_rows:
        out.append(table(["environment", "value"], env_rows, ["l", "l"]))
    out += cliffs_section(res["env"])
    if res["env"].get("bpf_enforced") is False:
        out.append(para("**Warning**: BPF is not enforced on this host, so IPAddressDeny=, "
                        "IPAddressAllow= and IPAccounting= were accepted but had no effect."))
    return out


def what_ran(res):
    spec, env, status = res["spec"], res["env"], res["status"]
    lg = spec.get("loadgen") or {}
    items = [
        f"command: `sandbench {' '.join(str(a) for a in spec.get('argv') or [])}`",
        f"commit `{spec.get('commit', '?')}`, created {spec.get('created', '?')}, seed {spec.get('seed', '?')}",
        f"servers: {', '.join(spec.get('servers') or []) or '?'}; modes: "
        f"{', '.join(spec.get('modes') or []) or '?'}; profile: {spec.get('profile') or '-'}"
        f"{' (combined)' if spec.get('combine') else ''}",
        *duet_items(spec, res["runs"]),
        f"{isolated_reps(spec)} repetitions of {spec.get('duration', '?')} s isolated slices "
        f"(one instance loaded at a time; warm-up {spec.get('warmup', '?')} s), interleaved "
        "in a seeded random order"
        + (f"; {spec['epochs']} epochs: every server's instances restarted in new, seeded "
           "places (start order, port, name) each epoch, and the intervals resample epochs, "
           "then rounds within them, so they include what an instance's place costs"
           if isinstance(spec.get("epochs"), int) and spec["epochs"] > 1 else
           "; instances in one seeded place each for the whole run (`--epochs 1`): what a "
           "place costs is not in the intervals"
           if any(r.get("position") is not None for r in res["runs"]) else ""),
        "load: " + ", ".join(f"{k} {v}" for k, v in lg.items()
                             if v is not None and k != "slice_connections"),
    ]
    for server, modes in (lg.get("slice_connections") or {}).items():
        items.append(f"{server}, {' and '.join(modes)} mode: a slice is exactly "
                     f"{' / '.join(str(n) for n in modes.values())} connections, its CPU read "
                     "when none of the server's per-connection units is left, before the first "
                     "and after the last (each costs a unit start; a fixed window would cut "
                     "through the ones in flight at its edges)")
    pin = spec.get("pinning") or {}
    if pin:
        items.append(f"servers pinned to CPU {pin.get('server_cpu', '?')}, the load generator "
                     f"to CPU {pin.get('loadgen_cpu', '?')}")
    if spec.get("unit"):
        uu = spec.get("user_unit") or {}
        how = {"netns": "every copy (each variant, the A/A copy) side by side in a network "
                        "namespace of its own, its ports and URL as written",
               "ports": "its copies side by side on ports of their own",
               "one at a time": "one copy at a time on the URL's port, in isolated slices "
                                "(noisier than windows)"}.get(uu.get("copies"))
        items.append(f"a user unit: `{spec['unit']}` at {spec.get('url') or '?'}"
                     + (f"; {how}" if how else "")
                     + (f" ({uu['copies_why']})" if uu.get("copies_why") else ""))
    if status:
        items.append(f"state: **{status.get('state', '?')}**, {status.get('runs_done', '?')} of "
                     f"{status.get('runs_planned', '?')} slices")
    env_rows = [[k, str(env[k])] for k in ("kernel", "systemd", "openssl", "liburing", "nginx",
                                           "cpu_model", "cores", "governor", "host",
                                           "bpf_enforced") if k in env]
    env_rows += [[k, str(v)] for k, v in env.items()
                 if k not in {r[0] for r in env_rows} and not isinstance(v, (dict, list))]
    return items, env_rows


# how a window's loadgen drove its two instances (records "loadgen_threads";
# a set without it: a thread per target where its windows hold a sender part)
THREADS = {"thread-per-target": "a thread and ring per instance, both on the load generator's "
                                "CPU, each thread's own CPU time the instance's sender part",
           "one-ring": "one ring for both, no sender part"}


def duet_items(spec, runs=()):
    """What ran in duet windows, as bullet texts (none for an isolated run);
    RUNS: the slices, whose windows say how loadgen drove them."""
    d = spec.get("duet") or {}
    if not d:
        return []
    how = sorted({r.get("loadgen_threads") or ("thread-per-target" if r.get(rs.SENDER)
                                                 is not None else "one-ring")
                  for r in runs if r.get("phase") == "duet"}) or ["one-ring"]
    out = [f"Every cost (CPU per request, req/s, latency) in **duet windows**: {d['rounds']} "
           f"rounds, each holding one "
           f"{d['window_s']:g} s window per variant and mode, in which the variant and the "
           "baseline are loaded at the same time by one loadgen process ("
           + "; ".join(THREADS.get(x, x) for x in how) + "; the connections split evenly, one "
           "start and one deadline, each instance's cgroups read at those two instants); the "
           "pairs in a seeded random order, which of the two comes first drawn per window"]
    for s, b in (d.get("by_server") or {}).items():
        out.append(f"{s}: windows in {', '.join(b['modes'])}, {b['connections_per_target']} "
                   f"connections per instance, {b['warmup_s']:g} s warm-up")
    return out


def isolated_reps(spec):
    """The isolated rounds of a run as words: one figure, or per server."""
    d = spec.get("duet") or {}
    if not d:
        return spec.get("reps", "?")
    per = {s: (d["isolated_reps"] if s in d.get("servers", []) and
               (d.get("all_modes") or {}).get(s, True) else spec.get("reps"))
           for s in spec.get("servers") or []}
    vals = set(per.values())
    return str(vals.pop()) if len(vals) == 1 else \
        ", ".join(f"{v} ({s})" for s, v in per.items())


def cliffs_section(env):
    """A paragraph per cliff of the environment (sblib.analysis.cliffs) that applies
    to the run; none when none does."""
    cl = cliffs.known(env or {})
    if not cl:
        return []
    return [para("**Known cliffs apply to this run** (see `scripts/sblib/analysis/cliffs.py`):"),
            bullets(f"{name}: {text}" for name, text in cl)]
