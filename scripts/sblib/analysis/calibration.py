"""The calibration controls against their known answers: what the report's
calibration table, its verdict line and `compare` read (as rs.calibration).

A control's answer is known in one regime: +2 us of work per request reads
+2,000 ns below saturation (the fixed load), less at saturation where a
slowed server batches more per wake-up (its fixed-load reading beside it
says how much less, measured in the same run); CPUQuota=50% halves what its
unit can serve only where that unit alone saturates a CPU, so in the
capacity regime its expected reading is worked out from what the
baseline's limited unit used in its own capacity turns (quota_expectation):
-50% for a server that is one unit, 0 where the quota goes to each
per-connection instance, and no answer where the unit shares the work
with another (a proxy in front). Where loadgen counted the servers'
wake-ups, a work control's row also carries what the wake-up model
(analysis/wakeups.py) expects it to read in that regime, measured in the
same run: "model"."""
import re

from sblib import catalogue as cat
from sblib.analysis import stats as st
from sblib.analysis import wakeups as wk
from sblib.analysis.slices import BATCHING, regime, variant_info
from sblib.records import windows as win

QUOTA = re.compile(r"^CPUQuota=(\d+(?:\.\d+)?)%$")


def quota_of(directive):
    """The CPUQuota= of catalogue DIRECTIVE as CPUs (50% -> 0.5), or None."""
    try:
        m = QUOTA.match(cat.load_directive(directive).get("directive", "").strip())
    except cat.CatalogueError:
        return None
    return float(m.group(1)) / 100.0 if m else None


def quota_expectation(res, server, quota):
    """(expected change of req/s in percent or None, why) of a CPUQuota of
    QUOTA CPUs on SERVER in capacity turns, from the CPU its baseline's
    limited unit used alone and saturated (the median over its turns, in
    CPUs). A unit that is every process serving (drop, activated) and
    used U > QUOTA serves QUOTA/U of it; a per-connection template gets
    the quota per instance (the turn's connections each an instance), so
    it binds only where one instance used more than QUOTA; a server whose
    limited unit is one of several sharing the CPU (a proxy in front) has
    no answer of this kind."""
    spec = res["spec"]
    base = next((v["id"] for v in spec.get("variants") or []
                 if v["server"] == server and v["role"] == "baseline"), None)
    use = sorted(r["cpu_usec"] / (r["duration_s"] * 1e6) for r in res["runs"]
                 if r.get("variant") == base and r.get("mode") == win.CAPACITY
                 and r.get("status") == "ok" and r.get("cpu_usec") and r.get("duration_s"))
    if not use:
        return None, "no capacity turn of the baseline measured"
    u = st.median(use)
    parts = [r for r in res["runs"] if r.get("variant") == base and r.get("mode") ==
             win.CAPACITY and r.get("cpu_ns_per_req_all")]
    if parts and st.median([r["cpu_ns_per_req"] / r["cpu_ns_per_req_all"] for r in parts]) < 0.9:
        return None, (f"the limited unit used {u:.2f} CPU alone, beside other units of the "
                      "server (a proxy in front) that share the CPU with it: no known answer")
    if "@" in target_of(spec, server):
        n = (spec.get("duet") or {}).get("capacity_connections") or 1
        conns = min(n, (spec.get("loadgen") or {}).get("connections_per_server", {}).get(
            server, n))
        each = u / max(conns, 1)
        if each <= quota:
            return 0.0, (f"a process per connection: the quota limits each of {conns} "
                         f"instances, which used {each:.2f} CPU each (the unit {u:.2f} in all)")
        return (quota / each - 1.0) * 100.0, (f"each of {conns} instances used {each:.2f} CPU, "
                                              f"above the quota of {quota:g}")
    if u <= quota:
        return 0.0, f"the unit used {u:.2f} CPU alone, no more than the quota of {quota:g}"
    return (quota / u - 1.0) * 100.0, (f"the unit used {u:.2f} CPU alone and saturated; "
                                       f"a quota of {quota:g} leaves {quota / u:.0%} of it")


def target_of(spec, server):
    """The unit SERVER's directives go to, as the run's spec names it."""
    if server == "unit":
        return (spec.get("user_unit") or {}).get("target") or spec.get("unit") or ""
    return (cat.SERVERS.get(server) or {}).get("target", "")


