"""The steps of `sandbench advise` (its --help says them): the unit as
written, each catalogue directive alone, the smallest capability bounding
set, the tolerated ones combined, then their cost measured by a run of
sblib.measuring.session, and over the budget the exposure/cost frontier;
advice.conf, advice.md and advice.json written. The tries themselves are
sblib.measuring.tries; the pure rules sblib.advice."""
import argparse
import json
import os
import shlex
import sys
import time

from sblib import advice as pure
from sblib import catalogue as cat
from sblib import evidence as ev
from sblib import util
from sblib.measuring import host as _host
from sblib.measuring import costrun
from sblib.measuring.runner import BaselineFailed
from sblib.measuring.tries import CheckFailed, Service
from sblib.records.writer import now_iso
from sblib.records import schema
from sblib.records.model import ResultsError


# rounds of windows of advise's cost run (--cost-args '--windows N' overrides)
COST_WINDOWS = 24


class Advisor:
    def __init__(self, a, svc, facilities):
        self.a = a
        self.svc = svc
        self.facilities = facilities
        self.t0 = time.monotonic()
        self.rejected = {}      # name -> {"kind", "reason"}
        # the cost runs an advise finished with in --out, before this one
        # writes anything there: not taken again (costrun.unfinished)
        self.taken = costrun.used(a.out)
        self.info = {}          # name -> what advice.conf/.md say of a member

    def say(self, text):
        el = time.monotonic() - self.t0
        print(f"[{int(el // 60)}:{int(el % 60):02d}] {text}", file=sys.stderr, flush=True)

    def reject(self, name, kind, reason, check=None):
        """NAME rejected as KIND for REASON; CHECK: the result of the
        advise --check run that rejected it (its output goes to advice.md)."""
        self.rejected[name] = {"kind": kind, "reason": reason}
        if check:
            self.rejected[name]["check"] = check

    def reject_try(self, name, kind, r):
        """NAME rejected as KIND for what try R (not ok) says."""
        self.reject(name, kind, r["reason"], r.get("check") if r["status"] == "check" else None)

    def check_summary(self):
        """advice.json's `check`: the command, its timeout, how many tries it
        ran against and how many it failed, and each run (the output of
        those that failed: a capability set it rejected is named nowhere
        else); None without --check."""
        if not getattr(self.a, "check", None):
            return None
        runs = self.svc.checks
        return {"command": self.a.check, "timeout_s": self.a.check_timeout, "runs": len(runs),
                "failed": sum(1 for c in runs if c["exit"] != 0),
                "tries": [{k: c[k] for k in ("try", "exit", "timed_out", "seconds")
                           + (("output",) if c["exit"] != 0 else ())} for c in runs]}

    def baseline(self):
        """The unit as written; with it running, the addresses it added to
        the listening sockets (what decides whether it is public)."""
        before = self.svc.listening()
        r = self.svc.try_(None, evidence=True, listening=True, name="baseline")
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
            r = self.svc.try_(body, evidence=True, name=d["name"])
            verdict = r["status"]
            self.say(f"compatibility {i + 1}/{len(cands)} {d['name']}: {verdict}"
                     + (f" ({r['reason']})" if verdict == "check" else "")
                     + (f" (exposure {r['exposure']:.1f})" if r.get("exposure") is not None
                        else ""))
            if verdict == "incompatible":
                body, r = self.repair(d, r)
                verdict = r["status"]
            if verdict != "ok":
                self.reject_try(d["name"], pure.KIND[verdict], r)
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
            r = self.svc.try_(body, evidence=True, name=d["name"] + "+read-write-paths")
            self.say(f"  {d['name']} with ReadWritePaths={' '.join(paths)}: {r['status']}")
            if r["status"] != "incompatible":
                break
        return (body if r["status"] == "ok" else d["body"]), r

    def capabilities(self):
        self.say("capabilities: searching the smallest bounding set")

        def ok(keep):
            r = self.svc.try_(pure.caps_body(keep), name=f"capabilities-{len(keep)}")
            self.say(f"  bounding set of {len(keep)}: {r['status']}")
            return r["status"] == "ok"
        needed, tries = pure.find_caps(ok)
        self.say(f"capabilities: needs {' '.join(needed) or 'none'} ({tries} tries)")
        self.info[pure.CAPS_NAME] = {
            "does": "CapabilityBoundingSet=" + (" ".join(needed) or "(empty)"),
            "body": pure.caps_body(needed), "caps": needed, "tries": tries}
        return needed

    def body(self, names):
        """One drop-in of the members NAMES' lines."""
        return "[Service]\n" + "".join(self.info[n]["body"].split("[Service]", 1)[-1]
                                       for n in names)

    def combine(self, names, label="combination"):
        """Verifies NAMES together (LABEL: the try's name for --check);
        when the whole fails, rebuilds it one member at a time (most
        exposure removed first) and rejects a member that breaks what was
        accepted so far."""
        body = self.body
        r = self.svc.try_(body(names), evidence=True, name=label)
        self.say(f"{label} of {len(names)}: {r['status']}")
        if r["status"] == "ok":
            return names, r
        kept = []
        for n in names:
            r2 = self.svc.try_(body(kept + [n]), name=f"{label}+{n}")
            if r2["status"] == "ok":
                kept.append(n)
            else:
                r2 = dict(r2, reason=f"alone it works; with {', '.join(kept) or 'nothing'} it "
                                     f"{pure.KIND[r2['status']]}: {r2['reason']}")
                self.reject_try(n, "breaks the combination", r2)
                self.say(f"  {n} breaks the combination: rejected")
        r = self.svc.try_(body(kept), evidence=True, name=label)
        if r["status"] != "ok":
            raise _host.HostError(f"the rebuilt combination {pure.KIND.get(r['status'], 'fails')} "
                                  f"too: {r['reason']}")
        return kept, r


