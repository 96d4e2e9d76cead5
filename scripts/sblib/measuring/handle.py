"""A running sandbox host, as the rest of sandbench uses it: run a command
in it, write files and install units (placeholders filled), ask systemd,
and read a unit's cgroup, CPU time, memory and PIDs from this machine's
cgroupfs. sblib.measuring.host boots, reuses and powers hosts off.
"""
import json
import os
import subprocess
import time

from sblib.measuring.kernel import HostError, alive, cgroup2_mount, pid_cgroup2
from sblib.templates import PATHS, TemplateError, placeholders
from sblib.templates import fill as _fill
from sblib.util import repo_root
from sblib.util import write_atomic

STATE_DIR = "/run/sandbench-host"
UNIT_DIR = "/run/systemd/system"
OPT = "/opt/sandbench"
ROOT_BIN = "/opt/sandbench-bin"   # the servers built inside a clean root (sblib.measuring.roots)


def fill(text, mapping):
    """templates.fill, its error as a HostError (an install that cannot fill
    a unit is a failed host operation)."""
    try:
        return _fill(text, mapping)
    except TemplateError as e:
        raise HostError(str(e)) from None



def remove_unit_files(paths):
    """Unlinks the unit files and drop-ins PATHS (gone already is fine) and
    the NAME.d directories they leave empty."""
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
        d = os.path.dirname(p)
        if d.endswith(".d"):
            try:
                os.rmdir(d)
            except OSError:
                pass


