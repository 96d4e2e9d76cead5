"""sandbench micro: syscost as a workload under each catalogue directive.

Runs build/bin/syscost (no filter of its own, `--mode none`) inside a
oneshot unit on the real systemd host, once with no directive (twice: the
baseline and an A/A control) and once per directive drop-in, in shuffled
rounds, and reports per directive and syscall the cost per call against the
baseline measured in the same rounds. That says which syscalls a directive
slows: a seccomp-based directive adds filters to every syscall, an
argument-checking one more to the syscalls it checks, a namespace one
changes path lookups (openat) or socket creation.

Results go to a directory (default results/runs/micro-<UTC time>/):
spec.json, runs.jsonl (one line per unit run and syscall, with syscost's
whole JSON), summary.json and summary.md. Standard library only.
"""
import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time

from sblib import catalogue as cat
from sblib.measuring import host as _host
from sblib.measuring import kernel
from sblib import util
from sblib.records import schema

HELP = "syscall cost (syscost) as a workload under each directive, through real systemd"

UNIT = "sandbench-syscost.service"
DROPIN = UNIT + ".d/micro.conf"
OUTDIR = "/run/sandbench-micro"
OUTFILE = OUTDIR + "/syscost.json"
OPS = ("getppid", "getpid", "openat", "socket", "sendto", "clock_gettime")
DEFAULT_OPS = ("getppid", "openat", "socket", "sendto")

SYNOPSIS = """sandbench micro [--directives A,B,... | --profile NAME] [--syscalls LIST]
                       [--reps N] [--batches N] [--batch-size N] [--rounds N]
                       [--cpu N] [--seed N] [--out DIR] [--name HOST] [--lock-timeout S]"""
EXITS = {0: "complete: every unit run measured (a directive that made the unit fail is a "
            "result)",
         1: "not complete: interrupted, or the sandbox host failed (what was measured is kept)",
         2: "bad usage: an option, a directive or profile, not root, syscost not built"}

USAGE = "usage: " + SYNOPSIS + """

Runs syscost (no filter of its own) as a oneshot unit under each directive of
the catalogue (default: all of units/directives/), plus a baseline and an A/A
baseline, REPS times in a shuffled order, and prints per directive and
syscall the minimum cost per call and its ratio to the baseline.

  --directives LIST  comma-separated directive names (units/directives/NAME.conf)
  --profile NAME     the directives of units/profiles/NAME.profile
  --syscalls LIST    syscost ops (default getppid,openat,socket,sendto; also
                     getpid, clock_gettime)
  --reps N           unit runs per variant (default 3)
  --batches N        syscost --batches (default 300)
  --batch-size N     syscost --batch-size (default 20)
  --rounds N         syscost --rounds (default 3)
  --cpu N            syscost --cpu (default: the last CPU)
  --seed N           order seed (default 1)
  --out DIR          results directory (default results/runs/micro-<UTC>)
  --name HOST        sandbox host name (default sandbench-micro: its own
                     container, booted when the host lock is free)
  --lock-timeout S   wait this long for the host lock (default 300)

exit status:
""" + "\n".join(f"  {k:<4}{v}" for k, v in sorted(EXITS.items()))


class MicroError(Exception):
    pass


def unit_text(ops, batches, batch_size, rounds, cpu):
    """The oneshot unit: one ExecStart per syscall, each appending one JSON
    object to OUTFILE. '-' keeps going when syscost exits 1 (a directive
    denied the op: that is a result, not an error)."""
    lines = ["[Unit]", "Description=sandbench micro: syscost as a workload", "",
             "[Service]", "Type=oneshot", f"StandardOutput=append:{OUTFILE}",
             "StandardError=journal"]
    for op in ops:
        lines.append(f"ExecStart=-@BINDIR@/syscost --json --mode none --syscall {op} "
                     f"--batches {batches} --batch-size {batch_size} --rounds {rounds} "
                     f"--cpu {cpu}")
    return "\n".join(lines) + "\n"


def parse_stream(text):
    """The JSON objects written one after the other to TEXT."""
    dec = json.JSONDecoder()
    out, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = dec.raw_decode(text, i)
        out.append(obj)


def run_rows(variant, rep, docs, ops, status, reason=None):
    """One row per requested op: from syscost's JSON when it ran, else the
    unit's failure."""
    by_op = {d.get("params", {}).get("syscall"): d for d in docs}
    rows = []
    for op in ops:
        d = by_op.get(op)
        row = {"variant": variant, "rep": rep, "op": op}
        if d is None:
            row.update(status=status if status != "ok" else "missing",
                       reason=reason or "syscost wrote nothing for this op")
            rows.append(row)
            continue
        res = [r for r in d.get("results", []) if r.get("mode") == "none"]
        env = d.get("env", {})
        row.update(seccomp_mode=env.get("seccomp_mode"),
                   seccomp_filters=env.get("seccomp_filters"),
                   no_new_privs=env.get("no_new_privs"))
        if not res or res[0].get("status") != "ok":
            row.update(status="denied",
                       reason=res[0].get("status") if res else "no result")
        else:
            r = res[0]
            row.update(status="ok", ns_min=r["ns"]["min"], ns_median=r["ns"]["median"],
                       ticks_min=(r["ticks"] or {}).get("min"))
        row["syscost"] = d
        rows.append(row)
    return rows


