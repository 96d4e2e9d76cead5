"""What a results set's slices hold, as the analysis reads them: the
metrics, the variants and their roles, the modes, epochs and merged runs,
and per variant and mode the samples every comparison starts from (duet
windows where the metric was measured in them, else the isolated slices
divided by the machine's speed at their time: drift.py).

RES is a loaded results directory (sblib.records.store.load), a dict;
what is computed from its slices is cached in it (memo_of)."""
import math

from sblib.analysis import drift
from sblib.analysis import stats as st
from sblib.records import windows as win
from sblib.records.model import VariantId, metric_value

# (key, label, unit) of every per-slice metric, primary first.
METRICS = [
    ("cpu_ns_per_req", "CPU per request", "ns"),
    # the sender part: the load generator thread's own CPU per request (on
    # loopback a server's ingress softirq runs there), per target (records/windows.py)
    (win.SENDER, "sender CPU per request", "ns"),
    ("rps", "throughput", "req/s"),
    ("p50", "latency p50", "us"),
    ("p99", "latency p99", "us"),
    ("p99.9", "latency p99.9", "us"),
]
STARTUP = ("startup_ms", "start-up", "ms")
PERCENTILES = ["p50", "p90", "p99", "p99.9", "p99.99"]

# A window's percentile q is loadgen's nearest rank: its ceil(q n)-th
# fastest of n requests, which stands on the n (1 - q) requests beyond it.
# With k of them the rank it lands on scatters by about sqrt(k), and with
# one or none it is the window's slowest request or two, which grows with
# n (a faster side would read slower). So a window gives percentile q only
# when each side holds at least MIN_BEYOND requests beyond it: p50 20,
# p99 1,000, p99.9 10,000 (min_requests).
MIN_BEYOND = 10
TAIL = {"p50": 0.5, "p90": 0.1, "p99": 0.01, "p99.9": 0.001, "p99.99": 0.0001}


def min_requests(metric):
    """The requests each side of a window needs for METRIC (0: any)."""
    t = TAIL.get(metric)
    return math.ceil(round(MIN_BEYOND / t, 6)) if t else 0


def variant_info(res):
    """Per variant id: server, name, role, directives (spec first, then variants.json)."""
    out = {}
    for v in res["spec"].get("variants") or []:
        if isinstance(v, dict) and "id" in v:
            out[v["id"]] = dict(v)
    for vid, v in res["variants"].items():
        d = out.setdefault(vid, {"id": vid})
        for k in ("server", "directives"):
            if k not in d and k in v:
                d[k] = v[k]
    memo = memo_of(res, "variants")
    if "seen" not in memo:
        seen = memo["seen"] = {}
        for r in res["runs"]:
            seen.setdefault(r["variant"], r.get("server"))
    for vid, server in memo["seen"].items():
        out.setdefault(vid, {"id": vid, "server": server})
    for vid, d in out.items():
        v = VariantId.parse(vid)
        if not d.get("server"):
            d["server"] = v.server
        d["name"] = v.name
        d.setdefault("role", v.role)
        d.setdefault("directives", [])
    return out


def modes(res):
    seen = []
    for m in (res["spec"].get("modes") or []):
        if m not in seen:
            seen.append(m)
    for r in res["runs"]:
        if r["mode"] not in seen:
            seen.append(r["mode"])
    return seen


def memo_of(res, name):
    """A cache NAME in RES for what is computed from its slices, emptied
    when res["runs"] is another list (a test's filtered copy). Shared with
    dict(res, drift=False): keys that depend on drift correction say so."""
    memo = res.setdefault("_memo", {})
    if memo.get("runs") is not res["runs"]:
        memo.clear()
        memo["runs"] = res["runs"]
    return memo.setdefault(name, {})


def index(res):
    idx = res.get("_index")
    if idx is None:
        idx = {}
        for r in res["runs"]:
            idx.setdefault((r["variant"], r["mode"]), []).append(r)
        res["_index"] = idx
    return idx


def runs_of(res, variant, mode):
    """VARIANT's good records in MODE, slices and windows, in run order."""
    return [r for r in index(res).get((variant, mode), ()) if r.get("status", "ok") == "ok"]


def seed_of(res):
    s = res["spec"].get("seed", 1)
    return s if isinstance(s, int) else 1


def epochs(res):
    """{round: epoch} when the run put its instances in new places between
    rounds (run --epochs), else {}."""
    return _round_labels(res, "epoch")


def _round_labels(res, key):
    """{round: the slices' integer KEY} when it takes more than one value,
    else {}; cached in res."""
    cache = res.setdefault("_labels", {})
    if key not in cache:
        out = {}
        for r in res["runs"]:
            if isinstance(r.get(key), int):
                out[r.get("round", r.get("rep"))] = r[key]
        cache[key] = out if len(set(out.values())) > 1 else {}
    return cache[key]


def run_of(res):
    """{round: run} for a merged set (merge tags each slice with the run it
    came from), {} for one run."""
    return _round_labels(res, "run")


def duet(res, server, mode, metric):
    """The duet windows of one server, mode and metric, or None when the
    server and mode were not measured in windows: {"base": the baseline's
    interquartile mean over its windows (None when no window holds enough
    requests for METRIC), "samples": {variant: [(window, value)]},
    "need": the requests a side needs (min_requests), "most": the most a
    side held}. A variant's value in a window is its ratio to the baseline
    in that same window times the baseline's level, so that every
    comparison (a ratio of centres, paired by window) is the centre of the
    per-window ratios, and the baseline's own samples are that level. A
    window counts only where both sides hold MIN_BEYOND requests beyond a
    percentile. Cached in res."""
    if metric not in win.METRICS:
        return None
    cache = res.setdefault("_duet", {})
    key = (server, mode, metric)
    if key not in cache:
        cache[key] = _duet(res, server, mode, metric)
    return cache[key]


