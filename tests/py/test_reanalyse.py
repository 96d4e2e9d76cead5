"""Two analyses of one results set side by side: does every verdict agree,
and how far did each interval's ends move? For a change of the statistics'
code that should not change the answers (the bootstrap's engine, its random
draws): a fresh draw moves every end a little, by Monte Carlo error, and
never a verdict.

As a tool, from the top of the tree:

    python3 tests/py/test_reanalyse.py OLD/analysis.json NEW/analysis.json

prints every verdict that differs and how far the intervals' ends moved,
as a fraction of the old interval's width (the largest ones named); exit 1
when a verdict, a point estimate or a p-value differs, or more ends moved
by 10% of their width than a fresh draw of the resamples moves (agrees()).
As a test it checks that on crafted inputs, and re-analyses a published
set against the analysis.json published beside it (the duet set; the full
reference set too with SANDBENCH_SLOW_TESTS=1).
"""
import json
import os
import shutil
import sys
import tempfile
import unittest

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(TOP, "scripts"))

LIMIT = 0.10   # a large move of an end, as a fraction of its interval's width
# ... and how many of them a fresh draw makes. The ends of a 2000-resample
# percentile interval carry Monte Carlo error: re-analysed with the old,
# pure-Python bootstrap and only the seed changed, the published full set
# moved 7 of its 4268 ends by 10% of their width or more (the largest by
# 34%: p99 ratios, whose resamples are heavy-tailed) and the duet set 8
# (19%: 12 rounds in 4 epochs, a coarse bootstrap distribution).
SHARE = 0.005


def comparisons(analysis):
    """{key: compare() result} of every comparison in an analysis.json:
    (server, mode, variant, metric) for the per-request metrics and
    ("startup", variant) for start-up."""
    out = {}
    for g in analysis.get("groups") or []:
        for r in g.get("rows") or []:
            for m, c in (r.get("cmp") or {}).items():
                if c:
                    out[(g["server"], g["mode"], r["variant"], m)] = c
    for vid, e in (analysis.get("startup") or {}).items():
        if e and e.get("cmp"):
            out[("startup", vid)] = e["cmp"]
    return out


def floors(analysis):
    """{key: noise floor} of every group's metrics and start-up."""
    out = {}
    for g in analysis.get("groups") or []:
        for m, f in (g.get("floors") or {}).items():
            out[(g["server"], g["mode"], m)] = f
    for s, f in (analysis.get("startup_floor") or {}).items():
        out[("startup", s)] = f
    return out


def diff(old, new):
    """How analysis NEW differs from OLD (analysis.json objects):
    {"verdicts": [(key, old verdict, new verdict, old cmp, new cmp)],
    "moves": [(fraction of the old width, key, end, old, new)] largest
    first, "missing": keys in one only, "points": keys whose ratio or
    p-value differ (the figures a resample does not touch),
    "compared": how many comparisons}."""
    a, b = comparisons(old), comparisons(new)
    out = {"verdicts": [], "significance": [], "moves": [],
           "missing": sorted(set(a) ^ set(b), key=str), "points": [], "compared": 0}
    for k in sorted(set(a) & set(b), key=str):
        x, y = a[k], b[k]
        out["compared"] += 1
        if x.get("verdict") != y.get("verdict"):
            out["verdicts"].append((k, x.get("verdict"), y.get("verdict"), x, y))
        elif x.get("significant") != y.get("significant"):
            # an end on 1.0 crossed it, the verdict held by the noise floor
            out["significance"].append((k, x, y))
        for f in ("ratio", "p", "base", "new"):
            if x.get(f) is not None and y.get(f) is not None and \
                    abs(x[f] - y[f]) > 1e-9 * max(1.0, abs(x[f])):
                out["points"].append((k, f, x[f], y[f]))
        width = x["hi"] - x["lo"]
        for end in ("lo", "hi"):
            moved = abs(y[end] - x[end])
            if moved <= 1e-12 * max(1.0, abs(x[end])):
                frac = 0.0    # the same but for rounding (an interval of one value a side)
            else:
                frac = moved / width if width > 0 else float("inf")
            out["moves"].append((frac, k, end, x[end], y[end]))
    out["moves"].sort(key=lambda m: -m[0])
    fa, fb = floors(old), floors(new)
    out["floors"] = sorted(((abs(fb[k] - fa[k]) / fa[k] if fa[k] else 0.0, k, fa[k], fb[k])
                            for k in set(fa) & set(fb)
                            if fa[k] is not None and fb[k] is not None),
                           key=lambda f: -f[0])
    return out


