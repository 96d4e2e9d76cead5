"""A published set again (sandbench reproduce): the plan that re-measures a
set of any kind (sblib.analysis.sets) as it was made, how long that takes,
and the report of the original against the reproduction.

A plan is a list of steps, each {"tool": "sandbench" | "syscost" |
"python", "argv": [...], "out": where it writes, "stdout": a file for its
standard output or None}, plus "merge": the runs to merge into the
reproduction (a merged set) or None, "duration_s": what the original took
(None when nothing records it) and "notes".

  run          the recorded `sandbench run` argv, its --out and --seed
               replaced; a merged set each of its runs (spec.json "merged"),
               into NEW.parts/, then merged into NEW
  startup      the recorded `sandbench startup` argv (startup-spec.json)
  advice       `sandbench advise` as the set's README.md gives it, else as
               advice.json records it (unit, URL, public, budget, cost)
  micro        the recorded `sandbench micro` argv
  syscost      each syscost JSON again (its params and env), every micro run
               of micro-summary.json, and summarize.py --combine-micro
  collection   each member into NEW/MEMBER
"""
import glob
import json
import os
import re
import shlex

from sblib import catalogue as cat
from sblib import util
from sblib.analysis import cliffs
from sblib.analysis import results as rs
from sblib.analysis import sets
from sblib.analysis import stats as st

# options of a recorded command that must not be copied into the re-run
DROP_OPTS = {"--out": True, "--seed": True, "-o": True}
RULE_MODES = ("linear", "tree", "linear-args")   # the modes syscost's --rules sizes
UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")


def _without(argv, drop=DROP_OPTS):
    kept, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        name = str(a).split("=", 1)[0]
        if name in drop:
            skip = "=" not in str(a) and drop[name]
            continue
        kept.append(str(a))
    return kept


def rerun_argv(spec, out):
    """The `sandbench ...` argv that repeats run SPEC into OUT: the recorded
    argv with its output directory and seed replaced, so the re-run uses the
    same seed (same slice order) whatever the original said."""
    argv = list(spec.get("argv") or [])
    if spec.get("merged"):
        raise rs.ResultsError("a merged set: see plan()")
    if not argv or argv[0] != "run":
        raise rs.ResultsError("spec.json: 'argv' does not record a `sandbench run` command")
    extra = ["--out", out]
    if "method" not in spec:
        # recorded before duet windows existed: one instance at a time
        extra += ["--method", "isolated"]
    if spec.get("seed") is not None:
        extra += ["--seed", str(spec["seed"])]
    return ["run"] + _without(argv[1:]) + extra


def _step(argv, out, tool="sandbench", stdout=None):
    return {"tool": tool, "argv": [str(a) for a in argv], "out": out, "stdout": stdout}


def run_plan(spec, out):
    """([steps], the merge's sources or None) of a run set's SPEC."""
    merged = spec.get("merged")
    if not merged:
        return [_step(rerun_argv(spec, out), out)], None
    if not isinstance(merged, list) or not all(isinstance(m, dict) for m in merged):
        raise rs.ResultsError("spec.json: 'merged' must be a list of the merged runs")
    steps = []
    for k, m in enumerate(merged):
        name = os.path.basename(os.path.normpath(str(m.get("path") or f"run{k + 1}")))
        part = os.path.join(out + ".parts", f"{k + 1}-{name}")
        sub = {"argv": m.get("argv"), "seed": m.get("seed")}
        if "method" in spec:
            sub["method"] = spec["method"]
        try:
            steps.append(_step(rerun_argv(sub, part), part))
        except rs.ResultsError as e:
            raise rs.ResultsError(f"spec.json 'merged' run {k + 1} ({name}): {e}") from None
    return steps, [s["out"] for s in steps]


def recorded_argv(spec, command, out, what):
    """The recorded `sandbench COMMAND` argv of SPEC with --out OUT and its
    own seed."""
    argv = list(spec.get("argv") or [])
    if not argv or argv[0] != command:
        raise rs.ResultsError(f"{what}: 'argv' does not record a `sandbench {command}` command")
    seed = ["--seed", str(spec["seed"])] if spec.get("seed") is not None else []
    return [command] + _without(argv[1:]) + ["--out", out] + seed


