"""The matrix of an upgrade over more than two releases (`run --upgrade
A,B,C`, sblib.measuring.upgrade): directive x release over the chain,
from its consecutive steps A->B, B->C, each an upgrade run of its own
(DIR/A-B, DIR/B-C: two halves and the step's matrix, analysis/upgrade).

Per (server, mode) and directive:
  - its cost in every release (variant over that release's baseline, per
    window), the windows of every step that measured the release pooled:
    a release in the middle of the chain was loaded beside the one before
    it and beside the one after it, and both are the same ratio of the
    same two instances' CPU per request; resampled over whole (step,
    epoch) clusters then windows;
  - its change across each step (that step's paired change, as the step's
    own matrix has it: both costs seen at one speed of the machine), with
    the step's A/A change floor and verdict;
  - the baseline's own change across each step: the whole stack's.
No change is given from the first release to the last: those two were
never loaded side by side (multiplying the steps' changes would add their
noises; a run --upgrade FIRST,LAST measures it). A directive changes
beyond the noise when any step's change does; those come first, largest
first.
"""
import json
import math
import os

from sblib.analysis import stats as st
from sblib.analysis import upgrade as an
from sblib.records import schema, store
from sblib.records.model import ResultsError
from sblib.util import write_atomic

FILE = "chain.json"
METRIC = an.METRIC


def step_name(pair):
    """"bullseye->bookworm": a step's key in the matrix."""
    return f"{pair[0]}->{pair[1]}"


def step_dir(pair):
    """The directory of step PAIR inside a chain run's: "bullseye-bookworm"."""
    return f"{pair[0]}-{pair[1]}"


def release_costs(per_step, chain, vid, seed, resamples):
    """{release: compare()} of variant VID's cost in each release of CHAIN
    from PER_STEP [(pair, aligned group or None)], each release's windows
    of every step pooled (clusters: step and epoch)."""
    out = {}
    for rel in chain:
        base, new, cl = [], [], []
        for k, (pair, g) in enumerate(per_step):
            if rel not in pair or not g or vid not in g:
                continue
            side = pair.index(rel)
            for row, ep in zip(g[vid]["rows"], g[vid]["epochs"]):
                base.append(row[2 * side])
                new.append(row[2 * side + 1])
                cl.append(f"{k}/{ep}")
        out[rel] = an.paired(base, new, cl, st.derive_seed(seed, vid, rel), resamples) \
            if base else None
    return out


def group(server, mode, chain, per_step, step_groups, base_id, aa_ids, seed,
          resamples=st.RESAMPLES):
    """One (server, mode) of the chain's matrix. PER_STEP: [(pair, the
    aligned windows of this group in that step, or None)]; STEP_GROUPS:
    [the step matrix's group of this (server, mode), or None]."""
    vids = sorted({v for _, g in per_step if g for v in g if v not in ("base", "epochs")})
    steps = [step_name(p) for p, _ in per_step]
    floors = {"cost": {}, "change": {}}
    rows = []
    for vid in vids:
        costs = release_costs(per_step, chain, vid, seed, resamples)
        changes = {}
        for name, sg in zip(steps, step_groups):
            r = next((x for x in (sg or {}).get("rows") or [] if x["variant"] == vid), None)
            if r:
                changes[name] = {**r["change"], "verdict": r["verdict"],
                                 "beyond_noise": r["beyond_noise"]}
        rows.append({"variant": vid, "directives": vid.split("/", 1)[1], "aa": vid in aa_ids,
                     "cost": costs, "change": changes})
    for r in rows:
        if r["aa"]:
            floors["cost"] = {rel: st.noise_floor(c) for rel, c in r["cost"].items()}
    for name, sg in zip(steps, step_groups):
        floors["change"][name] = ((sg or {}).get("floors") or {}).get("change")
    for r in rows:
        r["cost_verdict"] = {rel: st.verdict(METRIC, c, floor=floors["cost"].get(rel))
                             if c else None for rel, c in r["cost"].items()}
        r["beyond_noise"] = [n for n, c in r["change"].items() if c.get("beyond_noise")] \
            if not r["aa"] else []
    rows.sort(key=lambda r: (r["aa"], not r["beyond_noise"], -_largest(r), r["variant"]))
    baselines = []
    for name, sg in zip(steps, step_groups):
        b = (sg or {}).get("baseline")
        baselines.append({"step": name, "windows": (sg or {}).get("windows", 0),
                          "change": b, "verdict": st.verdict(METRIC, b) if b else None})
    return {"server": server, "mode": mode, "base_id": base_id, "baselines": baselines,
            "floors": floors, "rows": rows}


