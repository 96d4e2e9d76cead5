"""sandbench score UNIT...: the exposure of units, without starting them.

A UNIT is a file, or a name looked up as systemctl does (nginx ->
nginx.service in /etc/systemd/system, /run/systemd/system,
/lib/systemd/system, /usr/lib/systemd/system; $SYSTEMD_UNIT_PATH overrides
them, a trailing ':' keeps them after its own). Runs `systemd-analyze
security --offline=yes` on each (drop-ins in a UNIT.d/ directory beside it
are read as systemd would; --with and --with-profile add more) and prints,
for one unit, each open check worst first with the catalogue directive that
closes it and what a published set measured that directive to cost, and the
overall exposure: 0.0 (safe) .. 10.0 (unsafe). For several units, one line
each (--verbose for the full breakdown). With --with, every changed check and
the total as before -> after. A masked unit (a link to /dev/null) and an
empty unit file (which systemd reads as masked) are skipped with a note.
Works where systemd is not PID 1: offline mode reads files only.
"""
import concurrent.futures
import difflib
import glob
import json
import math
import os
import re
import subprocess
import sys
import tempfile

from sblib import catalogue as cat
from sblib import templates
from sblib.analysis import results as rs
from sblib.commands import _cli
from sblib.records import schema
from sblib.records import store
from sblib.records.model import VariantId

HELP = "exposure of units without starting them, and which directive closes each open check"
SCHEMA = schema.tag("score")
EXITS = {0: "scored (masked and empty units skipped with a note)",
         1: "--threshold given and a unit scores above it (they are named)",
         2: "bad input: an option, a unit not found or refused by systemd, systemd-analyze "
            "missing (the other units are still scored)"}
EXPOSURE_MAX = 10.0

UNIT_SUFFIXES = (".service",)
OVERALL = re.compile(r"Overall exposure level for (\S+): (\d+(?:\.\d+)?) (\w+)")


class ScoreError(Exception):
    """The unit could not be scored; the message says why."""


PLACEHOLDER = re.compile(r"@[A-Z][A-Z0-9_]*@")
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system",
             "/usr/lib/systemd/system")
PUBLISHED = os.path.join(os.path.dirname(cat.UNITS), "results", "published")
# the set whose costs are quoted when several measured a directive
REFERENCE_SET = "debian12-2core-vm-2026-11-full"


def fill_placeholders(text):
    """sandbench's own unit templates carry @BINDIR@-style placeholders that
    `sandbench run` fills at install time; fill them the same way so the
    score is that of the unit as installed."""
    if not PLACEHOLDER.search(text):
        return text
    try:
        return templates.fill(text, templates.placeholders("/opt/sandbench/bin"))
    except templates.TemplateError as e:
        raise ScoreError(str(e)) from None


def unit_dirs():
    """Where unit names are looked up, in systemctl's order ($SYSTEMD_UNIT_PATH
    first when set; a trailing ':' appends the usual directories)."""
    env = os.environ.get("SYSTEMD_UNIT_PATH")
    if env is None:
        return list(UNIT_DIRS)
    dirs = [d for d in env.split(":") if d]
    return dirs + (list(UNIT_DIRS) if env.endswith(":") else [])


def near(name, choices, n=3):
    """' (did you mean a, b?)' for the names of CHOICES closest to NAME, or ''."""
    m = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)
    return f" (did you mean {', '.join(m)}?)" if m else ""


def resolve_unit(arg):
    """A unit file path for ARG: a path as it is, or a unit name (".service"
    added when it has no suffix) looked up in unit_dirs(), the template
    (NAME@.service) for an instance. ScoreError when there is none."""
    if "/" in arg:
        return arg
    name = arg if "." in arg else arg + ".service"
    cands = [name]
    if "@" in name:
        pre, _, rest = name.partition("@")
        cands.append(f"{pre}@{rest[rest.rfind('.'):]}")
    for d in unit_dirs():
        for c in cands:
            p = os.path.join(d, c)
            if os.path.lexists(p):
                return p
    if os.path.exists(arg):
        return arg
    known = {os.path.basename(p) for d in unit_dirs() for p in glob.glob(os.path.join(d, "*.service"))}
    raise ScoreError(f"{arg}: no unit file named {name} in {', '.join(unit_dirs())}"
                     + near(name, known))


