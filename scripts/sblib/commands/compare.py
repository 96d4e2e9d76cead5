"""sandbench compare BASE NEW: the regression gate a CI job runs.

By default the gate judges what each run measures about itself, so that two
machines, or one machine on two days, can be compared:
  - each directive's cost (variant / the same run's baseline, CPU per request
    and req/s) and how it moved: NEW's cost over BASE's, with a 95% interval
    combined from the two runs' own intervals (_stats.combine_intervals);
  - exposure (systemd-analyze security) that rose, and compatibility: a
    variant that started and answered in BASE and does not in NEW;
  - coverage: every variant, server and mode BASE measured must be measured
    in NEW; one that is missing, or whose slices all failed, is "lost" and
    fails the gate unless --allow-missing.
Absolute figures (CPU per request, req/s, latency percentiles, start-up)
move with the machine and gate only with --absolute, then with intervals.

Both sets are read through the one analysis the report makes
(_results.analyse): a set's analysis.json is reused when it records that it
is the analysis of exactly these slices, else the set is analysed here (with
progress on a terminal). So the gate and the reports agree on every cost.

Calibration controls (directives that add a known cost, not hardening:
spec.json "expect", catalogue "calibration: yes") are never regressions.
They are checked on their own: a control with a known answer that NEW
measures at neither its known answer nor what BASE measured means NEW
measured something other than it claims, and the comparison is invalid.

An incomplete or interrupted NEW (status.json) is named and not gated
unless --allow-incomplete (then what it measured is gated, and what it did
not reach counts as lost coverage).

Exit status: see EXITS.
"""
import argparse
import json
import math
import os
import sys
import textwrap
from xml.sax.saxutils import escape, quoteattr

from sblib.analysis import results as rs
from sblib.analysis import stats as st

HELP = "the CI gate: compare two results directories; exit 1 on a regression or lost coverage"
SCHEMA = "sandbench-compare/1"

EXITS = [
    (0, "pass: nothing regressed, nothing lost"),
    (1, "regression: a directive's cost (or, with --absolute, a figure) got significantly "
        "worse by more than the threshold, exposure rose, a variant stopped working, or "
        "coverage of BASE was lost (unless --allow-missing)"),
    (2, "bad input: a directory missing or malformed, BASE with nothing measured, a bad option"),
    (3, "invalid: a calibration control in NEW disagrees with its known answer and with "
        "BASE: the run measured something other than it claims"),
    (4, "incomplete: NEW is not a complete run (interrupted or still running): not gated "
        "without --allow-incomplete"),
]
PASS, REGRESSION, BAD, INVALID, INCOMPLETE = 0, 1, 2, 3, 4

COST_METRICS = ["cpu_ns_per_req", "rps"]
ABS_METRICS = [m for m, _, _ in rs.METRICS] + ["startup_ms"]
EXPOSURE_EPS = 0.05
LABELS = {m: lab for m, lab, _ in rs.METRICS}
LABELS["startup_ms"] = "start-up"
FORMATS = ("text", "json", "markdown", "junit")
MAX_ANNOTATIONS = 10   # GitHub shows about ten of a kind per step


def _fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e4:
        return f"{v / 1e3:.1f}k"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


# --- the two sides -------------------------------------------------------------

def state_of(res):
    """(state, done, planned) of a results directory from status.json."""
    s = res.get("status") or {}
    return s.get("state"), s.get("runs_done"), s.get("runs_planned")


def costs_of(res, analysis):
    """{(variant, mode): {metric: analyse() comparison}} of every variant
    (A/A control included) that has one."""
    out = {}
    for g in analysis["groups"]:
        for r in g["rows"]:
            if r["cmp"]:
                out[(r["variant"], g["mode"])] = r["cmp"]
    return out


def _status(res, vid):
    return (res["variants"].get(vid) or {}).get("status")


# --- the gate ------------------------------------------------------------------

