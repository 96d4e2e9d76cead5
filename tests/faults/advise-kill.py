"""advise's cost run killed and resumed, for real (issue 34).

  /usr/bin/python3 tests/faults/advise-kill.py [N]      (default 2; make faults)

N times: `sandbench advise` on lunchd-drop (one directive beside the
capability search, a cost run of a few short epochs) in a process group of
its own, killed with SIGKILL (the whole group) at a random instant of its
cost run: once cost-N/status.json says running, after a random share of
its planned records and a random fraction of a second more; every second
time at its end instead: within a second of its last record (its analysis,
the instant it is complete, advice.json being written; a kill after
advice.json has its cost, while advise takes its host down, has nothing to
resume and is said so). Then advise again with the same options and
--out, not killed. Checks that it:
  - said "resuming the cost run in" that directory (or, killed at its end,
    that it is complete and used as it is) and made no other;
  - completed it: status complete, every planned window measured and
    analysed, the records of the epochs done before the kill kept as they
    were and none of them measured again, the epoch in flight measured
    again as one of its own (tests/integration/lib/resume_check.py);
  - left nothing half-written: every JSON file of --out, its drop-ins and
    the cost run whole, no temporary file, runs.jsonl ending with a line
    (advice.json at the kill whole, saying its cost is pending);
  - wrote advice.json with the cost of the whole from that run;
  - left no sandbox host (its container, state file, cgroups) and no
    process of either advise's group.
The killed advise leaves its container running (systemd-nspawn runs in a
session of its own); the second advise removes it as stale. Prints a line
per run; exit 1 if one failed, 77 where nothing could be run (not root,
nothing built). ADVISE_COST_ARGS replaces the cost run's options, SEED
the instants' seed (printed).
"""
import glob
import json
import os
import random
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
from faultlib import group_left, host_left, read_json, records  # noqa: E402

BIN = os.environ.get("BIN", os.path.join(TOP, "build", "bin"))
SB = ["/usr/bin/python3", os.path.join(TOP, "scripts", "sandbench")]
COST_ARGS = os.environ.get("ADVISE_COST_ARGS",
                           "--windows 16 --epochs 4 --duet-reps 1 --window 0.3")
LIFE_S = 1500       # the most one advise may take, the lock's wait included


def argv(name, out):
    # --budget 1000: the whole is always within, so there is one cost run
    # (no frontier) and the kill falls in it
    return ["advise", "--unit", "units/lunchd-drop.service", "--url", "https://127.0.0.1:443/",
            "--public", "--directives", "private-tmp-yes", "--start-timeout", "5",
            "--load", "0.3", "--budget", "1000", "--name", name, "--lock-timeout", "900",
            "--loadgen", os.path.join(BIN, "loadgen"), "--cost-args", COST_ARGS,
            "--out", out]


def start(args, log):
    with open(log, "w") as lg:
        return subprocess.Popen(SB + args, stdout=lg, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=TOP)


def cost_dirs(out):
    return sorted(glob.glob(os.path.join(out, "cost-*")))


def half_written(out):
    """Files of OUT (its drop-ins and cost runs too) a reader cannot take
    whole: JSON that does not parse, temporary files, a runs.jsonl cut short."""
    bad = []
    for d in [out, os.path.join(out, "dropins")] + cost_dirs(out):
        if not os.path.isdir(d):
            continue
        sc = resume_check.scan(d)
        rel = os.path.relpath(d, out)
        bad += [os.path.join(rel, f) for f in sc["corrupt"] + sc["temporaries"]]
        if sc["torn_tail"] and os.path.exists(os.path.join(d, "runs.jsonl")):
            bad.append(os.path.join(rel, "runs.jsonl (cut short)"))
    return sorted(set(bad))


