"""Figures as the report writes them: numbers, changes with their intervals,
CPU times, verdicts and the sandbox evidence's answers."""
import math

from sblib.analysis import results as rs
from sblib.analysis import stats as st

# The two parts of a directive's CPU per request, as the report labels them
# (rs.CPU_PARTS): the server's cgroup, and the load generator's thread, where
# on loopback the server's ingress softirq (a cgroup's BPF among it) runs.
PART_LABELS = {"cpu_ns_per_req": "server",
               rs.SENDER: "sender (loopback softirq in the load generator)"}


def num(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return "-"
    a = abs(v)
    if a >= 1e4:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def change(c):
    """'+10.2% [+8.1%, +12.0%]' for a compare() result, '-' without one, and
    'n<3' or 'no interval' where it cannot carry a cost (st.why_not): no
    cost is printed from fewer than 3 samples or a zero-width interval."""
    if not c:
        return "-"
    why = st.why_not(c)
    if why:
        return f"({why})"
    return f"{st.pct(c['ratio'])} {st.interval(c['lo'], c['hi'])}"


def applied_word(a):
    """The evidence verdict of one directive: True, False or None (could not tell)."""
    return {True: "yes", False: "**no**"}.get(a, "n/a")


def applied_summary(applied):
    if not applied:
        return "-"
    if len(applied) == 1:
        return applied_word(next(iter(applied.values())))
    vals = list(applied.values())
    parts = [f"{vals.count(True)} yes"]
    if vals.count(False):
        parts.append(f"**{vals.count(False)} no**")
    if len(vals) - vals.count(True) - vals.count(False):
        parts.append(f"{len(vals) - vals.count(True) - vals.count(False)} n/a")
    return ", ".join(parts)


def fmt_ns(v):
    """A signed amount of CPU time, in the unit that suits it: +350 ns, +1.9 µs, +17.5 ms."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:+.1f} ms"
    if a >= 1e3:
        return f"{v / 1e3:+.1f} µs"
    return f"{v:+.0f} ns"


def mark(c):
    if not c or st.why_not(c):
        return ""
    return {"worse": "**worse**", "better": "better", "~": "~"}[c["verdict"]]


def min_p(c):
    """The smallest p-value the rank test of compare() can give for these sample sizes."""
    if c.get("paired"):
        return 2.0 / 2 ** c["n_base"]
    return min(1.0, 2.0 / math.comb(c["n_base"] + c["n_new"], c["n_base"]))


def parts_text(parts):
    """'server +230 ns [+180, +290] + sender +250 ns [+200, +300] = +480 ns'
    for rs.cpu_parts() PARTS; a part without a cost reads '-'."""
    def one(name, d):
        if not d:
            return f"{name} -"
        return f"{name} {fmt_ns(d[0])} [{d[1]:+,.0f}, {d[2]:+,.0f}]"
    text = f"{one('server', parts['server'])} + {one('sender', parts['sender'])}"
    return text + (f" = {fmt_ns(parts['total'])}" if parts["total"] is not None else "")
