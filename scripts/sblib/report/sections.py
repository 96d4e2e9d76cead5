"""The report's sections on what each directive costs and does: costs
(ranked), calibration, exposure against cost, start-up, latency,
compatibility and the sandbox evidence. Each sec_* function takes (results,
analysis, ctx) and returns blocks (sblib.report.core.build makes ctx)."""
from sblib.analysis import results as rs
from sblib.analysis import stats as st
from sblib.report.document import bullets, h, image, para, table
from sblib.report.fmt import (PART_LABELS, applied_summary, applied_word, change, mark, num,
                              parts_text)
from sblib.records import windows as win
from sblib.report import verdict
from sblib.report.startup import startup_cost_section
from sblib.report.variants import (combined_variant, directive_label, frontier, hardened_variant,
                                   latency_medians, ranked_rows)


COST_HEADER = ["rank by CPU", "directive", "server CPU per request change [95%]",
               "server verdict", f"{PART_LABELS[rs.SENDER]} CPU per request change [95%]",
               "sender verdict", "CPU per request: server + sender = total [95% each]",
               "rank by req/s lost", "req/s change [95%]", "req/s verdict",
               "p50 latency change [95%]", "p99 latency change [95%]",
               "exposure (change vs baseline)", "applied", "n (windows or slices)"]


def sec_costs(res, analysis, ctx):
    info, ctl, plots = analysis["info"], ctx["controls"], ctx["plots"]
    out = [h(2, "Cost of each directive")]
    out.append(para("Ranked by the change in server CPU time per request (the primary "
                    "metric: steadier than req/s on a machine whose speed drifts). "
                    "Beside it the **sender** part: the CPU time per request of the load "
                    "generator's thread that drove the instance alone. On loopback the "
                    "receiving side's softirq work (TCP input, a cgroup's ingress BPF such as "
                    "`IPAddressDeny=`) runs in the sender's context, so part of what a "
                    "network-path directive costs lands there, not in the server's cgroup; "
                    "in ns per request the two parts add up to the total. "
                    "Exposure is `systemd-analyze security` (0 safe .. 10 unsafe), in brackets "
                    "its change against the baseline unit. Applied: the sandbox evidence showed "
                    "the directive in force; n/a: the evidence cannot tell (e.g. the baseline "
                    "already has that property), the reason is in the evidence table. "
                    "Calibration controls are in [their own table](#calibration)."))
    cpu = [r["cmp"]["cpu_ns_per_req"] for g in analysis["groups"] for r in ranked_rows(g, ctl)
           if r["cmp"].get("cpu_ns_per_req")]
    if len(cpu) >= 20:
        called = sum(1 for c in cpu if c.get("verdict") in ("worse", "better"))
        out.append(para(
            f"Many comparisons: {len(cpu)} on CPU per request, of which {called} are called "
            f"worse or better. With no real effect at all, chance alone would call about "
            f"{len(cpu) * st.ALPHA:.0f} of them (p < {st.ALPHA}) before the noise floor "
            "filters some out; a lone significant cost among many, not backed by its req/s or "
            "its evidence, is more likely noise than a finding."))
    for g in analysis["groups"]:
        if not g["rows"]:
            continue
        base_exp = rs.exposure(res, g["baseline"]) if g["baseline"] else None
        ranked = ranked_rows(g, ctl)
        ranked.sort(key=lambda r: -(r["cmp"].get("cpu_ns_per_req") or {}).get("ratio", 0.0))
        by_rps = sorted([r["variant"] for r in ranked if "rps" in r["cmp"]],
                        key=lambda v: next(r["cmp"]["rps"]["ratio"] for r in ranked
                                           if r["variant"] == v))
        if not ranked:
            out.append(h(3, f"{g['server']}, {g['mode']}"))
            out.append(para(f"Regime: {rs.regime(res, g['server'], g['mode'])}. Only the "
                            "controls were measured in this mode (`--controls-only`): their "
                            "readings are in [Calibration](#calibration) and the "
                            "[noise floor](#noise-floor-aa-control). "
                            + baseline_text(g, base_exp, capacity_group(analysis, g))))
            continue
        rows = []
        for i, r in enumerate(ranked, 1):
            vid = r["variant"]
            c, snd, t, p50, p99 = (r["cmp"].get(m) for m in ("cpu_ns_per_req", rs.SENDER, "rps",
                                                              "p50", "p99"))
            exp = rs.exposure(res, vid)
            drop = (f"{exp:.1f} ({exp - base_exp:+.1f})" if exp is not None and base_exp is not None
                    else num(exp))
            applied = (res["variants"].get(vid) or {}).get("applied") or {}
            rrank = by_rps.index(vid) + 1 if vid in by_rps else "-"
            rows.append([i, f"`{directive_label(info, vid)}`", change(c), mark(c), change(snd),
                         mark(snd), parts_text(rs.cpu_parts(r["cmp"])), rrank,
                         change(t), mark(t), change(p50), change(p99), drop,
                         applied_summary(applied), r["n"]])
        out.append(h(3, f"{g['server']}, {g['mode']}"))
        out.append(para(f"Regime: {rs.regime(res, g['server'], g['mode'])}. "
                        + baseline_text(g, base_exp, capacity_group(analysis, g))))
        out.append(table(COST_HEADER, rows,
                         ["r", "l", "r", "l", "r", "l", "r", "r", "r", "l", "r", "r", "r", "l",
                          "r"]))
    for p in plots.get("cost", []):
        out.append(image(p[0], p[1]))
    out += failed_slices(res)
    return out