class Round:
    def __init__(self, i, tmp, seed):
        self.i = i
        self.name = f"sbfault-adv-{os.getpid()}-{i}"
        self.out = os.path.join(tmp, f"adv{i}")
        self.log = os.path.join(tmp, f"advise{i}.log")
        self.bad = []
        self.at_end = i % 2 == 0
        self.ended_first = False
        self.rng = random.Random(f"{seed}/{i}")

    def kill_in_cost(self, p):
        """SIGKILL to P's group at a random instant of its cost run (at its
        end: self.at_end); what the kill found, or None when advise ended
        first."""
        t0 = time.monotonic()
        share, extra = self.rng.random(), self.rng.uniform(0, 0.6)
        if self.at_end:
            share, extra = 1.0, self.rng.uniform(0, 1.0)
        d = planned = None
        while time.monotonic() - t0 < LIFE_S and p.poll() is None:
            if d is None:
                ds = cost_dirs(self.out)
                st = read_json(os.path.join(ds[0], "status.json")) if ds else {}
                if st.get("state") == "running" and st.get("runs_planned"):
                    d, planned, t_cost = ds[0], st["runs_planned"], time.monotonic()
                    target = int(share * planned)
            elif len(records(d)) >= target:
                time.sleep(extra)
                if p.poll() is not None:
                    break           # it ended first
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                if (read_json(os.path.join(self.out, "advice.json")).get("cost") or {}).get("run"):
                    # advice.json had its cost: the kill fell in advise's
                    # last second (its host taken down), past its cost run
                    self.ended_first = True
                    return None
                st = read_json(os.path.join(d, "status.json"))
                with open(os.path.join(d, "runs.jsonl")) as f:
                    killed_text = f.read()
                return {"dir": d, "at_s": round(time.monotonic() - t_cost, 1),
                        "records": len(resume_check.whole_records(killed_text)),
                        "planned": planned, "epochs_done": st.get("epochs_done") or {},
                        "text": killed_text, "left": host_left(self.name),
                        "group": group_left(p.pid)}
            time.sleep(0.02)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            self.bad.append(f"no cost run within {LIFE_S} s")
        elif d and p.returncode == 0 and (read_json(os.path.join(self.out, "advice.json"))
                                          .get("cost") or {}).get("whole"):
            self.ended_first = True
        return None

    def run(self):
        args = argv(self.name, self.out)
        t0 = time.monotonic()
        p = start(args, self.log)
        k = self.kill_in_cost(p)
        first_s = round(time.monotonic() - t0, 1)
        if k is None and self.ended_first:
            return None
        if k is None:
            with open(self.log) as f:
                tail = f.read()[-1500:]
            self.bad.append(f"advise ended (exit {p.returncode}) before its cost run was "
                            f"killed:\n{tail}")
            return None
        killed_jsonl = os.path.join(os.path.dirname(self.out), f"killed{self.i}.jsonl")
        kill_json = os.path.join(os.path.dirname(self.out), f"kill{self.i}.json")
        with open(killed_jsonl, "w") as f:
            f.write(k.pop("text"))
        with open(kill_json, "w") as f:
            json.dump({"epochs_done": k["epochs_done"]}, f)
        at_kill = half_written(self.out)
        pending = (read_json(os.path.join(self.out, "advice.json")).get("cost") or {})
        if "pending" not in pending:
            self.bad.append(f"advice.json at the kill does not say its cost is pending: "
                            f"{pending}")
        rlog = self.log + ".again"
        t1 = time.monotonic()
        q = start(args, rlog)
        try:
            rc = q.wait(timeout=LIFE_S)
        except subprocess.TimeoutExpired:
            os.killpg(q.pid, signal.SIGKILL)
            rc = q.wait()
            self.bad.append(f"the second advise did not end in {LIFE_S} s: killed")
        again_s = round(time.monotonic() - t1, 1)
        time.sleep(1)
        with open(rlog) as f:
            said = f.read()
        if rc != 0:
            self.bad.append(f"the second advise exit {rc}:\n{said[-1500:]}")
        if f"resuming the cost run in {k['dir']}" not in said and \
                f"the cost run in {k['dir']} is complete" not in said:
            self.bad.append(f"the second advise did not say it went on with {k['dir']}")
        if cost_dirs(self.out) != [k["dir"]]:
            self.bad.append(f"cost runs {cost_dirs(self.out)}: measured anew, not resumed")
        found = {}
        if read_json(os.path.join(k["dir"], "status.json")).get("state") != "complete":
            self.bad.append(f"{k['dir']} is not complete")
        else:
            r = subprocess.run(["/usr/bin/python3", os.path.join(TOP, "tests", "integration",
                                                                 "lib", "resume_check.py"),
                                "check", k["dir"], killed_jsonl, kill_json],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                found = json.loads(r.stdout)
            except ValueError:
                pass
            if r.returncode != 0:
                self.bad += [ln for ln in r.stderr.splitlines() if ln.strip()] or \
                    [f"resume_check: exit {r.returncode}"]
        adv = read_json(os.path.join(self.out, "advice.json"))
        cost = adv.get("cost") or {}
        if cost.get("run") != os.path.basename(k["dir"]) or not cost.get("whole"):
            self.bad.append(f"advice.json's cost is not the resumed run's: {cost}")
        after = half_written(self.out)
        if after:
            self.bad.append(f"half-written after the resume: {after}")
        left = host_left(self.name) + [f"processes of group {g}: {group_left(g)}"
                                       for g in (p.pid, q.pid) if group_left(g)]
        if left:
            self.bad.append(f"left running: {left}")
        return {"kill": k, "first_s": first_s, "again_s": again_s, "found": found,
                "half_written_at_kill": at_kill, "removed_stale": "removing stale" in said}

    def cleanup(self):
        subprocess.run(SB + ["host", "--name", self.name, "down"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def main(argv_):
    n = int(argv_[0]) if argv_ else 2
    if os.geteuid() != 0:
        print("skip: needs root")
        return 77
    if not all(os.access(os.path.join(BIN, b), os.X_OK) for b in ("loadgen", "lunchd-drop")):
        print(f"skip: build first ({BIN}/loadgen, {BIN}/lunchd-drop)")
        return 77
    seed = os.environ.get("SEED") or str(time.time_ns() % 10**6)
    print(f"instants drawn with SEED={seed}; cost run: {COST_ARGS}")
    tmp = tempfile.mkdtemp(prefix="sandbench-advise-kill.")
    failed = 0
    try:
        for i in range(1, n + 1):
            rd = Round(i, tmp, seed)
            try:
                r = rd.run()
            except Exception as e:  # noqa: BLE001 - the next round goes on
                r = None
                rd.bad.append(f"{type(e).__name__}: {e}")
            finally:
                rd.cleanup()
            failed += bool(rd.bad)
            if r:
                k, f = r["kill"], r["found"]
                print(f"{i}: {'FAIL' if rd.bad else 'ok'}: killed {k['at_s']} s into the cost "
                      f"run{' (its end)' if rd.at_end else ''} ({k['records']}/{k['planned']} "
                      f"records, epochs done "
                      f"{k['epochs_done'] or '-'}; left at the kill: "
                      f"{', '.join(k['left'] + [f'group {g}' for g in k['group'][:1]]) or '-'}"
                      f"; {len(r['half_written_at_kill'])} half-written); advise again "
                      f"{r['again_s']} s (the first {r['first_s']} s"
                      f"{', its container removed as stale' if r['removed_stale'] else ''}): "
                      f"kept {f.get('kept')}, added {f.get('added')}, in flight "
                      f"{','.join(f.get('in_flight') or []) or '-'} again as "
                      f"{f.get('again_as') or '-'}, {f.get('measured_twice')} measured twice, "
                      f"{f.get('missing_windows')} windows missing")
            elif rd.ended_first and not rd.bad:
                print(f"{i}: ok: advise had written its advice before the kill at the end of "
                      "its cost run (nothing to resume)")
            else:
                print(f"{i}: FAIL")
            for b in rd.bad:
                print(f"    {b}")
    finally:
        if os.environ.get("KEEP"):
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{n - failed}/{n} advise runs killed in their cost run and resumed to completion")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
