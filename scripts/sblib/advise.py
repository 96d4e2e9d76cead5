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
import re
import subprocess
import sys
import time

from sblib import _catalogue as cat
from sblib import _collect as coll
from sblib import _evidence as ev
from sblib import _host
from sblib import _unit
from sblib import run as run_mod
from sblib._instances import Instances, probe
from sblib._load import Loader
from sblib._writer import now_iso

HELP = "propose the most hardened drop-in a unit tolerates, within a cost budget"

DESC = __doc__.split("\n", 2)[2].replace("\n  ", "\n") if __doc__ else HELP

# Linux capabilities systemd 252 knows (linux/capability.h, 0..40)
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]

# settings whose lines add up (deny groups stack on the allow-list) rather
# than being alternative values of one setting
ADDITIVE = {"SystemCallFilter"}
DROPIN = "70-sandbench-advise.conf"
CAPS_NAME = "capability-bounding-set-minimal"
EX_BASELINE = 1


class Usage(Exception):
    pass


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


# --- pure parts -----------------------------------------------------------------------

def keys_of(body):
    """The settings a drop-in sets, in order (comments and sections skipped)."""
    out = []
    for ln in body.splitlines():
        k, eq, _ = ln.strip().partition("=")
        if eq and not k.startswith(("#", ";", "[")):
            out.append(k.strip())
    return out


def setting(d):
    """The setting a catalogue directive is one value of: directives that
    share it are alternatives (ProtectSystem=strict|full|yes); additive
    settings (SystemCallFilter=) give each directive its own."""
    keys = keys_of(d["body"])
    first = keys[0] if keys else d["name"]
    return d["name"] if first in ADDITIVE else first


def public_cut(d, public, socket_activated):
    """Why directive D cannot be proposed for a service whose clients come
    from other machines (None when it can): the catalogue's `public:` header
    says `no`, or `with-socket` (fine only when systemd passes the listening
    sockets in, which the directive does not touch)."""
    rule = (d.get("public") or "").split()
    if not public or not rule:
        return None
    if rule[0] == "no" or (rule[0] == "with-socket" and not socket_activated):
        return "cuts a public service off its clients: " + " ".join(rule[1:]).strip("— -")
    return None


# values of one setting, strongest first: the tie-break when the exposure
# alone cannot tell them apart (a unit with DynamicUser= already has
# ProtectSystem=strict, so strict and full read the same there)
STRONGER = ["protect-system-strict", "protect-system-full", "protect-system-true",
            "protect-home-yes", "protect-home-read-only",
            "restrict-address-families-unix", "restrict-address-families-inet-unix",
            "ip-address-deny-any", "ip-address-deny-any-allow-localhost"]


def choose(tolerated):
    """Per setting, the tolerated directive with the lowest exposure alone;
    on a tie the stronger value (STRONGER), then the first. TOLERATED:
    [(directive dict, exposure or None)]. Returns (chosen names, {name: why
    another was chosen over it})."""
    def rank(d, x):
        n = d["name"]
        return (x if x is not None else 99.0,
                STRONGER.index(n) if n in STRONGER else len(STRONGER))
    best, beaten = {}, {}
    for d, x in tolerated:
        k = setting(d)
        cur = best.get(k)
        if cur is None:
            best[k] = (d, x)
            continue
        win, lose = ((d, x), cur) if rank(d, x) < rank(*cur) else (cur, (d, x))
        best[k] = win
        how = ("removes more exposure" if (lose[1] or 99.0) > (win[1] or 99.0)
               else "is the stronger value (the same exposure alone)")
        beaten[lose[0]["name"]] = f"{win[0]['name']} is tolerated and {how}"
    return [d["name"] for d, _ in best.values()], beaten


def caps_body(keep):
    """A drop-in bounding the capabilities to KEEP (the empty assignment
    first resets whatever the unit sets)."""
    body = "[Service]\nCapabilityBoundingSet=\n"
    if keep:
        body += "CapabilityBoundingSet=" + " ".join(keep) + "\n"
    return body


