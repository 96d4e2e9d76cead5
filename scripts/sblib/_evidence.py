"""Sandbox evidence: what a running unit's main process really got, read
from /proc/MAINPID and the unit's cgroup as the kernel reports them, and
the per-directive verdict "did the directive take effect" — so a directive
is never credited for protection it does not deliver (in a container without
bpf() IPAddressDeny= is accepted and silently not enforced, for example).

    ev = collect(host, "lunchd-drop-v3.service")
    ok, why = verdict("seccomp", ev, baseline_ev)
    score, checks = exposure(host, "lunchd-drop-v3.service")

Standard library only. parse_status() and verdict() are pure (tested on
captured text in tests/py/test_runner_evidence.py).
"""
import json
import os
import re

from sblib import _host

NAMESPACES = ("mnt", "net", "user", "pid", "uts", "ipc", "cgroup")

# evidence kind (units/directives header) -> what it compares
KINDS = ("uid", "caps", "nnp", "seccomp", "mntns", "netns", "userns", "utsns", "ipcns", "bpf",
         "devices", "quota", "cmdline", "none")


def parse_status(text):
    """The sandbox-relevant fields of a /proc/PID/status text:
    uid/gid (real, effective, saved, fs lists), cap_eff/cap_bnd/cap_prm/
    cap_amb (hex strings), no_new_privs, seccomp (0 off, 1 strict, 2 filter),
    seccomp_filters (count; None on kernels that lack the line)."""
    f = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            f[k.strip()] = v.strip()
    ids = lambda k: [int(x) for x in f.get(k, "").split()] or None  # noqa: E731
    num = lambda k: int(f[k]) if k in f and f[k].lstrip("-").isdigit() else None  # noqa: E731
    uid, gid = ids("Uid"), ids("Gid")
    return {
        "uid": uid[1] if uid else None, "uids": uid,
        "gid": gid[1] if gid else None, "gids": gid,
        "groups": [int(x) for x in f.get("Groups", "").split()],
        "cap_eff": f.get("CapEff"), "cap_prm": f.get("CapPrm"), "cap_bnd": f.get("CapBnd"),
        "cap_amb": f.get("CapAmb"),
        "no_new_privs": num("NoNewPrivs"),
        "seccomp": num("Seccomp"),
        "seccomp_filters": num("Seccomp_filters"),
    }


def bits(hexstr):
    return int(hexstr, 16) if hexstr else 0


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
        progs = _host.cgroup_bpf_progs(cg)
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