def is_masked(path):
    """True for a masked unit: a link to /dev/null (systemctl mask)."""
    return os.path.realpath(path) == "/dev/null"


def skipped_why(path):
    """Why unit PATH is not scored: "masked (a link to /dev/null)", "empty
    (systemd reads an empty unit file as masked)", or None."""
    if is_masked(path):
        return "masked (a link to /dev/null)"
    try:
        if path.endswith(UNIT_SUFFIXES) and os.path.isfile(path) \
                and os.path.getsize(path) == 0:
            return "empty (systemd reads an empty unit file as masked: nothing to score)"
    except OSError:
        return None
    return None


def check_threshold(t):
    """None, or why --threshold T cannot be an exposure limit."""
    if t is None or (math.isfinite(t) and 0 <= t < EXPOSURE_MAX):
        return None
    return (f"--threshold {t:g}: want an exposure from 0 up to (not including) "
            f"{EXPOSURE_MAX:g}, the range of systemd-analyze security (0.0 safe .. 10.0 "
            "unsafe); a unit above it is named and the exit is 1")


def resolve_dropin(arg):
    """A drop-in path, or the name of a directive of the catalogue
    (units/directives/NAME.conf); ScoreError with the nearest names otherwise."""
    if os.path.exists(arg) or "/" in arg:
        return arg
    name = arg[:-5] if arg.endswith(".conf") else arg
    cand = os.path.join(cat.DIRECTIVES, name + ".conf")
    if os.path.isfile(cand):
        return cand
    raise ScoreError(f"--with {arg}: neither a file nor a directive of the catalogue"
                     + near(name, cat.directive_names()) + " (sandbench list directives)")


def profile_dropins(name):
    """The catalogue directives of profile NAME (alone and combined) as --with names."""
    try:
        dirs, combines = cat.load_profile(name)
    except cat.CatalogueError:
        raise ScoreError(f"--with-profile {name}: no such profile"
                         + near(name, cat.profile_names())
                         + f"; valid: {', '.join(cat.profile_names())}") from None
    out = list(dirs)
    for _, ds in combines:
        out += [d for d in ds if d not in out]
    return out


