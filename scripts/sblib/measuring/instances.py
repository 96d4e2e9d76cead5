"""The instances `sandbench run` measures: a variant's units renamed and
templated for its own port (side by side) or installed as they are, started
through the sandbox host's systemd and probed until they answer (or found
incompatible or hung, with the journal's reason), their sandbox evidence
collected and judged, stopped and removed again. No load and no schedule
here: sblib.measuring.load drives the load, sblib.measuring.runner decides what
runs when.
"""
import os
import re
import socket
import sys
import time

from sblib import catalogue as cat
from sblib.measuring import collect as coll
from sblib.measuring import copies
from sblib.measuring import releases
from sblib import evidence as ev
from sblib.measuring import host as _host
from sblib import templates
from sblib import util
from sblib.measuring import plan
from sblib.measuring.reach import probe, url_with_port
from sblib.measuring.recovery import Recovery



class Instance:
    """One variant running as its own set of units (renamed with TAG)."""

    def __init__(self, variant, spec, tag, port, bport, url, side_by_side=True):
        self.v = variant
        self.id = variant["id"]
        self.spec = spec                    # server spec (cat.SERVERS entry or the --unit one)
        self.tag = tag
        self.port = port
        self.bport = bport
        self.url = url
        self.side = side_by_side
        self.status = "pending"
        self.reason = None
        self.startup_ms = None
        self.evidence = None
        self.applied = {}
        self.applied_why = {}
        self.exposure = None
        self.exposure_predicate = None
        self.exposure_checks = []
        self.memory = None
        self.installed = []
        self.cg = []
        if side_by_side:
            self.names = {u: plan.instance_name(u, tag) for u in spec["units"]}
        else:
            self.names = {u: u for u in spec["units"]}
        self.start = self.names[spec["start"]]
        self.target = self.names[spec["target"]]
        self.keeper = None
        self.shadow_checked = False     # its own file is the one systemd loads
        self.position = None
        self.epoch = 0
        self.startups = []
        self.restarts = []          # each time it stopped serving and was restarted
        self.started_at = None      # time.monotonic() of its last start (kills since: its own)
        self.netns = None           # its own network namespace (host path), or None
        self.netns_file = None      # the same seen from this machine (loadgen --netns)

    def rundir_name(self, fn):
        """Per-instance name of a file in @RUNDIR@ (a unix socket, say)."""
        if not self.side:
            return fn
        base, dot, ext = fn.rpartition(".")
        return f"{base}-{self.tag}.{ext}" if dot else f"{fn}-{self.tag}"

    def record(self):
        return {"server": self.v["server"], "directives": self.v["directives"],
                "role": self.v["role"], "unit": self.target, "port": self.port,
                "status": self.status, "reason": self.reason,
                "startup_ms": self.startup_ms,
                **({"startup_ms_samples": self.startups} if len(self.startups) > 1 else {}),
                **({"restarts": self.restarts} if self.restarts else {}),
                "memory_bytes": self.memory,
                "exposure": self.exposure, "exposure_predicate": self.exposure_predicate,
                "exposure_checks": self.exposure_checks,
                "evidence": self.evidence, "applied": self.applied,
                "applied_why": self.applied_why}

    def own_dirs(self):
        """The cgroups of the unit the directives go to (its CPU is the
        directive's cost; a proxied backend's nginx is reported beside it)."""
        return [d for u, d in zip(self.cpu_units, self.cpu_dirs_cached) if u == self.target] \
            or list(self.cpu_dirs_cached)


