"""This machine's kernel as sandbench reads it: the cgroup v2 tree, the BPF
programs attached to a cgroup, processes by PID, and which optional
facilities (BPF LSM, cgroup BPF) exist. No container code: `list` asks it
what the machine can enforce without booting anything."""
import ctypes
import errno
import os
import struct
import time


class HostError(Exception):
    """A host operation failed; the message says what and why."""


def cgroup2_mount():
    """The mount point of the cgroup v2 hierarchy: /sys/fs/cgroup/unified on a
    hybrid system, /sys/fs/cgroup on a unified one."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            sep = parts.index("-")
            if parts[sep + 1] == "cgroup2":
                return parts[4]
    raise HostError("no cgroup2 hierarchy mounted; cannot read unit CPU usage")


def pid_cgroup2(pid):
    """The cgroup v2 path ("0::" line) of host PID, relative to the cgroup2 mount."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    raise HostError(f"pid {pid} has no cgroup v2 membership")


BPF_PROG_QUERY = 16
_NR_BPF = {"x86_64": 321, "aarch64": 280}


def cgroup_bpf_progs(path):
    """Number of BPF programs attached to the cgroup directory PATH, by type
    (inet ingress/egress, sock create, device, ...), queried with
    bpf(BPF_PROG_QUERY) — what bpftool cgroup show prints. Returns
    {"ingress": n, "egress": n, ...} with only the types that answered."""
    names = {0: "ingress", 1: "egress", 2: "sock_create", 3: "sock_ops", 6: "device",
             8: "bind4", 9: "bind6", 10: "connect4", 11: "connect6"}
    nr = _NR_BPF.get(os.uname().machine)
    if nr is None:
        return {}
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    out = {}
    try:
        for atype, name in names.items():
            ids = (ctypes.c_uint32 * 64)()
            buf = ctypes.create_string_buffer(
                struct.pack("=IIIIQI4x", fd, atype, 0, 0, ctypes.addressof(ids), 64), 128)
            if libc.syscall(nr, BPF_PROG_QUERY, buf, 128) < 0:
                continue
            out[name] = struct.unpack_from("=IIIIQI", buf.raw)[5]
    finally:
        os.close(fd)
    return out


# --- processes -----------------------------------------------------------------

def alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def wait_gone(pids, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return not any(alive(p) for p in pids)


def reap(pid):
    """Collects PID if it is our child (so it does not linger as a zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


# --- the host ------------------------------------------------------------------


def errno_name(e):
    return errno.errorcode.get(e, str(e))


def facilities():
    """Which optional kernel/container facilities this machine has, with the
    reason when absent: {"bpf-cgroup": (bool, why), "bpf-lsm": (bool, why)}."""
    out = {}
    lsm = ""
    for p in ("/sys/kernel/security/lsm",):
        try:
            with open(p) as f:
                lsm = f.read().strip()
        except OSError:
            pass
    if "bpf" in lsm.split(","):
        out["bpf-lsm"] = (True, "BPF LSM active")
    else:
        out["bpf-lsm"] = (False, "the kernel does not run the BPF LSM (lsm= list: "
                                 f"{lsm or 'securityfs not readable'}); RestrictFileSystems= "
                                 "cannot be enforced")
    try:
        mnt = cgroup2_mount()
        cgroup_bpf_progs(mnt)
        out["bpf-cgroup"] = (True, "cgroup2 mounted at " + mnt + " and bpf() queries work")
    except Exception as e:  # noqa: BLE001 - any failure means "absent"
        out["bpf-cgroup"] = (False, f"no usable cgroup2/BPF: {e}")
    return out
