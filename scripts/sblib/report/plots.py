"""The report's plots, drawn by gnuplot as PNG and SVG into a directory:

  cost-MODE             CPU-per-request change of each directive, 95% whiskers
  exposure-MODE         exposure against cost; each server's Pareto frontier
                        labelled, the other variants dots (listed in a table)
  latency-SERVER-MODE   latency percentiles, baseline vs the combined hardened
                        unit (else the lowest-exposure directive)
  startup               start-up change of each directive against its baseline
  startup-cost-SERVER, startup-mounts-SERVER   `sandbench startup`'s changes,
                        and its start-up against the host's mount count

make_plots and startup_plots draw them and say what they drew. Each plot_*
function writes its data into a temporary directory and returns None when it
drew, "" when it had nothing to draw, or gnuplot's error.
"""
import os
import shutil
import subprocess
import tempfile

from sblib.analysis import results as rs
from sblib.report.variants import (controls, directive_label, frontier, hardened_variant,
                                   latency_medians, ranked_rows)

SERVER_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
NO_GNUPLOT = "gnuplot is not installed (Debian package gnuplot-nox); no plots drawn."
TERMS = [("png", "set terminal pngcairo size {w},{h} font 'DejaVu Sans,10' noenhanced"),
         ("svg", "set terminal svg size {w},{h} dynamic font 'DejaVu Sans,10' noenhanced")]


def _q(s):
    return '"' + str(s).replace('"', "'") + '"'


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


def _drawn(e, errors):
    """Whether a plot function that returned E drew its plot; its error, if
    any, joins ERRORS ("" is nothing to draw, not an error)."""
    if e:
        errors.append(e)
    return e is None


def make_plots(res, analysis, outdir):
    """Draw every plot into outdir. Returns {kind: [(name, caption)], "error": str|None}."""
    plots = {"cost": [], "exposure": [], "latency": [], "startup": [], "error": None}
    if shutil.which("gnuplot") is None:
        plots["error"] = NO_GNUPLOT
        return plots
    os.makedirs(outdir, exist_ok=True)
    info = analysis["info"]
    servers = dict.fromkeys(g["server"] for g in analysis["groups"])
    color = {s: SERVER_COLORS[i % len(SERVER_COLORS)] for i, s in enumerate(servers)}
    errors = []
    ctl = controls(res, info)
    with tempfile.TemporaryDirectory(prefix="sandbench-plot-") as tmp:
        for mode in dict.fromkeys(g["mode"] for g in analysis["groups"]):
            gs = [g for g in analysis["groups"] if g["mode"] == mode and g["rows"]]
            if not gs:
                continue
            if _drawn(plot_cost(gs, info, ctl, mode, color, outdir, tmp), errors):
                plots["cost"].append((f"cost-{mode}", f"CPU per request change of each "
                                      f"directive, {mode} mode (95% intervals; shaded: noise floor)"))
            if _drawn(plot_exposure(res, gs, info, ctl, mode, color, outdir, tmp), errors):
                plots["exposure"].append((f"exposure-{mode}", f"exposure against CPU cost, {mode}"
                                          " mode, with each server's Pareto frontier (labelled;"
                                          " the other variants are dots, listed in the table "
                                          "below)"))
            for g in gs:
                if _drawn(plot_latency(res, g, info, outdir, tmp), errors):
                    plots["latency"].append((f"latency-{g['server']}-{mode}",
                                             f"latency percentiles of {g['server']}, {mode} mode"))
        if _drawn(plot_startup(analysis, info, ctl, color, outdir, tmp), errors):
            plots["startup"].append(("startup", "change in start-up time of each directive against "
                                     "its server's baseline (95% intervals; shaded: the largest "
                                     "start-up noise floor)"))
    plots["error"] = "; ".join(errors) or None
    return plots