def verdict(kind, ev, base):
    """Did a directive whose evidence KIND is given take effect?  Compares
    EV (the variant) with BASE (the same server's baseline; may be None).
    Returns (True | False | None, why). None: the evidence cannot tell (the
    baseline already shows it, or the directive has no /proc trace)."""
    base = base or {}
    if kind in ("mntns", "netns", "userns", "utsns", "ipcns"):
        ns = kind[:-2]
        key = f"{ns}_ns_differs"
        if key not in ev:
            return None, f"{ns} namespace not readable"
        if ev[key] and base.get(key):
            return None, f"the baseline already runs in its own {ns} namespace"
        return (True, f"own {ns} namespace ({ev.get(ns + '_ns')})") if ev[key] else \
            (False, f"shares the host's {ns} namespace")
    if kind == "uid":
        u, bu = ev.get("uid"), base.get("uid")
        if u is None:
            return None, "no Uid line"
        if u == 0:
            return False, "runs as root (uid 0)"
        if bu is not None and bu == u:
            return None, f"the baseline already runs as uid {u}"
        return True, f"runs as uid {u}" + (f" (baseline {bu})" if bu is not None else "")
    if kind == "caps":
        c, bc = bits(ev.get("cap_bnd")), bits(base.get("cap_bnd"))
        e, be = bits(ev.get("cap_eff")), bits(base.get("cap_eff"))
        if base and c == bc and e == be:
            if c == 0:
                return None, "the baseline's bounding set is already empty"
            return False, f"CapBnd {ev.get('cap_bnd')} same as the baseline's"
        if base and (c & ~bc == 0) and (c != bc or e != be):
            return True, f"CapBnd {ev.get('cap_bnd')} (baseline {base.get('cap_bnd')})"
        if not base:
            return (c != (1 << 41) - 1), f"CapBnd {ev.get('cap_bnd')}"
        return False, f"CapBnd {ev.get('cap_bnd')} not a subset of the baseline's"
    if kind == "nnp":
        n, bn = ev.get("no_new_privs"), base.get("no_new_privs")
        if n == 1 and bn == 1:
            return None, "the baseline already sets no_new_privs itself"
        return (n == 1), f"NoNewPrivs {n}"
    if kind == "seccomp":
        f, bf = ev.get("seccomp_filters"), base.get("seccomp_filters")
        if f is None:
            return (ev.get("seccomp") == 2), f"Seccomp {ev.get('seccomp')}"
        bf = bf or 0
        if f > bf:
            return True, f"{f} seccomp filters (baseline {bf})"
        return False, f"{f} seccomp filters, no more than the baseline's {bf}"
    if kind == "bpf":
        p, bp = ev.get("cgroup_bpf_progs"), base.get("cgroup_bpf_progs") or 0
        if p is None:
            return None, "cgroup BPF not queryable"
        if p > bp:
            return True, f"{p} BPF programs on the unit's cgroup ({ev.get('cgroup_bpf')})"
        return False, f"{p} BPF programs on the unit's cgroup (baseline {bp}): not enforced"
    if kind == "devices":
        p, bp = ev.get("cgroup_bpf_progs") or 0, base.get("cgroup_bpf_progs") or 0
        if p > bp:
            return True, f"{p} BPF programs on the unit's cgroup ({ev.get('cgroup_bpf')})"
        lst = ev.get("devices_v1")
        if lst is not None and lst != "a *:* rwm":
            return True, "v1 devices.list: " + " ".join(lst.split("\n")[:4])
        return False, ("no device BPF program on the unit's cgroup and no v1 devices list "
                       "of its own: not enforced")
    if kind == "quota":
        k = ev.get("cpu_quota_kernel")
        if ev.get("cpu_quota_set") in (None, "", "infinity"):
            return False, "systemd has no CPUQuota for it"
        if k is None:
            return False, (f"CPUQuota {ev.get('cpu_quota_set')} set but no cpu controller for the "
                           "unit's cgroup: not enforced")
        if k.startswith("max") or k == "-1":
            return False, f"kernel quota {k}: not enforced"
        return True, f"kernel quota {k}"
    if kind == "cmdline":
        argv, bargv = ev.get("cmdline"), base.get("cmdline")
        if argv is None or bargv is None:
            return None, "command line not readable"
        extra = [a for a in argv if a not in bargv]
        if extra:
            return True, "runs with " + " ".join(extra) + " (the baseline without)"
        return False, "the same command line as the baseline"
    return None, "no /proc evidence for this directive"


def directive_kind(d):
    """Evidence kind of a directive header dict (calibration quota -> quota)."""
    k = (d.get("evidence") or "none").strip()
    if k == "none" and d.get("calibration") == "yes" and "CPUQuota" in d.get("directive", ""):
        return "quota"
    return k if k in KINDS else "none"


_OVERALL = re.compile(r"Overall exposure level for \S+:\s*([0-9.]+)\s+(\S+)")


def parse_exposure(text):
    """(score, predicate) from systemd-analyze security's text output, or (None, None)."""
    m = _OVERALL.search(text or "")
    return (float(m.group(1)), m.group(2)) if m else (None, None)


def parse_checks(js):
    """The --json=short list as [{"name", "set", "exposure"}] (exposure float or None)."""
    out = []
    try:
        items = json.loads(js)
    except (TypeError, ValueError):
        return out
    for it in items:
        e = it.get("exposure")
        try:
            e = float(e) if e is not None else None
        except ValueError:
            e = None
        out.append({"name": it.get("name"), "set": it.get("set"), "exposure": e})
    return out


def exposure(host, unit):
    """(overall exposure 0.0..10.0 or None, predicate, checks) of UNIT from
    `systemd-analyze security` inside the host."""
    r = host.run(["systemd-analyze", "security", "--no-pager", unit], check=False, timeout=30)
    score, pred = parse_exposure(r.stdout)
    j = host.run(["systemd-analyze", "security", "--no-pager", "--json=short", unit],
                 check=False, timeout=30)
    return score, pred, parse_checks(j.stdout)
