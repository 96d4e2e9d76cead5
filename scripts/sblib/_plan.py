"""Pure logic of `sandbench run`: the variant list, the seeded slice order,
unit-file renaming and port filling for side-by-side instances, and the
summary statistics. No I/O, so tests/py/test_runner*.py can check it all.
"""
import math
import random
import re
import statistics

MODES = ("keepalive", "close", "resume", "rate")

PORT_BASE = 20100          # public (TLS) port of instance i: PORT_BASE + i
BACKEND_PORT_BASE = 20600  # backend port of instance i (proxied)


def variants_for(servers, directives, combines, combine_all):
    """The variant list: per server a baseline, an A/A baseline, one variant
    per directive (or, with COMBINE_ALL, one 'combined' variant holding all
    of them) and one per (label, directives) in COMBINES."""
    out = []
    for s in servers:
        out.append({"id": f"{s}/baseline", "server": s, "name": "baseline", "directives": [],
                    "role": "baseline"})
        out.append({"id": f"{s}/baseline-aa", "server": s, "name": "baseline-aa",
                    "directives": [], "role": "aa"})
        if combine_all and directives:
            out.append({"id": f"{s}/combined", "server": s, "name": "combined",
                        "directives": list(directives), "role": "variant"})
        else:
            for d in directives:
                out.append({"id": f"{s}/{d}", "server": s, "name": d, "directives": [d],
                            "role": "variant"})
        for label, ds in combines:
            vid = f"{s}/{label}"
            if any(v["id"] == vid for v in out):
                vid = f"{s}/{label}-combined"
            out.append({"id": vid, "server": s, "name": vid.split("/", 1)[1],
                        "directives": list(ds), "role": "variant"})
    return out


def slice_order(variant_ids, modes, reps, seed):
    """[(variant, mode, round)]: REPS rounds, each holding every (variant,
    mode) once in an order shuffled by a random.Random(SEED) — blocked
    randomization, so drift cancels and every round pairs every variant with
    its baseline. Same seed, same order."""
    rng = random.Random(seed)
    order = []
    cells = [(v, m) for v in variant_ids for m in modes]
    for r in range(reps):
        block = list(cells)
        rng.shuffle(block)
        order += [(v, m, r) for v, m in block]
    return order


def slice_key(variant, mode, rnd):
    return f"{variant}|{mode}|{rnd}"


# --- side-by-side instances ------------------------------------------------------

def unit_stem(name):
    """'lunchd-drop.service' -> ('lunchd-drop', '.service', False);
    'x@.service' -> ('x', '.service', True)."""
    base, dot, suffix = name.rpartition(".")
    if base.endswith("@"):
        return base[:-1], "." + suffix, True
    return base, "." + suffix, False


def instance_name(name, tag):
    """Unit NAME renamed for instance TAG: lunchd-drop.service ->
    lunchd-drop-TAG.service, x@.service -> x-TAG@.service."""
    stem, suffix, templ = unit_stem(name)
    return f"{stem}-{tag}{'@' if templ else ''}{suffix}"


def rename_refs(text, names, tag):
    """Rewrites references to any unit in NAMES inside TEXT to the instance's
    names (Requires=lunchd-backend.socket, Service=..., x@%i.service)."""
    stems = sorted({unit_stem(n)[0] for n in names}, key=len, reverse=True)
    for stem in stems:
        text = re.sub(r"(?<![\w.-])" + re.escape(stem) + r"(?=@|\.(?:service|socket|slice)\b)",
                      f"{stem}-{tag}", text)
    return text


_PORT_LINE = re.compile(r"^(\s*(?:ListenStream|ExecStart|ExecStartPre|Environment)\s*=.*)$", re.M)


def fill_ports(text, port, backend_port, default_port=443, default_backend=None):
    """Sets an instance's ports: @PORT@ / @BACKEND_PORT@ placeholders, and
    where a unit hard-codes its port, DEFAULT_PORT (and DEFAULT_BACKEND) in
    ListenStream=/ExecStart= lines and nginx `listen`/`server` lines."""
    text = text.replace("@PORT@", str(port)).replace("@BACKEND_PORT@", str(backend_port))

    def sub(line, old, new):
        return re.sub(r"(?<![0-9.])" + str(old) + r"(?![0-9])", str(new), line)

    def fix(m):
        line = m.group(1)
        line = sub(line, default_port, port)
        if default_backend:
            line = sub(line, default_backend, backend_port)
        return line
    text = _PORT_LINE.sub(fix, text)
    return text


