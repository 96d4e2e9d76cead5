"""The directive catalogue (units/directives/*.conf), profiles
(units/profiles/*.profile) and the reference servers sandbench knows.

A directive file starts with `# key: value` header lines (a line `#   text`
continues the previous value); see units/directives/README.md. A profile is
one directive name a line, `#` comments, `*` for every directive and
`combine PROFILE` for that profile's set measured together as one variant.
Standard library only.
"""
import difflib
import os
import re


UNITS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.realpath(__file__)))), "units")
DIRECTIVES = os.path.join(UNITS, "directives")
PROFILES = os.path.join(UNITS, "profiles")
# said wherever a baseline of one Debian release is set beside another's
# (`--release`: sblib.measuring.releases)
STACK_NOTE = ("a baseline's change from one release to another is the whole stack's "
              "(systemd, glibc, OpenSSL, the servers built against them); a directive's cost "
              "is always against the baseline of its own release")

# The reference servers: which unit files make one instance, which unit is
# started, which unit the directives' drop-ins go to, which units' cgroups
# hold its CPU time, and the URL scheme the load generator uses.
SERVERS = {
    "drop": {
        "program": "lunchd-drop",
        "units": ["lunchd-drop.service"],
        "start": "lunchd-drop.service",
        "target": "lunchd-drop.service",
        "cpu": ["lunchd-drop.service"],
        "does": "starts as root, binds, reads its root-only key, drops privileges itself",
    },
    "activated": {
        "program": "lunchd-activated",
        "units": ["lunchd-activated.socket", "lunchd-activated.service"],
        "start": "lunchd-activated.socket",
        "target": "lunchd-activated.service",
        "cpu": ["lunchd-activated.service"],
        "does": "socket activation (Accept=no), key via LoadCredential=",
    },
    "inetd": {
        "program": "lunchd-activated",
        "units": ["lunchd-activated-inetd.socket", "lunchd-activated-inetd@.service"],
        "start": "lunchd-activated-inetd.socket",
        "target": "lunchd-activated-inetd@.service",
        "cpu": ["system-lunchd\\x2dactivated\\x2dinetd.slice"],
        "default_port": 8443,
        # A new process per connection, each set up by systemd (~40 ms of CPU
        # here): fewer connections and a longer warm-up per slice so that
        # every connection is served before the measured part starts.
        "slice_warmup": 0.6,
        # At a fixed load those starts leak into a window that follows a
        # 0.6 s warm-up: the A/A spread of CPU per request per window was
        # 3.3% (floor ±5.9%, 8 windows), 0.61% after 1.5 s (floor ±0.56%).
        "rate_warmup": 1.5,
        "connections": 4,
        # With a connection per request (close, resume) a request costs a
        # whole unit start (~65 ms), and a slice of fixed length cuts through
        # the ones in flight at both edges: one of 13 in a 1 s slice is ±8%.
        # Such a slice is instead exactly this many connections, from an idle
        # server to the last answer (loadgen -n, no warm-up).
        "slice_connections": {"close": 40, "resume": 40},
        "does": "socket activation (Accept=yes): one process per connection",
    },
    "proxied": {
        "program": "lunchd-backend",
        # The backend takes lunchd-backend.socket's unix socket (started
        # first), so it needs no network at all: PrivateNetwork=yes and
        # RestrictAddressFamilies=AF_UNIX suit it.
        "units": ["lunchd-backend.socket", "lunchd-backend.service", "lunchd-proxy.service"],
        "pre_start": ["lunchd-backend.socket"],
        "upstream": "unix:@RUNDIR@/lunchd-backend.sock",
        "rundir_files": ["lunchd-backend.sock"],
        "default_backend": 8080,
        "start": "lunchd-proxy.service",
        "target": "lunchd-backend.service",
        "cpu": ["lunchd-backend.service", "lunchd-proxy.service"],
        "does": "plain-HTTP backend behind nginx, which terminates TLS",
    },
}


class CatalogueError(Exception):
    pass


def parse_header(text):
    """The `# key: value` header of a directive file as a dict (continuation
    lines joined with one space). Stops at the first non-comment line."""
    out = {}
    last = None
    for line in text.splitlines():
        if not line.startswith("#"):
            if line.strip() == "":
                if out:
                    break
                continue
            break
        body = line[1:]
        m = re.match(r"^ ([A-Za-z][A-Za-z0-9_ -]*?):\s?(.*)$", body)
        if m and not body.startswith("   "):
            last = m.group(1).strip()
            out[last] = m.group(2).strip()
        elif last and body.startswith("   "):
            out[last] = (out[last] + " " + body.strip()).strip()
    return out


def directive_names():
    try:
        return sorted(f[:-5] for f in os.listdir(DIRECTIVES) if f.endswith(".conf"))
    except FileNotFoundError:
        return []


