"""The outputs of a comparison (sblib.analysis.compare): text in the manner
of benchstat (per row each side's n and interval, the change's interval and
p, and a summary line), markdown for a CI job's summary page, JUnit XML and
GitHub Actions annotations."""
import json
from xml.sax.saxutils import escape, quoteattr

from sblib.analysis import compare as cmp
from sblib.analysis import sets
from sblib.analysis import stats as st
from sblib.records.model import VariantId

VERDICT = {cmp.PASS: "PASS", cmp.REGRESSION: "FAIL", cmp.BAD: "BAD INPUT",
           cmp.INVALID: "INVALID", cmp.INCOMPLETE: "INCOMPLETE", cmp.EMPTY: "EMPTY"}
MAX_ANNOTATIONS = 10   # GitHub shows about ten of a kind per step


def label(x):
    """A row's variant, with its member set's name in a collection."""
    return f"{x['set']}: {x['variant']}" if x.get("set") else x["variant"]


def lost_gated(r):
    return any(x["kind"] == "lost" for x in r["regressions"])


def headline(r):
    n = len(r["regressions"])
    c = r["counts"]
    what = {cmp.PASS: "no regression, no coverage lost" if c["compared"] else
            "nothing compared (--allow-empty)",
            cmp.REGRESSION: f"{n} regression(s)" + (
                f", {sum(x['kind'] == 'lost' for x in r['regressions'])} of them lost coverage"
                if lost_gated(r) else ""),
            cmp.INVALID: "a calibration control disagrees: NEW measured something other than "
                         "it claims",
            cmp.INCOMPLETE: "NEW is not a complete run; not gated",
            cmp.EMPTY: f"nothing compared ({c['not_comparable']} not comparable: n<"
                       f"{cmp.MIN_N} / no interval); --allow-empty passes it"}[r["exit"]]
    return f"{VERDICT[r['exit']]}: {what} (exit {r['exit']})"


def summary_line(r):
    """How many were compared, regressions, improvements, not comparable."""
    c = r["counts"]
    checks = f" ({c['checks']} exposure and compatibility checks)" if c["checks"] else ""
    return (f"summary: {c['compared']} compared{checks}, {c['regressions']} regression(s), "
            f"{c['better']} improvement(s), {c['unchanged']} unchanged at the "
            f"{r['threshold'] * 100:g}% threshold, {c['not_comparable']} not comparable "
            f"(n<{cmp.MIN_N} / no interval)")


def _side_line(name, s):
    kinds = s.get("kinds") or ["run"]
    if "run" not in kinds:
        kernel = s["env"].get("kernel")
        return (f"{name}: {s['path']} ({sets.describe(kinds)}, {s['state']}"
                + (f"; kernel {kernel})" if kernel else ")"))
    return (f"{name}: {s['path']} ({s['state']}, {s['records']} records; "
            f"{s['analysis'] or 'not analysed'}; kernel {s['env'].get('kernel')}"
            + ("".join(f"; also {sets.describe([k])}" for k in kinds if k != "run")) + ")")


def lost_summary(lost, limit=12):
    by = {}
    for x in lost:
        by.setdefault(x["why"], []).append(f"{label(x)} {x['mode']}")
    return [f"{len(v)} {why}: " + ", ".join(v[:limit]) + (f", ... {len(v) - limit} more"
                                                             if len(v) > limit else "")
            for why, v in by.items()]


def cal_line(c):
    n = c["new"]
    unit = n.get("unit", "")
    got = "-" if n["measured"] is None else \
        f"{n['measured']:+,.0f}{unit} [{n['lo']:+,.0f}, {n['hi']:+,.0f}]"
    want = "no known answer" if c["expected"] is None else f"{c['expected']:+,.0f}{unit}"
    return (f"{c['variant']} {c['mode']}: {got} against {want}: "
            + {"yes": "agrees", "like BASE": "as in BASE (which also misses the answer)",
               "vague": "too noisy to tell",
               "n/a": "n/a (a process per connection, or no answer in this regime)",
               "missing": "not measured", "no": "DISAGREES",
               "batching": "below it at saturation (batching; the fixed load reads it)"}
            [c["agrees"]])


def word(c):
    """A row's verdict, with why when it is not comparable."""
    return f"{cmp.NOT_COMPARABLE} ({c['why']})" if c.get("why") else c["verdict"]


def _cost(x, lo, hi):
    """A cost with the half-width of its interval: '+10.1% ±1.2%'."""
    if x is None or lo is None or hi is None:
        return st.pct(x)
    return f"{st.pct(x)} ±{max(x - lo, hi - x) * 100:.1f}%"


def _change(c):
    return "-" if c.get("change") is None else st.pct(c["change"])


def _interval(c):
    return "-" if c.get("lo") is None else st.interval(c["lo"], c["hi"])


def _n(n):
    return "-" if n is None else str(n)


def _p(p):
    return "-" if p is None else f"{p:.2g}"