# --- statistics --------------------------------------------------------------------

def median(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def _metric(r, k):
    if k in ("rps", "cpu_ns_per_req"):
        return r.get(k)
    return (r.get("latency_us") or {}).get(k)


SUMMARY_METRICS = ("rps", "cpu_ns_per_req", "p50", "p99", "p99.9")


def summarize(runs, variants, startup=None):
    """Per variant x mode: n, medians of SUMMARY_METRICS, errors, the ratio
    of each median to the same server's baseline median, and the paired
    CPU/request ratio (median over rounds of variant/baseline in the same
    round: both sides of each ratio saw the same stretch of machine time)
    with its min and max. VARIANTS: the spec's variant list (order kept);
    STARTUP: {variant id: ms}. Returns a list of row dicts."""
    startup = startup or {}
    by = {}
    for r in runs:
        if r.get("status", "ok") != "ok":
            continue
        by.setdefault((r["variant"], r["mode"]), []).append(r)
    modes = []
    for r in runs:
        if r["mode"] not in modes:
            modes.append(r["mode"])
    rows = []
    for v in variants:
        base_id = f"{v['server']}/baseline"
        for m in modes:
            rs = by.get((v["id"], m), [])
            row = {"variant": v["id"], "server": v["server"], "name": v.get("name"),
                   "role": v.get("role"), "mode": m, "n": len(rs),
                   "errors": sum(int(r.get("errors") or 0) for r in rs),
                   "startup_ms": startup.get(v["id"])}
            base = by.get((base_id, m), [])
            for k in SUMMARY_METRICS:
                row[k] = median([_metric(r, k) for r in rs])
                row[k + "_ratio"] = ratio(row[k], median([_metric(r, k) for r in base]))
            row["startup_ms_ratio"] = ratio(row["startup_ms"], startup.get(base_id))
            b_round = {r.get("round"): r.get("cpu_ns_per_req") for r in base}
            pr = [ratio(r.get("cpu_ns_per_req"), b_round.get(r.get("round"))) for r in rs]
            pr = [x for x in pr if x is not None]
            row["cpu_paired_ratio"] = median(pr)
            row["cpu_paired_min"] = min(pr) if pr else None
            row["cpu_paired_max"] = max(pr) if pr else None
            rows.append(row)
    return rows


def aa_spread(rows):
    """Per server x mode, the A/A control: the paired CPU/request ratio of the
    second baseline against the first (1.0 = no difference), its min/max over
    rounds, and the req/s median ratio."""
    out = []
    for r in rows:
        if r.get("role") == "aa":
            out.append({"server": r["server"], "mode": r["mode"],
                        "cpu_ratio": r["cpu_paired_ratio"], "cpu_min": r["cpu_paired_min"],
                        "cpu_max": r["cpu_paired_max"], "rps_ratio": r["rps_ratio"]})
    return out


def fmt(x, nd=0, pct=False):
    if x is None:
        return "-"
    if pct:
        return f"{(x - 1) * 100:+.1f}%"
    return f"{x:,.{nd}f}"


def table(rows, status=None):
    """The summary table as text lines."""
    status = status or {}
    head = (f"{'variant':<46} {'mode':<9} {'n':>2} {'req/s':>9} {'ratio':>7} "
            f"{'CPU ns/req':>10} {'ratio':>7} {'paired':>7} {'p99 us':>8} {'ratio':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        st = status.get(r["variant"], "ok")
        if st != "ok" and r["n"] == 0:
            lines.append(f"{r['variant']:<46} {r['mode']:<9}  {st.upper()}")
            continue
        lines.append(
            f"{r['variant']:<46} {r['mode']:<9} {r['n']:>2} {fmt(r['rps']):>9} "
            f"{fmt(r['rps_ratio'], pct=True):>7} {fmt(r['cpu_ns_per_req']):>10} "
            f"{fmt(r['cpu_ns_per_req_ratio'], pct=True):>7} {fmt(r['cpu_paired_ratio'], pct=True):>7} "
            f"{fmt(r['p99']):>8} {fmt(r['p99_ratio'], pct=True):>7}")
    return lines
