"""The matrix of an upgrade run (`run --upgrade FROM,TO`,
sblib.measuring.upgrade): directive x release, from windows in which four
instances were loaded at the same moment, FROM's baseline and variant and
TO's baseline and variant.

Every figure is paired by window and resampled as the duet windows are
(stats.compare: ratio of interquartile means, percentile bootstrap over
whole epochs then windows, the sign-flip test on log ratios):
  - the directive's cost in FROM and in TO: variant over its own
    release's baseline;
  - its change across the upgrade: per window TO's cost over FROM's cost
    (a ratio of per-window ratios, both measured at one speed of the
    machine), > 1 when the directive costs more after the upgrade;
  - the baseline's own change: TO's baseline over FROM's, the whole
    stack's (systemd, glibc, OpenSSL, the servers built against them);
  - the A/A floors: the A/A copy's cost in each release, and its change
    (what a change of nothing reads).
A change beyond the noise is significant and larger than the A/A copy's
change floor; those come first.
"""
import json
import math
import os

from sblib import catalogue as cat
from sblib.analysis import stats as st
from sblib.records import schema, store
from sblib.records.model import ResultsError
from sblib.util import write_atomic

METRIC = "cpu_ns_per_req"
METHOD = "upgrade windows"      # summary rows: four instances a window
FILE = "upgrade.json"


def window_sets(runs):
    """{(server, mode): {window: {variant: record}}} of one half's good
    window records."""
    out = {}
    for r in runs:
        if r.get("status") != "ok" or r.get("window") is None or \
                not isinstance(r.get(METRIC), (int, float)) or r[METRIC] <= 0:
            continue
        out.setdefault((r["server"], r["mode"]), {}).setdefault(r["window"], {})[r["variant"]] = r
    return out


def aligned(runs_from, runs_to, base_ids):
    """{(server, mode): {"base": [(fb, tb)], "epochs": [...], variant:
    {"rows": [(fb, fv, tb, tv)], "epochs": [...]}}}: per window where both
    halves have their baseline and the variant (BASE_IDS: {server:
    baseline id}), the four CPU per request figures."""
    f, t = window_sets(runs_from), window_sets(runs_to)
    out = {}
    for key in sorted(set(f) & set(t)):
        bid = base_ids.get(key[0])
        g = out.setdefault(key, {"base": [], "epochs": []})
        for w in sorted(set(f[key]) & set(t[key])):
            fw, tw = f[key][w], t[key][w]
            if bid not in fw or bid not in tw:
                continue
            for vid in sorted(set(fw) & set(tw) - {bid}):
                v = g.setdefault(vid, {"rows": [], "epochs": []})
                v["rows"].append((fw[bid][METRIC], fw[vid][METRIC],
                                  tw[bid][METRIC], tw[vid][METRIC]))
                v["epochs"].append(fw[vid].get("epoch", 0))
                g["base"].append((fw[bid][METRIC], tw[bid][METRIC]))
                g["epochs"].append(fw[vid].get("epoch", 0))
    return out


def paired(a, b, clusters, seed, resamples):
    """The paired comparison of window figures A and B (resampled by
    CLUSTERS: epochs, or step and epoch, where there is more than one)."""
    c = st.compare(list(a), list(b), seed, paired=True, resamples=resamples,
                   clusters=list(clusters) if len(set(clusters)) > 1 else None)
    return {k: c[k] for k in ("n_base", "n_new", "base", "new", "ratio", "lo", "hi", "p",
                              "significant")}


def variant_row(vid, rows, epochs, seed, resamples):
    """The matrix row of variant VID from its windows ROWS (fb, fv, tb, tv)."""
    fb, fv, tb, tv = zip(*rows)
    cost_f = [v / b for b, v in zip(fb, fv)]
    cost_t = [v / b for b, v in zip(tb, tv)]
    return {"variant": vid, "n": len(rows),
            "from": paired(fb, fv, epochs, st.derive_seed(seed, vid, "from"), resamples),
            "to": paired(tb, tv, epochs, st.derive_seed(seed, vid, "to"), resamples),
            "change": paired(cost_f, cost_t, epochs, st.derive_seed(seed, vid, "change"),
                           resamples)}


