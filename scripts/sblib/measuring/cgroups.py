"""The cgroups a sandbox host's container runs in, one set per host name.

Started in the caller's cgroup, systemd-nspawn (--keep-unit, no machined)
moves itself into "supervisor" and the container into "payload" beside
it: two containers started from one cgroup would share "payload", and
their systemds the same system.slice (two hosts' lunchd-drop-sb0.service
one cgroup, one CPU counter). So each container starts in a cgroup named
for its host, under the caller's, in the hierarchies its systemd
manages: the unified one, name=systemd, and the v1 cpu, cpuacct and
devices controllers it is given (sblib.measuring.host delegates them).
The others (memory, pids ...) are left as they are. delegate_v1() makes
the v1 hierarchies it needs writable in the container.
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


# cgroup v1 hierarchies the container's systemd needs writable: cpu and
# cpuacct for CPUQuota= (and per-unit CPU accounting), devices for
# DevicePolicy= and DeviceAllow= (the devices.list of each unit).
DELEGATED_V1 = {"cpu": "CPUQuota=", "cpuacct": "CPUQuota=", "cpu,cpuacct": "CPUQuota=",
                "devices": "DevicePolicy="}


def delegate_v1(h, log):
    """On a host with cgroup v1 controllers, systemd-nspawn mounts their
    hierarchies read-only in the container, so the container's systemd
    cannot create per-unit cgroups there and CPUQuota= and DevicePolicy= are
    silently not enforced. Remount those hierarchies writable (a per-mount
    flag: the host's own mounts are untouched) and re-execute the
    container's systemd, which detects the controllers it can use only when
    it starts. The units' cgroups then appear in the host's hierarchies and
    are removed with them. LOG(text) says what it did. Returns True when it
    re-executed systemd."""
    try:
        with open(f"/proc/{h.leader}/mounts") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return False
    ro = [m[1] for m in mounts if len(m) > 3 and m[2] == "cgroup"
          and os.path.basename(m[1]) in DELEGATED_V1 and "ro" in m[3].split(",")]
    done = []
    for mnt in ro:
        r = h.run(["mount", "-o", "remount,bind,rw", mnt], timeout=20)
        if r.returncode == 0:
            done.append(mnt)
        else:
            log(f"cannot make {mnt} writable in the container ({(r.stderr or '').strip()}): "
                f"{DELEGATED_V1[os.path.basename(mnt)]} will not be enforced")
    if not done:
        return False
    h.run(["systemctl", "daemon-reexec"], timeout=60)
    what = sorted({DELEGATED_V1[os.path.basename(m)] for m in done})
    log(f"delegated {', '.join(done)} to the container's systemd ({' and '.join(what)} "
        "enforced)")
    return True
