"""Crafted results directories of known answer, in the format of results/README.md.

make_results(dir, costs=..., ...) writes spec.json, env.json, status.json,
variants.json, runs.jsonl and summary.json as `sandbench run` does, with
slices interleaved in rounds over a machine whose speed drifts, so every
test knows exactly what the right answer is.
"""
import io
import json
import os
import random
from contextlib import redirect_stderr, redirect_stdout

DEFAULT_COSTS = {
    # directive: (cpu multiplier, exposure, status)
    "private-tmp-yes": (1.00, 9.2, "ok"),
    "protect-system-strict": (1.10, 8.8, "ok"),
    "system-call-filter": (1.04, 8.2, "ok"),
    "private-network-yes": (1.00, 9.6, "incompatible"),
    "memory-deny-write-execute": (1.00, 9.6, "hang"),
}


def make_results(path, servers=("drop",), modes=("keepalive",), rounds=8, seed=1,
                 costs=None, base_cpu=40000.0, noise=0.01, drift=0.25, base_exposure=9.6,
                 exposure_override=None):
    """Write a results directory. costs: {directive: (cpu_mult, exposure, status)};
    noise: the slices' relative spread, or a list of one per round (a machine
    busy in some rounds)."""
    from sblib.records import schema
    from sblib.records.model import VariantId
    costs = DEFAULT_COSTS if costs is None else costs
    exposure_override = exposure_override or {}
    rng = random.Random(seed)
    os.makedirs(path, exist_ok=True)
    variants = []
    for s in servers:
        variants.append({"id": f"{s}/baseline", "server": s, "directives": [], "role": "baseline"})
        variants.append({"id": f"{s}/baseline-aa", "server": s, "directives": [], "role": "aa"})
        for d in costs:
            variants.append({"id": f"{s}/{d}", "server": s, "directives": [d], "role": "variant"})
    mult = {v["id"]: 1.0 for v in variants}
    status = {v["id"]: "ok" for v in variants}
    expo = {v["id"]: base_exposure for v in variants}
    for v in variants:
        if v["directives"]:
            c = costs[v["directives"][0]]
            mult[v["id"]], expo[v["id"]], status[v["id"]] = c
    expo.update(exposure_override)
    live = [v["id"] for v in variants if status[v["id"]] == "ok"]
    order = []
    runs = []
    slice_no = 0
    for rnd in range(rounds):
        speed = 1.0 + drift * rng.uniform(-1, 1)
        for mode in modes:
            batch = list(live)
            rng.shuffle(batch)
            for vid in batch:
                order.append(f"{vid}|{mode}|{rnd}")
                sd = noise[rnd % len(noise)] if isinstance(noise, (list, tuple)) else noise
                cpu = base_cpu * mult[vid] * speed * rng.gauss(1.0, sd)
                if mode == "close":
                    cpu *= 3
                rps = 1e9 / cpu * 0.8
                p50 = 1e6 / rps * 16
                runs.append({
                    "slice": slice_no, "round": rnd, "variant": vid,
                    "server": VariantId.parse(vid).server, "mode": mode, "rep": rnd, "status": "ok",
                    "start": 1795000000.0 + slice_no * 2.0, "duration_s": 2.0,
                    "requests": int(rps * 2), "rps": rps, "errors": 0,
                    "cpu_usec": int(cpu * rps * 2 / 1000), "cpu_ns_per_req": cpu,
                    "latency_us": {"p50": p50, "p90": p50 * 1.4, "p99": p50 * 2.2,
                                   "p99.9": p50 * 3.5, "p99.99": p50 * 5, "max": p50 * 8},
                })
                slice_no += 1
    vjson = {}
    for v in variants:
        vid = v["id"]
        st = status[vid]
        ev = {"uid": 0, "no_new_privs": 0, "seccomp": 0, "seccomp_filters": 0,
              "mnt_ns_differs": bool(v["directives"])}
        vjson[vid] = {
            "server": v["server"], "directives": v["directives"], "role": v["role"],
            "unit": f"lunchd-{v['server']}-{len(vjson)}.service", "status": st,
            "reason": {"incompatible": "lunchd-drop: bind(443): Permission denied",
                       "hang": "start-up timed out after 10 s: no answer on :443"}.get(st),
            "startup_ms": 40.0 * (1.2 if "protect-system-strict" in v["directives"] else 1.0)
            if st == "ok" else None,
            "memory_bytes": 5234688, "exposure": expo[vid],
            "exposure_checks": [{"name": "PrivateTmp=", "exposure": 0.0, "ok": True}],
            "evidence": ev,
            "applied": {d: st == "ok" for d in v["directives"]},
        }
    spec = {"schema": schema.tag("spec"), "created": "2026-11-22T21:30:00Z",
            "commit": "abc1234", "argv": ["run", "--profile", "quick"], "seed": seed,
            "servers": list(servers), "profile": "quick", "directives": list(costs),
            "combine": False, "modes": list(modes), "reps": rounds, "duration": 2.0,
            "warmup": 1.0,
            "loadgen": {"connections": 16, "threads": 1, "rate": None, "path": "/"},
            "variants": variants, "order": order}
    env = {"kernel": "6.1.0-test", "systemd": "252", "openssl": "OpenSSL 3.0.15",
           "liburing": "2.3", "nginx": "1.22.1", "cpu_model": "Test CPU", "cores": 2,
           "governor": None, "host": "nspawn", "bpf_enforced": True}
    files = {"spec.json": spec, "env.json": env, "variants.json": vjson,
             "status.json": {"state": "complete", "runs_done": len(runs),
                             "runs_planned": len(runs), "updated": "2026-11-22T21:40:00Z"}}
    return write_set(path, files, runs)


