"""A user's own service, as `run --unit` and `advise` take it: one .service
file, or a .socket with the service it activates (with Accept=yes a template
NAME@.service, one instance per connection), read from the files given.

    spec = server_spec(["my/lunchd.socket", "my/lunchd.service"], url)
    # -> the same shape as a _catalogue.SERVERS entry, named "unit"

Errors are UnitError with one line a user can act on. Also here: what a
failed start's journal says was missing (missing_paths), so a baseline that
cannot start names the file it looked for. Standard library only, no host.
"""
import os
import re

from sblib import catalogue as cat
from sblib.measuring import plan


class UnitError(Exception):
    """A unit file set that cannot be measured; the message says why."""


def parse(text):
    """A unit file as {section: [(key, value), ...]}: comments, blank lines
    and backslash continuations handled as systemd does (enough for the keys
    read here)."""
    out, sec, pending = {}, None, ""
    for raw in text.splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            sec = line[1:-1]
            out.setdefault(sec, [])
        elif "=" in line and sec is not None:
            k, v = line.split("=", 1)
            out[sec].append((k.strip(), v.strip()))
    return out


def last(sections, sec, key, default=None):
    vals = [v for k, v in sections.get(sec, []) if k == key]
    return vals[-1] if vals else default


def yes(v):
    return (v or "").strip().lower() in ("1", "yes", "true", "on")


def read(path):
    """TEXT of unit file PATH; UnitError for a masked unit (a link to
    /dev/null), a directory, an unreadable or non-UTF-8 file."""
    if os.path.realpath(path) == "/dev/null":
        raise UnitError(f"{path} is masked (a link to /dev/null): unmask it, or give the "
                        "unit's real file")
    if not os.path.isfile(path):
        raise UnitError(f"no such unit file '{path}'")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        raise UnitError(f"{path} is not a text unit file (not UTF-8)") from None
    except OSError as e:
        raise UnitError(f"cannot read {path}: {e.strerror}") from None


def server_spec(paths, url):
    """The server spec of a user's unit set PATHS (one .service, or a .socket
    and its service) answering on URL: units, which one is started (the
    socket when there is one), which one gets the directives (the service),
    whose CPU is the cost (the service, or with Accept=yes the slice of its
    per-connection instances)."""
    if not paths:
        raise UnitError("--unit: give the service's unit file")
    m = re.match(r"^https?://(\[[^\]]+\]|[^/:]+)(?::(\d+))?", url or "")
    if not m:
        raise UnitError(f"--url must be http(s)://HOST[:PORT]/...: '{url}'")
    port = int(m.group(2) or (443 if url.startswith("https") else 80))
    byname, texts = {}, {}
    for p in paths:
        name = os.path.basename(p)
        if not name.endswith((".service", ".socket")):
            raise UnitError(f"--unit {p}: a .service or .socket file is needed")
        if name in byname:
            raise UnitError(f"--unit {name} is given twice")
        texts[name] = read(p)
        byname[name] = os.path.abspath(p)
    sockets = [n for n in byname if n.endswith(".socket")]
    services = [n for n in byname if n.endswith(".service")]
    if len(sockets) > 1 or len(services) != 1:
        raise UnitError("--unit: give one .service, or one .socket and the service it "
                        f"activates (got {', '.join(byname)})")
    svc = services[0]
    templ = plan.unit_stem(svc)[2]
    spec = {"name": "unit", "paths": byname, "default_port": port,
            "side": any("@PORT@" in t for t in texts.values())}
    if not sockets:
        if templ:
            raise UnitError(f"--unit {svc} is a template: give the .socket that starts its "
                            "instances too")
        spec.update(units=[svc], start=svc, target=svc, cpu=[svc])
        return spec
    sock = sockets[0]
    ss = parse(texts[sock])
    accept = yes(last(ss, "Socket", "Accept"))
    stem = plan.unit_stem(sock)[0]
    want = last(ss, "Socket", "Service") or (f"{stem}@.service" if accept else f"{stem}.service")
    if want != svc:
        raise UnitError(f"{sock} activates {want} (Accept={'yes' if accept else 'no'}"
                        f"{', Service=' if last(ss, 'Socket', 'Service') else ''}), "
                        f"not the {svc} given")
    if accept != templ:
        raise UnitError(f"{sock} has Accept={'yes' if accept else 'no'}, so its service "
                        f"must {'' if accept else 'not '}be a template NAME@.service")
    spec.update(units=[sock, svc], start=sock, target=svc)
    # systemd binds the socket, so the service does not care which port it
    # has: instances side by side, each socket moved to its own port
    listen = [v for k, v in ss.get("Socket", []) if k == "ListenStream"]
    if listen and all(re.search(rf"(?<![0-9.]){port}$", v) for v in listen):
        spec["side"] = True
    if accept:
        # as the catalogue's inetd server: the slice of the per-connection
        # instances is the cost; counted slices where a connection is a start
        inetd = cat.SERVERS["inetd"]
        spec["cpu"] = ["system-" + plan.unit_stem(svc)[0].replace("-", "\\x2d") + ".slice"]
        for k in ("slice_warmup", "connections", "slice_connections"):
            spec[k] = inetd[k]
    else:
        spec["cpu"] = [svc]
    return spec


# a path in a journal line: quoted, or before ": No such file" and the like
_PATH = re.compile(r"""(?<![\w./-])(/[^\s'"`:,;()]+)""")
_MISSING = re.compile(r"No such file or directory|not found|does not exist|cannot open|"
                      r"can't open|Failed to open|failed to open|No such", re.I)


def missing_paths(reason, exists):
    """Paths named in REASON (a start's journal) on a line that says
    something was missing, for which EXISTS(path) is False, in order."""
    out = []
    for seg in re.split(r"\s\|\s|\n", reason or ""):
        if not _MISSING.search(seg):
            continue
        for p in _PATH.findall(seg):
            p = p.rstrip(".")
            if p not in out and len(p) > 1 and not exists(p):
                out.append(p)
    return out


# where a path lives that the sandbox host does not show as the machine has it
HIDDEN = {"/tmp": "a fresh tmpfs in the sandbox host",
          "/run": "the sandbox host's own /run (runtime state is not shared)"}


def explain_missing(paths, on_machine=os.path.exists, link_of=lambda p: None, root="/"):
    """One sentence per missing path: a dangling symlink (LINK_OF gives its
    target in the host), whether the machine has it (then why the sandbox
    host does not show it), or not. ROOT: the tree the host booted."""
    out = []
    for p in paths:
        top = "/" + p.strip("/").split("/", 1)[0]
        link = link_of(p)
        if link is not None:
            out.append(f"{p} is a symlink to {link}, which does not exist "
                       "(is the package that ships it installed?)")
        elif root != "/":
            out.append(f"{p} does not exist in the host's root {root}, which shows none of "
                       "this machine's files" + (" (this machine has it: show it with "
                                                 "--show or SANDBENCH_SHOW)" if on_machine(p)
                                                 else ""))
        elif on_machine(p) and top in HIDDEN:
            out.append(f"{p} exists on this machine but under {top}, {HIDDEN[top]}: "
                       "keep the service's files elsewhere (/etc, /srv, /var/lib ...)")
        elif on_machine(p):
            out.append(f"{p} exists on this machine but the service could not open it "
                       "(permissions of the user it runs as?)")
        else:
            out.append(f"{p} does not exist on this machine")
    return out