def unit_texts(inst, sources, nginx_src):
    """{dest path relative to the unit dir: text} for INST: its renamed unit
    files with ports set, a CPUAffinity pin per service, the directives'
    drop-ins for the target unit, and (proxied) its own nginx config."""
    out = {}
    names = list(inst.spec["units"])
    default_port = inst.spec.get("default_port", 443)
    default_backend = inst.spec.get("default_backend")
    for u in names:
        with open(sources[u]) as f:
            text = f.read()
        if inst.netns:
            # a copy in its own network namespace keeps its ports as written
            text = plan.rename_refs(text, names, inst.tag)
            text = text.replace("@PORT@", str(inst.port))
        elif inst.side:
            text = plan.rename_refs(text, names, inst.tag)
            text = plan.fill_ports(text, inst.port, inst.bport, default_port, default_backend)
            if nginx_src:
                text = text.replace("@CONFDIR@/nginx.conf", f"@CONFDIR@/nginx-{inst.tag}.conf")
            for fn in inst.spec.get("rundir_files", []):
                text = text.replace(f"@RUNDIR@/{fn}", f"@RUNDIR@/{inst.rundir_name(fn)}")
        out[inst.names[u]] = text
    for u in names:
        if u.endswith(".service"):
            out[f"{inst.names[u]}.d/50-sandbench-pin.conf"] = \
                f"# sandbench: pin to the server CPU\n[Service]\nCPUAffinity={inst.server_cpu}\n"
    bodies = []
    for i, d in enumerate(inst.v["directives"]):
        body = cat.load_directive(d)["body"]
        bodies.append(body)
        out[f"{inst.target}.d/60-{i:02d}-{d}.conf"] = body
    if inst.netns:
        with open(sources[inst.spec["target"]]) as f:
            pids = copies.pid_files(f.read())
        out.update(copies.dropins([inst.names[u] for u in names], inst.target, inst.tag,
                                  pids, bodies))
        inst.pid_files = pids
    for cu in inst.spec["cpu"]:
        if cu.endswith(".slice"):
            templ = [u for u in names if "@." in u][0]
            stem = plan.unit_stem(inst.names[templ])[0]
            sl = "system-" + stem.replace("-", "\\x2d") + ".slice"
            inst.keeper = f"sandbench-keep-{inst.tag}.service"
            out[inst.keeper] = (f"# sandbench: keeps {sl} (and its CPU counters) alive\n"
                                f"[Service]\nSlice={sl}\nExecStart=/bin/sleep infinity\n"
                                f"CPUAffinity={inst.server_cpu}\n")
            inst.cpu_units = getattr(inst, "cpu_units", []) + [sl]
        else:
            inst.cpu_units = getattr(inst, "cpu_units", []) + [inst.names.get(cu, cu)]
    return out