def readme_command(path, command):
    """The `sandbench COMMAND ... --out NAME/` line a README.md above PATH
    gives for the set at PATH (its name relative to that README), or None."""
    here, rel = os.path.abspath(path), ""
    for _ in range(3):
        readme = os.path.join(here, "README.md")
        if rel and os.path.exists(readme):
            with open(readme, encoding="utf-8") as f:
                text = re.sub(r"\\\n\s*", " ", f.read())
            for m in re.finditer(rf"sandbench {command} ([^\n`]*)", text):
                try:
                    argv = shlex.split(m.group(1))
                except ValueError:
                    continue
                outs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--out"]
                if outs and os.path.normpath(outs[0]) == os.path.normpath(rel):
                    # a file it names beside the README is the set's own
                    return [command] + [os.path.join(here, a) if not a.startswith("-")
                                        and os.path.exists(os.path.join(here, a)) else a
                                        for a in argv]
        rel = os.path.join(os.path.basename(here), rel) if rel else os.path.basename(here)
        here = os.path.dirname(here)
    return None


def _unit_file(name, set_dir):
    for d in (set_dir, os.path.join(util.repo_root(), "units")) + UNIT_DIRS:
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    return os.path.join(UNIT_DIRS[1], name)


def advice_argv(side, out):
    """`sandbench advise` of an advise set: its README's command, else what
    advice.json (advice-user.json) records."""
    readme = readme_command(side["path"], "advise")
    if readme:
        return ["advise"] + _without(readme[1:]) + ["--out", out]
    doc = side["advice"] or side["advice_user"] or {}
    argv = ["advise"] + (["--user"] if side["advice_user"] else [])
    for u in doc.get("units") or [doc.get("unit")]:
        argv += ["--unit", _unit_file(u, side["path"])]
    if not doc.get("url"):
        raise rs.ResultsError(f"{side['path']}: records no URL and no README.md gives the "
                              "command that made it")
    argv += ["--url", doc["url"]]
    why = str((doc.get("public") or {}).get("why"))
    argv += ["--public"] if why == "--public given" else \
        ["--private"] if why == "--private given" else []
    if doc.get("budget_pct") not in (None, 5.0):
        argv += ["--budget", f"{doc['budget_pct']:g}"]
    if (doc.get("cost") or {}).get("skipped"):
        argv.append("--no-cost")
    return argv + ["--out", out]


def syscost_argv(doc):
    """The syscost command that wrote DOC (a syscost/1 document)."""
    p, env = doc.get("params") or {}, doc.get("env") or {}
    argv = []
    if env.get("cpu") is not None:
        argv += ["--cpu", str(env["cpu"])]
    argv += ["--syscall", str(p.get("syscall", "getppid"))]
    if p.get("modes") and p["modes"] != "all":
        argv += ["--mode", str(p["modes"])]
    rules = sorted({r["rules"] for r in doc.get("results") or []
                    if r.get("rules") and r.get("mode") in RULE_MODES})
    if rules:
        argv += ["--rules", ",".join("full" if r == env.get("syscall_table") else str(r)
                                     for r in rules)]
    for k in ("batches", "batch_size", "rounds", "build_reps", "seed"):
        if p.get(k) is not None:
            argv += ["--" + k.replace("_", "-"), str(p[k])]
    return argv + ["--json"]


def syscost_plan(side, out):
    steps = [_step(syscost_argv(doc), out, "syscost", os.path.join(out, fn))
             for fn, doc in sorted(side["syscost"].items())]
    chunks = (side["micro"] or {}).get("chunks") or []
    parts = []
    for k, ch in enumerate(chunks):
        part = os.path.join(out, "micro-runs", f"{k + 1}")
        steps.append(_step(recorded_argv(ch.get("spec") or {}, "micro", part,
                                         f"micro-summary.json run {k + 1}"), part))
        parts.append(part)
    script = os.path.join(side["path"], "summarize.py")
    if parts and os.path.exists(script):
        steps.append(_step([script, "--combine-micro", os.path.join(out, "micro-summary.json")]
                           + parts, out, "python"))
    return steps


