"""sandbench host: the real systemd that units run under (see _host.py)."""
import argparse
import os
import signal
import subprocess
import sys

from sblib.commands import _cli
from sblib.measuring import host as _host
from sblib.measuring import plan, releases
from sblib.measuring import roots as _roots
from sblib.records import schema

HELP = "boot, inspect, use and power off the systemd sandbox host"

SYNOPSIS = """sandbench host [--name NAME] up [--lock-timeout S] [--release R | --root DIR]
                                            [--install PACKAGE[,PACKAGE]] [--show PATH]...
       sandbench host root [--release R] [--install PACKAGE[,PACKAGE]] [--servers]
       sandbench host [--name NAME] status [--json] [--json-out FILE]
       sandbench host [--name NAME] exec -- CMD [ARGS...]
       sandbench host [--name NAME] install [--set KEY=VALUE]... FILE...
       sandbench host [--name NAME] down"""
SCHEMA = schema.tag("host-status")
EXITS = {0: "done (status: the host is up)",
         1: "failed (the message says why); status: the host is not up; exec: the host is "
            "not up",
         2: "bad usage (an unknown subcommand or option, not root)",
         _host.EX_TEMPFAIL: "another process held this host name's lock for the whole "
                            "--lock-timeout"}

USAGE = "usage: " + SYNOPSIS + """

Where systemd is PID 1 the host is this machine (units go to
/run/systemd/system). Elsewhere `up` boots this machine's systemd in a
container with systemd-nspawn (sharing the network, the repository bound
read-only at /opt/sandbench, holding /run/lock/sandbench-host.NAME.lock and
a port range's lock for its whole life, in cgroups of its own name) and
leaves it running until `down`. Hosts of other names come up beside it,
each serving on ports of its own range. `up` is idempotent and removes a
stale container of the same name from an interrupted run.

  up       boot (or reuse) the host; create user lunchd, /etc/sandbench/tls
           (key.pem 0600, cert.pem, chain.pem), /srv/sandbench, /run/sandbench
           --root DIR: boot the OS tree DIR instead of this machine (read-only
           under a tmpfs; default $SANDBENCH_ROOT), showing none of this
           machine's files but each --show PATH (default $SANDBENCH_SHOW,
           colon-separated), overlaid so nothing written reaches it
           --release R: boot release R's clean root (see root); a clean
           root's host runs the servers built inside it, against its own
           glibc, OpenSSL and liburing, at /opt/sandbench-bin
           --install PACKAGE[,PACKAGE]: with --release, R's root holding
           these Debian packages of R too (built once per set, cached)
  root     print the path of a clean Debian root of release R (bullseye,
           bookworm (default), bookworm-backports, trixie) holding only the
           sandbox host's packages (scripts/deps --host-list R), built once
           with mmdebstrap and cached in /var/cache/sandbench/roots;
           --servers: print the directory of the servers built inside it;
           --install PACKAGE[,PACKAGE]: the root holding these packages too
  status   mode, PIDs, systemd state, installed units (exit 1 when not up)
  exec     run CMD inside the host (systemctl, journalctl, systemd-analyze...)
  install  copy unit files / drop-ins (DIR.d/NAME.conf keeps its DIR.d) into
           /run/systemd/system with @BINDIR@ @TLSDIR@ @CONTENTDIR@ @RUNDIR@
           @CONFDIR@ @USER@ (and --set KEY=VALUE ones) filled; daemon-reload
  down     stop everything and power the container off

options:
  --name NAME         container name (default: sandbench)

exit status:
""" + "\n".join(f"  {k:<4}{v}" for k, v in sorted(EXITS.items())) + """
  exec returns the command's own exit status.
"""


def main(argv):
    ap = argparse.ArgumentParser(prog="sandbench host", usage=SYNOPSIS, add_help=False)
    ap.add_argument("-h", "--help", action="store_true")
    ap.add_argument("--name", default="sandbench")
    ap.add_argument("cmd", nargs="?")
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    if a.help or a.cmd in ("help",):
        print(USAGE)
        return 0
    if a.cmd is None:
        print(USAGE, file=sys.stderr)
        return 2
    if not a.name.replace("-", "").replace("_", "").isalnum():
        print(f"sandbench host: bad --name '{a.name}' (letters, digits, - and _)", file=sys.stderr)
        return 2
    if os.geteuid() != 0 and a.cmd not in ("status", "root"):
        print("sandbench host: must run as root (systemd-nspawn, nsenter, /run/systemd)",
              file=sys.stderr)
        return 2
    cmds = {"up": cmd_up, "status": cmd_status, "exec": cmd_exec,
            "install": cmd_install, "down": cmd_down, "root": cmd_root}
    if a.cmd not in cmds:
        print(f"sandbench host: unknown subcommand '{a.cmd}'; valid: {', '.join(cmds)}",
              file=sys.stderr)
        return 2
    try:
        return cmds[a.cmd](a.name, a.rest)
    except (_host.HostError, _roots.RootError) as e:
        print(f"sandbench host: {e}", file=sys.stderr)
        return _host.EX_TEMPFAIL if isinstance(e, _host.LockBusy) else 1


