"""The statistics of `sandbench startup`: start-up and per-connection costs
as paired differences against the baseline, with 95% bootstrap intervals,
and their growth with the host's mount count. Pure functions, standard
library only, deterministic for a given seed.

A start-up sample is one start of one variant (or, for inetd, one batch of
connections). Every round holds each variant once and the baseline a few
times (sqrt(k) for k variants: the allocation that makes k comparisons
against one control most precise), in a seeded order, so that a variant's
start and the baseline's starts it is compared with saw the same minute of
the machine. A directive's cost is the interquartile mean of its starts less
the baseline's (each deaf to the odd start a burst of the machine
spoiled), its interval the percentile bootstrap over rounds, each round
resampled whole so that what its starts shared stays paired.

    d = round_pairs(samples, "total_ms", "activated/baseline", "activated/x")
    c = difference_interval(d, seed=1)      # {"delta", "lo", "hi", "pct", ...}
    s = slope_interval({0: [...], 1000: [...]}, seed=1)   # growth per 1000 mounts
"""
import math
import random

import numpy as np

from sblib.analysis import stats as st

RESAMPLES = 2000
CONF = 0.95


def baseline_share(k):
    """Baseline samples per round when K variants are compared with it: the
    square-root rule (at least 1)."""
    return max(1, int(round(math.sqrt(max(k, 1)))))


def round_order(variant_ids, baseline_id, seed, label):
    """One round's order: every variant once, the baseline baseline_share()
    times, shuffled by random.Random(f"{SEED}/{LABEL}") (the same seed and
    label give the same order)."""
    others = [v for v in variant_ids if v != baseline_id]
    seq = others + [baseline_id] * baseline_share(len(others))
    random.Random(f"{seed}/{label}").shuffle(seq)
    return seq


def _rounds(samples, metric, variant):
    """{round: [values]} of VARIANT's good samples of METRIC."""
    out = {}
    for s in samples:
        if s.get("variant") != variant or s.get("status") != "ok":
            continue
        v = s.get(metric)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.setdefault(s.get("round"), []).append(float(v))
    return out


def round_pairs(samples, metric, baseline, variant):
    """[(variant's values, baseline's values)] of METRIC, one per round
    where both have a good sample, in round order. SAMPLES: records with
    "variant", "round", "status" and METRIC."""
    b = _rounds(samples, metric, baseline)
    v = _rounds(samples, metric, variant)
    return [(v[r], b[r]) for r in sorted(set(b) & set(v), key=lambda x: (str(type(x)), x))]


def delta_of(pairs):
    """(variant's centre - baseline's centre, baseline's centre) over the
    rounds PAIRS, each side the interquartile mean of all its values. A
    difference of centres, not a centre of per-round differences: a round
    holds one start of a variant and several of the baseline, and the
    interquartile mean of (one start - a mean of several) is biased by as
    much as start-up times are skewed (-1.5 ms on crafted starts,
    tests/py/test_startup.py)."""
    b = st.center([x for _, bs in pairs for x in bs])
    return st.center([x for vs, _ in pairs for x in vs]) - b, b


def difference_interval(pairs, seed, resamples=RESAMPLES, conf=CONF):
    """The cost from round pairs PAIRS (round_pairs()): {"n" (rounds),
    "delta" (delta_of), "lo", "hi" (its CONF percentile-bootstrap interval,
    rounds resampled whole, so what the rounds share stays paired), "base"
    (the baseline's centre), "pct", "pct_lo", "pct_hi" (the same as a
    percentage of the baseline, from the same resamples)}, or None without
    pairs. One round gives an interval of zero width: n says so."""
    if not pairs:
        return None
    d, b = delta_of(pairs)
    n = len(pairs)
    pct = 100.0 * d / b if b else None
    if n < 2:
        lo, hi, plo, phi = d, d, pct, pct
    else:
        # rounds resampled whole: a value's count in a resample is its round's
        rng = st._rng(seed)
        plan = st._plan(n)
        c = st._counts(rng, plan, resamples)
        vs = [(x, r) for r, (xs, _) in enumerate(pairs) for x in xs]
        bs = [(x, r) for r, (_, xs) in enumerate(pairs) for x in xs]
        mv = _centres(vs, c, plan[0])
        mb = _centres(bs, c, plan[0])
        ds = mv - mb
        lo, hi = st._percentiles(ds, conf)
        ok = mb != 0
        if ok.any():
            plo, phi = st._percentiles(100.0 * ds[ok] / mb[ok], conf)
        else:
            plo, phi = pct, pct
    return {"n": n, "delta": d, "lo": lo, "hi": hi, "base": b, "pct": pct,
            "pct_lo": plo, "pct_hi": phi, "resamples": resamples if n > 1 else 0}