def _lost(a, b, ca, cb, info_b, only_base):
    """What BASE measured and NEW did not: [{variant, mode, why}], leaving
    out variants NEW says stopped working (a compatibility regression)."""
    out = []
    new_modes = set(rs.modes(b))
    measured_b = {}
    for r in b["runs"]:
        measured_b.setdefault((r["variant"], r["mode"]), []).append(r.get("status", "ok"))
    for (vid, mode) in ca:
        if (vid, mode) in cb:
            continue
        sb = _status(b, vid)
        if vid in info_b and sb not in (None, "ok"):
            continue
        slices = measured_b.get((vid, mode), [])
        if vid in only_base:
            why = "not in NEW"
        elif mode not in new_modes:
            why = f"mode {mode} not measured in NEW"
        elif slices and all(x != "ok" for x in slices):
            why = f"all {len(slices)} slice(s) failed"
        elif not slices:
            why = "no slice in NEW"
        else:
            why = "no comparison with its baseline in NEW (the baseline unmeasured?)"
        out.append({"variant": vid, "mode": mode, "why": why})
    # a variant BASE knew only by its status (it never started there)
    for vid in only_base:
        if not any(k[0] == vid for k in ca):
            out.append({"variant": vid, "mode": "-", "why": "not in NEW (its compatibility "
                        "is no longer checked)"})
    return out


def _calibration_checks(a, aa, b, ab):
    """Each control with a known answer, as NEW measured it, against the
    answer and against BASE: [{server, mode, variant, directive, expected,
    new: rs.calibration row, base: row or None, agrees: "yes" | "like BASE" |
    "vague" | "n/a" | "missing" | "no"}]."""
    base = {(c["variant"], c["mode"]): c for c in rs.calibration(a, aa)}
    out = []
    for c in rs.calibration(b, ab):
        c0 = base.get((c["variant"], c["mode"]))
        word = c["agrees"]
        if word == "no" and c0 and c0["measured"] is not None:
            _, lo, hi = st.combine_intervals(c0["measured"], c0["lo"], c0["hi"], c["measured"],
                                             c["lo"], c["hi"], log=False)
            if lo <= 0 <= hi:
                word = "like BASE"
        out.append({"server": c["server"], "mode": c["mode"], "variant": c["variant"],
                    "directive": c["directive"], "metric": c["metric"],
                    "expected": c["expected"], "new": c, "base": c0, "agrees": word})
    return out


def _absolute_rows(a, b, pairs, metrics, threshold, resamples, progress):
    """--absolute: each figure of each variant, NEW against BASE, with the
    interval of st.compare (the statistic every analysis uses)."""
    seed = rs.seed_of(b)
    first_mode = {}
    todo = []
    for vid, mode in pairs:
        first_mode.setdefault(vid, mode)
        for m in metrics:
            if m == "startup_ms" and first_mode[vid] != mode:
                continue
            todo.append((vid, mode, m))
    rows = []
    for k, (vid, mode, m) in enumerate(todo):
        if m == "startup_ms":
            xa, xb = rs.startup_samples(a, vid), rs.startup_samples(b, vid)
        else:
            xa = [v for _, v in rs.samples(a, vid, mode, m)]
            xb = [v for _, v in rs.samples(b, vid, mode, m)]
        if xa and xb:
            c = st.compare(xa, xb, st.derive_seed(seed, "cmp", vid, mode, m), resamples=resamples)
            c.update({"kind": "absolute", "variant": vid, "metric": m,
                      "mode": mode if m != "startup_ms" else "-",
                      "change": c["ratio"], "verdict": st.verdict(m, c, threshold)})
            rows.append(c)
        progress("absolute figures", k + 1, len(todo))
    return rows


