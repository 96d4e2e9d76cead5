"""The cgroups a sandbox host's container runs in, one set per host name.

Started in the caller's cgroup, systemd-nspawn (--keep-unit, no machined)
moves itself into "supervisor" and the container into "payload" beside
it: two containers started from one cgroup would share "payload", and
their systemds the same system.slice (two hosts' lunchd-drop-sb0.service
one cgroup, one CPU counter). So each container starts in a cgroup named
for its host, under the caller's, in the hierarchies its systemd
manages: the unified one, name=systemd, and the v1 cpu, cpuacct and
devices controllers it is given (sblib.measuring.host delegates them).
The others (memory, pids ...) are left as they are.
"""
import os

ROOT = "/sys/fs/cgroup"
MANAGED = ("", "name=systemd", "cpu", "cpuacct", "cpu,cpuacct", "devices")


def dir_name(name):
    return f"sandbench-host.{name}"


def hierarchies(proc_cgroup="/proc/self/cgroup", root=ROOT):
    """[(mount directory, our path in it)] of the MANAGED hierarchies
    mounted under ROOT that this process is in."""
    out = []
    try:
        with open(proc_cgroup) as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for ln in lines:
        _, ctrl, path = ln.split(":", 2)
        if ctrl not in MANAGED:
            continue
        if ctrl == "":
            mnt = os.path.join(root, "unified")
            if not os.path.exists(os.path.join(mnt, "cgroup.procs")):
                mnt = root
        else:
            mnt = os.path.join(root, ctrl.replace("name=", ""))
        if os.path.exists(os.path.join(mnt, "cgroup.procs")):
            out.append((mnt, path))
    return out


def make(name, **kw):
    """The cgroup directories of host NAME, made (empty) in every managed
    hierarchy; the ones that cannot be made are left out (the container then
    runs where its caller does, as before)."""
    dirs = []
    for mnt, path in hierarchies(**kw):
        d = os.path.join(mnt + path.rstrip("/"), dir_name(name))
        try:
            os.makedirs(d, exist_ok=True)
            dirs.append(d)
        except OSError:
            pass
    return dirs


def enter(dirs):
    """Moves this process into DIRS (make()'s): run in the child before it
    executes systemd-nspawn. A directory it cannot enter is skipped."""
    for d in dirs:
        try:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except OSError:
            pass


def remove(name, **kw):
    """Removes host NAME's cgroups (what its container left in them, empty
    once it is gone), deepest first; busy ones stay. Looked for under this
    process's cgroup and the hierarchy's root (`host down` may run from
    another cgroup than `up` did)."""
    for mnt, path in hierarchies(**kw):
        for top in {os.path.join(mnt + path.rstrip("/"), dir_name(name)),
                    os.path.join(mnt, dir_name(name))}:
            for d, _subdirs, _files in os.walk(top, topdown=False):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
