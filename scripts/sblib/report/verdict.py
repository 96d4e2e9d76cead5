"""The report's first section, the verdict: per server and mode the
directives whose CPU per request changed beyond the noise, with intervals,
and "no cost found above ±X%" for the rest; the start-up changes; the
combined hardened unit where one was measured; the calibration in one line."""
from sblib.analysis import results as rs
from sblib.analysis import stats as st
from sblib.report.document import h, para, table
from sblib.report.fmt import PART_LABELS, change, fmt_ns, mark, num
from sblib.report.variants import combined_variant, directive_label, no_cost_bound, ranked_rows


def calibration_rows(res, analysis):
    """Rows for the calibration table: each variant made of one directive
    with a known answer (spec.json "expect"), against what was measured
    (rs.calibration)."""
    words = {"n/a": "n/a: a process per connection (its start is timed too)",
             "vague": "too noisy to tell", "yes": "yes", "no": "**no**",
             "batching": "below it, above 0: batching at saturation"}
    rows = []
    cals = rs.calibration(res, analysis)
    with_model = any("expected" in c.get("model", {}) for c in cals)
    for c in cals:
        rows.append(_calibration_row(c, words) + (model_cells(c) if with_model else []))
    return rows


# the calibration table's columns, and the wake-up model's where a run has it
CALIBRATION_HEAD = ["server", "mode", "regime", "control", "expected change",
                    "measured change [95% interval]", "agrees with the expected"]
MODEL_HEAD = ["expected by the wake-up model [95%]",
              "c: ns per wake-up, between the regimes [95%]; within this one",
              "Δw: wake-ups per request, control − baseline [95%] (baseline)",
              "agrees with the model"]


def calibration_head(rows):
    """The calibration table's header for ROWS (calibration_rows)."""
    return CALIBRATION_HEAD + (MODEL_HEAD if rows and len(rows[0]) > len(CALIBRATION_HEAD)
                               else [])


def model_cells(c):
    """The wake-up model's cells of calibration row C (rs.calibration):
    expected [interval], c, dw, agrees; '-' or why where it has none."""
    m = c.get("model") or {}
    if "expected" not in m:
        return [m.get("why", "-"), "-", "-", "-"]
    unit = c["unit"]
    return [f"{m['expected']:+,.0f}{unit} [{m['lo']:+,.0f}, {m['hi']:+,.0f}]",
            f"{m['c']:,.0f} [{m['c_lo']:,.0f}, {m['c_hi']:,.0f}]" + (
                "" if m.get("c_within") is None else
                f"; within this regime {m['c_within']:,.0f} "
                f"(expected {m['expected_within']:+,.0f}{unit})"),
            f"{m['dw']:+.4f} [{m['dw_lo']:+.4f}, {m['dw_hi']:+.4f}] ({m['w_base']:.4f})",
            {"yes": "yes", "no": "**no**"}.get(m.get("agrees"), "-")]


def _calibration_row(c, words):
    """The first seven cells of calibration row C."""
    head = [c["server"], c["mode"], c["regime"], f"`{c['directive']}`"]
    unit = c["unit"]
    exp = "none known" if c["expected"] is None else f"{c['expected']:+,.0f}{unit}"
    if c["regime"] in rs.BATCHING and c["expected"] is not None and c["expected"] > 0:
        exp = f"≤ {exp} (batching)"
    if c.get("expected_why"):
        exp += f" ({c['expected_why']})"
    if c["measured"] is None:
        return head + [exp, "-", "-"]
    agrees = "n/a: no known answer here" if c["agrees"] == "n/a" and c["expected"] is None \
        else words[c["agrees"]]
    f = c.get("at_fixed_load")
    if f:
        agrees += (f"; at the {f['regime']}: {f['measured']:+,.0f}{unit} "
                   f"[{f['lo']:+,.0f}, {f['hi']:+,.0f}], so batching took "
                   f"{f['measured'] - c['measured']:,.0f}{unit} off here")
    return head + [exp, f"{c['measured']:+,.0f}{unit} [{c['lo']:+,.0f}, {c['hi']:+,.0f}]",
                   agrees]


def called_text(info, vid, c, base):
    """`name` +2.0% [+1.0%, +3.2%] (+720 ns) for one called comparison."""
    extra = f" ({fmt_ns(base * (c['ratio'] - 1.0))})" if base else ""
    return f"`{directive_label(info, vid)}` {change(c)}{extra}"


