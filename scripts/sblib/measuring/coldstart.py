"""The variants `sandbench startup` starts from cold: one server's
instances (Fleet) installed and started once through sblib.measuring.instances
(evidence, verdicts), then a timed cold start of one (start_once) or, for an
inetd-style server, N connections of one request each (connections_once)."""
import argparse
import json
import subprocess
import sys
import time

from sblib import catalogue as cat
from sblib.analysis import startup_stats as ss
from sblib.measuring import host as _host
from sblib.measuring import kernel
from sblib.measuring import unit as _unit
from sblib.measuring import plan
from sblib.measuring.instances import Instances
from sblib.measuring.reach import probe, settle


def variant_list(server, directives):
    """plan variants for SERVER: baseline, A/A, one per directive name, one
    per combination: a list of names (named by them joined with +) or
    {"name": NAME, "directives": [names]} (a profile's `combine` line)."""
    singles = [d for d in directives if isinstance(d, str)]
    combos = [(d["name"], list(d["directives"])) if isinstance(d, dict)
              else ("+".join(d), list(d)) for d in directives if not isinstance(d, str)]
    for d in singles + [x for _, ds in combos for x in ds]:
        cat.load_directive(d)   # raises with the valid names
    return plan.variants_for([server], singles, combos, False)


class Fleet:
    """One server's variants installed in HOST, started once (evidence,
    verdicts), then started and stopped one at a time. A user's unit (UNIT,
    answering at URL) that cannot run beside copies of itself (no @PORT@)
    has one variant installed at a time: before each start its files are
    written and systemd reloaded, after it they are removed, both outside
    the timed part."""

    def __init__(self, host, server, variants, start_timeout, server_cpu, progress,
                 unit=None, url=None):
        a = argparse.Namespace(start_timeout=start_timeout, server_cpu=server_cpu, path="/",
                               warmup=0, unit=unit, url=url)
        self.host = host
        spec = {"servers": [server]}
        if server == "unit":            # its spec as runplan makes it, copies one at a time
            spec["user_unit"] = _unit.server_spec([unit] if isinstance(unit, str) else unit, url)
        self.inst = Instances(a, spec, host, kernel.facilities(), progress, lambda i: None)
        self.sspec = self.inst.server_spec(server)
        self.sources = self.inst.sources(self.sspec)
        self.side = self.sspec["side"]
        self.insts = [self.inst.make_instance(self.sspec, v, i) for i, v in enumerate(variants)]
        self.by = {i.id: i for i in self.insts}
        self.start_timeout = start_timeout

    def up(self):
        if not self.side:
            return self.up_one_at_a_time()
        self.inst.bring_up(self.insts, self.sources, evidence=True, warm=False)
        for i in self.insts:
            if i.status == "ok" and "@." not in i.target:
                self.stop(i)

    def up_one_at_a_time(self):
        base = None
        for i in self.insts:
            why = self.inst.unsupported(i.v)
            if why:
                i.status, i.reason = "unsupported", why
                continue
            self.put(i)
            try:
                if self.inst.start(i):
                    self.inst.collect(i, base)
                    base = base or i
                else:
                    print(f"    {i.id}: {i.status}: …{i.reason[-300:]}", file=sys.stderr)
            finally:
                self.take(i)

    def put(self, i):
        if not self.side:
            self.inst.install(i, self.sources)
            self.host.systemctl("daemon-reload")

    def take(self, i):
        if not self.side:
            self.inst.uninstall([i])

    def stop(self, i):
        try:
            self.host.systemctl("stop", i.start, i.target, *[i.names[u] for u in
                                                            i.spec.get("pre_start", [])],
                                check=False, timeout=120)
        except _host.HostError as e:      # a stop that hangs is the host's end
            raise _host.HostError(f"cannot stop {i.id}: {e}") from None

    def down(self):
        self.inst.uninstall([i for i in self.insts if i.installed])

    def records(self):
        return {i.id: {k: v for k, v in i.record().items() if k not in ("startup_ms",)}
                for i in self.insts}

    def start_once(self, i, read_pid1):
        """One cold start of I: the sample's fields (status "ok" or "error")."""
        h = self.host
        pre = [i.names[u] for u in i.spec.get("pre_start", [])]
        c0 = read_pid1()
        t0 = time.monotonic()
        try:
            r = h.systemctl("start", *pre, i.start, check=False, timeout=self.start_timeout)
        except _host.HostError:
            # a Type=notify service not ready within the timeout: the stop
            # cancels its start job
            self.stop(i)
            h.systemctl("reset-failed", i.start, i.target, check=False)
            return {"status": "error", "timed_out": True,
                    "error": f"systemctl start did not return within {self.start_timeout:g}s"}
        t1 = time.monotonic()
        rec = {"systemctl_ms": round((t1 - t0) * 1000, 3)}
        if r.returncode != 0:
            self.stop(i)
            return {**rec, "status": "error", "error": (r.stderr or "").strip()[-300:]}
        deadline = t0 + self.start_timeout
        good, last_check = False, t1
        while time.monotonic() < deadline:
            code = probe(i.url, timeout=max(0.05, min(30.0, deadline - time.monotonic())))
            if code is not None and 200 <= code < 400:
                good = True
                break
            if time.monotonic() - last_check > 0.5:
                last_check = time.monotonic()
                if h.show(i.target, "ActiveState").get("ActiveState") == "failed":
                    break
            time.sleep(0.002)
        t2 = time.monotonic()
        c1 = read_pid1()
        if not good:
            why = self.inst.why(i, None, "")
            self.stop(i)
            h.systemctl("reset-failed", i.start, i.target, check=False)
            return {**rec, "status": "error",
                    "error": ("no good answer within %gs: " % self.start_timeout
                              if t2 >= deadline else "failed: ") + why[-300:],
                    "timed_out": t2 >= deadline}
        props = h.show(i.target, "ControlGroup", *ss.PHASE_PROPS)
        ucpu = h.cpu_usec(None, cgdir=h.cgroup_root() + props.get("ControlGroup", "")) \
            if props.get("ControlGroup") else None
        self.stop(i)
        return {**rec, "status": "ok", "total_ms": round((t2 - t0) * 1000, 3),
                "pid1_cpu_ms": round((c1 - c0) / 1000.0, 3),
                "unit_cpu_ms": round(ucpu / 1000.0, 3) if ucpu is not None else None,
                **ss.phases(props, t0, t2)}

    def connections_once(self, i, read_pid1, loadgen, n, conc, loadgen_cpu):
        """N connections of one request each to inetd instance I."""
        dirs = i.cpu_dirs_cached
        idle0 = settle(dirs)
        u0 = sum(self.host.cpu_usec(None, cgdir=d) or 0 for d in dirs)
        p0 = read_pid1()
        argv = ["taskset", "-c", str(loadgen_cpu), loadgen, "-c", str(conc), "-t", "1",
                "-n", str(n), "--close", "--json", i.url]
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=n * 2 + 30)
            js = json.loads(p.stdout)
        except (subprocess.TimeoutExpired, ValueError) as e:
            settle(dirs, 30)
            return {"status": "error", "error": f"loadgen: {e}"}
        idle1 = settle(dirs)
        u1 = sum(self.host.cpu_usec(None, cgdir=d) or 0 for d in dirs)
        p1 = read_pid1()
        reqs = int(js.get("requests") or 0)
        rec = {"connections": n, "concurrency": conc, "answered": reqs,
               "settled": idle0 and idle1, "duration_s": js.get("duration_s")}
        if reqs != n or not js.get("duration_s"):
            return {**rec, "status": "error", "error": f"{reqs} of {n} connections answered"}
        units, pid1 = (u1 - u0) / 1000.0 / n, (p1 - p0) / 1000.0 / n
        return {**rec, "status": "ok", "units_per_conn_ms": round(units, 4),
                "pid1_per_conn_ms": round(pid1, 4), "cpu_per_conn_ms": round(units + pid1, 4),
                "conns_per_s": round(n / js["duration_s"], 3)}