def write_advice(out, unit, result):
    os.makedirs(out, exist_ok=True)
    util.write_atomic(os.path.join(out, "advice.conf"), result["dropin"])
    util.write_atomic(os.path.join(out, "advice.json"), json.dumps(result, indent=1))
    util.write_atomic(os.path.join(out, "advice.md"), pure.markdown(unit, result))


def cost(a, host, loadgen, dropins, taken=()):
    """`sandbench run` of DROPINS ({variant name: drop-in text}) against the
    baseline in HOST, side by side (every copy in its own network namespace
    where the unit allows it: `run --copies`, its default); a member that is
    a catalogue directive as it is goes by its name; TAKEN: the cost runs
    an earlier advise finished with (Advisor.taken). Returns its
    costrun.CostRun."""
    out = a.out
    work = os.path.join(out, "dropins")
    os.makedirs(work, exist_ok=True)
    files, alias = [], {}
    for m, text in dropins.items():
        name = m
        if os.path.isfile(os.path.join(cat.DIRECTIVES, m + ".conf")):
            if cat.load_directive(m)["body"] == text:
                files.append(m)         # a catalogue directive as it is: by name
                continue
            name = m + "+read-write-paths"  # repaired: its own file, its own name
            alias[name] = m
        p = os.path.join(work, f"{name}.conf")
        util.write_atomic(p, text)
        files.append(p)
    argv = ["--url", a.url, "--directives", ",".join(files),
            "--no-report", "--seed", str(a.seed), "--name", a.name,
            "--server-cpu", str(a.server_cpu), "--loadgen-cpu", str(a.loadgen_cpu)]
    for u in a.unit:
        argv += ["--unit", u]
    if a.loadgen:
        argv += ["--loadgen", a.loadgen]
    # the whole and every member side by side: 24 rounds of windows (a
    # unit's run has 48) keep a catalogue's worth of members within minutes
    # and the whole's interval within about ±1.5% (scripts/docs/advise.md)
    argv += ["--windows", str(COST_WINDOWS)] + shlex.split(a.cost_args)
    # advise again with the same --out: the cost run an advise left
    # unfinished goes on or is taken (the same drop-ins, options and code),
    # else a new one
    prev = costrun.unfinished(out, argv, taken)
    n = len(os.listdir(out))
    while os.path.exists(os.path.join(out, f"cost-{n}")):
        n += 1
    rdir = prev or os.path.join(out, f"cost-{n}")
    rc = costrun.cost_run(argv + ["--out", rdir], host, loadgen, resumes=prev)
    if rc is None:          # refused: measured anew
        rdir = os.path.join(out, f"cost-{n}")
        rc = costrun.cost_run(argv + ["--out", rdir], host, loadgen)
    try:
        run = costrun.CostRun.read(rdir, alias)
    except (ResultsError, ValueError) as e:
        run, why = None, str(e)
    if rc != 0 and not (run and run.rows):
        raise _host.HostError(f"the cost run failed (exit {rc}); see {rdir}; advise again with "
                              f"--out {out} goes on with it")
    if run is None:
        raise _host.HostError(f"the cost run's results cannot be read: {why}")
    return run


