"""Reading a results directory (results/README.md) and analysing it.

load(path) reads and checks the files; analyse(res) turns the raw slices
into per server x mode x variant x metric comparisons against the same
server's baseline, with intervals, verdicts and the A/A noise floor. report,
compare and reproduce all start here, so they agree on every number.
"""
import gzip
import hashlib
import json
import math
import os
import sys
import time
import zlib

import numpy as np

from sblib import evidence as ev
from sblib.analysis import stats as st
from sblib.records import status as status_mod
from sblib.records import windows as win

# (key, label, unit) of every per-slice metric, primary first.
METRICS = [
    ("cpu_ns_per_req", "CPU per request", "ns"),
    ("rps", "throughput", "req/s"),
    ("p50", "latency p50", "us"),
    ("p99", "latency p99", "us"),
    ("p99.9", "latency p99.9", "us"),
]
STARTUP = ("startup_ms", "start-up", "ms")
PERCENTILES = ["p50", "p90", "p99", "p99.9", "p99.99"]


def emit(text):
    """Print to stdout; a reader that went away (| head) is not an error."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)


class ResultsError(Exception):
    """A results directory is missing or malformed; the message says how."""


def _read_json(path, required):
    if not os.path.exists(path):
        if required:
            raise ResultsError(f"{path}: missing")
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ResultsError(f"{path}: not valid JSON ({e})") from None


# a run appends runs.jsonl; a published set keeps it gzipped (sandbench publish)
RUNS_FILES = ("runs.jsonl", "runs.jsonl.gz")


def runs_file(path):
    """The slices file of results directory PATH, plain or gzipped."""
    for fn in RUNS_FILES:
        if os.path.exists(os.path.join(path, fn)):
            return os.path.join(path, fn)
    raise ResultsError(f"{os.path.join(path, RUNS_FILES[0])}: missing")


def open_runs(runs_path):
    """A text stream of runs.jsonl or runs.jsonl.gz."""
    if runs_path.endswith(".gz"):
        return gzip.open(runs_path, "rt", encoding="utf-8")
    return open(runs_path, encoding="utf-8")


def order_digest(spec):
    """The planned slice order of SPEC as one hash, computed from its list, or
    a published spec's order_sha256 (publish keeps only the hash: the plan
    follows from the seed, and reproduce needs only to tell plans apart)."""
    if spec.get("order"):
        return hashlib.sha256("\n".join(spec["order"]).encode()).hexdigest()
    return spec.get("order_sha256")


def load(path):
    """Read a results directory. Raises ResultsError with a clear message.

    Returns a dict with spec, env, variants, status, runs (list) and path.
    """
    if not os.path.isdir(path):
        raise ResultsError(f"{path}: not a directory")
    spec = _read_json(os.path.join(path, "spec.json"), True)
    if not isinstance(spec, dict):
        raise ResultsError(f"{path}/spec.json: not a JSON object")
    env = _read_json(os.path.join(path, "env.json"), False) or {}
    variants = _read_json(os.path.join(path, "variants.json"), False) or {}
    status = _read_json(os.path.join(path, "status.json"), False) or {}
    if isinstance(status, dict):
        status = status_mod.settle_state(status)
    if not isinstance(variants, dict) or not isinstance(env, dict):
        raise ResultsError(f"{path}: variants.json and env.json must be JSON objects")
    runs_path = runs_file(path)
    runs = []
    try:
        with open_runs(runs_path) as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except ValueError as e:
                    raise ResultsError(f"{runs_path}:{lineno}: not valid JSON ({e})") from None
                if not isinstance(r, dict) or "variant" not in r or "mode" not in r:
                    raise ResultsError(f"{runs_path}:{lineno}: a run needs 'variant' and 'mode'")
                runs.append(r)
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as e:
        raise ResultsError(f"{runs_path}: unreadable ({e})") from None
    spec_variants = spec.get("variants")
    if spec_variants is not None and not isinstance(spec_variants, list):
        raise ResultsError(f"{path}/spec.json: 'variants' must be a list")
    # each "no" is re-derived from the evidence stored beside it, so a set
    # measured before a rule was learnt reads as one measured after it
    ev.rejudge(variants)
    return {"path": path, "spec": spec, "env": env, "variants": variants,
            "status": status, "runs": runs}


def metric_value(run, metric):
    """The value of `metric` in one runs.jsonl object, or None."""
    if metric in ("cpu_ns_per_req", "rps", "startup_ms"):
        v = run.get(metric)
    else:
        v = (run.get("latency_us") or {}).get(metric)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if math.isnan(v) or math.isinf(v):
        return None
    return float(v)


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
    memo = _memo(res, "variants")
    if "seen" not in memo:
        seen = memo["seen"] = {}
        for r in res["runs"]:
            seen.setdefault(r["variant"], r.get("server"))
    for vid, server in memo["seen"].items():
        out.setdefault(vid, {"id": vid, "server": server})
    for vid, d in out.items():
        server, _, name = vid.partition("/")
        d.setdefault("server", server)
        if not d.get("server"):
            d["server"] = server
        d["name"] = name or vid
        if "role" not in d:
            d["role"] = {"baseline": "baseline", "baseline-aa": "aa"}.get(d["name"], "variant")
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


def _memo(res, name):
    """A cache NAME in RES for what is computed from its slices, emptied
    when res["runs"] is another list (a test's filtered copy). Shared with
    dict(res, drift=False): keys that depend on drift correction say so."""
    memo = res.setdefault("_memo", {})
    if memo.get("runs") is not res["runs"]:
        memo.clear()
        memo["runs"] = res["runs"]
    return memo.setdefault(name, {})


def _index(res):
    idx = res.get("_index")
    if idx is None:
        idx = {}
        for r in res["runs"]:
            idx.setdefault((r["variant"], r["mode"]), []).append(r)
        res["_index"] = idx
    return idx


# Slices on each side whose speed estimates the machine's at a slice's time.
DRIFT_WINDOW = 4
DRIFT_METRICS = ("cpu_ns_per_req", "rps")
# a round knows its own noise from at least this many variants' deviations
# (the spread's relative error is then about 14%, its weight's about 28%)
ROUND_NOISE_MIN = 30


def drift_factors(res, metric):
    """The machine's speed at each slice's time, as a factor per slice index:
    {index in res["runs"]: factor}. A shared, noisy machine is slow or fast
    for seconds to minutes at a time (neighbouring slices' deviations
    correlate at 0.75-0.93 on the project's VM), and slices of every variant
    are interleaved in random order, so the deviation common to a slice's
    neighbours is the machine's, not the variant's. Per server and mode:
    each good slice's log ratio to its variant's median; the factor of a slice
    is the exponential of the median of that over the DRIFT_WINDOW nearest
    slices in time on each side (itself excluded); two passes, the second
    with the variants' medians of corrected values. Only where a round is
    longer than the window (at least 2 * DRIFT_WINDOW + 2 variants)."""
    groups = {}
    for i, r in enumerate(res["runs"]):
        if r.get("status", "ok") != "ok" or not isinstance(r.get("start"), (int, float)):
            continue
        if r.get("phase") == win.PHASE:
            continue  # a window's two sides share the machine's speed already
        v = metric_value(r, metric)
        if v is None or v <= 0:
            continue
        # per server, mode and source run (sandbench merge): machine speed
        # is a matter of time, and two runs' times are not neighbours
        groups.setdefault((r.get("server"), r["mode"], r.get("run")), []).append(
            (r["start"], i, r["variant"], v))
    out = {}
    for rows in groups.values():
        rows.sort()
        # A round holds one slice of every variant: with fewer variants than
        # the window, rounds are short and pairing by round already cancels
        # the machine's drift (a window across rounds would only blur it).
        if len({vid for _, _, vid, _ in rows}) < 2 * DRIFT_WINDOW + 2:
            continue
        fac = [1.0] * len(rows)
        for _ in range(2):
            byv = {}
            for (_, _, vid, v), f in zip(rows, fac):
                byv.setdefault(vid, []).append(v / f)
            med = {vid: st.median(xs) for vid, xs in byv.items()}
            dev = [math.log(v / med[vid]) for _, _, vid, v in rows]
            fac = [math.exp(x) for x in _window_medians(dev, DRIFT_WINDOW)]
        for (_, i, _, _), f in zip(rows, fac):
            out[i] = f
    return out


def _window_medians(xs, w):
    """For each k, the median of XS's W nearest values on each side of k
    (fewer at the ends), itself excluded: as st.median of each window,
    the full ones all at once."""
    n = len(xs)
    out = [0.0] * n
    edge = list(range(min(w, n))) + list(range(max(n - w, w), n))
    if n > 2 * w:
        win = np.lib.stride_tricks.sliding_window_view(np.asarray(xs, dtype=float), 2 * w + 1)
        out[w:n - w] = np.median(np.delete(win, w, axis=1), axis=1).tolist()
    for k in edge:
        out[k] = st.median(xs[max(0, k - w):k] + xs[k + 1:k + w + 1])
    return out


def _factors(res, metric):
    if not res.get("drift", True) or metric not in DRIFT_METRICS:
        return None
    cache = res.setdefault("_drift", {})
    if metric not in cache:
        cache[metric] = drift_factors(res, metric)
    return cache[metric]


def duet(res, server, mode, metric):
    """The duet windows of one server, mode and metric, or None when it was
    not measured in windows: {"base": the baseline's interquartile mean over
    its windows, "samples": {variant: [(window, value)]}}. A variant's value
    in a window is its ratio to the baseline in that same window times the
    baseline's level, so that every comparison (a ratio of centres, paired
    by window) is the centre of the per-window ratios, and the baseline's
    own samples are that level. Cached in res."""
    if metric not in win.METRICS:
        return None
    cache = res.setdefault("_duet", {})
    key = (server, mode, metric)
    if key not in cache:
        base_id = next((v for v, d in variant_info(res).items()
                        if d["server"] == server and d["role"] == "baseline"), None)
        rows = [r for r in res["runs"] if r.get("phase") == win.PHASE and r["mode"] == mode
                and r.get("server") == server and r.get("status", "ok") == "ok"]
        base = {r["round"]: metric_value(r, metric) for r in rows if r["variant"] == base_id}
        base = {w: v for w, v in base.items() if v is not None and v > 0}
        if not base:
            cache[key] = None
        else:
            level = st.center(list(base.values()))
            out = {base_id: [(w, level) for w in base]}
            for r in rows:
                v = metric_value(r, metric)
                if r["variant"] != base_id and v is not None and r["round"] in base:
                    out.setdefault(r["variant"], []).append((r["round"],
                                                             level * v / base[r["round"]]))
            cache[key] = {"base": level, "samples": out}
    return cache[key]


def method(res, server, mode, metric):
    """How METRIC of one server and mode was measured: "duet" or "isolated"."""
    return win.PHASE if duet(res, server, mode, metric) else "isolated"


def samples(res, variant, mode, metric):
    """[(round, value)] of one variant and mode, in run order: from duet
    windows where the metric was measured in them (see duet()), else the
    good isolated slices, CPU per request and req/s divided by the
    machine's speed at the slice's time (drift_factors) unless res["drift"]
    is False."""
    memo = _memo(res, "samples")
    key = (variant, mode, metric, bool(res.get("drift", True)))
    if key not in memo:
        memo[key] = tuple(_samples(res, variant, mode, metric))
    return list(memo[key])


def _samples(res, variant, mode, metric):
    d = duet(res, variant.split("/", 1)[0], mode, metric)
    if d is not None:
        return list(d["samples"].get(variant, []))
    out = []
    fac = _factors(res, metric)
    if fac is not None and "_pos" not in res:
        res["_pos"] = {id(r): i for i, r in enumerate(res["runs"])}
    for r in _index(res).get((variant, mode), ()):
        if r.get("status", "ok") != "ok" or r.get("phase") == win.PHASE:
            continue
        v = metric_value(r, metric)
        if v is None:
            continue
        if fac is not None:
            v /= fac.get(res["_pos"][id(r)], 1.0)
        out.append((r.get("round", r.get("rep")), v))
    return out


def raw_floor(res, group, resamples=st.RESAMPLES):
    """The A/A noise floor of GROUP (an analyse() group) on CPU per request
    without drift correction, to show what the correction bought; None
    without an A/A control or when the run is analysed raw anyway."""
    if not res.get("drift", True) or not group.get("aa") or not group.get("baseline"):
        return None
    if (group.get("methods") or {}).get("cpu_ns_per_req") == win.PHASE:
        return None  # windows are not drift-corrected
    raw = dict(res, drift=False)
    b = samples(raw, group["baseline"], group["mode"], "cpu_ns_per_req")
    a = samples(raw, group["aa"], group["mode"], "cpu_ns_per_req")
    if not a or not b:
        return None
    return st.noise_floor(_compare_task((
        comparison(raw, group["server"], group["mode"], "cpu_ns_per_req", b, a),
        st.derive_seed(seed_of(res), group["aa"], group["mode"], "cpu_ns_per_req"),
        resamples)))


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


def _deviations(res, base_s, others):
    """[(round, run, deviation)] of one server, mode and metric: each
    variant's per-round log ratio to the baseline, less that variant's own
    median in its run (run None for one run). What a directive costs is the
    same in every round, so what is left is noise. base_s and others:
    samples() lists."""
    ro = run_of(res)
    db = dict(base_s)
    out = []
    for s in others:
        per = {}
        for rnd, v in s:
            b = db.get(rnd)
            if b and b > 0 and v > 0 and (not ro or rnd in ro):
                per.setdefault(ro.get(rnd), []).append((rnd, math.log(v / b)))
        for k, logs in per.items():
            if len(logs) >= 3:
                m = st.median([x for _, x in logs])
                out.extend((rnd, k, x - m) for rnd, x in logs)
    return out


def _spreads(devs, least):
    """{key: robust spread (1.4826 MAD)} of {key: [deviation]} with at least LEAST each."""
    return {k: 1.4826 * st.median(d) for k, d in devs.items() if len(d) >= least}


def run_noise(res, base_s, others):
    """{run: noise} of a merged set's runs: the robust spread of every
    variant's _deviations() in the run, pooled over all variants (many
    variants make it a steady estimate, and no variant's estimate weighs
    its own figure). None for one run, or when a run has fewer than 8
    deviations or none of any size."""
    ro = run_of(res)
    if not ro:
        return None
    devs = {}
    for _, k, d in _deviations(res, base_s, others):
        devs.setdefault(k, []).append(abs(d))
    noise = _spreads(devs, 8)
    if set(noise) != set(ro.values()) or not all(x > 0 for x in noise.values()):
        return None
    return noise


def round_noise(res, base_s, others):
    """{round: noise} of every round of BASE_S: the robust spread of that
    round's _deviations() about their own median, where it holds at least
    ROUND_NOISE_MIN of them (one per variant). A shared machine is busy in
    some rounds and quiet in others (the within-round scatter of one
    24-round run ranged from +-3.7% to +-19.5%), so weighting each round by
    1/noise^2 lets the quiet rounds speak. Centred on the round, the spread
    leaves out the error of the round's baseline slice, which every
    variant's ratio shares: a weight must not lean on the error it weighs
    (counted in, it picked the rounds whose baseline happened to read true,
    and narrowed intervals without bringing the figures closer; on crafted
    runs 90% of 95% intervals held the answer). A round with fewer
    variants (slices failed) takes the spread of its run's full rounds'
    deviations, each about its own round's median: the same measure, so
    such a round is neither favoured nor, as when it took the run's
    uncentred spread (about 1.4 times as wide), slighted. None when no
    round holds enough variants, a run has no full round, or a noise is
    zero."""
    ro = run_of(res)
    by_round = {}
    for rnd, _, d in _deviations(res, base_s, others):
        by_round.setdefault(rnd, []).append(d)
    own, by_run = {}, {}
    for rnd, d in by_round.items():
        if len(d) >= ROUND_NOISE_MIN:
            c = st.median(d)
            spread = [abs(x - c) for x in d]
            own[rnd] = 1.4826 * st.median(spread)
            by_run.setdefault(ro.get(rnd), []).extend(spread)
    if not own:
        return None
    runs = _spreads(by_run, 1)
    out = {}
    for rnd, _ in base_s:
        x = own.get(rnd, runs.get(ro.get(rnd)))
        if not x or x <= 0:
            return None
        out[rnd] = x
    return out


def _group(res, server, mode, metric, what):
    """WHAT (run_noise or round_noise) of a (server, mode, metric) group,
    from its baseline and every other variant. Cached in res."""
    cache = res.setdefault("_noise", {})
    key = (what.__name__, server, mode, metric, bool(res.get("drift", True)))
    if key not in cache:
        info = [d for d in variant_info(res).values() if d["server"] == server]
        base = next((d["id"] for d in info if d["role"] == "baseline"), None)
        cache[key] = what(res, samples(res, base, mode, metric),
                          [samples(res, d["id"], mode, metric) for d in info
                           if d["id"] != base]) if base else None
    return cache[key]


def group_noise(res, server, mode, metric):
    """run_noise() of a merged set's (server, mode, metric) group; None for one run."""
    return _group(res, server, mode, metric, run_noise) if run_of(res) else None


