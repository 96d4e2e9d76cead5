"""Statistics for sandbench: robust centres, bootstrap intervals of ratios, verdicts.

Pure functions on numpy (Debian's python3-numpy), deterministic for a given seed:
every bootstrap draws all its resamples at once (see _iqm_columns).

The question every figure answers is "how much did X change against Y?", as
a ratio of interquartile means (new / base: each side's mean of the middle
half of its repetitions) with a 95% percentile-bootstrap interval. The
interquartile mean is as deaf as the median to the slices a burst of the
machine spoiled, and uses the middle half of the data where the median uses
one or two values: on this project's reference and inetd sets the median
directive interval is 5-28% narrower than with a ratio of medians
(results/README.md). In a merged set each round is weighted by its run's
1/noise^2 (bootstrap_ratio_weighted), so a noisy run counts for less.
A change is called significant when two things agree:
  - the bootstrap interval excludes 1.0, and
  - a rank test rejects "no difference" at alpha (Mann-Whitney U for two
    independent samples, an exact sign-flip test on log ratios for paired
    rounds).
The rank test keeps the false-positive rate at or below alpha even for the
handful of repetitions a benchmark affords, where a percentile bootstrap of a
median or a trimmed mean alone is known to be too narrow. The A/A control (a
second, identical baseline) gives the noise floor: changes smaller than it
are not reported as costs even when "significant".
"""
import ctypes
import hashlib
import math

import numpy as np

RESAMPLES = 2000
CONF = 0.95
ALPHA = 0.05

# Which way is good, per metric. Anything not listed: lower is better.
HIGHER_IS_BETTER = {"rps"}


def median(xs):
    """Median of a non-empty sequence of numbers."""
    s = sorted(xs)
    n = len(s)
    if n == 0:
        raise ValueError("median of an empty sample")
    m = n // 2
    return s[m] if n % 2 else (s[m - 1] + s[m]) / 2.0


def quantile(sorted_xs, q):
    """Linear-interpolated quantile (type 7) of an already sorted sequence."""
    n = len(sorted_xs)
    if n == 0:
        raise ValueError("quantile of an empty sample")
    h = (n - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, n - 1)
    return sorted_xs[lo] + (h - lo) * (sorted_xs[hi] - sorted_xs[lo])


def iqm_sorted(s):
    """Interquartile mean of an already sorted non-empty sequence: the mean
    of its middle half, the values at the quartiles weighted by the fraction
    of them inside it (1 value: itself; 2: their mean)."""
    n = len(s)
    if n == 1:
        return s[0]
    t = n * 0.25
    a = math.ceil(t)
    b = n - a
    total = sum(s[a:b])
    if a > t:
        total += (a - t) * (s[a - 1] + s[b])
    return total / (n * 0.5)


def center(xs):
    """The interquartile mean of a non-empty sequence: what every ratio
    compares (see the module's text)."""
    if not xs:
        raise ValueError("interquartile mean of an empty sample")
    return iqm_sorted(sorted(xs))


def mad_cv(xs):
    """Robust coefficient of variation: 1.4826 * MAD / median (0 if median is 0)."""
    m = median(xs)
    if m == 0:
        return 0.0
    return 1.4826 * median([abs(x - m) for x in xs]) / abs(m)


def derive_seed(seed, *labels):
    """A stable per-comparison seed from a run seed and labels (no hash() salt)."""
    h = hashlib.sha256(repr((seed,) + tuple(labels)).encode()).digest()
    return int.from_bytes(h[:8], "big")


def _ratio(a, b):
    if b == 0:
        return math.inf if a > 0 else (1.0 if a == 0 else -math.inf)
    return a / b


# --- the bootstrap, vectorised ------------------------------------------------------
#
# Every interval of this module is a percentile bootstrap of a ratio of
# interquartile means, and every resample is drawn as numpy arrays at once:
# a resample is how many times it holds each item (a round, or one side's
# value), so RESAMPLES resamples are an (items x RESAMPLES) array of counts,
# and the (weighted) interquartile means of all of them come from the items
# sorted once by value: each item's count times its weight, summed up in
# that order, places it in the resample's total weight, and the middle half
# of that total is what the mean is of (_iqm_columns). The draws come from
# numpy.random.Generator seeded with the comparison's seed (derive_seed), so
# an interval depends on its seed alone, never on how the work is split.

_MALLOC = []