def _widths(rows):
    return (max([40] + [len(label(c)) for c in rows]), max([9] + [len(c["mode"]) for c in rows]))


def cost_table(rows):
    w, m = _widths(rows)
    head = (f"{'variant':<{w}} {'mode':<{m}} {'metric':<15} {'BASE cost':>15} {'n':>4} "
            f"{'NEW cost':>15} {'n':>4} {'change':>8} {'95% interval':<19} {'p':>7}  verdict")
    lines = [head]
    for c in rows:
        lines.append(f"{label(c):<{w}} {c['mode']:<{m}} {c['metric']:<15} "
                     f"{_cost(c['base'], c['base_lo'], c['base_hi']):>15} {_n(c['base_n']):>4} "
                     f"{_cost(c['new'], c['new_lo'], c['new_hi']):>15} {_n(c['new_n']):>4} "
                     f"{_change(c):>8} {_interval(c):<19} "
                     f"{_p(c['p']):>7}  {word(c)}" + ("  (control)" if c["control"] else ""))
    return lines


def absolute_table(rows):
    w, m = _widths(rows)
    lines = [f"{'variant':<{w}} {'mode':<{m}} {'metric':<15} {'BASE':>9} {'n':>4} {'NEW':>9} "
             f"{'n':>4} {'change':>8} {'95% interval':<19} {'p':>7}  verdict"]
    for c in rows:
        lines.append(f"{label(c):<{w}} {c['mode']:<{m}} {c['metric']:<15} "
                     f"{cmp.fmt(c['base']):>9} {_n(c['base_n']):>4} {cmp.fmt(c['new']):>9} "
                     f"{_n(c['new_n']):>4} {st.pct(c.get('ratio')):>8} {_interval(c):<19} "
                     f"{_p(c.get('p')):>7}  {word(c)}")
    return lines


def render_text(r, verbose=False):
    lines = [headline(r), _side_line("BASE", r["base"]), _side_line("NEW", r["new"])]
    lines += [f"note: {n}" for n in r["notes"]]
    if r["exit"] == cmp.INCOMPLETE and not r.get("incomplete"):
        return lines
    lines += [f"INVALID: calibration {x}" for x in r["invalid"]]
    lines.append(summary_line(r))
    lines += [f"REGRESSION: {label(x)} {x['mode']} {x['what']}" for x in r["regressions"]
              if x["kind"] != "lost"]
    if r["lost"]:
        lines.append(("LOST COVERAGE" if lost_gated(r) else "lost coverage (allowed)")
                     + f": {len(r['lost'])} of what BASE measured")
        lines += ["  " + s for s in lost_summary(r["lost"])]
    if r["calibration"]:
        lines.append("calibration (never a regression; checked on its own):")
        lines += ["  " + cal_line(c) for c in r["calibration"]]
    ctl = [c for c in r["costs"] if c["control"] and c["verdict"] in ("worse", "better")]
    if ctl:
        lines.append("controls whose cost moved (by design, not gated): "
                     + ", ".join(f"{label(c)} {c['mode']} {c['metric']} "
                                 f"{st.pct(c['change'])}" for c in ctl))
    if r["only_new"]:
        lines.append(f"only in NEW (not gated): {len(r['only_new'])}")
    if verbose:
        if r["costs"]:
            lines += [""] + cost_table(r["costs"])
        if r["absolute_rows"]:
            lines += ["", "absolute figures (NEW vs BASE):"] + absolute_table(r["absolute_rows"])
    elif r["counts"]["not_comparable"] or r["counts"]["costs"]:
        lines.append("-v lists every comparison with each side's n and interval")
    return lines


def _md_cell(s):
    return str(s).replace("|", "\\|")


