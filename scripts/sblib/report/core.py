"""The report of a results directory: report.md, report.html and plots (write_report).

The report opens with the verdict (sec_verdict): per server and mode the
directives whose CPU per request changed beyond the noise, with intervals, and
"no cost found above ±X%" for the rest; the start-up changes; the combined
hardened unit where one was measured; the calibration in one line. Then a
contents list and one section per function of SECTIONS, method and
environment last. Calibration controls (spec.json "expect", `calibration:
yes` in the catalogue) have their own table and are in no ranking or plot.

Writes into DIR:
  report.md      tables a person can read in a terminal or on a forge
  report.html    the same, self-contained (plots inlined as data: URIs), with anchors
  analysis.json  every interval and verdict behind the tables
  plots/*.png, plots/*.svg   made with gnuplot:
    cost-MODE            CPU-per-request change of each directive, 95% whiskers
    exposure-MODE        exposure against cost; each server's Pareto frontier
                         labelled, the other variants dots (listed in a table)
    latency-SERVER-MODE  latency percentiles, baseline vs the combined hardened
                         unit (else the lowest-exposure directive)
    startup              start-up change of each directive against its baseline
`sandbench run` calls write_report() with its own analysis when a run ends.
"""
import base64
import functools
import html
import json
import math
import re
import os
import shutil
import subprocess
import tempfile

from sblib import catalogue as cat
from sblib.analysis import results as rs
from sblib.analysis import stats as st


SERVER_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


# --- document model: a list of blocks rendered to Markdown and to HTML --------

def h(level, text):
    return ("h", level, text)


def para(text):
    return ("p", text)


def bullets(items):
    return ("ul", list(items))


def table(header, rows, align=None, fold=None):
    """A table; FOLD: a one-line summary under which HTML folds it away (long
    reference tables a reader opens when they need them)."""
    return ("table", header, rows, align, fold)


def image(name, caption):
    return ("img", name, caption)


def toc(titles):
    """A contents list linking to the headings TITLES."""
    return ("toc", list(titles))