def cmd_up(name, rest):
    ap = argparse.ArgumentParser(prog="sandbench host up")
    ap.add_argument("--lock-timeout", type=float, default=300)
    ap.add_argument("--boot-timeout", type=float, default=90)
    ap.add_argument("--show", action="append", metavar="PATH")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--root", metavar="DIR")
    which.add_argument("--release", choices=_roots.RELEASES)
    ap.add_argument("--install", action="append", metavar="PACKAGE[,PACKAGE]")
    a = ap.parse_args(rest)
    install = _install(a)
    # SIGTERM during boot must tear down like SIGINT does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    h = _host.up(name, owner=0, lock_timeout=a.lock_timeout, boot_timeout=a.boot_timeout,
                 root=a.root, show=a.show, release=a.release, install=install)
    print(f"host '{name}' {'up' if h.owned else 'already up'}: mode {h.mode}, "
          f"systemd pid {h.leader}" + (f", nspawn pid {h.nspawn_pid}" if h.nspawn_pid else "")
          + (f", root {h.root}" if h.root != "/" else "")
          + (f"; servers {h.servers['built']}" if h.servers else ""))
    return 0


def cmd_root(name, rest):
    ap = argparse.ArgumentParser(prog="sandbench host root")
    ap.add_argument("--release", default=_roots.DEFAULT_RELEASE, choices=_roots.RELEASES)
    ap.add_argument("--servers", action="store_true")
    ap.add_argument("--install", action="append", metavar="PACKAGE[,PACKAGE]")
    a = ap.parse_args(rest)
    install = _install(a)
    path = _roots.with_packages(a.release, install)[1] if install else \
        _roots.path_of(a.release, _roots.packages(a.release))
    if os.geteuid() != 0 and (a.servers or not os.path.isdir(os.path.join(path, "usr"))):
        print("sandbench host root: building a root needs root (mmdebstrap, systemd-nspawn)",
              file=sys.stderr)
        return 2
    path = _roots.ensure(a.release, install=install)
    print(_roots.servers(path)[0] if a.servers else path)
    return 0


def _install(a):
    """The packages of `--install`, checked (a bad name, or one without
    --release, is a HostError)."""
    try:
        pkgs = releases.parse_install(a.install)
    except ValueError as e:
        raise _host.HostError(str(e)) from None
    if pkgs and not a.release:
        raise _host.HostError("--install goes with --release: it builds that release's root "
                              "with the packages")
    return pkgs


def status_dict(name):
    h = _host.attach(name)
    if h is None:
        return None, {"name": name, "up": False}
    d = h.state()
    d["up"] = True
    d["system"] = h.is_running()
    try:
        d["cgroup_root"] = h.cgroup_root()
    except (_host.HostError, OSError) as e:
        d["cgroup_root"] = f"unknown: {e}"
    return h, d


def cmd_status(name, rest):
    ap = argparse.ArgumentParser(prog="sandbench host status")
    _cli.add_json(ap)
    a = ap.parse_args(rest)
    h, d = status_dict(name)
    if _cli.emit_json(dict({"schema": SCHEMA}, **d), a):
        pass
    elif h is None:
        print(f"host '{name}': not up")
    else:
        owner = d["owner"] or "none (up until `sandbench host down`)"
        print(f"host '{name}': mode {d['mode']}, systemd {d['system']}, leader pid {d['leader']}, "
              f"nspawn pid {d['nspawn_pid']}, owner {owner}")
        print(f"  unit cgroups under {d['cgroup_root']}")
        if d["mode"] == "nspawn":
            lo = plan.ports(0, 0, d.get("slot", 0))[0]
            print(f"  port range {d.get('slot', 0)}: instances listen from {lo}")
        if d.get("servers"):
            print(f"  servers: {d['servers']['built']}, at {d['bindir']}")
        for p in d["installed"]:
            print(f"  installed {p}")
    return 0 if h else 1


def cmd_exec(name, rest):
    if rest and rest[0] == "--":
        rest = rest[1:]
    if not rest:
        print("usage: sandbench host exec -- CMD [ARGS...]", file=sys.stderr)
        return 2
    h = _host.attach(name)
    if h is None:
        print(f"sandbench host: host '{name}' is not up (sandbench host up)", file=sys.stderr)
        return 1
    return subprocess.call(h.prefix() + rest)


def cmd_install(name, rest):
    ap = argparse.ArgumentParser(prog="sandbench host install")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args(rest)
    extra = {}
    for kv in a.set:
        k, sep, v = kv.partition("=")
        if not sep or not k:
            print(f"sandbench host install: bad --set '{kv}' (KEY=VALUE)", file=sys.stderr)
            return 2
        extra[k] = v
    for f in a.files:
        if not os.path.isfile(f):
            print(f"sandbench host install: no such file '{f}'", file=sys.stderr)
            return 2
    h = _host.attach(name)
    if h is None:
        print(f"sandbench host: host '{name}' is not up (sandbench host up)", file=sys.stderr)
        return 1
    for p in h.install(a.files, extra):
        print(f"installed {p}")
    return 0


def cmd_down(name, rest):
    if rest:
        print("usage: sandbench host down", file=sys.stderr)
        return 2
    was = _host.load_state(name) or _host.nspawn_pids(name)
    _host.down(name)
    print(f"host '{name}' {'down' if was else 'was not up'}")
    return 0