def plan(side, out):
    """The plan that reproduces loaded set SIDE (sets.load) into OUT:
    {"steps", "merge", "duration_s", "notes"}. Raises rs.ResultsError."""
    kinds = side["kinds"]
    steps, merge, notes = [], None, []
    if "collection" in kinds:
        for name, path in side["members"]:
            sub = plan(sets.load(path), os.path.join(out, name))
            if sub["merge"]:
                raise rs.ResultsError(f"{path}: a merged set inside a collection: reproduce "
                                      "it on its own")
            steps += sub["steps"]
            notes += [n for n in sub["notes"] if n not in notes]
    if "run" in kinds:
        steps, merge = run_plan(side["res"]["spec"], out)
        notes += release_notes(side["res"])
    if "startup" in kinds:
        spec = side.get("startup_spec") or {}
        if "run" not in kinds or (spec.get("argv") or [""])[0] == "startup":
            steps.append(_step(recorded_argv(spec, "startup", out, "startup-spec.json"), out))
    if "advice" in kinds or "advice-user" in kinds:
        steps.append(_step(advice_argv(side, out), out))
        notes.append("advise tries each unit as this machine has it: its files (config, "
                     "content, certificates) as the set's README.md describes")
    if "micro" in kinds:
        steps.append(_step(recorded_argv(side["res"]["spec"], "micro", out, "spec.json"), out))
    if "syscost" in kinds:
        steps += syscost_plan(side, out)
        if glob.glob(os.path.join(side["path"], "*", "*.json")):
            notes.append(f"{side['path']}: its subdirectories (a second run of the same "
                         "commands) are not re-run")
        notes.append("the duration of a syscost set is an estimate (its calls at their "
                     "median cost, a second per micro unit run)")
    return {"steps": steps, "merge": merge, "duration_s": duration(side), "notes": notes}


def release_notes(res):
    """What a plan says of the release a run set RES ran under."""
    env, argv = res.get("env") or {}, [str(a) for a in (res["spec"].get("argv") or [])]
    if not env.get("release"):
        return []
    given = any(a == "--release" or a.startswith("--release=") for a in argv)
    return [f"the original ran under {env['release']} ({env.get('systemd_package')}, "
            f"{env.get('libssl_package')}, kernel {env.get('kernel_package')}, "
            f"{env.get('host_tree')}); the re-run "
            + ("boots that release's root again (--release, as recorded)" if given else
               "boots the sandbox host as this machine sets it up (the original gave no "
               "--release): reproduce.md says where the stacks differ")]


# --- how long --------------------------------------------------------------------

def _span(times):
    return max(times) - min(times) if len(times) > 1 else None


def run_duration(res):
    """Seconds the run's slices took, each merged run on its own."""
    by = {}
    for r in res["runs"]:
        t = r.get("start")
        if isinstance(t, (int, float)):
            d = r.get("duration_s") if isinstance(r.get("duration_s"), (int, float)) else 0
            by.setdefault(r.get("run", 0), []).extend([t, t + d])
    spans = [_span(v) for v in by.values()]
    return sum(s for s in spans if s) or None


def startup_duration(path):
    times = []
    try:
        with open(os.path.join(path, "startup.jsonl"), encoding="utf-8") as f:
            for line in f:
                try:
                    t = json.loads(line).get("time")
                except ValueError:
                    continue
                if isinstance(t, (int, float)):
                    times.append(t)
    except OSError:
        return None
    return _span(times)


def syscost_duration(side):
    """An estimate: every configuration's calls at their median cost, and
    per micro run a second a unit run besides its calls."""
    total = 0.0
    for doc in side["syscost"].values():
        size = (doc.get("params") or {}).get("batch_size") or 1
        for r in doc.get("results") or []:
            total += (r.get("batches") or 0) * size * ((r.get("ns") or {}).get("median") or 0)
    total /= 1e9
    for ch in (side["micro"] or {}).get("chunks") or []:
        spec = ch.get("spec") or {}
        sc = spec.get("syscost") or {}
        calls = (sc.get("batches") or 0) * (sc.get("batch_size") or 0) * (sc.get("rounds") or 0)
        base = (ch.get("summary") or {}).get("baseline") or {}
        per = sum(calls * (c.get("ns_min") or 0) / 1e9 for c in base.values())
        total += len(spec.get("variants") or []) * (spec.get("reps") or 1) * (1.0 + per)
    return total or None


