"""The sandbox host: real systemd that sandbench installs and starts units in.

Where systemd is PID 1 (a normal server, a CI runner) the host is this
machine: units go to /run/systemd/system. Elsewhere the host's own systemd is
booted in a container with systemd-nspawn that shares the host network (the
load generator stays outside and reaches the servers over loopback), and every
command goes in with nsenter.

    host = up("sandbench", owner=os.getpid())   # boots (or reuses) it
    host.run(["systemctl", "start", "x.service"])
    host.install(["units/lunchd-drop.service"])
    host.cpu_usec("x.service")                   # read from the host's cgroupfs
    down("sandbench")

The container's whole life is covered by two flocks whose descriptors
systemd-nspawn inherits, so they go exactly when the container does: its
name's (lock_path(NAME): a second `up` of that name waits, then says who
holds it) and a port range's (ports.take_slot(): every host has a range of
its own, so hosts up at once never serve on the same port). Each container
runs in cgroups of its own name (cgroups.enter(): systemd-nspawn would put
every container's payload in the same "/payload").

State lives in STATE_DIR/NAME.json: {"name", "mode", "nspawn_pid", "leader",
"owner", "installed", "started"}. owner is the PID of the process that will
power the container off (0: left up on purpose by `sandbench host up`). A
container whose owner is dead is stale and is removed by the next up().
Standard library only.
"""
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from sblib.measuring.kernel import HostError, alive, children, cmdline, reap, wait_gone
from sblib.measuring.handle import OPT, ROOT_BIN, STATE_DIR, UNIT_DIR, Host, fill, remove_unit_files  # noqa: F401 - used as host.NAME
from sblib.measuring import cgroups, ports, roots
from sblib.templates import PATHS
from sblib.util import repo_root

LOCK_DIR = "/run/lock"


def lock_path(name):
    """The flock file of sandbox host NAME (held for the container's life)."""
    return os.path.join(LOCK_DIR, f"sandbench-host.{name}.lock")

# The container's root is a tmpfs with the machine's /usr (--volatile=yes);
# every other top-level directory of the machine is overlaid on it with a
# writable layer that nspawn removes with the container, so a user's unit
# finds its config in /etc, content in /srv or /var/www, state in /var/lib
# and homes as on the real machine, and nothing it writes reaches them.
# (nspawn refuses --volatile=overlay on /.) Not overlaid: what nspawn mounts
# itself, and /tmp (a fresh tmpfs, as on a booted machine).
TREE_SKIP = {"usr", "proc", "sys", "dev", "run", "tmp", "lost+found"}
BOOT_TARGET = "sandbench-host.target"


def tree_overlays(root="/"):
    """systemd-nspawn --overlay= arguments showing ROOT's top-level
    directories (not symlinks, not TREE_SKIP) in the container."""
    out = []
    for n in sorted(os.listdir(root)):
        p = os.path.join(root, n)
        if n in TREE_SKIP or os.path.islink(p) or not os.path.isdir(p) or ":" in p:
            continue
        out.append(f"--overlay={p}::{p}")
    return out


# never to run in a container that shares the machine's network (the boot
# target does not pull them in; a unit being measured must not either)
NSPAWN_MASKS = ("systemd-networkd.service", "systemd-networkd.socket",
                "systemd-networkd-wait-online.service")


class LockBusy(HostError):
    """Another sandbox host held the lock for the whole wait."""


EX_TEMPFAIL = 75  # exit status of commands that gave up waiting for the lock


def log(msg):
    print(f"host: {msg}", file=sys.stderr, flush=True)


def have_systemd_pid1():
    """True when this machine runs systemd as PID 1 (sd_booted())."""
    return os.path.isdir("/run/systemd/system")


# --- cgroups -------------------------------------------------------------------