def _fmt(k):
    return "/".join(str(x) for x in k)


def summary(d, top=5):
    """diff()'s answer as lines of text."""
    lines = [f"{d['compared']} comparisons; {len(d['verdicts'])} verdicts differ"]
    for k, va, vb, x, y in d["verdicts"]:
        lines.append(f"  VERDICT {_fmt(k)}: {va} -> {vb} (ratio {x['ratio']:.4f}, "
                     f"[{x['lo']:.4f}, {x['hi']:.4f}] -> [{y['lo']:.4f}, {y['hi']:.4f}], "
                     f"p {x.get('p')})")
    for k, x, y in d["significance"]:
        lines.append(f"  significance {_fmt(k)}: {x['significant']} -> {y['significant']}, "
                     f"verdict {x.get('verdict')} both ([{x['lo']:.4f}, {x['hi']:.4f}] -> "
                     f"[{y['lo']:.4f}, {y['hi']:.4f}])")
    if d["moves"]:
        fr = sorted(m[0] for m in d["moves"])
        over = sum(1 for f in fr if f >= LIMIT)
        lines.append(f"ends moved (fraction of the old width): median {fr[len(fr) // 2]:.3f}, "
                     f"95th percentile {fr[int(0.95 * (len(fr) - 1))]:.3f}, largest "
                     f"{fr[-1]:.3f}; {over} of {len(fr)} by {LIMIT:.0%} or more; largest:")
        for frac, k, end, x, y in d["moves"][:top]:
            lines.append(f"  {frac:.3f} {_fmt(k)} {end} {x:.5f} -> {y:.5f}")
    if d["floors"]:
        frac, k, x, y = d["floors"][0]
        lines.append(f"noise floors: largest move {frac:.3f} of the floor ({_fmt(k)}: "
                     f"{x:.4f} -> {y:.4f})")
    if d["points"]:
        lines.append(f"{len(d['points'])} point estimates or p-values differ, e.g. "
                     f"{_fmt(d['points'][0][0])} {d['points'][0][1]}")
    if d["missing"]:
        lines.append(f"{len(d['missing'])} comparisons in one analysis only, e.g. "
                     f"{_fmt(d['missing'][0])}")
    return lines


