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
                    "server": vid.split("/")[0], "mode": mode, "rep": rnd, "status": "ok",
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
    spec = {"schema": "sandbench-spec/1", "created": "2026-11-22T21:30:00Z",
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