def nspawn_pids(name):
    """PIDs of systemd-nspawn processes running a container called NAME."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        argv = cmdline(int(d))
        if not argv or os.path.basename(argv[0]) != "systemd-nspawn":
            continue
        for i, a in enumerate(argv):
            if (a in ("-M", "--machine") and i + 1 < len(argv) and argv[i + 1] == name) \
                    or a == f"--machine={name}":
                out.append(int(d))
                break
    return out


# --- life cycle ----------------------------------------------------------------

def state_path(name):
    return os.path.join(STATE_DIR, name + ".json")


def load_state(name):
    try:
        with open(state_path(name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def attach(name="sandbench"):
    """The running host NAME, or None. PID-1 hosts are always there."""
    st = load_state(name)
    if st:
        h = Host(st["name"], st["mode"], st.get("leader", 1), st.get("nspawn_pid", 0),
                 st.get("owner", 0), st.get("installed"), st.get("started"),
                 st.get("root", "/"), st.get("show", []), st.get("bindir"), st.get("servers"),
                 st.get("slot", 0))
        if h.alive():
            return h
        return None
    return None


def remove_stale(name):
    """Powers off and removes a container NAME whose owner is gone, and any
    systemd-nspawn still running under that name without a state file."""
    st = load_state(name)
    pids = set(nspawn_pids(name))
    if st and st.get("mode") == "nspawn" and st.get("nspawn_pid"):
        if alive(st["nspawn_pid"]):
            pids.add(st["nspawn_pid"])
    if pids:
        log(f"removing stale container '{name}' (systemd-nspawn pid {', '.join(map(str, sorted(pids)))})")
        stop_nspawn(sorted(pids), [st.get("leader")] if st else [])
    if pids:
        cgroups.remove(name)
    if st and st.get("mode") == "pid1":
        _pid1_cleanup(st.get("installed") or [])
    try:
        os.unlink(state_path(name))
    except FileNotFoundError:
        pass


def stop_nspawn(nspawn, leaders=(), timeout=20):
    """SIGTERM to systemd-nspawn makes it power the container off; SIGKILL
    whatever is left after TIMEOUT."""
    for p in nspawn:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    if not wait_gone(nspawn, timeout):
        for p in list(nspawn) + [x for x in leaders if x]:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_gone(nspawn, 5)
    for p in nspawn:
        reap(p)


def _pid1_cleanup(installed):
    units = [os.path.basename(p) for p in installed if not os.path.dirname(p).endswith(".d")]
    if units:
        subprocess.run(["systemctl", "stop", *units], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    remove_unit_files(installed)
    if installed:
        subprocess.run(["systemctl", "daemon-reload"], timeout=60)


def _lock(name, timeout):
    """Opens and flocks NAME's lock, waiting up to TIMEOUT seconds. Returns
    the fd. Hosts of other names do not wait for it."""
    path = lock_path(name)
    os.makedirs(LOCK_DIR, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    end = time.monotonic() + timeout
    said = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= end:
                os.close(fd)
                raise LockBusy(f"{path}: another process holds sandbox host '{name}' (up or "
                               f"booting) for {timeout:.0f}s; try again later, another --name, "
                               "or --lock-timeout")
            if not said:
                log(f"waiting for {path} (sandbox host '{name}' is in use)")
                said = True
            time.sleep(0.5)


def _find_leader(nspawn_pid, timeout):
    """PID of the container's systemd: nspawn's child running systemd."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not alive(nspawn_pid):
            return None
        for c in children(nspawn_pid):
            argv = cmdline(c)
            if argv and os.path.basename(argv[0]) in ("systemd", "init"):
                return c
        time.sleep(0.05)
    return None


def host_root(root=None, release=None, install=()):
    """The tree a container boots: RELEASE's clean root (built first if need
    be: sblib.measuring.roots; with the packages INSTALL too), else ROOT,
    else $SANDBENCH_ROOT, else "/" (this machine's /usr with its /etc, /var
    ... overlaid)."""
    if release and root:
        raise HostError("give a release or a root, not both")
    if install and not release:
        raise HostError("--install builds a root of a release with the packages: give "
                        "--release (a root of one's own holds what one installed in it)")
    if release:
        try:
            return roots.ensure(release, install=install)
        except roots.RootError as e:
            raise HostError(str(e)) from None
    root = root or os.environ.get("SANDBENCH_ROOT") or "/"
    root = os.path.realpath(root)
    if root != "/" and not os.path.isdir(os.path.join(root, "usr")):
        raise HostError(f"root {root} is not an OS tree (no usr/): build one with "
                        "`sandbench host root`")
    return root


def host_show(show=None):
    """Paths of this machine shown (overlaid) in a host booted from a clean
    root: SHOW (a list), else $SANDBENCH_SHOW (colon-separated)."""
    if show is None:
        show = [p for p in os.environ.get("SANDBENCH_SHOW", "").split(":") if p]
    for p in show:
        if not os.path.isabs(p) or not os.path.exists(p) or "," in p or ":" in p:
            raise HostError(f"cannot show {p!r} in the host: an absolute path that exists, "
                            "without ',' or ':'")
    return sorted(set(os.path.normpath(p) for p in show))


def root_servers(root):
    """{"built": how, "path": the bin directory on this machine or None} of
    the servers a host booted from ROOT runs: built inside ROOT's release
    (sblib.measuring.roots.servers), else this machine's build. With
    SANDBENCH_SERVERS=machine always this machine's build."""
    if root == "/":
        return None
    if os.environ.get("SANDBENCH_SERVERS") == "machine":
        return {"built": "this machine's build (SANDBENCH_SERVERS=machine)", "path": None}
    try:
        path, how = roots.servers(root)
    except roots.RootError as e:
        raise HostError(str(e)) from None
    return {"built": how, "path": path}