def group_weights(res, server, mode, metric):
    """{round: weight} of a (server, mode, metric) group: 1/noise^2 of each
    round (round_noise), or in a merged set whose rounds are too thin to
    know their own noise, of each round's run (run_noise); None when
    neither is known (the rounds then count alike)."""
    memo = _memo(res, "weights")
    key = (server, mode, metric, bool(res.get("drift", True)))
    if key not in memo:
        memo[key] = _group_weights(res, server, mode, metric)
    return None if memo[key] is None else dict(memo[key])


def _group_weights(res, server, mode, metric):
    noise = _group(res, server, mode, metric, round_noise)
    if noise is None:
        runs = group_noise(res, server, mode, metric)
        ro = run_of(res)
        if not runs or any(k not in runs for k in ro.values()):
            return None
        noise = {r: runs[k] for r, k in ro.items()}
    return {r: 1.0 / x ** 2 for r, x in noise.items()}


def comparison(res, server, mode, metric, a, b):
    """How samples() lists A (base) and B of one (server, mode, metric)
    group are compared, as keyword arguments of st.compare() (and a side of
    st.bootstrap_ratio_of_ratios()): base and new values, paired, the
    epochs as clusters, each pair's weight (group_weights) and in a merged
    set each pair's run (strata: each run is resampled on its own). Rounds
    of one epoch share where each instance stood, so they are resampled
    together."""
    if duet(res, server, mode, metric):
        # the baseline is in every window, a variant in its own only
        mine = {r for r, _ in b}
        a = [x for x in a if x[0] in mine]
    bv, nv, paired = pair(a, b)
    cl, sk, w = None, None, None
    if paired:
        common = sorted({r for r, _ in a} & {r for r, _ in b}, key=str)
        ep = epochs(res)
        if ep:
            cl = [ep.get(r) for r in common]
            cl = cl if None not in cl else None
        gw = group_weights(res, server, mode, metric)
        if gw and all(r in gw for r in common):
            w = [gw[r] for r in common]
            ro = run_of(res)
            sk = [ro.get(r) for r in common] if ro else None
    return {"base": bv, "new": nv, "paired": paired, "clusters": cl, "strata": sk,
            "weights": w}