def group(server, mode, g, base_id, aa_ids, seed, resamples=st.RESAMPLES):
    """One (server, mode) of the matrix: the baseline's change, the floors
    and every variant's row, the changes beyond the noise first."""
    rows = [variant_row(v, x["rows"], x["epochs"], seed, resamples)
            for v, x in g.items() if v not in ("base", "epochs") and len(x["rows"]) >= 1]
    aa = [r for r in rows if r["variant"] in aa_ids]
    floors = {k: (st.noise_floor(aa[0][k]) if aa else None) for k in ("from", "to", "change")}
    for r in rows:
        r["aa"] = r["variant"] in aa_ids
        r["verdict"] = st.verdict(METRIC, r["change"], floor=floors["change"])
        r["beyond_noise"] = not r["aa"] and r["verdict"] != "~"
        r["directives"] = r["variant"].split("/", 1)[1]
    rows.sort(key=lambda r: (r["aa"], not r["beyond_noise"],
                             -abs(math.log(r["change"]["ratio"])) if r["change"]["ratio"] > 0
                             else 0.0, r["variant"]))
    fb, tb = zip(*g["base"]) if g["base"] else ((), ())
    base = paired(fb, tb, g["epochs"], st.derive_seed(seed, server, mode, "baseline"),
                resamples) if len(fb) else None
    return {"server": server, "mode": mode, "base_id": base_id, "windows": len(fb),
            "baseline": base, "floors": floors, "rows": rows}


SERVERS_PART = "the servers built against them"
UNIT_PART = "the unit's own program as each release packages it"


def stack_parts(m):
    """What a baseline's change across releases holds in matrix M: the
    reference servers are built in each release, a user's unit (--unit)
    runs the program of each release's package (--install)."""
    return "systemd, glibc, OpenSSL, " + (UNIT_PART if m.get("unit") else SERVERS_PART)


def note(spec):
    """catalogue.STACK_NOTE as it holds for the run of SPEC."""
    return cat.STACK_NOTE.replace(SERVERS_PART, UNIT_PART) if spec.get("unit") else \
        cat.STACK_NOTE


def matrix(halves, pair, resamples=st.RESAMPLES):
    """The matrix of an upgrade run from its two HALVES (store.load of
    DIR/FROM and DIR/TO), releases PAIR."""
    spec = halves[0]["spec"]
    base_ids = {v["server"]: v["id"] for v in spec.get("variants") or []
                if v.get("role") == "baseline"}
    aa_ids = {v["id"] for v in spec.get("variants") or [] if v.get("role") == "aa"}
    al = aligned(halves[0]["runs"], halves[1]["runs"], base_ids)
    groups = [group(s, m, g, base_ids.get(s), aa_ids, spec.get("seed", 0), resamples)
              for (s, m), g in al.items()]
    for g in groups:
        g["unmeasured"] = unmeasured(halves, pair, g["server"])
    stack = {rel: {k: h["env"].get(k) for k in ("release", "systemd_package", "libssl_package",
                                                 "glibc_package", "kernel_release")}
             for rel, h in zip(pair, halves)}
    return {"schema": schema.tag("upgrade"), "from": pair[0], "to": pair[1],
            "seed": spec.get("seed"), "stack": stack, "note": note(spec),
            "unit": spec.get("unit"),
            "status": {rel: (h["status"] or {}).get("state") for rel, h in zip(pair, halves)},
            "groups": groups}


def unmeasured(halves, pair, server):
    """[{"variant", RELEASE: "status: reason"}] of SERVER's variants that
    did not run in a release (unknown to its systemd, incompatible, hung,
    died): a directive newer than FROM shows here, never as a free one."""
    seen = {}
    for rel, h in zip(pair, halves):
        for vid, rec in h["variants"].items():
            if vid.split("/", 1)[0] == server:
                seen.setdefault(vid, {})[rel] = rec
    return unmeasured_rows(seen, pair)


def unmeasured_rows(seen, releases):
    """The rows of unmeasured() from SEEN, {variant: {release: its
    variants.json record}}: those not "ok" in every one of RELEASES."""
    out = []
    for vid in sorted(seen):
        recs = [seen[vid].get(rel) or {} for rel in releases]
        if all(r.get("status") == "ok" for r in recs):
            continue
        out.append({"variant": vid, "directives": vid.split("/", 1)[1],
                    **{rel: "ok" if r.get("status") == "ok" else
                       f"{r.get('status') or 'not run'}: {r.get('reason') or ''}"
                       for rel, r in zip(releases, recs)}})
    return out


def load_halves(out, pair):
    return [store.load(os.path.join(out, rel)) for rel in pair]


