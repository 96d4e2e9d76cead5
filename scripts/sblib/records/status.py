"""Who writes a results directory, and whether that writer still runs: a
status.json that says "running" after its writer died reads as interrupted."""
import os


def _proc_start(pid):
    """When process PID started (clock ticks since boot), or None if there is none."""
    try:
        with open(f"/proc/{int(pid)}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _boot_id():
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return None


def writer_id():
    """Who writes a results directory: status.json keeps it, so a reader can
    tell a run still going from one that was killed (settle_state)."""
    return {"pid": os.getpid(), "start": _proc_start(os.getpid()), "boot_id": _boot_id()}


def settle_state(status):
    """A status.json that still says "running" after its writer died (killed,
    or the machine booted since: no end state was written) reads as
    "interrupted", the recorded state kept as "recorded_state". Without a
    writer (sets written before it was kept) the recorded state stands."""
    w = status.get("writer")
    if status.get("state") != "running" or not isinstance(w, dict):
        return status
    boot = _boot_id()
    if boot is None or w.get("boot_id") is None:
        return status
    if w["boot_id"] == boot and w.get("pid") is not None and \
            _proc_start(w["pid"]) == w.get("start"):
        return status  # the writer is alive
    return dict(status, state="interrupted", recorded_state="running")