def called(g, ctl, metric):
    """(the rows of G whose METRIC changed beyond the noise, largest change
    first; how many others; the bound below which it sees no change) over
    G's ranked directives with a cost of METRIC (3 samples or more, an
    interval of some width), or None when it has none."""
    ranked = [r for r in ranked_rows(g, ctl)
              if r["cmp"].get(metric) and not st.why_not(r["cmp"][metric])]
    if not ranked:
        return None
    hit = [r for r in ranked if r["cmp"][metric].get("verdict") in ("worse", "better")]
    hit.sort(key=lambda r: -abs(r["cmp"][metric]["ratio"] - 1.0))
    return hit, len(ranked) - len(hit), no_cost_bound(g, ranked, metric)


def _rest(n, bound, what="change"):
    return (f"no {what} found above ±{bound * 100:.1f}% ({n} directive{'' if n == 1 else 's'})"
            if n else "-")


def verdict_cost_rows(res, analysis, ctl):
    """Per server, mode and part of CPU per request (PART_LABELS: the
    server's, and the sender's where the windows recorded it) the
    directives that change it beyond the noise and a bound for the rest."""
    info = analysis["info"]
    rows = []
    for g in analysis["groups"]:
        for m, part in PART_LABELS.items():
            got = called(g, ctl, m)
            if not got:
                continue
            hit, rest, bound = got
            base = g["base_levels"].get(m)
            rows.append([g["server"], g["mode"] + (" (a connection per request)"
                                                   if g["mode"] == "close" else ""), part,
                         fmt_ns(base).lstrip("+") if base else "-",
                         "; ".join(called_text(info, r["variant"], r["cmp"][m], base)
                                   for r in hit) or "none", _rest(rest, bound, "cost")])
    return rows


# the verdict's throughput and latency table: (metric, label)
SPEED = [("rps", "req/s"), ("p50", "p50 latency"), ("p99", "p99 latency"),
         ("p99.9", "p99.9 latency")]


def verdict_speed_rows(analysis, ctl):
    """Per server, mode and metric of SPEED: the directives that change it
    beyond the noise and a bound for the rest, or why it has no cost."""
    info = analysis["info"]
    rows = []
    for g in analysis["groups"]:
        for m, label in SPEED:
            got = called(g, ctl, m)
            how = (g.get("methods") or {}).get(m) or "isolated"
            if not got:
                why = (g.get("why") or {}).get(m)
                if why and m != "p99.9":
                    rows.append([g["server"], g["mode"], label, how, f"no change measured: {why}",
                                 "-"])
                continue
            hit, rest, bound = got
            rows.append([g["server"], g["mode"], label, how,
                         "; ".join(f"`{directive_label(info, r['variant'])}` "
                                   f"{change(r['cmp'][m])}" for r in hit) or "none",
                         _rest(rest, bound)])
    return rows


def verdict_startup_rows(analysis, ctl):
    info = analysis["info"]
    rows = []
    servers = []
    for vid in analysis["startup"]:
        if info[vid]["server"] not in servers:
            servers.append(info[vid]["server"])
    for s in servers:
        items = [(vid, e) for vid, e in analysis["startup"].items()
                 if info[vid]["server"] == s and e["cmp"] and info[vid]["role"] == "variant"
                 and vid not in ctl]
        if not items:
            continue
        base = next((e["level"] for vid, e in analysis["startup"].items()
                     if info[vid]["server"] == s and info[vid]["role"] == "baseline"), None)
        called = [(vid, e) for vid, e in items if e["cmp"].get("verdict") in ("worse", "better")]
        called.sort(key=lambda x: -x[1]["cmp"]["ratio"])
        floor = (analysis.get("startup_floor") or {}).get(s)
        rest = len(items) - len(called)
        rows.append([s, num(base), "; ".join(
            f"`{info[vid]['name']}` {change(e['cmp'])}"
            + (f" ({base * (e['cmp']['ratio'] - 1):+.1f} ms)" if base else "")
            for vid, e in called) or "none",
            "-" if not rest else
            f"one start each: no verdict ({rest})" if max(e["n"] for _, e in items) < 2 else
            f"no change found above ±{floor * 100:.0f}% ({rest})" if floor is not None
            else f"{rest} not called"])
    return rows


