"""A run's start-up times (variants.json, or per slice): each variant
against its server's baseline, epoch by epoch where it can be, a change
called only beyond the A/A control's interval (results/README.md)."""
from sblib.analysis import stats as st
from sblib.analysis.slices import epochs, memo_of, metric_value


def startup_samples(res, variant):
    """Start-up times of a variant: per-slice values if recorded, else variants.json."""
    memo = memo_of(res, "startup_ms")
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