def _keep_freed_memory():
    """Ask glibc to keep the memory numpy frees (once per process). By
    default it hands a freed block of more than 128 KiB back to the kernel
    at once, and the next array of that size is faulted in afresh, page by
    page: on the project's VM (about 5 us a fault) that was more than half
    of every bootstrap's time (5.9 ms against 2.4 a comparison of 64
    rounds). The arrays here are a few MB at most, so keeping them costs
    nothing. A C library without mallopt is left alone."""
    if _MALLOC:
        return
    _MALLOC.append(True)
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 32 << 20)    # M_MMAP_THRESHOLD: blocks up to 32 MiB from the heap
        libc.mallopt(-1, 256 << 20)   # M_TRIM_THRESHOLD: keep up to 256 MiB freed
    except (OSError, AttributeError):
        pass


def _rng(seed):
    """The numpy generator of SEED: a non-negative integer (derive_seed's)
    as it is, anything else through derive_seed."""
    _keep_freed_memory()
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    return np.random.default_rng(derive_seed(seed))


def _plan(n, clusters=None, strata=None):
    """How a resample of N items (the rounds of a paired comparison) is
    drawn: (items, strata), ITEMS the item indices in the order of the
    draw (stratum by stratum, cluster by cluster) and STRATA one list of
    cluster sizes per stratum, its clusters consecutive in ITEMS. A stratum
    (a merged set's run, fixed by design) is resampled on its own, so every
    resample holds each run's share. A stratum with clusters of more than
    one label is drawn two-stage (as many clusters as it has, with
    replacement, then within each drawn cluster as many of its items);
    else it is one cluster, its items drawn with replacement."""
    if strata is not None and len(set(strata)) > 1:
        parts = [[i for i, x in enumerate(strata) if x == k]
                 for k in sorted(set(strata), key=str)]
    else:
        parts = [list(range(n))]
    items, sizes = [], []
    for idx in parts:
        labels = [clusters[i] for i in idx] if clusters is not None else None
        if labels is None or len(set(labels)) < 2:
            items += idx
            sizes.append([len(idx)])
            continue
        groups = {}
        for i, c in zip(idx, labels):
            groups.setdefault(c, []).append(i)
        for c in sorted(groups, key=str):
            items += groups[c]
        sizes.append([len(groups[c]) for c in sorted(groups, key=str)])
    return np.array(items, dtype=np.intp), sizes


def _counts(rng, plan, resamples):
    """RESAMPLES bootstrap resamples drawn by PLAN (_plan) as an (items x
    resamples) float array, in the plan's item order: column r holds how
    many times resample r drew each item."""
    items, strata = plan
    out = np.empty((len(items), resamples))
    cols = np.arange(resamples)
    at = 0
    for sizes in strata:
        m = sum(sizes)
        keep = None
        if len(sizes) == 1:
            pick = rng.integers(0, m, size=(m, resamples))
        else:
            ng, most = len(sizes), max(sizes)
            drawn = rng.integers(0, ng, size=(ng, resamples))   # each resample's clusters
            if min(sizes) == most:
                pick = rng.integers(0, most, size=(most, ng, resamples))
                pick += drawn * most
            else:   # a cluster smaller than the largest draws only as many
                size = np.array(sizes)[drawn]
                pick = rng.integers(0, size, size=(most, ng, resamples))
                pick += np.cumsum([0] + sizes[:-1])[drawn]
                keep = np.arange(most)[:, None, None] < size
        pick *= resamples
        pick += cols
        flat = pick.ravel() if keep is None else pick[keep]
        out[at:at + m] = np.bincount(flat, minlength=m * resamples).reshape(m, resamples)
        at += m
    return out


def _iqm_columns(values, counts, items):
    """The (weighted) interquartile mean of every resample: VALUES (n) and
    COUNTS (items x resamples, in the order ITEMS of a plan: how often each
    resample holds each item, times the item's weight where items are
    weighted). Per resample, as weighted_iqm_sorted (so iqm_sorted with
    equal weights): in value order, item j spans [C(j-1), C(j)) of the
    cumulated weight C, and counts with the part of that inside the middle
    half [T/4, 3T/4] of the total T. With K(j) = C(j) clipped to that half,
    the mean is
        sum_j v(j) (K(j) - K(j-1)) / (T/2)
      = (v(n-1) 3T/4 - v(0) T/4 - sum_j (v(j+1) - v(j)) K(j)) / (T/2):
    a cumulative sum, a clip and one product over the array."""
    v = np.asarray(values, dtype=float)[items]
    if len(v) == 1:
        return np.full(counts.shape[1], v[0])
    order = np.argsort(v, kind="stable")
    v = v[order]
    c = counts[order]
    for j in range(1, len(c)):   # row by row: numpy's cumsum down axis 0 is 5x slower
        np.add(c[j], c[j - 1], out=c[j])
    total = c[-1].copy()
    lo, hi = 0.25 * total, 0.75 * total
    np.minimum(c, hi, out=c)
    np.maximum(c, lo, out=c)
    return (v[-1] * hi - v[0] * lo - np.diff(v) @ c[:-1]) / (hi - lo)