def find_caps(ok, caps=CAPS):
    """The capabilities a service needs: OK(keep) tries the bounding set KEEP.
    Whole groups are dropped while that is tolerated; a group that fails is
    halved, down to the single capability it needs. Returns (needed, tries)."""
    tries = 0
    dropped = []

    def rec(group):
        nonlocal tries
        if not group:
            return
        tries += 1
        if ok([c for c in caps if c not in dropped and c not in group]):
            dropped.extend(group)
            return
        if len(group) == 1:
            return
        mid = len(group) // 2
        rec(group[:mid])
        rec(group[mid:])

    rec(list(caps))
    return [c for c in caps if c not in dropped], tries


def allowed_caps(body):
    """The bounding set a drop-in leaves (None when it does not set one)."""
    cur = None
    for ln in body.splitlines():
        k, eq, v = ln.strip().partition("=")
        if not eq or k.strip() != "CapabilityBoundingSet":
            continue
        v = v.strip()
        if not v:
            cur = set()
        elif v.startswith("~"):
            cur = (set(CAPS) if cur is None else cur) - set(v[1:].split())
        else:
            cur = (cur or set()) | set(v.split())
    return cur


def profile_caps(needed):
    """The catalogue directive that bounds the capabilities closest above
    NEEDED (the smallest set holding them all), or None."""
    best = None
    for name in cat.directive_names():
        d = cat.load_directive(name)
        have = allowed_caps(d["body"])
        if have is None or not set(needed) <= have:
            continue
        if best is None or len(have) < best[1]:
            best = (name, len(have))
    return best[0] if best else None


def profile_text(result, argv):
    """A profile of catalogue directives holding the proposal."""
    caps = profile_caps(result["capabilities"])
    shown, skip = [], False
    for x in argv:      # where it wrote its files is nobody else's business
        if skip or x in ("--out", "--write-profile"):
            skip = not skip
            continue
        if not x.startswith(("--out=", "--write-profile=")):
            shown.append(x)
    lines = [f"# generated by `sandbench advise {' '.join(shown)}`",
             f"# on {result['created'][:10]}, {result['systemd']}: every directive below was "
             "tolerated, alone and together;",
             f"# public service: {'yes' if result['public']['public'] else 'no'} "
             f"({result['public']['why']}). Capabilities needed: "
             f"{' '.join(result['capabilities']) or 'none'}."]
    lines += [m for m in result["members"] if m != CAPS_NAME]
    if caps:
        lines.append(caps)
    else:
        lines.append("# (no catalogue directive bounds the capabilities to a set holding "
                     "exactly what it needs)")
    return "\n".join(lines) + "\n"


def loopback(addr):
    a = addr.strip("[]")
    return a.startswith("127.") or a in ("::1", "localhost") or a.startswith("::ffff:127.")


def listeners(ss_text):
    """Local addresses of the listening TCP sockets in `ss -Hltn` output."""
    out = set()
    for ln in ss_text.splitlines():
        f = ln.split()
        if len(f) >= 4:
            out.add(f[3])
    return out


def is_public(new):
    """(public?, why) from the addresses the service listens on."""
    addrs = sorted(new)
    if not addrs:
        return True, "no new listening TCP socket was seen; public by default"
    outside = [a for a in addrs if not loopback(a.rsplit(":", 1)[0])]
    if outside:
        return True, f"it listens on {', '.join(outside)}, beyond loopback"
    return False, f"it listens on loopback only ({', '.join(addrs)})"


def dropin_text(members, info, unit):
    """advice.conf: per member its lines, each preceded by a comment: what it
    does, the exposure it removes, its cost with interval, the evidence that
    it was in force."""
    out = [f"# sandbench advise: a hardening drop-in for {unit}",
           f"# install: /etc/systemd/system/{unit}.d/50-hardening.conf, then",
           "#   systemctl daemon-reload && systemctl restart " + unit,
           "# every line was tried on this service in real systemd; see advice.md", "",
           "[Service]"]
    for m in members:
        i = info[m]
        out.append(f"# {m}: {i.get('does') or ''}".rstrip())
        extra = []
        if i.get("exposure_removed") is not None:
            extra.append(f"exposure -{i['exposure_removed']:.1f}")
        if i.get("cost"):
            extra.append(f"cost {i['cost']}")
        if i.get("in_force"):
            extra.append(f"in force: {i['in_force']}")
        if extra:
            out.append("#   " + "; ".join(extra))
        for ln in i["body"].splitlines():
            s = ln.strip()
            if s and not s.startswith(("#", ";", "[")):
                out.append(s)
    return "\n".join(out) + "\n"