def _largest(row):
    """The largest |log change| of ROW's steps (0 without one)."""
    xs = [abs(math.log(c["ratio"])) for c in row["change"].values()
          if isinstance(c.get("ratio"), (int, float)) and c["ratio"] > 0]
    return max(xs, default=0.0)


def matrix(chain, steps, resamples=st.RESAMPLES):
    """The chain's matrix from STEPS [(pair, halves or None, step matrix or
    None)] in chain order (halves: store.load of the step's two halves;
    None for a step that did not run)."""
    spec = next((h[0]["spec"] for _, h, _ in steps if h), {})
    base_ids = {v["server"]: v["id"] for v in spec.get("variants") or []
                if v.get("role") == "baseline"}
    aa_ids = {v["id"] for v in spec.get("variants") or [] if v.get("role") == "aa"}
    al = [an.aligned(h[0]["runs"], h[1]["runs"], base_ids) if h else {} for _, h, _ in steps]
    keys = sorted({k for a in al for k in a})
    groups = []
    for s, m in keys:
        per_step = [(pair, a.get((s, m))) for (pair, _, _), a in zip(steps, al)]
        sgs = [next((g for g in (sm or {}).get("groups") or []
                     if (g["server"], g["mode"]) == (s, m)), None) for _, _, sm in steps]
        g = group(s, m, chain, per_step, sgs, base_ids.get(s), aa_ids, spec.get("seed", 0),
                  resamples)
        g["unmeasured"] = unmeasured(chain, steps, s)
        groups.append(g)
    stack, status = {}, {}
    for pair, h, _ in steps:
        status[step_name(pair)] = {rel: (x["status"] or {}).get("state") for rel, x in
                                   zip(pair, h)} if h else "not run"
        for rel, x in zip(pair, h or ()):
            stack.setdefault(rel, {k: x["env"].get(k) for k in (
                "release", "systemd_package", "libssl_package", "glibc_package",
                "kernel_release")})
    return {"schema": schema.tag("upgrade-chain"), "releases": list(chain),
            "steps": [{"from": p[0], "to": p[1], "name": step_name(p), "dir": step_dir(p)}
                      for p, _, _ in steps],
            "seed": spec.get("seed"), "stack": stack, "note": an.note(spec),
            "unit": spec.get("unit"),
            "status": status, "groups": groups}


def unmeasured(chain, steps, server):
    """[{"variant", RELEASE: "status: reason"}] of SERVER's variants that
    did not run in some release of the chain (the first step that tried it
    says why)."""
    seen = {}
    for pair, h, _ in steps:
        for rel, x in zip(pair, h or ()):
            for vid, rec in x["variants"].items():
                if vid.split("/", 1)[0] == server:
                    seen.setdefault(vid, {}).setdefault(rel, rec)
    return an.unmeasured_rows(seen, chain)


def load_steps(out, chain):
    """[(pair, halves or None, step matrix or None)] of the chain run in OUT."""
    steps = []
    for pair in zip(chain, chain[1:]):
        d = os.path.join(out, step_dir(pair))
        try:
            halves = an.load_halves(d, pair)
        except ResultsError:
            halves = None
        steps.append((pair, halves, an.read(d) if halves else None))
    return steps