def _centres(values, counts, items):
    """Interquartile means of every resample of rounds: VALUES [(value,
    round)], COUNTS (rounds x resamples, in the order ITEMS of _stats' plan)."""
    where = np.empty(len(items), dtype=np.intp)
    where[items] = np.arange(len(items))
    rounds = where[[r for _, r in values]]
    return st._iqm_columns([x for x, _ in values], counts[rounds], np.arange(len(values)))


def ols_slope(points):
    """Least-squares slope of [(x, y)]; None with fewer than two distinct x."""
    n = len(points)
    if n < 2:
        return None
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx == 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx


def slope_interval(by_level, seed, per=1000.0, resamples=RESAMPLES, conf=CONF, stat=None):
    """Growth of a quantity with a level (the host's mount count): BY_LEVEL
    {level: [items]}, each level's value STAT(items) (default: the
    interquartile mean of numbers; delta_of's first figure for round
    pairs), the least-squares slope of those over the levels times PER,
    with a CONF percentile-bootstrap interval (each level's items
    resampled on their own). {"slope", "lo", "hi", "per", "levels",
    "centres"} or None with fewer than two levels holding items."""
    levels = sorted(k for k, v in by_level.items() if v)
    if len(levels) < 2:
        return None
    own = stat is None or stat is st.center
    stat = stat or st.center
    centres = {k: stat(by_level[k]) for k in levels}
    slope = ols_slope([(k, centres[k]) for k in levels])
    # each level's items resampled on their own, all resamples at once: an
    # interquartile mean of numbers from the counts (_stats._iqm_columns),
    # any other STAT called on each resample's items
    rng = st._rng(seed)
    ys = []
    for k in levels:
        xs = by_level[k]
        plan = st._plan(len(xs))
        if own:
            ys.append(st._iqm_columns(xs, st._counts(rng, plan, resamples), plan[0]))
        else:
            idx = rng.integers(0, len(xs), size=(len(xs), resamples)).T.tolist()
            ys.append(np.array([stat([xs[i] for i in row]) for row in idx], dtype=float))
    x = np.array(levels, dtype=float)
    x -= x.mean()
    y = np.array(ys)
    boot = (x @ (y - y.mean(axis=0))) / (x @ x)
    lo, hi = st._percentiles(boot, conf)
    return {"slope": slope * per, "lo": lo * per, "hi": hi * per, "per": per,
            "levels": levels, "centres": [centres[k] for k in levels]}


# --- what systemd records about a start -------------------------------------------

PHASES = (
    # (name, from, to): systemd's monotonic timestamps (µs) and ours ("t0":
    # `systemctl start` called, "t_answer": the first good response), in ms.
    # The first three split the start; the last is what a directive can
    # change, without our own call's cost and noise.
    ("to_fork_ms", "t0", "ExecMainStartTimestampMonotonic"),
    ("setup_and_init_ms", "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic"),
    ("ready_to_answer_ms", "ActiveEnterTimestampMonotonic", "t_answer"),
    ("fork_to_answer_ms", "ExecMainStartTimestampMonotonic", "t_answer"),
)
PHASE_PROPS = tuple(sorted({p for _, a, b in PHASES for p in (a, b) if not p.startswith("t")}))


def phases(props, t0, t_answer):
    """The split of a start systemd itself records: PROPS (systemctl show
    values, µs of CLOCK_MONOTONIC, which the container shares with us), T0
    and T_ANSWER (time.monotonic() seconds). {phase: ms or None}: to_fork
    (our call until the main process was forked: nsenter and systemctl,
    D-Bus, the job, for a socket-activated service the first connection's
    wait; systemd 252 leaves "inactive" only after the fork, so
    InactiveExit splits nothing), setup_and_init (fork until READY=1: the
    sandbox set-up in the forked child, the exec and the service's own
    initialisation), ready_to_answer (until our first good response), and
    fork_to_answer, the last two together. A timestamp systemd did not
    set (0) gives None."""
    t = {"t0": t0 * 1e6, "t_answer": t_answer * 1e6}
    for k in PHASE_PROPS:
        try:
            v = int(props.get(k) or 0)
        except ValueError:
            v = 0
        t[k] = v if v > 0 else None
    out = {}
    for name, a, b in PHASES:
        out[name] = round((t[b] - t[a]) / 1000.0, 3) if t[a] and t[b] else None
    return out


def cpu_usec_of_stat(text):
    """usage_usec from a cgroup v2 cpu.stat text, or None."""
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        if k == "usage_usec":
            try:
                return int(v)
            except ValueError:
                return None
    return None


def proc_stat_cpu_ticks(text):
    """utime + stime (clock ticks) from a /proc/PID/stat line."""
    rest = text.rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])