def profile_names():
    try:
        return sorted(f[:-8] for f in os.listdir(PROFILES) if f.endswith(".profile"))
    except FileNotFoundError:
        return []


# drop-ins given as files (`run --directives my.conf`, advise's proposals):
# name (the file's name without .conf) -> path
FILES = {}


def add_file(path):
    """Makes the drop-in file PATH (NAME.conf) a directive named NAME for
    this process; returns NAME. CatalogueError if it is not a readable
    .conf file or its name is a catalogue directive's."""
    name = os.path.basename(path)[:-len(".conf")] if path.endswith(".conf") else ""
    if not name or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$", name):
        raise CatalogueError(f"{path}: a drop-in file is named NAME.conf (letters, digits, "
                             "_ . + -)")
    if not os.path.isfile(path):
        raise CatalogueError(f"{path}: no such drop-in file")
    if os.path.isfile(os.path.join(DIRECTIVES, name + ".conf")):
        raise CatalogueError(f"{path}: '{name}' is a catalogue directive's name; rename the file")
    if FILES.get(name, os.path.abspath(path)) != os.path.abspath(path):
        raise CatalogueError(f"{path}: another drop-in named '{name}' was given")
    FILES[name] = os.path.abspath(path)
    return name


def load_directive(name):
    """Header dict of directive NAME plus "name", "path", "body" (the drop-in
    text) and "suits_list"."""
    path = FILES.get(name) or os.path.join(DIRECTIVES, name + ".conf")
    if not os.path.isfile(path):
        raise CatalogueError(unknown("directive", name, directive_names()))
    with open(path) as f:
        text = f.read()
    d = parse_header(text)
    d["name"] = name
    d["path"] = path
    d["body"] = text
    suits = d.get("suits", "all").split()
    d["suits_list"] = list(SERVERS) if "all" in suits else [s for s in suits if s in SERVERS]
    d.setdefault("evidence", "none")
    return d


EXPECT_METRICS = ("cpu_ns_per_req", "rps")


def parse_expect(text):
    """A calibration's known answer, "METRIC +DELTA[%] [in MODE]" ->
    {"metric", "delta"} (+ "percent": True for a change in percent of the
    baseline, "mode": the one mode whose regime the answer is known in);
    raises CatalogueError on anything else."""
    parts = (text or "").split()
    try:
        if len(parts) not in (2, 4) or parts[0] not in EXPECT_METRICS or \
                parts[1][0] not in "+-" or (len(parts) == 4 and parts[2] != "in"):
            raise ValueError
        pct = parts[1].endswith("%")
        out = {"metric": parts[0], "delta": float(parts[1].rstrip("%") if pct else parts[1])}
        if pct:
            out["percent"] = True
        if len(parts) == 4:
            out["mode"] = parts[3]
        return out
    except ValueError:
        raise CatalogueError(f"expect: '{text}': want METRIC +DELTA[%] [in MODE] with METRIC "
                             f"one of {', '.join(EXPECT_METRICS)}") from None


def is_control(name):
    """Whether directive NAME is a calibration control (a known effect that
    is not hardening: "calibration: yes" or an "expect:" in the catalogue);
    False for a name the catalogue does not know."""
    try:
        d = load_directive(name)
    except CatalogueError:
        return False
    return d.get("calibration", "").strip().lower() in ("yes", "true") or bool(d.get("expect"))


def expectations(names):
    """{directive: parse_expect(...)} for the directives of NAMES that carry one."""
    out = {}
    for n in names:
        d = load_directive(n)
        if d.get("expect"):
            try:
                out[n] = parse_expect(d["expect"])
            except CatalogueError as e:
                raise CatalogueError(f"{d['path']}: {e}") from None
    return out


def unknown(kind, name, valid):
    near = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
    return (f"unknown {kind} '{name}'" + (f" (did you mean {', '.join(near)}?)" if near else "")
            + f"; valid: {', '.join(valid) if valid else '(none)'}")


def load_profile(name, _seen=None):
    """(directives, combines) of profile NAME: the directive names measured
    alone, and a list of (label, [directives]) measured together."""
    path = os.path.join(PROFILES, name + ".profile")
    if not os.path.isfile(path):
        raise CatalogueError(unknown("profile", name, profile_names()))
    seen = (_seen or set()) | {name}
    dirs, combines = [], []
    with open(path) as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line == "*" or line == "all":
                dirs += [d for d in directive_names() if d not in dirs]
            elif line.startswith("combine "):
                other = line.split(None, 1)[1].strip()
                if other in seen:
                    raise CatalogueError(f"profile '{name}' combines '{other}' recursively")
                sub, _ = load_profile(other, seen)
                combines.append((other, sub))
            else:
                if not os.path.isfile(os.path.join(DIRECTIVES, line + ".conf")):
                    raise CatalogueError(f"profile '{name}': " + unknown("directive", line,
                                                                         directive_names()))
                if line not in dirs:
                    dirs.append(line)
    return dirs, combines