class Host:
    """A running sandbox host. Build with up() or attach(); all methods take
    paths as seen inside the host."""

    def __init__(self, name, mode, leader=1, nspawn_pid=0, owner=0, installed=None,
                 started=None, root="/", show=(), bindir=None, servers=None, slot=0):
        self.name = name
        self.slot = slot                  # its port range (sblib.measuring.ports)
        self.root = root                  # the tree it booted ("/": this machine's)
        self.shown = list(show)           # this machine's paths overlaid on a clean root
        self.mode = mode                  # "pid1" or "nspawn"
        self.leader = leader              # host PID of the host's systemd
        self.nspawn_pid = nspawn_pid
        self.owner = owner
        self.installed = installed or []  # unit files we put in UNIT_DIR
        self.started = started or time.time()
        # where its servers are: this machine's build, or ROOT_BIN (built in the root)
        self.bindir = bindir or (os.path.join(repo_root(), "build", "bin") if mode == "pid1"
                                 else OPT + "/build/bin")
        self.servers = servers            # how they were built (None: this machine's build)
        self._cg_root = None

    # state file
    def state(self):
        return {"name": self.name, "mode": self.mode, "repo": repo_root(), "leader": self.leader,
                "nspawn_pid": self.nspawn_pid, "owner": self.owner,
                "installed": self.installed, "started": self.started, "root": self.root,
                "show": self.shown, "bindir": self.bindir, "servers": self.servers,
                "slot": self.slot}

    def save(self):
        os.makedirs(STATE_DIR, exist_ok=True)
        path = os.path.join(STATE_DIR, self.name + ".json")
        write_atomic(path, json.dumps(self.state()))

    # running commands
    def prefix(self):
        if self.mode == "pid1":
            return []
        return ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-p", "-n", "--"]

    def run(self, argv, timeout=60, check=False, input=None, capture=True):
        """Runs ARGV inside the host. Returns CompletedProcess (text). A
        timeout or (with CHECK) a non-zero exit raises HostError."""
        try:
            r = subprocess.run(self.prefix() + list(argv), input=input, text=True,
                               stdout=subprocess.PIPE if capture else None,
                               stderr=subprocess.PIPE if capture else None,
                               timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise HostError(f"'{' '.join(argv)}' timed out after {timeout}s in host {self.name}")
        if check and r.returncode != 0:
            raise HostError(f"'{' '.join(argv)}' failed (exit {r.returncode}): "
                            f"{(r.stderr or r.stdout or '').strip()[-500:]}")
        return r

    def systemctl(self, *args, check=True, timeout=60):
        return self.run(["systemctl", "--no-pager", *args], check=check, timeout=timeout)

    def path(self, p):
        """Host-side path of the host-internal path P."""
        if self.mode == "pid1":
            return p
        return f"/proc/{self.leader}/root{p}"

    def write(self, p, data, mode=0o644, uid=0, gid=0):
        """Writes DATA (str or bytes) to host-internal path P atomically."""
        hp = self.path(p)
        os.makedirs(os.path.dirname(hp), exist_ok=True)
        tmp = hp + ".sbtmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.fchmod(fd, mode)
            os.fchown(fd, uid, gid)
            os.write(fd, data.encode() if isinstance(data, str) else data)
        finally:
            os.close(fd)
        os.replace(tmp, hp)

    def alive(self):
        if self.mode == "pid1":
            return True
        return alive(self.nspawn_pid) and alive(self.leader)

    def is_running(self):
        """systemctl is-system-running: 'running', 'degraded', 'starting', ..."""
        try:
            r = self.run(["systemctl", "is-system-running"], timeout=10)
        except HostError:
            return "unreachable"
        return (r.stdout or "").strip() or "unreachable"

    # units
    def mapping(self, extra=None):
        m = placeholders(self.bindir)
        if extra:
            m.update(extra)
        return m

    def install(self, files, extra=None, rename=None, reload=True):
        """Copies unit files / drop-ins into UNIT_DIR with placeholders filled.
        A file NAME.conf whose parent directory ends in .d keeps that
        directory (lunchd-drop.service.d/x.conf); RENAME maps a source path to
        a destination relative to UNIT_DIR. Returns the installed paths."""
        m = self.mapping(extra)
        done = []
        for src in files:
            with open(src) as f:
                text = fill(f.read(), m)
            rel = (rename or {}).get(src)
            if rel is None:
                parent = os.path.basename(os.path.dirname(os.path.abspath(src)))
                base = os.path.basename(src)
                rel = os.path.join(parent, base) if parent.endswith(".d") else base
            dest = os.path.join(UNIT_DIR, rel)
            self.write(dest, text)
            done.append(dest)
            if dest not in self.installed:
                self.installed.append(dest)
        self.install_nginx_conf()
        if reload:
            self.systemctl("daemon-reload")
        self.save()
        return done

    def uninstall(self, paths, reload=True):
        remove_unit_files(self.path(p) for p in paths)
        for p in paths:
            if p in self.installed:
                self.installed.remove(p)
        if reload:
            self.systemctl("daemon-reload")
        self.save()

    def install_nginx_conf(self):
        src = os.path.join(repo_root(), "servers", "proxy", "nginx.conf")
        if os.path.exists(src):
            with open(src) as f:
                self.write(PATHS["CONFDIR"] + "/nginx.conf", fill(f.read(), self.mapping()))

    def show(self, unit, *props):
        """systemctl show -p PROPS UNIT as a dict of strings."""
        r = self.systemctl("show", "-p", ",".join(props), unit, check=False)
        out = {}
        for line in (r.stdout or "").splitlines():
            k, _, v = line.partition("=")
            out[k] = v
        return out

    # cgroups, seen from the outside
    def cgroup_root(self):
        """Host path of the host systemd's root cgroup in the cgroup2 tree."""
        if self._cg_root is None:
            mnt = cgroup2_mount()
            if self.mode == "pid1":
                self._cg_root = mnt
            else:
                rel = pid_cgroup2(self.leader)       # e.g. /payload/init.scope
                if rel.endswith("/init.scope"):
                    rel = rel[: -len("/init.scope")]
                self._cg_root = mnt + rel.rstrip("/") if rel != "/" else mnt
        return self._cg_root

    def unit_cgroup(self, unit):
        """Host path of UNIT's cgroup directory (it exists while the unit runs)."""
        cg = self.show(unit, "ControlGroup").get("ControlGroup", "")
        if not cg:
            cg = "/system.slice/" + unit
        return self.cgroup_root() + cg

    def cpu_usec(self, unit, cgdir=None):
        """UNIT's cgroup CPU time (cpu.stat usage_usec) read from the host;
        None when the cgroup is gone."""
        try:
            with open(os.path.join(cgdir or self.unit_cgroup(unit), "cpu.stat")) as f:
                for line in f:
                    k, v = line.split()
                    if k == "usage_usec":
                        return int(v)
        except OSError:
            return None
        return None

    def host_pids(self, unit, cgdir=None):
        """Host PIDs of every process in UNIT's cgroup (recursively)."""
        base = cgdir or self.unit_cgroup(unit)
        pids = []
        for d, _, files in os.walk(base):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        pids += [int(x) for x in f.read().split()]
                except OSError:
                    pass
        return pids

    def to_host_pid(self, pid, unit=None):
        """Host PID of host-internal PID (the unit's MainPID, say)."""
        if self.mode == "pid1":
            return pid
        if unit:
            cands = self.host_pids(unit)
        else:
            want = os.readlink(f"/proc/{self.leader}/ns/pid")
            cands = []
            for d in os.listdir("/proc"):
                try:
                    if d.isdigit() and os.readlink(f"/proc/{d}/ns/pid") == want:
                        cands.append(int(d))
                except OSError:
                    pass
        for hp in cands:
            try:
                with open(f"/proc/{hp}/status") as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            ids = line.split()[1:]
                            break
                    else:
                        continue
                if len(ids) >= 2 and int(ids[1]) == pid:
                    return hp
            except OSError:
                continue
        # not in the unit's cgroup (yet): scan every process of the host
        if unit:
            return self.to_host_pid(pid)
        return None

    def main_pid(self, unit):
        """(host-internal MainPID, host PID) of UNIT, or (0, None)."""
        p = int(self.show(unit, "MainPID").get("MainPID", "0") or 0)
        if not p:
            return 0, None
        return p, self.to_host_pid(p, unit)

    def memory_bytes(self, unit, cgdir=None):
        """Memory of UNIT's processes: memory.current when the cgroup2 memory
        controller runs there, else the sum of their Pss (smaps_rollup)."""
        base = cgdir or self.unit_cgroup(unit)
        try:
            with open(os.path.join(base, "memory.current")) as f:
                return int(f.read())
        except (OSError, ValueError):
            pass
        total = 0
        for hp in self.host_pids(unit, base):
            try:
                with open(f"/proc/{hp}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
                            break
            except OSError:
                pass
        return total

    def journal(self, unit, lines=20, since=None):
        argv = ["journalctl", "--no-pager", "-o", "cat", "-n", str(lines), "-u", unit]
        if since:
            argv += ["--since", since]
        r = self.run(argv, check=False, timeout=20)
        return (r.stdout or "").strip()