def _known(res, server, mode, directive, e):
    """(expected delta, why or None) of directive's answer E on SERVER in
    MODE, or (None, why) where it has none there."""
    if e.get("mode") and e["mode"] != mode:
        # work added per request: known as an upper bound where a saturated
        # server batches (the fixed load's reading beside it)
        if e["metric"] == "cpu_ns_per_req" and e["delta"] > 0 and \
                regime(res, server, mode) in BATCHING:
            return e["delta"], None
        return None, None
    q = quota_of(directive) if e.get("percent") and e["metric"] == "rps" else None
    if q is not None and mode == win.CAPACITY:
        return quota_expectation(res, server, q)
    return e["delta"], None


def calibration(res, analysis):
    """Each variant made of one directive with a known answer (spec.json
    "expect") against what ANALYSIS measured, per server and mode where
    the answer is known: dicts of server, mode, variant, directive, metric,
    unit (" ns", "%" or ""), expected (the known delta; worked out from the
    run where "expected_why" says how), measured, lo, hi (the delta and its
    95% interval, in the metric's unit or percent; None when not measured)
    and agrees: "yes", "no", "vague" (the interval holds both 0 and twice
    the answer: it cannot tell), "n/a" (a process per connection: the
    control times its loop at every start, so what it adds per request is
    not the constant it claims; or no answer in this regime),
    "batching" (at saturation: above 0 and below the answer, as a slowed
    saturated server batches more per wake-up) or "missing"; regime
    (slices.regime) and, beside a reading in another regime,
    "at_fixed_load": the same control's reading at the fixed load of the
    same run, where nothing is batched; for work added per request where
    the run counted wake-ups, "model": wakeups.model()'s expected reading
    with its "agrees" (wakeups.agrees), or its "why" where it has none."""
    expect = res["spec"].get("expect") or {}
    only = ((res["spec"].get("duet") or {}).get("controls_only") or {}).get("modes") or {}
    per_process = (res["spec"].get("loadgen") or {}).get("slice_connections") or {}
    info = analysis.get("info") or variant_info(res)
    out = []
    for g in analysis["groups"]:
        for r in g["rows"]:
            d = (info.get(r["variant"]) or {}).get("directives") or []
            if len(d) != 1 or d[0] not in expect:
                continue
            e = expect[d[0]]
            if g["mode"] in only and r["variant"] not in only[g["mode"]]:
                continue    # not measured in this mode (run --controls-only)
            want, why = _known(res, g["server"], g["mode"], d[0], e)
            if want is None and why is None:
                continue
            pct = bool(e.get("percent"))
            c = r["cmp"].get(e["metric"])
            row = {"server": g["server"], "mode": g["mode"], "variant": r["variant"],
                   "regime": regime(res, g["server"], g["mode"]), "directive": d[0],
                   "metric": e["metric"], "expected": want,
                   "unit": "%" if pct else " ns" if e["metric"].endswith("_ns_per_req") else "",
                   "measured": None, "lo": None, "hi": None, "agrees": "missing"}
            if why:
                row["expected_why"] = why
            if e["metric"] == "cpu_ns_per_req" and e["delta"] > 0 and not pct:
                m = wk.model(res, g["server"], g["mode"], r["variant"], e["delta"])
                if m is not None:
                    row["model"] = m
            out.append(row)
            if not c or c.get("base") is None:
                continue
            scale = 100.0 if pct else c["base"]
            got, lo, hi = (scale * (x - 1.0) for x in (c["ratio"], c["lo"], c["hi"]))
            row.update(measured=got, lo=lo, hi=hi)
            if "expected" in row.get("model", {}):
                row["model"]["agrees"] = wk.agrees(row["model"], got, lo, hi)
            if want is None:
                row["agrees"] = "n/a"
                continue
            vague = want != 0 and (lo <= 0 and hi >= 2 * want if want > 0 else
                                   hi >= 0 and lo <= 2 * want)
            row["agrees"] = ("n/a" if g["mode"] in per_process.get(g["server"], {}) else
                             "vague" if vague else "yes" if lo <= want <= hi else
                             "batching" if row["regime"] in BATCHING
                             and 0 < lo and hi < want else "no")
    # the same control at a fixed load on the same server: what batching at
    # saturation took off its reading, measured in this run
    fixed = {(c["server"], c["variant"]): c for c in out if c["mode"] == win.FIXED
             and c["measured"] is not None and c["regime"].startswith("fixed load")}
    for c in out:
        f = fixed.get((c["server"], c["variant"]))
        if f is not None and c is not f and c["measured"] is not None:
            c["at_fixed_load"] = {k: f[k] for k in ("measured", "lo", "hi", "regime")}
    return out