# fewer samples than this give no interval worth a decision
MIN_N = 3


def interval(row):
    """(change, lo, hi) of a summary row's CPU per request, lo/hi None when
    the row has fewer than MIN_N samples."""
    if not row or row.get("cpu_ns_per_req_change") is None:
        return None, None, None
    c, lo, hi = (row.get("cpu_ns_per_req_" + k) for k in ("change", "lo", "hi"))
    if (row.get("cpu_ns_per_req_n") or 0) < MIN_N:
        return c, None, None
    return c, lo, hi


def fmt_cost(row):
    """'+1.2% CPU/request [-0.5%, +2.9%]' from a summary row, or with too few
    samples '+1.2% CPU/request (n=1, no interval)'."""
    c, lo, hi = interval(row)
    if c is None:
        return None
    s = f"{c * 100:+.1f}% CPU/request"
    if lo is not None and hi is not None:
        s += f" [{lo * 100:+.1f}%, {hi * 100:+.1f}%]"
    else:
        s += f" (n={row.get('cpu_ns_per_req_n')}, no interval)"
    return s


# --- the service in the sandbox host ---------------------------------------------------

class Service:
    """The user's unit installed under its own name in the sandbox host; each
    try writes one drop-in beside it, starts it, probes, loads, probes again
    and stops it."""

    def __init__(self, a, host, uspec, loadgen):
        self.a = a
        self.host = host
        uspec = dict(uspec, side=False)
        self.uspec = uspec
        self.socket_activated = uspec["start"] != uspec["target"]
        spec = {"servers": ["unit"], "user_unit": uspec, "variants": []}
        self.ns = argparse.Namespace(
            url=a.url, path="/", server_cpu=a.server_cpu, loadgen_cpu=a.loadgen_cpu,
            start_timeout=a.start_timeout, warmup=0, connections=4, rate=None)
        self.fleet = Instances(self.ns, spec, host, {}, lambda *_: None, lambda *_: None)
        self.loader = Loader(self.ns, spec, host, loadgen)
        v = {"id": "unit/baseline", "server": "unit", "directives": [], "role": "baseline"}
        self.inst = self.fleet.make_instance(uspec, v, 0)
        self.sources = self.fleet.sources(uspec)
        self.fleet.install(self.inst, self.sources)
        self.dropin = os.path.join(_host.UNIT_DIR, f"{self.inst.target}.d", DROPIN)
        self.tries = 0
        self.base = None

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

    def try_(self, body, evidence=False):
        """One try of drop-in BODY (None: the unit as written): a dict with
        status ok / incompatible / hang / died, reason, startup_ms and, if
        asked, exposure and evidence."""
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
        return listeners(r.stdout)


# --- the steps --------------------------------------------------------------------------