def agrees(d, limit=LIMIT, share=SHARE):
    """True when no verdict, point estimate, p-value or comparison differs,
    and the ends moved as a fresh draw moves them: at most SHARE of them by
    LIMIT of their width or more, the median by less than a quarter of that
    (two draws of 2000 resamples: a median 1.5% where the bootstrap
    distribution is near normal)."""
    fr = sorted(m[0] for m in d["moves"])
    return not d["verdicts"] and not d["points"] and not d["missing"] and \
        (not fr or (sum(1 for f in fr if f >= limit) <= share * len(fr)
                    and fr[len(fr) // 2] < limit / 4))


def _cmp(lo, hi, verdict="~", ratio=1.0, p=0.5):
    return {"ratio": ratio, "lo": lo, "hi": hi, "p": p, "verdict": verdict,
            "significant": verdict != "~"}


def _analysis(cmps, startup=None):
    return {"groups": [{"server": "drop", "mode": "keepalive", "floors": {"rps": 0.02},
                        "rows": [{"variant": v, "cmp": c} for v, c in cmps.items()]}],
            "startup": startup or {}, "startup_floor": {"drop": 0.1}}


class Diff(unittest.TestCase):
    def test_same(self):
        a = _analysis({"drop/x": {"rps": _cmp(0.9, 1.1)}})
        d = diff(a, a)
        self.assertTrue(agrees(d))
        self.assertEqual(d["compared"], 1)
        self.assertEqual(d["moves"][0][0], 0.0)

    def test_moves_and_verdicts(self):
        a = _analysis({"drop/x": {"rps": _cmp(0.9, 1.1)}, "drop/y": {"rps": _cmp(1.01, 1.05)}},
                      {"drop/z": {"cmp": _cmp(1.0, 2.0)}})
        b = _analysis({"drop/x": {"rps": _cmp(0.91, 1.13)},
                       "drop/y": {"rps": _cmp(0.99, 1.05, verdict="~")}},
                      {"drop/z": {"cmp": _cmp(1.0, 2.0)}})
        a["groups"][0]["rows"][1]["cmp"]["rps"].update(verdict="worse", significant=True)
        d = diff(a, b)
        self.assertEqual(d["compared"], 3)
        self.assertEqual([v[0][2] for v in d["verdicts"]], ["drop/y"])
        frac, k, end, _, _ = d["moves"][0]
        self.assertAlmostEqual(frac, 0.5)      # 0.02 of a width of 0.04
        self.assertEqual((k[2], end), ("drop/y", "lo"))
        self.assertAlmostEqual(d["moves"][1][0], 0.15)   # 0.03 of 0.2
        self.assertFalse(agrees(d))
        self.assertTrue(any("VERDICT" in line for line in summary(d)))

    def test_points_and_missing(self):
        a = _analysis({"drop/x": {"rps": _cmp(0.9, 1.1)}})
        b = _analysis({"drop/x": {"rps": _cmp(0.9, 1.1, ratio=1.01)},
                       "drop/y": {"rps": _cmp(0.9, 1.1)}})
        d = diff(a, b)
        self.assertEqual(len(d["points"]), 1)
        self.assertEqual(len(d["missing"]), 1)
        self.assertFalse(agrees(d))


class Published(unittest.TestCase):
    """A published set analysed with this checkout against the analysis
    published beside it: the same verdicts, every end within LIMIT of its
    width (a Monte Carlo move), the same point estimates and p-values."""

    def check(self, name):
        from sblib.analysis import results as rs
        src = os.path.join(TOP, "results", "published", name)
        with open(os.path.join(src, "analysis.json"), encoding="utf-8") as f:
            old = json.load(f)
        d = tempfile.mkdtemp(prefix="sb-reanalyse-")
        try:
            # a copy without its analysis.json, so nothing can reuse it
            for fn in ("spec.json", "env.json", "variants.json", "status.json",
                       "runs.jsonl.gz", "runs.jsonl"):
                if os.path.exists(os.path.join(src, fn)):
                    shutil.copy(os.path.join(src, fn), d)
            res = rs.load(d)
            a, how = rs.analysed(res)
            self.assertEqual(how, "analysed")
            self.assertEqual(a["inputs"], old["inputs"])
            new = json.loads(json.dumps({"groups": a["groups"], "startup": a["startup"],
                                         "startup_floor": a["startup_floor"]}, default=str))
        finally:
            shutil.rmtree(d)
        r = diff(old, new)
        self.assertTrue(agrees(r), "\n".join(summary(r)))

    def test_duet(self):
        self.check("debian12-2core-vm-2026-12-duet")

    @unittest.skipUnless(os.environ.get("SANDBENCH_SLOW_TESTS"), "SANDBENCH_SLOW_TESTS=1")
    def test_full(self):
        self.check("debian12-2core-vm-2026-11-full")


def main(argv):
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        old = json.load(f)
    with open(argv[1], encoding="utf-8") as f:
        new = json.load(f)
    d = diff(old, new)
    print("\n".join(summary(d)))
    return 0 if agrees(d) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