def _ratios(num, den):
    """num / den elementwise, with _ratio's answer where den is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
    zero = den == 0
    if zero.any():
        r[zero] = np.where(num[zero] > 0, math.inf, np.where(num[zero] == 0, 1.0, -math.inf))
    return r


def _percentiles(stats, conf):
    """The CONF percentile interval (lo, hi) of bootstrap values STATS."""
    s = np.sort(stats).tolist()
    tail = (1.0 - conf) / 2.0
    return quantile(s, tail), quantile(s, 1.0 - tail)


def _paired_stats(base, new, weights, plan, rng, resamples):
    """RESAMPLES bootstrap values of the (weighted) ratio of interquartile
    means of paired BASE and NEW, pairs drawn by PLAN."""
    c = _counts(rng, plan, resamples)
    if weights is not None:
        c *= np.asarray(weights, dtype=float)[plan[0]][:, None]
    return _ratios(_iqm_columns(new, c, plan[0]), _iqm_columns(base, c, plan[0]))


def _unpaired_stats(base, new, rng, resamples):
    """As _paired_stats for independent samples, each resampled on its own."""
    pb, pn = _plan(len(base)), _plan(len(new))
    cb, cn = _counts(rng, pb, resamples), _counts(rng, pn, resamples)
    return _ratios(_iqm_columns(new, cn, pn[0]), _iqm_columns(base, cb, pb[0]))


def resampled_centres(columns, seed, clusters=None, resamples=RESAMPLES):
    """The interquartile mean of each of COLUMNS (lists of one length: the
    values of one set of windows) in RESAMPLES bootstrap resamples of those
    windows, drawn jointly (epochs as CLUSTERS, as bootstrap_ratio draws
    paired rounds): one numpy array per column, resample r of each from the
    same windows. For an estimate made of several centres
    (analysis/wakeups.py)."""
    n = len(columns[0]) if columns else 0
    if n == 0 or any(len(c) != n for c in columns):
        raise ValueError("resampled_centres needs columns of one length > 0")
    if clusters is not None and len(clusters) != n:
        raise ValueError("one cluster label per window")
    plan = _plan(n, clusters)
    c = _counts(_rng(seed), plan, resamples)
    return [_iqm_columns(col, c.copy(), plan[0]) for col in columns]


def bootstrap_ratio(base, new, seed, resamples=RESAMPLES, conf=CONF, paired=False,
                    clusters=None):
    """Ratio of interquartile means center(new)/center(base) with a
    percentile interval.

    paired=True: base[i] and new[i] were measured side by side (same round),
    so rounds are resampled jointly and drift common to both cancels.
    clusters (paired only): clusters[i] names the group round i belongs to
    (an epoch: rounds measured with the same instances in the same places).
    Rounds of one cluster share its offsets, so they are not independent:
    the resample draws clusters, then rounds within each drawn cluster.
    Returns (ratio, lo, hi). Needs >= 1 value on each side; with one value a
    side the interval degenerates to the point.
    """
    if not base or not new:
        raise ValueError("bootstrap_ratio needs two non-empty samples")
    if paired and len(base) != len(new):
        raise ValueError("paired samples must have the same length")
    if resamples < 1:
        raise ValueError("resamples must be >= 1")
    if clusters is not None and (not paired or len(clusters) != len(base)):
        raise ValueError("clusters need paired samples, one label per pair")
    point = _ratio(center(new), center(base))
    rng = _rng(seed)
    if paired:
        stats = _paired_stats(base, new, None, _plan(len(base), clusters), rng, resamples)
    else:
        stats = _unpaired_stats(base, new, rng, resamples)
    return (point,) + _percentiles(stats, conf)


def weighted_iqm_sorted(s):
    """Interquartile mean of an already sorted non-empty list of (value,
    weight): the weighted mean of the middle half of the weight, values at
    its edges counted with the part of their weight inside it. With equal
    weights it is iqm_sorted."""
    total = sum(w for _, w in s)
    lo, hi = total * 0.25, total * 0.75
    acc = cum = 0.0
    for v, w in s:
        a, b = max(cum, lo), min(cum + w, hi)
        if b > a:
            acc += v * (b - a)
        cum += w
        if cum >= hi:
            break
    return acc / (hi - lo)


def _weighted_ratio(pick):
    """Weighted interquartile mean of new over base's, of (base, new, weight) pairs."""
    mb = weighted_iqm_sorted(sorted((p[0], p[2]) for p in pick))
    mn = weighted_iqm_sorted(sorted((p[1], p[2]) for p in pick))
    return mn / mb if mb else _ratio(mn, mb)