def gate(a, aa, b, ab, threshold=0.05, metrics=None, absolute=False, allow_missing=False,
         allow_incomplete=False, resamples=st.RESAMPLES, progress=None):
    """The comparison of loaded results A (BASE) and B (NEW) with their
    analyses AA and AB (rs.analysed). Returns the result dict that every
    output format renders; result["exit"] is the exit status (EXITS)."""
    progress = progress or (lambda what, done, total: None)
    metrics = list(metrics or (ABS_METRICS if absolute else COST_METRICS))
    ia, ib = rs.variant_info(a), rs.variant_info(b)
    ctl = rs.controls(a) | rs.controls(b)
    ca, cb = costs_of(a, aa), costs_of(b, ab)
    only_base = [v for v in ia if v not in ib]
    out = {"schema": SCHEMA, "threshold": threshold, "metrics": metrics, "absolute": absolute,
           "base": side_info(a, aa), "new": side_info(b, ab), "costs": [], "absolute_rows": [],
           "compatibility": [], "exposure": [], "lost": [], "calibration": [],
           "controls": sorted(ctl), "only_base": only_base,
           "only_new": [v for v in ib if v not in ia], "notes": [], "invalid": [],
           "regressions": []}
    regs = out["regressions"]
    state = out["new"]["state"]
    if state != "complete":
        out["notes"].append(f"NEW is not complete: state {state!r}, {out['new']['done']} of "
                            f"{out['new']['planned']} records"
                            + ("" if allow_incomplete else
                               "; not gated (--allow-incomplete gates what it measured)"))
        if not allow_incomplete:
            out["exit"] = INCOMPLETE
            return out
    if out["base"]["state"] != "complete":
        out["notes"].append(f"BASE is not complete: state {out['base']['state']!r}")
    ma, mb = methods_of(aa), methods_of(ab)
    if ma and mb and ma != mb:
        out["notes"].append(f"CPU per request measured by {'/'.join(ma)} in BASE, by "
                            f"{'/'.join(mb)} in NEW (results/README.md): the calibration "
                            "control reads differently by method")
    # directive costs, each run against its own baseline
    for (vid, mode), c0 in ca.items():
        c1 = cb.get((vid, mode))
        if c1 is None or ia[vid]["role"] == "aa":
            continue
        for m in metrics:
            x0, x1 = c0.get(m), c1.get(m)
            if not x0 or not x1 or m == "startup_ms":
                continue
            ratio, lo, hi = st.combine_intervals(x0["ratio"], x0["lo"], x0["hi"],
                                                 x1["ratio"], x1["lo"], x1["hi"])
            row = {"kind": "cost", "variant": vid, "mode": mode, "metric": m,
                   "base": x0["ratio"], "base_lo": x0["lo"], "base_hi": x0["hi"],
                   "new": x1["ratio"], "new_lo": x1["lo"], "new_hi": x1["hi"],
                   "change": ratio, "lo": lo, "hi": hi, "significant": lo > 1.0 or hi < 1.0,
                   "control": vid in ctl}
            row["verdict"] = st.verdict(m, dict(row, ratio=ratio), threshold)
            out["costs"].append(row)
            if row["verdict"] == "worse" and not row["control"]:
                regs.append(dict(row, what=f"cost {LABELS[m]} {st.pct(x0['ratio'])} -> "
                                 f"{st.pct(x1['ratio'])}: {st.pct(ratio)} "
                                 f"{st.interval(lo, hi)}"))
    # compatibility and exposure
    for vid in ia:
        if vid not in ib:
            continue
        s0, s1 = _status(a, vid), _status(b, vid)
        if s0 != s1 and (s0 or s1):
            row = {"kind": "compatibility", "variant": vid, "mode": "-", "base": s0, "new": s1,
                   "control": vid in ctl}
            out["compatibility"].append(row)
            if s0 == "ok" and s1 not in (None, "ok") and not row["control"]:
                regs.append(dict(row, what=f"worked in BASE, {s1} in NEW"))
        e0, e1 = rs.exposure(a, vid), rs.exposure(b, vid)
        if e0 is not None and e1 is not None and abs(e1 - e0) > EXPOSURE_EPS:
            row = {"kind": "exposure", "variant": vid, "mode": "-", "base": e0, "new": e1,
                   "control": vid in ctl}
            out["exposure"].append(row)
            if e1 > e0 and not row["control"]:
                regs.append(dict(row, what=f"exposure rose {e0:.1f} -> {e1:.1f}"))
    # coverage
    out["lost"] = _lost(a, b, ca, cb, ib, only_base)
    if out["lost"] and not allow_missing:
        for x in out["lost"]:
            regs.append({"kind": "lost", "variant": x["variant"], "mode": x["mode"],
                         "what": "lost coverage: " + x["why"]})
    # calibration, on its own
    out["calibration"] = _calibration_checks(a, aa, b, ab)
    for c in out["calibration"]:
        if c["agrees"] == "no":
            n, b0 = c["new"], c["base"]
            out["invalid"].append(
                f"{c['variant']} {c['mode']}: NEW measures {n['measured']:+,.0f} "
                f"[{n['lo']:+,.0f}, {n['hi']:+,.0f}] against the known {c['expected']:+,.0f}"
                + (f" and BASE's {b0['measured']:+,.0f} [{b0['lo']:+,.0f}, {b0['hi']:+,.0f}]"
                   if b0 and b0["measured"] is not None else ""))
    if absolute:
        pairs = [k for k in ca if k in cb] + [(v, g["mode"]) for g in aa["groups"]
                                              for v in [g["baseline"]] if v in ib]
        out["absolute_rows"] = _absolute_rows(a, b, pairs, metrics, threshold, resamples,
                                              progress)
        for r in out["absolute_rows"]:
            r["control"] = r["variant"] in ctl
            if r["verdict"] == "worse" and not r["control"]:
                regs.append(dict(r, what=f"{LABELS[r['metric']]} {_fmt(r['base'])} -> "
                                 f"{_fmt(r['new'])}: {st.pct(r['ratio'])} "
                                 f"{st.interval(r['lo'], r['hi'])}"))
    out["exit"] = INVALID if out["invalid"] else REGRESSION if regs else PASS
    return out