def _read_text(path, what):
    """The UTF-8 text of path; ScoreError (one line) when it cannot be read or is not UTF-8."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise ScoreError(f"{path}: cannot read {what} (not UTF-8: byte 0x{e.object[e.start]:02x} "
                         f"at offset {e.start})") from None
    except OSError as e:
        raise ScoreError(f"{path}: cannot read {what} ({e.strerror or e})") from None


def _analyze(path, json_mode):
    cmd = ["systemd-analyze", "security", "--offline=yes", "--no-pager"]
    if json_mode:
        cmd.append("--json=short")
    cmd.append(path)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, SYSTEMD_COLORS="0", LC_ALL="C.UTF-8"))
    except FileNotFoundError:
        raise ScoreError("systemd-analyze not found (Debian package systemd)") from None
    except subprocess.TimeoutExpired:
        raise ScoreError(f"{path}: systemd-analyze timed out") from None
    if p.returncode != 0:
        msg = [ln.strip() for ln in p.stderr.strip().splitlines() if ln.strip()]
        raise ScoreError(f"{path}: systemd-analyze refused it: " + (" / ".join(msg[:3]) if msg
                                                                    else f"exit {p.returncode}"))
    return p.stdout, p.stderr


def score_unit(path, dropins=()):
    """Score one unit file (plus extra drop-ins, applied after the existing ones).

    Returns {"unit", "exposure", "level", "checks": [{name, description,
    exposure (float|None), set (True|False|None)}], "warnings": [str]}.
    """
    if not os.path.isfile(path):
        raise ScoreError(f"{path}: no such file")
    name = os.path.basename(path)
    if not name.endswith(UNIT_SUFFIXES):
        raise ScoreError(f"{path}: not a service unit (the file name must end in .service)")
    extra = []
    for d in dropins:
        d = resolve_dropin(d)
        extra.append(fill_placeholders(_read_text(d, "the drop-in")))
    text = _read_text(path, "it")
    filled = fill_placeholders(text)
    with tempfile.TemporaryDirectory(prefix="sandbench-score-") as tmp:
        target = path
        if dropins or filled != text:
            # a private copy so the user's files are never touched
            target = os.path.join(tmp, name)
            with open(target, "w", encoding="utf-8") as f:
                f.write(filled)
            ddir = target + ".d"
            os.mkdir(ddir)
            src_d = path + ".d"
            if os.path.isdir(src_d):
                for fn in sorted(os.listdir(src_d)):
                    if fn.endswith(".conf"):
                        dtext = fill_placeholders(_read_text(os.path.join(src_d, fn),
                                                             "the drop-in"))
                        with open(os.path.join(ddir, fn), "w", encoding="utf-8") as f:
                            f.write(dtext)
            for i, text in enumerate(extra):
                with open(os.path.join(ddir, f"zz-sandbench-{i:03d}.conf"), "w",
                          encoding="utf-8") as f:
                    f.write(text)
        text, err = _analyze(target, False)
        js, _ = _analyze(target, True)
    m = OVERALL.search(text)
    if not m:
        raise ScoreError(f"{path}: no overall exposure in systemd-analyze's output")
    try:
        raw = json.loads(js)
    except ValueError:
        raise ScoreError(f"{path}: systemd-analyze printed invalid JSON") from None
    checks = []
    for c in raw:
        e = c.get("exposure")
        checks.append({"name": c.get("name"), "description": c.get("description"),
                       "exposure": float(e) if e not in (None, "") else None,
                       "set": c.get("set")})
    warnings = [w.strip() for w in err.strip().splitlines() if w.strip()]
    if target != path:
        warnings = [w.replace(os.path.dirname(target) + "/", "") for w in warnings]
    return {"unit": path, "exposure": float(m.group(2)), "level": m.group(3),
            "checks": checks, "warnings": warnings}


def catalogue_answers():
    """{systemd-analyze check name: [catalogue directives whose `answers:`
    header names it]} (calibration controls left out)."""
    out = {}
    for n in cat.directive_names():
        try:
            d = cat.load_directive(n)
        except cat.CatalogueError:
            continue
        if d.get("calibration", "").lower() in ("yes", "true"):
            continue
        for a in re.split(r",\s*", d.get("answers", "")):
            a = a.strip()
            if a and not a.startswith("("):
                out.setdefault(a, []).append(n)
    for ds in out.values():    # the most specific first (fewest checks answered)
        ds.sort(key=lambda n: (len(cat.load_directive(n).get("answers", "").split(",")), n))
    return out


def published_costs(root=PUBLISHED):
    """(set name, {directive: text}) of what the reference set (else the
    newest published set with an analysis.json) measured each directive to
    cost: the CPU per request changes it called, else "no CPU cost found",
    and its start-up changes called. (None, {}) without a published set."""
    sets = sorted(glob.glob(os.path.join(root, "*", "analysis.json")))
    if not sets:
        return None, {}
    ref = next((p for p in sets if os.path.basename(os.path.dirname(p)) == REFERENCE_SET),
               max(sets, key=os.path.getmtime))
    try:
        a = store.read_analysis(os.path.dirname(ref))
    except rs.ResultsError as e:
        store.note(f"{e}: no measured costs beside the exposure")
        return None, {}
    if a is None:
        return None, {}
    cpu, start = {}, {}
    for g in a.get("groups") or []:
        for r in g.get("rows") or []:
            c = (r.get("cmp") or {}).get("cpu_ns_per_req")
            name = VariantId.parse(r["variant"]).name
            if not c or r["variant"] == g.get("aa"):
                continue
            d = cpu.setdefault(name, [])
            if c.get("verdict") in ("worse", "better"):
                d.append(f"CPU/request {(c['ratio'] - 1) * 100:+.1f}% ({g['server']} {g['mode']})")
    for vid, e in (a.get("startup") or {}).items():
        c = e.get("cmp") or {}
        if c.get("verdict") in ("worse", "better"):
            start.setdefault(VariantId.parse(vid).name, []).append(
                f"{(c['ratio'] - 1) * 100:+.0f}% {vid.partition('/')[0]}")
    out = {}
    for name in set(cpu) | set(start):
        parts = ["; ".join(cpu.get(name) or []) or "no CPU cost per request found"]
        if start.get(name):
            parts.append("start-up " + ", ".join(start[name]))
        out[name] = "; ".join(parts)
    return os.path.basename(os.path.dirname(ref)), out


def fixes_for(check, answers, costs):
    """'directive (measured cost)' for the catalogue directives that close CHECK."""
    return " or ".join(f"{n}" + (f" ({costs[n]})" if n in costs else "")
                       for n in answers.get(check, [])[:2])


def _mark(c):
    return {True: "✓", False: "✗"}.get(c["set"], "-")


def changed_checks(before, after):
    """[(check name, before check, after check)] whose state or exposure differs."""
    b = {c["name"]: c for c in before["checks"]}
    out = []
    for c in after["checks"]:
        o = b.get(c["name"])
        if o and (o["set"] != c["set"] or o["exposure"] != c["exposure"]):
            out.append((c["name"], o, c))
    return sorted(out, key=lambda x: -(x[1]["exposure"] or 0.0))


def format_score(s, show_all=False, before=None, answers=None, costs=None, source=None):
    """The full breakdown of one unit's score S (BEFORE: its score without
    --with, for the before -> after lines)."""
    answers, costs = answers or {}, costs or {}
    head = f"{s['unit']}: exposure "
    head += (f"{before['exposure']:.1f} {before['level']} → " if before else "")
    lines = [head + f"{s['exposure']:.1f} {s['level']}"]
    for w in s["warnings"]:
        lines.append(f"  warning: {w}")
    if before:
        ch = changed_checks(before, s)
        lines.append(f"  changed by --with ({len(ch)} check{'' if len(ch) == 1 else 's'}):")
        for name, o, c in ch:
            lines.append(f"  {_mark(o)} → {_mark(c)} {name:<50} {o['exposure'] or 0.0:>4.1f} → "
                         f"{c['exposure'] or 0.0:.1f}")
    bad = [c for c in s["checks"] if c["set"] is False]
    good = [c for c in s["checks"] if c["set"] is True]
    na = [c for c in s["checks"] if c["set"] is None]
    bad.sort(key=lambda c: -(c["exposure"] or 0.0))
    lines.append(f"  {'':1} {'open check':<52} {'exposure':>8}  what it means")
    for c in bad:
        lines.append(f"  ✗ {c['name']:<52} {c['exposure'] or 0.0:>8.1f}  {c['description']}")
        fx = fixes_for(c["name"], answers, costs)
        if fx:
            lines.append(f"      closed by: {fx}")
    if show_all:
        for c in good:
            lines.append(f"  ✓ {c['name']:<52} {'':>8}  {c['description']}")
        for c in na:
            lines.append(f"  - {c['name']:<52} {'':>8}  {c['description']}")
    lines.append(f"  {len(bad)} open, {len(good)} closed, {len(na)} not applicable"
                 f"{'' if show_all else ' (--all lists them)'}")
    if source and any(fixes_for(c["name"], answers, costs) for c in bad):
        lines.append(f"  closed by: the catalogue directive (sandbench list directives NAME); its "
                     f"cost as measured in results/published/{source}")
    lines.append("  overall exposure: "
                 + (f"{before['exposure']:.1f} → " if before else "")
                 + f"{s['exposure']:.1f} {s['level']} (0.0 safe .. 10.0 unsafe)")
    return lines


def summary_table(results, befores):
    """One line per unit, worst first."""
    rows = sorted(range(len(results)), key=lambda i: -results[i]["exposure"])
    w = max([len(os.path.basename(r["unit"])) for r in results] + [4])
    lines = [f"{'exposure':>13}  {'level':<8} {'open':>4}  {'unit':<{w}}  worst open checks"]
    for i in rows:
        r, b = results[i], befores[i]
        bad = sorted([c for c in r["checks"] if c["set"] is False],
                     key=lambda c: -(c["exposure"] or 0.0))
        exp = (f"{b['exposure']:.1f} → " if b else "") + f"{r['exposure']:.1f}"
        lines.append(f"{exp:>13}  {r['level']:<8} {len(bad):>4}  "
                     f"{os.path.basename(r['unit']):<{w}}  "
                     + ", ".join(f"{c['name']} {c['exposure'] or 0.0:.1f}" for c in bad[:3]))
    return lines


def main(argv):
    p = _cli.parser("sandbench score", __doc__)
    p.epilog = _cli.exit_text(EXITS)
    p.add_argument("units", metavar="UNIT", nargs="+", help="a .service file or a unit name")
    p.add_argument("--with", dest="dropins", metavar="DROPIN", action="append", default=[],
                   help="apply this drop-in .conf too, or a directive of units/directives/ by "
                        "name (repeatable); shows before -> after")
    p.add_argument("--with-profile", metavar="NAME", action="append", default=[],
                   help="apply every directive of profile NAME (units/profiles/NAME.profile)")
    p.add_argument("--all", action="store_true", help="also list the checks that pass")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="the full breakdown of every unit, not one line each")
    _cli.add_json(p)
    p.add_argument("--threshold", type=float, metavar="N",
                   help="exit 1 when a unit's exposure is above N, naming those units")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    why = check_threshold(args.threshold)
    if why:
        print(f"sandbench score: {why}", file=sys.stderr)
        return 2
    bad = False
    try:
        dropins = [resolve_dropin(d) for d in args.dropins]
        for prof in args.with_profile:
            dropins += [resolve_dropin(d) for d in profile_dropins(prof)]
    except ScoreError as e:
        print(f"sandbench score: {e}", file=sys.stderr)
        return 2
    paths, skipped = [], []
    for u in args.units:
        try:
            path = resolve_unit(u)
        except ScoreError as e:
            print(f"sandbench score: {e}", file=sys.stderr)
            bad = True
            continue
        why = skipped_why(path)
        if why:
            print(f"sandbench score: {path}: {why}, skipped", file=sys.stderr)
            skipped.append({"unit": path, "why": why})
            continue
        paths.append(path)

    def one(path):
        try:
            return (score_unit(path, dropins), score_unit(path) if dropins else None)
        except ScoreError as e:
            return e
    results, befores = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for i, r in enumerate(pool.map(one, paths), 1):
            if isinstance(r, ScoreError):
                print(f"sandbench score: {r}", file=sys.stderr)
                bad = True
            else:
                results.append(r[0])
                befores.append(r[1])
            if len(paths) >= 20 and (i % 25 == 0 or i == len(paths)) and sys.stderr.isatty():
                print(f"sandbench score: {i} of {len(paths)} units", file=sys.stderr)
    text = True
    if args.json or args.json_out:
        source, costs = published_costs()
        answers = catalogue_answers()
        for r, b in zip(results, befores):
            for c in r["checks"]:
                if c["set"] is False and answers.get(c["name"]):
                    c["closed_by"] = [{"directive": n, "measured": costs.get(n),
                                       "set": source if n in costs else None}
                                      for n in answers[c["name"]]]
            if b:
                r["before"] = {"exposure": b["exposure"], "level": b["level"],
                               "changed": [n for n, _, _ in changed_checks(b, r)]}
        doc = {"schema": SCHEMA, "units": results, "skipped": skipped, "costs_from": source}
        text = not _cli.emit_json(doc, args)
    if not text:
        pass
    elif len(results) == 1 or args.verbose:
        source, costs = published_costs()
        answers = catalogue_answers()
        for r, b in zip(results, befores):
            rs.emit("\n".join(format_score(r, args.all, b, answers, costs, source)))
    elif results:
        rs.emit("\n".join(summary_table(results, befores)))
        n = {w: sum(x["why"].startswith(w) for x in skipped) for w in ("masked", "empty")}
        rs.emit(f"{len(results)} units scored"
                + "".join(f", {k} {w} (skipped)" for w, k in n.items() if k)
                + "; sandbench score UNIT (or --verbose) for each check and what closes it")
    if bad:
        return 2
    if args.threshold is not None:
        over = [r for r in results if r["exposure"] > args.threshold]
        if over:
            print(f"sandbench score: {len(over)} unit{'' if len(over) == 1 else 's'} above "
                  f"--threshold {args.threshold:g}: "
                  + ", ".join(f"{os.path.basename(r['unit'])} ({r['exposure']:.1f})"
                              for r in sorted(over, key=lambda r: -r["exposure"])),
                  file=sys.stderr)
            return 1
    return 0