class Advisor:
    def __init__(self, a, svc, uspec, out):
        self.a = a
        self.svc = svc
        self.uspec = uspec
        self.out = out
        self.t0 = time.monotonic()
        self.rejected = {}      # name -> (kind, reason)
        self.info = {}          # name -> what advice.conf/.md say of a member
        self.log = []

    def say(self, text):
        el = time.monotonic() - self.t0
        print(f"[{int(el // 60)}:{int(el % 60):02d}] {text}", file=sys.stderr, flush=True)

    def reject(self, name, kind, reason):
        self.rejected[name] = {"kind": kind, "reason": reason}

    def baseline(self):
        before = self.svc.listening()
        self.svc.inst.keeper = None
        r = self.svc.try_(None, evidence=True)
        if r["status"] != "ok":
            return r, None
        self.base = r
        self.svc.base = argparse.Namespace(evidence=r.get("evidence"),
                                           exposure_checks=r.get("exposure_checks") or [])
        return r, before

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
            if "CapabilityBoundingSet" in keys_of(d["body"]):
                continue        # found by the capability search instead
            why = public_cut(d, public, self.svc.socket_activated)
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
            r = self.svc.try_(d["body"], evidence=True)
            verdict = r["status"]
            self.say(f"compatibility {i + 1}/{len(cands)} {d['name']}: {verdict}"
                     + (f" (exposure {r['exposure']:.1f})" if r.get("exposure") is not None
                        else ""))
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
            self.info[d["name"]] = {"does": d.get("directive"), "body": d["body"],
                                    "alone_exposure": r.get("exposure"),
                                    "in_force": why if applied else None,
                                    "startup_ms_alone": r.get("startup_ms")}
            ok.append((d, r.get("exposure")))
        return ok

    def capabilities(self):
        self.say("capabilities: searching the smallest bounding set")

        def ok(keep):
            r = self.svc.try_(caps_body(keep))
            self.say(f"  bounding set of {len(keep)}: {r['status']}")
            return r["status"] == "ok"
        needed, tries = find_caps(ok)
        self.say(f"capabilities: needs {' '.join(needed) or 'none'} ({tries} tries)")
        self.info[CAPS_NAME] = {"does": "CapabilityBoundingSet=" + (" ".join(needed) or "(empty)"),
                                "body": caps_body(needed), "caps": needed, "tries": tries}
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
        f.write(markdown(unit, result))


def markdown(unit, r):
    ex = r["exposure"]
    lines = [f"# Hardening advice for `{unit}`", "",
             f"Exposure (`systemd-analyze security`): **{ex['before']:.1f} → "
             f"{ex['after']:.1f}**" if ex.get("after") is not None and ex.get("before") is not None
             else "Exposure: not measured", "",
             f"Public service: **{'yes' if r['public']['public'] else 'no'}** ({r['public']['why']}).",
             ""]
    c = r.get("cost") or {}
    if c.get("whole"):
        lines += [f"Cost of the whole drop-in: {c['whole']} ({c.get('method') or '?'}; "
                  f"budget {r['budget_pct']:g}% on the interval's upper end: "
                  f"{'within' if c.get('within') else 'NOT within'}).", ""]
    elif c.get("skipped"):
        lines += [f"Cost: not measured ({c['skipped']}).", ""]
    if c.get("undecided"):
        lines += [f"Budget: {c['undecided']}.", ""]
    if c.get("startup_ms") is not None and c.get("baseline_startup_ms") is not None:
        lines += [f"Start-up (systemctl start to the first good answer, median of the cost "
                  f"run's starts): {c['baseline_startup_ms']:.0f} ms as written, "
                  f"{c['startup_ms']:.0f} ms with the drop-in.", ""]
    lines += ["## Proposed (advice.conf)", "", "| directive | does | exposure alone | cost | in force |",
              "|---|---|---|---|---|"]
    for m in r["members"]:
        i = r["info"][m]
        ax = i.get("alone_exposure")
        lines.append(f"| `{m}` | {i.get('does') or ''} | "
                     f"{'' if ax is None else f'{ax:.1f}'} | {i.get('cost') or '—'} | "
                     f"{i.get('in_force') or '—'} |")
    lines += ["", "## Rejected", "", "| directive | why | detail |", "|---|---|---|"]
    for n, x in sorted(r["rejected"].items(), key=lambda kv: (kv[1]["kind"], kv[0])):
        det = (x["reason"] or "").replace("|", "\\|")
        lines.append(f"| `{n}` | {x['kind']} | {det[:300]} |")
    lines += ["", f"{r['tries']} tries in real {r['systemd'] or 'systemd'}; "
              f"{r['elapsed_s']:.0f} s in all.", ""]
    return "\n".join(lines)