class Instances(Recovery):
    """Installs, starts, judges and removes instances in the sandbox HOST.
    A: the parsed `run` arguments (start timeout, server CPU, path, --unit
    and --url), SPEC: the run's plan, FAC: the machine's facilities
    (kernel.facilities()), PROGRESS(text): a progress line, WARM(inst): an
    unmeasured load that warms a started instance."""

    def __init__(self, a, spec, host, fac, progress, warm):
        self.a = a
        self.spec = spec
        self.host = host
        self.fac = fac
        self.progress = progress
        self.warm = warm

    def sources(self, spec):
        src = {}
        for u in spec["units"]:
            p = spec.get("paths", {}).get(u) or os.path.join(cat.UNITS, u)
            if not os.path.isfile(p):
                raise _host.HostError(
                    f"unit file {os.path.relpath(p, util.repo_root())} for server "
                    f"'{spec.get('name')}' not found (the servers' units live in units/)")
            src[u] = p
        return src

    def server_spec(self, server):
        if server == "unit":
            return dict(self.spec["user_unit"])
        s = dict(cat.SERVERS[server])
        s["name"] = server
        s["side"] = True
        return s

    def make_instance(self, sspec, v, idx):
        port, bport = plan.ports(self.spec["servers"].index(sspec["name"]), idx,
                                 getattr(self.host, "slot", 0))
        if sspec["name"] == "unit":
            url = url_with_port(self.a.url, port) if sspec["side"] else self.a.url
        else:
            url = f"https://127.0.0.1:{port}{self.a.path}"
        if not sspec["side"]:
            port = sspec["default_port"]
        if sspec.get("copies") == "netns":
            # its own network namespace: the URL and ports as written
            port, url = sspec["default_port"], self.a.url
        inst = Instance(v, sspec, f"sb{idx}", port, bport, url, sspec["side"])
        inst.server_cpu = self.a.server_cpu
        if sspec.get("copies") == "netns":
            inst.netns = f"/run/netns/{copies.ns_name(inst.tag)}"
            inst.netns_file = self.host.path(inst.netns)
        return inst

    def unsupported(self, v):
        for d in v["directives"]:
            h = cat.load_directive(d)
            req = h.get("requires")
            if req and req in self.fac and not self.fac[req][0]:
                return f"{d}: needs {req}: {self.fac[req][1]}"
            why = releases.refused(self.host, d)   # newer than the host's systemd
            if why:
                return why
        if v["server"] == "unit" and (self.spec.get("user_unit") or {}).get("copies") == "netns":
            uu = self.spec["user_unit"]
            return copies.variant_refused([cat.load_directive(d)["body"]
                                           for d in v["directives"]],
                                          socket_activated=uu["start"] != uu["target"])
        return None

    def install(self, inst, sources):
        nginx_src = os.path.join(util.repo_root(), "servers", "proxy", "nginx.conf")
        nginx_src = nginx_src if (inst.v["server"] == "proxied" and os.path.exists(nginx_src)) \
            else None
        texts = unit_texts(inst, sources, nginx_src)
        if inst.netns:
            self.make_netns(inst)
        mapping = self.host.mapping()
        for rel, text in texts.items():
            dest = os.path.join(_host.UNIT_DIR, rel)
            self.host.write(dest, _host.fill(text, mapping))
            inst.installed.append(dest)
            self.host.installed.append(dest)
        if nginx_src:
            with open(nginx_src) as f:
                conf = f.read()
            conf = conf.replace("@RUNDIR@/", f"@RUNDIR@/{inst.tag}-")
            up = inst.spec.get("upstream") or f"127.0.0.1:{inst.bport}"
            for fn in inst.spec.get("rundir_files", []):
                up = up.replace(f"@RUNDIR@/{fn}", f"@RUNDIR@/{inst.rundir_name(fn)}")
            up = up.replace("@RUNDIR@", templates.PATHS["RUNDIR"])
            if inst.side:
                mapping = self.host.mapping({"LISTEN": f"127.0.0.1:{inst.port}", "UPSTREAM": up})
            else:
                mapping = self.host.mapping({"UPSTREAM": up})
            dest = f"{templates.PATHS['CONFDIR']}/nginx-{inst.tag}.conf"
            self.host.write(dest, _host.fill(conf, mapping))
        self.host.save()

    def make_netns(self, inst):
        """INST's own network namespace (a stale one of that name replaced)
        and its own empty pid files (their places in /run made, so that
        BindPaths= finds both ends)."""
        h = self.host
        h.run(["ip", "netns", "delete", copies.ns_name(inst.tag)], timeout=20)
        for argv in copies.setup_argv(inst.tag, inst.url):
            h.run(argv, check=True, timeout=20)
        try:
            inst.netns_id = f"net:[{os.stat(inst.netns_file).st_ino}]"
        except OSError:
            inst.netns_id = None
        for p in getattr(inst, "pid_files", []):
            h.write(copies.own_pid_path(inst.tag, p), "")
            if not os.path.lexists(h.path(p)):
                h.write(p, "")

    def drop_netns(self, insts):
        for inst in insts:
            if inst.netns:
                self.host.run(["ip", "netns", "delete", copies.ns_name(inst.tag)], timeout=20)
                self.host.run(["rm", "-rf", f"{copies.COPY_DIR}/{inst.tag}"], timeout=20)

    def uninstall(self, insts):
        stop = []
        for inst in insts:
            stop += [inst.start, inst.target] + ([inst.keeper] if inst.keeper else []) + \
                [n for n in inst.names.values() if "@" not in n] + \
                [u for u in getattr(inst, "cpu_units", []) if u.endswith(".slice")]
        stop = sorted(set(n for n in stop if "@." not in n))
        templ = [n for i in insts for n in i.names.values() if "@." in n]
        pats = [t.replace("@.", "@*.") for t in templ]
        if stop or pats:
            self.host.systemctl("stop", *stop, *pats, check=False, timeout=90)
            self.host.systemctl("reset-failed", *stop, *pats, check=False)
        paths = [p for i in insts for p in i.installed]
        self.host.uninstall(paths, reload=True)
        self.drop_netns(insts)
        for inst in insts:
            inst.installed = []

    def start(self, inst):
        """Starts INST and waits for its first good answer: sets status,
        startup_ms, reason."""
        h = self.host
        if not inst.side and not inst.shadow_checked:
            self.check_not_shadowed(inst)
            inst.shadow_checked = True
        if inst.keeper:
            h.systemctl("start", inst.keeper, check=False)
        # to the microsecond: the try before may have stopped in the same second
        now = time.time()
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + \
            f".{int(now % 1 * 1e6):06d}"
        t0 = inst.started_at = time.monotonic()
        pre = [inst.names[u] for u in inst.spec.get("pre_start", [])]
        r = h.systemctl("start", *pre, inst.start, check=False,
                        timeout=self.a.start_timeout + 30)
        if r.returncode != 0:
            inst.status = "incompatible"
            inst.reason = self.why(inst, since, r.stderr)
            return False
        deadline = t0 + self.a.start_timeout
        watch = [inst.target] if "@." not in inst.target else []
        while time.monotonic() < deadline:
            code = probe(inst.url, timeout=max(0.2, min(1.0, deadline - time.monotonic())),
                         netns=inst.netns_file)
            if code is not None and 200 <= code < 400:
                inst.startup_ms = round((time.monotonic() - t0) * 1000, 1)
                inst.startups.append(inst.startup_ms)
                inst.status = "ok"
                return True
            failed = False
            for u in [inst.start] + watch:
                st = h.show(u, "ActiveState", "Result")
                if st.get("ActiveState") == "failed":
                    failed = True
            if "@." in inst.target:
                r2 = h.systemctl("list-units", "--all", "--plain", "--no-legend", "--state=failed",
                                 inst.target.replace("@.", "@*."), check=False)
                if (r2.stdout or "").strip():
                    failed = True
            if failed:
                inst.status = "incompatible"
                oom = self.oom(inst, inst.target, h.show(inst.target, "Result").get("Result")) \
                    if "@." not in inst.target else None
                inst.reason = (f"{oom}: " if oom else "") + self.why(inst, since, "")
                return False
            time.sleep(0.05)
        inst.status = "hang"
        inst.reason = (f"no good answer from {inst.url} within {self.a.start_timeout:g}s; "
                       + self.why(inst, since, ""))
        return False

    def check_not_shadowed(self, inst):
        """A user's unit runs under its own name, installed in the runtime
        unit directory: a file of that name in /etc/systemd/system (the
        machine's, shown in the sandbox host) would win over it, and every
        variant would measure the machine's unit instead. HostError then."""
        for u in inst.names.values():
            frag = self.host.show(u, "FragmentPath").get("FragmentPath")
            mine = os.path.join(_host.UNIT_DIR, u)
            if frag and frag != mine:
                raise _host.HostError(
                    f"{u}: systemd loads {frag}, not the file sandbench installed ({mine}); "
                    f"a unit of that name in /etc/systemd/system wins over it. Measure a copy "
                    f"under another name (and its .socket with it)")

    def why(self, inst, since, extra):
        units = [inst.start, inst.target.replace("@.", "@*.")]
        lines = []
        for u in dict.fromkeys(units):
            j = self.host.journal(u, lines=12, since=since)
            if j:
                lines += [ln for ln in j.splitlines() if ln.strip()]
        # systemd's own progress lines say nothing about why
        noise = re.compile(r"^(Starting|Started|Stopping|Stopped|Deactivated|Consumed|"
                           r"Failed to start) |^Job for .* failed because")
        lines = [ln for ln in lines if not noise.match(ln)][-10:]
        return " | ".join(lines) or (extra or "").strip() or "(journal empty)"

    def collect(self, inst, base):
        """Evidence, verdicts, exposure of a started instance."""
        h = self.host
        try:
            if "@." in inst.target:
                e = self.inetd_evidence(inst)
            else:
                e = coll.collect(h, inst.target)
            inst.evidence = e
        except (_host.HostError, OSError) as x:
            inst.evidence = {"error": str(x)}
            e = None
        self.judge(inst, base)
        unit = inst.target
        if "@." in unit:
            unit = inst.evidence_unit if getattr(inst, "evidence_unit", None) else unit
        if "@." not in unit:
            try:
                s, p, checks = coll.exposure(h, unit)
                inst.exposure, inst.exposure_predicate, inst.exposure_checks = s, p, checks
            except _host.HostError:
                pass

    def judge(self, inst, base):
        """Per-directive verdicts of INST against the baseline's evidence."""
        e = inst.evidence
        if not e or "error" in e or base is None or not base.evidence \
                or "error" in base.evidence:
            return
        for d in inst.v["directives"]:
            h = cat.load_directive(d)
            inst.applied[d], inst.applied_why[d] = ev.judge(
                h, e, base.evidence, base.exposure_checks)
            if inst.netns and ev.directive_kind(h) == "netns" and inst.applied[d] is None:
                # every copy has a namespace of its own: what tells is one
                # other than the copy's (the baseline's is another copy's)
                mine, copy = e.get("net_ns"), getattr(inst, "netns_id", None)
                if mine and copy:
                    inst.applied[d], inst.applied_why[d] = (
                        (True, f"netns: own net namespace ({mine}), not its copy's")
                        if mine != copy else
                        (False, "netns: runs in its copy's network namespace"))

    def inetd_evidence(self, inst):
        """Accept=yes: hold a connection open so one instance runs, read it."""
        m = re.match(r"^(https?)://(\[[^\]]+\]|[^/:]+)(?::(\d+))?", inst.url)
        port = int(m.group(3) or (443 if m.group(1) == "https" else 80))
        with copies.entered(inst.netns_file):
            s = socket.create_connection((m.group(2).strip("[]"), port), timeout=2)
        try:
            pat = inst.target.replace("@.", "@*.")
            end = time.monotonic() + 3
            while time.monotonic() < end:
                r = self.host.systemctl("list-units", "--plain", "--no-legend", "--state=running",
                                        pat, check=False)
                names = [ln.split()[0] for ln in (r.stdout or "").splitlines() if ln.strip()]
                if names:
                    inst.evidence_unit = names[0]
                    e = coll.collect(self.host, names[0])
                    s2, p2, checks = coll.exposure(self.host, names[0])
                    inst.exposure, inst.exposure_predicate, inst.exposure_checks = s2, p2, checks
                    return e
                time.sleep(0.05)
            raise _host.HostError(f"no running instance of {inst.target} for a held connection")
        finally:
            s.close()

    def cpu_dirs(self, inst):
        return [self.host.unit_cgroup(u) for u in inst.cpu_units]

    def bring_up(self, insts, sources, evidence=True, warm=True):
        """Installs and starts INSTS; unsupported/incompatible/hang recorded;
        the sandbox evidence and exposure collected unless not EVIDENCE; each
        started instance warmed up unless not WARM (windows warm their own)."""
        for inst in insts:
            why = self.unsupported(inst.v)
            if why:
                inst.status = "unsupported"
                inst.reason = why
                continue
            self.install(inst, sources)
        self.host.systemctl("daemon-reload")
        base = None
        for inst in insts:
            if inst.status != "pending":
                continue
            self.progress(f"start {inst.id} ({inst.target}, port {inst.port}"
                          + (f", network namespace {copies.ns_name(inst.tag)})"
                             if inst.netns else ")"))
            if self.start(inst):
                if inst.v["role"] == "baseline":
                    base = inst
                inst.cpu_dirs_cached = self.cpu_dirs(inst)
            else:
                print(f"    {inst.status}: …{inst.reason[-300:]}", file=sys.stderr)
                if inst.status != "hang":
                    self.stop_one(inst)
        # evidence once every instance runs (baseline first); a hung one's
        # too: it shows what made it hang (e.g. BPF programs of IPAddressDeny=)
        for inst in sorted(insts, key=lambda i: i.v["role"] != "baseline"):
            if inst.status in ("ok", "hang") and evidence:
                self.collect(inst, base)
            if inst.status == "hang":
                self.stop_one(inst)
        for inst in insts:
            if inst.status == "ok" and self.a.warmup > 0 and warm:
                self.warm(inst)
        return base

    def check_alive(self, inst):
        """A variant whose unit is no longer active after its slices died
        under load (a seccomp kill, say): status "died" with the journal."""
        units = [inst.start] + ([inst.target] if "@." not in inst.target else [])
        for u in units:
            st = self.host.show(u, "ActiveState", "Result")
            if st.get("ActiveState") not in ("active", "reloading"):
                oom = self.oom(inst, u, st.get("Result"))
                inst.status = "died"
                inst.reason = (f"{u} is {st.get('ActiveState')} after the run"
                               + (f", {oom}" if oom else "") + ": " + self.why(inst, None, ""))
                print(f"    {inst.id}: died: …{inst.reason[-300:]}", file=sys.stderr)
                return

    def stop_one(self, inst):
        units = [inst.start, inst.target] if "@." not in inst.target else [inst.start]
        if "@." in inst.target:
            units.append(inst.target.replace("@.", "@*."))
        self.host.systemctl("stop", *units, check=False, timeout=60)