def level(res, server, mode, metric, s):
    """The centre of a samples() list S: its interquartile mean, weighted
    by each round's weight (group_weights) as compare() weighs a change."""
    gw = group_weights(res, server, mode, metric)
    if gw and all(r in gw for r, _ in s):
        return st.weighted_iqm_sorted(sorted((v, gw[r]) for r, v in s))
    return st.center([v for _, v in s])


def placement(res, metric="cpu_ns_per_req"):
    """What where an instance stands costs, from a run with --epochs (slices
    recording "epoch" and "position"); [] otherwise. Per server and mode:

    - spread: the standard deviation of a variant's cost from place to
      place. Each (variant, epoch)'s rounds are split into even and odd
      ones; the two halves' deviations from the variant's median share the
      place's effect but not their noise, so their covariance over all
      (variant, epoch) estimates the variance of the place effect alone
      (scaled by E/(E-1): the variant's median holds 1/E of each effect);
    - first, last: the median deviation of instances started in the first
      and in the last third of positions (a trend with start order);
    - n: (variant, epoch) cells used, epochs: how many.
    Values as fractions (0.01 = 1%); drift-corrected like samples()."""
    if not epochs(res):
        return []
    out = []
    cells = {}
    npos = {}
    for (vid, mode), rows in _index(res).items():
        vals = dict(samples(res, vid, mode, metric))
        for r in rows:
            rnd = r.get("round", r.get("rep"))
            if rnd not in vals or not isinstance(r.get("position"), int):
                continue
            key = (r.get("server"), mode)
            c = cells.setdefault(key, {}).setdefault((vid, r["epoch"]),
                                                     {"pos": r["position"], "v": {}})
            c["v"][rnd] = vals[rnd]
            npos[(key, r["epoch"])] = max(npos.get((key, r["epoch"]), 0), r["position"] + 1)
    for key in sorted(cells, key=str):
        byv = {}
        for (vid, _), c in cells[key].items():
            byv.setdefault(vid, []).extend(c["v"].values())
        med = {vid: st.median(xs) for vid, xs in byv.items()}
        pairs, first, last = [], [], []
        for (vid, e), c in cells[key].items():
            rounds = sorted(c["v"])
            if med[vid] <= 0 or len(rounds) < 2:
                continue
            dev = st.median(c["v"].values()) / med[vid] - 1.0
            n = npos[(key, e)]
            if c["pos"] < n / 3:
                first.append(dev)
            elif c["pos"] >= 2 * n / 3:
                last.append(dev)
            halves = [st.median([c["v"][r] for r in rounds[k::2]]) / med[vid] - 1.0
                      for k in (0, 1)]
            pairs.append(halves)
        if len(pairs) < 3:
            continue
        m0 = sum(p[0] for p in pairs) / len(pairs)
        m1 = sum(p[1] for p in pairs) / len(pairs)
        cov = sum((p[0] - m0) * (p[1] - m1) for p in pairs) / (len(pairs) - 1)
        # a variant's median over E epochs holds 1/E of each place effect,
        # so deviations from it carry (E-1)/E of its variance
        ne = len({e for _, e in cells[key]})
        cov *= ne / (ne - 1) if ne > 1 else 1.0
        out.append({"server": key[0], "mode": key[1], "n": len(pairs), "epochs": ne,
                    "spread": math.sqrt(cov) if cov > 0 else 0.0,
                    "first": st.median(first) if first else None,
                    "last": st.median(last) if last else None})
    return out