def nspawn_tree(root, show):
    """systemd-nspawn arguments for the container's files: this machine's
    /usr with its top-level directories overlaid (ROOT "/"), or a clean
    ROOT, read-only under a tmpfs, with only the paths SHOW overlaid."""
    if root == "/":
        return ["-D", "/", "--volatile=yes", *tree_overlays()]
    # CAP_NET_ADMIN, which nspawn drops where the network is shared: trixie's
    # systemd 257 refuses NetworkNamespacePath= without it ("not supported,
    # refusing": a user's unit's copies); 252 joins one with CAP_SYS_ADMIN
    return ["-D", root, "--volatile=overlay", "--capability=CAP_NET_ADMIN",
            *(f"--overlay={p}::{p}" for p in show)]


def up(name="sandbench", owner=None, lock_timeout=300, boot_timeout=90, console=None,
       root=None, show=None, release=None, fixed_ports=True, install=()):
    """Boots (or reuses) the sandbox host NAME and prepares it for the servers.
    OWNER: the PID responsible for powering it off (default: this process;
    0 leaves it up until down()). RELEASE, ROOT, INSTALL and SHOW: see host_root(),
    host_show() (ignored where systemd is PID 1: the host is this machine;
    a RELEASE there is an error). A clean root's host runs the servers built
    inside it (root_servers()). FIXED_PORTS: what it will run may listen on
    fixed ports (443, a unit's own), so it takes port range 0, which only one
    host holds at a time (sblib.measuring.ports); False for a caller whose
    instances all listen in the host's own range (or network namespaces). Returns a Host with host.owned telling
    whether this call created it."""
    if owner is None:
        owner = os.getpid()
    pid1 = have_systemd_pid1()
    if pid1 and release:
        raise HostError(f"cannot boot {release}'s root: systemd is PID 1 here, so the sandbox "
                        "host is this machine itself")
    if pid1 and install:
        raise HostError("cannot --install into a release's root: systemd is PID 1 here, so the "
                        "sandbox host is this machine itself (install the package on it)")
    root, show = ("/", []) if pid1 else (host_root(root, release, install), host_show(show))
    servers = None if pid1 else root_servers(root)
    h = attach(name)
    st = load_state(name) or {}
    in_use = h is not None and (h.owner == 0 or alive(h.owner))
    if in_use and st.get("repo", repo_root()) == repo_root() \
            and st.get("root", "/") == root and st.get("show", []) == show \
            and st.get("servers") == servers \
            and h.is_running() in ("running", "degraded"):
        if fixed_ports and h.slot != 0 and h.mode == "nspawn":
            raise HostError(f"host '{name}' is up on port range {h.slot}; what serves on fixed "
                            "ports (443, a unit's own) needs range 0, which only one host holds: "
                            f"`sandbench host --name {name} down` first")
        h.owned = False
        return h
    if not in_use:
        remove_stale(name)
    # else: another tree's (or a still booting) container of that name is in
    # use; it holds the lock, so wait for it below instead of removing it.
    if pid1:
        h = Host(name, "pid1", owner=owner)
        h.owned = True
        h.save()
        prepare(h)
        return h
    for tool in ("systemd-nspawn", "nsenter"):
        if not shutil.which(tool):
            raise HostError(f"{tool} not found: install systemd-container and util-linux "
                            "(scripts/deps)")
    fd = _lock(name, lock_timeout)
    slot_fds = []
    h = None
    proc = None
    try:
        remove_stale(name)
        try:
            slot, slot_fds = ports.take_slot(name, lock_timeout, fixed=fixed_ports)
        except ports.Busy as e:
            raise LockBusy(str(e)) from None
        cgs = cgroups.make(name)
        os.makedirs(STATE_DIR, exist_ok=True)
        console = console or os.path.join(STATE_DIR, name + ".console")
        argv = ["systemd-nspawn", *nspawn_tree(root, show), "--register=no", "--keep-unit",
                "--boot", "-M", name, "--system-call-filter=bpf",
                f"--bind-ro={repo_root()}:{OPT}",
                f"--bind-ro={os.path.join(repo_root(), 'units', 'host', BOOT_TARGET)}:"
                f"{UNIT_DIR}/{BOOT_TARGET}",
                *([f"--bind-ro={servers['path']}:{ROOT_BIN}"] if (servers or {}).get("path")
                  else []),
                "--", "systemd.firstboot=off", f"systemd.unit={BOOT_TARGET}"]
        argv += [f"systemd.mask={u}" for u in NSPAWN_MASKS]
        with open(console, "wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, pass_fds=(fd, *slot_fds),
                                    start_new_session=True,
                                    preexec_fn=lambda: cgroups.enter(cgs))
        for f in [fd] + slot_fds:
            os.close(f)
        fd, slot_fds = -1, []
        leader = _find_leader(proc.pid, 20)
        if leader is None:
            raise HostError(f"systemd-nspawn exited or started no systemd; see {console}:\n"
                            + _tail(console))
        h = Host(name, "nspawn", leader=leader, nspawn_pid=proc.pid, owner=owner,
                 root=root, show=show, servers=servers,
                 bindir=ROOT_BIN if (servers or {}).get("path") else None, slot=slot)
        h.owned = True
        h.save()
        end = time.monotonic() + boot_timeout
        _wait_booted(h, proc, end, boot_timeout, console)
        if cgroups.delegate_v1(h, log):
            _wait_booted(h, proc, end, boot_timeout, console)
        prepare(h)
        return h
    except BaseException:
        for f in [fd] + slot_fds:
            if f >= 0:
                os.close(f)
        if proc is not None:
            stop_nspawn([proc.pid], [h.leader] if h else [])
        cgroups.remove(name)
        for p in [state_path(name)] + ([console] if sys.exc_info()[0] is KeyboardInterrupt else []):
            try:
                os.unlink(p)
            except (FileNotFoundError, TypeError):
                pass
        raise