def capacity_group(analysis, g):
    """The capacity group of G's server in ANALYSIS (each side alone and
    saturated), or None."""
    return next((x for x in analysis["groups"] if x["server"] == g["server"]
                 and x["mode"] == win.CAPACITY and x is not g), None)


def baseline_text(g, base_exp, cap=None):
    """Where a group's figures come from, and its baseline's levels: in
    duet windows every change is the variant's per-window ratio to the
    baseline loaded at the same moment, and the levels of req/s and latency
    that one instance reaches alone come from the isolated slices, or
    without them from CAP, the server's capacity group (its baseline alone
    and saturated), labelled as absolute levels that no change is taken
    from."""
    bm, meth = g["base_levels"], g.get("methods", {})
    how = ("weighted by round, " if g.get("round_noise")
           else "weighted by run, " if g.get("run_noise") else "")
    sender = (f" (sender: {num(bm[rs.SENDER])} ns in the load generator's thread)"
              if bm.get(rs.SENDER) else "")
    if meth.get("cpu_ns_per_req") != "duet":
        return (f"baseline ({how}interquartile mean of its slices): "
                f"{num(bm.get('cpu_ns_per_req'))} ns CPU per request{sender}, {num(bm.get('rps'))} "
                f"req/s, p50 {num(bm.get('p50'))} µs, p99 {num(bm.get('p99'))} µs; exposure "
                f"{num(base_exp)}. Every figure from isolated slices, one instance at a time.")
    levels = (f"{num(bm.get('cpu_ns_per_req'))} ns CPU per request{sender}, "
              f"{num(bm.get('rps'))} req/s, p50 {num(bm.get('p50'))} µs, "
              f"p99 {num(bm.get('p99'))} µs; exposure {num(base_exp)}.")
    if g["mode"] == win.CAPACITY:
        return ("Every change is from **capacity pairs**: per pair the variant and the "
                "baseline each loaded alone and saturated, one right after the other, the "
                f"variant's ratio to the baseline. Baseline alone ({how}interquartile mean): "
                + levels)
    lv = g.get("levels") or {}
    alone = (f" Alone (isolated slices, one instance at a time; **absolute levels only**, no "
             f"change is taken from them): {num((lv.get('rps') or {}).get('value'))} req/s, "
             f"p50 {num((lv.get('p50') or {}).get('value'))} µs, p99 "
             f"{num((lv.get('p99') or {}).get('value'))} µs "
             f"(interquartile mean of {max((x['n'] for x in lv.values()), default=0)} "
             f"slice(s))." if lv else "")
    if not lv and cap is not None:
        cl = cap["base_levels"]
        alone = (f" Alone (the capacity turns of its baseline, each saturated; **absolute "
                 f"levels only**): {num(cl.get('rps'))} req/s, p50 {num(cl.get('p50'))} µs, "
                 f"p99 {num(cl.get('p99'))} µs.")
    why = "".join(f" No {m} change: {t}." for m, t in (g.get("why") or {}).items())
    return (f"Every change is from **duet windows**: per window the variant's ratio to the "
            f"baseline loaded at the same moment, two instances sharing the server CPU. "
            f"Baseline in its windows ({how}interquartile mean): {levels}{alone}{why}")


