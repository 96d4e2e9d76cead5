"""Faults during a `sandbench run`, each provoked for real (issue 34).

  /usr/bin/python3 tests/faults/during.py [FAULT...]      (default: all; make faults)

FAULT is one of
  instance-kill   SIGKILL to the baseline's main process (systemctl kill --kill-whom=main)
  instance-oom    a variant with a MemoryMax= too small for its load (the
                  memory hierarchy delegated to the container first, so that
                  systemd enforces it: on this cgroup v1 host it is not by default)
  instance-stop   SIGSTOP to every process of the baseline: a unit that stops
                  answering in the middle of a window
  container-kill  SIGKILL to the sandbox host's container (its init, PID 1 inside)
  loadgen-kill    SIGKILL to the load generator in the middle of a window
  disk-full       --out on a small tmpfs, filled in the middle of the run

Each starts a short run (drop, one directive, windows in 2 epochs), waits
until a few windows are recorded, provokes the fault, and waits for the
run's end. Then: nothing of it may be left running (its container, loadgen,
the process group); a run that recovered must be complete, the fault said
(the variant's "restarts" in variants.json, the windows measured again
marked "remeasured"; instance-oom's named "killed by the OOM killer
(MemoryMax=...)" in the run's messages, the window records, variants.json
and the report); a run that stopped must have exited non-zero with a
message, status.json naming the resume command, and `run --resume DIR`
(after the disk is freed) must complete it. Every run ends with every
planned window measured (a good pair each, in the last measure of its plan
epoch) and no file half-written. Prints a line per fault; exit 1 if one
failed, 77 where nothing could be run (not root, nothing built).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "scripts"))
sys.path.insert(0, os.path.join(TOP, "tests", "integration", "lib"))

import resume_check  # noqa: E402
from faultlib import STATE_DIR, group_left, host_left, read_json, records  # noqa: E402
from sblib.measuring import resume  # noqa: E402

BIN = os.environ.get("BIN", os.path.join(TOP, "build", "bin"))
SB = ["/usr/bin/python3", os.path.join(TOP, "scripts", "sandbench")]
PLAN = ["--servers", "drop", "--windows", "16", "--epochs", "2", "--duet-reps", "1",
        "--window", "0.3", "--seed", "7"]
FAULTS = ("instance-kill", "instance-oom", "instance-stop", "container-kill", "loadgen-kill",
          "disk-full")
# MemoryMax= of instance-oom: lunchd-drop is killed at its start under 3M and
# starts under 6M, then is killed by the OOM killer under load (measured here)
OOM_MAX = os.environ.get("OOM_MAX", "6M")


def alive(pid):
    return not resume_check.ended(pid)


def in_host(name, *argv, timeout=30):
    """ARGV run in sandbox host NAME (nsenter, as sandbench does)."""
    st = read_json(os.path.join(STATE_DIR, f"{name}.json"))
    return subprocess.run(["nsenter", "-t", str(st["leader"]), "-m", "-u", "-i", "-p", "-n",
                           *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


def unit_of(out, variant):
    """The unit of VARIANT's instance in the epoch being measured."""
    recs = [r for r in records(out) if r.get("variant") == variant and "position" in r]
    return f"lunchd-drop-sb{recs[-1]['position']}.service"


def leftovers(name, pgid):
    """What a run that ended left running: its container, its processes."""
    left = host_left(name)
    g = group_left(pgid)
    if g:
        left.append(f"processes of the run's group: {g}")
    return left


