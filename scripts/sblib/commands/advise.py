"""sandbench advise: the most hardened drop-in a user's own service
tolerates, within a cost budget, found by trying each step in real systemd.

  1. the unit as written (the baseline) must start and answer, or advise
     stops at once (exit 1) with the journal's reason;
  2. compatibility: every catalogue directive alone must start, answer,
     survive a short load and answer again (a watchdog bounds each try);
  3. capabilities: the smallest CapabilityBoundingSet= the service runs
     with, found by dropping groups of capabilities and halving a group that
     fails (the manual search of the second source document, automated);
  4. the tolerated directives combined (per setting the strongest value that
     was tolerated) and verified together; when the whole fails, it is
     rebuilt one member at a time and a member that breaks it is rejected;
  5. a public service (decided from the addresses it listens on, or
     --public/--private) is never offered a directive that cuts its clients
     off (the catalogue's `public:` header);
  6. cost: `sandbench run` of the proposed drop-in and each member against
     the baseline; the costliest member is dropped while the whole exceeds
     --budget;
  7. DIR/advice.conf (the drop-in), DIR/advice.md, DIR/advice.json.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

from sblib import advice as pure
from sblib import catalogue as cat
from sblib.measuring import collect as coll
from sblib import evidence as ev
from sblib.measuring import host as _host
from sblib.measuring import kernel
from sblib.measuring import unit as _unit
from sblib.measuring import usermgr
from sblib.commands import run as run_mod
from sblib.measuring.instances import Instances, probe
from sblib.measuring.load import Loader
from sblib.records.writer import now_iso

HELP = "propose the most hardened drop-in a unit tolerates, within a cost budget"

DESC = __doc__.split("\n", 2)[2].replace("\n  ", "\n") if __doc__ else HELP

DROPIN = "70-sandbench-advise.conf"
EX_BASELINE = 1


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="sandbench advise", description=DESC,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="exit status: 0 advice written; 1 the unit as written "
                                        "does not start or answer, or the host failed; 2 bad "
                                        "arguments; 75 the sandbox host stayed busy; 130 "
                                        "interrupted")
    ap.add_argument("--unit", action="append", required=True,
                    help="the service's unit file; give it twice for a .socket and its service")
    ap.add_argument("--url", required=True, help="a URL the service answers on (2xx/3xx)")
    ap.add_argument("--out", required=True, help="directory for advice.conf/.md/.json")
    ap.add_argument("--budget", type=float, default=5.0,
                    help="the most CPU per request the drop-in may add, in %% of the baseline, "
                         "judged on the upper end of its 95%% interval (default 5)")
    pub = ap.add_mutually_exclusive_group()
    pub.add_argument("--public", dest="public", action="store_true", default=None,
                     help="clients come from other machines: never propose a directive that "
                          "cuts them off (default: decided from the addresses the service "
                          "listens on: anything but loopback is public)")
    pub.add_argument("--private", dest="public", action="store_false",
                     help="only local clients (loopback): loopback-only firewalls may be proposed")
    ap.add_argument("--directives",
                    help="try only these catalogue directives (comma list; default: the "
                         "whole catalogue but the calibration controls)")
    ap.add_argument("--load", type=float, default=0.5,
                    help="seconds of load each try must survive (default 0.5)")
    ap.add_argument("--start-timeout", type=float, default=10.0,
                    help="seconds for a try to answer before it counts as a hang (default 10)")
    ap.add_argument("--user", action="store_true",
                    help="a user service (systemctl --user): run it under a real user manager "
                         "and write which directives it can apply at all (advice-user.md/.json; "
                         "no drop-in, no cost: a user manager cannot drop capabilities, so "
                         "most sandboxing fails there)")
    ap.add_argument("--no-cost", action="store_true",
                    help="skip the cost measurement (tolerance and exposure only)")
    ap.add_argument("--cost-args", default="",
                    help="extra `sandbench run` options for the cost step, e.g. "
                         "'--windows 24' (quoted as one argument)")
    ap.add_argument("--write-profile", metavar="FILE",
                    help="also write the proposal as a profile of catalogue directives "
                         "(how units/profiles/hardened-*.profile are made)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--server-cpu", type=int, default=1)
    ap.add_argument("--loadgen-cpu", type=int, default=0)
    ap.add_argument("--loadgen", help="load generator binary (default build/bin/loadgen)")
    ap.add_argument("--name", default="sandbench", help="sandbox host name")
    ap.add_argument("--lock-timeout", type=float, default=300)
    return ap.parse_args(argv)


# --- the service in the sandbox host ---------------------------------------------------

class Service:
    """The user's unit installed under its own name in the sandbox host; each
    try writes one drop-in beside it, starts it, probes, loads, probes again
    and stops it."""

    def __init__(self, a, host, uspec, loadgen):
        self.a = a
        self.host = host
        uspec = dict(uspec, side=False)
        self.socket_activated = uspec["start"] != uspec["target"]
        spec = {"servers": ["unit"], "user_unit": uspec, "variants": []}
        self.ns = argparse.Namespace(
            url=a.url, path="/", server_cpu=a.server_cpu, loadgen_cpu=a.loadgen_cpu,
            start_timeout=a.start_timeout, warmup=0, connections=4, rate=None)
        self.fleet = Instances(self.ns, spec, host, {}, lambda *_: None, lambda *_: None)
        self.loader = Loader(self.ns, spec, host, loadgen)
        v = {"id": "unit/baseline", "server": "unit", "directives": [], "role": "baseline"}
        self.inst = self.fleet.make_instance(uspec, v, 0)
        self.fleet.install(self.inst, self.fleet.sources(uspec))
        self.dropin = os.path.join(_host.UNIT_DIR, f"{self.inst.target}.d", DROPIN)
        self.tries = 0
        self.base = None        # the baseline's evidence and checks (Advisor.baseline)

    # Every try starts from the machine's files as they are, not as the
    # tries before left them: nginx chowns /var/lib/nginx/body on its first
    # start only, so a search that carried that state over found CAP_CHOWN
    # unneeded and proposed a drop-in that fails on a fresh machine. Each
    # try gets a throwaway writable layer over these directories (in the
    # sandbox container only; under a real PID 1 the machine's state is
    # used as it is).
    FRESH = ("/etc", "/var", "/srv", "/home", "/root")

    def layers(self, on):
        if self.host.mode == "pid1":
            return
        if on:
            script = "set -e; " + "; ".join(
                f"mkdir -p /run/sandbench-try{d}/u /run/sandbench-try{d}/w; "
                f"mount -t overlay sandbench-try -o lowerdir={d},upperdir=/run/sandbench-try{d}/u,"
                f"workdir=/run/sandbench-try{d}/w {d}" for d in self.FRESH
                if os.path.isdir(self.host.path(d)))
        else:
            script = "; ".join(f"findmnt -rn -o SOURCE {d} | grep -qx sandbench-try && "
                               f"umount -l {d}" for d in self.FRESH) + \
                "; rm -rf /run/sandbench-try"
        r = self.host.run(["sh", "-c", script], timeout=30)
        if on and r.returncode != 0:
            self.layers(False)
            raise _host.HostError(f"cannot give the try a fresh layer: {(r.stderr or '').strip()}")

    def remove(self):
        self.fleet.uninstall([self.inst])
        if os.path.exists(self.host.path(self.dropin)):
            self.host.uninstall([self.dropin])

    def try_(self, body, evidence=False, listening=False):
        """One try of drop-in BODY (None: the unit as written): a dict with
        status ok / incompatible / hang / died, reason, startup_ms and, if
        asked, exposure and evidence, and the TCP addresses listening while
        it ran."""
        self.tries += 1
        h, inst = self.host, self.inst
        if body is None:
            if os.path.exists(h.path(self.dropin)):
                os.unlink(h.path(self.dropin))
        else:
            h.write(self.dropin, body)
        h.systemctl("daemon-reload")
        inst.status, inst.reason, inst.startup_ms = "pending", None, None
        out = {}
        self.layers(True)
        try:
            if self.fleet.start(inst):
                out = self.survive()
                if evidence and inst.status == "ok":
                    out.update(self.observe())
                if listening and inst.status == "ok":
                    out["listening"] = self.listening()
        finally:
            self.fleet.stop_one(inst)
            h.systemctl("reset-failed", check=False)
            self.layers(False)
        return {"status": inst.status, "reason": inst.reason, "startup_ms": inst.startup_ms,
                **out}

    def survive(self):
        """After a good start: a short load, then it must still answer and
        still be running (a syscall or capability needed only while serving
        shows here)."""
        inst = self.inst
        js, err, _ = self.loader.load(inst.url, "keepalive", self.a.load, connections=4)
        reqs = int((js or {}).get("requests") or 0)
        if reqs == 0:
            inst.status = "died"
            inst.reason = f"no request answered under load ({err or 'no answer'}); " + \
                self.fleet.why(inst, None, "")
            return {}
        code = probe(inst.url, timeout=2.0)
        if code is None or not 200 <= code < 400:
            inst.status = "died"
            inst.reason = f"no good answer after load (status {code}); " + \
                self.fleet.why(inst, None, "")
            return {}
        self.fleet.check_alive(inst)
        return {"requests": reqs}

    def observe(self):
        """Exposure and /proc evidence of the running try."""
        unit = self.inst.target
        out = {}
        try:
            if "@." in unit:
                out["evidence"] = self.fleet.inetd_evidence(self.inst)
                out["exposure"] = self.inst.exposure
                out["exposure_checks"] = self.inst.exposure_checks
            else:
                out["evidence"] = coll.collect(self.host, unit)
                s, _, checks = coll.exposure(self.host, unit)
                out["exposure"], out["exposure_checks"] = s, checks
        except (_host.HostError, OSError) as e:
            out["evidence"] = {"error": str(e)}
        return out

    def listening(self):
        r = subprocess.run(["ss", "-Hltn"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
        return pure.listeners(r.stdout)


# --- the steps --------------------------------------------------------------------------

class Advisor:
    def __init__(self, a, svc, facilities):
        self.a = a
        self.svc = svc
        self.facilities = facilities
        self.t0 = time.monotonic()
        self.rejected = {}      # name -> {"kind", "reason"}
        self.info = {}          # name -> what advice.conf/.md say of a member

    def say(self, text):
        el = time.monotonic() - self.t0
        print(f"[{int(el // 60)}:{int(el % 60):02d}] {text}", file=sys.stderr, flush=True)

    def reject(self, name, kind, reason):
        self.rejected[name] = {"kind": kind, "reason": reason}

    def baseline(self):
        """The unit as written; with it running, the addresses it added to
        the listening sockets (what decides whether it is public)."""
        before = self.svc.listening()
        r = self.svc.try_(None, evidence=True, listening=True)
        if r["status"] == "ok":
            self.svc.base = argparse.Namespace(evidence=r.get("evidence"),
                                               exposure_checks=r.get("exposure_checks") or [])
        return r, (r.get("listening") or set()) - before

    def candidates(self, public):
        out = []
        names = cat.directive_names()
        if self.a.directives:
            names = [n.strip() for n in self.a.directives.split(",") if n.strip()]
        for name in names:
            d = cat.load_directive(name)
            if d.get("calibration") == "yes":
                continue
            if (d.get("advise") or "").startswith("no"):
                continue
            if "CapabilityBoundingSet" in pure.keys_of(d["body"]):
                continue        # found by the capability search instead
            why = pure.public_cut(d, public, self.svc.socket_activated)
            if why:
                self.reject(name, "cuts clients off", why)
                continue
            req = d.get("requires")
            fac = self.facilities
            if req and req in fac and not fac[req][0]:
                self.reject(name, "unsupported", f"needs {req}: {fac[req][1]}")
                continue
            out.append(d)
        return out

    def compatibility(self, cands):
        ok = []
        for i, d in enumerate(cands):
            body = d["body"]
            r = self.svc.try_(body, evidence=True)
            verdict = r["status"]
            self.say(f"compatibility {i + 1}/{len(cands)} {d['name']}: {verdict}"
                     + (f" (exposure {r['exposure']:.1f})" if r.get("exposure") is not None
                        else ""))
            if verdict == "incompatible":
                body, r = self.repair(d, r)
                verdict = r["status"]
            if verdict != "ok":
                kind = {"incompatible": "fails", "hang": "hangs", "died": "dies under load"}[verdict]
                self.reject(d["name"], kind, r["reason"])
                continue
            applied, why = (None, None)
            if self.svc.base and r.get("evidence") and "error" not in r["evidence"]:
                applied, why = ev.judge(d, r["evidence"], self.svc.base.evidence,
                                        self.svc.base.exposure_checks)
            if applied is False:
                self.reject(d["name"], "not enforced", why)
                continue
            self.info[d["name"]] = {"does": (d.get("directive") or d["name"]) + (
                                        f" + {body.rstrip().splitlines()[-1]}"
                                        if body != d["body"] else ""), "body": body,
                                    "alone_exposure": r.get("exposure"),
                                    "in_force": why if applied else None,
                                    "startup_ms_alone": r.get("startup_ms")}
            ok.append((d, r.get("exposure")))
        return ok

    def repair(self, d, r, most=6):
        """A directive that failed because a path it made read-only is one
        the service writes (nginx's /run/nginx.pid under ProtectSystem=strict,
        its /var/lib/nginx/* when it chowns them at every start) is tried
        again with ReadWritePaths= of those directories, gathering every
        read-only failure each try reports, up to MOST tries: the way a
        person deploys it. Returns (body, the last try)."""
        body, paths = d["body"], []
        for _ in range(most):
            new = []
            for p in pure.readonly_paths(r["reason"]):
                if not os.path.isdir(self.svc.host.path(p)):
                    p = os.path.dirname(p) or "/"
                if p != "/" and p not in paths:
                    new.append(p)
            grown = pure.rw_paths(paths + new)
            if not new or grown == paths:
                break
            paths = grown
            body = d["body"].rstrip("\n") + "\nReadWritePaths=" + " ".join(paths) + "\n"
            r = self.svc.try_(body, evidence=True)
            self.say(f"  {d['name']} with ReadWritePaths={' '.join(paths)}: {r['status']}")
            if r["status"] != "incompatible":
                break
        return (body if r["status"] == "ok" else d["body"]), r

    def capabilities(self):
        self.say("capabilities: searching the smallest bounding set")

        def ok(keep):
            r = self.svc.try_(pure.caps_body(keep))
            self.say(f"  bounding set of {len(keep)}: {r['status']}")
            return r["status"] == "ok"
        needed, tries = pure.find_caps(ok)
        self.say(f"capabilities: needs {' '.join(needed) or 'none'} ({tries} tries)")
        self.info[pure.CAPS_NAME] = {"does": "CapabilityBoundingSet=" + (" ".join(needed) or "(empty)"),
                                "body": pure.caps_body(needed), "caps": needed, "tries": tries}
        return needed

    def combine(self, names):
        """Verifies NAMES together; when the whole fails, rebuilds it one
        member at a time (most exposure removed first) and rejects a member
        that breaks what was accepted so far."""
        def body(ns):
            return "".join(self.info[n]["body"].split("[Service]", 1)[-1] for n in ns)
        r = self.svc.try_("[Service]\n" + body(names), evidence=True)
        self.say(f"combination of {len(names)}: {r['status']}")
        if r["status"] == "ok":
            return names, r
        kept = []
        for n in names:
            r2 = self.svc.try_("[Service]\n" + body(kept + [n]))
            if r2["status"] == "ok":
                kept.append(n)
            else:
                self.reject(n, "breaks the combination",
                            f"alone it works; with {', '.join(kept) or 'nothing'} it "
                            f"{r2['status']}: {r2['reason']}")
                self.say(f"  {n} breaks the combination: rejected")
        r = self.svc.try_("[Service]\n" + body(kept), evidence=True)
        if r["status"] != "ok":
            raise _host.HostError(f"the rebuilt combination does not start either: {r['reason']}")
        return kept, r


def write_advice(out, unit, result):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "advice.conf"), "w") as f:
        f.write(result["dropin"])
    with open(os.path.join(out, "advice.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(out, "advice.md"), "w") as f:
        f.write(pure.markdown(unit, result))


def cost(a, out, uspec, members, info):
    """`sandbench run` of the whole drop-in and each member against the
    baseline; returns (rows by variant, method, run dir)."""
    work = os.path.join(out, "dropins")
    os.makedirs(work, exist_ok=True)
    files, alias = [], {}
    for m in members + ["advice"]:
        if m == "advice":
            with open(os.path.join(out, "advice.conf")) as f:
                text = f.read()
        else:
            text = info[m]["body"]
        name = m
        if os.path.isfile(os.path.join(cat.DIRECTIVES, m + ".conf")):
            if cat.load_directive(m)["body"] == text:
                files.append(m)         # a catalogue directive as it is: by name
                continue
            name = m + "+read-write-paths"  # repaired: its own file, its own name
            alias[name] = m
        p = os.path.join(work, f"{name}.conf")
        with open(p, "w") as f:
            f.write(text)
        files.append(p)
    rdir = os.path.join(out, f"cost-{len(os.listdir(out))}")
    argv = ["--url", a.url, "--directives", ",".join(files), "--out", rdir,
            "--no-report", "--seed", str(a.seed), "--name", a.name,
            "--server-cpu", str(a.server_cpu), "--loadgen-cpu", str(a.loadgen_cpu)]
    for u in a.unit:
        argv += ["--unit", u]
    if a.loadgen:
        argv += ["--loadgen", a.loadgen]
    argv += shlex.split(a.cost_args)
    rc = run_mod.main(argv)
    try:
        with open(os.path.join(rdir, "summary.json")) as f:
            rows = json.load(f)["rows"]
    except (OSError, ValueError, KeyError):
        rows = []
    if rc not in (0,) and not rows:
        raise _host.HostError(f"the cost run failed (exit {rc}); see {rdir}")
    by = {r["variant"].split("/", 1)[1]: r for r in rows if r.get("mode") == "keepalive"}
    by.update({alias[k]: v for k, v in list(by.items()) if k in alias})
    try:
        with open(os.path.join(rdir, "summary.json")) as f:
            aa = [x for x in json.load(f).get("aa") or [] if x.get("mode") == "keepalive"]
        by["_floor"] = aa[0]["floor"] if aa and aa[0].get("floor") is not None else None
    except (OSError, ValueError, KeyError, IndexError):
        by["_floor"] = None
    return by, rdir


def main(argv):
    a = parse_args(argv)
    if a.budget < 0 or a.load <= 0 or a.start_timeout <= 0:
        print("sandbench advise: --budget must be >= 0, --load and --start-timeout > 0",
              file=sys.stderr)
        return 2
    try:
        uspec = _unit.server_spec(a.unit, a.url)
    except _unit.UnitError as e:
        print(f"sandbench advise: {e}", file=sys.stderr)
        return 2
    loadgen = run_mod.root_and_loadgen("advise", a.loadgen)
    if loadgen is None:
        return 2
    try:
        os.makedirs(a.out, exist_ok=True)
    except OSError as e:
        print(f"sandbench advise: --out {a.out}: {e.strerror}", file=sys.stderr)
        return 2
    try:
        for n in (a.directives or "").split(","):
            if n.strip():
                cat.load_directive(n.strip())
    except cat.CatalogueError as e:
        print(f"sandbench advise: {e}", file=sys.stderr)
        return 2
    if a.user and uspec["units"] != [uspec["target"]]:
        print("sandbench advise: --user takes one .service", file=sys.stderr)
        return 2
    target = uspec["target"]
    host = svc = None
    try:
        fac = kernel.facilities()
        host = _host.up(a.name, owner=os.getpid(), lock_timeout=a.lock_timeout)
        if a.user:
            return usermgr.matrix(a, host)
        svc = Service(a, host, uspec, loadgen)
        adv = Advisor(a, svc, fac)
        adv.say(f"baseline: {target} as written")
        base, new = adv.baseline()
        if base["status"] != "ok":
            for line in run_mod.baseline_failure(svc.inst, host):
                print(f"sandbench advise: {line}", file=sys.stderr)
            return EX_BASELINE
        public, why = pure.is_public(new)
        if a.public is not None:
            public, why = a.public, ("--public" if a.public else "--private") + " given"
        adv.say(f"public: {'yes' if public else 'no'} ({why}); exposure as written "
                f"{base.get('exposure')}")
        cands = adv.candidates(public)
        ok = adv.compatibility(cands)
        chosen, beaten = pure.choose(ok)
        for n, over in beaten.items():
            adv.reject(n, "superseded", over)
            adv.info.pop(n, None)
        needed = adv.capabilities()
        members, whole = adv.combine(chosen + [pure.CAPS_NAME])
        for m in members:
            adv.info[m].setdefault("alone_exposure", None)
        result = {
            "schema": "sandbench-advice/1", "created": now_iso(), "unit": target,
            "units": uspec["units"], "url": a.url, "budget_pct": a.budget,
            "public": {"public": public, "why": why},
            "systemd": (host.run(["systemctl", "--version"]).stdout or "").split("\n")[0],
            "capabilities": needed, "members": members,
            "exposure": {"before": base.get("exposure"), "after": whole.get("exposure")},
            "rejected": adv.rejected, "info": adv.info,
        }
        result["dropin"] = pure.dropin_text(members, adv.info, target)
        write_advice(a.out, target, dict(result, tries=svc.tries,
                                         elapsed_s=time.monotonic() - adv.t0))
        svc.remove()
        svc = None
        if a.no_cost:
            result["cost"] = {"skipped": "--no-cost"}
        else:
            result["cost"] = measure_cost(a, adv, uspec, result, target)
        if result["members"] != members:
            # members dropped for their cost: verify what is left, and its exposure
            tries = adv.svc.tries
            svc = adv.svc = Service(a, host, uspec, loadgen)
            svc.tries = tries
            kept, whole = adv.combine(result["members"])
            result["members"] = kept
            result["exposure"]["after"] = whole.get("exposure")
            svc.remove()
            svc = None
        result["tries"] = adv.svc.tries
        result["elapsed_s"] = round(time.monotonic() - adv.t0, 1)
        result["dropin"] = pure.dropin_text(result["members"], adv.info, target)
        write_advice(a.out, target, result)
        if a.write_profile:
            with open(a.write_profile, "w") as f:
                f.write(pure.profile_text(result, argv))
        adv.say(f"exposure {result['exposure']['before']} -> {result['exposure']['after']}; "
                f"{len(result['members'])} directives proposed, {len(adv.rejected)} rejected; "
                f"{a.out}/advice.conf")
        return 0
    except KeyboardInterrupt:
        print("sandbench advise: interrupted", file=sys.stderr)
        return 130
    except (_host.HostError, cat.CatalogueError) as e:
        print(f"sandbench advise: {e}", file=sys.stderr)
        return 75 if isinstance(e, _host.LockBusy) else 1
    finally:
        if svc is not None:
            try:
                svc.remove()
            except _host.HostError:
                pass
        if host is not None and getattr(host, "owned", False):
            _host.down(host=host)


def measure_cost(a, adv, uspec, result, target):
    """Cost of the drop-in and its members; while the whole's interval reaches
    above the budget, the costliest member is dropped and the rest measured
    again (at most three rounds)."""
    members = list(result["members"])
    for rnd in range(3):
        adv.say(f"cost: measuring the drop-in and its {len(members)} members "
                f"(round {rnd + 1})")
        result["members"] = members
        with open(os.path.join(a.out, "advice.conf"), "w") as f:
            f.write(pure.dropin_text(members, adv.info, target))
        by, rdir = cost(a, a.out, uspec, members, adv.info)
        for m in members:
            c = pure.fmt_cost(by.get(m))
            if c:
                adv.info[m]["cost"] = c
                adv.info[m]["cost_change"] = by[m].get("cpu_ns_per_req_change")
        whole = by.get("advice")
        _, _, hi = pure.interval(whole)
        within = hi is not None and hi * 100 <= a.budget
        out = {"whole": pure.fmt_cost(whole), "within": within, "run": os.path.basename(rdir),
               "method": (whole or {}).get("cpu_ns_per_req_method"),
               "startup_ms": (whole or {}).get("startup_ms"),
               "baseline_startup_ms": (by.get("baseline") or {}).get("startup_ms")}
        if hi is None:
            out["undecided"] = (f"the cost run has fewer than {pure.MIN_N} samples of the whole: no "
                                "interval to judge the budget with (--cost-args '--reps 6')")
            return out
        if within or len(members) <= 1:
            return out
        # only a member whose own interval lies above zero has a cost: one
        # that merely reads high in a noisy run is not dropped for it
        # ... and above the A/A control's noise floor: an identical copy of
        # the baseline reads +20% [+6%, +54%] in isolated slices on a busy
        # machine, and nothing that costs less can be told from it
        floor = by.get("_floor") or 0.0
        out["aa_floor"] = floor
        dear = [m for m in members if (pure.interval(by.get(m))[1] or 0) > floor]
        if not dear:
            out["undecided"] = ("the whole's interval reaches above the budget, but no member "
                                "has a cost distinguishable from zero and from the A/A "
                                f"control's noise floor (±{floor * 100:.0f}%): measure longer "
                                "(--cost-args '--reps 12', or a unit that can run side by side)")
            adv.say(f"cost: {out['undecided']}")
            return out
        costly = max(dear, key=lambda m: adv.info[m]["cost_change"])
        adv.reject(costly, "too costly", adv.info[costly].get("cost") or "")
        members = [m for m in members if m != costly]
    return out