def startup_samples(res, variant):
    """Start-up times of a variant: per-slice values if recorded, else variants.json."""
    memo = _memo(res, "startup_ms")
    if "by" not in memo:
        by = memo["by"] = {}
        for r in res["runs"]:
            v = metric_value(r, "startup_ms")
            if v is not None:
                by.setdefault(r["variant"], []).append(v)
    vals = list(memo["by"].get(variant, ()))
    if vals:
        return vals
    rec = res["variants"].get(variant) or {}
    s = rec.get("startup_ms_samples") or rec.get("startup_ms")
    if isinstance(s, list):
        return [float(x) for x in s if isinstance(x, (int, float))]
    if isinstance(s, (int, float)) and not isinstance(s, bool):
        return [float(s)]
    return []


def seed_of(res):
    s = res["spec"].get("seed", 1)
    return s if isinstance(s, int) else 1


def analyse(res, resamples=st.RESAMPLES, progress=None):
    """Compare every variant against its server's baseline, per mode and metric.

    Returns {"groups": [group...], "info": variant_info}, one group per
    (server, mode) holding: server, mode, baseline, aa, floor (noise floor
    of cpu_ns_per_req, a fraction, or None), floors (per metric) and rows:
    one per variant (A/A included, baseline excluded) with "cmp": {metric:
    compare() result + verdict} and "n" slices. PROGRESS(done, total) is
    called as comparisons finish; without it a slow analysis shows its
    progress on standard error when that is a terminal (_Meter).
    """
    progress = progress or _Meter()
    info = variant_info(res)
    seed = seed_of(res)
    groups = []
    tasks = []    # (dict to fill, metric, compare() arguments)
    pending = []  # groups whose verdicts need the noise floor
    servers = []
    for vid, d in info.items():
        if d["server"] not in servers:
            servers.append(d["server"])
    for server in servers:
        members = [d for d in info.values() if d["server"] == server]
        base = next((d["id"] for d in members if d["role"] == "baseline"), None)
        aa = next((d["id"] for d in members if d["role"] == "aa"), None)
        for mode in modes(res):
            g = {"server": server, "mode": mode, "baseline": base, "aa": aa,
                 "floor": None, "floors": {}, "rows": [], "base_levels": {},
                 "methods": {m: method(res, server, mode, m) for m, _, _ in METRICS}}
            groups.append(g)
            if base is None:
                continue
            base_s = {m: samples(res, base, mode, m) for m, _, _ in METRICS}
            if not any(base_s.values()):
                groups.pop()
                continue
            for m, _, _ in METRICS:
                if base_s[m]:
                    g["base_levels"][m] = level(res, server, mode, m, base_s[m])
            noise = group_noise(res, server, mode, "cpu_ns_per_req")
            if noise:
                g["run_noise"] = [noise[k] for k in sorted(noise)]
            rn = _group(res, server, mode, "cpu_ns_per_req", round_noise)
            if rn:
                x = sorted(rn.values())
                g["round_noise"] = [x[0], st.median(x), x[-1]]
            order = ([aa] if aa else []) + [d["id"] for d in members
                                            if d["role"] not in ("baseline", "aa")]
            for vid in order:
                row = {"variant": vid, "cmp": {}, "n": 0}
                for m, _, _ in METRICS:
                    new_s = samples(res, vid, mode, m)
                    row["n"] = max(row["n"], len(new_s))
                    if not new_s or not base_s[m]:
                        continue
                    tasks.append((row["cmp"], m, (comparison(res, server, mode, m, base_s[m],
                                                             new_s),
                                                  st.derive_seed(seed, vid, mode, m), resamples)))
                g["rows"].append(row)
            pending.append(g)
    _run_tasks(tasks, progress)
    for g in pending:
        aa = g["aa"]
        if aa and g["rows"]:
            for m, c in g["rows"][0]["cmp"].items():
                g["floors"][m] = st.noise_floor(c)
            g["floor"] = g["floors"].get("cpu_ns_per_req")
        for row in g["rows"]:
            for m, c in row["cmp"].items():
                floor = None if row["variant"] == aa else g["floors"].get(m)
                c["verdict"] = st.verdict(m, c, 0.0, floor)
    startup, startup_floor = analyse_startup(res, info, servers, seed, resamples)
    return {"groups": groups, "info": info, "startup": startup, "startup_floor": startup_floor,
            "placement": placement(res), "inputs": inputs(res, resamples)}