def failed_slices(res):
    failed = {}
    for r in res["runs"]:
        if r.get("status", "ok") != "ok":
            e = failed.setdefault((r["variant"], r["mode"]),
                                  [0, 0, 0, r.get("fault") or r.get("error") or r["status"]])
            e[0] += 1
            e[2] += bool(r.get("remeasured"))
    out = faults(res)
    if not failed:
        return out
    for r in res["runs"]:
        if (r["variant"], r["mode"]) in failed:
            failed[(r["variant"], r["mode"])][1] += 1
    return out + [
        h(3, "Slices that failed"),
        para("These slices are left out of every figure above; one \"measured again\" was "
             "repeated at once (after restarting what had stopped serving) and the repeat "
             "stands in its place."),
        table(["variant", "mode", "failed", "measured again", "first fault or error"],
              [[f"`{v}`", m, f"{a} of {b}", str(c), str(err)[:200]]
               for (v, m), (a, b, c, err) in failed.items()], ["l", "l", "r", "r", "l"])]


def faults(res):
    """The instances that stopped serving during the run and were restarted
    (variants.json "restarts"): when, why, and what came of it."""
    rows = [[f"`{vid}`", str(x.get("epoch", "")), str(x.get("window", x.get("slice", ""))),
             str(x.get("why", ""))[:160], str(x.get("outcome", ""))]
            for vid, v in res["variants"].items() for x in v.get("restarts") or []]
    if not rows:
        return []
    return [h(3, "Instances restarted during the run"),
            para("Each stopped serving in the middle of the run (killed, out of memory, no "
                 "answer); it was restarted in its place and the window it failed measured "
                 "again. A variant restarted more than a few times is given up as died."),
            table(["variant", "epoch", "window", "why", "outcome"], rows,
                  ["l", "r", "r", "l", "l"])]


def sec_calibration(res, analysis, ctx):
    cal = ctx["cal"]
    others = sorted(vid for vid in ctx["controls"]
                    if not any(f"`{analysis['info'][vid]['name']}`" == r[3] for r in cal))
    if not cal and not others:
        return []
    out = [h(2, "Calibration")]
    out.append(para("Controls with a known effect that is not hardening. They are measured "
                    "like the directives but kept out of every ranking, plot and verdict."))
    if cal:
        out.append(table(verdict.calibration_head(cal), cal))
        out.append(para("The measured change is the baseline's interquartile mean times the "
                        "ratio and its interval; it agrees when the interval holds the expected "
                        "value, and is too noisy to tell when it holds both 0 and twice that. A "
                        "run whose calibration does not agree measured something other than "
                        "what it claims. Where every connection is a process of its own "
                        "(inetd in close mode), the control also times its spin loop at "
                        "each process start, so it adds more than its constant per request "
                        "and has no verdict."))
        if len(verdict.calibration_head(cal)) > len(verdict.CALIBRATION_HEAD):
            out.append(para(
                "The wake-up model, measured in this run: a server slowed by the control's "
                "work finds more requests waiting at each wake-up, so its wake-ups per "
                "request fall (Δw, counted by loadgen as the voluntary context switches "
                "of each side's threads over the same window) and with them its other "
                "CPU per request: expected = work + c·Δw. c, the CPU one wake-up costs, "
                "comes from the baseline alone: the difference of its CPU per request "
                "between its fixed-load and its keep-alive windows over the difference "
                "of its wake-ups per request. Intervals resample the windows as the "
                "costs do; the model agrees when its expected reading lies in the "
                "measured interval or the measured reading in its own. A wake-up need "
                "not cost the same in both regimes (at a low fixed load it brings the "
                "idle exit and cold caches), so beside c stands the slope of the "
                "baseline's CPU per request on its wake-ups over the windows of the "
                "row's own regime (the median of the pairwise slopes) and what the "
                "model expects with it."))
    rows = []
    for g in analysis["groups"]:
        for r in g["rows"]:
            if r["variant"] in others:
                c, t = r["cmp"].get("cpu_ns_per_req"), r["cmp"].get("rps")
                rows.append([g["server"], g["mode"], rs.regime(res, g["server"], g["mode"]),
                             f"`{analysis['info'][r['variant']]['name']}`",
                             change(c), f"{change(t)} ({g['methods'].get('rps', 'isolated')})",
                             alone(res, g, r["variant"])])
    if rows:
        out.append(table(["server", "mode", "regime", "control without a stated answer",
                          "CPU per request change [95%]", "req/s change [95%] (measured in)",
                          "req/s alone: baseline → control (isolated levels, slices)"], rows))
        if ctx["duet"]:
            out.append(para("In duet windows two instances share the server CPU, each with "
                            "less than half of it, so a CPU quota of half a CPU does not bite "
                            "there: a quota shows where each instance is loaded alone, in the "
                            "capacity regime (mode capacity: back-to-back pairs, each side "
                            "alone and saturated, the per-pair req/s ratio with an interval; "
                            "CPUQuota=50% should read −50% there when the server alone is "
                            "CPU-bound) and in the isolated levels (absolute only: no "
                            "interval, no verdict)."))
    if ctx["duet"] and cal:
        out.append(para(
            "What a saturated server's CPU per request does with +2 µs of work: a server "
            "made slower per request finds more requests waiting at each wake-up, so its "
            "other per-request CPU (wake-ups, epoll_wait, scheduling) falls and the "
            "measured change is less than the work added. It is a property of the load, "
            "not of the method: measured outside systemd on lunchd-backend, +2 µs read "
            "+1,607 ± 122 ns loaded one at a time in 60 ms turns and +1,584 ± 44 ns in "
            "duet windows (8 connections each), +917 ± 39 ns with 2 connections each, "
            "and +2,002 ± 340 ns with one connection each, where nothing is batched; "
            "inetd, one process per connection, reads about +2,000 ns here too. A "
            "directive's cost at saturation is likewise its cost to a saturated server "
            "under this load. At a fixed offered load (mode rate: both sides offered the "
            "same open-loop rate, well below what either CPU can do) there is nothing to "
            "batch and the control's expected reading is the work itself; where the run "
            "measured both regimes, the table above shows the two readings side by side "
            "and what batching took off at saturation; see results/README.md."))
    return out