def bootstrap_ratio_weighted(base, new, weights, seed, resamples=RESAMPLES, conf=CONF,
                             clusters=None, strata=None):
    """As bootstrap_ratio (paired) with a weight per pair: the ratio of
    weighted interquartile means, so that noisy rounds (each weighted by
    its 1/noise^2) count for less instead of widening the quiet ones. The
    bootstrap is bootstrap_ratio's, each pair drawn with its weight, and
    with strata (strata[i]: pair i's run in a merged set) within each run
    on its own. Returns (ratio, lo, hi)."""
    if not (len(base) == len(new) == len(weights)) or not base:
        raise ValueError("weighted ratios need paired samples, one weight per pair")
    if any(not w > 0 for w in weights):
        raise ValueError("weights must be positive")
    if clusters is not None and len(clusters) != len(base):
        raise ValueError("clusters need one label per pair")
    if resamples < 1:
        raise ValueError("resamples must be >= 1")
    point = _weighted_ratio(list(zip(base, new, weights)))
    stats = _paired_stats(base, new, weights, _plan(len(base), clusters, strata),
                          _rng(seed), resamples)
    return (point,) + _percentiles(stats, conf)


def _cost_sampler(side):
    """(cost, draw) of one run's side of bootstrap_ratio_of_ratios: its
    cost centre(new)/centre(base) and a function DRAW(rng, resamples)
    returning the costs of that many bootstrap resamples. SIDE is a dict:
    base, new and, optionally, paired (resample pairs jointly), clusters
    (epochs: two-stage, see bootstrap_ratio), weights (one per pair:
    weighted interquartile means, see bootstrap_ratio_weighted) and strata
    (a merged set's runs, each resampled on its own)."""
    b, n = side["base"], side["new"]
    if not b or not n:
        raise ValueError("bootstrap_ratio_of_ratios needs four non-empty samples")
    if not (side.get("paired") and len(b) == len(n)):
        return _ratio(center(n), center(b)), \
            lambda rng, resamples: _unpaired_stats(b, n, rng, resamples)
    cl, strata, w = side.get("clusters"), side.get("strata"), side.get("weights")
    if cl is not None and len(cl) != len(b):
        cl = None
    if strata is not None and len(strata) != len(b):
        strata = None
    if w and len(w) == len(b):
        return _weighted_ratio(list(zip(b, n, w))), \
            lambda rng, resamples: _paired_stats(b, n, w, _plan(len(b), cl, strata), rng,
                                                 resamples)
    return _ratio(center(n), center(b)), \
        lambda rng, resamples: _paired_stats(b, n, None, _plan(len(b), cl), rng, resamples)


def cost_of(side):
    """The cost centre(new)/centre(base) of a side of bootstrap_ratio_of_ratios."""
    return _cost_sampler(side)[0]


def bootstrap_ratio_of_ratios(side0, side1, seed, resamples=RESAMPLES, conf=CONF):
    """How a cost moved between two runs: cost(side1) / cost(side0), the
    cost of a side its new centre over its base centre (interquartile means,
    weighted in a merged set); SIDE: see _cost_sampler. Each side is
    resampled as its own run is analysed. Returns (ratio, lo, hi)."""
    c0, draw0 = _cost_sampler(side0)
    c1, draw1 = _cost_sampler(side1)
    rng = _rng(seed)
    r0 = draw0(rng, resamples)
    r1 = draw1(rng, resamples)
    return (_ratio(c1, c0),) + _percentiles(_ratios(r1, r0), conf)