def _changes(name, title, xlabel, names, series, floor, look, outdir, tmp):
    """A plot of changes against the baseline in %: a row per name of NAMES
    (the first at the bottom), for each of SERIES [(title, colour, [(name,
    compare() result)])] a dot per row with its 95% whiskers, the series side
    by side; the noise floor, ±FLOOR %, shaded. LOOK: (point size, x padding
    as a fraction of the span, pixels per row, pixels per further series)."""
    ps, pad, row_px, series_px = look
    ypos = {n: i for i, n in enumerate(names)}
    k = len(series)
    lo_x, hi_x = -floor - 1, floor + 1
    cmds = []
    for j, (label, col, points) in enumerate(series):
        path = os.path.join(tmp, f"{name}-{j}.dat")
        with open(path, "w", encoding="utf-8") as f:
            for n, c in points:
                y = ypos[n] + (j - (k - 1) / 2.0) * (0.6 / max(k, 1))
                x, lo, hi = ((v - 1) * 100 for v in (c["ratio"], c["lo"], c["hi"]))
                lo_x, hi_x = min(lo_x, lo), max(hi_x, hi)
                f.write(f"{x:.4f} {y:.4f} {lo:.4f} {hi:.4f}\n")
        cmds.append(f"{_q(path)} using 1:2:3:4 with xerrorbars pt 7 ps {ps} lw 2 "
                    f"lc rgb {_q(col)} title {_q(label)}")
    pad = (hi_x - lo_x) * pad + 0.5
    tics = ", ".join(f"{_q(n)} {i}" for n, i in ypos.items())
    lmargin = max(12, max(len(n) for n in names) + 3)
    script = f"""
set title {_q(title)}
set xlabel {_q(xlabel)}
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
    return gnuplot(script, name, outdir, tmp, max(900, 640 + 8 * lmargin),
                   max(260, 80 + row_px * len(names) + series_px * (k - 1)))


def plot_cost(gs, info, ctl, mode, color, outdir, tmp):
    """A row per directive, a dot per server: its CPU-per-request change."""
    points = [[(directive_label(info, r["variant"]), r["cmp"]["cpu_ns_per_req"])
               for r in ranked_rows(g, ctl) if r["cmp"].get("cpu_ns_per_req")] for g in gs]
    if not any(points):
        return ""
    # rank by the mean cost over servers, dearest on top
    ratios = {}
    for n, c in (p for ps in points for p in ps):
        ratios.setdefault(n, []).append(c["ratio"])
    names = sorted(ratios, key=lambda n: sum(ratios[n]) / len(ratios[n]))
    floor = max([g["floor"] for g in gs if g["floor"] is not None] or [0.0]) * 100
    return _changes(f"cost-{mode}", f"What each directive costs in server CPU per request ({mode})",
                    "change in CPU time per request against the baseline (%)", names,
                    [(g["server"], color[g["server"]], ps) for g, ps in zip(gs, points)],
                    floor, (1.2, 0.08, 34, 20), outdir, tmp)


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
    servers = dict.fromkeys(info[vid]["server"] for vid, _ in items)
    dearest = {}
    for vid, e in items:
        n = info[vid]["name"]
        dearest[n] = max(dearest.get(n, e["cmp"]["ratio"]), e["cmp"]["ratio"])
    floor = max([f for f in (analysis.get("startup_floor") or {}).values() if f] or [0.0]) * 100
    return _changes("startup", "Start-up (systemctl start to the first good HTTPS response): "
                    "change against the baseline",
                    "change in start-up time against the baseline of the same server (%)",
                    sorted(dearest, key=dearest.get),
                    [(s, color.get(s, "#333333"), [(info[vid]["name"], e["cmp"])
                                                   for vid, e in items
                                                   if info[vid]["server"] == s])
                     for s in servers], floor, (1.1, 0.05, 30, 16), outdir, tmp)


def startup_plots(d, outdir):
    """Draws startup-cost-SERVER (the changes at the fewest mounts, with
    whiskers: on a sweep the others span orders of magnitude, which the second
    plot shows on a log scale) and startup-mounts-SERVER (start-up against the
    mount count) for D, a startup.json. Returns {"plots": [(name, caption)],
    "error": str|None}."""
    out = {"plots": [], "error": None}
    if shutil.which("gnuplot") is None:
        out["error"] = NO_GNUPLOT
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
            lv = g["levels"][0]
            p = os.path.join(tmp, f"sc-{server}-0.dat")
            with open(p, "w", encoding="utf-8") as f:
                for vid, c in g["costs"].get(str(lv), {}).items():
                    x = c.get(key)
                    if x:
                        f.write(f"{x['delta']:.4f} {ypos[vid]:.4f} {x['lo']:.4f} {x['hi']:.4f}\n")
            label = {n: n.split("/", 1)[-1] for n in names}
            label = {n: (x if len(x) <= 40 else x[:38] + "…") for n, x in label.items()}
            tics = ", ".join(f"{_q(label[n])} {i}" for n, i in ypos.items())
            what = ("start-up change (ms)" if kind == "start"
                    else "CPU per connection change (ms, units + PID 1)")
            colour = f"lc rgb {_q(SERVER_COLORS[0])}"
            script = f"""
set title {_q(f'{server}: {what} against the baseline, 95% intervals')}
set xlabel 'milliseconds'
set ytics ({tics})
set yrange [-0.7:{len(names) - 0.3}]
set grid xtics
set xzeroaxis
set arrow from 0, graph 0 to 0, graph 1 nohead lc rgb '#888888'
set key off
set lmargin {max(12, max(len(x) for x in label.values()) + 2)}
plot {_q(p)} using 1:2:3:4 with xerrorbars pt 7 ps 1 lw 2 {colour} title {_q(f'{lv} mounts')}
"""
            if _drawn(gnuplot(script, f"startup-cost-{server}", outdir, tmp,
                              700 + 8 * max(len(x) for x in label.values()),
                              max(260, 80 + 30 * len(names))), errors):
                out["plots"].append((f"startup-cost-{server}",
                                     f"{server}: {what}, per directive, 95% intervals"
                                     + (f", {lv} mounts added" if len(g["levels"]) > 1 else "")))
            if len(g["levels"]) > 1 and _drawn(_mounts(g, key, names, outdir, tmp), errors):
                cens = g.get("censored") or {}
                out["plots"].append((f"startup-mounts-{server}",
                                     f"{server}: start-up at each host mount count "
                                     "(interquartile mean)"
                                     + ("; past --start-timeout, so not drawn: "
                                        + ", ".join(f"{v.split('/', 1)[-1]} from {lv}"
                                                    for v, lv in cens.items())
                                        if cens else "")))
    out["error"] = "; ".join(errors) or None
    return out


def _mounts(g, key, names, outdir, tmp):
    """startup-mounts-SERVER: the baseline's and each of NAMES' KEY at each
    mount count of G, on a log scale."""
    server = g.get("server", "?")
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
    return gnuplot(script, f"startup-mounts-{server}", outdir, tmp, 1000, 500)
