"""The port ranges of sandbox hosts up at once. Every host shares this
machine's network, so two hosts' instances must never listen on the same
port: a host holds one range (a slot of sblib.measuring.plan.ports) for
its whole life by an flock whose descriptor systemd-nspawn inherits, and
the next host takes the first range nobody holds. A host that dies frees
its range with it; no two processes can hold one range at once. Range 0
is the one every host used before ranges (20100...): it also takes the
one lock such a sandbench held (LEGACY), so a host booted by an older
tree and one of ours never serve on the same ports.
"""
import fcntl
import os
import sys
import time

from sblib.measuring.kernel import HostError
from sblib.measuring.plan import SLOTS

LOCK_DIR = "/run/lock"
LEGACY = "sandbench-host.lock"


def slot_path(slot, lock_dir=LOCK_DIR):
    return os.path.join(lock_dir, f"sandbench-ports.{slot}.lock")


def _flock(path):
    """The fd of PATH flocked, or None when another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def try_slot(slot, lock_dir=LOCK_DIR):
    """The fds holding port range SLOT (range 0: its lock and LEGACY), or
    None when another process holds one of them."""
    os.makedirs(lock_dir, exist_ok=True)
    fds = []
    for path in [slot_path(slot, lock_dir)] + ([os.path.join(lock_dir, LEGACY)] if slot == 0
                                               else []):
        fd = _flock(path)
        if fd is None:
            for f in fds:
                os.close(f)
            return None
        fds.append(fd)
    return fds


class Busy(HostError):
    """No port range came free in the time given."""


def take_slot(name, timeout, lock_dir=LOCK_DIR, slots=SLOTS, fixed=False):
    """(slot, fds) of the first free port range for host NAME, its flocks
    held by FDS (to pass to the container), waiting up to TIMEOUT seconds
    while all SLOTS are held. FIXED: a host that serves on fixed ports
    (443, a unit's own, outside any range) takes range 0 only, so two such
    hosts are never up at once, as before ranges. Busy when none came free."""
    end = time.monotonic() + timeout
    said = False
    while True:
        for k in range(1 if fixed else slots):
            fds = try_slot(k, lock_dir)
            if fds is not None:
                return k, fds
        if time.monotonic() >= end:
            raise Busy(f"host '{name}': " + (
                f"port range 0 (the one for fixed ports such as 443) was held for "
                f"{timeout:.0f}s by another sandbox host ({slot_path(0, lock_dir)})" if fixed
                else f"all {slots} port ranges are held by sandbox hosts up now "
                f"({slot_path('N', lock_dir)})") + "; take one down or try again later")
        if not said:
            print(f"host: waiting for {'port range 0' if fixed else 'a free port range'} "
                  f"for host '{name}'", file=sys.stderr, flush=True)
            said = True
        time.sleep(0.5)