def compare_dirs(a, b, threshold=0.05, resamples=st.RESAMPLES, **kw):
    """gate() of loaded results A and B, each analysed (or its analysis.json
    reused) first."""
    aa, ab = (dict(rs.analysed(r, resamples)[0]) for r in (a, b))
    return gate(a, aa, b, ab, threshold, resamples=resamples, **kw)


def methods_of(analysis):
    """The methods (duet, isolated) that measured CPU per request, sorted."""
    return sorted({(g.get("methods") or {}).get("cpu_ns_per_req") or "isolated"
                   for g in analysis["groups"] if g["rows"]})


def side_info(res, analysis):
    state, done, planned = state_of(res)
    return {"path": res["path"], "state": state, "done": done, "planned": planned,
            "records": len(res["runs"]), "analysis": analysis.get("_how") if analysis else None,
            "env": {k: res["env"].get(k) for k in ("kernel", "systemd", "cpu_model", "cores",
                                                   "host")}}


# --- output --------------------------------------------------------------------

VERDICT = {PASS: "PASS", REGRESSION: "FAIL", BAD: "BAD INPUT", INVALID: "INVALID",
           INCOMPLETE: "INCOMPLETE"}


def headline(r):
    n = len(r["regressions"])
    what = {PASS: "no regression, no coverage lost",
            REGRESSION: f"{n} regression(s)" + (
                f", {sum(x['kind'] == 'lost' for x in r['regressions'])} of them lost coverage"
                if _lost_gated(r) else ""),
            INVALID: "a calibration control disagrees: NEW measured something other than it "
                     "claims",
            INCOMPLETE: "NEW is not a complete run; not gated"}[r["exit"]]
    return f"{VERDICT[r['exit']]}: {what} (exit {r['exit']})"


def _side_line(name, s):
    return (f"{name}: {s['path']} ({s['state']}, {s['records']} records; "
            f"{s['analysis'] or 'not analysed'}; kernel {s['env'].get('kernel')})")


