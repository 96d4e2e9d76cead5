"""An instance that stopped serving in the middle of a run (its unit killed,
out of memory, stopped, hung): found (health) and started again in place
(restart), at most MAX_RESTARTS times, before it is given up as "died".
Instances (measuring/instances.py) has these as methods; the runner calls
them after a failed window or slice and measures the window again."""
from sblib.measuring import host as _host
from sblib.measuring.reach import probe

# an instance that stopped serving in the middle of a run is restarted at most
# this many times over the run before it is given up as "died"; one that
# does not answer a probe within ANSWER_S (twice) has stopped serving
MAX_RESTARTS = 3
ANSWER_S = 2.0


class Recovery:
    """health() and restart() of Instances: uses its host, progress, why(),
    start() and stop_one()."""

    def health(self, inst):
        """Why INST no longer serves, or None when it does: its unit is not
        active (killed, out of memory: systemd's result), or it does not
        answer within ANSWER_S, twice (stopped, hung). Raises HostError
        when the sandbox host itself is gone."""
        if not self.host.alive():
            raise _host.HostError(
                f"the sandbox host {self.host.name} is gone (its container ended in the middle "
                "of the run)")
        units = [inst.start] + ([inst.target] if "@." not in inst.target else [])
        for u in units:
            st = self.host.show(u, "ActiveState", "Result")
            if st.get("ActiveState") not in ("active", "reloading"):
                return f"{u} is {st.get('ActiveState') or '?'} (result {st.get('Result') or '?'})"
        for _ in range(2):
            code = probe(inst.url, timeout=ANSWER_S, netns=inst.netns_file)
            if code is not None and 200 <= code < 400:
                return None
        return f"{inst.target} is active but {inst.url} gave no good answer within {ANSWER_S:g} s"

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
