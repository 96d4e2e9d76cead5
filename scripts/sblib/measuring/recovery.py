"""An instance that stopped serving in the middle of a run (its unit killed,
out of memory, stopped, hung): found (health) and started again in place
(restart), at most MAX_RESTARTS times, before it is given up as "died".
Instances (measuring/instances.py) has these as methods; the runner calls
them after a failed window or slice and measures the window again.

A unit killed by the OOM killer is named as such (oom()): systemd says
Result=oom-kill only where it reads the unit's memory.events (the unified
hierarchy); with the memory controller on cgroup v1, as on hybrid hosts, it
sees a SIGKILL like any other. The kernel's own log says which cgroup the
killed process was in (its "oom-kill:" line), so that is read too."""
import os
import re

from sblib.measuring import host as _host
from sblib.measuring.reach import probe

# an instance that stopped serving in the middle of a run is restarted at most
# this many times over the run before it is given up as "died"; one that
# does not answer a probe within ANSWER_S (twice) has stopped serving
MAX_RESTARTS = 3
ANSWER_S = 2.0
# the kernel log's clock (sched_clock) and CLOCK_MONOTONIC both count from
# the boot but need not agree to the millisecond: a kill this much before an
# instance's start is still counted as its own
CLOCK_SLACK_S = 1.0
KMSG = "/dev/kmsg"
OOM_LINE = re.compile(r"^oom-kill:constraint=(?P<constraint>\w+),.*?"
                      r"(?:oom_memcg=(?P<oom_memcg>[^,]*),)?task_memcg=(?P<memcg>[^,]*),"
                      r"task=(?P<task>[^,]*),pid=(?P<pid>\d+)")


def kmsg_record(rec):
    """(seconds since the boot, first line) of one /dev/kmsg record REC
    ("PRIORITY,SEQ,USEC,FLAGS;TEXT\n KEY=VALUE..."), or None."""
    head, _, text = rec.decode("utf-8", "replace").partition(";")
    fields = head.split(",")
    try:
        return int(fields[2]) / 1e6, text.split("\n", 1)[0]
    except (IndexError, ValueError):
        return None


def kernel_log(path=KMSG):
    """[kmsg_record()] of every record in the kernel's log buffer; [] where
    it cannot be read (not root, no /dev/kmsg)."""
    out = []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return out
    try:
        while True:
            try:
                rec = os.read(fd, 8192)     # one record per read
            except BrokenPipeError:         # overwritten while read: the next one
                continue
            except OSError:                 # EAGAIN: the end
                break
            if not rec:
                break
            r = kmsg_record(rec)
            if r:
                out.append(r)
    finally:
        os.close(fd)
    return out


def oom_kills(log, cgroup, since):
    """Of kernel LOG (kernel_log()), the OOM killer's kills of a process in
    cgroup CGROUP (the unit's own path, "/system.slice/UNIT": the
    container's place in the hierarchy comes before it) at SINCE (seconds
    since the boot) or later: [{"s", "constraint", "oom_memcg", "memcg",
    "task", "pid"}]."""
    out = []
    for s, text in log:
        m = OOM_LINE.match(text)
        if not m or s < since - CLOCK_SLACK_S:
            continue
        if m.group("memcg").endswith(cgroup):
            out.append({"s": s, "constraint": m.group("constraint"),
                        "oom_memcg": m.group("oom_memcg"), "memcg": m.group("memcg"),
                        "task": m.group("task"),
                        "pid": int(m.group("pid"))})
    return out


def size_text(n):
    """N bytes as systemd's units say them: 6291456 -> "6M"."""
    for unit, k in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= k and n % k == 0:
            return f"{n // k}{unit}"
    return str(n)


def oom_text(result, memory_max, kills, events=0):
    """"killed by the OOM killer (MemoryMax=6M)" when systemd's RESULT is
    oom-kill, the kernel log's KILLS (oom_kills()) name the unit's cgroup or
    its memory.events count EVENTS kills; what ran out in the parentheses
    (MEMORY_MAX: systemd's MemoryMax= in bytes, or "infinity"). None when
    nothing says the OOM killer did it."""
    if result != "oom-kill" and not kills and not events:
        return None
    what = f"MemoryMax={size_text(int(memory_max))}" if (memory_max or "").isdigit() \
        else "its memory limit"
    if kills:
        k = kills[-1]
        if k["constraint"] != "CONSTRAINT_MEMCG":
            what = "the machine out of memory"
        elif k["oom_memcg"] and k["oom_memcg"] != k["memcg"]:
            what = f"the memory limit of {k['oom_memcg'].rsplit('/', 1)[-1]}"
    return f"killed by the OOM killer ({what})"