def duration(side):
    """Seconds the original took (an estimate for syscost sets), or None."""
    kinds, total = side["kinds"], 0.0
    if "collection" in kinds:
        return sum(duration(sets.load(p)) or 0 for _, p in side["members"]) or None
    if "run" in kinds:
        total += run_duration(side["res"]) or 0
    if "startup" in kinds:
        total += startup_duration(side["path"]) or 0
    for doc in (side["advice"], side["advice_user"]):
        total += (doc or {}).get("elapsed_s") or 0
    if "syscost" in kinds or "micro" in kinds:
        total += syscost_duration(side) or 0
    return total or None


def hours(seconds):
    """'about 4 h 19 min', 'about 9 min', 'about 40 s'; 'unknown' for None."""
    if not seconds:
        return "unknown (nothing in the set records it)"
    m = int(round(seconds / 60.0))
    if seconds < 90:
        return f"about {seconds:.0f} s"
    return f"about {m // 60} h {m % 60} min" if m >= 60 else f"about {m} min"


def command_line(step):
    """How a step reads when printed."""
    tool = {"sandbench": "sandbench", "syscost": "build/bin/syscost",
            "python": "python3"}[step["tool"]]
    return " ".join([tool] + [shlex.quote(a) for a in step["argv"]]) + (
        f" > {shlex.quote(step['stdout'])}" if step["stdout"] else "")


# --- the report ------------------------------------------------------------------

def env_table(a, b):
    keys = []
    for k in list(a["env"]) + list(b["env"]):
        if k not in keys:
            keys.append(k)
    rows = []
    for k in keys:
        va, vb = a["env"].get(k), b["env"].get(k)
        rows.append((k, str(va), str(vb), "" if va == vb else "differs"))
    for k in ("commit", "created"):
        va, vb = a["spec"].get(k), b["spec"].get(k)
        rows.append((k, str(va), str(vb), "" if va == vb or k == "created" else "differs"))
    return rows


SPEC_KEYS = ("seed", "servers", "modes", "reps", "epochs", "duration", "warmup", "loadgen",
             "combine", "method", "duet", "profile", "directives", "host_mounts",
             "connections")


def spec_differences(a, b):
    """What the re-run did differently from the original spec (the catalogue or a
    profile may have changed since): a list of sentences, empty when identical."""
    out = []
    for k in SPEC_KEYS:
        if a.get(k) != b.get(k):
            out.append(f"{k}: {a.get(k)} -> {b.get(k)}")
    va = {v["id"]: v.get("directives") for v in a.get("variants") or [] if isinstance(v, dict)}
    vb = {v["id"]: v.get("directives") for v in b.get("variants") or [] if isinstance(v, dict)}
    if set(va) - set(vb):
        out.append("variants not re-run: " + ", ".join(sorted(set(va) - set(vb))))
    if set(vb) - set(va):
        out.append("variants new in the re-run: " + ", ".join(sorted(set(vb) - set(va))))
    changed = [v for v in va if v in vb and va[v] != vb[v]]
    if changed:
        out.append("variants whose directives changed: " + ", ".join(changed))
    da, db = rs.order_digest(a), rs.order_digest(b)
    if da and db and da != db and not out:
        out.append("the slice order differs")
    return out


def verdicts(result):
    """A comparison's costs as (agree, disagree, not comparable) lists."""
    agree, disagree, vague = [], [], []
    for r in result["costs"]:
        (vague if not r.get("comparable", True) else disagree if r["significant"]
         else agree).append(r)
    return agree, disagree, vague


def floors(aa, ab):
    """[(server, mode, original A/A floor, reproduction's)] of CPU per request."""
    fb = {(g["server"], g["mode"]): g.get("floor") for g in (ab or {}).get("groups") or []}
    return [(g["server"], g["mode"], g.get("floor"), fb.get((g["server"], g["mode"])))
            for g in (aa or {}).get("groups") or [] if (g["server"], g["mode"]) in fb]


def _who(r):
    return f"{r['set']}: {r['variant']}" if r.get("set") else r["variant"]


