"""Copies of a user's unit side by side, whatever its config says: every
instance is given its own network namespace (`ip netns add` in the sandbox
host, `NetworkNamespacePath=` on each of its units, loopback up), so every
copy keeps `listen 443` or `127.0.0.1:PORT` exactly as written, and where
the service's own stop or start reads a fixed pid file (`PIDFile=` of a
Type=forking service, or one its Exec lines name, as Debian's nginx does
with /run/nginx.pid) that one file is made the instance's own with
`BindPaths=` and systemd is told where it is. The load generator and the
probes open each instance's connections inside its namespace (loadgen
`--netns`, entered() here): a socket keeps the namespace it was made in.

Pure rules (why_not, pid_files, pid_writable, dropins) and the one thing
that touches the running process: entered(path), a setns(2) around the
creation of sockets. Nothing else here runs commands.
"""
import contextlib
import ctypes
import ctypes.util
import ipaddress
import os
import re

from sblib.measuring import unit as _unit

CLONE_NEWNET = 0x40000000
# where an instance's own files live, inside the sandbox host
COPY_DIR = "/run/sandbench/copies"

# directives of a variant that cannot be measured on a copy in its own
# namespace: systemd.exec(5): "If NetworkNamespacePath= is used,
# PrivateNetwork= has no effect" (and the reverse holds for the unit's
# own), so the variant would measure nothing it claims
_NET_KEYS = ("PrivateNetwork", "NetworkNamespacePath", "JoinsNamespaceOf")


def ns_name(tag):
    """The network namespace of instance TAG (/run/netns/NAME in the host)."""
    return f"sandbench-{tag}"


def why_not(texts):
    """Why a unit set (TEXTS {name: unit text}) cannot be copied into
    namespaces of ours, or None: a unit that sets its own network namespace
    (PrivateNetwork=yes, NetworkNamespacePath=, JoinsNamespaceOf=)."""
    for name, text in texts.items():
        secs = _unit.parse(text)
        for sec in secs:
            for k, v in secs[sec]:
                if k == "PrivateNetwork" and _unit.yes(v):
                    return f"{name} has PrivateNetwork=yes (its own network namespace)"
                if k in ("NetworkNamespacePath", "JoinsNamespaceOf") and v:
                    return f"{name} sets {k}={v}"
    return None


def private_network(bodies):
    """Whether drop-ins BODIES give the service PrivateNetwork=yes."""
    vals = [v for b in bodies for sec in _unit.parse(b).values() for k, v in sec
            if k == "PrivateNetwork"]
    return bool(vals) and _unit.yes(vals[-1])


def variant_refused(bodies, socket_activated=False):
    """Why a variant whose drop-ins are BODIES cannot run on a copy in its
    own namespace, or None. PrivateNetwork=yes has no effect beside
    NetworkNamespacePath= (systemd.exec(5)): measured there it would be the
    baseline under another name. A socket-activated service is the
    exception: its socket is bound in the copy's namespace, where the load
    reaches it, and the service alone gets its private one (dropins() then
    leaves the service's NetworkNamespacePath= out), as on a machine.
    IPAddressDeny= (cgroup BPF) and RestrictAddressFamilies= (seccomp) act
    in any namespace and are kept."""
    for b in bodies:
        secs = _unit.parse(b)
        for sec in secs:
            for k, v in secs[sec]:
                if k == "PrivateNetwork" and _unit.yes(v) and not socket_activated or \
                        k in ("NetworkNamespacePath", "JoinsNamespaceOf") and v:
                    return (f"{k}={v}: every copy of the unit runs in a network namespace of "
                            "its own (NetworkNamespacePath=), beside which this has no effect "
                            "(systemd.exec(5)); run with --copies ports to measure it one at "
                            "a time")
    return None


def pid_files(service_text):
    """The fixed pid files of a service that two copies would fight over:
    every absolute PIDFile= (systemd reads it whatever the Type: copies of
    Debian's lighttpd, Type=simple, sharing /run/lighttpd.pid ended one
    another: a copy's main PID read from the file another copy wrote, and
    when that one stopped, systemd took the first for "Deactivated
    successfully"), and one its Exec lines name (nginx's ExecStop
    `start-stop-daemon --pidfile /run/nginx.pid`)."""
    secs = _unit.parse(service_text)
    svc = secs.get("Service", [])
    execs = " ".join(v for k, v in svc if k.startswith("Exec"))
    out = [v for k, v in svc if k == "PIDFile" and v.startswith("/")]
    out += re.findall(r"--pidfile[= ](/[\w/.-]+)", execs)
    return list(dict.fromkeys(out))


