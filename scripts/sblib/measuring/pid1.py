"""What PID 1 does while start-up is measured (`sandbench startup`): its
CPU time (pid1_cpu), waiting until it is idle, and the mounts made in the
sandbox host for --host-mounts, each of which it turns into a .mount unit."""
import time

from sblib.analysis import startup_stats as ss
from sblib.measuring import host as _host
from sblib.measuring import kernel

MOUNT_DIR = "/home/sandbench-mnt"   # the --host-mounts go under it


# --- reading PID 1 ---------------------------------------------------------------

def pid1_cpu(host):
    """A function returning the host systemd's CPU time in µs, and where it
    reads it: its init.scope cgroup's cpu.stat (everything PID 1 and the
    children it forks before they join a unit's cgroup do), else
    /proc/PID/schedstat of its main thread."""
    try:
        rel = kernel.pid_cgroup2(host.leader)
        if rel.rstrip("/").endswith("/init.scope"):
            path = kernel.cgroup2_mount() + rel.rstrip("/") + "/cpu.stat"
            with open(path) as f:
                if ss.cpu_usec_of_stat(f.read()) is not None:
                    def from_cgroup():
                        with open(path) as f2:
                            return ss.cpu_usec_of_stat(f2.read())
                    return from_cgroup, "init.scope cpu.stat"
    except (OSError, _host.HostError):
        pass
    path = f"/proc/{host.leader}/schedstat"

    def from_schedstat():
        with open(path) as f:
            return int(f.read().split()[0]) // 1000
    return from_schedstat, "schedstat of PID 1"


def wait_pid1_idle(read, limit=60.0, window=0.3, busy=0.1):
    """Waits until PID 1 uses less than BUSY of a CPU over WINDOW seconds (it
    turns every new mount into a .mount unit); at most LIMIT seconds.
    Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        a = read()
        time.sleep(window)
        if read() - a < busy * window * 1e6:
            break
    return time.monotonic() - t0


# --- host mounts -----------------------------------------------------------------

# Run by the host's python3: makes or removes tmpfs mounts MOUNT_DIR/uN, one
# mount(2) or umount2(2) each (no process per mount: 2000 take a second).
MOUNT_SCRIPT = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
top, have, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def ck(r, what):
    if r != 0:
        e = ctypes.get_errno()
        sys.exit(f"{what}: {os.strerror(e)}")
if have == 0 and want > 0:
    os.makedirs(top, exist_ok=True)
    ck(libc.mount(b"sandbench", top.encode(), b"tmpfs", 0, b"size=4m,mode=0755"), top)
for i in range(have + 1, want + 1):
    d = f"{top}/u{i}"
    os.mkdir(d)
    ck(libc.mount(b"sandbench", d.encode(), b"tmpfs", 0, b"size=16k,mode=0755"), d)
for i in range(have, want, -1):
    d = f"{top}/u{i}"
    ck(libc.umount2(d.encode(), 2), d)
    os.rmdir(d)
if want == 0 and have > 0:
    ck(libc.umount2(top.encode(), 2), top)
"""


def our_mounts(host):
    """Mount points of the host made by set_mounts (MOUNT_DIR and under)."""
    out = []
    try:
        with open(f"/proc/{host.leader}/mountinfo") as f:
            for line in f:
                mp = line.split()[4]
                if mp == MOUNT_DIR or mp.startswith(MOUNT_DIR + "/"):
                    out.append(mp)
    except OSError:
        pass
    return out


def host_mount_count(host):
    try:
        with open(f"/proc/{host.leader}/mountinfo") as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def set_mounts(host, want):
    """Makes WANT small tmpfs mounts MOUNT_DIR/uN in the host, under a tmpfs
    of its own at MOUNT_DIR (so WANT + 1 mounts in all, none at 0), adding
    or removing; raises HostError."""
    have = max(0, len(our_mounts(host)) - 1)
    if want == have:
        return
    host.run(["python3", "-c", MOUNT_SCRIPT, MOUNT_DIR, str(have), str(want)],
             timeout=600, check=True)
    got = max(0, len(our_mounts(host)) - 1)
    if got != want:
        raise _host.HostError(f"asked for {want} mounts under {MOUNT_DIR}, found {got}")


def clear_mounts(host):
    """Removes every mount set_mounts made: one lazy unmount of MOUNT_DIR
    takes the whole tree."""
    if our_mounts(host):
        host.run(["umount", "-l", MOUNT_DIR], timeout=120)
    host.run(["rmdir", MOUNT_DIR], timeout=60)