def summary_lines(orig, new, result):
    """reproduce.md of loaded sets ORIG and NEW (sets.load, with their
    analyses) and their comparison RESULT; returns (lines, how many
    disagree)."""
    agree, disagree, vague = verdicts(result)
    a, b = orig["res"], new["res"]
    lines = [f"# sandbench reproduce: {orig['path']} -> {new['path']}", ""]
    lines += ["## Environments, side by side", "", "| | original | reproduction | |",
              "|:---|:---|:---|:---|"]
    lines += [f"| {k} | {va} | {vb} | {d} |" for k, va, vb, d in env_table(a, b)]
    lines.append("")
    stack = cliffs.stack_differences(a["env"], b["env"])
    if stack:
        lines.append("**The stack differs from the set's:** " + "; ".join(
            f"{k} {va} -> {vb}" for k, va, vb in stack) + f". So {cat.STACK_NOTE}: the "
            "baselines' absolute figures below measure that change, and a cost that disagrees "
            "may be the directive's under the other stack.")
        lines.append("")
    fl = floors(orig.get("analysis"), new.get("analysis"))
    if fl:
        lines.append("Noise floor (A/A control, CPU per request): " + ", ".join(
            f"{server}/{mode} original " + (f"±{f0 * 100:.1f}%" if f0 is not None else "-")
            + " reproduction " + (f"±{f1 * 100:.1f}%" if f1 is not None else "-")
            for server, mode, f0, f1 in fl) + ".")
        lines.append("")
    sa = dict(a["spec"], **(orig.get("startup_spec") or {}))
    sb = dict(b["spec"], **(new.get("startup_spec") or {}))
    diffs = spec_differences(sa, sb)
    if diffs:
        lines.append("**The re-run is not the same experiment** (the catalogue, a profile or "
                     "the runner changed since?):")
        lines.extend(f"- {d}" for d in diffs)
    else:
        lines.append("Same spec: servers, variants, modes, repetitions, durations, load and "
                     "seed (hence slice order) as recorded.")
    lines += ["", "## Directive costs (variant / baseline), original against reproduction", "",
              "| variant | mode | metric | original | n | reproduction | n | change | "
              "95% interval | agrees |",
              "|:---|:---|:---|---:|---:|---:|---:|---:|---:|:---|"]
    for r in agree + disagree + vague:
        word = ("yes" if not r["significant"] else "**no**") if r.get("comparable", True) \
            else f"not comparable ({r['why']})"
        lines.append(f"| `{_who(r)}` | {r['mode']} | {r['metric']} | {st.pct(r['base'])} | "
                     f"{r.get('base_n') or '-'} | {st.pct(r['new'])} | {r.get('new_n') or '-'} | "
                     + (f"{st.pct(r['change'])} | {st.interval(r['lo'], r['hi'])} | "
                        if r.get("lo") is not None else "- | - | ") + f"{word} |")
    lines.append("")
    absolute = [r for r in result["absolute_rows"] if r.get("comparable", True)]
    moved = [r for r in absolute if r["significant"]]
    lines.append(f"Absolute figures (depend on the machine): {len(absolute) - len(moved)} of "
                 f"{len(absolute)} agree within their intervals"
                 + (": differ: " + ", ".join(f"{_who(r)} {r['mode']} {r['metric']} "
                                             f"{st.pct(r['ratio'])}" for r in moved[:12])
                    if moved else "."))
    nc = len(result["absolute_rows"]) - len(absolute)
    if nc:
        lines.append(f"{nc} absolute figures not comparable (minima without intervals, or "
                     f"n<3).")
    checks = [r for r in result["compatibility"] + result["exposure"] if r.get("check")]
    for r in result["compatibility"] + result["exposure"]:
        lines.append(f"- {_who(r)}: {r['kind']} {r['base']} -> {r['new']}")
    for x in result["lost"]:
        lines.append(f"- {_who(x)} {x['mode']}: not reproduced ({x['why']})")
    lines.append("")
    c = result["counts"]
    lines.append(f"**{len(agree)} of {len(agree) + len(disagree)} directive costs agree** "
                 "within their 95% intervals"
                 + (f"; {len(vague)} not comparable (n<3 / no interval)" if vague else "")
                 + ("." if not disagree else ". Disagree: " + ", ".join(
                     f"{_who(r)} {r['mode']} {r['metric']}" for r in disagree))
                 + (f" {c['checks'] - len(checks)} of {c['checks']} exposure and proposal "
                    "checks agree." if c["checks"] else ""))
    return lines, len(disagree) + len(checks)
