"""sandbench list: the servers, the directive catalogue and the profiles."""
import argparse
import sys
import textwrap

from sblib import catalogue as cat
from sblib.commands import _cli
from sblib.measuring import kernel
from sblib.measuring import releases
from sblib.records import schema

HELP = "show servers, directives (with what they answer) and profiles"
SCHEMA = schema.tag("list")
SYNOPSIS = ("sandbench list [servers|directives|profiles] [NAME...] [--release R|all] [--json] "
            "[--json-out FILE]")
EXITS = {0: "listed", 2: "bad usage: an unknown option, kind or name (the valid ones are named)"}

USAGE = f"""\
usage: {SYNOPSIS}

Without arguments lists everything. With a kind and NAMEs shows those entries
in full (a directive's header and drop-in, a profile's directives); an unknown
name is an error that lists the valid ones.

  --release R       which directives release R's systemd knows (bullseye,
                    bookworm, bookworm-backports, trixie; all: each release side
                    by side), from units/directives/releases.json (written by
                    scripts/catalogue-releases, which starts each directive under
                    each release); one it does not know is marked UNKNOWN TO
                    systemd N, and a run there marks its variant unsupported
  --json            print one JSON document (schema {SCHEMA}) instead of text
  --json-out FILE   also write that document to FILE

exit status:
""" + "\n".join(f"  {k:<4}{v}" for k, v in sorted(EXITS.items()))


def main(argv):
    ap = argparse.ArgumentParser(prog="sandbench list", usage=SYNOPSIS, add_help=False)
    ap.add_argument("-h", "--help", action="store_true")
    _cli.add_json(ap)
    ap.add_argument("--release", choices=releases.RELEASES + ("all",))
    ap.add_argument("kind", nargs="?")
    ap.add_argument("names", nargs="*")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    if a.help:
        print(USAGE)
        return 0
    kinds = ("servers", "directives", "profiles")
    if a.kind is not None and a.kind not in kinds:
        # `sandbench list NAME`: find it in any kind
        a.names = [a.kind] + a.names
        a.kind = None
        for n in a.names:
            if n not in cat.SERVERS and n not in cat.directive_names() \
                    and n not in cat.profile_names():
                print(f"sandbench list: '{n}' is no server, directive or profile; valid kinds: "
                      f"{', '.join(kinds)}; servers: {', '.join(cat.SERVERS)}; profiles: "
                      f"{', '.join(cat.profile_names())}; directives: see `sandbench list "
                      "directives`", file=sys.stderr)
                return 2
    try:
        data = collect(a.kind, a.names, a.release)
    except cat.CatalogueError as e:
        print(f"sandbench list: {e}", file=sys.stderr)
        return 2
    if _cli.emit_json(dict({"schema": SCHEMA}, **data), a):
        return 0
    try:
        show(data, bool(a.names))
        sys.stdout.flush()
    except BrokenPipeError:  # `sandbench list | head`
        sys.stdout = None
    return 0


def collect(kind, names, release=None):
    """{"servers": {...}, "directives": {...}, "profiles": {...}} restricted to
    KIND and NAMES (raises CatalogueError for an unknown name); with RELEASE
    (a release or "all") each directive's "releases": {release: "known" |
    "unknown: LINE" | "not probed"} and "releases": {release: its systemd}."""
    out = {}
    want = lambda k: kind in (None, k)  # noqa: E731
    if want("servers"):
        sel = names if kind == "servers" and names else \
            [n for n in names if n in cat.SERVERS] if names else list(cat.SERVERS)
        for n in sel:
            if n not in cat.SERVERS:
                raise cat.CatalogueError(cat.unknown("server", n, list(cat.SERVERS)))
        out["servers"] = {n: {k: cat.SERVERS[n][k] for k in ("program", "units", "does")}
                          for n in sel}
    if want("directives"):
        all_d = cat.directive_names()
        sel = names if kind == "directives" and names else \
            [n for n in names if n in all_d] if names else all_d
        fac = kernel.facilities()
        out["directives"] = {}
        for n in sel:
            d = cat.load_directive(n)
            e = {k: v for k, v in d.items() if k not in ("path", "body", "sandbench directive")}
            req = d.get("requires")
            if req and req in fac and not fac[req][0]:
                e["unsupported"] = fac[req][1]
            if names:
                e["dropin"] = d["body"].split("\n[", 1)[-1] if "\n[" in d["body"] else ""
                e["dropin"] = "[" + e["dropin"] if e["dropin"] else ""
            out["directives"][n] = e
        if release:
            doc = releases.load()
            rels, rows = releases.support_table(doc, sel, None if release == "all" else release)
            out["releases"] = {r: (doc.get("releases") or {}).get(r, {}).get("systemd")
                               or "not probed (scripts/catalogue-releases --releases " + r + ")"
                               for r in rels}
            for n, per, since in rows:
                out["directives"][n]["releases"] = per
                out["directives"][n]["since"] = since
    if want("profiles"):
        all_p = cat.profile_names()
        sel = names if kind == "profiles" and names else \
            [n for n in names if n in all_p] if names else all_p
        out["profiles"] = {}
        for n in sel:
            dirs, comb = cat.load_profile(n)
            out["profiles"][n] = {"directives": dirs,
                                  "combined": {lbl: ds for lbl, ds in comb}}
    return out


def show(data, full):
    w = 100
    if "servers" in data:
        print("SERVERS (--servers)")
        for n, s in data["servers"].items():
            print(f"  {n:<10} {s['program']:<17} {s['does']}")
            if full:
                print(f"  {'':<10} units: {' '.join(s['units'])}")
        print()
    if "directives" in data:
        print(f"DIRECTIVES (--directives; {len(data['directives'])} in units/directives/)")
        for n, d in data["directives"].items():
            flags = []
            if d.get("calibration") == "yes":
                flags.append("calibration")
            if d.get("unsupported"):
                flags.append("UNSUPPORTED")
            flags += [f"UNKNOWN TO systemd {releases.SYSTEMD.get(r, '?')} ({r})"
                      for r, s in (d.get("releases") or {}).items() if s.startswith("unknown")]
            print(f"  {n:<44} {d.get('directive', '')}" + (f"  [{', '.join(flags)}]" if flags else ""))
            if full:
                for r, s in (d.get("releases") or {}).items():
                    print(f"      {r + ':':<19} {s}")
                for k in ("does", "answers", "suits", "evidence", "requires", "unsupported",
                          "note"):
                    if d.get(k):
                        print(textwrap.fill(d[k], w, initial_indent=f"      {k + ':':<12} ",
                                            subsequent_indent=" " * 19))
                if d.get("dropin"):
                    print("      drop-in:")
                    for line in d["dropin"].strip().splitlines():
                        print("        " + line)
            else:
                print(f"  {'':<44} answers: {d.get('answers', '')[:60]}"
                      f"{'…' if len(d.get('answers', '')) > 60 else ''}; suits: {d.get('suits', '')};"
                      f" evidence: {d.get('evidence', 'none')}")
        print()
    if data.get("releases"):
        show_releases(data)
    if "profiles" in data:
        print("PROFILES (--profile)")
        for n, p in data["profiles"].items():
            extra = "".join(f" + combined '{k}' ({len(v)})" for k, v in p["combined"].items())
            print(f"  {n:<20} {len(p['directives'])} directive(s){extra}")
            if full:
                print(textwrap.fill(" ".join(p["directives"]) or "(none)", w,
                                    initial_indent="      ", subsequent_indent="      "))


def show_releases(data):
    """Directive x release: which each release's systemd knows."""
    rels = list(data["releases"])
    print("RELEASES (--release of run, startup, host up)")
    for r in rels:
        print(f"  {r:<20} {data['releases'][r]}")
    print()
    print(f"  {'directive':<44} " + " ".join(f"{r:<18}" for r in rels))
    for n, d in data["directives"].items():
        cells = [{"known": "yes"}.get(s, "UNKNOWN" if s.startswith("unknown") else s)
                 for s in (d["releases"][r] for r in rels)]
        print(f"  {n:<44} " + " ".join(f"{c:<18}" for c in cells))
    print()
    print("  A baseline of one release beside another's: " + releases.STACK_NOTE + ".")
    print()
