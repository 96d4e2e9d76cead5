"""Sandbox evidence, collected: what a running unit's main process got, read
on the host from /proc/MAINPID and the unit's cgroup as the kernel reports
them, and its `systemd-analyze security` exposure; and the run's
environment (env.json). The container side of sblib.evidence, which judges
what is collected here.

    ev = collect(host, "lunchd-drop-v3.service")
    score, predicate, checks = exposure(host, "lunchd-drop-v3.service")
"""
import os
import sys

from sblib.analysis import cliffs as _cliffs
from sblib.measuring import host as _host
from sblib.measuring import kernel
from sblib.measuring import releases
from sblib import util
from sblib.evidence import NAMESPACES, parse_checks, parse_exposure, parse_status


def collect(host, unit, host_pid=None, cgdir=None):
    """Evidence dict for UNIT's main process (or HOST_PID), all read on the
    host: parse_status() fields, the PIDs, "<ns>_ns" ids and
    "<ns>_ns_differs" against the host's PID 1, "cgroup_bpf" (per attach
    type) and "cgroup_bpf_progs" (total) on the unit's cgroup, the unit's
    CPU quota as systemd and the kernel see it. Raises HostError when the
    unit has no process."""
    pid = None
    if host_pid is None:
        pid, host_pid = host.main_pid(unit)
        if not host_pid:
            raise _host.HostError(f"{unit} has no main process")
    try:
        with open(f"/proc/{host_pid}/status") as fh:
            ev = parse_status(fh.read())
    except OSError as e:
        raise _host.HostError(f"cannot read /proc/{host_pid}/status of {unit}: {e}")
    ev["pid"] = pid
    ev["host_pid"] = host_pid
    try:
        with open(f"/proc/{host_pid}/cmdline", "rb") as fh:
            ev["cmdline"] = [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        pass
    for ns in NAMESPACES:
        try:
            mine = os.readlink(f"/proc/{host_pid}/ns/{ns}")
            init = os.readlink(f"/proc/{host.leader}/ns/{ns}")
        except OSError:
            continue
        ev[f"{ns}_ns"] = mine
        ev[f"{ns}_ns_differs"] = mine != init
    cg = cgdir or host.unit_cgroup(unit)
    try:
        progs = kernel.cgroup_bpf_progs(cg)
    except OSError:
        progs = {}
    ev["cgroup_bpf"] = progs
    ev["cgroup_bpf_progs"] = sum(progs.values())
    ev.update(quota(host, unit, cg))
    # A device ACL is a BPF program on cgroup v2, a devices.list on v1.
    ev["devices_v1"] = _v1_file(host, unit, "devices", "devices.list")
    return ev


def _v1_file(host, unit, controller, name):
    """Contents of NAME in the unit's cgroup of the cgroup v1 CONTROLLER
    hierarchy (hybrid hosts), or None when the unit has none there."""
    rel = host.show(unit, "ControlGroup").get("ControlGroup", "")
    try:
        with open(f"/proc/{host.leader}/cgroup") as fh:
            for line in fh:
                _, ctrl, path = line.strip().split(":", 2)
                if controller in ctrl.split(","):
                    # the host's systemd sits in its root's init.scope once it
                    # owns the hierarchy (a delegated cpu controller)
                    if path.endswith("/init.scope"):
                        path = path[: -len("/init.scope")]
                    p = f"/sys/fs/cgroup/{controller}{path.rstrip('/')}{rel}/{name}"
                    if os.path.exists(p):
                        with open(p) as f:
                            return f.read().strip()
    except OSError:
        pass
    return None


def quota(host, unit, cg):
    """CPUQuota= as configured and as enforced: cgroup v2 cpu.max in the
    unit's cgroup, else the v1 cpu controller's cpu.cfs_quota_us for it."""
    want = host.show(unit, "CPUQuotaPerSecUSec").get("CPUQuotaPerSecUSec", "infinity")
    out = {"cpu_quota_set": want, "cpu_quota_kernel": None}
    try:
        with open(os.path.join(cg, "cpu.max")) as fh:
            out["cpu_quota_kernel"] = fh.read().strip()
            return out
    except OSError:
        pass
    out["cpu_quota_kernel"] = _v1_file(host, unit, "cpu", "cpu.cfs_quota_us")
    return out


def exposure(host, unit):
    """(overall exposure 0.0..10.0 or None, predicate, checks) of UNIT from
    `systemd-analyze security` inside the host."""
    r = host.run(["systemd-analyze", "security", "--no-pager", unit], check=False, timeout=30)
    score, pred = parse_exposure(r.stdout)
    j = host.run(["systemd-analyze", "security", "--no-pager", "--json=short", unit],
                 check=False, timeout=30)
    return score, pred, parse_checks(j.stdout)


def environment(host, facilities):
    cpu_model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gov = None
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") as f:
            gov = f.read().strip()
    except OSError:
        pass
    # systemd, OpenSSL and nginx as the host has them (a release's root:
    # its own); liburing is the load generator's, on this machine
    def in_host(argv):
        if host is None:
            return util.first_line(argv)
        try:
            r = host.run(argv, timeout=10)
        except (OSError, _host.HostError):
            return None
        return (((r.stdout or "") + (r.stderr or "")).strip().splitlines() or [None])[0]
    return {
        "kernel": os.uname().release,
        "arch": os.uname().machine,
        "systemd": in_host(["systemctl", "--version"]),
        "openssl": in_host(["openssl", "version"]),
        "liburing": util.first_line(["pkg-config", "--modversion", "liburing"]),
        "nginx": in_host(["nginx", "-v"]),
        **(releases.stack(host) if host is not None else {}),
        "python": sys.version.split()[0],
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "governor": gov,
        "host": host.mode if host else None,
        "bpf_enforced": facilities.get("bpf-cgroup", (False,))[0],
        "bpf_lsm": facilities.get("bpf-lsm", (False,))[0],
        **_cliffs.read(host),
    }
