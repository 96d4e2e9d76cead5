"""`sandbench run --resume DIR`: what is left of a run's seeded plan, and
whether this code, catalogue and plan are the run's (results/README.md,
"Resuming a run").

A server measured side by side is planned in epochs (its instances placed
afresh in each): an epoch is done when status.json's "epochs_done" says so,
written the moment its last window was recorded. An epoch that was started
but not done (its records partly there) is measured again from its start
under a new epoch number, so that its placement is a placement of its own;
one never started keeps its number. A server measured one instance at a
time (a user's unit that cannot be copied) resumes slice by slice.

Pure but for code_identity() (git), catalogue_digests() (file reads) and
the start-up measurement's files read at the end.
"""
import hashlib
import json
import os
import shlex
import subprocess

from sblib import catalogue as cat
from sblib import util
from sblib import version
from sblib.measuring.runplan import reps_of
from sblib.records import status
from sblib.records import windows as win
from sblib.records.writer import remove_temporaries, repair_tail

# spec.json fields that say when and from what a run was made, not its plan
RUN_FIELDS = ("created", "commit", "argv", "code", "catalogue_sha256")
_MISSING = "(none)"


class Refused(Exception):
    """DIR cannot be resumed here: FIELD (a spec.json path) differs."""

    def __init__(self, field, text):
        super().__init__(f"{field}: {text}")
        self.field = field


# --- what the run is made of ------------------------------------------------------