def measure_cost(a, adv, result, target, host, loadgen, uspec):
    """Cost of the drop-in and of each member, side by side. Where the
    whole's interval reaches above the budget: the exposure/cost frontier,
    the whole less its costliest members one by one (each verified in a
    start, its exposure read, then all costed in one more run); the
    proposal is the first point within the budget."""
    members = list(result["members"])
    adv.say(f"cost: measuring the drop-in and its {len(members)} members")
    whole_text = pure.dropin_text(members, adv.info, target)
    util.write_atomic(os.path.join(a.out, "advice.conf"), whole_text)
    # the run measures the lines tried (Advisor.body), not advice.conf's
    # comments: those name namespaces and evidence that differ from one
    # advise to the next, and a cost run is resumed only with the same files
    run = cost(a, host, loadgen, dict({m: adv.info[m]["body"] for m in members},
                                      advice=adv.body(members)), adv.taken)
    for m in members:
        c = pure.fmt_cost(run.row(m))
        if c:
            adv.info[m]["cost"] = c
            adv.info[m]["cost_change"] = run.row(m).get("cpu_ns_per_req_change")
    floor = run.floor
    whole = run.row("advice")
    _, _, hi = pure.interval(whole)

    def point(name, ms, dropped, exposure, row):
        """A point of the frontier: a drop-in, its exposure, its cost, the budget."""
        h = pure.interval(row)[2]
        return {"name": name, "members": ms, "dropped": dropped, "exposure": exposure,
                "cost": pure.fmt_cost(row), "within": h is not None and h * 100 <= a.budget}
    first = point("advice", members, [], result["exposure"]["after"], whole)
    out = {"whole": first["cost"], "within": first["within"],
           "run": os.path.basename(run.path), "copies": run.copies, "aa_floor": floor,
           "method": (whole or {}).get("cpu_ns_per_req_method"),
           "startup_ms": (whole or {}).get("startup_ms"),
           "baseline_startup_ms": (run.row("baseline") or {}).get("startup_ms"),
           "frontier": [first]}
    costs = {m: pure.interval(run.row(m)) for m in members}
    out["costliest"] = pure.dear_members(members, costs, floor)
    if hi is None:
        out["undecided"] = (f"the cost run has fewer than {pure.MIN_N} samples of the "
                            "whole: no interval to judge the budget with "
                            f"(--cost-args '--windows {2 * COST_WINDOWS}')")
        return out
    if out["within"] or len(members) <= 1:
        return out
    points = pure.frontier_points(members, costs, floor)
    if not points:
        out["undecided"] = ("the whole's interval reaches above the budget, but no member "
                            "has a cost distinguishable from zero and from the A/A "
                            f"control's noise floor (±{(floor or 0) * 100:.1f}%): measure "
                            f"longer (--cost-args '--windows {2 * COST_WINDOWS}')")
        adv.say(f"cost: {out['undecided']}")
        return out
    # every point verified in a start of its own (its exposure), then costed
    old = adv.svc
    svc = adv.svc = Service(a, host, uspec, loadgen)
    svc.tries, svc.checks = old.tries, old.checks
    texts, verified = {}, []
    try:
        for name, ms, dropped in points:
            r = svc.try_(adv.body(ms), evidence=True, name=name)
            adv.say(f"frontier: without {', '.join(dropped)}: {r['status']}, exposure "
                    f"{r.get('exposure')}")
            if r["status"] == "ok":
                verified.append((name, ms, dropped, r.get("exposure")))
                texts[name] = adv.body(ms)
    finally:
        svc.remove()
    if not verified:
        out["undecided"] = "none of the drop-ins between the whole and the cheapest starts"
        return out
    adv.say(f"cost: measuring {len(verified)} drop-ins between the whole and the cheapest")
    run2 = cost(a, host, loadgen, texts, adv.taken)
    out["frontier_run"] = os.path.basename(run2.path)
    out["frontier"] += [point(name, ms, dropped, exposure, run2.row(name))
                        for name, ms, dropped, exposure in verified]
    chosen = next((p for p in out["frontier"] if p["within"]), None)
    if chosen is None:
        out["undecided"] = ("no drop-in on the frontier is within the budget: the cheapest "
                            "measured is " + (out["frontier"][-1]["cost"] or "?"))
        return out
    for m in chosen["dropped"]:
        adv.reject(m, "too costly", adv.info[m].get("cost") or "")
    result["members"] = chosen["members"]
    result["exposure"]["after"] = chosen["exposure"]
    out.update(whole=chosen["cost"], within=True, chosen=chosen["name"])
    return out