def combine_intervals(x0, lo0, hi0, x1, lo1, hi1, log=True):
    """How an estimate moved between two independent runs, from each run's
    own estimate and 95% interval: x1/x0 (LOG) or x1 - x0, with an interval
    by the method of variance estimates recovery (MOVER, Zou and Donner
    2008): each side's distance to its own interval's ends, combined in
    quadrature, on the log scale for ratios. Exact for normal estimates,
    close for the bootstrap intervals of this module, and cheap: it needs
    the two analyses, not their slices. Returns (change, lo, hi)."""
    f, g = (math.log, math.exp) if log else ((lambda v: v), (lambda v: v))
    a, a_lo, a_hi = f(x0), f(lo0), f(hi0)
    b, b_lo, b_hi = f(x1), f(lo1), f(hi1)
    d = b - a
    lo = d - math.sqrt((b - b_lo) ** 2 + (a_hi - a) ** 2)
    hi = d + math.sqrt((b_hi - b) ** 2 + (a - a_lo) ** 2)
    return g(d), g(lo), g(hi)


def _norm_sf(z):
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def mann_whitney_p(a, b):
    """Two-sided p-value of the Mann-Whitney U test (no difference in location).

    Exact (by counting) when there are no ties and the samples are small,
    otherwise the normal approximation with tie and continuity corrections.
    """
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(pooled)
    ties = []
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        r = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[k] = r
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, pooled) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2.0
    u = min(u1, n1 * n2 - u1)
    if not ties and n1 * n2 <= 2500:
        # counts[k] = number of arrangements with U == k (the classic recurrence)
        counts = _u_distribution(n1, n2)
        total = float(sum(counts))
        p = 2.0 * sum(counts[: int(u) + 1]) / total
        return min(1.0, p)
    n = n1 + n2
    mu = n1 * n2 / 2.0
    tie_term = sum(t ** 3 - t for t in ties) / (n * (n - 1)) if n > 1 else 0.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    if var <= 0:
        return 1.0
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    return min(1.0, 2.0 * _norm_sf(max(z, 0.0)))


_U_CACHE = {}


def _u_distribution(n1, n2):
    key = (n1, n2)
    if key in _U_CACHE:
        return _U_CACHE[key]
    # f[i][j] = distribution of U for sizes (i, j), built bottom-up.
    maxu = n1 * n2
    prev_row = [[1] for _ in range(n2 + 1)]  # i == 0: U is 0 in one way
    for i in range(1, n1 + 1):
        row = [[1]]  # j == 0
        for j in range(1, n2 + 1):
            # the largest value is from sample 1 (adds j to U) or from sample 2
            a = prev_row[j]  # (i-1, j), shifted by j
            b = row[j - 1]   # (i, j-1)
            size = i * j + 1
            d = [0] * size
            for k, c in enumerate(a):
                d[k + j] += c
            for k, c in enumerate(b):
                d[k] += c
            row.append(d)
        prev_row = row
    dist = prev_row[n2] if n1 > 0 else [1]
    dist = dist + [0] * (maxu + 1 - len(dist))
    _U_CACHE[key] = dist
    return dist


def sign_flip_p(base, new, max_exact=12):
    """Two-sided p-value that paired log ratios log(new/base) are centred on 0.

    Exact over all 2^n sign flips when n <= max_exact, otherwise the normal
    approximation of that same permutation distribution (mean 0, variance
    sum d^2). Pairs with a non-positive value are skipped.
    """
    d = [math.log(n / b) for b, n in zip(base, new) if b > 0 and n > 0]
    n = len(d)
    if n == 0:
        return 1.0
    obs = abs(sum(d))
    eps = 1e-12 * (1.0 + obs)
    if n <= max_exact:
        # all 2^n signed sums, built one value at a time in order (so each
        # sum is added up exactly as a loop over the values would)
        sums = np.zeros(1)
        for x in d:
            sums = np.concatenate((sums + x, sums - x))
        return int(np.count_nonzero(np.abs(sums) >= obs - eps)) / float(1 << n)
    var = sum(x * x for x in d)
    if var == 0:
        return 1.0
    return min(1.0, 2.0 * _norm_sf(obs / math.sqrt(var)))