def summarize(rows, variants, ops):
    """Per variant and op: median over reps of the minimum ns per call, its
    ratio to the baseline's, the seccomp filter count, and a status."""
    out = {}
    base = {}
    for op in ops:
        v = [r["ns_min"] for r in rows
             if r["variant"] == "baseline" and r["op"] == op and r.get("status") == "ok"]
        base[op] = statistics.median(v) if v else None
    for var in variants:
        out[var] = {}
        for op in ops:
            mine = [r for r in rows if r["variant"] == var and r["op"] == op]
            ok = [r["ns_min"] for r in mine if r.get("status") == "ok"]
            cell = {"n": len(ok), "runs": len(mine)}
            if ok:
                cell["ns_min"] = statistics.median(ok)
                cell["ratio"] = cell["ns_min"] / base[op] if base.get(op) else None
                cell["status"] = "ok"
            else:
                bad = [r for r in mine if r.get("status") != "ok"]
                cell["status"] = bad[0]["status"] if bad else "missing"
                cell["reason"] = bad[0].get("reason") if bad else None
            filters = [r.get("seccomp_filters") for r in mine if r.get("seccomp_filters") is not None]
            cell["seccomp_filters"] = max(filters) if filters else None
            out[var][op] = cell
    return out


def summary_markdown(summary, variants, ops):
    lines = ["| variant | seccomp filters | " + " | ".join(f"{op}: ns min (× baseline)" for op in ops) + " |",
             "|---|---:|" + "---:|" * len(ops)]
    for var in variants:
        cells = []
        filters = None
        for op in ops:
            c = summary[var][op]
            filters = c.get("seccomp_filters") if c.get("seccomp_filters") is not None else filters
            if c["status"] == "ok":
                ratio = f" (×{c['ratio']:.2f})" if c.get("ratio") else ""
                cells.append(f"{c['ns_min']:.0f}{ratio}")
            else:
                cells.append(c["status"])
        lines.append(f"| {var} | {'' if filters is None else filters} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_json(path, obj):
    util.write_atomic(path, json.dumps(obj, indent=1) + "\n")


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="sandbench micro", usage=SYNOPSIS, add_help=False)
    ap.add_argument("-h", "--help", action="store_true")
    ap.add_argument("--directives")
    ap.add_argument("--profile")
    ap.add_argument("--syscalls", default=",".join(DEFAULT_OPS))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out")
    ap.add_argument("--name", default="sandbench-micro")
    ap.add_argument("--lock-timeout", type=float, default=300)
    return ap, ap.parse_args(argv)