def oom_events(cgdir):
    """The oom_kill count of cgroup directory CGDIR's memory.events (the
    unified hierarchy: a unit still running whose process was killed); 0
    where there is none."""
    try:
        with open(os.path.join(cgdir, "memory.events")) as f:
            for line in f:
                k, _, v = line.partition(" ")
                if k == "oom_kill":
                    return int(v)
    except (OSError, ValueError):
        pass
    return 0


class Recovery:
    """health() and restart() of Instances: uses its host, progress, why(),
    start() and stop_one()."""

    def health(self, inst):
        """Why INST no longer serves, or None when it does: its unit is not
        active (killed: by the OOM killer, said as such, or else systemd's
        result), or it does not answer within ANSWER_S, twice (stopped,
        hung, a process of it killed by the OOM killer). Raises HostError
        when the sandbox host itself is gone."""
        if not self.host.alive():
            raise _host.HostError(
                f"the sandbox host {self.host.name} is gone (its container ended in the middle "
                "of the run)")
        units = [inst.start] + ([inst.target] if "@." not in inst.target else [])
        for u in units:
            st = self.host.show(u, "ActiveState", "Result")
            if st.get("ActiveState") not in ("active", "reloading"):
                oom = self.oom(inst, u, st.get("Result"))
                return f"{u} is {st.get('ActiveState') or '?'}" + (
                    f": {oom}" if oom else f" (result {st.get('Result') or '?'})")
        for _ in range(2):
            code = probe(inst.url, timeout=ANSWER_S, netns=inst.netns_file)
            if code is not None and 200 <= code < 400:
                return None
        oom = self.oom(inst, inst.target, None, running=True)
        return (f"{inst.target} is active but {inst.url} gave no good answer within "
                f"{ANSWER_S:g} s" + (f"; a process of it {oom}" if oom else ""))

    def oom(self, inst, unit, result, running=False):
        """"killed by the OOM killer (MemoryMax=...)" (oom_text()) when
        UNIT of INST was, since INST last started, by systemd's RESULT, the
        kernel log or (RUNNING: its cgroup is still there) its memory.events;
        else None."""
        st = self.host.show(unit, "MemoryMax", "ControlGroup")
        cg = st.get("ControlGroup") or f"/system.slice/{unit}"
        since = getattr(inst, "started_at", None)
        kills = oom_kills(kernel_log(), cg, since) if since is not None else []
        events = oom_events(self.host.unit_cgroup(unit)) if running else 0
        return oom_text(result, st.get("MemoryMax"), kills, events)

    def restart(self, inst, why, where):
        """INST, which no longer serves (WHY, from health()), stopped and
        started again: its restarts say when (WHERE: {"epoch", "window"}),
        why and with which outcome; its start-up samples keep only its
        planned starts. False, with INST "died", when it does not answer
        again or has been restarted `run --max-restarts` (MAX_RESTARTS) times
        already."""
        journal = self.why(inst, None, "")
        inst.restarts.append({**where, "why": why, "journal": journal[-400:]})
        most = getattr(getattr(self, "a", None), "max_restarts", MAX_RESTARTS)
        if len(inst.restarts) > most:
            inst.status = "died"
            inst.reason = (f"{why}, {len(inst.restarts)} times (restarted "
                           f"{most}): {journal}")
            inst.restarts[-1]["outcome"] = "given up"
            return False
        self.progress(f"{inst.id}: {why}; restarting it")
        self.stop_one(inst)
        self.host.systemctl("reset-failed", *([inst.start, inst.target]
                                              if "@." not in inst.target else [inst.start]),
                            check=False)
        keep = (list(inst.startups), inst.startup_ms)
        ok = self.start(inst)
        inst.startups, inst.startup_ms = keep
        inst.restarts[-1]["outcome"] = "answers again" if ok else inst.status
        if not ok:
            inst.reason = f"{why}; restarted: {inst.status}: {inst.reason}"
            inst.status = "died"
        return ok