def _git(root, *args):
    try:
        p = subprocess.run(["git", "-C", root, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout if p.returncode == 0 else None


def code_identity(root=None):
    """The code a run is made with: {"commit": HEAD, "changes": None for a
    clean tree, else a digest of its uncommitted changes (tracked and
    untracked files)}; outside git {"commit": None, "version": ...}."""
    root = root or util.repo_root()
    head = _git(root, "rev-parse", "HEAD")
    if not head:
        return {"commit": None, "version": version.version()}
    diff = _git(root, "diff", "HEAD", "--binary") or b""
    others = [p for p in (_git(root, "ls-files", "--others", "--exclude-standard", "-z")
                          or b"").split(b"\0") if p]
    changes = None
    if diff or others:
        h = hashlib.sha256(diff)
        for p in sorted(others):
            h.update(b"\0" + p + b"\0")
            try:
                with open(os.path.join(root.encode(), p), "rb") as f:
                    h.update(f.read())
            except OSError:
                pass
        changes = h.hexdigest()[:16]
    return {"commit": head.decode().strip(), "changes": changes}


def _sha(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def catalogue_digests(spec):
    """{file: sha256} of the directive files SPEC measures (a catalogue
    one by its path in the tree, one of the user's by its own) and of a
    user's unit files."""
    root = util.repo_root()
    out = {}
    for d in spec.get("directives") or []:
        p = (spec.get("directive_files") or {}).get(d) or cat.FILES.get(d) or \
            os.path.join(cat.DIRECTIVES, d + ".conf")
        rel = os.path.relpath(p, root)
        out[p if rel.startswith("..") else rel] = _sha(p)
    for p in ((spec.get("user_unit") or {}).get("paths") or {}).values():
        out[p] = _sha(p)
    return out


def first_difference(old, new, path=""):
    """(path, old value, new value) of the first place two JSON values
    differ, or None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for k in list(old) + [k for k in new if k not in old]:
            d = first_difference(old.get(k, _MISSING), new.get(k, _MISSING),
                                 f"{path}.{k}" if path else k)
            if d:
                return d
        return None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (x, y) in enumerate(zip(old, new)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if old == new else (path, old, new)


def _short(v):
    t = json.dumps(v) if v != _MISSING else v
    return t if len(t) <= 80 else t[:77] + "..."


def check(recorded, rebuilt, code, digests):
    """Raises Refused naming the field when RECORDED (spec.json) was made
    with other code than CODE (code_identity()), other catalogue files than
    DIGESTS (catalogue_digests()) or another plan than REBUILT (the spec
    the options build now, JSON as spec.json holds it)."""
    was = recorded.get("code")
    if not isinstance(was, dict):
        raise Refused("code", "spec.json does not say which code made the run (made before "
                              "run --resume existed); it cannot be resumed")
    for k in ("commit", "changes", "version"):
        if was.get(k) != code.get(k):
            what = {"commit": "made at commit", "changes": "made with uncommitted changes",
                    "version": "made by sandbench"}[k]
            raise Refused(f"code.{k}", f"the run was {what} {was.get(k) or '(none)'}, this "
                                       f"tree has {code.get(k) or '(none)'}")
    old = recorded.get("catalogue_sha256") or {}
    for f in list(old) + [f for f in digests if f not in old]:
        if old.get(f) != digests.get(f):
            raise Refused(f"catalogue_sha256.{f}",
                          "the file is not the one the run measured" if f in old and f in digests
                          else "the run did not measure this file" if f not in old
                          else "the run measured this file; it is gone")
    a = {k: v for k, v in recorded.items() if k not in RUN_FIELDS}
    b = {k: v for k, v in rebuilt.items() if k not in RUN_FIELDS and k != "_order"}
    d = first_difference(a, json.loads(json.dumps(b)))
    if d:
        raise Refused(d[0], f"the run's {_short(d[1])}, these options' {_short(d[2])}")


def resume_argv(recorded_argv, argv):
    """run's options for resuming: the run's own (spec.json "argv", without
    "run" and --out) then ARGV's, which win where argparse lets the last
    one win (a changed plan is then refused by check())."""
    old = list(recorded_argv or [])[1:]
    out, skip = [], False
    for x in old:
        if skip:
            skip = False
        elif x == "--out":
            skip = True
        elif not x.startswith("--out="):
            out.append(x)
    return out + list(argv)


def command(path):
    """The command that resumes the run in PATH."""
    return f"sandbench run --resume {shlex.quote(os.path.abspath(path))}"


def not_resumable(path, state, what):
    """Why WHAT ("run", "measurement") in PATH, whose status (settled:
    status.settle_state) is STATE, cannot be resumed: still going, or
    complete; None when it can."""
    if state.get("state") == "running":
        return (f"--resume {path}: the {what} is still going (process "
                f"{(state.get('writer') or {}).get('pid')})")
    if state.get("state") == "complete":
        return f"--resume {path}: the {what} is complete; nothing is left to measure"
    return None


def status_fields(spec, done, done_keys, path):
    """What status.json says of a run in PATH besides its state: the plan
    epochs done (DONE), what is left (left()) and the command that resumes
    it."""
    return {"epochs_done": done, "left": left(spec, done, done_keys), "resume": command(path)}


# --- what is left ------------------------------------------------------------------

def side_of(spec, server):
    """Whether SERVER's variants run side by side (in epochs)."""
    return (spec.get("user_unit") or {}).get("side", True) if server == "unit" else True


def epochs_of(spec, server):
    """How many epochs SERVER's plan has: --epochs where windows measure
    it, else at most one per isolated round."""
    duet = spec.get("duet") or {}
    n = spec.get("epochs", 1)
    if server in duet.get("servers", []):
        return n
    return min(n, reps_of(spec["reps"], duet, server))


def epoch_rounds(total, e, n):
    """The rounds, of TOTAL, that epoch E of N holds."""
    return range(e * total // n, (e + 1) * total // n)


def slices_of(spec, server):
    """[(variant, mode, round)] of SERVER's isolated slices in SPEC's order."""
    out = []
    for key in spec["order"]:
        vid, mode, rnd = key.rsplit("|", 2)
        if vid.split("/", 1)[0] == server:
            out.append((vid, mode, int(rnd)))
    return out


def planned(spec, server, e):
    """(isolated slices, windows) SERVER's plan epoch E holds at most (a
    variant that fails is not measured further)."""
    n = epochs_of(spec, server)
    duet = spec.get("duet") or {}
    rounds = epoch_rounds(reps_of(spec["reps"], duet, server), e, n)
    slices = sum(1 for s in slices_of(spec, server) if s[2] in rounds)
    windows = 0
    if server in duet.get("servers", []):
        vs = [v for v in spec["variants"] if v["server"] == server]
        base = next((v["id"] for v in vs if v["role"] == "baseline"), None)
        windows = sum(len(win.round_cells([v["id"] for v in vs], base,
                                          duet["by_server"][server]["modes"],
                                          duet.get("controls_only"), r))
                      for r in epoch_rounds(duet["rounds"], e, n))
    return slices, windows


def left(spec, done, done_keys=()):
    """What is left of SPEC's plan (at most): DONE {server: [plan epochs
    done]}, DONE_KEYS the slices ("variant|mode|round") recorded of servers
    measured one at a time. {"epochs": {server: [plan epochs left]},
    "slices": N, "windows": N, "runs": records (a window makes two)}."""
    out = {"epochs": {}, "slices": 0, "windows": 0}
    keys = set(done_keys)
    for server in spec["servers"]:
        if not side_of(spec, server):
            out["slices"] += sum(1 for s in slices_of(spec, server)
                                 if "|".join(map(str, s)) not in keys)
            continue
        todo = [e for e in range(epochs_of(spec, server)) if e not in done.get(server, ())]
        out["epochs"][server] = todo
        for e in todo:
            s, w = planned(spec, server, e)
            out["slices"] += s
            out["windows"] += w
    out["runs"] = out["slices"] + 2 * out["windows"]
    return out


def todo(spec, server, done, runs):
    """[(plan epoch, epoch number)] SERVER has left, in order: an epoch of
    which RUNS (the records so far) hold something is measured again under
    a number no record has (a placement of its own), one never started
    keeps its own number."""
    n = epochs_of(spec, server)
    mine = [r for r in runs if r.get("server") == server and isinstance(r.get("epoch"), int)]
    started = {r.get("planned_epoch", r["epoch"]) for r in mine}
    nxt = max([n - 1] + [r["epoch"] for r in mine]) + 1
    out = []
    for e in range(n):
        if e in done.get(server, ()):
            continue
        if e in started:
            out.append((e, nxt))
            nxt += 1
        else:
            out.append((e, e))
    return out


def next_window(runs):
    """The first window number no record of RUNS holds."""
    return 1 + max([-1] + [r["window"] for r in runs if isinstance(r.get("window"), int)])


def recorded_keys(runs, spec):
    """The slices ("variant|mode|round") RUNS holds of servers measured one
    at a time."""
    return {f"{r['variant']}|{r['mode']}|{r.get('round')}" for r in runs
            if r.get("phase") == "isolated" and not side_of(spec, r.get("server"))}


# --- `sandbench startup --resume DIR` ----------------------------------------------
# A start-up measurement resumes round by round: a round measures only the
# samples of each variant it does not hold yet (sblib.measuring.startup);
# it is refused as a run is (check) when its code, directive files or plan
# differ.

def startup_command(out):
    """The command that resumes the start-up measurement in OUT."""
    return f"sandbench startup --resume {shlex.quote(os.path.abspath(out))}"


def startup_digests(spec, unit):
    """resume.catalogue_digests of a startup SPEC: its directive files (alone
    and in combinations) and the unit file UNIT (--unit) where given."""
    names = sorted({*spec["directives"], *(d for _, ds in spec["combines"] for d in ds)})
    return catalogue_digests(
        {"directives": names,
         "user_unit": {"paths": {"unit": os.path.abspath(unit)}} if unit else {}})


def startup_interrupted(out):
    """(startup-spec.json, startup.json) of the interrupted start-up
    measurement in OUT, read, not changed. Raises ValueError, with the
    line to print, when OUT holds none to go on with: none at all, one
    still going, or one that is complete."""
    try:
        with open(os.path.join(out, "startup-spec.json")) as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"--resume {out}: no start-up measurement to resume ({e})") from None
    try:
        with open(os.path.join(out, "startup.json")) as f:
            result = status.settle_state(json.load(f))
    except (OSError, ValueError):
        result = {"state": "interrupted"}       # killed before it wrote one
    why = not_resumable(out, result, "measurement")
    if why:
        raise ValueError(why)
    return spec, result


def startup_samples(out, say):
    """The samples of the interrupted measurement in OUT, to go on from:
    a last line a kill cut short and stale temporary files removed (said)."""
    path = os.path.join(out, "startup.jsonl")
    notes = remove_temporaries(out)
    if os.path.exists(path):
        notes += repair_tail(path)[1]
    for line in notes:
        say(line)
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []
