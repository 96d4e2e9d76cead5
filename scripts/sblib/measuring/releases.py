"""Which catalogue directives a release's systemd knows: each directive's
body on a one-shot unit (ExecStart=/bin/true) in a sandbox host booted from
that release's clean root, judged by `systemd-analyze verify` (an unknown
key or a value the parser refuses) and by starting it.

    found = probe(host, cat.directive_names())
    {"private-tmp-yes": {"status": "known", "started": True}, ...}

"known" means this systemd parses every line of the directive; "unknown"
names the line it does not (the directive is newer than the release).
Whether the one-shot started is recorded beside it, but it is no verdict on
the release: a directive that needs the servers' files (LoadCredential=,
RootDirectory=) cannot start on /bin/true anywhere.
"""
import json
import os
import re

from sblib import catalogue as cat
from sblib import templates
from sblib.measuring.kernel import HostError

RELEASES = ("bullseye", "bookworm", "bookworm-backports", "trixie")   # oldest first
DEFAULT_RELEASE = "bookworm"
SYSTEMD = {"bullseye": 247, "bookworm": 252, "bookworm-backports": 254, "trixie": 257}
STACK_NOTE = cat.STACK_NOTE
UNIT = "sbprobe-{name}.service"
INSTALLED = "etc/sandbench-install"   # in a root of ours: the user's packages (--install)


def unit_name(name):
    """The probe unit of directive NAME: a name systemd takes (a drop-in of
    one's own may be called protect-system-strict+read-write-paths, and '+'
    is no unit name character: "Invalid argument" would be read as the
    directive refused)."""
    return UNIT.format(name=re.sub(r"[^A-Za-z0-9:_.-]", "_", name))
# what systemd 247 ... 257 say about a line they do not take
_REFUSED = re.compile(r"Unknown key name|Unknown section|Failed to parse|Invalid|"
                      r"not supported|Unknown value|unknown", re.I)


def unit_text(name, body, bindir):
    """The probe unit of directive NAME (its drop-in BODY merged in)."""
    body = templates.fill(body, templates.placeholders(bindir))
    lines = [ln for ln in body.splitlines()
             if ln.strip() and not ln.startswith("#") and ln.strip() != "[Service]"]
    extra = [ln for ln in lines if not ln.startswith("[")]
    sections = "\n".join(extra)
    return ("[Unit]\nDescription=sandbench catalogue probe: " + name + "\n\n"
            "[Service]\nType=oneshot\nExecStart=/bin/true\n" + sections + "\n")


def judge(verify_output, name):
    """'known' or 'unknown: LINE' from `systemd-analyze verify` output about
    the probe unit of NAME (lines about other units are not its business)."""
    unit = unit_name(name)
    for ln in verify_output.splitlines():
        if unit in ln and _REFUSED.search(ln):
            return "unknown: " + ln.split(unit, 1)[1].lstrip(":0123456789 ")
    return "known"


def probe(host, names, progress=lambda msg: None):
    """NAMES probed in HOST: {name: {"status", "started"}}."""
    out = {}
    paths = {}
    for n in names:
        d = cat.load_directive(n)
        paths[n] = "/run/systemd/system/" + unit_name(n)
        host.write(paths[n], unit_text(n, d["body"], host.bindir))
    host.systemctl("daemon-reload")
    try:
        for k, n in enumerate(names, 1):
            progress(f"[{k}/{len(names)}] {n}")
            r = host.run(["systemd-analyze", "verify", "--man=no", paths[n]], timeout=60)
            status = judge((r.stdout or "") + (r.stderr or ""), n)
            started = None
            if status == "known":
                s = host.run(["systemctl", "start", unit_name(n)], timeout=60)
                started = s.returncode == 0
                host.run(["systemctl", "reset-failed", unit_name(n)], timeout=30)
            out[n] = {"status": status, "started": started}
    finally:
        host.run(["rm", "-f", *paths.values()], timeout=30)
        host.systemctl("daemon-reload", check=False)
    return out


def since(by_release, order):
    """{directive: the first release of ORDER (oldest first) from which on
    every probed release knows it, or None}, from {release: probe()}."""
    out = {}
    names = sorted({n for r in by_release.values() for n in r})
    for n in names:
        first = None
        for rel in order:
            got = by_release.get(rel, {}).get(n)
            if got is None:
                continue
            if got["status"] == "known":
                first = first or rel
            else:
                first = None
        out[n] = first
    return out


# --- a running host's systemd and the directives it knows ------------------------

def load(path=None):
    """units/directives/releases.json (scripts/catalogue-releases), or {}."""
    try:
        with open(path or os.path.join(cat.DIRECTIVES, "releases.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def systemd_major(line):
    """247 from "systemd 247 (247.3-7+deb11u6)", else None."""
    m = re.match(r"systemd (\d+)", line or "")
    return int(m.group(1)) if m else None


def release_by_systemd(line, doc):
    """(release, its releases.json entry) whose systemd is exactly LINE (the
    host's `systemctl --version` first line), else (None, None)."""
    for rel, r in (doc.get("releases") or {}).items():
        if r.get("systemd") == line:
            return rel, r
    return None, None


def _who(host):
    """(systemd major, the release's name or a description) of HOST, cached."""
    w = getattr(host, "_release_who", None)
    if w is None:
        line = (host.run(["systemctl", "--version"]).stdout or "").splitlines()
        line = line[0] if line else ""
        rel, entry = release_by_systemd(line, load())
        name = rel or release_name(host) or "this root"
        w = host._release_who = (systemd_major(line), name, entry, line)
    return w


def refused(host, name):
    """None when HOST's systemd knows directive NAME, else "NAME: unknown to
    systemd N (release R): the line it refuses". From releases.json when the
    host's systemd is one it probed; else (a root the user gave, a directive
    of one's own) probed in the host with `systemd-analyze verify`."""
    if not hasattr(host, "run"):
        return None          # a stand-in host of the unit tests: no systemd to ask
    major, rel, entry, _ = _who(host)
    cache = host.__dict__.setdefault("_refused", {})
    if name not in cache:
        got = ((entry or {}).get("directives") or {}).get(name)
        status = got["status"] if got else verify(host, name)
        cache[name] = None if status == "known" else \
            f"{name}: unknown to systemd {major or '?'} (release {rel}): " \
            + status.split("unknown: ", 1)[-1]
    return cache[name]


def verify(host, name):
    """`systemd-analyze verify` of directive NAME's probe unit in HOST:
    "known" or "unknown: LINE"."""
    path = "/run/sandbench-probe/" + unit_name(name)
    host.write(path, unit_text(name, cat.load_directive(name)["body"], host.bindir))
    try:
        r = host.run(["systemd-analyze", "verify", "--man=no", path], timeout=60)
    finally:
        host.run(["rm", "-f", path], timeout=30)
    return judge((r.stdout or "") + (r.stderr or ""), name)


def support_table(doc, names, release=None):
    """Rows (directive, {release: "known" | "unknown: ..."}, since) of
    releases.json DOC for NAMES, the releases oldest first (or RELEASE)."""
    probed = doc.get("releases") or {}
    rels = [release] if release else list(RELEASES) + [r for r in probed if r not in RELEASES]
    rows = []
    for n in names:
        per = {r: ((probed.get(r, {}).get("directives") or {}).get(n) or {}).get(
            "status", "not probed") for r in rels}
        rows.append((n, per, (doc.get("since") or {}).get(n)))
    return rels, rows


# --- env.json: the stack as the host has it ---------------------------------------

# the packages env.json names (the first installed of each group)
STACK = {"systemd_package": ("systemd",), "libssl_package": ("libssl3t64", "libssl3", "libssl1.1"),
         "glibc_package": ("libc6",)}


def parse_dpkg(text):
    """{package: version} of `dpkg-query -W -f '${db:Status-Status} ${Package} ${Version}\\n'`
    output, installed ones only."""
    out = {}
    for ln in text.splitlines():
        f = ln.split()
        if len(f) == 3 and f[0] == "installed":
            out[f[1]] = f[2]
    return out


def kernel_package(uname_v):
    """"6.1.129-1" from `uname -v` ("#1 SMP PREEMPT_DYNAMIC Debian 6.1.129-1
    (2025-03-06)"), else the whole string."""
    m = re.search(r"Debian (\S+)", uname_v or "")
    return m.group(1) if m else (uname_v or "").strip() or None


def release_name(host, os_release=""):
    """The release HOST booted: a root of ours names it (its marker); else
    its /etc/os-release's VERSION_CODENAME (this machine's, a user's root)."""
    if host.root != "/":
        try:
            with open(os.path.join(host.root, "etc", "sandbench-release")) as f:
                return f.read().strip()
        except OSError:
            pass
    m = re.search(r"^VERSION_CODENAME=\"?([^\"\n]*)", os_release, re.M)
    return m.group(1) if m else None


def stack(host):
    """env.json's facts of HOST's own stack, read inside it: "release",
    "host_tree" (this machine / a clean root of ours / a root of the
    user's), exact package versions of systemd, libssl and glibc
    (dpkg-query in the root) and of the packages of the user's a root was
    built with ("installed_packages", --install), the kernel's (uname -r,
    its Debian version), and how the servers were built."""
    mine = _installed(host)
    pk = sorted({p for ps in STACK.values() for p in ps} | set(mine))
    r = host.run(["dpkg-query", "-W", "-f", "${db:Status-Status} ${Package} ${Version}\\n", *pk],
                 timeout=30)
    got = parse_dpkg(r.stdout or "")
    osr = host.run(["cat", "/etc/os-release"], timeout=10).stdout or ""
    un = host.run(["uname", "-r", "-v"], timeout=10).stdout or ""
    rel = release_name(host, osr)
    out = {"release": rel,
           "host_tree": "this machine" if host.root == "/" else
           "a clean root" if os.path.exists(os.path.join(host.root, "etc", "sandbench-release"))
           else "a root of the user's",
           "kernel_release": un.split()[0] if un.split() else None,
           "kernel_package": kernel_package(un.split(None, 1)[1] if len(un.split()) > 1
                                             else ""),
           "servers_built": (getattr(host, "servers", None) or {}).get("built")
           or "this machine's build"}
    for key, names in STACK.items():
        have = [f"{n} {got[n]}" for n in names if n in got]
        out[key] = have[0] if have else None
    if mine:
        out["installed_packages"] = [f"{n} {got.get(n, '(not installed)')}" for n in mine]
    return out


def _installed(host):
    """The packages of the user's (--install) in HOST's root, or []."""
    if host.root == "/":
        return []
    try:
        with open(os.path.join(host.root, INSTALLED)) as f:
            return f.read().split()
    except OSError:
        return []


# --- the options that choose a host's release -------------------------------------

def add_options(ap):
    """`--release` and `--root` of run and startup (and advise's cost run)."""
    ap.add_argument("--release", choices=RELEASES,
                    help="boot the sandbox host from this Debian release's clean root (built "
                         "once and cached, the servers built inside it against its own "
                         "libraries): systemd %s" % ", ".join(
                             f"{SYSTEMD[r]} ({r})" for r in RELEASES))
    ap.add_argument("--root", metavar="DIR",
                    help="boot the sandbox host from this OS tree instead (default "
                         "$SANDBENCH_ROOT, else this machine)")
    ap.add_argument("--install", action="append", metavar="PACKAGE[,PACKAGE]",
                    help="with --release (or run --upgrade: each release's): these Debian "
                         "packages of the release installed in its root too (a root per "
                         "release and set of packages, built once and cached), e.g. the "
                         "package of the --unit measured")
    ap.add_argument("--show", action="append", metavar="PATH",
                    help="with --release or --root: this machine's PATH shown in the host, "
                         "overlaid so nothing written reaches it (a unit's files in /etc, "
                         "/srv ...; default $SANDBENCH_SHOW, colon-separated)")
    return ap


# a Debian package name (Debian Policy 5.6.7), without apt's globs and regexes
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def parse_install(values):
    """The sorted, distinct package names of --install VALUES (each
    "P[,P...]", the option given any number of times). Raises ValueError
    naming a value that is no Debian package name."""
    out = set()
    for v in values or ():
        for p in v.split(","):
            p = p.strip()
            if not _PACKAGE.match(p):
                raise ValueError(f"--install {p!r}: not a Debian package name (lower case "
                                "letters, digits and + - . only)")
            out.add(p)
    return sorted(out)


def check_options(a):
    """The package names of --install in parsed options A (sorted), after
    checking they go with a release. Raises ValueError saying why not."""
    pkgs = parse_install(getattr(a, "install", None))
    if pkgs and not (getattr(a, "release", None) or getattr(a, "upgrade", None)):
        raise ValueError("--install goes with --release (or --upgrade): it builds that "
                         "release's root with the packages")
    if pkgs and getattr(a, "root", None):
        raise ValueError("--install builds a release's root; a root of one's own (--root) "
                         "holds what was installed in it")
    return pkgs


def host_args(a):
    """sblib.measuring.host.up()'s root, release, packages to install and
    paths to show of parsed options A."""
    out = {"root": getattr(a, "root", None), "release": getattr(a, "release", None)}
    try:
        pkgs = check_options(a)
    except ValueError as e:
        raise HostError(str(e)) from None
    if pkgs:
        out["install"] = pkgs
    if getattr(a, "show", None):
        out["show"] = a.show
    return out