def render_markdown(r):
    """For a CI job's summary page: the verdict first, then what failed,
    then every cost in a collapsed table."""
    icon = {cmp.PASS: "✅", cmp.REGRESSION: "❌", cmp.INVALID: "⚠️", cmp.INCOMPLETE: "⏸️",
            cmp.EMPTY: "❔"}.get(r["exit"], "")
    lines = [f"### sandbench compare: {icon} {headline(r)}", ""]
    lines += [f"- BASE `{r['base']['path']}` ({r['base']['state']}, kernel "
              f"{r['base']['env'].get('kernel')})",
              f"- NEW `{r['new']['path']}` ({r['new']['state']}, kernel "
              f"{r['new']['env'].get('kernel')})"]
    lines += [f"- note: {n}" for n in r["notes"]]
    if r["exit"] == cmp.INCOMPLETE and not r.get("incomplete"):
        return lines
    lines.append(f"- {summary_line(r)}")
    lines.append("")
    for x in r["invalid"]:
        lines.append(f"**Invalid:** calibration {x}")
    regs = [x for x in r["regressions"] if x["kind"] != "lost"]
    if regs:
        lines += ["| regression | mode | what |", "|:---|:---|:---|"]
        lines += [f"| `{label(x)}` | {x['mode']} | {_md_cell(x['what'])} |" for x in regs]
        lines.append("")
    if r["lost"]:
        lines.append(f"**Lost coverage** ({len(r['lost'])}"
                     + ("" if lost_gated(r) else ", allowed") + "):")
        lines += [f"- {_md_cell(s)}" for s in lost_summary(r["lost"])]
        lines.append("")
    if r["calibration"]:
        lines.append("Calibration (never a regression):")
        lines += [f"- {_md_cell(cal_line(c))}" for c in r["calibration"]]
        lines.append("")
    if r["costs"]:
        lines += ["<details><summary>every directive cost</summary>", "",
                  "| variant | mode | metric | BASE cost | n | NEW cost | n | change | "
                  "95% interval | p | verdict |",
                  "|:---|:---|:---|---:|---:|---:|---:|---:|---:|---:|:---|"]
        for c in r["costs"]:
            lines.append(f"| `{label(c)}` | {c['mode']} | {c['metric']} | "
                         f"{_cost(c['base'], c['base_lo'], c['base_hi'])} | {_n(c['base_n'])} | "
                         f"{_cost(c['new'], c['new_lo'], c['new_hi'])} | {_n(c['new_n'])} | "
                         f"{_change(c)} | {_interval(c)} | "
                         f"{_p(c['p'])} | {word(c)}" + (" (control)" if c["control"] else "")
                         + " |")
        lines += ["", "</details>"]
    return lines


def render_junit(r):
    """One test case per variant and mode (the A/A control and each
    directive; a calibration control in its own suite), failed by its
    regressions or lost coverage, skipped when none of its comparisons was
    comparable; an invalid, incomplete or empty comparison is an error of
    the whole suite."""
    cases, comparable = {}, set()
    for c in r["costs"]:
        cases.setdefault((label(c), c["mode"]), [])
        if c.get("comparable", True):
            comparable.add((label(c), c["mode"]))
    for x in r["lost"]:
        cases.setdefault((label(x), x["mode"]), [])
        comparable.add((label(x), x["mode"]))
    for x in r["regressions"]:
        cases.setdefault((label(x), x["mode"]), []).append(x)
    suites = {}
    for (vid, mode), fails in sorted(cases.items()):
        server = VariantId.parse(vid).server
        suite = f"sandbench.{server}.{mode}" if vid not in r["controls"] else \
            f"sandbench.calibration.{server}"
        suites.setdefault(suite, []).append((vid, mode, fails))
    errors = r["invalid"] + ([r["notes"][0]] if r["exit"] == cmp.INCOMPLETE and r["notes"]
                             else []) + ([headline(r)] if r["exit"] == cmp.EMPTY else [])
    total = sum(len(v) for v in suites.values())
    nfail = sum(1 for v in suites.values() for _, _, f in v if f)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="sandbench compare" tests="{total}" failures="{nfail}" '
           f'errors="{len(errors)}">']
    if errors:
        out.append('  <testsuite name="sandbench.gate" tests="1" failures="0" errors="1">')
        out.append(f'    <testcase classname="sandbench.gate" '
                   f'name={quoteattr(VERDICT[r["exit"]])}>')
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
            if not fails and (vid, mode) not in comparable:
                out.append(f'      <skipped message="{cmp.NOT_COMPARABLE} (n&lt;{cmp.MIN_N} / '
                           'no interval)"/>')
            out.append('    </testcase>')
        out.append('  </testsuite>')
    out.append('</testsuites>')
    return out


def render_json(r):
    return [json.dumps(r, indent=1, default=str, allow_nan=False)]


def annotations(r):
    """GitHub Actions workflow commands (::error::) for what failed."""
    def esc(s):
        return str(s).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    out = [f"::error title=sandbench compare: invalid::{esc(x)}" for x in r["invalid"]]
    if r["exit"] == cmp.INCOMPLETE and r["notes"]:
        out.append(f"::error title=sandbench compare: incomplete::{esc(r['notes'][0])}")
    if r["exit"] == cmp.EMPTY:
        out.append(f"::error title=sandbench compare: empty::{esc(headline(r))}")
    regs = [x for x in r["regressions"] if x["kind"] != "lost"]
    for x in regs[:MAX_ANNOTATIONS]:
        out.append(f"::error title=sandbench regression: {esc(label(x))} {x['mode']}::"
                   f"{esc(x['what'])}")
    if len(regs) > MAX_ANNOTATIONS:
        out.append(f"::error title=sandbench compare::{len(regs) - MAX_ANNOTATIONS} more "
                   "regressions (see the job's output)")
    if r["lost"]:
        kind = "error" if lost_gated(r) else "warning"
        out.append(f"::{kind} title=sandbench compare: lost coverage::"
                   + esc("; ".join(lost_summary(r["lost"], 5))))
    return out


RENDER = {"text": render_text, "json": render_json, "markdown": render_markdown,
          "junit": render_junit}