def _paths(bodies, key):
    out = []
    for b in bodies:
        secs = _unit.parse(b)
        for sec in secs:
            for k, v in secs[sec]:
                if k == key:
                    out += [p.lstrip("-+") for p in v.split()] if v else []
    return out


def _under(path, roots):
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def pid_writable(bodies, path):
    """Whether the directives BODIES leave PATH writable. A BindPaths= of
    ours would stay writable under ProtectSystem=strict (a mount of its own
    is not remounted read-only), so where the directives make the pid
    file's place read-only the copy gets no bind and fails as the unit
    would on the machine."""
    prot = [v for b in bodies for sec in _unit.parse(b).values() for k, v in sec
            if k == "ProtectSystem"]
    ro = _paths(bodies, "ReadOnlyPaths") + _paths(bodies, "InaccessiblePaths")
    rw = _paths(bodies, "ReadWritePaths")
    strict = bool(prot) and prot[-1].strip().lower() == "strict"
    top = "/" + path.strip("/").split("/", 1)[0]
    if strict and top not in ("/dev", "/proc", "/sys", "/tmp") and not _under(path, rw):
        return False
    if _under(path, ro) and not _under(path, rw):
        return False
    return True


def own_pid_path(tag, path):
    """Where instance TAG's copy of pid file PATH lives in the host."""
    return f"{COPY_DIR}/{tag}/{path.strip('/').replace('/', '_')}"


def dropins(names, service, tag, pids, bodies):
    """{unit-dir relative path: text}: NetworkNamespacePath= for every unit
    of the instance (NAMES: its renamed units), and on SERVICE (renamed) its
    own copy of each pid file PIDS, read-only where the variant's drop-ins
    BODIES make the original read-only."""
    out = {}
    ns = f"/run/netns/{ns_name(tag)}"
    # a socket-activated service with PrivateNetwork=yes: the socket in the
    # copy's namespace, the service in its own private one
    own = private_network(bodies) and any(n.endswith(".socket") for n in names)
    for n in names:
        sec = "Socket" if n.endswith(".socket") else "Service" if n.endswith(".service") else None
        if sec == "Service" and own:
            continue
        if sec:
            out[f"{n}.d/40-sandbench-netns.conf"] = (
                "# sandbench: this copy's own network namespace (its ports as written)\n"
                f"[{sec}]\nNetworkNamespacePath={ns}\n")
    if pids:
        lines = ["# sandbench: this copy's own pid file (systemd reads it from the host)",
                 "[Service]"]
        for p in pids:
            # where the directives make the original read-only, no bind: the
            # copy writes the host's file, fails on it as the unit would on the
            # machine (EROFS), and a bind onto a file that another copy's stop
            # removed cannot fail for a reason of ours (status=226/NAMESPACE)
            if pid_writable(bodies, p):
                lines.append(f"BindPaths={own_pid_path(tag, p)}:{p}")
        lines.append(f"PIDFile={own_pid_path(tag, pids[-1])}")
        out[f"{service}.d/40-sandbench-pidfile.conf"] = "\n".join(lines) + "\n"
    return out


def extra_address(url):
    """The URL's host when it is an IP address that loopback does not have
    (a config listening on a specific address): the instance's namespace
    gets it on lo. None for loopback and host names."""
    m = re.match(r"^https?://(\[[^\]]+\]|[^/:]+)", url or "")
    if not m:
        return None
    try:
        ip = ipaddress.ip_address(m.group(1).strip("[]"))
    except ValueError:
        return None
    return None if ip.is_loopback or ip.is_unspecified else str(ip)


def setup_argv(tag, url):
    """The commands (argv lists, run in the host) that make instance TAG's
    namespace: a fresh one, loopback up, and the URL's own address on it."""
    ns = ns_name(tag)
    cmds = [["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "set", "lo", "up"]]
    addr = extra_address(url)
    if addr:
        plen = 128 if ":" in addr else 32
        cmds.append(["ip", "-n", ns, "addr", "add", f"{addr}/{plen}", "dev", "lo"])
    return cmds


_libc = None


def _setns(fd):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


@contextlib.contextmanager
def entered(path):
    """Inside the network namespace file PATH (None: stay) for the sockets
    made in the block; back in this thread's own namespace after it."""
    if not path:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            _setns(fd)
        finally:
            os.close(fd)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)
