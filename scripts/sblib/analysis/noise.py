"""How noisy each round, run and place was: the weights that let a quiet
round or run count for more (results/README.md), and what where an
instance stands costs (placement)."""
import math

from sblib.analysis import stats as st
from sblib.analysis.slices import epochs, index, memo_of, run_of, samples, variant_info

# a round knows its own noise from at least this many variants' deviations
# (the spread's relative error is then about 14%, its weight's about 28%)
ROUND_NOISE_MIN = 30


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


def per_group(res, server, mode, metric, what):
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
    return per_group(res, server, mode, metric, run_noise) if run_of(res) else None


def group_weights(res, server, mode, metric):
    """{round: weight} of a (server, mode, metric) group: 1/noise^2 of each
    round (round_noise), or in a merged set whose rounds are too thin to
    know their own noise, of each round's run (run_noise); None when
    neither is known (the rounds then count alike)."""
    memo = memo_of(res, "weights")
    key = (server, mode, metric, bool(res.get("drift", True)))
    if key not in memo:
        memo[key] = _group_weights(res, server, mode, metric)
    return None if memo[key] is None else dict(memo[key])


def _group_weights(res, server, mode, metric):
    noise = per_group(res, server, mode, metric, round_noise)
    if noise is None:
        runs = group_noise(res, server, mode, metric)
        ro = run_of(res)
        if not runs or any(k not in runs for k in ro.values()):
            return None
        noise = {r: runs[k] for r, k in ro.items()}
    return {r: 1.0 / x ** 2 for r, x in noise.items()}


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
    for (vid, mode), rows in index(res).items():
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