def inputs(res, resamples=st.RESAMPLES):
    """What an analysis of RES depends on, as one digest: the slices
    (runs.jsonl, plain or gzipped, as text), spec.json, variants.json as
    loaded, drift correction and the bootstrap's resamples. analysis.json
    records it, so a reader can tell the analysis is of these slices."""
    h = hashlib.sha256()
    try:
        with open_runs(runs_file(res["path"])) as f:
            for line in f:
                h.update(line.encode())
    except (ResultsError, OSError, EOFError, zlib.error):
        return None
    for obj in (res["spec"], res["variants"], bool(res.get("drift", True)), resamples):
        h.update(json.dumps(obj, sort_keys=True, default=str).encode())
    return h.hexdigest()


def analysed(res, resamples=st.RESAMPLES, progress=None, reuse=True):
    """analyse(RES), or the analysis.json beside its slices when that says
    (its "inputs") it is the analysis of exactly these inputs, so a set is
    analysed once, by whoever wrote its report. Returns (analysis, how):
    how is "analysis.json" or "analysed"."""
    path = os.path.join(res["path"], "analysis.json")
    if reuse and os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                a = json.load(f)
        except (OSError, ValueError):
            a = None
        if isinstance(a, dict) and a.get("inputs") \
                and a.get("inputs") == inputs(res, resamples) \
                and isinstance(a.get("groups"), list):
            a["info"] = variant_info(res)
            a.setdefault("startup", {})
            return a, "analysis.json"
    return analyse(res, resamples, progress), "analysed"


