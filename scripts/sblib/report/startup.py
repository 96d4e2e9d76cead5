"""`sandbench startup`'s measurement (startup.json) in the report: its
section in the report of a run, and the whole report of a directory that
`sandbench startup` wrote on its own (write_startup_only)."""
import os

from sblib.records import store
from sblib.records.model import ResultsError
from sblib.report import document
from sblib.report.document import h, image, para, table
from sblib.report.method import cliffs_section
from sblib.report.plots import startup_plots


def load_startup(path):
    """startup.json of a results directory (`sandbench startup`), or None:
    missing, or unreadable (a note on standard error says why)."""
    p = os.path.join(path, "startup.json")
    try:
        d = store.read_json(p)
    except ResultsError as e:
        store.note(f"{e}: the report has no start-up section")
        return None
    if d is not None and not (isinstance(d, dict) and isinstance(d.get("groups"), list)):
        store.note(f"{p}: not a start-up result (no groups): the report has no start-up "
                   "section")
        return None
    return d


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
    pl = startup_plots(d, plots_dir) if plots_dir else {}
    for g in d["groups"]:
        for lv in g["levels"]:
            blocks += (_starts if g.get("kind") == "start" else _per_connection)(g, lv)
        if g.get("slopes"):
            blocks += _growth(g)
        if g.get("stopped"):
            blocks.append(para(f"Stopped early: {g['stopped']}."))
    for name, cap in pl.get("plots", []):
        blocks.append(image(name, cap))
    if pl.get("error"):
        blocks.append(para(f"Plots: {pl['error']}"))
    return blocks



def _where(g, lv):
    """', N mounts added under /home (M in the host's mount table)' on a sweep."""
    mounts = (g.get("host_mounts") or {}).get(str(lv))
    return (f", {lv} mounts added under /home ({mounts} in the host's mount table)"
            if len(g["levels"]) > 1 or lv else "")


def _starts(g, lv):
    """A server's start-up changes at LV mounts added: the total and systemd's split."""
    costs = g["costs"].get(str(lv)) or {}
    b = (((g["levels_abs"].get(str(lv)) or {}).get(g["baseline"])) or {}).get("total_ms")
    return [h(3, f"{g.get('server', '?')}: start-up{_where(g, lv)}"), para(
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
        "cgroup's when it answered."),
        table(["variant", "start-up change", "fork to answer", "to fork", "set-up + init",
               "PID 1 CPU", "unit CPU", "rounds"],
              [[f"`{vid}`", _ms_change(c.get("total_ms")),
                _ms_change(c.get("fork_to_answer_ms")),
                _ms_change(c.get("to_fork_ms"), False),
                _ms_change(c.get("setup_and_init_ms"), False),
                _ms_change(c.get("pid1_cpu_ms"), False),
                _ms_change(c.get("unit_cpu_ms"), False),
                str((c.get("total_ms") or {}).get("n", "-"))]
               for vid, c in costs.items()],
              ["l", "r", "r", "r", "r", "r", "r", "r"])]


def _per_connection(g, lv):
    """A server's changes in CPU per connection (Accept=yes) at LV mounts added."""
    costs = g["costs"].get(str(lv)) or {}
    b = (g["levels_abs"].get(str(lv)) or {}).get(g["baseline"]) or {}
    bc, br = b.get("cpu_per_conn_ms"), b.get("conns_per_s")
    return [h(3, f"{g.get('server', '?')}: per connection (Accept=yes){_where(g, lv)}"), para(
        "Every connection is a unit start: CPU per connection is the template "
        "units' slice and PID 1 (the host systemd, which sets up each "
        "connection's unit) together, read when none of the per-connection units "
        "is left."
        + (f" Baseline {bc['centre']:.2f} ms of CPU per connection" if bc else "")
        + (f", {br['centre']:.1f} connections/s" if br else "") + "."),
        table(["variant", "CPU per connection change", "of it PID 1", "of it the units",
               "connections/s change", "rounds"],
              [[f"`{vid}`", _ms_change(c.get("cpu_per_conn_ms")),
                _ms_change(c.get("pid1_per_conn_ms"), False),
                _ms_change(c.get("units_per_conn_ms"), False),
                (f"{c['conns_per_s']['pct']:+.1f}% [{c['conns_per_s']['pct_lo']:+.1f}, "
                 f"{c['conns_per_s']['pct_hi']:+.1f}]") if c.get("conns_per_s") else "-",
                str((c.get("cpu_per_conn_ms") or {}).get("n", "-"))]
               for vid, c in costs.items()],
              ["l", "r", "r", "r", "r", "r"])]


def _growth(g):
    """A server's growth with the host's mount count, per 1000 mounts."""
    key = "total_ms" if g.get("kind") == "start" else "cpu_per_conn_ms"
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
    return [h(3, f"{g.get('server', '?')}: growth with the host's mount count"), para(
        f"ms per 1000 mounts (least squares over the counts {g['levels']}, 95% "
        "bootstrap interval); the change's growth is the directive's own, the "
        "baseline's taken out. A straight line is what it fits: where the times grow "
        "faster than that (four times the mounts, fifteen times the time), read the "
        "counts, and a variant that timed out is fitted over the counts it answered "
        "at."
        + (f" Not started again after a start timed out: "
           f"{', '.join(f'{v} from {lv}' for v, lv in cens.items())}."
           if cens else "")),
        table(["variant", f"ms at {' / '.join(map(str, g['levels']))} mounts (IQM)",
               "growth per 1000", "change's growth per 1000"], rows, ["l", "r", "r", "r"])]


def write_startup_only(path, plots=True):
    """report.md/.html of a directory `sandbench startup` wrote on its own."""
    try:
        env = store.read_json(os.path.join(path, "env.json")) or {}
    except ResultsError as e:
        store.note(f"{e}: the report names no environment")
        env = {}
    env = env if isinstance(env, dict) else {}
    blocks = [h(1, document.title(path))]
    env_rows = [[k, str(v)] for k, v in env.items() if not isinstance(v, (dict, list))]
    if env_rows:
        blocks += [h(2, "On what"), table(["environment", "value"], env_rows, ["l", "l"])]
    blocks += cliffs_section(env)
    blocks += startup_cost_section(path, os.path.join(path, "plots") if plots else None)
    document.write(path, blocks)