class Fault:
    def __init__(self, kind, tmp):
        self.kind, self.tmp = kind, tmp
        self.name = f"sbfault-{kind.split('-')[1][:4]}-{os.getpid()}"
        self.out = os.path.join(tmp, kind, "r")
        self.log = os.path.join(tmp, f"{kind}.log")
        self.mnt = None
        self.own_host = False
        self.notes = []

    def argv(self):
        a = ["run", "--name", self.name, "--lock-timeout", "900", "--loadgen",
             os.path.join(BIN, "loadgen"), "--no-report", *PLAN]
        if self.kind == "instance-oom":
            conf = os.path.join(self.tmp, "memory-max-tiny.conf")
            with open(conf, "w") as f:
                f.write(f"# a memory limit too small for the load\n[Service]\n"
                        f"MemoryMax={OOM_MAX}\nMemorySwapMax=0\n")
            a += ["--directives", f"private-tmp-yes,{conf}"]
        else:
            a += ["--directives", "private-tmp-yes"]
        return a + ["--out", self.out]

    def prepare(self):
        os.makedirs(os.path.dirname(self.out), exist_ok=True)
        if self.kind == "disk-full":
            self.mnt = os.path.dirname(self.out)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "sbfault", self.mnt],
                           check=True)
        if self.kind == "instance-oom":
            # the host booted first, the memory hierarchy made writable in
            # it (as host up does for cpu and devices), so MemoryMax= holds
            rc = subprocess.run(SB + ["host", "--name", self.name, "up", "--lock-timeout",
                                      "900"], stdout=subprocess.DEVNULL).returncode
            if rc != 0:
                raise RuntimeError(f"host up: exit {rc}")
            self.own_host = True
            r = in_host(self.name, "sh", "-c", "grep ' /sys/fs/cgroup/memory ' /proc/mounts")
            if " ro," in r.stdout or r.stdout.split()[3:4] == ["ro"]:
                in_host(self.name, "mount", "-o", "remount,bind,rw", "/sys/fs/cgroup/memory")
                in_host(self.name, "systemctl", "daemon-reexec", timeout=60)
                self.notes.append("memory hierarchy delegated")

    def wait_windows(self, p, n):
        """Until N window records of this run are in (or it ended)."""
        end = time.monotonic() + 900
        while time.monotonic() < end and alive(p.pid):
            if sum(1 for r in records(self.out) if "window" in r) >= n:
                return True
            time.sleep(0.05)
        return False

    def provoke(self, p):
        k = self.kind
        if k == "instance-kill":
            u = unit_of(self.out, "drop/baseline")
            r = in_host(self.name, "systemctl", "kill", "--kill-whom=main", "--signal=SIGKILL", u)
            return f"SIGKILL to {u}'s main process (exit {r.returncode})"
        if k == "instance-stop":
            u = unit_of(self.out, "drop/baseline")
            r = in_host(self.name, "systemctl", "kill", "--signal=SIGSTOP", u)
            return f"SIGSTOP to every process of {u} (exit {r.returncode})"
        if k == "instance-oom":
            return "(under load)"
        if k == "container-kill":
            # the container's init: the kernel ends every process of its
            # PID namespace, and systemd-nspawn exits (SIGKILL to nspawn
            # alone leaves the container running: measured, the run went on)
            st = read_json(os.path.join(STATE_DIR, f"{self.name}.json"))
            os.kill(st["leader"], signal.SIGKILL)
            return f"SIGKILL to the container's init (PID {st['leader']})"
        if k == "loadgen-kill":
            end = time.monotonic() + 30
            while time.monotonic() < end:
                kids = subprocess.run(["pgrep", "-g", str(p.pid), "-x", "loadgen"],
                                      stdout=subprocess.PIPE, text=True).stdout.split()
                if kids:
                    time.sleep(0.3)     # in the middle of its window
                    for k_ in kids:
                        try:
                            os.kill(int(k_), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    return f"SIGKILL to loadgen {kids}"
                time.sleep(0.01)
            return "no loadgen seen"
        if k == "disk-full":
            free = shutil.disk_usage(self.mnt).free
            with open(os.path.join(self.mnt, "filler"), "wb") as f:
                try:
                    f.write(b"\0" * free)
                except OSError:
                    pass
            return f"filled {self.mnt} ({free} bytes)"
        raise ValueError(k)

    def run(self):
        self.prepare()
        with open(self.log, "w") as lg:
            p = subprocess.Popen(SB + self.argv(), stdout=lg, stderr=subprocess.STDOUT,
                                 start_new_session=True, cwd=TOP)
        t0 = time.monotonic()
        got = self.wait_windows(p, 6)
        what = self.provoke(p) if got else "the run ended before its 3rd window"
        try:
            rc = p.wait(timeout=600)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            rc = p.wait()
            self.notes.append("the run did not end in 600 s after the fault: killed")
        took = round(time.monotonic() - t0, 1)
        time.sleep(1)
        left = leftovers(self.name, p.pid) if not self.own_host else \
            [x for x in leftovers(self.name, p.pid) if "nspawn" not in x and "state" not in x]
        st = read_json(os.path.join(self.out, "status.json"))
        with open(self.log) as f:
            said = [ln.rstrip() for ln in f if ln.startswith("sandbench run:") or
                    "restart" in ln or "again" in ln]
        first = {"exit": rc, "state": st.get("state"), "s": took, "left_running": left,
                 "said": said[-6:]}
        if self.own_host:
            subprocess.run(SB + ["host", "--name", self.name, "down"], stdout=subprocess.DEVNULL)
        resumed = None
        if st.get("state") != "complete":
            if self.mnt:
                os.unlink(os.path.join(self.mnt, "filler"))
            rlog = self.log + ".resume"
            with open(rlog, "w") as lg:
                r = subprocess.run(SB + ["run", "--resume", self.out, "--loadgen",
                                         os.path.join(BIN, "loadgen")], stdout=lg,
                                   stderr=subprocess.STDOUT, cwd=TOP, timeout=900)
            resumed = {"exit": r.returncode,
                       "state": read_json(os.path.join(self.out, "status.json")).get("state")}
        return {"fault": self.kind, "provoked": what, "first": first, "resumed": resumed,
                "found": self.check(), "notes": self.notes}

    def check(self):
        """Every planned window measured (a good pair in the last measure of
        its plan epoch), every file whole, what was measured again marked."""
        out = self.out
        spec = read_json(os.path.join(out, "spec.json"))
        st = read_json(os.path.join(out, "status.json"))
        after = records(out)
        sc = resume_check.scan(out)
        missing, variants = [], read_json(os.path.join(out, "variants.json"))
        duet = spec.get("duet") or {}
        for s in duet.get("servers", []):
            n = resume.epochs_of(spec, s)
            vs = [v["id"] for v in spec["variants"] if v["server"] == s and v["role"] != "baseline"
                  and (variants.get(v["id"]) or {}).get("status") == "ok"]
            for e in range(n):
                got = [r for r in after if r.get("phase") == "duet" and r["server"] == s
                       and r.get("planned_epoch", r.get("epoch")) == e]
                last = max((r["epoch"] for r in got), default=None)
                ok = {(r["rep"], r["variant"]) for r in got if r["epoch"] == last
                      and r["status"] == "ok"}
                for rnd in resume.epoch_rounds(duet["rounds"], e, n):
                    for v in vs:
                        if (rnd, v) not in ok:
                            missing.append(f"{v} round {rnd + 1}")
        said = {}
        if self.kind == "instance-oom":
            said = self.oom_said(after, variants)
        return {"state": st.get("state"), "oom_said": said,
                "corrupt": sc["corrupt"] + sc["temporaries"] +
                (["runs.jsonl torn"] if sc["torn_tail"] else []),
                "missing_windows": missing[:6], "n_missing": len(missing),
                "failed_records": sum(1 for r in after if r.get("status") != "ok"),
                "remeasured": sum(1 for r in after if r.get("remeasured")),
                "restarts": {k: len(v.get("restarts") or []) for k, v in variants.items()
                             if v.get("restarts")},
                "statuses": {k: v.get("status") for k, v in variants.items()
                             if v.get("status") != "ok"}}

    def oom_said(self, recs, variants):
        """Where the OOM kill is named as one: {place: True/False}."""
        want = f"killed by the OOM killer (MemoryMax={OOM_MAX})"
        with open(self.log) as f:
            log = f.read()
        r = subprocess.run(SB + ["report", "--no-plots", self.out], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, cwd=TOP)
        try:
            with open(os.path.join(self.out, "report.md")) as f:
                report = f.read()
        except OSError:
            report = ""
        return {"message": want in log,
                "window record": any(want in (x.get("fault") or "") for x in recs),
                "variants.json": want in json.dumps(variants.get("drop/memory-max-tiny") or {}),
                "report": r.returncode == 0 and want in report}

    def cleanup(self):
        if self.own_host:
            subprocess.run(SB + ["host", "--name", self.name, "down"], stdout=subprocess.DEVNULL)
        if self.mnt:
            subprocess.run(["umount", "-l", self.mnt])


def verdict(r):
    """(ok, why) of one fault's result."""
    f, first, again = r["found"], r["first"], r["resumed"]
    bad = []
    if first["left_running"]:
        bad.append(f"left running: {first['left_running']}")
    if f["corrupt"]:
        bad.append(f"half-written: {f['corrupt']}")
    if f["state"] != "complete":
        bad.append(f"not complete after all: {f['state']}")
    if again is None:
        if first["exit"] != 0:
            bad.append(f"complete but exit {first['exit']}")
    else:
        if first["exit"] == 0:
            bad.append("stopped with exit 0")
        if not any("--resume" in s for s in first["said"]):
            bad.append("the stop did not say how to resume")
        if again["exit"] != 0:
            bad.append(f"resume exit {again['exit']}")
    if r["fault"] == "instance-oom":
        st = f["statuses"].get("drop/memory-max-tiny")
        if st is None and not f["restarts"]:
            bad.append("the OOM was not noticed (memory-max-tiny neither restarted nor died)")
        if f["n_missing"]:
            bad.append(f"{f['n_missing']} windows missing: {f['missing_windows']}")
        unsaid = [k for k, v in f["oom_said"].items() if not v]
        if unsaid:
            bad.append(f"the OOM kill not named as one (killed by the OOM killer "
                       f"(MemoryMax={OOM_MAX})) in: {', '.join(unsaid)}")
    elif f["n_missing"]:
        bad.append(f"{f['n_missing']} planned windows without a good pair: "
                   f"{f['missing_windows']}")
    if r["fault"] in ("instance-kill", "instance-stop") and again is None and not f["restarts"]:
        bad.append("recovered without a restart said in variants.json")
    return not bad, bad


def main(argv):
    faults = argv or list(FAULTS)
    for k in faults:
        if k not in FAULTS:
            sys.exit(f"unknown fault {k}; one of {', '.join(FAULTS)}")
    if os.geteuid() != 0:
        print("skip: needs root")
        return 77
    if not os.access(os.path.join(BIN, "loadgen"), os.X_OK):
        print(f"skip: build first ({BIN}/loadgen)")
        return 77
    tmp = tempfile.mkdtemp(prefix="sandbench-faults.")
    failed = 0
    try:
        for k in faults:
            f = Fault(k, tmp)
            try:
                r = f.run()
            except Exception as e:  # noqa: BLE001 - the next fault goes on
                r = None
                print(f"{k}: FAIL: {type(e).__name__}: {e}")
                failed += 1
            finally:
                f.cleanup()
            if r is None:
                continue
            ok, bad = verdict(r)
            failed += not ok
            first, again, fd = r["first"], r["resumed"], r["found"]
            how = "recovered" if again is None else \
                f"stopped (exit {first['exit']}, {first['state']}), resumed (exit {again['exit']})"
            print(f"{k}: {'ok' if ok else 'FAIL'}: {r['provoked']}; {how} in {first['s']} s; "
                  f"{fd['failed_records']} failed records, {fd['remeasured']} marked "
                  f"remeasured, restarts {fd['restarts'] or '-'}, not ok {fd['statuses'] or '-'}"
                  + ("".join(f"\n    {b}" for b in bad)))
            for s in first["said"]:
                print(f"    | {s[:220]}")
            with open(os.path.join(tmp, f"{k}.json"), "w") as fj:
                json.dump(r, fj, indent=1)
    finally:
        if os.environ.get("KEEP"):
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{len(faults) - failed}/{len(faults)} faults recovered or stopped clearly and "
          "resumed to completion")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
