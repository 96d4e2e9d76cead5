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
import re

from sblib import catalogue as cat
from sblib import templates

UNIT = "sbprobe-{name}.service"
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
    unit = UNIT.format(name=name)
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
        paths[n] = "/run/systemd/system/" + UNIT.format(name=n)
        host.write(paths[n], unit_text(n, d["body"], host.bindir))
    host.systemctl("daemon-reload")
    try:
        for k, n in enumerate(names, 1):
            progress(f"[{k}/{len(names)}] {n}")
            r = host.run(["systemd-analyze", "verify", "--man=no", paths[n]], timeout=60)
            status = judge((r.stdout or "") + (r.stderr or ""), n)
            started = None
            if status == "known":
                s = host.run(["systemctl", "start", UNIT.format(name=n)], timeout=60)
                started = s.returncode == 0
                host.run(["systemctl", "reset-failed", UNIT.format(name=n)], timeout=30)
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
