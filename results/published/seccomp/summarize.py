#!/usr/bin/python3
"""Prints the comparison tables of README.md from the syscost JSON files in
DIR (default: this script's directory): getppid-all.json, getppid-percall.json,
getpid-selftest.json, socket-af.json, micro-summary.json. Standard library
only.

    results/published/seccomp/summarize.py [DIR]
    results/published/seccomp/summarize.py --combine-micro OUT.json RUNDIR...
        (merges `sandbench micro` result directories into OUT.json)
"""
import json
import os
import sys

# libseccomp issue #116 (Tom Hromatka, 2018; shown at Linux Plumbers 2018):
# minimum TSC ticks per getppid() over 1e6 calls, a customer's 306-syscall filter.
PUBLISHED = {"none": 138, "front": 256, "middle": 516, "end": 1942, "tree": 312}


def load(d, name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        try:
            return json.load(f)
        except ValueError:
            return None  # still being written


def find(doc, mode, rules=None, position=None, filters=None, tree=None):
    for r in doc["results"]:
        if r["mode"] != mode:
            continue
        if rules is not None and r["rules"] != rules:
            continue
        if position is not None and r["position"] != position:
            continue
        if filters is not None and r["filters"] != filters:
            continue
        if tree is not None and r["tree"] != tree:
            continue
        return r
    raise KeyError((mode, rules, position, filters, tree))


def t(r, k="min"):
    return r["ticks"][k] if r["ticks"] else float("nan")


def published_table(doc, label):
    none = find(doc, "none")
    print(f"\n{label}: {doc['params']['batches'] * doc['params']['rounds']} batches of "
          f"{doc['params']['batch_size']} call(s) per configuration\n")
    print("| getppid() with a 306-rule filter | published ticks (min) | published vs none "
          "| here: cached ticks min / median | here vs none | here, uncached (arg check) ticks min / median "
          "| uncached vs none | BPF steps (cached / uncached) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    base = t(none)
    print(f"| no filter | {PUBLISHED['none']} | 1.00 | {t(none):.0f} / {t(none, 'median'):.0f} "
          f"| 1.00 | — | — | 0 |")
    for pos in ("front", "middle", "end", "tree"):
        if pos == "tree":
            c = find(doc, "tree", rules=306)
            u = None
        else:
            c = find(doc, "linear", rules=306, position=pos)
            u = find(doc, "linear-args", rules=306, position=pos)
        pub = PUBLISHED[pos]
        us = f"{t(u):.0f} / {t(u, 'median'):.0f}" if u else "—"
        ur = f"{t(u) / base:.2f}" if u else "—"
        steps = f"{c['steps']} / {u['steps']}" if u else f"{c['steps']}"
        name = "binary tree" if pos == "tree" else f"at the {pos}"
        print(f"| {name} | {pub} | {pub / PUBLISHED['none']:.2f} | {t(c):.0f} / {t(c, 'median'):.0f} "
              f"| {t(c) / base:.2f} | {us} | {ur} | {steps} |")


def selftest_table(doc):
    none, a1, al = find(doc, "none"), find(doc, "allow1"), find(doc, "allow")
    print("\n| getpid() | ns min | ns median | ticks min | overhead vs native, ns (min) |")
    print("|---|---:|---:|---:|---:|")
    for name, r in (("native (no filter)", none), ("1 filter: BPF_RET ALLOW", a1),
                    ("libseccomp allow-all (arch check + ALLOW)", al)):
        ov = "—" if r is none else f"{r['ns']['min'] - none['ns']['min']:+.1f}"
        print(f"| {name} | {r['ns']['min']:.1f} | {r['ns']['median']:.1f} | {t(r):.0f} | {ov} |")


def cache_table(doc):
    full = doc["env"]["syscall_table"]
    none = find(doc, "none")
    print(f"\n| getppid(), {full}-rule allow-list | cacheable | BPF steps | ticks min | "
          f"ticks median | over no filter, ticks (min) |")
    print("|---|---|---:|---:|---:|---:|")
    for mode in ("linear", "linear-args"):
        for pos in ("front", "middle", "end"):
            r = find(doc, mode, rules=full, position=pos)
            print(f"| {mode} {pos} | {'yes' if r['cacheable'] else 'no'} | {r['steps']} | "
                  f"{t(r):.0f} | {t(r, 'median'):.0f} | {t(r) - t(none):+.0f} |")
    r = find(doc, "tree", rules=full)
    print(f"| tree | {'yes' if r['cacheable'] else 'no'} | {r['steps']} | {t(r):.0f} | "
          f"{t(r, 'median'):.0f} | {t(r) - t(none):+.0f} |")
    # per-instruction cost when the filter really runs
    f, e = find(doc, "linear-args", rules=full, position="front"), \
        find(doc, "linear-args", rules=full, position="end")
    if e["steps"] > f["steps"]:
        print(f"\nuncached: {(t(e) - t(f)) / (e['steps'] - f['steps']):.3f} ticks per extra BPF "
              f"instruction (end vs front, minima)")
    print("\n| K stacked filters | allow-all: ticks min | over no filter | arg-checking: ticks min "
          "| over no filter |")
    print("|---:|---:|---:|---:|---:|")
    for k in (1, 2, 4, 8, 16):
        try:
            a, b = find(doc, "stack", filters=k), find(doc, "stack-args", filters=k)
        except KeyError:
            continue
        print(f"| {k} | {t(a):.0f} | {t(a) - t(none):+.0f} | {t(b):.0f} | {t(b) - t(none):+.0f} |")
    sv, st = find(doc, "service", tree=False), find(doc, "service", tree=True)
    print(f"\n@system-service ({sv['rules']} rules): linear {t(sv):.0f} ticks "
          f"({sv['steps']} steps, index {sv['index']}), tree {t(st):.0f} ticks ({st['steps']} steps); "
          f"no filter {t(none):.0f}")


def af_table(doc):
    none = find(doc, "none")
    print("\n| socket(AF_UNIX) + close() | cacheable | BPF steps | ns min | ns median | over no filter, ns (min) |")
    print("|---|---|---:|---:|---:|---:|")
    rows = [("no filter", none), ("allow-all", find(doc, "allow")),
            ("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", find(doc, "af")),
            ("@system-service, linear", find(doc, "service", tree=False)),
            ("@system-service, tree", find(doc, "service", tree=True)),
            ("306-rule linear-args, socket+close at the end", find(doc, "linear-args", position="end"))]
    for name, r in rows:
        c = "—" if r["cacheable"] is None else ("yes" if r["cacheable"] else "no")
        ov = "—" if r is none else f"{r['ns']['min'] - none['ns']['min']:+.1f}"
        print(f"| {name} | {c} | {r['steps']} | {r['ns']['min']:.1f} | {r['ns']['median']:.1f} | {ov} |")


def build_table(doc):
    b = doc["build"]
    print(f"\n@system-service from {b['source']}: {b['names']} names, {b['rules']} rules on this "
          f"architecture\n")
    print("| variant | reps | build (init + rule_add) µs | BPF generation µs | seccomp_load µs "
          "| kernel install alone µs |")
    print("|---|---:|---:|---:|---:|---:|")
    for v in b["variants"]:
        cells = " | ".join(f"{v[k]['min']:.0f} / {v[k]['median']:.0f}"
                           for k in ("build_us", "export_us", "load_us", "kernel_us"))
        print(f"| {v['variant']} | {v['reps']} | {cells} |")
    print("\n(min / median)")


def combine_micro(out, dirs):
    chunks = []
    for d in dirs:
        with open(os.path.join(d, "spec.json")) as f:
            spec = json.load(f)
        with open(os.path.join(d, "summary.json")) as f:
            summ = json.load(f)
        chunks.append({"spec": spec, "state": summ["state"], "summary": summ["summary"],
                       "unsupported": summ.get("unsupported", {})})
    with open(out, "w") as f:
        json.dump({"schema": "sandbench-micro-combined/1", "chunks": chunks}, f, indent=1)
        f.write("\n")
    return 0


def micro_table(doc):
    """Directives whose ratio to their run's baseline leaves the A/A band."""
    ops = doc["chunks"][0]["spec"]["ops"]
    aa = {op: [] for op in ops}
    rows = []
    unsupported = {}
    for run, ch in enumerate(doc["chunks"], 1):
        unsupported.update(ch.get("unsupported", {}))
        for var, cells in ch["summary"].items():
            if var == "baseline":
                continue
            if var == "baseline-aa":
                for op in ops:
                    if cells[op].get("ratio"):
                        aa[op].append(cells[op]["ratio"])
                continue
            if all(c["status"] == "missing" for c in cells.values()):
                continue  # the unit never ran (e.g. an earlier syscost refused it)
            rows.append((var, run, cells))
    print("\nA/A control (a second baseline in each run), ratio range per syscall: " +
          ", ".join(f"{op} {min(v):.2f}–{max(v):.2f}" for op, v in aa.items() if v))
    print("\n| directive | run | seccomp filters (baseline " +
          str(doc["chunks"][0]["summary"]["baseline"][ops[0]].get("seccomp_filters")) + ") | " +
          " | ".join(f"{op} × baseline" for op in ops) + " |")
    print("|---|---:|---:|" + "---:|" * len(ops))
    for var, run, cells in sorted(rows, key=lambda x: (x[0], x[1])):
        out = []
        for op in ops:
            c = cells[op]
            if c["status"] != "ok":
                out.append(c["status"])
                continue
            r = c.get("ratio")
            lo, hi = (min(aa[op]), max(aa[op])) if aa[op] else (1, 1)
            # bold: outside the A/A band widened by 3 points
            mark = "**" if r and (r > max(hi, 1) + 0.03 or r < min(lo, 1) - 0.03) else ""
            out.append(f"{mark}{r:.2f}{mark}" if r else "?")
        f = next((cells[op].get("seccomp_filters") for op in ops
                  if cells[op].get("seccomp_filters") is not None), "")
        print(f"| {var} | {run} | {f} | " + " | ".join(out) + " |")
    if unsupported:
        print("\nnot measured: " + "; ".join(f"{k} ({v})" for k, v in sorted(unsupported.items())))


def main(argv):
    if len(argv) > 2 and argv[1] == "--combine-micro":
        return combine_micro(argv[2], argv[3:])
    d = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    allr, per = load(d, "getppid-all.json"), load(d, "getppid-percall.json")
    for doc in (allr, per):
        if doc:
            e = doc["env"]
            print(f"kernel {e['kernel']}, {e['cpu_model']}, TSC {e['tsc']['ticks_per_ns']:.3f} "
                  f"ticks/ns, CPU {e['cpu']}, load average {e['loadavg_start']} -> {e['loadavg_end']}")
    if per:
        published_table(per, "one call per timed batch (like the published loop)")
    if allr:
        published_table(allr, "batches of calls")
        cache_table(allr)
        build_table(allr)
    sf = load(d, "getpid-selftest.json")
    if sf:
        selftest_table(sf)
    af = load(d, "socket-af.json")
    if af:
        af_table(af)
    mc = load(d, "micro-summary.json")
    if mc:
        micro_table(mc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