def alone(res, g, vid):
    """'22,857 → 11,402 req/s (1, 1)': the isolated req/s levels of G's
    baseline and VID, or '-' without them."""
    lv = [[v for _, v in rs.isolated(res, x, g["mode"], "rps")] for x in (g["baseline"], vid)]
    if not all(lv):
        return "-"
    return (f"{num(st.center(lv[0]))} → {num(st.center(lv[1]))} req/s "
            f"({len(lv[0])}, {len(lv[1])})")


def sec_exposure(res, analysis, ctx):
    info, ctl = analysis["info"], ctx["controls"]
    out = [h(2, "Exposure against cost")]
    out.append(para("The Pareto frontier is the cheapest known way to reach each exposure "
                    "level: a variant off the frontier is both dearer and less safe than one "
                    "on it. The plots label the frontier only; every variant is in the table "
                    "below them."))
    for g in analysis["groups"]:
        front = frontier(res, g, ctl)
        if front:
            out.append(para(f"{g['server']}, {g['mode']}: " + " → ".join(
                f"`{directive_label(info, v)}` ({e:.1f} at {st.pct(c)})" for c, e, v in front)))
    for p in ctx["plots"].get("exposure", []):
        out.append(image(p[0], p[1]))
    for mode in dict.fromkeys(g["mode"] for g in analysis["groups"]):
        gs = [g for g in analysis["groups"] if g["mode"] == mode and g["rows"]]
        names, cells = [], {}
        for g in gs:
            on = {v for _, _, v in frontier(res, g, ctl)}
            for r in ranked_rows(g, ctl):
                c, e = r["cmp"].get("cpu_ns_per_req"), rs.exposure(res, r["variant"])
                if not c or e is None:
                    continue
                n = directive_label(info, r["variant"])
                if n not in names:
                    names.append(n)
                cells[(n, g["server"])] = (f"{e:.1f} at {st.pct(c['ratio'])}"
                                           + (" ★" if r["variant"] in on else ""))
        if not names:
            continue
        names.sort()
        out.append(h(3, f"Every variant, {mode} mode"))
        out.append(table(["directive"] + [f"{g['server']}: exposure at CPU change (★ on the "
                                          "frontier)" for g in gs],
                         [[f"`{n}`"] + [cells.get((n, g["server"]), "-") for g in gs]
                          for n in names], ["l"] + ["r"] * len(gs),
                         fold=f"{len(names)} directives, {mode} mode (open)"))
    return out


def sec_startup(res, analysis, ctx):
    out = [h(2, "Start-up time")]
    rows = []
    for vid, e in analysis["startup"].items():
        c = e["cmp"]
        rows.append([f"`{vid}`" + (" (control)" if vid in ctx["controls"] else ""),
                     num(e["level"]), e["n"], change(c) if c else "-", mark(c) if c else ""])
    if rows:
        paired = any((e["cmp"] or {}).get("paired") for e in analysis["startup"].values())
        floors = ", ".join(f"{srv} ±{f * 100:.0f}%" for srv, f in
                           (analysis.get("startup_floor") or {}).items() if f is not None)
        out.append(para(
            "From `systemctl start` to the first good HTTPS response"
            + (", once per epoch; each variant is compared with the baseline started in the "
               "same epoch (paired)" if paired else "")
            + "." + (" Every change leans on the same few baseline starts, so one within "
                     f"the A/A control's interval is not called (start-up floor: {floors})."
                     if floors else "")))
        out.append(table(["variant", "start-up ms (IQM)", "starts", "change vs baseline [95%]",
                          "verdict"], rows, ["l", "r", "r", "r", "l"]))
    else:
        out.append(para("No start-up times recorded."))
    for p in ctx["plots"].get("startup", []):
        out.append(image(p[0], p[1]))
    return out


