"""sandbench score UNIT_FILE...: the exposure of a unit file, without starting it.

Runs `systemd-analyze security --offline=yes` on each file (drop-ins in a
UNIT.d/ directory beside it are read as systemd would; --with adds more), and
prints the per-check breakdown, worst first, and the overall exposure:
0.0 (safe) .. 10.0 (unsafe). Works where systemd is not PID 1: offline mode
reads the file only.

Exit 0; 1 when --threshold is given and a unit scores above it; 2 on bad
input (missing file, a unit systemd refuses, systemd-analyze missing).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

from . import _results as rs

HELP = "exposure of unit files without starting them (systemd-analyze security --offline)"

UNIT_SUFFIXES = (".service",)
OVERALL = re.compile(r"Overall exposure level for (\S+): (\d+(?:\.\d+)?) (\w+)")


class ScoreError(Exception):
    """The unit could not be scored; the message says why."""


PLACEHOLDER = re.compile(r"@[A-Z][A-Z0-9_]*@")
CATALOGUE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "units", "directives")


def fill_placeholders(text):
    """sandbench's own unit templates carry @BINDIR@-style placeholders that
    `sandbench run` fills at install time; fill them the same way so the
    score is that of the unit as installed."""
    if not PLACEHOLDER.search(text):
        return text
    try:
        from . import _host
        return _host.fill(text, _host.placeholders("/opt/sandbench/bin"))
    except ImportError:
        return text
    except Exception as e:  # _host.HostError: an unknown placeholder
        raise ScoreError(str(e)) from None


def resolve_dropin(arg):
    """A drop-in path, or the name of a directive of the catalogue (units/directives/NAME.conf)."""
    if os.path.exists(arg) or "/" in arg:
        return arg
    name = arg[:-5] if arg.endswith(".conf") else arg
    cand = os.path.join(CATALOGUE, name + ".conf")
    return cand if os.path.isfile(cand) else arg


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


def format_score(s, show_all=False):
    lines = [f"{s['unit']}: exposure {s['exposure']:.1f} {s['level']}"]
    for w in s["warnings"]:
        lines.append(f"  warning: {w}")
    bad = [c for c in s["checks"] if c["set"] is False]
    good = [c for c in s["checks"] if c["set"] is True]
    na = [c for c in s["checks"] if c["set"] is None]
    bad.sort(key=lambda c: -(c["exposure"] or 0.0))
    lines.append(f"  {'':1} {'check':<52} {'exposure':>8}  what it means")
    for c in bad:
        lines.append(f"  ✗ {c['name']:<52} {c['exposure'] or 0.0:>8.1f}  {c['description']}")
    if show_all:
        for c in good:
            lines.append(f"  ✓ {c['name']:<52} {'':>8}  {c['description']}")
        for c in na:
            lines.append(f"  - {c['name']:<52} {'':>8}  {c['description']}")
    lines.append(f"  {len(bad)} open, {len(good)} closed, {len(na)} not applicable"
                 f"{'' if show_all else ' (--all lists them)'}")
    lines.append(f"  overall exposure: {s['exposure']:.1f} {s['level']} (0.0 safe .. 10.0 unsafe)")
    return lines


def main(argv):
    p = argparse.ArgumentParser(
        prog="sandbench score", description=HELP,
        epilog="exit 0: scored; 1: a unit scored above --threshold; 2: bad input")
    p.add_argument("units", metavar="UNIT_FILE", nargs="+", help="a .service file")
    p.add_argument("--with", dest="dropins", metavar="DROPIN", action="append", default=[],
                   help="apply this drop-in .conf too, or a directive of units/directives/ by "
                        "name (repeatable)")
    p.add_argument("--all", action="store_true", help="also list the checks that pass")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--threshold", type=float, metavar="N",
                   help="exit 1 when a unit's exposure is above N")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    results = []
    for u in args.units:
        try:
            results.append(score_unit(u, args.dropins))
        except ScoreError as e:
            print(f"sandbench score: {e}", file=sys.stderr)
            return 2
    if args.json:
        rs.emit(json.dumps(results, indent=1))
    else:
        for r in results:
            rs.emit("\n".join(format_score(r, args.all)))
    if args.threshold is not None and any(r["exposure"] > args.threshold for r in results):
        return 1
    return 0