def hardened_rows(res, analysis):
    info = analysis["info"]
    rows = []
    for s in dict.fromkeys(g["server"] for g in analysis["groups"]):
        cv = combined_variant(res, info, s)
        if not cv:
            continue
        base = next((g["baseline"] for g in analysis["groups"] if g["server"] == s), None)
        be, ce = rs.exposure(res, base) if base else None, rs.exposure(res, cv)
        costs = []
        for g in analysis["groups"]:
            r = next((r for r in g["rows"] if g["server"] == s and r["variant"] == cv), None)
            if r and r["cmp"].get("cpu_ns_per_req"):
                costs.append(f"{g['mode']} {change(r['cmp']['cpu_ns_per_req'])} "
                             f"{mark(r['cmp']['cpu_ns_per_req'])}".strip())
        su = (analysis["startup"].get(cv) or {}).get("cmp")
        nd = len(info[cv].get("directives") or [])
        rows.append([s, f"`{info[cv]['name']}`" + (f" ({nd} directives)" if nd > 1 else ""),
                     f"{num(be)} → {num(ce)}" if be is not None and ce is not None else num(ce),
                     "; ".join(costs) or "-", change(su) if su else "-"])
    return rows


def calibration_line(cal):
    """The calibration table in one sentence."""
    by = {}
    for server, mode, regime, ctl, want, got, agrees in (row[:7] for row in cal):
        word = "agrees" if agrees == "yes" else "**does not agree**" if agrees == "**no**" \
            else "cannot tell" if agrees.startswith("too noisy") \
            else "reads less at saturation (batching)" if agrees.startswith("below it") \
            else "has no verdict"
        by.setdefault(word, []).append(f"{server} {mode} ({regime}" + (
            f"; {got} against {want})" if word != "agrees" else ")"))
    order = ["agrees", "**does not agree**", "reads less at saturation (batching)",
             "cannot tell", "has no verdict"]
    model = {}
    for row in cal:
        if len(row) > len(CALIBRATION_HEAD) and row[-1] in ("yes", "**no**"):
            model.setdefault("agrees" if row[-1] == "yes" else "**does not agree**",
                             []).append(f"{row[0]} {row[1]}")
    tail = ", ".join(f"{w} on {', '.join(model[w])}" for w in ("agrees", "**does not agree**")
                     if w in model)
    return "**Calibration**: the known cost " + "; ".join(
        f"{w} on {', '.join(by[w])}" for w in order if w in by) + (
        f"; the wake-up model's expected reading {tail}" if tail else "") + \
        " ([details](#calibration))."


def sec_verdict(res, analysis, ctx):
    """What the run found, first: per server and mode, the directives with a cost
    above the noise and a bound for the rest; start-up; the combined unit;
    calibration in one line."""
    out = [h(2, "Verdict")]
    out.append(para("A directive is named only when its 95% interval excludes 0, a rank test "
                    "agrees and the change is larger than the A/A control's noise floor; "
                    "the bound for the rest is the larger of that floor and the typical "
                    "directive's interval. Nothing is named or bounded from fewer than 3 "
                    "windows or slices, or from an interval of zero width. Calibration "
                    "controls are not counted here."))
    rows = verdict_cost_rows(res, analysis, ctx["controls"])
    if rows:
        out.append(table(["server", "mode", "CPU of", "baseline CPU per request",
                          "directives that change CPU per request beyond the noise "
                          "(change [95% interval], CPU time)", "every other directive"],
                         rows, ["l", "l", "l", "r", "l", "l"]))
    rows = verdict_speed_rows(analysis, ctx["controls"])
    if rows:
        out.append(table(["server", "mode", "figure", "measured in",
                          "directives that change it beyond the noise (change [95% interval])",
                          "every other directive"], rows, ["l", "l", "l", "l", "l", "l"]))
    rows = verdict_startup_rows(analysis, ctx["controls"])
    if rows:
        out.append(table(["server", "baseline start-up (ms)",
                          "directives that change start-up beyond the noise (change [95% "
                          "interval], ms)", "every other directive"], rows,
                         ["l", "r", "l", "l"]))
    rows = hardened_rows(res, analysis)
    if rows:
        out.append(table(["server", "combined hardened unit", "exposure: baseline → hardened",
                          "CPU per request change [95%] by mode", "start-up change [95%]"],
                         rows, ["l", "l", "r", "l", "r"]))
    else:
        out.append(para("No combined hardened unit was measured in this set: every directive "
                        "was measured alone (`sandbench run --profile hardened-SERVER "
                        "--combine` measures one)."))
    if ctx["cal"]:
        out.append(para(calibration_line(ctx["cal"])))
    return out
