"""The load of `sandbench run`: loadgen's command lines, an isolated slice
(one instance loaded, its record) and a duet window (two instances loaded at
once by one loadgen, a record each, see sblib.records.windows), and the servers'
CPU time from their cgroups.
"""
import json
import os
import subprocess
import time

from sblib.records import windows as win
from sblib.measuring.reach import settle


def warmup_of(ds, open_loop):
    """The unmeasured seconds before a window of a server (duet by_server
    DS): an open loop's own (a per-connection server's starts need longer
    at a fixed rate: catalogue rate_warmup) or the server's."""
    return ds.get("rate_warmup_s", ds["warmup_s"]) if open_loop else ds["warmup_s"]


class Loader:
    """Runs build/bin/loadgen (LOADGEN) as the parsed `run` arguments A and
    the run's SPEC say; HOST reads the cgroups."""

    def __init__(self, a, spec, host, loadgen):
        self.a = a
        self.spec = spec
        self.host = host
        self.loadgen = loadgen
        self.fixed = {}     # server -> its fixed offered load (fixed_load)

    def loadgen_argv(self, url, mode, duration, connections=None, count=None, threads=None):
        """DURATION seconds of load, or with COUNT exactly that many requests.
        THREADS: loadgen's threads, ["-t", "1"] unless given (a duet window's
        --thread-per-target)."""
        a = self.a
        argv = ["taskset", "-c", str(a.loadgen_cpu), self.loadgen, "-c",
                str(connections or a.connections)] + (threads or ["-t", "1"])
        argv += ["-n", str(count)] if count else ["-d", f"{int(duration * 1000)}ms"]
        argv.append("--json")
        if mode == "close":
            argv.append("--close")
        elif mode == "resume":
            argv.append("--resume")
        elif mode == "rate":
            argv += ["-R", str(a.rate)]
        return argv + [url]

    def load(self, url, mode, duration, warmup=0.0, cpu_dirs=None, connections=None, count=None,
             netns=None):
        """Runs the load generator (WARMUP unmeasured seconds, then DURATION
        measured; or exactly COUNT requests, whose CPU measure() reads itself).
        Returns (json dict or None, error text, CPU usec of CPU_DIRS over the
        measured part or None). The generator reads the cgroups' CPU counters
        itself (--cgroup) the moment it starts and stops counting requests, so
        both figures cover the same window. NETNS: the network namespace file
        the connections are made in (loadgen --netns), None for its own."""
        argv = self.loadgen_argv(url, mode, duration, connections, count)
        if netns:
            argv[-1:-1] = ["--netns", netns]
        if warmup > 0:
            argv[-1:-1] = ["--warmup", f"{int(warmup * 1000)}ms"]
        for d in cpu_dirs or []:
            argv[-1:-1] = ["--cgroup", d]
        limit = (count * 0.5 if count else duration) + warmup + 20
        js, err = self.run_loadgen(argv, limit)
        if js is None:
            return None, err, None
        cpu = (js.get("server_cpu") or {}).get("usec") if cpu_dirs else None
        return js, err, cpu

    def run_loadgen(self, argv, limit):
        """(loadgen's JSON or None, error text)."""
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=limit)
        except subprocess.TimeoutExpired:
            return None, f"loadgen did not finish in {limit:g}s"
        try:
            js = json.loads(p.stdout)
        except ValueError:
            return None, f"loadgen exit {p.returncode}: {(p.stderr or p.stdout).strip()[-300:]}"
        return js, (p.stderr.strip() if p.returncode else "")

    def cgroup_usec(self, dirs):
        """The CPU time of cgroups DIRS in µs, summed as loadgen --cgroup does;
        None if one is unreadable."""
        vals = [self.host.cpu_usec(None, cgdir=d) for d in dirs or []]
        return None if None in vals else sum(vals)

    def measure(self, inst, mode, rnd, slice_no):
        count = (inst.spec.get("slice_connections") or {}).get(mode)
        warm = 0.0 if count else max(self.a.slice_warmup, inst.spec.get("slice_warmup", 0))
        conns = min(self.a.connections, inst.spec.get("connections", self.a.connections))
        dirs = inst.cpu_dirs_cached
        if count:
            # whole connections: from an idle server (none of its per-connection
            # units left) to the last one's unit gone, read here, not by loadgen
            idle0 = settle(dirs)
            c0 = self.cgroup_usec(dirs)
        t = time.time()
        js, err, cpu = self.load(inst.url, mode, self.a.duration, warm,
                                 None if count else dirs, conns, count, inst.netns_file)
        rec = {"slice": slice_no, "round": rnd, "rep": rnd, "variant": inst.id,
               "server": inst.v["server"], "mode": mode, "phase": "isolated", "status": "ok",
               "start": round(t, 3), "duration_s": self.a.duration, "warmup_s": warm}
        if count:
            idle1 = settle(dirs)
            c1 = self.cgroup_usec(dirs)
            cpu = c1 - c0 if c0 is not None and c1 is not None else None
            rec["connections_counted"] = count
            rec["settled"] = idle0 and idle1
        if inst.position is not None:
            rec["epoch"], rec["position"] = inst.epoch, inst.position
        if inst.netns:
            rec["netns"] = os.path.basename(inst.netns)
        if js is None:
            rec.update({"status": "error", "error": err})
            return rec
        reqs = int(js.get("requests") or 0)
        # the directive's unit alone (a proxied backend), its nginx beside it;
        # counted slices read their CPU here, not from loadgen
        fig = win.figures(js, set(inst.own_dirs()), self.a.duration)
        if count:
            fig["cpu_usec"] = cpu
            fig["cpu_ns_per_req"] = round(cpu * 1000.0 / reqs, 1) \
                if (cpu is not None and reqs) else None
        rec.update({**fig, "loadgen": js})
        if err:
            rec["loadgen_stderr"] = err[-300:]
        if reqs == 0:
            rec["status"] = "error"
            rec["error"] = "no request completed" + (f": {err}" if err else "")
        elif count and reqs != count:
            # a connection that failed cost CPU but answered nothing
            rec["status"] = "error"
            rec["error"] = f"{reqs} of {count} connections answered"
        return rec

    def window_argv(self, pair, mode, window_s, rate=None, seed=None):
        """loadgen's command line of a duet window of PAIR in MODE: WINDOW_S
        measured seconds after the server's warm-up, each instance its
        connections, cgroups (and namespace), RATE requests/s to each
        (--rate-per-target, open loop, `run --arrivals`: Poisson unless
        asked otherwise, the gaps drawn from SEED) where given, else
        closed loop."""
        ds = self.spec["duet"]["by_server"][pair[0].v["server"]]
        threads = getattr(self.a, "window_loadgen", win.THREAD_PER_TARGET)
        argv = self.loadgen_argv(pair[0].url, mode if rate is None else "keepalive", window_s,
                                 ds["connections_per_target"] * len(pair),
                                 threads=win.LOADGEN_THREADS[threads])
        argv[-1:] = [i.url for i in pair]
        tail = ["--warmup", f"{int(warmup_of(ds, rate is not None) * 1000)}ms"]
        if rate is not None:
            tail += ["--rate-per-target", str(rate),
                     "--arrivals", getattr(self.a, "arrivals", win.POISSON)]
            if seed is not None:
                tail += ["--seed", str(seed)]
        for i in pair:
            tail += ["--cgroup", ",".join(i.cpu_dirs_cached)]
        if any(i.netns_file for i in pair):
            # each target's connections made in its own namespace ("": loadgen's)
            tail += ["--netns", ",".join(i.netns_file or "" for i in pair)]
        argv[-len(pair):-len(pair)] = tail
        return argv

    def fixed_load(self, pair):
        """The fixed offered load of PAIR's server (records.windows
        offered_rate), probed the first time it is asked for: PROBES
        keepalive windows of its baseline beside itself, each side's req/s
        a capacity figure, then one open-loop window at the rate chosen,
        which lowers it where a CPU is busier than the share (win.within).
        None when no probe answered."""
        server = pair[0].v["server"]
        if server in self.fixed:
            return self.fixed[server]
        base = next(i for i in pair if i.v["role"] == "baseline")
        d = self.spec["duet"]
        fl = d.get("fixed_load") or {}
        share, need = fl.get("share", win.LOAD_SHARE), fl.get("min_requests", win.MIN_REQUESTS)

        def probe(rate=None):
            return self.run_loadgen(self.window_argv([base, base], "keepalive", d["window_s"],
                                                     rate),
                                    d["window_s"] + 20 + d["by_server"][server]["warmup_s"])[0]
        rps = [t.get("rps") for _ in range(win.PROBES)
               for t in (probe() or {}).get("targets") or []]
        offer = win.offered_rate(rps, share, need, d["window_s"], fl.get("rate"))
        if offer:
            offer["probe_rps"] = [round(x, 1) for x in rps if x]
            # an open loop's sender costs more per request the lower the
            # rate (a wake-up each): lowered, it is probed again, at most
            # LOWERINGS times
            for _ in range(win.LOWERINGS):
                rate = offer["rate_per_target"]
                offer = win.within(offer, win.busy(probe(rate)), share, need, d["window_s"],
                                   lower=not fl.get("rate"))
                if offer["rate_per_target"] == rate:
                    break
        self.fixed[server] = offer
        return offer

    def window(self, pair, mode, rnd, wid, slice_no):
        """Duet window number WID: PAIR loaded together by one loadgen
        process (each its connections and its cgroups), one record per
        instance. Each instance is driven by a loadgen thread of its own
        (--thread-per-target, both pinned to --loadgen-cpu as one ring is),
        whose CPU time (on loopback it holds the softirq work of the
        server's ingress, a cgroup's BPF among it) is the record's sender
        part; with `run --window-loadgen one-ring`, one thread for both.
        Mode FIXED (records.windows): both at the server's fixed offered
        load (fixed_load), in a window that holds its requests."""
        d = self.spec["duet"]
        ds = d["by_server"][pair[0].v["server"]]
        if mode == win.CAPACITY:
            return self.capacity_pair(pair, rnd, wid, slice_no)
        window_s, fixed = (d.get("mode_window_s") or {}).get(mode, d["window_s"]), None
        if mode == win.FIXED:
            fixed = self.fixed_load(pair)
            window_s = fixed["window_s"] if fixed else window_s
        argv = self.window_argv(pair, mode, window_s,
                                fixed["rate_per_target"] if fixed else None,
                                seed=self.spec["seed"] * 100003 + wid if fixed else None)
        threads = getattr(self.a, "window_loadgen", win.THREAD_PER_TARGET)
        meta = {"slice": slice_no, "round": f"w{wid}", "rep": rnd, "window": wid,
                "mode": mode, "start": round(time.time(), 3), "duration_s": window_s,
                "warmup_s": warmup_of(ds, fixed is not None), "loadgen_threads": threads}
        if fixed:
            meta["fixed_load"] = {**fixed, "arrivals": getattr(self.a, "arrivals", win.POISSON)}
        if pair[0].position is not None:
            meta["epoch"] = pair[0].epoch
        js, err = (None, "no capacity probe answered: no fixed load to offer") \
            if mode == win.FIXED and not fixed else \
            self.run_loadgen(argv, window_s + meta["warmup_s"] + 20)
        if js is None:
            meta["error"] = err
        return self.pair_records(pair, js, err, meta)

    def capacity_pair(self, pair, rnd, wid, slice_no):
        """Capacity pair number WID (records.windows CAPACITY): each of PAIR
        loaded alone and saturated, one right after the other in PAIR's
        order, as an isolated slice of the spec's capacity_s seconds after
        the server's window warm-up; one record each, paired as a window's."""
        d = self.spec["duet"]
        ds = d["by_server"][pair[0].v["server"]]
        dur = d.get("capacity_s", d["window_s"])
        meta = {"slice": slice_no, "round": f"w{wid}", "rep": rnd, "window": wid,
                "mode": win.CAPACITY, "start": round(time.time(), 3), "duration_s": dur,
                "warmup_s": ds["warmup_s"], "alone": True}
        if pair[0].position is not None:
            meta["epoch"] = pair[0].epoch
        sides, errs = [], []
        for i in pair:
            want = d.get("capacity_connections", self.a.connections)
            conns = min(want, i.spec.get("connections", want))
            js, err, _cpu = self.load(i.url, "keepalive", dur, ds["warmup_s"],
                                      i.cpu_dirs_cached, conns, None, i.netns_file)
            sides.append(js)
            errs.append(err)
        js = {"targets": sides} if None not in sides else None
        if js is None:
            meta["error"] = next(e for e, j in zip(errs, sides) if j is None)
        return self.pair_records(pair, js, "; ".join(e for e in errs if e), meta)

    def pair_records(self, pair, js, err, meta):
        """The records of one window or capacity pair of PAIR from loadgen's
        JSON JS (None: META["error"] says why; ERR: its standard error)."""
        members = [(i.id, i.v["server"], set(i.own_dirs())) for i in pair]
        recs = win.records(js, members, meta)
        for rec, i in zip(recs, pair):
            if i.position is not None:
                rec["position"] = i.position
            if i.netns:
                rec["netns"] = os.path.basename(i.netns)
            if err and js is not None:
                rec["loadgen_stderr"] = err[-300:]
        return recs
