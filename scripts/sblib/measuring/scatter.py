"""How noisy the machine is, said as a run goes (sblib.measuring.runner's
progress lines): the scatter of isolated rounds and of duet windows."""
from sblib.analysis import stats as st
from sblib.records.model import VariantId


class Scatter:
    """How noisy the machine is, as the run goes. When a server's round
    ends, the robust spread (1.4826 MAD / median) of every variant's CPU per
    request over the baseline's in that round, per mode, is printed with the
    median over the rounds so far: directives cost little next to the
    machine's bursts, so this is mostly the noise an interval will carry,
    known from the first round on instead of hours later in the report
    (results/published/README.md says what quiet runs read). Variants with a
    known answer (spec "expect") are left out; at least MIN_VARIANTS others
    with the baseline make a figure."""
    MIN_VARIANTS = 5

    def __init__(self, spec):
        self.skip = set(spec.get("expect") or {})
        self.base = {v["id"] for v in spec.get("variants") or [] if v["role"] == "baseline"}
        self.round = None       # (server, round) being gathered
        self.cpu = {}           # mode -> {variant: cpu_ns_per_req}
        self.seen = {}          # (server, mode) -> [spread of each round so far]

    def add(self, rec):
        """Takes a slice's record; returns the lines of a round it ended."""
        server = VariantId.parse(rec["variant"]).server
        key = (server, rec.get("round"))
        lines = self.flush() if key != self.round else []
        self.round = key
        if rec.get("status") == "ok" and isinstance(rec.get("cpu_ns_per_req"), (int, float)):
            self.cpu.setdefault(rec["mode"], {})[rec["variant"]] = rec["cpu_ns_per_req"]
        return lines

    def flush(self):
        """The lines of the round being gathered (none if it is too small)."""
        lines = []
        for mode, cpu in self.cpu.items():
            base = [v for k, v in cpu.items() if k in self.base and v > 0]
            ratios = [v / base[0] for k, v in cpu.items()
                      if base and k not in self.base and VariantId.parse(k).name not in self.skip]
            if len(ratios) < self.MIN_VARIANTS:
                continue
            server, rnd = self.round
            seen = self.seen.setdefault((server, mode), [])
            seen.append(st.mad_cv(ratios))
            lines.append(f"{server} round {rnd + 1} {mode}: scatter ±{seen[-1] * 100:.1f}% over "
                         f"{len(ratios)} variants (median of {len(seen)} rounds "
                         f"±{st.median(seen) * 100:.1f}%)")
        self.cpu = {}
        return lines


def window_noise(window_ratios, server):
    """Progress lines after a round of SERVER's windows (WINDOW_RATIOS:
    {(server, mode): {variant: [CPU per request over the baseline's]}}): per
    mode, the spread of the per-window ratios about each variant's median
    (what an interval narrows from) and the A/A control's median so far."""
    out = []
    for (s_, mode), byv in sorted(window_ratios.items()):
        if s_ != server:
            continue
        devs = [x / st.median(xs) - 1.0 for xs in byv.values() if len(xs) > 1 for x in xs]
        aa = [xs for v, xs in byv.items() if v.endswith("/baseline-aa")]
        if len(devs) < 4:
            continue
        out.append(f"{server} {mode} windows: per-window ratios scatter "
                   f"±{st.mad_cv([1.0 + d for d in devs]) * 100:.2f}%"
                   + (f", A/A {(st.median(aa[0]) - 1.0) * 100:+.2f}% after {len(aa[0])}"
                      if aa else ""))
    return out