def startup_by_epoch(res, variant):
    """A variant's start-up times one per epoch (variants.json
    startup_ms_samples, in epoch order, merged runs one after the other), or
    None when they are not exactly that."""
    s = (res["variants"].get(variant) or {}).get("startup_ms_samples")
    if not isinstance(s, list) or len(s) != len(set(epochs(res).values())) or len(s) < 2 \
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in s):
        return None
    return [float(x) for x in s]


def analyse_startup(res, info, servers, seed, resamples):
    """Start-up time per variant (not per mode) against the baseline.

    With one start per epoch the variant and the baseline were started in the
    same epoch, so they are compared epoch by epoch (paired), which takes out
    what changed between epochs. A start is one sample of a noisy thing and
    every verdict leans on the same few baseline starts, so, as for the
    per-request metrics, a change within the A/A control's interval is not
    called. Returns ({variant: {level, n, cmp}}, {server: floor or None}),
    level the interquartile mean of the starts, the centre each change is a
    ratio of."""
    startup, floors = {}, {}
    for server in servers:
        members = [d for d in info.values() if d["server"] == server]
        base = next((d["id"] for d in members if d["role"] == "baseline"), None)
        aa = next((d["id"] for d in members if d["role"] == "aa"), None)
        bs = startup_samples(res, base) if base else []
        be = startup_by_epoch(res, base) if base else None
        cmps = {}
        for d in members:
            s = startup_samples(res, d["id"])
            if not s:
                continue
            e = {"level": st.center(s), "n": len(s), "cmp": None}
            if bs and d["id"] != base:
                se = startup_by_epoch(res, d["id"])
                paired = be is not None and se is not None
                c = st.compare(be if paired else bs, se if paired else s,
                               st.derive_seed(seed, d["id"], "startup"), paired=paired,
                               resamples=resamples)
                c["paired"] = paired
                e["cmp"] = cmps[d["id"]] = c
            startup[d["id"]] = e
        floors[server] = st.noise_floor(cmps.get(aa)) if aa else None
        for vid, c in cmps.items():
            c["verdict"] = st.verdict("startup_ms", c, 0.0, None if vid == aa else floors[server])
    return startup, floors