def advise(a, host, fac, uspec, loadgen, argv):
    """The steps for the parsed advise options A (ARGV) in HOST, which is up
    (FAC: kernel.facilities()): writes A.out's advice.conf, .md and .json
    (and A.write_profile). Raises BaselineFailed when the unit as written
    does not start or answer, HostError, CatalogueError."""
    target = uspec["target"]
    svc = None
    try:
        svc = Service(a, host, uspec, loadgen)
        adv = Advisor(a, svc, fac)
        adv.say(f"baseline: {target} as written")
        base, new = adv.baseline()
        if base["status"] == "check":
            raise CheckFailed(a.check, base["check"])
        if base["status"] != "ok":
            raise BaselineFailed(svc.inst)
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
            "schema": schema.tag("advice"), "created": now_iso(), "unit": target,
            "units": uspec["units"], "url": a.url, "budget_pct": a.budget,
            "public": {"public": public, "why": why},
            "systemd": (host.run(["systemctl", "--version"]).stdout or "").split("\n")[0],
            "capabilities": needed, "members": members,
            "exposure": {"before": base.get("exposure"), "after": whole.get("exposure")},
            "rejected": adv.rejected, "info": adv.info,
        }
        result["dropin"] = pure.dropin_text(members, adv.info, target)
        # what the tries found, written at once: a cost run stopped half-way
        # leaves advice that says its cost is pending and how to go on
        pending = None if a.no_cost else {"pending": "the cost run was under way; advise again "
                                                     "with the same options and --out goes on "
                                                     "with it"}
        write_advice(a.out, target, dict(result, tries=svc.tries, check=adv.check_summary(),
                                         elapsed_s=time.monotonic() - adv.t0, cost=pending))
        svc.remove()
        svc = None
        if a.no_cost:
            result["cost"] = {"skipped": "--no-cost"}
        else:
            result["cost"] = measure_cost(a, adv, result, target, host, loadgen, uspec)
        result["tries"] = adv.svc.tries
        result["check"] = adv.check_summary()
        result["elapsed_s"] = round(time.monotonic() - adv.t0, 1)
        result["dropin"] = pure.dropin_text(result["members"], adv.info, target)
        write_advice(a.out, target, result)
        if a.write_profile:
            util.write_atomic(a.write_profile, pure.profile_text(result, argv))
        adv.say(f"exposure {result['exposure']['before']} -> {result['exposure']['after']}; "
                f"{len(result['members'])} directives proposed, {len(adv.rejected)} rejected; "
                f"{a.out}/advice.conf")
    finally:
        if svc is not None:
            try:
                svc.remove()
            except _host.HostError:
                pass