def main(argv):
    try:
        ap, a = parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if a.help:
        print(USAGE)
        return 0
    ops = [o for o in a.syscalls.split(",") if o]
    bad = [o for o in ops if o not in OPS]
    if not ops or bad:
        print(f"sandbench micro: bad --syscalls {a.syscalls!r}; valid: {', '.join(OPS)}",
              file=sys.stderr)
        return 2
    for k in ("reps", "batches", "batch_size", "rounds"):
        if getattr(a, k) < 1 or getattr(a, k) > 100000:
            print(f"sandbench micro: bad --{k.replace('_', '-')} {getattr(a, k)}", file=sys.stderr)
            return 2
    if a.directives and a.profile:
        print("sandbench micro: give --directives or --profile, not both", file=sys.stderr)
        return 2
    try:
        if a.directives:
            names = [d for d in a.directives.split(",") if d]
            directives = [cat.load_directive(n) for n in names]
        elif a.profile:
            names, _ = cat.load_profile(a.profile)
            directives = [cat.load_directive(n) for n in names]
        else:
            directives = [cat.load_directive(n) for n in cat.directive_names()]
    except cat.CatalogueError as e:
        print(f"sandbench micro: {e}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("sandbench micro: must run as root (systemd host)", file=sys.stderr)
        return 2
    root = util.repo_root()
    syscost = os.path.join(root, "build", "bin", "syscost")
    if not os.access(syscost, os.X_OK):
        print(f"sandbench micro: {syscost} not built (make)", file=sys.stderr)
        return 2
    cpu = a.cpu if a.cpu is not None else max(0, (os.cpu_count() or 1) - 1)

    fac = kernel.facilities()
    unsupported = {}
    runnable = []
    for d in directives:
        req = d.get("requires", "").split()
        missing = [r for r in req if not fac.get(r, (False, f"unknown facility {r}"))[0]]
        if missing:
            unsupported[d["name"]] = "; ".join(fac.get(r, (False, r))[1] for r in missing)
        else:
            runnable.append(d)
    variants = ["baseline", "baseline-aa"] + [d["name"] for d in runnable]
    by_name = {d["name"]: d for d in runnable}
    rng = random.Random(a.seed)
    order = []
    for rep in range(a.reps):
        vs = list(variants)
        rng.shuffle(vs)
        order += [(v, rep) for v in vs]

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = a.out or os.path.join(util.runs_dir(), "micro-" + stamp)
    os.makedirs(out, exist_ok=True)
    spec = {"schema": schema.tag("micro"), "created": stamp, "argv": ["micro"] + list(argv),
            "ops": ops, "reps": a.reps, "seed": a.seed, "cpu": cpu,
            "syscost": {"batches": a.batches, "batch_size": a.batch_size, "rounds": a.rounds,
                        "mode": "none"},
            "variants": variants, "unsupported": unsupported,
            "order": [f"{v}|{r}" for v, r in order]}
    write_json(os.path.join(out, "spec.json"), spec)

    def on_term(*_):
        raise KeyboardInterrupt()
    old = signal.signal(signal.SIGTERM, on_term)
    host = None
    rows = []
    state = "interrupted"
    installed = []
    try:
        host = _host.up(a.name, owner=os.getpid(), lock_timeout=a.lock_timeout)
        with tempfile.TemporaryDirectory() as tmp:
            unit = os.path.join(tmp, UNIT)
            with open(unit, "w") as f:
                f.write(unit_text(ops, a.batches, a.batch_size, a.rounds, cpu))
            installed += host.install([unit])
            os.makedirs(host.path(OUTDIR), exist_ok=True)
            print(f"sandbench micro: {len(variants)} variants x {a.reps} reps, host {host.mode}, "
                  f"results in {out}", file=sys.stderr)
            with open(os.path.join(out, "runs.jsonl"), "w") as runs:
                for i, (var, rep) in enumerate(order):
                    rs = one_run(host, var, rep, by_name.get(var), ops, tmp)
                    for r in rs:
                        runs.write(json.dumps(r) + "\n")
                    runs.flush()
                    rows += rs
                    st = ",".join(sorted({r["status"] for r in rs}))
                    print(f"  [{i + 1}/{len(order)}] {var} rep {rep}: {st}", file=sys.stderr)
        state = "complete"
    except KeyboardInterrupt:
        print("sandbench micro: interrupted; cleaning up", file=sys.stderr)
    except (_host.HostError, MicroError) as e:
        print(f"sandbench micro: {e}", file=sys.stderr)
        state = "failed"
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if host is not None:
                try:
                    host.uninstall([_host.UNIT_DIR + "/" + DROPIN] + installed)
                except Exception as e:  # noqa: BLE001 - cleanup goes on
                    print(f"sandbench micro: cleanup: {e}", file=sys.stderr)
                if getattr(host, "owned", False):
                    _host.down(host=host)
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, old)

    summary = summarize(rows, variants, ops)
    write_json(os.path.join(out, "summary.json"),
               {"state": state, "summary": summary, "unsupported": unsupported})
    md = summary_markdown(summary, variants, ops)
    if unsupported:
        md += "\nnot measured (facility missing):\n" + "".join(
            f"- {k}: {v}\n" for k, v in sorted(unsupported.items()))
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(md)
    print(md)
    print(f"sandbench micro: {state}; {out}", file=sys.stderr)
    return 0 if state == "complete" else 1


def one_run(host, var, rep, directive, ops, tmp):
    """Starts the unit once under VAR's drop-in; returns its rows."""
    out = host.path(OUTFILE)
    try:
        os.unlink(out)
    except FileNotFoundError:
        pass
    dropin_dest = _host.UNIT_DIR + "/" + DROPIN
    if directive is not None:
        src = os.path.join(tmp, "micro.conf")
        with open(src, "w") as f:
            f.write(directive["body"])
        host.install([src], rename={src: DROPIN})
    try:
        r = host.systemctl("start", UNIT, check=False, timeout=300)
        status, reason = "ok", None
        if r.returncode != 0:
            j = host.run(["journalctl", "-u", UNIT, "-n", "15", "--no-pager", "-o", "cat"],
                         timeout=30)
            status = "incompatible"
            reason = ((r.stderr or "").strip() + " | " + (j.stdout or "").strip())[-1500:]
        try:
            with open(out) as f:
                docs = parse_stream(f.read())
        except FileNotFoundError:
            docs = []
        except ValueError as e:
            docs, status, reason = [], "error", f"unparsable syscost output: {e}"
    finally:
        if directive is not None:
            host.uninstall([dropin_dest])
    return run_rows(var, rep, docs, ops, status, reason)