def _lost_gated(r):
    return any(x["kind"] == "lost" for x in r["regressions"])


def _lost_summary(lost, limit=12):
    by = {}
    for x in lost:
        by.setdefault(x["why"], []).append(f"{x['variant']} {x['mode']}")
    return [f"{len(v)} {why}: " + ", ".join(v[:limit]) + (f", ... {len(v) - limit} more"
                                                             if len(v) > limit else "")
            for why, v in by.items()]


def _cost_counts(r):
    rows = [c for c in r["costs"] if not c["control"]]
    worse = sum(c["verdict"] == "worse" for c in rows)
    better = sum(c["verdict"] == "better" for c in rows)
    return (f"{len(rows)} directive costs compared ({', '.join(r['metrics'])}): {worse} worse, "
            f"{better} better, {len(rows) - worse - better} unchanged at the "
            f"{r['threshold'] * 100:g}% threshold")


def _cal_line(c):
    n = c["new"]
    got = "-" if n["measured"] is None else \
        f"{n['measured']:+,.0f} [{n['lo']:+,.0f}, {n['hi']:+,.0f}]"
    return (f"{c['variant']} {c['mode']}: {got} against {c['expected']:+,.0f}: "
            + {"yes": "agrees", "like BASE": "as in BASE (which also misses the answer)",
               "vague": "too noisy to tell", "n/a": "n/a (a process per connection)",
               "missing": "not measured", "no": "DISAGREES"}[c["agrees"]])


def _cost_table(rows):
    head = (f"{'variant':<40} {'mode':<9} {'metric':<15} {'BASE cost':>9} {'NEW cost':>9} "
            f"{'change':>8} {'95% interval':<19} verdict")
    lines = [head]
    for c in rows:
        lines.append(f"{c['variant']:<40} {c['mode']:<9} {c['metric']:<15} "
                     f"{st.pct(c['base']):>9} {st.pct(c['new']):>9} {st.pct(c['change']):>8} "
                     f"{st.interval(c['lo'], c['hi']):<19} {c['verdict']}"
                     + ("  (control)" if c["control"] else ""))
    return lines


def render_text(r, verbose=False):
    lines = [headline(r), _side_line("BASE", r["base"]), _side_line("NEW", r["new"])]
    lines += [f"note: {n}" for n in r["notes"]]
    if r["exit"] == INCOMPLETE:
        return lines
    for x in r["invalid"]:
        lines.append(f"INVALID: calibration {x}")
    lines.append(_cost_counts(r))
    for x in r["regressions"]:
        lines.append(f"REGRESSION: {x['variant']} {x['mode']} {x['what']}"
                     if x["kind"] != "lost" else None)
    lines = [x for x in lines if x is not None]
    if r["lost"]:
        lines.append(("LOST COVERAGE" if _lost_gated(r) else "lost coverage (allowed)")
                     + f": {len(r['lost'])} of what BASE measured")
        lines += ["  " + s for s in _lost_summary(r["lost"])]
    if r["calibration"]:
        lines.append("calibration (never a regression; checked on its own):")
        lines += ["  " + _cal_line(c) for c in r["calibration"]]
    ctl = [c for c in r["costs"] if c["control"] and c["verdict"] != "~"]
    if ctl:
        lines.append(f"controls whose cost moved (by design, not gated): "
                     + ", ".join(f"{c['variant']} {c['mode']} {c['metric']} "
                                 f"{st.pct(c['change'])}" for c in ctl))
    if r["only_new"]:
        lines.append(f"only in NEW (not gated): {len(r['only_new'])}")
    if verbose:
        lines += [""] + _cost_table(r["costs"])
        if r["absolute_rows"]:
            lines += ["", "absolute figures (NEW vs BASE):"]
            for c in r["absolute_rows"]:
                lines.append(f"{c['variant']:<40} {c['mode']:<9} {c['metric']:<15} "
                             f"{_fmt(c['base']):>9} {_fmt(c['new']):>9} {st.pct(c['ratio']):>8} "
                             f"{st.interval(c['lo'], c['hi']):<19} {c['verdict']}")
    return lines