def sec_startup_cost(res, analysis, ctx):
    """`sandbench startup`'s measurement in this directory (startup.json), if any."""
    return startup_cost_section(res["path"], ctx.get("plots_dir"))


def sec_latency(res, analysis, ctx):
    info = analysis["info"]
    combined = any(combined_variant(res, info, g["server"]) for g in analysis["groups"])
    out = [h(2, "Latency, baseline against the combined hardened unit" if combined else
             "Latency, baseline against the lowest-exposure directive")]
    if not combined:
        out.append(para("No combined hardened unit was measured, so each server's baseline is "
                        "set against its single directive of lowest exposure."))
    for g in analysis["groups"]:
        hv, _ = hardened_variant(res, info, g["server"])
        if not g["baseline"]:
            continue
        rows = []
        for vid in [g["baseline"]] + ([hv] if hv else []):
            lat = latency_medians(res, vid, g["mode"])
            if lat:
                rows.append([f"`{vid}`"] + [num(lat.get(p)) for p in rs.PERCENTILES])
        if rows:
            out.append(h(3, f"{g['server']}, {g['mode']} (µs, median over slices)"))
            out.append(table(["variant"] + [f"{p} latency (µs)" for p in rs.PERCENTILES], rows))
    for p in ctx["plots"].get("latency", []):
        out.append(image(p[0], p[1]))
    return out


def sec_compat(res, analysis, ctx):
    info = analysis["info"]
    out = [h(2, "Compatibility: server × directive")]
    servers = list(dict.fromkeys(d["server"] for d in info.values()))
    names = list(dict.fromkeys(d["name"] for d in info.values() if d["role"] == "variant"))
    reasons, rows = [], []
    for n in names:
        row = [f"`{n}`"]
        for s in servers:
            v = res["variants"].get(f"{s}/{n}")
            if v is None:
                row.append("-" if f"{s}/{n}" not in info else "not recorded")
                continue
            status = v.get("status", "?")
            if status == "ok":
                row.append("ok")
            else:
                reasons.append(f"{s}/{n}: {status}: {v.get('reason') or 'no reason recorded'}")
                row.append(f"**{status}** [{len(reasons)}]")
        rows.append(row)
    if rows:
        out.append(table(["directive"] + [f"{s}: starts and answers" for s in servers], rows,
                         ["l"] + ["l"] * len(servers)))
    if reasons:
        out.append(para("Reasons, from the journal:"))
        out.append(bullets(f"[{i}] {r}" for i, r in enumerate(reasons, 1)))
    return out


def sec_evidence(res, analysis, ctx):
    out = [h(2, "Sandbox evidence")]
    rows = []
    for vid, v in res["variants"].items():
        ev = v.get("evidence") or {}
        applied = v.get("applied") or {}
        why = v.get("applied_why") or {}
        if ev.get("error"):
            ev = {}
            applied_txt = f"evidence unreadable: {v['evidence']['error']}"
        else:
            applied_txt = ", ".join(
                f"{k} {applied_word(a)}" + ("" if a or not why.get(k) else f" ({why[k]})")
                for k, a in applied.items()) or "-"
        rows.append([f"`{vid}`", v.get("status", "?"), applied_txt,
                     ev.get("uid", "-"), ev.get("cap_eff", "-"), ev.get("no_new_privs", "-"),
                     f"{ev.get('seccomp', '-')}/{ev.get('seccomp_filters', '-')}",
                     "".join(k[0] for k in ("mnt", "net", "user")
                             if ev.get(f"{k}_ns_differs")) or "-"])
    if rows:
        out.append(table(["variant", "status", "applied", "uid", "CapEff", "NoNewPrivs",
                          "seccomp/filters", "own ns (m/n/u)"], rows,
                         ["l", "l", "l", "r", "l", "r", "r", "l"],
                         fold=f"the evidence of {len(rows)} variants (open)"))
    else:
        out.append(para("No variants.json: no evidence recorded."))
    return out