def slug(text):
    """A heading's anchor, as forges make them from Markdown headings: lower
    case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def render_md(blocks):
    out = []
    for b in blocks:
        if b[0] == "h":
            out.append("#" * b[1] + " " + b[2])
        elif b[0] == "p":
            out.append(" ".join(b[1].split("\n")))
        elif b[0] == "ul":
            out.extend("- " + " ".join(i.split("\n")) for i in b[1])
        elif b[0] == "table":
            _, header, rows, align, _ = b
            align = align or ["l"] + ["r"] * (len(header) - 1)
            cell = lambda c: str(c).replace("|", "\\|").replace("\n", " ")  # noqa: E731
            out.append("| " + " | ".join(cell(c) for c in header) + " |")
            out.append("|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|")
            for r in rows:
                out.append("| " + " | ".join(cell(c) for c in r) + " |")
        elif b[0] == "toc":
            out.append("**Contents**")
            out.append("")
            out.extend(f"- [{t.replace('`', '')}](#{slug(t)})" for t in b[1])
        elif b[0] == "img":
            out.append(f"![{b[2]}](plots/{b[1]}.png)  ")
            out.append(f"*{b[2]}* ([SVG](plots/{b[1]}.svg))")
        out.append("")
    return "\n".join(out)


def _inline_md(text):
    """The little Markdown the report uses (`code`, **bold**, [text](#anchor)) as HTML."""
    t = re.sub(r"\[([^\]]+)\]\((#[\w-]+)\)", r'<a href="\2">\1</a>', html.escape(text))
    parts = t.split("`")
    for i in range(1, len(parts), 2):
        parts[i] = "<code>" + parts[i] + "</code>"
    t = "".join(parts)
    parts = t.split("**")
    for i in range(1, len(parts), 2):
        parts[i] = "<b>" + parts[i] + "</b>"
    return "".join(parts)


CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}th,td{border:1px solid #ccc;padding:.2em .55em}
th{background:#f1f1f1}td.r{text-align:right;font-variant-numeric:tabular-nums}
code{background:#f4f4f4;padding:0 .2em}figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}
figcaption{font-style:italic;color:#555}h1{border-bottom:2px solid #333}h2{border-bottom:1px solid #aaa;margin-top:1.6em}"""


def render_html(blocks, title, plots_dir):
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"]
    ids = {}
    for b in blocks:
        if b[0] == "h":
            a = slug(b[2])
            ids[a] = ids.get(a, -1) + 1
            a += f"-{ids[a]}" if ids[a] else ""
            out.append(f'<h{b[1]} id="{a}">{_inline_md(b[2])}</h{b[1]}>')
        elif b[0] == "toc":
            out.append('<nav><b>Contents</b><ul>' + "".join(
                f'<li><a href="#{slug(t)}">{_inline_md(t)}</a></li>' for t in b[1])
                + "</ul></nav>")
        elif b[0] == "p":
            out.append(f"<p>{_inline_md(b[1])}</p>")
        elif b[0] == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline_md(i)}</li>" for i in b[1]) + "</ul>")
        elif b[0] == "table":
            _, header, rows, align, fold = b
            align = align or ["l"] + ["r"] * (len(header) - 1)
            if fold:
                out.append(f"<details><summary>{_inline_md(fold)}</summary>")
            out.append("<table><tr>" + "".join(f"<th>{_inline_md(str(c))}</th>" for c in header)
                       + "</tr>")
            for r in rows:
                out.append("<tr>" + "".join(
                    f'<td class="{a}">{_inline_md(str(c))}</td>' for c, a in zip(r, align))
                    + "</tr>")
            out.append("</table>" + ("</details>" if fold else ""))
        elif b[0] == "img":
            svg = os.path.join(plots_dir, b[1] + ".svg")
            png = os.path.join(plots_dir, b[1] + ".png")
            src = None
            if os.path.exists(svg):
                with open(svg, "rb") as f:
                    src = "data:image/svg+xml;base64," + base64.b64encode(f.read()).decode()
            elif os.path.exists(png):
                with open(png, "rb") as f:
                    src = "data:image/png;base64," + base64.b64encode(f.read()).decode()
            if src:
                out.append(f'<figure><img alt="{html.escape(b[2])}" src="{src}">'
                           f"<figcaption>{html.escape(b[2])}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)


# --- number formatting ---------------------------------------------------------

def num(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return "-"
    a = abs(v)
    if a >= 1e4:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def change(c):
    """'+10.2% [+8.1%, +12.0%]' for a compare() result, or '-'."""
    if not c:
        return "-"
    if c.get("n_base", 2) < 2 and c.get("n_new", 2) < 2:
        return st.pct(c["ratio"])
    return f"{st.pct(c['ratio'])} {st.interval(c['lo'], c['hi'])}"


def applied_word(a):
    """The evidence verdict of one directive: True, False or None (could not tell)."""
    return {True: "yes", False: "**no**"}.get(a, "n/a")


def applied_summary(applied):
    if not applied:
        return "-"
    if len(applied) == 1:
        return applied_word(next(iter(applied.values())))
    vals = list(applied.values())
    parts = [f"{vals.count(True)} yes"]
    if vals.count(False):
        parts.append(f"**{vals.count(False)} no**")
    if len(vals) - vals.count(True) - vals.count(False):
        parts.append(f"{len(vals) - vals.count(True) - vals.count(False)} n/a")
    return ", ".join(parts)


def interval_width(g, rows=None):
    """Median half-width of the CPU-per-request intervals of ROWS (default: G's
    directives, A/A excluded), as a fraction; None without any."""
    ws = [max(c["ratio"] - c["lo"], c["hi"] - c["ratio"])
          for r in (rows if rows is not None else
                    [r for r in g["rows"] if r["variant"] != g["aa"]])
          for c in [r["cmp"].get("cpu_ns_per_req")] if c]
    return st.median(ws) if ws else None


def calibration_rows(res, analysis):
    """Rows for the calibration table: each variant made of one directive
    with a known answer (spec.json "expect"), against what was measured
    (rs.calibration)."""
    words = {"n/a": "n/a: a process per connection (its start is timed too)",
             "vague": "too noisy to tell", "yes": "yes", "no": "**no**"}
    rows = []
    for c in rs.calibration(res, analysis):
        head = [c["server"], c["mode"], f"`{c['directive']}`"]
        if c["measured"] is None:
            rows.append(head + [f"{c['expected']:+g}", "-", "-"])
            continue
        unit = " ns" if c["metric"].endswith("_ns_per_req") else ""
        rows.append(head + [f"{c['expected']:+,.0f}{unit}",
                            f"{c['measured']:+,.0f}{unit} [{c['lo']:+,.0f}, {c['hi']:+,.0f}]",
                            words[c["agrees"]]])
    return rows


def min_p(c):
    """The smallest p-value the rank test of compare() can give for these sample sizes."""
    if c.get("paired"):
        return 2.0 / 2 ** c["n_base"]
    return min(1.0, 2.0 / math.comb(c["n_base"] + c["n_new"], c["n_base"]))


def mark(c):
    if not c:
        return ""
    return {"worse": "**worse**", "better": "better", "~": "~"}[c["verdict"]]


# --- analysis -> blocks ---------------------------------------------------------

def directive_label(info, vid):
    d = info.get(vid) or {}
    name = d.get("name") or vid
    return name


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


def duet_items(spec):
    """What ran in duet windows, as bullet texts (none for an isolated run)."""
    d = spec.get("duet") or {}
    if not d:
        return []
    out = [f"CPU per request in **duet windows**: {d['rounds']} rounds, each holding one "
           f"{d['window_s']:g} s window per variant and mode, in which the variant and the "
           "baseline are loaded at the same time by one loadgen process (one ring, the "
           "connections split evenly, one start and one deadline, each instance's cgroups "
           "read at those two instants); the pairs in a seeded random order, which of the two "
           "comes first drawn per window"]
    for s, b in (d.get("by_server") or {}).items():
        out.append(f"{s}: windows in {', '.join(b['modes'])}, {b['connections_per_target']} "
                   f"connections per instance, {b['warmup_s']:g} s warm-up")
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
        *duet_items(spec),
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
        items.append(f"a user unit: `{spec['unit']}` at {spec.get('url') or '?'}")
    if status:
        items.append(f"state: **{status.get('state', '?')}**, {status.get('runs_done', '?')} of "
                     f"{status.get('runs_planned', '?')} slices")
    env_rows = [[k, str(env[k])] for k in ("kernel", "systemd", "openssl", "liburing", "nginx",
                                           "cpu_model", "cores", "governor", "host",
                                           "bpf_enforced") if k in env]
    env_rows += [[k, str(v)] for k, v in env.items()
                 if k not in {r[0] for r in env_rows} and not isinstance(v, (dict, list))]
    return items, env_rows


def fmt_ns(v):
    """A signed amount of CPU time, in the unit that suits it: +350 ns, +1.9 µs, +17.5 ms."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:+.1f} ms"
    if a >= 1e3:
        return f"{v / 1e3:+.1f} µs"
    return f"{v:+.0f} ns"


@functools.lru_cache(maxsize=None)
def _is_control(name):
    try:
        d = cat.load_directive(name)
    except cat.CatalogueError:
        return False
    return d.get("calibration", "").strip().lower() in ("yes", "true") or bool(d.get("expect"))


def controls(res, info):
    """The variants made only of calibration controls (a known effect that is not
    hardening: spec.json "expect", or `calibration: yes` in the catalogue). They
    have their own table and are left out of every ranking, plot and verdict."""
    expect = res["spec"].get("expect") or {}
    return {vid for vid, d in info.items()
            if d.get("directives") and all(x in expect or _is_control(x)
                                           for x in d["directives"])}


def combined_variant(res, info, server):
    """The combined hardened unit of SERVER measured in this set (a variant of
    several directives, or one named combined/hardened*), or None."""
    for d in info.values():
        if d["server"] != server or d["role"] in ("baseline", "aa") or \
                (res["variants"].get(d["id"]) or {}).get("status", "ok") != "ok":
            continue
        # `sandbench advise` measures its proposal as one drop-in named advice
        if len(d.get("directives") or []) > 1 or d["name"] in ("combined", "advice") or \
                d["name"].endswith("-combined") or d["name"].startswith("hardened"):
            return d["id"]
    return None


def hardened_variant(res, info, server):
    """The variant to set against the baseline in latency plots: the combined
    hardened unit, else the working single directive with the lowest exposure.
    Returns (variant or None, True when it is the combined unit)."""
    cv = combined_variant(res, info, server)
    if cv:
        return cv, True
    ok = [d for d in info.values() if d["server"] == server and d["role"] not in ("baseline", "aa")
          and (res["variants"].get(d["id"]) or {}).get("status", "ok") == "ok"]
    scored = [(rs.exposure(res, d["id"]), d["id"]) for d in ok
              if rs.exposure(res, d["id"]) is not None]
    if scored:
        return min(scored)[1], False
    return (ok[0]["id"] if ok else None), False


def ranked_rows(g, ctl):
    """G's rows that rank: neither the A/A control nor a calibration control."""
    return [r for r in g["rows"] if r["variant"] != g["aa"] and r["variant"] not in ctl]


def no_cost_bound(g, rows):
    """The change below which this group cannot see a cost: the larger of the
    A/A floor and the typical directive's interval half-width (a fraction)."""
    return max(g["floor"] or 0.0, interval_width(g, rows) or 0.0)


def called_text(info, vid, c, base):
    """`name` +2.0% [+1.0%, +3.2%] (+720 ns) for one called comparison."""
    extra = f" ({fmt_ns(base * (c['ratio'] - 1.0))})" if base else ""
    return f"`{directive_label(info, vid)}` {change(c)}{extra}"


def verdict_cost_rows(res, analysis, ctl):
    info = analysis["info"]
    rows = []
    for g in analysis["groups"]:
        ranked = [r for r in ranked_rows(g, ctl) if r["cmp"].get("cpu_ns_per_req")]
        if not ranked:
            continue
        base = g["base_levels"].get("cpu_ns_per_req")
        called = [r for r in ranked if r["cmp"]["cpu_ns_per_req"].get("verdict") in
                  ("worse", "better")]
        called.sort(key=lambda r: -r["cmp"]["cpu_ns_per_req"]["ratio"])
        rest = len(ranked) - len(called)
        bound = no_cost_bound(g, ranked)
        rows.append([g["server"], g["mode"] + (" (a connection per request)"
                                               if g["mode"] == "close" else ""),
                     fmt_ns(base).lstrip("+") if base else "-",
                     "; ".join(called_text(info, r["variant"], r["cmp"]["cpu_ns_per_req"], base)
                               for r in called) or "none",
                     f"no cost found above ±{bound * 100:.1f}% ({rest} directive"
                     f"{'' if rest == 1 else 's'})" if rest else "-"])
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
    for server, mode, ctl, want, got, agrees in cal:
        word = "agrees" if agrees == "yes" else "**does not agree**" if agrees == "**no**" \
            else "cannot tell" if agrees.startswith("too noisy") else "has no verdict"
        by.setdefault(word, []).append(f"{server} {mode}" + (f" ({got} against {want})"
                                                             if word != "agrees" else ""))
    order = ["agrees", "**does not agree**", "cannot tell", "has no verdict"]
    return "**Calibration**: the known cost " + "; ".join(
        f"{w} on {', '.join(by[w])}" for w in order if w in by) + " ([details](#calibration))."


def sec_verdict(res, analysis, ctx):
    """What the run found, first: per server and mode, the directives with a cost
    above the noise and a bound for the rest; start-up; the combined unit;
    calibration in one line."""
    out = [h(2, "Verdict")]
    out.append(para("A directive is named only when its 95% interval excludes 0, a rank test "
                    "agrees and the change is larger than the A/A control's noise floor; "
                    "the bound for the rest is the larger of that floor and the typical "
                    "directive's interval. Calibration controls are not counted here."))
    rows = verdict_cost_rows(res, analysis, ctx["controls"])
    if rows:
        out.append(table(["server", "mode", "baseline CPU per request",
                          "directives that change CPU per request beyond the noise "
                          "(change [95% interval], CPU time)", "every other directive"],
                         rows, ["l", "l", "r", "l", "l"]))
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


def sec_noise(res, analysis, ctx):
    duet = ctx["duet"]
    out = [h(2, "Noise floor (A/A control)")]
    rows = []
    for g in analysis["groups"]:
        aa = next((r for r in g["rows"] if r["variant"] == g["aa"]), None)
        if not aa:
            rows.append([g["server"], g["mode"], "-", "no A/A control", "-", "-", "-", "-"])
            continue
        c, r = aa["cmp"].get("cpu_ns_per_req"), aa["cmp"].get("rps")
        floor = g["floors"].get("cpu_ns_per_req")
        width = interval_width(g)
        raw = rs.raw_floor(res, g)
        rows.append([g["server"], g["mode"], g.get("methods", {}).get("cpu_ns_per_req", "-"),
                     change(c), change(r),
                     f"±{floor * 100:.2f}%" if floor is not None else "-",
                     f"±{raw * 100:.1f}%" if raw is not None else "-",
                     f"±{width * 100:.2f}%" if width is not None else "-"])
    out.append(table(["server", "mode", "CPU measured in", "A/A CPU per request",
                      "A/A req/s (isolated)", "noise floor (CPU)",
                      "floor without drift correction", "median interval (CPU)"], rows))
    small = [c for g in analysis["groups"] for r in g["rows"] for c in r["cmp"].values()
             if min_p(c) >= st.ALPHA]
    if small:
        worst = max(small, key=min_p)
        kind = (f"{worst['n_base']} paired rounds" if worst.get("paired")
                else f"{worst['n_base']} and {worst['n_new']} slices")
        out.append(para(f"**Too few rounds for a verdict**: with {kind} the smallest p-value "
                        f"the rank test can reach is {min_p(worst):.3f} > {st.ALPHA}, so "
                        f"{len(small)} comparisons cannot be called significant however large "
                        "the change"
                        + (": throughput and latency, from the short isolated phase "
                           "(`--duet-reps 6` or more to give them verdicts)." if duet else
                           ". Run with `--reps 6` or more (8+ for intervals that mean "
                           "something).")))
    out.append(para("The A/A control is a second, identical baseline instance. Its "
                    "difference from the baseline is pure noise; the noise floor is the "
                    "furthest end of its interval from 0. The median interval is the "
                    "half-width of the typical directive's 95% interval on CPU per request: "
                    "the precision of this run's costs."))
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


def sec_calibration(res, analysis, ctx):
    cal = ctx["cal"]
    others = sorted(vid for vid in ctx["controls"]
                    if not any(f"`{analysis['info'][vid]['name']}`" == r[2] for r in cal))
    if not cal and not others:
        return []
    out = [h(2, "Calibration")]
    out.append(para("Controls with a known effect that is not hardening. They are measured "
                    "like the directives but kept out of every ranking, plot and verdict."))
    if cal:
        out.append(table(["server", "mode", "control", "expected change", "measured change "
                          "[95% interval]", "agrees with the expected"], cal))
        out.append(para("The measured change is the baseline's interquartile mean times the "
                        "ratio and its interval; it agrees when the interval holds the expected "
                        "value, and is too noisy to tell when it holds both 0 and twice that. A "
                        "run whose calibration does not agree measured something other than "
                        "what it claims. Where every connection is a process of its own "
                        "(inetd in close mode), the control also times its spin loop at "
                        "each process start, so it adds more than its constant per request "
                        "and has no verdict."))
    rows = []
    for g in analysis["groups"]:
        for r in g["rows"]:
            if r["variant"] in others:
                c, t = r["cmp"].get("cpu_ns_per_req"), r["cmp"].get("rps")
                rows.append([g["server"], g["mode"], f"`{analysis['info'][r['variant']]['name']}`",
                             change(c), change(t)])
    if rows:
        out.append(table(["server", "mode", "control without a stated answer",
                          "CPU per request change [95%]", "req/s change [95%]"], rows))
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
            "directive's cost in this report is likewise its cost at saturation under "
            "this load, which is what capacity planning needs; see results/README.md."))
    return out


COST_HEADER = ["rank by CPU", "directive", "CPU per request change [95%]", "CPU verdict",
               "rank by req/s lost", "req/s change [95%]", "req/s verdict",
               "p99 latency change [95%]", "exposure (change vs baseline)", "applied",
               "n (windows or slices)"]


def sec_costs(res, analysis, ctx):
    info, ctl, plots = analysis["info"], ctx["controls"], ctx["plots"]
    out = [h(2, "Cost of each directive")]
    out.append(para("Ranked by the change in server CPU time per request (the primary "
                    "metric: steadier than req/s on a machine whose speed drifts). "
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
        rows = []
        for i, r in enumerate(ranked, 1):
            vid = r["variant"]
            c, t, p99 = (r["cmp"].get(m) for m in ("cpu_ns_per_req", "rps", "p99"))
            exp = rs.exposure(res, vid)
            drop = (f"{exp:.1f} ({exp - base_exp:+.1f})" if exp is not None and base_exp is not None
                    else num(exp))
            applied = (res["variants"].get(vid) or {}).get("applied") or {}
            rrank = by_rps.index(vid) + 1 if vid in by_rps else "-"
            rows.append([i, f"`{directive_label(info, vid)}`", change(c), mark(c), rrank,
                         change(t), mark(t), change(p99), drop, applied_summary(applied), r["n"]])
        bm = g["base_levels"]
        out.append(h(3, f"{g['server']}, {g['mode']}"))
        how = ("weighted by round, " if g.get("round_noise")
               else "weighted by run, " if g.get("run_noise") else "")
        meth = g.get("methods", {})
        where = ("CPU per request from duet windows, req/s and p99 from isolated slices"
                 if meth.get("cpu_ns_per_req") == "duet" else "every figure from isolated slices")
        out.append(para(f"baseline ({how}interquartile mean of its "
                        f"{'windows and slices' if meth.get('cpu_ns_per_req') == 'duet' else 'slices'}): "
                        f"{num(bm.get('cpu_ns_per_req'))} ns CPU per request, "
                        f"{num(bm.get('rps'))} req/s, p99 {num(bm.get('p99'))} µs; exposure "
                        f"{num(base_exp)}. {where}."))
        out.append(table(COST_HEADER, rows,
                         ["r", "l", "r", "l", "r", "r", "l", "r", "r", "l", "r"]))
    for p in plots.get("cost", []):
        out.append(image(p[0], p[1]))
    out += failed_slices(res)
    return out


def failed_slices(res):
    failed = {}
    for r in res["runs"]:
        if r.get("status", "ok") != "ok":
            e = failed.setdefault((r["variant"], r["mode"]), [0, 0, r.get("error") or r["status"]])
            e[0] += 1
    if not failed:
        return []
    for r in res["runs"]:
        if (r["variant"], r["mode"]) in failed:
            failed[(r["variant"], r["mode"])][1] += 1
    return [h(3, "Slices that failed"), para("These slices are left out of every figure above."),
            table(["variant", "mode", "failed", "first error"],
                  [[f"`{v}`", m, f"{a} of {b}", str(err)[:200]]
                   for (v, m), (a, b, err) in failed.items()], ["l", "l", "r", "l"])]


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


def sec_method(res, analysis, ctx):
    out = [h(2, "Method and environment")]
    out.append(para(
        "What each systemd sandbox directive costs, measured: every figure is a ratio against "
        "the same server's baseline, measured in the same run, with a 95% bootstrap interval "
        f"(seeded, {st.RESAMPLES} resamples). "
        + ("CPU per request comes from **duet windows**: the variant and the baseline loaded "
           "at the same time, so whatever the machine did during a window it did to both; "
           "each window gives one ratio, and a cost is the interquartile mean of its "
           "windows' ratios (the intervals resample epochs, then windows within them). "
           "Throughput and latency come from **isolated slices**, one instance loaded at a "
           "time, because sharing the CPU changes them; "
           "each side is the interquartile mean of its slices. " if ctx["duet"] else
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


# The report's sections after the verdict, in order; each (res, analysis, ctx) -> blocks.
SECTIONS = [sec_costs, sec_calibration, sec_exposure, sec_startup, sec_startup_cost,
            sec_latency, sec_compat,
            sec_evidence, sec_noise, sec_placement, sec_method]


def build(res, analysis, plots):
    """The report as blocks: title, verdict, contents, then SECTIONS."""
    name = os.path.basename(os.path.normpath(res["path"]))
    blocks = [h(1, f"sandbench report: {name}")]
    state = res["status"].get("state")
    if state and state != "complete":
        killed = (" (status.json still says running, but the process writing it is gone: "
                  "it was killed)" if res["status"].get("recorded_state") else "")
        blocks.append(para(f"**This run is {state}**{killed}: the figures below cover only the "
                           "slices that finished."))
    if res["env"].get("bpf_enforced") is False:
        blocks.append(para("**Warning**: BPF was not enforced on this host (see the end)."))
    ctx = {"plots": plots or {}, "controls": controls(res, analysis["info"]),
           "plots_dir": os.path.join(res["path"], "plots") if plots else None,
           "cal": calibration_rows(res, analysis),
           "duet": any(g.get("methods", {}).get("cpu_ns_per_req") == "duet"
                       for g in analysis["groups"])}
    blocks += sec_verdict(res, analysis, ctx)
    rest = [b for sec in SECTIONS for b in sec(res, analysis, ctx)]
    blocks.append(toc([b[2] for b in rest if b[0] == "h" and b[1] == 2]))
    blocks += rest
    if ctx["plots"].get("error"):
        blocks.append(para(f"Plots: {ctx['plots']['error']}"))
    return blocks


def latency_medians(res, vid, mode):
    out = {}
    for p in rs.PERCENTILES:
        vals = [v for _, v in rs.samples(res, vid, mode, p)]
        if vals:
            out[p] = st.median(vals)
    return out


def frontier(res, g, ctl=()):
    """[(cpu ratio, exposure, variant)] on the Pareto frontier of one group
    (variants in CTL, the calibration controls, left out)."""
    pts = []
    if g["baseline"] and rs.exposure(res, g["baseline"]) is not None:
        pts.append((1.0, rs.exposure(res, g["baseline"]), g["baseline"]))
    for r in g["rows"]:
        c = r["cmp"].get("cpu_ns_per_req")
        e = rs.exposure(res, r["variant"])
        if c and e is not None and r["variant"] != g["aa"] and r["variant"] not in ctl:
            pts.append((c["ratio"], e, r["variant"]))
    return st.pareto_frontier(pts)


# --- plots ------------------------------------------------------------------------

def _q(s):
    return '"' + str(s).replace('"', "'") + '"'


TERMS = [("png", "set terminal pngcairo size {w},{h} font 'DejaVu Sans,10' noenhanced"),
         ("svg", "set terminal svg size {w},{h} dynamic font 'DejaVu Sans,10' noenhanced")]


def gnuplot(script, name, outdir, tmp, w=900, h=500):
    """Run a gnuplot script body once per terminal. Returns None or an error string."""
    for ext, term in TERMS:
        path = os.path.join(tmp, f"{name}.{ext}.gp")
        with open(path, "w", encoding="utf-8") as f:
            f.write(term.format(w=w, h=h) + "\n")
            f.write(f"set output {_q(os.path.join(outdir, name + '.' + ext))}\n")
            f.write(script)
        try:
            p = subprocess.run(["gnuplot", path], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"gnuplot failed: {e}"
        if p.returncode != 0:
            return f"gnuplot failed on {name}.{ext}: {p.stderr.strip()[-300:]}"
    return None


def make_plots(res, analysis, outdir):
    """Draw every plot into outdir. Returns {kind: [(name, caption)], "error": str|None}."""
    plots = {"cost": [], "exposure": [], "latency": [], "startup": [], "error": None}
    if shutil.which("gnuplot") is None:
        plots["error"] = "gnuplot is not installed (Debian package gnuplot-nox); no plots drawn."
        return plots
    os.makedirs(outdir, exist_ok=True)
    info = analysis["info"]
    servers = []
    for g in analysis["groups"]:
        if g["server"] not in servers:
            servers.append(g["server"])
    color = {s: SERVER_COLORS[i % len(SERVER_COLORS)] for i, s in enumerate(servers)}
    all_modes = []
    for g in analysis["groups"]:
        if g["mode"] not in all_modes:
            all_modes.append(g["mode"])
    errors = []
    ctl = controls(res, info)
    with tempfile.TemporaryDirectory(prefix="sandbench-plot-") as tmp:
        for mode in all_modes:
            gs = [g for g in analysis["groups"] if g["mode"] == mode and g["rows"]]
            if not gs:
                continue
            e = plot_cost(gs, info, ctl, mode, color, outdir, tmp)
            if e is None:
                plots["cost"].append((f"cost-{mode}", f"CPU per request change of each "
                                      f"directive, {mode} mode (95% intervals; shaded: noise floor)"))
            else:
                errors.append(e)
            e = plot_exposure(res, gs, info, ctl, mode, color, outdir, tmp)
            if e is None:
                plots["exposure"].append((f"exposure-{mode}", f"exposure against CPU cost, {mode}"
                                          " mode, with each server's Pareto frontier (labelled;"
                                          " the other variants are dots, listed in the table "
                                          "below)"))
            elif e:
                errors.append(e)
            for g in gs:
                e = plot_latency(res, g, info, outdir, tmp)
                if e is None:
                    plots["latency"].append((f"latency-{g['server']}-{mode}",
                                             f"latency percentiles of {g['server']}, {mode} mode"))
                elif e:
                    errors.append(e)
        e = plot_startup(analysis, info, ctl, color, outdir, tmp)
        if e is None:
            plots["startup"].append(("startup", "change in start-up time of each directive against "
                                     "its server's baseline (95% intervals; shaded: the largest "
                                     "start-up noise floor)"))
        elif e:
            errors.append(e)
    plots["error"] = "; ".join(errors) if errors else None
    return plots


def plot_cost(gs, info, ctl, mode, color, outdir, tmp):
    names = []
    for g in gs:
        for r in ranked_rows(g, ctl):
            n = directive_label(info, r["variant"])
            if n not in names and "cpu_ns_per_req" in r["cmp"]:
                names.append(n)
    if not names:
        return ""
    # rank by the mean cost over servers, dearest on top
    def cost(n):
        v = [r["cmp"]["cpu_ns_per_req"]["ratio"] for g in gs for r in ranked_rows(g, ctl)
             if directive_label(info, r["variant"]) == n and "cpu_ns_per_req" in r["cmp"]]
        return sum(v) / len(v)
    names.sort(key=cost)
    ypos = {n: i for i, n in enumerate(names)}
    k = len(gs)
    plot_cmds = []
    floor = max([g["floor"] for g in gs if g["floor"] is not None] or [0.0]) * 100
    lo_x, hi_x = -floor - 1, floor + 1
    for j, g in enumerate(gs):
        path = os.path.join(tmp, f"cost-{mode}-{j}.dat")
        with open(path, "w", encoding="utf-8") as f:
            for r in ranked_rows(g, ctl):
                c = r["cmp"].get("cpu_ns_per_req")
                n = directive_label(info, r["variant"])
                if not c:
                    continue
                y = ypos[n] + (j - (k - 1) / 2.0) * (0.6 / max(k, 1))
                x, lo, hi = [(v - 1) * 100 for v in (c["ratio"], c["lo"], c["hi"])]
                lo_x, hi_x = min(lo_x, lo), max(hi_x, hi)
                f.write(f"{x:.4f} {y:.4f} {lo:.4f} {hi:.4f}\n")
        plot_cmds.append(f"{_q(path)} using 1:2:3:4 with xerrorbars pt 7 ps 1.2 lw 2 "
                         f"lc rgb {_q(color[g['server']])} title {_q(g['server'])}")
    pad = (hi_x - lo_x) * 0.08 + 0.5
    tics = ", ".join(f"{_q(n)} {i}" for n, i in ypos.items())
    h_px = max(260, 80 + 34 * len(names) + 20 * (k - 1))
    lmargin = max(12, max(len(n) for n in names) + 3)
    script = f"""
set title {_q(f'What each directive costs in server CPU per request ({mode})')}
set xlabel 'change in CPU time per request against the baseline (%)'
set ytics ({tics})
set yrange [-0.7:{len(names) - 0.3}]
set xrange [{lo_x - pad}:{hi_x + pad}]
set grid xtics
set key outside right top
set object 1 rect from {-floor},-0.7 to {floor},{len(names) - 0.3} fc rgb '#e8e8e8' fs solid noborder behind
set arrow 1 from 0,-0.7 to 0,{len(names) - 0.3} nohead lc rgb '#555555' dt 2
set lmargin {lmargin}
plot {', '.join(plot_cmds)}
"""
    return gnuplot(script, f"cost-{mode}", outdir, tmp, max(900, 640 + 8 * lmargin), h_px)


def plot_exposure(res, gs, info, ctl, mode, color, outdir, tmp):
    """One panel per server: every variant a grey dot, the Pareto frontier as
    steps, its points numbered cheapest first and named in a list beside the
    panel (so no label can cover another); the rest are in the report's table."""
    per = []
    ys, xs = [], []
    for g in gs:
        pts = []
        if g["baseline"] and rs.exposure(res, g["baseline"]) is not None:
            pts.append((0.0, rs.exposure(res, g["baseline"])))
        for r in ranked_rows(g, ctl):
            c, e = r["cmp"].get("cpu_ns_per_req"), rs.exposure(res, r["variant"])
            if c and e is not None:
                pts.append(((c["ratio"] - 1) * 100, e))
        if pts:
            front = [((c - 1) * 100, e, "baseline" if v == g["baseline"] else
                      directive_label(info, v)) for c, e, v in frontier(res, g, ctl)]
            per.append((g, pts, front))
            xs += [p[0] for p in pts]
            ys += [p[1] for p in pts]
    if not per:
        return ""
    ylo, yhi = max(0.0, min(ys) - 0.8), min(10.5, max(ys) + 0.6)
    xspan = max(xs) - min(xs) + 1.0
    xlo, xhi = min(xs) - 0.1 * xspan - 0.3, max(xs) + 0.1 * xspan + 0.3
    width = max(len(f"{i}  {n}  ({e:.1f} at {x:+.1f}%)") for _, _, f in per
                for i, (x, e, n) in enumerate(f, 1))
    panels = []
    for j, (g, pts, front) in enumerate(per):
        pp = os.path.join(tmp, f"exp-{mode}-{j}.dat")
        fp = os.path.join(tmp, f"front-{mode}-{j}.dat")
        with open(pp, "w", encoding="utf-8") as f:
            for x, y in pts:
                f.write(f"{x:.4f} {y:.3f}\n")
        with open(fp, "w", encoding="utf-8") as f:
            for i, (x, e, _) in enumerate(front, 1):
                f.write(f"{x:.4f} {e:.3f} {i}\n")
        step = min(0.085, 0.85 / (len(front) + 1))
        names = "\n".join(
            f"set label {i + 1} {_q(f'{i}  {n}  ({e:.1f} at {x:+.1f}%)')} at graph 1.03, "
            f"graph {0.95 - i * step:.3f} left font ',9'" for i, (x, e, n) in enumerate(front, 1))
        col = _q(color[g["server"]])
        panels.append(f"""unset label
set title {_q(g['server'])}
set label 1 'Pareto frontier, cheapest first:' at graph 1.03, graph 0.95 left font ',9'
{names}
plot {_q(pp)} using 1:2 with points pt 7 ps 0.8 lc rgb '#9a9a9a' title 'variant (in the table)', \\
     {_q(fp)} using 1:2 with steps lw 2 lc rgb {col} title 'Pareto frontier', \\
     {_q(fp)} using 1:2 with points pt 7 ps 1.4 lc rgb {col} notitle, \\
     {_q(fp)} using 1:2:3 with labels offset char 0.9,0.6 font ',10:Bold' tc rgb '#000000' notitle
""")
    n = len(panels)
    script = f"""
set multiplot layout {n},1 title {_q(f'Exposure against cost ({mode}): lower left is better')}
set xlabel 'change in CPU time per request against the baseline (%)'
set ylabel 'exposure (0 safe .. 10 unsafe)'
set xrange [{xlo}:{xhi}]
set yrange [{ylo}:{yhi}]
set grid
set rmargin {width + 6}
set key at graph 1.03, graph 0.03 left bottom Left reverse box
{''.join(panels)}
unset multiplot
"""
    return gnuplot(script, f"exposure-{mode}", outdir, tmp, 700 + 7 * width, 120 + 320 * n)


def plot_latency(res, g, info, outdir, tmp):
    hv, combined = hardened_variant(res, info, g["server"])
    series = []
    for vid, col in ((g["baseline"], "#555555"), (hv, "#d62728")):
        if not vid:
            continue
        lat = latency_medians(res, vid, g["mode"])
        if not lat:
            continue
        path = os.path.join(tmp, f"lat-{g['server']}-{g['mode']}-{len(series)}.dat")
        with open(path, "w", encoding="utf-8") as f:
            for i, p in enumerate(rs.PERCENTILES):
                if p in lat:
                    f.write(f"{i} {lat[p]:.3f} {_q(p)}\n")
        series.append(f"{_q(path)} using 1:2:xticlabels(3) with linespoints lw 2 pt 7 "
                      f"lc rgb {_q(col)} title "
                      + _q(vid if vid == g["baseline"] else
                           f"{vid} ({'combined hardened unit' if combined else 'lowest exposure'})"))
    if not series:
        return ""
    script = f"""
set title {_q(f"Latency percentiles of {g['server']} ({g['mode']}), median over slices")}
set xlabel 'percentile'
set ylabel 'latency (us, log scale)'
set logscale y
set grid
set key outside below center horizontal
set xrange [-0.3:{len(rs.PERCENTILES) - 0.7}]
plot {', '.join(series)}
"""
    return gnuplot(script, f"latency-{g['server']}-{g['mode']}", outdir, tmp, 800, 450)


def plot_startup(analysis, info, ctl, color, outdir, tmp):
    """One row per directive, one dot per server: its start-up change against
    the server's baseline with the 95% interval; the noise floor shaded."""
    items = [(vid, e) for vid, e in analysis["startup"].items()
             if e["cmp"] and info[vid]["role"] == "variant" and vid not in ctl]
    if not items:
        return ""
    servers, names = [], []
    for vid, _ in items:
        s, n = info[vid]["server"], info[vid]["name"]
        if s not in servers:
            servers.append(s)
        if n not in names:
            names.append(n)

    def dearest(n):
        return max(e["cmp"]["ratio"] for vid, e in items if info[vid]["name"] == n)
    names.sort(key=dearest)
    ypos = {n: i for i, n in enumerate(names)}
    k = len(servers)
    floor = max([f for f in (analysis.get("startup_floor") or {}).values() if f] or [0.0]) * 100
    lo_x, hi_x = -floor - 1, floor + 1
    cmds = []
    for j, s in enumerate(servers):
        path = os.path.join(tmp, f"startup-{j}.dat")
        with open(path, "w", encoding="utf-8") as f:
            for vid, e in items:
                if info[vid]["server"] != s:
                    continue
                c = e["cmp"]
                x, lo, hi = ((v - 1) * 100 for v in (c["ratio"], c["lo"], c["hi"]))
                lo_x, hi_x = min(lo_x, lo), max(hi_x, hi)
                y = ypos[info[vid]["name"]] + (j - (k - 1) / 2.0) * (0.6 / max(k, 1))
                f.write(f"{x:.4f} {y:.4f} {lo:.4f} {hi:.4f}\n")
        cmds.append(f"{_q(path)} using 1:2:3:4 with xerrorbars pt 7 ps 1.1 lw 2 "
                    f"lc rgb {_q(color.get(s, '#333333'))} title {_q(s)}")
    pad = (hi_x - lo_x) * 0.05 + 0.5
    tics = ", ".join(f"{_q(n)} {i}" for n, i in ypos.items())
    h_px = max(260, 80 + 30 * len(names) + 16 * (k - 1))
    lmargin = max(12, max(len(n) for n in names) + 3)
    script = f"""
set title 'Start-up (systemctl start to the first good HTTPS response): change against the baseline'
set xlabel 'change in start-up time against the baseline of the same server (%)'
set ytics ({tics})
set yrange [-0.7:{len(names) - 0.3}]
set xrange [{lo_x - pad}:{hi_x + pad}]
set grid xtics
set key outside right top
set object 1 rect from {-floor},-0.7 to {floor},{len(names) - 0.3} fc rgb '#e8e8e8' fs solid noborder behind
set arrow 1 from 0,-0.7 to 0,{len(names) - 0.3} nohead lc rgb '#555555' dt 2
set lmargin {lmargin}
plot {', '.join(cmds)}
"""
    return gnuplot(script, "startup", outdir, tmp, max(900, 640 + 8 * lmargin), h_px)


# --- start-up and per-connection costs (sandbench startup) ----------------------

def load_startup(path):
    """startup.json of a results directory (`sandbench startup`), or None."""
    try:
        with open(os.path.join(path, "startup.json"), encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) and isinstance(d.get("groups"), list) else None


def _ms_change(c, pct=True):
    if not c:
        return "-"
    out = f"{c['delta']:+.2f} ms [{c['lo']:+.2f}, {c['hi']:+.2f}]"
    if pct and c.get("pct") is not None:
        out += f" ({c['pct']:+.1f}% [{c['pct_lo']:+.1f}, {c['pct_hi']:+.1f}])"
    return out


def startup_cost_section(path, plots_dir=None):
    """The report's section for startup.json in PATH (no blocks without it):
    per server and host mount count, each directive's change against the
    baseline (ms and %, 95% intervals) in start-up time, the split systemd
    records and PID 1's CPU, or (inetd) in CPU per connection and
    connections/s; the growth per 1000 host mounts; a plot of the changes
    scaled to them. Self-contained: it draws its own plots into PLOTS_DIR."""
    d = load_startup(path)
    if not d or not d["groups"]:
        return []
    blocks = [h(2, "Start-up and per-connection cost (`sandbench startup`)")]
    if d.get("state") not in (None, "complete"):
        blocks.append(para(f"**The start-up measurement is {d['state']}**: the figures cover "
                           "the samples that finished."))
    blocks.append(para(
        "Each round starts every variant once and the baseline √k times (k variants) in a "
        "seeded order, each from cold (units stopped in between). A directive's cost is the "
        "interquartile mean of its values less the baseline's, with a 95% percentile-bootstrap "
        "interval that resamples whole rounds (so what a round's starts shared stays paired); "
        "the A/A row is an identical copy of the baseline, so its interval is the noise."))
    pl = _startup_plots(d, plots_dir) if plots_dir else {}
    for g in d["groups"]:
        server, kind = g.get("server", "?"), g.get("kind")
        for lv in g["levels"]:
            costs = g["costs"].get(str(lv)) or {}
            absl = g["levels_abs"].get(str(lv)) or {}
            mounts = (g.get("host_mounts") or {}).get(str(lv))
            where = (f", {lv} mounts added under /home ({mounts} in the host's mount table)"
                     if len(g["levels"]) > 1 or lv else "")
            if kind == "start":
                b = (absl.get(g["baseline"]) or {}).get("total_ms")
                blocks.append(h(3, f"{server}: start-up{where}"))
                blocks.append(para(
                    (f"From `systemctl start` to the first good HTTPS response; baseline "
                     f"{b['centre']:.1f} ms (interquartile mean of {b['n']} starts). "
                     if b else "The baseline has no good start. ")
                    + "systemd's split: *to fork* (our call until the main process was "
                    "forked: nsenter, systemctl, D-Bus, the job, a socket's first "
                    "connection), *set-up + init* (fork to READY=1: the sandbox set-up in the "
                    "forked child, the exec and the service's own initialisation); *fork to "
                    "answer* is the part a directive can change without our call's own "
                    "noise; *PID 1 CPU* is the host systemd's CPU time over the "
                    f"start ({g.get('pid1_cpu_source', '?')}), *unit CPU* the unit's own "
                    "cgroup's when it answered."))
                rows = [[f"`{vid}`", _ms_change(c.get("total_ms")),
                         _ms_change(c.get("fork_to_answer_ms")),
                         _ms_change(c.get("to_fork_ms"), False),
                         _ms_change(c.get("setup_and_init_ms"), False),
                         _ms_change(c.get("pid1_cpu_ms"), False),
                         _ms_change(c.get("unit_cpu_ms"), False),
                         str((c.get("total_ms") or {}).get("n", "-"))]
                        for vid, c in costs.items()]
                blocks.append(table(["variant", "start-up change", "fork to answer",
                                     "to fork", "set-up + init", "PID 1 CPU", "unit CPU",
                                     "rounds"], rows,
                                    ["l", "r", "r", "r", "r", "r", "r", "r"]))
            else:
                b = absl.get(g["baseline"]) or {}
                bc, br = b.get("cpu_per_conn_ms"), b.get("conns_per_s")
                blocks.append(h(3, f"{server}: per connection (Accept=yes){where}"))
                blocks.append(para(
                    "Every connection is a unit start: CPU per connection is the template "
                    "units' slice and PID 1 (the host systemd, which sets up each "
                    "connection's unit) together, read when none of the per-connection units "
                    "is left."
                    + (f" Baseline {bc['centre']:.2f} ms of CPU per connection" if bc else "")
                    + (f", {br['centre']:.1f} connections/s" if br else "") + "."))
                rows = [[f"`{vid}`", _ms_change(c.get("cpu_per_conn_ms")),
                         _ms_change(c.get("pid1_per_conn_ms"), False),
                         _ms_change(c.get("units_per_conn_ms"), False),
                         (f"{c['conns_per_s']['pct']:+.1f}% [{c['conns_per_s']['pct_lo']:+.1f}, "
                          f"{c['conns_per_s']['pct_hi']:+.1f}]") if c.get("conns_per_s") else "-",
                         str((c.get("cpu_per_conn_ms") or {}).get("n", "-"))]
                        for vid, c in costs.items()]
                blocks.append(table(["variant", "CPU per connection change", "of it PID 1",
                                     "of it the units", "connections/s change", "rounds"],
                                    rows, ["l", "r", "r", "r", "r", "r"]))
        if g.get("slopes"):
            key = "total_ms" if kind == "start" else "cpu_per_conn_ms"
            rows = []
            cens = g.get("censored") or {}
            for vid, sl in g["slopes"].items():
                own, dl = sl.get(key), sl.get("delta_" + key)
                cents = " / ".join(
                    f"{x[key]['centre']:.0f}" if x.get(key) else
                    ("timed out" if vid in cens and lv >= cens[vid] else "-")
                    for lv in g["levels"]
                    for x in [(g["levels_abs"].get(str(lv)) or {}).get(vid) or {}])
                rows.append([f"`{vid}`", cents,
                             f"{own['slope']:+.2f} [{own['lo']:+.2f}, {own['hi']:+.2f}]"
                             if own else "-",
                             f"{dl['slope']:+.2f} [{dl['lo']:+.2f}, {dl['hi']:+.2f}]"
                             if dl else "-"])
            blocks.append(h(3, f"{server}: growth with the host's mount count"))
            blocks.append(para(
                f"ms per 1000 mounts (least squares over the counts {g['levels']}, 95% "
                "bootstrap interval); the change's growth is the directive's own, the "
                "baseline's taken out. A straight line is what it fits: where the times grow "
                "faster than that (four times the mounts, fifteen times the time), read the "
                "counts, and a variant that timed out is fitted over the counts it answered "
                "at."
                + (f" Not started again after a start timed out: "
                   f"{', '.join(f'{v} from {lv}' for v, lv in g['censored'].items())}."
                   if g.get("censored") else "")))
            blocks.append(table(["variant", f"ms at {' / '.join(map(str, g['levels']))} "
                                 "mounts (IQM)", "growth per 1000", "change's growth per 1000"],
                                rows, ["l", "r", "r", "r"]))
        if g.get("stopped"):
            blocks.append(para(f"Stopped early: {g['stopped']}."))
    for name, cap in pl.get("plots", []):
        blocks.append(image(name, cap))
    if pl.get("error"):
        blocks.append(para(f"Plots: {pl['error']}"))
    return blocks


def _startup_plots(d, outdir):
    """Draws startup-cost-SERVER (changes with whiskers, per mount count) and
    startup-mounts-SERVER (start-up against the mount count)."""
    out = {"plots": [], "error": None}
    if shutil.which("gnuplot") is None:
        out["error"] = "gnuplot is not installed (Debian package gnuplot-nox); no plots drawn."
        return out
    os.makedirs(outdir, exist_ok=True)
    errors = []
    with tempfile.TemporaryDirectory(prefix="sandbench-plot-") as tmp:
        for g in d["groups"]:
            server, kind = g.get("server", "?"), g.get("kind")
            key = "total_ms" if kind == "start" else "cpu_per_conn_ms"
            names = sorted({v for lv in g["levels"] for v in g["costs"].get(str(lv), {})})
            if not names:
                continue
            ypos = {n: i for i, n in enumerate(names)}
            # the changes at the fewest mounts: on a sweep the others span
            # orders of magnitude, which the second plot shows on a log scale
            k = 1
            cmds = []
            for j, lv in enumerate(g["levels"][:1]):
                p = os.path.join(tmp, f"sc-{server}-{j}.dat")
                with open(p, "w", encoding="utf-8") as f:
                    for vid, c in g["costs"].get(str(lv), {}).items():
                        x = c.get(key)
                        if x:
                            y = ypos[vid] + (j - (k - 1) / 2.0) * (0.6 / k)
                            f.write(f"{x['delta']:.4f} {y:.4f} {x['lo']:.4f} {x['hi']:.4f}\n")
                cmds.append(f"{_q(p)} using 1:2:3:4 with xerrorbars pt 7 ps 1 lw 2 "
                            f"lc rgb {_q(SERVER_COLORS[j % len(SERVER_COLORS)])} "
                            f"title {_q(f'{lv} mounts')}")
            label = {n: n.split("/", 1)[-1] for n in names}
            label = {n: (x if len(x) <= 40 else x[:38] + "…") for n, x in label.items()}
            tics = ", ".join(f"{_q(label[n])} {i}" for n, i in ypos.items())
            what = ("start-up change (ms)" if kind == "start"
                    else "CPU per connection change (ms, units + PID 1)")
            script = f"""
set title {_q(f'{server}: {what} against the baseline, 95% intervals')}
set xlabel 'milliseconds'
set ytics ({tics})
set yrange [-0.7:{len(names) - 0.3}]
set grid xtics
set xzeroaxis
set arrow from 0, graph 0 to 0, graph 1 nohead lc rgb '#888888'
set key {"outside right top" if k > 1 else "off"}
set lmargin {max(12, max(len(x) for x in label.values()) + 2)}
plot {', '.join(cmds)}
"""
            e = gnuplot(script, f"startup-cost-{server}", outdir, tmp,
                        700 + 8 * max(len(x) for x in label.values()),
                        max(260, 80 + 30 * len(names)))
            if e:
                errors.append(e)
            else:
                out["plots"].append((f"startup-cost-{server}",
                                     f"{server}: {what}, per directive, 95% intervals"
                                     + (f", {g['levels'][0]} mounts added"
                                        if len(g["levels"]) > 1 else "")))
            if len(g["levels"]) > 1:
                series = []
                for i, vid in enumerate([g["baseline"]] + names):
                    p = os.path.join(tmp, f"sm-{server}-{i}.dat")
                    rows = [(lv, (g["levels_abs"].get(str(lv), {}).get(vid) or {}).get(key))
                            for lv in g["levels"]]
                    rows = [(lv, x["centre"]) for lv, x in rows if x]
                    if not rows:
                        continue
                    with open(p, "w", encoding="utf-8") as f:
                        f.writelines(f"{lv} {c:.4f}\n" for lv, c in rows)
                    series.append(f"{_q(p)} using 1:2 with linespoints lw 2 pt 7 "
                                  f"title {_q(vid.split('/', 1)[-1])}")
                script = f"""
set title {_q(f'{server}: start-up against the host mount count')}
set xlabel 'mounts added under /home'
set ylabel 'milliseconds (log scale)'
set logscale y
set grid
set key outside right top
plot {', '.join(series)}
"""
                e = gnuplot(script, f"startup-mounts-{server}", outdir, tmp, 1000, 500)
                if e:
                    errors.append(e)
                else:
                    cens = g.get("censored") or {}
                    out["plots"].append((f"startup-mounts-{server}",
                                         f"{server}: start-up at each host mount count "
                                         "(interquartile mean)"
                                         + ("; past --start-timeout, so not drawn: "
                                            + ", ".join(f"{v.split('/', 1)[-1]} from {lv}"
                                                        for v, lv in cens.items())
                                            if cens else "")))
    out["error"] = "; ".join(errors) if errors else None
    return out


def cliffs_section(env):
    """A paragraph per cliff of the environment (sblib.analysis.cliffs) that applies
    to the run; none when none does."""
    from sblib.analysis import cliffs as _cliffs
    cl = _cliffs.known(env or {})
    if not cl:
        return []
    return [para("**Known cliffs apply to this run** (see `scripts/sblib/analysis/cliffs.py`):"),
            bullets(f"{name}: {text}" for name, text in cl)]


def write_startup_only(path, plots=True):
    """report.md/.html of a directory `sandbench startup` wrote on its own."""
    env = {}
    try:
        with open(os.path.join(path, "env.json"), encoding="utf-8") as f:
            env = json.load(f)
    except (OSError, ValueError):
        pass
    name = os.path.basename(os.path.normpath(path))
    blocks = [h(1, f"sandbench report: {name}")]
    env_rows = [[k, str(v)] for k, v in env.items() if not isinstance(v, (dict, list))]
    if env_rows:
        blocks += [h(2, "On what"), table(["environment", "value"], env_rows, ["l", "l"])]
    blocks += cliffs_section(env)
    blocks += startup_cost_section(path, os.path.join(path, "plots") if plots else None)
    _write(os.path.join(path, "report.md"), render_md(blocks))
    _write(os.path.join(path, "report.html"),
           render_html(blocks, f"sandbench report: {name}", os.path.join(path, "plots")))


# --- analysis.json -------------------------------------------------------------

def analysis_json(analysis):
    return {"schema": "sandbench-analysis/1", "resamples": st.RESAMPLES, "conf": st.CONF,
            "alpha": st.ALPHA, "groups": analysis["groups"], "startup": analysis["startup"],
            "startup_floor": analysis.get("startup_floor") or {},
            "placement": analysis.get("placement") or [], "inputs": analysis.get("inputs")}


def _write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_report(path, plots=True, drift=True, analysed=None):
    """Analyse and write everything (ANALYSED: the (results, analysis) of
    PATH when the caller has them already). Raises rs.ResultsError on bad
    input."""
    if not analysed and load_startup(path) is not None \
            and not os.path.exists(os.path.join(path, "spec.json")):
        write_startup_only(path, plots)
        return None, None, {}
    if analysed:
        res, analysis = analysed
    else:
        res = rs.load(path)
        res["drift"] = drift
        analysis = rs.analyse(res)
    pl = make_plots(res, analysis, os.path.join(path, "plots")) if plots else {}
    blocks = build(res, analysis, pl)
    title = f"sandbench report: {os.path.basename(os.path.normpath(path))}"
    _write(os.path.join(path, "report.md"), render_md(blocks))
    _write(os.path.join(path, "report.html"),
           render_html(blocks, title, os.path.join(path, "plots")))
    _write(os.path.join(path, "analysis.json"),
           json.dumps(analysis_json(analysis), separators=(",", ":"), default=str) + "\n")
    return res, analysis, pl
