"""A user's service tried in the sandbox host for `sandbench advise`: the
unit installed under its own name (Service), each try one drop-in beside it,
started on a fresh writable layer over the machine's state, probed, loaded,
probed again and stopped (sblib.measuring.advisor says what to try); and
the user's own acceptance test (advise --check CMD) run against each try
that answered (run_check)."""
import argparse
import os
import signal
import subprocess
import tempfile
import time

from sblib import advice as pure
from sblib.measuring import collect as coll
from sblib.measuring import copies
from sblib.measuring import host as _host
from sblib.measuring.instances import Instances
from sblib.measuring.reach import probe
from sblib.measuring.load import Loader

DROPIN = "70-sandbench-advise.conf"

# what of a check's output is kept: its last lines, read from its last bytes
CHECK_TAIL_LINES = 20
CHECK_TAIL_BYTES = 65536
# after SIGTERM, how long a check's process group has before SIGKILL
CHECK_GRACE_S = 2.0


class CheckFailed(Exception):
    """advise --check fails against the unit as written: it would reject
    every try, so advise stops before any. CHECK: run_check's result."""

    def __init__(self, command, check):
        super().__init__(f"the check fails against the unit as written: {pure.check_reason(check)}")
        self.command = command
        self.check = check


def _end_group(p):
    """Ends the process group of P (the check we started, its own session):
    SIGTERM, then SIGKILL to what is left of the group after a grace. The
    group's id cannot belong to anyone else while any member of it lives."""
    for sig, grace in ((signal.SIGTERM, CHECK_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        if p.returncode is None:
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass


def run_check(command, url, name, netns, timeout, cwd):
    """Runs the user's acceptance test COMMAND with `sh -c` on this machine
    in directory CWD, inside the network namespace file NETNS (None: this
    process's own), with SANDBENCH_URL=URL and SANDBENCH_TRY=NAME in its
    environment, for at most TIMEOUT seconds (then its process group is
    ended); what it leaves running in its process group is ended with it.
    Returns {"try", "exit" (None on a timeout, -N for signal N), "timed_out",
    "seconds", "output": its last lines, stdout and stderr together}.
    Raises HostError when it cannot be started at all."""
    env = dict(os.environ, SANDBENCH_URL=url, SANDBENCH_TRY=name)
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as log:
        try:
            # a child made while this thread is in NETNS is born in it
            with copies.entered(netns):
                p = subprocess.Popen(["sh", "-c", command], cwd=cwd, env=env,
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as e:
            raise _host.HostError(f"cannot run the check `{command}` in {cwd}"
                                  f"{f' (network namespace {netns})' if netns else ''}: "
                                  f"{e.strerror or e}") from None
        timed_out = False
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _end_group(p)
        log.seek(max(0, log.seek(0, os.SEEK_END) - CHECK_TAIL_BYTES))
        text = log.read().decode("utf-8", "replace")
    return {"try": name, "exit": None if timed_out else p.returncode, "timed_out": timed_out,
            "timeout_s": timeout, "seconds": round(time.monotonic() - t0, 2),
            "output": pure.tail_lines(text, CHECK_TAIL_LINES)}


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
        self.checks = []        # every advise --check run (run_check's results)
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

    def try_(self, body, evidence=False, listening=False, name="try"):
        """One try of drop-in BODY (None: the unit as written), NAME in the
        check's SANDBENCH_TRY: a dict with status ok / incompatible / hang /
        died / check (advise --check failed; "check" holds its result),
        reason, startup_ms and, if asked, exposure and evidence, and the TCP
        addresses listening while it ran."""
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
                if inst.status == "ok":
                    out.update(self.accept(name))
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
        js, err, _ = self.loader.load(inst.url, "keepalive", self.a.load, connections=4,
                                      netns=inst.netns_file)
        reqs = int((js or {}).get("requests") or 0)
        if reqs == 0:
            inst.status = "died"
            inst.reason = f"no request answered under load ({err or 'no answer'}); " + \
                self.fleet.why(inst, None, "")
            return {}
        code = probe(inst.url, timeout=2.0, netns=inst.netns_file)
        if code is None or not 200 <= code < 400:
            inst.status = "died"
            inst.reason = f"no good answer after load (status {code}); " + \
                self.fleet.why(inst, None, "")
            return {}
        self.fleet.check_alive(inst)
        return {"requests": reqs}

    def netns(self):
        """The network namespace file the try is reached in: its own when it
        runs in one, else the sandbox host's (the machine's when the host
        shares its network, or is the machine itself)."""
        if self.inst.netns_file:
            return self.inst.netns_file
        return None if self.host.mode == "pid1" else f"/proc/{self.host.leader}/ns/net"

    def accept(self, name):
        """advise --check against the running try (nothing without one): a
        failure makes the try's status "check", its reason the command's."""
        command = getattr(self.a, "check", None)
        if not command:
            return {}
        c = run_check(command, self.inst.url, name, self.netns(), self.a.check_timeout,
                      getattr(self.a, "check_cwd", None) or os.getcwd())
        self.checks.append(c)
        if c["exit"] != 0:
            self.inst.status = "check"
            self.inst.reason = pure.check_reason(c)
        return {"check": c}

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
        with copies.entered(self.netns()):
            r = subprocess.run(["ss", "-Hltn"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
        return pure.listeners(r.stdout)
