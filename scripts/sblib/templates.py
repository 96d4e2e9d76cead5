"""The placeholders of sandbench's unit files (@BINDIR@, @TLSDIR@ ...):
the paths inside the sandbox host that the units are written for, and the
one function that fills them. Pure: `score` fills them without a host."""
import re


class TemplateError(ValueError):
    """A unit file holds a placeholder nobody knows."""


# Paths inside the host (container or machine) the units are written for.
PATHS = {
    "TLSDIR": "/etc/sandbench/tls",
    "CONTENTDIR": "/srv/sandbench",
    "RUNDIR": "/run/sandbench",
    "CONFDIR": "/etc/sandbench",
    "USER": "lunchd",
    "GROUP": "lunchd",
    # servers/proxy/nginx.conf's defaults (one instance on 443, backend on 8080)
    "LISTEN": "443",
    "UPSTREAM": "127.0.0.1:8080",
}


def placeholders(bindir):
    """The @KEY@ substitutions for unit files, for units running on a host
    whose build binaries are in BINDIR."""
    m = dict(PATHS)
    m["BINDIR"] = bindir
    return m


def fill(text, mapping):
    """Replaces every @KEY@ of MAPPING in TEXT. An @WORD@ left over that looks
    like a placeholder (upper case, digits, _) raises HostError so a unit is
    never installed half filled."""
    for k, v in mapping.items():
        text = text.replace(f"@{k}@", str(v))
    left = sorted(set(re.findall(r"@([A-Z][A-Z0-9_]*)@", text)))
    if left:
        raise TemplateError(f"unknown placeholder(s) {', '.join('@%s@' % x for x in left)}; "
                        f"known: {', '.join('@%s@' % k for k in sorted(mapping))}")
    return text