def _compare_task(args):
    kw, seed, resamples = args
    c = st.compare(seed=seed, resamples=resamples, **kw)
    c["paired"] = kw["paired"]
    if kw["clusters"]:
        c["epochs"] = len(set(kw["clusters"]))
    return c


class _Meter:
    """analyse()'s progress when its caller gives none: one line on
    standard error, updated in place, with how long is left at the rate so
    far. Only when standard error is a terminal, and only once the analysis
    has taken DELAY seconds: a quick one prints nothing."""
    DELAY = 2.0

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.on = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self.first = None    # (time, done) at the first tick: the rate is counted from there
        self.last = 0.0
        self.shown = False

    def __call__(self, done, total):
        if not self.on:
            return
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
        if done >= total:
            if self.shown:
                self.stream.write("\r\033[K")
                self.stream.flush()
            return
        if now - self.start < self.DELAY or now - self.last < 0.25:
            return
        self.last = now
        t0, d0 = self.first
        left = ""
        if done > d0 and now > t0:
            left = f", about {math.ceil((total - done) * (now - t0) / (done - d0))} s left"
        self.stream.write(f"\rsandbench: analysing: {done}/{total} comparisons "
                          f"({100 * done // max(total, 1)}%){left}\033[K")
        self.stream.flush()
        self.shown = True


def _run_tasks(tasks, progress=None):
    """Run the bootstrap comparisons, one after the other. Each task carries
    its own derived seed, so no answer depends on the others. (A process
    per core no longer pays: with the bootstrap on numpy, 1940 comparisons
    of 64 rounds take about 5 s, and a pool of two saved a median 5% of the
    report's time on the project's shared 2-core VM.) PROGRESS(done,
    total), if given, is called as they finish.
    """
    tick = progress or (lambda done, total: None)
    tick(0, len(tasks))
    for k, (target, m, args) in enumerate(tasks):
        target[m] = _compare_task(args)
        tick(k + 1, len(tasks))


def noise_floors(res, metric="cpu_ns_per_req", resamples=st.RESAMPLES):
    """{(server, mode): noise floor (fraction) or None} from the A/A control alone."""
    info = variant_info(res)
    out = {}
    seed = seed_of(res)
    for server in sorted({d["server"] for d in info.values()}):
        members = [d for d in info.values() if d["server"] == server]
        base = next((d["id"] for d in members if d["role"] == "baseline"), None)
        aa = next((d["id"] for d in members if d["role"] == "aa"), None)
        for mode in modes(res):
            floor = None
            if base and aa:
                b, a = samples(res, base, mode, metric), samples(res, aa, mode, metric)
                if b and a:
                    floor = st.noise_floor(_compare_task((
                        comparison(res, server, mode, metric, b, a),
                        st.derive_seed(seed, aa, mode, metric), resamples)))
            out[(server, mode)] = floor
    return out


def exposure(res, variant):
    v = (res["variants"].get(variant) or {}).get("exposure")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def controls(res):
    """Ids of the variants made only of calibration controls: directives
    with a known answer (spec.json "expect") or marked "calibration: yes" in
    the catalogue. They add a cost that is not hardening, by design."""
    from sblib import catalogue as cat
    known = set(res["spec"].get("expect") or {})
    out = set()
    for vid, d in variant_info(res).items():
        names = d.get("directives") or []
        if not names:
            continue
        ok = True
        for n in names:
            if n in known:
                continue
            try:
                ok = cat.load_directive(n).get("calibration") == "yes"
            except cat.CatalogueError:
                ok = False
            if not ok:
                break
        if ok:
            out.add(vid)
    return out