def cost(a, out, uspec, members, info):
    """`sandbench run` of the whole drop-in and each member against the
    baseline; returns (rows by variant, method, run dir)."""
    work = os.path.join(out, "dropins")
    os.makedirs(work, exist_ok=True)
    files = []
    for m in members + ["advice"]:
        p = os.path.join(work, f"{m}.conf")
        if m == "advice":
            with open(os.path.join(out, "advice.conf")) as f:
                text = f.read()
        else:
            text = info[m]["body"]
        if not cat.FILES.get(m) and os.path.isfile(os.path.join(cat.DIRECTIVES, m + ".conf")):
            files.append(m)         # a catalogue directive: by name
            continue
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
    import shlex
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
    target = uspec["target"]
    host = svc = None
    try:
        fac = _host.facilities()
        host = _host.up(a.name, owner=os.getpid(), lock_timeout=a.lock_timeout)
        svc = Service(a, host, uspec, loadgen)
        adv = Advisor(a, svc, uspec, a.out)
        adv.facilities = fac
        adv.say(f"baseline: {target} as written")
        base, before = adv.baseline()
        if base["status"] != "ok":
            for line in run_mod.baseline_failure(svc.inst, host):
                print(f"sandbench advise: {line}", file=sys.stderr)
            return EX_BASELINE
        # which addresses it listens on: start it once more and look
        svc.layers(True)
        svc.fleet.start(svc.inst)
        new = svc.listening() - before
        svc.fleet.stop_one(svc.inst)
        svc.layers(False)
        public, why = is_public(new)
        if a.public is not None:
            public, why = a.public, ("--public" if a.public else "--private") + " given"
        adv.say(f"public: {'yes' if public else 'no'} ({why}); exposure as written "
                f"{base.get('exposure')}")
        cands = adv.candidates(public)
        ok = adv.compatibility(cands)
        chosen, beaten = choose(ok)
        for n, over in beaten.items():
            adv.reject(n, "superseded", over)
            adv.info.pop(n, None)
        needed = adv.capabilities()
        members, whole = adv.combine(chosen + [CAPS_NAME])
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
        result["dropin"] = dropin_text(members, adv.info, target)
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
        result["dropin"] = dropin_text(result["members"], adv.info, target)
        write_advice(a.out, target, result)
        if a.write_profile:
            with open(a.write_profile, "w") as f:
                f.write(profile_text(result, argv))
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
            f.write(dropin_text(members, adv.info, target))
        by, rdir = cost(a, a.out, uspec, members, adv.info)
        for m in members:
            c = fmt_cost(by.get(m))
            if c:
                adv.info[m]["cost"] = c
                adv.info[m]["cost_change"] = by[m].get("cpu_ns_per_req_change")
        whole = by.get("advice")
        _, _, hi = interval(whole)
        within = hi is not None and hi * 100 <= a.budget
        out = {"whole": fmt_cost(whole), "within": within, "run": os.path.basename(rdir),
               "method": (whole or {}).get("cpu_ns_per_req_method"),
               "startup_ms": (whole or {}).get("startup_ms"),
               "baseline_startup_ms": (by.get("baseline") or {}).get("startup_ms")}
        if hi is None:
            out["undecided"] = (f"the cost run has fewer than {MIN_N} samples of the whole: no "
                                "interval to judge the budget with (--cost-args '--reps 6')")
            return out
        if within or len(members) <= 1:
            return out
        # only a member whose own interval lies above zero has a cost: one
        # that merely reads high in a noisy run is not dropped for it
        dear = [m for m in members if (interval(by.get(m))[1] or 0) > 0]
        if not dear:
            out["undecided"] = ("the whole's interval reaches above the budget, but no member "
                                "has a cost distinguishable from zero: measure longer "
                                "(--cost-args '--reps 12', or a unit that can run side by side)")
            adv.say(f"cost: {out['undecided']}")
            return out
        costly = max(dear, key=lambda m: adv.info[m]["cost_change"])
        adv.reject(costly, "too costly", adv.info[costly].get("cost") or "")
        members = [m for m in members if m != costly]
    return out
