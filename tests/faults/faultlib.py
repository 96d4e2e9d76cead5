"""What the fault tests (during.py, advise-kill.py) share: reading a run's
files as they may be left by a kill, and finding what a run left behind."""
import glob
import json
import os
import subprocess
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "scripts"))
sys.path.insert(0, os.path.join(TOP, "tests", "integration", "lib"))

import resume_check  # noqa: E402
from sblib.measuring import cgroups  # noqa: E402

STATE_DIR = "/run/sandbench-host"


def read_json(path):
    """PATH's JSON, or {} where it is missing or not whole."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def records(out):
    """The whole records of OUT/runs.jsonl (a torn last line dropped)."""
    try:
        with open(os.path.join(out, "runs.jsonl")) as f:
            return resume_check.whole_records(f.read())
    except (OSError, ValueError):
        return []


def group_left(pgid):
    """Processes still in process group PGID (zombies aside)."""
    left = []
    for p in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            left.append(int(p.split("/")[2]))
    return left


def host_left(name):
    """What is left of sandbox host NAME: its container, state file, cgroups."""
    left = []
    r = subprocess.run(["pgrep", "-f", f"systemd-nspawn .*-M {name} "], stdout=subprocess.PIPE,
                       text=True)
    if r.stdout.strip():
        left.append(f"systemd-nspawn {r.stdout.split()}")
    if os.path.exists(os.path.join(STATE_DIR, f"{name}.json")):
        left.append(f"its state file {name}.json")
    cgs = [d for mnt, path in cgroups.hierarchies()
           for d in {os.path.join(mnt + path.rstrip("/"), cgroups.dir_name(name)),
                     os.path.join(mnt, cgroups.dir_name(name))} if os.path.isdir(d)]
    if cgs:
        left.append(f"cgroups {cgs}")
    return left