def _md_cell(s):
    return str(s).replace("|", "\\|")


def render_markdown(r):
    """For a CI job's summary page: the verdict first, then what failed,
    then every cost in a collapsed table."""
    icon = {PASS: "✅", REGRESSION: "❌", INVALID: "⚠️", INCOMPLETE: "⏸️"}.get(r["exit"], "")
    lines = [f"### sandbench compare: {icon} {headline(r)}", ""]
    lines += [f"- BASE `{r['base']['path']}` ({r['base']['state']}, kernel "
              f"{r['base']['env'].get('kernel')})",
              f"- NEW `{r['new']['path']}` ({r['new']['state']}, kernel "
              f"{r['new']['env'].get('kernel')})"]
    lines += [f"- note: {n}" for n in r["notes"]]
    if r["exit"] == INCOMPLETE:
        return lines
    lines.append(f"- {_cost_counts(r)}")
    lines.append("")
    for x in r["invalid"]:
        lines.append(f"**Invalid:** calibration {x}")
    regs = [x for x in r["regressions"] if x["kind"] != "lost"]
    if regs:
        lines += ["| regression | mode | what |", "|:---|:---|:---|"]
        lines += [f"| `{x['variant']}` | {x['mode']} | {_md_cell(x['what'])} |" for x in regs]
        lines.append("")
    if r["lost"]:
        lines.append(f"**Lost coverage** ({len(r['lost'])}"
                     + ("" if _lost_gated(r) else ", allowed") + "):")
        lines += [f"- {_md_cell(s)}" for s in _lost_summary(r["lost"])]
        lines.append("")
    if r["calibration"]:
        lines.append("Calibration (never a regression):")
        lines += [f"- {_md_cell(_cal_line(c))}" for c in r["calibration"]]
        lines.append("")
    if r["costs"]:
        lines += ["<details><summary>every directive cost</summary>", "",
                  "| variant | mode | metric | BASE cost | NEW cost | change | 95% interval | "
                  "verdict |", "|:---|:---|:---|---:|---:|---:|---:|:---|"]
        for c in r["costs"]:
            lines.append(f"| `{c['variant']}` | {c['mode']} | {c['metric']} | "
                         f"{st.pct(c['base'])} | {st.pct(c['new'])} | {st.pct(c['change'])} | "
                         f"{st.interval(c['lo'], c['hi'])} | {c['verdict']}"
                         + (" (control)" if c["control"] else "") + " |")
        lines += ["", "</details>"]
    return lines


def render_junit(r):
    """One test case per variant and mode (the A/A control and each
    directive; a calibration control in its own suite), failed by its
    regressions or lost coverage; an invalid or incomplete comparison is an
    error of the whole suite."""
    cases = {}
    for c in r["costs"]:
        cases.setdefault((c["variant"], c["mode"]), [])
    for x in r["lost"]:
        cases.setdefault((x["variant"], x["mode"]), [])
    for x in r["regressions"]:
        cases.setdefault((x["variant"], x["mode"]), []).append(x)
    suites = {}
    for (vid, mode), fails in sorted(cases.items()):
        server = vid.split("/", 1)[0]
        suite = f"sandbench.{server}.{mode}" if vid not in r["controls"] else \
            f"sandbench.calibration.{server}"
        suites.setdefault(suite, []).append((vid, mode, fails))
    errors = r["invalid"] + ([r["notes"][0]] if r["exit"] == INCOMPLETE else [])
    total = sum(len(v) for v in suites.values())
    nfail = sum(1 for v in suites.values() for _, _, f in v if f)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="sandbench compare" tests="{total}" failures="{nfail}" '
           f'errors="{len(errors)}">']
    if errors:
        out.append('  <testsuite name="sandbench.gate" tests="1" failures="0" errors="1">')
        out.append(f'    <testcase classname="sandbench.gate" name={quoteattr(VERDICT[r["exit"]])}>')
        out.append(f'      <error message={quoteattr(headline(r))}>'
                   f'{escape(chr(10).join(errors))}</error>')
        out.append('    </testcase>')
        out.append('  </testsuite>')
    for suite, items in sorted(suites.items()):
        nf = sum(1 for _, _, f in items if f)
        out.append(f'  <testsuite name={quoteattr(suite)} tests="{len(items)}" '
                   f'failures="{nf}" errors="0">')
        for vid, mode, fails in items:
            out.append(f'    <testcase classname={quoteattr(suite)} '
                       f'name={quoteattr(vid + " " + mode)}>')
            for f in fails:
                out.append(f'      <failure message={quoteattr(f["what"])} '
                           f'type="{f["kind"]}"/>')
            out.append('    </testcase>')
        out.append('  </testsuite>')
    out.append('</testsuites>')
    return out


