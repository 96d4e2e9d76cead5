"""What a `run --upgrade A,B[,...]` plans, before anything is booted: the
chain of releases and its steps, where each step writes, which plans can
be measured in windows of four instances, each half's spec.json, the
windows of an epoch (in seeded URL orders) and how many a step has, and
the progress line of the whole chain with its ETA. Pure: the measuring is
sblib.measuring.upgrade's.
"""
import copy
import os
import random
import sys
import time

from sblib.analysis import upgrade_chain as chain_an
from sblib.measuring import releases
from sblib.measuring.runplan import PlanError
from sblib.records import windows as win

MACHINE = "machine"         # this machine's own stack (its /usr, or $SANDBENCH_ROOT)
MODES = ("keepalive", "close", "resume")


def parse_chain(text):
    """The releases of "A,B[,C...]" in the order given (the upgrade path):
    two or more different ones of releases.RELEASES or MACHINE. Raises
    PlanError."""
    parts = [p.strip() for p in (text or "").split(",")]
    valid = list(releases.RELEASES) + [MACHINE]
    bad = [p for p in parts if p not in valid]
    if len(parts) < 2 or bad or len(set(parts)) != len(parts):
        why = (f"unknown: {', '.join(repr(b) for b in bad)}; " if bad else
               "a release named twice; " if len(parts) >= 2 else "")
        raise PlanError(f"--upgrade takes FROM,TO[,...]: {why}two or more different ones of "
                        f"{', '.join(valid)}, in the order of the upgrade (e.g. "
                        "bullseye,bookworm,trixie)")
    return tuple(parts)


def steps_of(chain):
    """The consecutive steps (FROM, TO) of CHAIN."""
    return list(zip(chain, chain[1:]))


def step_out(out, chain, pair):
    """Where step PAIR of CHAIN writes: OUT itself for a chain of two (the
    layout of `--upgrade FROM,TO`), else OUT/FROM-TO."""
    return out if len(chain) == 2 else os.path.join(out, chain_an.step_dir(pair))


def check_plan(a, spec):
    """Raises PlanError where SPEC cannot be measured in four-instance
    windows (every mode windowed; a user's unit only where its copies run
    side by side)."""
    uu = spec.get("user_unit")
    if uu and uu.get("copies") not in ("netns", "ports"):
        raise PlanError(f"--upgrade --unit: {uu['target']} runs one copy at a time"
                        + (f" ({uu['copies_why']})" if uu.get("copies_why") else "")
                        + "; a window of four needs its copies side by side")
    if a.release or a.root or a.resume:
        raise PlanError("--upgrade names both releases; not with --release, --root or --resume")
    if a.startup_reps:
        raise PlanError("--upgrade measures CPU per request in windows; no --startup-reps")
    duet = spec.get("duet") or {}
    for s in spec["servers"]:
        ms = (duet.get("by_server") or {}).get(s, {}).get("modes") or []
        if set(ms) != set(spec["modes"]) or any(m not in MODES for m in ms):
            raise PlanError(f"--upgrade: {s} {','.join(spec['modes'])} cannot be measured in "
                            f"windows (modes {', '.join(MODES)}, not inetd's close/resume)")


def half_spec(spec, rel, pair, chain=None):
    """The spec.json of release REL's half of an upgrade run (step PAIR of
    CHAIN, when it has more than two releases)."""
    s = copy.deepcopy({k: v for k, v in spec.items() if k != "_order"})
    s.pop("release", None)
    if rel != MACHINE:
        s["release"] = rel
    s["order"] = []                     # windows only: no isolated slices
    s["duet"]["isolated_reps"] = 0
    s["upgrade"] = {"from": pair[0], "to": pair[1], "side": "from" if rel == pair[0] else "to",
                    **({"chain": list(chain)} if chain and len(chain) > 2 else {})}
    return s


def windows_planned(spec):
    """The four-instance windows one step of SPEC plans: per server, mode
    and round one per variant but the baseline (the A/A copy's included)."""
    d = spec["duet"]
    n = sum(len(d["by_server"][s]["modes"])
            * (sum(1 for v in spec["variants"] if v["server"] == s) - 1)
            for s in spec["servers"])
    return n * d["rounds"]


def clock(seconds):
    """"1:05" (minutes) or "1:02:05" (hours) of SECONDS."""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60}:{s % 60:02d}"


class Progress:
    """The progress of a whole chain: windows measured of those its steps
    plan, the wall time, and an ETA from the pace since the first window
    (so the root builds and the first boot do not inflate it, while the
    bring-ups of later epochs and the boots of later steps, which recur,
    are in it)."""

    def __init__(self, total, now=time.monotonic):
        self.total, self.done, self.now = total, 0, now
        self.t0, self.t_first = now(), None

    def started(self):
        """A window begins."""
        if self.t_first is None:
            self.t_first = self.now()

    def eta(self):
        """Seconds left at the pace so far, or None before a window ended."""
        if not self.done or self.t_first is None:
            return None
        return (self.now() - self.t_first) / self.done * max(0, self.total - self.done)

    def line(self, what):
        eta = self.eta()
        return (f"[{self.done}/{self.total} {clock(self.now() - self.t0)}"
                + (f", ETA {clock(eta)}" if eta is not None else "") + f"] {what}")

    def say(self, what):
        print(self.line(what), file=sys.stderr, flush=True)


def plan_windows(variant_ids, base_id, modes, rounds, seed, label):
    """[(round, mode, variant, order)] of an epoch: one window per variant
    (the A/A copy included) and mode per round, shuffled, ORDER the URL
    order of the four instances (a permutation of range(4): FROM base,
    FROM variant, TO base, TO variant)."""
    rng = random.Random(f"{seed}/{label}/upgrade")
    out = []
    for rnd, mode, vid, _ in win.plan(variant_ids, base_id, modes, rounds, seed, label):
        order = list(range(4))
        rng.shuffle(order)
        out.append((rnd, mode, vid, order))
    return out