def _duet(res, server, mode, metric):
    base_id = next((v for v, d in variant_info(res).items()
                    if d["server"] == server and d["role"] == "baseline"), None)
    rows = [r for r in res["runs"] if r.get("phase") == win.PHASE and r["mode"] == mode
            and r.get("server") == server and r.get("status", "ok") == "ok"]
    if not rows:
        return None
    need = min_requests(metric)

    def value(r):
        v = metric_value(r, metric)
        return v if v is not None and v > 0 and (r.get("requests") or 0) >= need else None
    base = {r["round"]: value(r) for r in rows if r["variant"] == base_id}
    base = {w: v for w, v in base.items() if v is not None}
    out = {"base": None, "samples": {}, "need": need,
           "most": max((r.get("requests") or 0) for r in rows)}
    if base:
        level = out["base"] = st.center(list(base.values()))
        out["samples"][base_id] = [(w, level) for w in base]
        for r in rows:
            v = value(r)
            if r["variant"] != base_id and v is not None and r["round"] in base:
                out["samples"].setdefault(r["variant"], []).append(
                    (r["round"], level * v / base[r["round"]]))
    return out


def method(res, server, mode, metric):
    """How METRIC of one server and mode was measured: "duet" or "isolated"."""
    return win.PHASE if duet(res, server, mode, metric) else "isolated"


# the regime of a server's windows at saturation: where batching makes a
# slowed server's other per-request CPU fall (results.calibration)
SATURATION = "saturation (two instances sharing the CPU)"
CAPACITY = "capacity (each alone, saturated, in back-to-back pairs)"
BATCHING = (SATURATION, CAPACITY)


def regime(res, server, mode):
    """The load a (SERVER, MODE) group's figures were measured under, as the
    report names it: "fixed load R req/s" (mode rate in windows: both sides
    offered R each, open loop; R the median over its windows), "capacity"
    (each side alone and saturated, back to back), "saturation" (two
    instances in a window sharing the CPU) or "saturation, one at a time"
    (isolated slices)."""
    if mode == win.CAPACITY:
        return CAPACITY
    if method(res, server, mode, "cpu_ns_per_req") != win.PHASE:
        return ("fixed load (isolated slices)" if mode == win.FIXED
                else "saturation, one at a time (isolated slices)")
    if mode == win.FIXED:
        rates = sorted(r["fixed_load"]["rate_per_target"] for r in res["runs"]
                       if r.get("phase") == win.PHASE and r["mode"] == mode
                       and r.get("server") == server and isinstance(r.get("fixed_load"), dict))
        return (f"fixed load {rates[len(rates) // 2]:,} req/s per instance" if rates
                else "fixed load")
    return SATURATION


def samples(res, variant, mode, metric):
    """[(round, value)] of one variant and mode, in run order: from duet
    windows where the server and mode were measured in them (see duet();
    none when no window holds enough requests for METRIC), else its
    isolated slices (isolated())."""
    memo = memo_of(res, "samples")
    key = (variant, mode, metric, bool(res.get("drift", True)))
    if key not in memo:
        memo[key] = tuple(_samples(res, variant, mode, metric))
    return list(memo[key])


def _samples(res, variant, mode, metric):
    d = duet(res, VariantId.parse(variant).server, mode, metric)
    if d is not None:
        return list(d["samples"].get(variant, []))
    return isolated(res, variant, mode, metric)


def isolated(res, variant, mode, metric):
    """[(round, value)] of one variant's good isolated slices in MODE, CPU
    per request and req/s divided by the machine's speed at the slice's
    time (drift.factors) unless res["drift"] is False. Where the server
    and mode were measured in duet windows, these are its absolute levels
    (one instance loaded at a time), never a cost."""
    out = []
    fac = drift.factors(res, metric)
    if fac is not None and "_pos" not in res:
        res["_pos"] = {id(r): i for i, r in enumerate(res["runs"])}
    for r in index(res).get((variant, mode), ()):
        if r.get("status", "ok") != "ok" or r.get("phase") == win.PHASE:
            continue
        v = metric_value(r, metric)
        if v is None:
            continue
        if fac is not None:
            v /= fac.get(res["_pos"][id(r)], 1.0)
        out.append((r.get("round", r.get("rep")), v))
    return out


def pair(a, b):
    """Align two [(round, value)] lists by round when every round holds one of each.

    Returns (base_values, new_values, paired).
    """
    ra = [r for r, _ in a]
    rb = [r for r, _ in b]
    if (None not in ra and None not in rb and len(set(ra)) == len(ra)
            and len(set(rb)) == len(rb) and len(a) >= 3):
        common = sorted(set(ra) & set(rb), key=str)
        if len(common) >= 3 and len(common) >= 0.8 * max(len(a), len(b)):
            da, db = dict(a), dict(b)
            return [da[r] for r in common], [db[r] for r in common], True
    return [v for _, v in a], [v for _, v in b], False


def exposure(res, variant):
    v = (res["variants"].get(variant) or {}).get("exposure")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