def render_json(r):
    return [json.dumps(r, indent=1, default=str, allow_nan=False)]


def _jsonable(r):
    """R with non-finite floats (an interval that ran off) as None."""
    def fix(x):
        if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
            return None
        if isinstance(x, dict):
            return {k: fix(v) for k, v in x.items()}
        if isinstance(x, list):
            return [fix(v) for v in x]
        return x
    return fix(r)


def annotations(r):
    """GitHub Actions workflow commands (::error::) for what failed."""
    def esc(s):
        return str(s).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    out = [f"::error title=sandbench compare: invalid::{esc(x)}" for x in r["invalid"]]
    if r["exit"] == INCOMPLETE:
        out.append(f"::error title=sandbench compare: incomplete::{esc(r['notes'][0])}")
    regs = [x for x in r["regressions"] if x["kind"] != "lost"]
    for x in regs[:MAX_ANNOTATIONS]:
        out.append(f"::error title=sandbench regression: {esc(x['variant'])} {x['mode']}::"
                   f"{esc(x['what'])}")
    if len(regs) > MAX_ANNOTATIONS:
        out.append(f"::error title=sandbench compare::{len(regs) - MAX_ANNOTATIONS} more "
                   "regressions (see the job's output)")
    if r["lost"]:
        kind = "error" if _lost_gated(r) else "warning"
        out.append(f"::{kind} title=sandbench compare: lost coverage::"
                   + esc("; ".join(_lost_summary(r["lost"], 5))))
    return out


RENDER = {"text": None, "json": render_json, "markdown": render_markdown, "junit": render_junit}


# --- command line --------------------------------------------------------------

