"""Killing a `sandbench run` and checking its resume (runner-resume.sh,
tests/faults/kill-resume.sh).

  resume_check.py kill OUT PID [SECONDS [START_FILE]]
      SIGKILL to process group PID (the run, started with setsid) SECONDS
      after START_FILE appears (the sandbox host's state file: the lock
      taken), or without them once an epoch of OUT is done and the next
      has records; waits for the run's end, then prints one JSON line:
      killed, at_s, what status.json says and what the kill left (scan).
      Exit 1 if it never got to the middle of an epoch.
  resume_check.py check OUT KILLED_JSONL KILL_JSON
      OUT resumed to completion after the kill that left KILLED_JSONL (a
      copy of runs.jsonl) and KILL_JSON (what kill printed): prints one
      JSON line of findings, exit 1 (and the failures on stderr) when one
      fails.
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts"))

from sblib.measuring import resume  # noqa: E402


def read(path):
    with open(path) as f:
        return json.load(f)


def ended(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def mid_epoch(out):
    """An epoch of OUT is done and a record of another is in."""
    try:
        done = read(os.path.join(out, "status.json")).get("epochs_done") or {}
        with open(os.path.join(out, "runs.jsonl")) as f:
            recs = [json.loads(ln) for ln in f if ln.endswith("\n")]
    except (OSError, ValueError):
        return False
    return any(es and any(r.get("server") == s and isinstance(r.get("epoch"), int) and
                          r["epoch"] not in es for r in recs) for s, es in done.items())


def scan(out):
    """What a kill left in OUT: JSON files that do not parse (corrupt),
    runs.jsonl lines that are no record but a last one cut short (corrupt),
    whether that last line is cut short (torn), temporary files."""
    corrupt, torn, temps = [], False, []
    for f in sorted(os.listdir(out)):
        p = os.path.join(out, f)
        if f.startswith("."):
            temps.append(f)
        elif f.endswith(".json"):
            try:
                read(p)
            except ValueError:
                corrupt.append(f)
    try:
        with open(os.path.join(out, "runs.jsonl")) as f:
            lines = f.read().split("\n")
    except OSError:
        lines = [""]
    torn = lines[-1] != ""
    for ln in lines[:-1]:
        try:
            json.loads(ln)
        except ValueError:
            corrupt.append("runs.jsonl")
    return {"corrupt": corrupt, "torn_tail": torn, "temporaries": temps}


def kill(out, pid, at=None, start_file=None):
    """SIGKILL to group PID AT seconds after START_FILE appears (or after
    this starts), or once mid_epoch(OUT); prints what status.json says at
    the kill, what scan() finds and when ("at_s", or when the run ended by
    itself)."""
    t0 = time.monotonic()
    start = None if start_file else t0
    killed = False
    # as long as the run waits for the host's lock (its --lock-timeout), then
    # at most 600 s (and AT) more
    while start is None or time.monotonic() - start < 600 + (at or 0):
        if start is None and os.path.exists(start_file):
            start = time.monotonic()
        if ended(pid):
            break
        if start is not None and ((at is not None and time.monotonic() - start >= at) or
                                  (at is None and mid_epoch(out))):
            os.killpg(pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.02)
    at_s = round(time.monotonic() - (start or t0), 2)
    if not killed and not ended(pid):
        os.killpg(pid, signal.SIGKILL)
        sys.exit("the run did not get there in 600 s")
    while not ended(pid):
        time.sleep(0.02)
    try:
        st = read(os.path.join(out, "status.json"))
    except (OSError, ValueError):
        st = {}
    print(json.dumps({"killed": killed, "at_s": at_s, "state": st.get("state"),
                      "epochs_done": st.get("epochs_done") or {}, "left": st.get("left"),
                      "runs_done": st.get("runs_done"), **scan(out)}))
    return 0 if killed or at is not None else 1


def whole_records(text):
    """The records of a runs.jsonl's text as a resume keeps them: its last
    line cut short and a last window half written left out."""
    recs = [json.loads(ln) for ln in text[:text.rfind("\n") + 1].splitlines()]
    if recs and "window" in recs[-1]:
        n = sum(1 for r in recs if r.get("window") == recs[-1]["window"])
        if n < 1 + len(recs[-1].get("with") or []):
            recs = recs[:-n]
    return recs


def check(out, killed, kill_json):
    bad = []

    def want(cond, what):
        if not cond:
            bad.append(what)
    k = read(kill_json)
    spec, st = read(os.path.join(out, "spec.json")), read(os.path.join(out, "status.json"))
    want(st["state"] == "complete", f"state {st['state']}")
    want(st["left"]["runs"] == 0 and "resume" not in st, f"left {st['left']}")
    # every file whole: every JSON file parses, every runs.jsonl line a
    # record ending with its newline, no temporary file left
    sc = scan(out)
    corrupt = sc["corrupt"] + sc["temporaries"] + \
        (["runs.jsonl (its last line cut short)"] if sc["torn_tail"] else [])
    want(not corrupt, f"corrupt or half-written: {corrupt}")
    with open(os.path.join(out, "runs.jsonl")) as f:
        after = whole_records(f.read())
    with open(killed) as f:
        before = whole_records(f.read())
    want(after[:len(before)] == before, "the records before the kill changed")
    new = after[len(before):]
    done = {s: set(es) for s, es in (k.get("epochs_done") or {}).items()}
    twice = [r for r in new if r.get("planned_epoch", r.get("epoch")) in done.get(r["server"], ())]
    want(not twice, f"{len(twice)} records of epochs done before the kill measured again")
    # the epoch in flight measured again as one of its own
    flight = {(r["server"], r["epoch"]) for r in before if isinstance(r.get("epoch"), int)
              and r.get("planned_epoch", r["epoch"]) not in done.get(r["server"], ())}
    again = {(r["server"], r.get("planned_epoch")) for r in new if "planned_epoch" in r}
    n = {s: resume.epochs_of(spec, s) for s in spec["servers"]}
    for s, e in flight:
        p = next((r.get("planned_epoch", e) for r in before
                  if r.get("server") == s and r.get("epoch") == e), e)
        want((s, p) in again, f"{s} epoch {e} in flight: not measured again")
    want(all(r["epoch"] >= n[r["server"]] for r in new if "planned_epoch" in r),
         "an epoch measured again under a plan epoch's number")
    # every planned window: per plan epoch, its last measure holds all of them
    missing = 0
    duet = spec.get("duet") or {}
    for s in duet.get("servers", []):
        vs = [v["id"] for v in spec["variants"] if v["server"] == s and v["role"] != "baseline"]
        for e in range(n[s]):
            got = [r for r in after if r.get("phase") == "duet" and r["server"] == s
                   and r["variant"] in vs and r.get("planned_epoch", r["epoch"]) == e]
            last = max((r["epoch"] for r in got), default=None)
            have = {(r["rep"], r["variant"]) for r in got if r["epoch"] == last}
            plan = {(rnd, v) for rnd in resume.epoch_rounds(duet["rounds"], e, n[s])
                    for m in duet["by_server"][s]["modes"] for v in vs}
            missing += len(plan - have)
    want(missing == 0, f"{missing} planned windows not measured")
    ids = [r["window"] for r in after if "window" in r]
    want(all(ids.count(w) == 2 for w in set(ids)), "a window without its pair")
    # every window analysed: the summary's n is every good window of a variant
    rows = {(r["variant"], r["mode"]): r for r in read(os.path.join(out, "summary.json"))["rows"]}
    unanalysed = 0
    for (v, m), row in rows.items():
        ok = {r["window"] for r in after if r.get("phase") == "duet" and r["variant"] == v
              and r["mode"] == m and r["status"] == "ok"}
        if row.get("role") != "baseline" and ok and row.get("n") != len(ok):
            unanalysed += 1
            bad.append(f"{v} {m}: {row.get('n')} windows analysed of {len(ok)}")
    print(json.dumps({"complete": st["state"] == "complete", "corrupt": len(corrupt),
                      "missing_windows": missing, "unanalysed": unanalysed,
                      "measured_twice": len(twice), "kept": len(before), "added": len(new),
                      "in_flight": sorted(f"{s}/{e}" for s, e in flight),
                      "again_as": sorted({r["epoch"] for r in new if "planned_epoch" in r})}))
    for b in bad:
        print(f"FAIL: {b}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "kill":
        sys.exit(kill(sys.argv[2], int(sys.argv[3]),
                      float(sys.argv[4]) if len(sys.argv) > 4 else None,
                      sys.argv[5] if len(sys.argv) > 5 else None))
    if len(sys.argv) == 5 and sys.argv[1] == "check":
        sys.exit(check(*sys.argv[2:]))
    sys.exit(__doc__)