def write(out, chain, resamples=st.RESAMPLES):
    """chain.json and summary.json of the chain run in OUT (its steps'
    matrices written already, analysis/upgrade.write); the matrix."""
    m = matrix(chain, load_steps(out, chain), resamples)
    write_atomic(os.path.join(out, FILE), _json(m))
    write_atomic(os.path.join(out, "summary.json"),
                 _json({"schema": schema.tag("summary"), "rows": summary_rows(m),
                        "upgrade": {"releases": m["releases"], "file": FILE}}))
    return m


def read(path):
    """The matrix of chain run directory PATH (its chain.json), or None."""
    m, _ = store.read_tagged(os.path.join(path, FILE), "upgrade-chain")
    return m


def summary_rows(m):
    """summary.json rows of chain matrix M (a run summary's columns, as
    analysis/upgrade.summary_rows): per (server, mode) each step's
    baseline change ("FROM->TO"), per variant its cost in each release
    and its change across each step."""
    out = []
    for g in m.get("groups") or []:
        key = {"server": g["server"], "mode": g["mode"]}
        for b in g["baselines"]:
            if b["change"]:
                out.append({"variant": g["base_id"], **key, "release": b["step"],
                            "role": "baseline", "n": b["change"]["n_base"],
                            **an._change_cols(b["change"], b["verdict"])})
        for r in g["rows"]:
            role = "aa" if r["aa"] else "variant"
            for rel, c in r["cost"].items():
                if c:
                    out.append({"variant": r["variant"], **key, "release": rel, "role": role,
                                "n": c["n_base"], METRIC: c["new"],
                                **an._change_cols(c, r["cost_verdict"][rel])})
            for name, c in r["change"].items():
                out.append({"variant": r["variant"], **key, "release": name, "role": role,
                            "n": c["n_base"], **an._change_cols(c, c["verdict"])})
    return out


def _json(obj):
    return json.dumps(obj, indent=1, default=str) + "\n"


def lines(m):
    """The text `run --upgrade A,B,C` prints: per server and mode the
    floors, each step's baseline change and the matrix (a cost column per
    release, a change column per step), the changes beyond the noise first."""
    if not m:
        return []
    rels, steps = m["releases"], [s["name"] for s in m["steps"]]
    out = [""]
    for g in m["groups"]:
        fl = g["floors"]
        out.append(f"{g['server']} {g['mode']}: {' -> '.join(rels)}; A/A floors of cost "
                   + ", ".join(f"{r} {an.floor_text(fl['cost'].get(r))}" for r in rels)
                   + "; of a change " + ", ".join(f"{s} {an.floor_text(fl['change'].get(s))}"
                                                  for s in steps))
        for b in g["baselines"]:
            c = b["change"]
            out.append(f"  baseline {b['step']}: " + (
                f"{c['base']:.0f} -> {c['new']:.0f} ns/req, {an.fmt(c)} over {b['windows']} "
                f"windows (the whole stack's change: {an.stack_parts(m)})" if c
                else "not measured"))
        out.append(f"  {'directive':<36} " + " ".join(f"{r + ' cost':>24}" for r in rels)
                   + " " + " ".join(f"{s:>26}" for s in steps))
        for r in g["rows"]:
            mark = "*" if r["beyond_noise"] else " "
            out.append(f"{mark} {r['directives'] + (' (A/A)' if r['aa'] else ''):<36} "
                       + " ".join(f"{an.fmt(r['cost'].get(x)):>24}" for x in rels) + " "
                       + " ".join(f"{an.fmt(r['change'].get(s)):>26}" for s in steps))
        for u in g.get("unmeasured") or []:
            out.append(f"  {u['directives']}: not measured in every release: " + "; ".join(
                f"{rel} {str(u.get(rel))[:120]}" for rel in rels))
    out.append("(* a change in cost beyond the noise in a step: significant and above that "
               "step's A/A change floor; no change is given from the first release to the "
               "last, which were never loaded side by side)")
    return out