def parse_args(argv):
    codes = "\n".join(textwrap.fill(w, 79, initial_indent=f"  {c}  ", subsequent_indent="     ")
                      for c, w in EXITS)
    p = argparse.ArgumentParser(
        prog="sandbench compare", description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit status:\n" + codes + "\n\nExamples:\n"
        "  sandbench compare results/published/REF results/runs/NEW\n"
        "  sandbench compare REF NEW --format text --format junit:compare.xml "
        "--format markdown:\"$GITHUB_STEP_SUMMARY\"")
    p.add_argument("base", metavar="BASE", help="results directory of the reference run")
    p.add_argument("new", metavar="NEW", help="results directory of the run under test")
    p.add_argument("--threshold", type=float, default=5.0, metavar="PCT",
                   help="smallest significant change that counts as a regression (default 5)")
    p.add_argument("--metrics", metavar="M,M",
                   help="what gates: costs of cpu_ns_per_req,rps by default; with --absolute "
                        "any of " + ",".join(ABS_METRICS))
    p.add_argument("--absolute", action="store_true",
                   help="also gate on absolute figures (CPU per request, req/s, latency, "
                        "start-up; they move with the machine), each with its interval")
    p.add_argument("--costs-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--allow-missing", action="store_true",
                   help="coverage of BASE lost in NEW (a variant, server or mode missing, or "
                        "measured only by failed slices) is listed, not a failure")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="gate an incomplete or interrupted NEW on what it measured")
    p.add_argument("--reanalyse", action="store_true",
                   help="analyse both sets here even where analysis.json is theirs")
    p.add_argument("--format", action="append", metavar="FMT[:FILE]",
                   help="text (default), json (schema sandbench-compare/1), markdown (for a "
                        "CI job's summary page) or junit; to FILE, '-' or none for standard "
                        "output; repeat for several")
    p.add_argument("--json", metavar="FILE", help="same as --format json:FILE")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="text: every directive cost, not only what failed")
    p.add_argument("--resamples", type=int, default=st.RESAMPLES, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def outputs(args):
    """[(format, file or None for stdout)]; raises ValueError."""
    specs = list(args.format or [])
    if args.json:
        specs.append("json:" + args.json)
    outs = []
    for s in specs or ["text"]:
        fmt, _, path = s.partition(":")
        if fmt not in FORMATS:
            raise ValueError(f"--format {s!r}: want one of {', '.join(FORMATS)}[:FILE]")
        outs.append((fmt, None if path in ("", "-") else path))
    if sum(1 for _, p in outs if p is None) > 1:
        raise ValueError("only one --format can go to standard output; give the others a FILE")
    return outs


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


def load_side(path, name, args, progress):
    res = rs.load(path)
    progress.say(f"{name}: reading {path}")
    if name == "NEW" and state_of(res)[0] != "complete" and not args.allow_incomplete:
        return res, None
    analysis, how = rs.analysed(
        res, args.resamples, reuse=not args.reanalyse,
        progress=lambda d, t: progress(f"analysing {name} ({path})", d, t))
    analysis["_how"] = how if how == "analysis.json" else "analysed here"
    return res, analysis


def main(argv):
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else BAD
    try:
        outs = outputs(args)
    except ValueError as e:
        print(f"sandbench compare: {e}", file=sys.stderr)
        return BAD
    if not 0 <= args.threshold < 1000:
        print("sandbench compare: --threshold must be a percentage >= 0", file=sys.stderr)
        return BAD
    metrics = None
    if args.metrics:
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
        known = ABS_METRICS if args.absolute else COST_METRICS + ["p50", "p99", "p99.9"]
        bad = [m for m in metrics if m not in known]
        if bad:
            print(f"sandbench compare: unknown metric(s) {', '.join(bad)}; valid"
                  + ("" if args.absolute else " without --absolute") + ": " + ", ".join(known),
                  file=sys.stderr)
            return BAD
    progress = Progress()
    try:
        a, aa = load_side(args.base, "BASE", args, progress)
        b, ab = load_side(args.new, "NEW", args, progress)
    except rs.ResultsError as e:
        print(f"sandbench compare: {e}", file=sys.stderr)
        return BAD
    if not costs_of(a, aa):
        print(f"sandbench compare: BASE {args.base} has no directive cost measured (every "
              "slice failed, or no baseline?): nothing to gate against", file=sys.stderr)
        return BAD
    if ab is None:
        ab = {"groups": [], "info": {}}
    result = _jsonable(gate(a, aa, b, ab, args.threshold / 100.0, metrics, args.absolute,
                            args.allow_missing, args.allow_incomplete, args.resamples,
                            progress))
    progress.clear()
    for fmt, path in outs:
        lines = render_text(result, args.verbose) if fmt == "text" else RENDER[fmt](result)
        text = "\n".join(lines)
        if path is None:
            rs.emit(text)
        else:
            try:
                # a GitHub job summary collects what every command of the step wrote
                append = path == os.environ.get("GITHUB_STEP_SUMMARY")
                with open(path, "a" if append else "w", encoding="utf-8") as f:
                    f.write(text + "\n")
            except OSError as e:
                print(f"sandbench compare: cannot write {path}: {e}", file=sys.stderr)
                return BAD
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in annotations(result):
            print(line, file=sys.stderr)
    return result["exit"]