def _wait_booted(h, proc, end, boot_timeout, console):
    state = "unreachable"
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise HostError(f"container exited during boot (status {proc.returncode}); "
                            f"see {console}:\n" + _tail(console))
        state = h.is_running()
        if state in ("running", "degraded"):
            return
        time.sleep(0.2)
    raise HostError(f"container did not finish booting in {boot_timeout}s "
                    f"(is-system-running: {state})")


def _tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


CONTENT = {
    "hello.txt": b"Hello from sandbench\n",
    "1k.bin": bytes(range(256)) * 4,
    "16k.bin": bytes(range(256)) * 64,
    "64k.bin": bytes(range(256)) * 256,
}


def prepare(h):
    """Creates what the servers need inside the host: user lunchd, the TLS
    key (root-only) and certificate, the content directory, the run
    directory, nginx's directories and config."""
    r = h.run(["getent", "passwd", PATHS["USER"]])
    if r.returncode != 0:
        h.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
               "--shell", "/usr/sbin/nologin", PATHS["USER"]], check=True)
    tls = PATHS["TLSDIR"]
    if not os.path.exists(h.path(tls + "/key.pem")):
        tmp = tempfile.mkdtemp(prefix="sandbench-tls-")
        try:
            r = subprocess.run([os.path.join(repo_root(), "scripts", "mkcert"), tmp],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                raise HostError(f"scripts/mkcert failed: {r.stdout.strip()}")
            os.makedirs(h.path(tls), exist_ok=True)
            os.chmod(h.path(tls), 0o755)
            for fn, mode in (("key.pem", 0o600), ("cert.pem", 0o644), ("chain.pem", 0o644)):
                with open(os.path.join(tmp, fn), "rb") as f:
                    h.write(f"{tls}/{fn}", f.read(), mode)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    cdir = PATHS["CONTENTDIR"]
    for fn, data in CONTENT.items():
        if not os.path.exists(h.path(f"{cdir}/{fn}")):
            h.write(f"{cdir}/{fn}", data)
    src = os.path.join(repo_root(), "servers", "content")
    if os.path.isdir(src):
        for fn in os.listdir(src):
            p = os.path.join(src, fn)
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    h.write(f"{cdir}/{fn}", f.read())
    for d in (PATHS["RUNDIR"], "/var/log/nginx", "/var/lib/nginx"):
        os.makedirs(h.path(d), exist_ok=True)
    h.install_nginx_conf()


def down(name="sandbench", host=None):
    """Powers off host NAME (or HOST): stops every unit it installed and, for a
    container, the container itself. Leaves no container, unit or process."""
    st = host.state() if host else load_state(name)
    name = host.name if host else name
    if st and st.get("mode") == "pid1":
        _pid1_cleanup(st.get("installed") or [])
    elif st or nspawn_pids(name):
        pids = set(nspawn_pids(name))
        if st and st.get("nspawn_pid") and alive(st["nspawn_pid"]):
            pids.add(st["nspawn_pid"])
        if pids:
            stop_nspawn(sorted(pids), [st.get("leader")] if st else [])
    cgroups.remove(name)
    try:
        os.unlink(state_path(name))
    except FileNotFoundError:
        pass
    for suffix in (".console",):
        try:
            os.unlink(os.path.join(STATE_DIR, name + suffix))
        except FileNotFoundError:
            pass
    return 0
