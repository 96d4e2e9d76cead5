"""The report of a results directory: report.md, report.html, analysis.json
and plots (write_report), assembled from the modules beside this one.

The report opens with the verdict (verdict.py): per server and mode the
directives whose CPU per request changed beyond the noise, with intervals,
and "no cost found above ±X%" for the rest; the start-up changes; the
combined hardened unit where one was measured; the calibration in one line.
Then a contents list and one section per function of SECTIONS (sections.py,
startup.py), method and environment last (method.py). Calibration controls
(spec.json "expect", `calibration: yes` in the catalogue) have their own
table and are in no ranking or plot (variants.py).

Writes into DIR:
  report.md      tables a person can read in a terminal or on a forge
  report.html    the same, self-contained (plots inlined as data: URIs), with anchors
  analysis.json  every interval and verdict behind the tables
  plots/*.png, plots/*.svg   made with gnuplot (plots.py)
`sandbench run` calls write_report() with its own analysis when a run ends.
"""
import json
import os

from sblib.analysis import results as rs
from sblib.analysis import cache
from sblib.report import document, startup, upgrade, verdict
from sblib.report.document import h, para, toc
from sblib.report.method import sec_method, sec_noise, sec_placement
from sblib.report.plots import make_plots
from sblib.report.sections import (sec_calibration, sec_compat, sec_costs, sec_evidence,
                                   sec_exposure, sec_latency, sec_startup, sec_startup_cost)
from sblib.report.variants import controls, interval_width

__all__ = ["write_report", "build", "analysis_json", "interval_width", "SECTIONS"]


def write_report(path, plots=True, drift=True, analysed=None):
    """Analyse and write everything (ANALYSED: the (results, analysis) of
    PATH when the caller has them already). Raises rs.ResultsError on bad
    input."""
    if not analysed and startup.load_startup(path) is not None \
            and not os.path.exists(os.path.join(path, "spec.json")):
        startup.write_startup_only(path, plots)
        return None, None, {}
    if not analysed and not os.path.exists(os.path.join(path, "spec.json")) \
            and upgrade.write(path):
        return None, None, {}       # an upgrade run's matrix (its halves have their own)
    if analysed:
        res, analysis = analysed
    else:
        res = rs.load(path)
        res["drift"] = drift
        analysis = rs.analyse(res)
    pl = make_plots(res, analysis, os.path.join(path, "plots")) if plots else {}
    blocks = build(res, analysis, pl)
    document.write(path, blocks)
    document.write_file(os.path.join(path, "analysis.json"),
                        json.dumps(analysis_json(analysis), separators=(",", ":"),
                                   default=str) + "\n")
    return res, analysis, pl


# The report's sections after the verdict, in order; each (res, analysis, ctx) -> blocks.
SECTIONS = [sec_costs, sec_calibration, sec_exposure, sec_startup, sec_startup_cost,
            sec_latency, sec_compat,
            sec_evidence, sec_noise, sec_placement, sec_method]


def build(res, analysis, plots):
    """The report as blocks: title, verdict, contents, then SECTIONS. Every
    section gets ctx: plots (make_plots' answer, {} without plots), plots_dir
    (where the start-up section draws its own; None without plots), controls
    (the calibration controls), cal (the calibration table's rows) and duet
    (CPU per request measured in duet windows)."""
    blocks = [h(1, document.title(res["path"]))]
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
           "cal": verdict.calibration_rows(res, analysis),
           "duet": any(g.get("methods", {}).get("cpu_ns_per_req") == "duet"
                       for g in analysis["groups"])}
    blocks += verdict.sec_verdict(res, analysis, ctx)
    rest = [b for sec in SECTIONS for b in sec(res, analysis, ctx)]
    blocks.append(toc([b[2] for b in rest if b[0] == "h" and b[1] == 2]))
    blocks += rest
    if ctx["plots"].get("error"):
        blocks.append(para(f"Plots: {ctx['plots']['error']}"))
    return blocks


def analysis_json(analysis):
    """ANALYSIS as analysis.json holds it (the analysis' own cache format)."""
    return cache.to_json(analysis)