def write_set(path, files, runs):
    """Writes FILES ({name: JSON object}) and RUNS (runs.jsonl) into PATH."""
    for name, obj in files.items():
        with open(os.path.join(path, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1)
    with open(os.path.join(path, "runs.jsonl"), "w", encoding="utf-8") as f:
        for r in runs:
            f.write(json.dumps(r) + "\n")
    return path


def run_main(main, argv):
    """Runs a sandbench command's main(ARGV) with its output captured:
    (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def make_duet_results(path, costs, windows=12, epochs=3, seed=1, base_cpu=20000.0,
                      noise=0.005, drift=0.25, place=0.0, isolated_rounds=2, aa_copies=1,
                      sender=None, base_sender=8000.0, modes=("keepalive",), expect=None,
                      wake=None):
    """A results directory as `sandbench run --method duet` writes it: per
    window the baseline and one variant measured together (the machine's
    speed that window, drifting by DRIFT, common to both; each side its own
    NOISE), records made by sblib.records.windows from crafted loadgen JSON, and
    ISOLATED_ROUNDS of isolated slices. COSTS: {directive: cpu multiplier}.
    PLACE: the sd of what an instance's start (an epoch) costs it.
    AA_COPIES: how many A/A controls (role "aa" for the first). SENDER:
    None (one loadgen ring for both, no "loadgen_cpu" per target) or
    {directive: multiplier of the loadgen thread's CPU per request,
    BASE_SENDER ns for the baseline}, with the same speed and noise.
    MODES: the modes of the windows; a cost may be {mode: multiplier};
    mode rate's records carry a fixed load of 8,000 req/s. EXPECT: spec.json
    "expect". WAKE: None (loadgen counted no wake-ups) or {"c": ns a wake-up,
    "w": {mode: the baseline's wake-ups per request}, "dw": {directive: {mode:
    its wake-ups per request minus the baseline's}}}: each side's loadgen
    target carries its wake-ups, and its CPU per request c times them more."""
    from sblib.records import schema
    from sblib.records import windows as win
    rng = random.Random(seed)
    os.makedirs(path, exist_ok=True)
    s = "drop"
    variants = [{"id": f"{s}/baseline", "server": s, "name": "baseline", "directives": [],
                 "role": "baseline"}]
    for k in range(aa_copies):
        name = "baseline-aa" if k == 0 else f"baseline-aa{k + 1}"
        variants.append({"id": f"{s}/{name}", "server": s, "name": name, "directives": [],
                         "role": "aa" if k == 0 else "variant"})
    for d in costs:
        variants.append({"id": f"{s}/{d}", "server": s, "name": d, "directives": [d],
                         "role": "variant"})
    def mult_of(vid, mode):
        m = costs.get(vid.split("/")[1], 1.0)
        return m.get(mode, 1.0) if isinstance(m, dict) else m
    ids = [v["id"] for v in variants]
    runs = []
    n = 0
    for e in range(epochs):
        offset = {vid: rng.gauss(0.0, place) for vid in ids}
        rounds = range(e * windows // epochs, (e + 1) * windows // epochs)
        for rnd, mode, vid, base_first in win.plan(ids, ids[0], list(modes), rounds, seed,
                                                   f"{s}/{e}"):
            pair = [ids[0], vid] if base_first else [vid, ids[0]]
            speed = 1.0 + drift * rng.uniform(-1, 1)
            targets = []
            for v in pair:
                reqs = 5000
                w = None
                if wake is not None:
                    w = wake["w"][mode] + \
                        (wake.get("dw", {}).get(v.split("/")[1]) or {}).get(mode, 0.0)
                cpu = (base_cpu * mult_of(v, mode) + (wake["c"] * w if w is not None else 0)) \
                    * (1 + offset[v]) * speed * rng.gauss(1.0, noise)
                targets.append({"requests": reqs, "rps": reqs / 0.3, "duration_s": 0.3,
                                "errors": {"total": 0}, "latency_us": {"p99": 500.0},
                                "server_cpu": {"usec": int(cpu * reqs / 1000),
                                               "cgroups": [{"path": f"/cg/{v}",
                                                            "usec": int(cpu * reqs / 1000)}]},
                                "loadgen_cpu": None})
                if w is not None:
                    vol = int(round(w * reqs))
                    targets[-1]["server_wakeups"] = {"voluntary": vol, "nonvoluntary": 7}
                    targets[-1]["server_cpu"]["cgroups"][0].update(voluntary=vol,
                                                                   nonvoluntary=7)
                if sender is not None:
                    lg = base_sender * sender.get(v.split("/")[1], 1.0) * speed * \
                        rng.gauss(1.0, noise)
                    targets[-1]["loadgen_cpu"] = {"usec": int(lg * reqs / 1000),
                                                  "ns_per_request": round(lg, 1)}
            meta = {"slice": len(runs), "round": f"w{n}", "rep": rnd, "window": n,
                    "mode": mode, "start": 1795000000.0 + n, "duration_s": 0.3,
                    "warmup_s": 0.1, "epoch": e}
            if mode == win.FIXED:
                meta["fixed_load"] = {"rate_per_target": 8000, "window_s": 1.25}
            recs = win.records({"targets": targets},
                               [(v, s, {f"/cg/{v}"}) for v in pair], meta)
            for r, v in zip(recs, pair):
                r["position"] = ids.index(v)
            runs += recs
            n += 1
    for rnd in range(isolated_rounds):
        for vid in ids:
            cpu = base_cpu * mult_of(vid, "keepalive") * rng.gauss(1.0, 0.1)
            runs.append({"slice": len(runs), "round": rnd, "rep": rnd, "variant": vid,
                         "server": s, "mode": "keepalive", "phase": "isolated", "status": "ok",
                         "start": 1795100000.0 + len(runs), "duration_s": 0.6,
                         "requests": 30000, "rps": 1e9 / cpu * 0.8, "errors": 0,
                         "cpu_usec": int(cpu * 30), "cpu_ns_per_req": cpu,
                         "latency_us": {"p50": 200.0, "p99": 500.0, "p99.9": 900.0},
                         "epoch": min(epochs - 1, rnd)})
    vjson = {v["id"]: {"server": s, "directives": v["directives"], "role": v["role"],
                       "status": "ok", "startup_ms": 40.0, "exposure": 9.6, "evidence": {},
                       "applied": {d: True for d in v["directives"]}} for v in variants}
    spec = {"schema": schema.tag("spec"), "created": "2026-12-02T05:00:00Z",
            "argv": ["run", "--servers", s], "seed": seed, "servers": [s],
            "directives": list(costs), "modes": list(modes), "reps": 6, "epochs": epochs,
            "method": "duet",
            "duet": {"rounds": windows, "window_s": 0.3, "isolated_reps": isolated_rounds,
                     "servers": [s], "by_server": {s: {"modes": list(modes),
                                                       "warmup_s": 0.1,
                                                       "connections_per_target": 8}},
                     "metrics": list(win.METRICS)},
            "duration": 0.6, "warmup": 0.3, "loadgen": {"connections": 16},
            "variants": variants, "order": [], **({"expect": expect} if expect else {})}
    files = {"spec.json": spec, "env.json": {"kernel": "6.1.0-test"}, "variants.json": vjson,
             "status.json": {"state": "complete", "runs_done": len(runs),
                             "runs_planned": len(runs)}}
    return write_set(path, files, runs)