def compare(base, new, seed, paired=False, resamples=RESAMPLES, conf=CONF, alpha=ALPHA,
            clusters=None, strata=None, weights=None):
    """Compare two samples of one metric (clusters: see bootstrap_ratio;
    paired only: weights[i] the weight of pair i, its round's 1/noise^2,
    and strata[i] the run it was measured in, see bootstrap_ratio_weighted).

    Returns a dict: n_base, n_new, base, new (interquartile means, weighted
    when the rounds were), ratio, lo, hi, p, significant, and "weighted":
    true when they were. Samples with a single value each are never
    significant.
    """
    weighted = bool(paired and weights and len(weights) == len(base))
    if weighted:
        ratio, lo, hi = bootstrap_ratio_weighted(base, new, weights, seed, resamples, conf,
                                                 clusters, strata)
    else:
        ratio, lo, hi = bootstrap_ratio(base, new, seed, resamples, conf, paired, clusters)
    if paired:
        p = sign_flip_p(base, new)
    else:
        p = mann_whitney_p(base, new)
    sig = (lo > 1.0 or hi < 1.0) and p < alpha
    if weighted:
        cb = weighted_iqm_sorted(sorted(zip(base, weights)))
        cn = weighted_iqm_sorted(sorted(zip(new, weights)))
    else:
        cb, cn = center(base), center(new)
    return {"n_base": len(base), "n_new": len(new), "base": cb,
            "new": cn, "ratio": ratio, "lo": lo, "hi": hi, "p": p,
            "significant": bool(sig), **({"weighted": True} if weighted else {})}


# No cost is printed, called or gated from fewer samples than this on a
# side, or from an interval of zero width.
MIN_N = 3


def n_of(c):
    """The fewest samples behind comparison C (a variant against its
    baseline: the smaller side), or None when C does not say."""
    ns = [c.get(k) for k in ("n_base", "n_new", "n") if isinstance(c.get(k), int)]
    return min(ns) if ns else None


def why_not(*cs):
    """Why comparisons CS cannot carry a change: "n<3" (fewer than MIN_N
    samples on a side), "no interval" (zero width, or none), else None."""
    for c in cs:
        n = n_of(c)
        if n is not None and n < MIN_N:
            return f"n<{MIN_N}"
    for c in cs:
        lo, hi, x = c.get("lo"), c.get("hi"), c.get("ratio")
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (lo, hi, x)) \
                or not lo < hi or min(lo, hi, x) <= 0:
            return "no interval"
    return None


def noise_floor(aa):
    """The noise floor from an A/A comparison (the result of compare()).

    The largest relative change the identical-twin baseline could show: the
    furthest end of its interval from 1.0. E.g. 0.012 means +-1.2%.
    None from fewer than MIN_N windows or slices, or a zero-width interval.
    """
    if aa is None or why_not(aa):
        return None
    return max(abs(aa["lo"] - 1.0), abs(aa["hi"] - 1.0), abs(aa["ratio"] - 1.0))


def worse(metric, ratio):
    """True if `ratio` (new/base) moves `metric` in the bad direction."""
    return ratio < 1.0 if metric in HIGHER_IS_BETTER else ratio > 1.0


def verdict(metric, result, threshold=0.0, floor=None):
    """One word for a compare() result.

    "~"       not significant (or within the noise floor / threshold)
    "worse"   significantly worse by more than threshold and the noise floor
    "better"  significantly better by more than threshold and the noise floor
    threshold and floor are fractions (0.05 = 5%). Never called from
    fewer than MIN_N samples or a zero-width interval (why_not).
    """
    if not result["significant"] or why_not(result):
        return "~"
    change = abs(result["ratio"] - 1.0)
    if change <= threshold or (floor is not None and change <= floor):
        return "~"
    return "worse" if worse(metric, result["ratio"]) else "better"


def pct(ratio):
    """A ratio as a signed percentage string: 1.1 -> '+10.0%'."""
    if ratio is None or math.isinf(ratio) or math.isnan(ratio):
        return "n/a"
    return f"{(ratio - 1.0) * 100.0:+.1f}%"


def interval(lo, hi):
    """An interval of ratios as percentages: '[+8.1%, +12.0%]'."""
    return f"[{pct(lo)}, {pct(hi)}]"


def pareto_frontier(points):
    """The cheapest way to each exposure level.

    points: iterable of (cost, exposure, label); lower is better on both.
    Returns the non-dominated points sorted by cost ascending (exposure then
    strictly descending).
    """
    pts = sorted(points, key=lambda p: (p[0], p[1]))
    out = []
    best = math.inf
    for p in pts:
        if p[1] < best:
            out.append(p)
            best = p[1]
    return out