def calibration(res, analysis):
    """Each variant made of one directive with a known answer (spec.json
    "expect") against what ANALYSIS measured, per server and mode: dicts of
    server, mode, variant, directive, metric, expected (the known delta),
    measured, lo, hi (the delta and its 95% interval, in the metric's unit;
    None when not measured) and agrees: "yes", "no", "vague" (the interval
    holds both 0 and twice the answer: it cannot tell), "n/a" (a process per
    connection: the control times its loop at every start, so what it adds
    per request is not the constant it claims) or "missing"."""
    expect = res["spec"].get("expect") or {}
    per_process = (res["spec"].get("loadgen") or {}).get("slice_connections") or {}
    out = []
    for g in analysis["groups"]:
        for r in g["rows"]:
            d = (analysis["info"].get(r["variant"]) or {}).get("directives") or []
            if len(d) != 1 or d[0] not in expect:
                continue
            e = expect[d[0]]
            c = r["cmp"].get(e["metric"])
            row = {"server": g["server"], "mode": g["mode"], "variant": r["variant"],
                   "directive": d[0], "metric": e["metric"], "expected": e["delta"],
                   "measured": None, "lo": None, "hi": None, "agrees": "missing"}
            out.append(row)
            if not c or c.get("base") is None:
                continue
            got, lo, hi = (c["base"] * (x - 1.0) for x in (c["ratio"], c["lo"], c["hi"]))
            row.update(measured=got, lo=lo, hi=hi)
            vague = lo <= 0 and hi >= 2 * e["delta"] if e["delta"] > 0 else \
                hi >= 0 and lo <= 2 * e["delta"]
            row["agrees"] = ("n/a" if g["mode"] in per_process.get(g["server"], {}) else
                             "vague" if vague else "yes" if lo <= e["delta"] <= hi else "no")
    return out


SUMMARY_METRICS = ("cpu_ns_per_req", "rps", "p99")


def summary(res, analysis):
    """The rows `sandbench run` prints and writes to summary.json/.csv, from
    ANALYSIS (analyse(res)), so they say what the report says: per server,
    mode and variant (its baseline first) each metric's centre, its change
    against the baseline with the 95% interval and verdict, and the method
    that measured it ("duet" windows or "isolated" slices)."""
    rows = []
    info = analysis["info"]
    for g in analysis["groups"]:
        if g["baseline"] is None:
            continue
        base = {"variant": g["baseline"], "server": g["server"], "mode": g["mode"],
                "role": "baseline", "n": None}
        for m in SUMMARY_METRICS:
            base[m] = g["base_levels"].get(m)
            base[m + "_method"] = g["methods"].get(m)
        base["startup_ms"] = (res["variants"].get(g["baseline"]) or {}).get("startup_ms")
        base["n"] = len(samples(res, g["baseline"], g["mode"], "cpu_ns_per_req"))
        rows.append(base)
        for r in g["rows"]:
            row = {"variant": r["variant"], "server": g["server"], "mode": g["mode"],
                   "role": (info.get(r["variant"]) or {}).get("role"), "n": r["n"],
                   "startup_ms": (res["variants"].get(r["variant"]) or {}).get("startup_ms")}
            for m in SUMMARY_METRICS:
                c = r["cmp"].get(m)
                row[m + "_method"] = g["methods"].get(m)
                if not c:
                    continue
                row[m] = c["new"]
                row[m + "_n"] = c["n_new"]
                row[m + "_change"] = c["ratio"] - 1.0
                row[m + "_lo"] = c["lo"] - 1.0
                row[m + "_hi"] = c["hi"] - 1.0
                row[m + "_verdict"] = c.get("verdict")
            rows.append(row)
    return rows


def summary_aa(analysis):
    """Per server and mode the A/A control's noise floor on CPU per request
    (a fraction: the furthest end of its interval from no change)."""
    return [{"server": g["server"], "mode": g["mode"], "aa": g["aa"], "floor": g["floor"],
             "method": g["methods"].get("cpu_ns_per_req")}
            for g in analysis["groups"] if g["baseline"] is not None]


def _pct(x):
    return "-" if x is None else f"{x * 100:+.1f}%"


def _num(x):
    return "-" if x is None else f"{x:,.0f}"


def summary_table(rows, status=None):
    """summary()'s rows as text lines: CPU per request with its change and
    interval (* where the change is above the noise), req/s and p99 with
    their changes; a variant that never ran shows its status."""
    status = status or {}
    head = (f"{'variant':<44} {'mode':<9} {'n':>3} {'CPU ns/req':>10} {'change':>8} "
            f"{'95% interval':>17} {'req/s':>9} {'change':>7} {'p99 us':>8} {'change':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        state = status.get(r["variant"], "ok")
        if state != "ok" and not r.get("n"):
            lines.append(f"{r['variant']:<44} {r['mode']:<9}  {state.upper()}")
            continue
        base = r["role"] == "baseline"
        iv = "" if r.get("cpu_ns_per_req_lo") is None else \
            f"[{_pct(r['cpu_ns_per_req_lo'])}, {_pct(r['cpu_ns_per_req_hi'])}]"
        sig = "*" if r.get("cpu_ns_per_req_verdict") in ("worse", "better") else " "
        cpu_ch = "base" if base else _pct(r.get("cpu_ns_per_req_change"))
        lines.append(
            f"{r['variant']:<44} {r['mode']:<9} {r.get('n') or 0:>3} "
            f"{_num(r.get('cpu_ns_per_req')):>10} {cpu_ch:>7}{sig} {iv:>17} "
            f"{_num(r.get('rps')):>9} {'' if base else _pct(r.get('rps_change')):>7} "
            f"{_num(r.get('p99')):>8} {'' if base else _pct(r.get('p99_change')):>7}")
    return lines