def write(out, pair, resamples=st.RESAMPLES):
    """upgrade.json and summary.json of the upgrade run in OUT (halves
    OUT/FROM and OUT/TO); the matrix (None when a half cannot be read)."""
    try:
        m = matrix(load_halves(out, pair), pair, resamples)
    except ResultsError as e:
        print(f"sandbench run: cannot analyse {out}: {e}")
        return None
    write_atomic(os.path.join(out, FILE), _json(m))
    write_atomic(os.path.join(out, "summary.json"),
                 _json({"schema": schema.tag("summary"), "rows": summary_rows(m),
                        "upgrade": {"from": m["from"], "to": m["to"], "file": FILE}}))
    return m


def read(path):
    """The matrix of upgrade run directory PATH (its upgrade.json), or None."""
    m, _ = store.read_tagged(os.path.join(path, FILE), "upgrade")
    return m


def summary_rows(m):
    """summary.json rows of matrix M, in a run summary's columns (changes
    as fractions, results/README.md): per (server, mode) the baseline of
    each release (its level) and its change across the upgrade, and per
    variant its cost in each release and its change, the release named
    ("FROM->TO" for a change)."""
    out = []
    across = f"{m['from']}->{m['to']}"
    for g in m.get("groups") or []:
        key = {"server": g["server"], "mode": g["mode"]}
        b = g.get("baseline")
        if b:
            out += [{"variant": g["base_id"], **key, "release": rel, "role": "baseline",
                     "n": b["n_base"], METRIC: lvl}
                    for rel, lvl in ((m["from"], b["base"]), (m["to"], b["new"]))]
            out.append({"variant": g["base_id"], **key, "release": across, "role": "baseline",
                        "n": b["n_base"], **_change_cols(b, st.verdict(METRIC, b))})
        for r in g["rows"]:
            for side, rel in (("from", m["from"]), ("to", m["to"]), ("change", across)):
                c = r[side]
                verdict = r["verdict"] if side == "change" else \
                    st.verdict(METRIC, c, floor=g["floors"][side])
                out.append({"variant": r["variant"], **key, "release": rel,
                            "role": "aa" if r["aa"] else "variant", "n": r["n"],
                            **({METRIC: c["new"]} if side != "change" else {}),
                            **_change_cols(c, verdict)})
    return out


def _change_cols(c, verdict):
    why = st.why_not(c)
    if why:
        return {f"{METRIC}_why": why, f"{METRIC}_method": METHOD}
    return {f"{METRIC}_change": c["ratio"] - 1.0, f"{METRIC}_lo": c["lo"] - 1.0,
            f"{METRIC}_hi": c["hi"] - 1.0, f"{METRIC}_verdict": verdict,
            f"{METRIC}_method": METHOD}


def _json(obj):
    return json.dumps(obj, indent=1, default=str) + "\n"


def fmt(c):
    """'+3.1% [+1.0%, +5.2%]' of comparison C (or '-')."""
    if not c:
        return "-"
    why = st.why_not(c)
    return f"{st.pct(c['ratio'])} ({why})" if why else \
        f"{st.pct(c['ratio'])} {st.interval(c['lo'], c['hi'])}"


def floor_text(x):
    return "-" if x is None else f"±{x * 100:.2f}%"


def lines(m):
    """The text `run --upgrade` prints: per server and mode the floors, the
    baseline's change and the matrix, the changes beyond the noise first."""
    if not m:
        return []
    out = [""]
    for g in m["groups"]:
        fl = g["floors"]
        out.append(f"{g['server']} {g['mode']}: {m['from']} -> {m['to']}, {g['windows']} "
                   f"windows; A/A floors {m['from']} {floor_text(fl['from'])}, {m['to']} "
                   f"{floor_text(fl['to'])}, change {floor_text(fl['change'])}")
        b = g["baseline"]
        if b:
            out.append(f"  baseline {b['base']:.0f} -> {b['new']:.0f} ns/req: {fmt(b)} "
                       f"(the whole stack's change: {stack_parts(m)})")
        out.append(f"  {'directive':<40} {m['from'] + ' cost':>26} {m['to'] + ' cost':>26} "
                   f"{'change':>26}")
        for r in g["rows"]:
            mark = "*" if r["beyond_noise"] else " "
            out.append(f"{mark} {r['directives'] + (' (A/A)' if r['aa'] else ''):<40} "
                       f"{fmt(r['from']):>26} {fmt(r['to']):>26} {fmt(r['change']):>26}")
        for u in g.get("unmeasured") or []:
            out.append(f"  {u['directives']}: not measured in both: " + "; ".join(
                f"{rel} {str(u.get(rel))[:160]}" for rel in (m["from"], m["to"])))
    out.append("(* a change in cost beyond the noise: significant and above the A/A copy's "
               "change floor)")
    return out
