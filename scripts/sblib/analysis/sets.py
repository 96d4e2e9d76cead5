"""What kind of results set a directory is, so that every offline command
(compare, trend, reproduce) knows every kind sandbench writes or publishes:

  run          spec.json and runs.jsonl[.gz]: `sandbench run`, `merge`, `publish`
  startup      startup-spec.json and startup.json: `sandbench startup` (alone, or
               beside a run's files, whose set is then both)
  advice       advice.json: `sandbench advise`
  advice-user  advice-user.json: `sandbench advise --user`
  micro        spec.json of schema sandbench-micro/1: `sandbench micro`
  syscost      JSON of schema syscost/1 (`build/bin/syscost --json`) and a
               micro-summary.json of `sandbench micro` runs
  collection   a directory of such sets (one per server, unit, ...)

load(path) reads a set of any kind into one dict ("side"); members(path) the
sets of a collection by their relative names.
"""
import glob
import json
import os

from sblib.analysis import results as rs
from sblib.records import schema

KIND_WORDS = {"run": "a run set", "startup": "a start-up set", "advice": "an advise set",
              "advice-user": "an advise --user set", "micro": "a sandbench micro set",
              "syscost": "a syscost (seccomp) set", "collection": "a collection of sets"}
MICRO_SCHEMA = schema.tag("micro")
NOT_SETS = ("plots",)


def _json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise rs.ResultsError(f"{path}: not valid JSON ({e})") from None


def _has(path, *names):
    return any(os.path.exists(os.path.join(path, n)) for n in names)


def syscost_files(path):
    """The syscost/1 documents of directory PATH, by file name."""
    out = {}
    for p in sorted(glob.glob(os.path.join(path, "*.json"))):
        try:
            with open(p, encoding="utf-8") as f:
                head = f.read(200)
        except OSError:
            continue
        if '"syscost/1"' in head:
            out[os.path.basename(p)] = _json(p)
    return out


def parts(path):
    """The kinds of set directory PATH holds, e.g. ["run"], ["run",
    "startup"], ["collection"]; [] when it holds none."""
    if not os.path.isdir(path):
        return []
    out = []
    if _has(path, "spec.json"):
        spec = _json(os.path.join(path, "spec.json"))
        out.append("micro" if isinstance(spec, dict) and spec.get("schema") == MICRO_SCHEMA
                   else "run")
    if _has(path, "startup-spec.json", "startup.json"):
        out.append("startup")
    if _has(path, "advice.json"):
        out.append("advice")
    if _has(path, "advice-user.json"):
        out.append("advice-user")
    if _has(path, "micro-summary.json") or syscost_files(path):
        out.append("syscost")
    if not out and members(path):
        out.append("collection")
    return out


def members(path, _depth=0):
    """[(relative name, path)] of the sets below collection PATH (a set's own
    subdirectories, such as plots/ or cost-N/, are not members)."""
    out = []
    if _depth > 3 or not os.path.isdir(path):
        return out
    for name in sorted(os.listdir(path)):
        sub = os.path.join(path, name)
        if name.startswith(".") or name in NOT_SETS or not os.path.isdir(sub):
            continue
        ps = parts(sub) if _depth < 3 else []
        if ps and ps != ["collection"]:
            out.append((name, sub))
        else:
            out += [(name + "/" + n, p) for n, p in members(sub, _depth + 1)]
    return out


def describe(kinds):
    return " and ".join(KIND_WORDS.get(k, k) for k in kinds) or "no results set"


def nothing_here(path):
    return rs.ResultsError(
        f"{path}: no results set here: neither spec.json with runs.jsonl (a run), "
        "startup-spec.json (start-up), advice.json or advice-user.json (advise), syscost "
        "JSON (seccomp), nor directories holding them")


def load_startup(path):
    """A start-up set as a results dict like rs.load()'s (spec, env, variants,
    status, no runs) with "startup" (startup.json) and "startup_spec"."""
    spec = _json(os.path.join(path, "startup-spec.json")) or {}
    doc = _json(os.path.join(path, "startup.json"))
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise rs.ResultsError(f"{os.path.join(path, 'startup.json')}: missing or not a "
                              "start-up analysis (sandbench startup --analyse DIR makes it)")
    variants = _json(os.path.join(path, "startup-variants.json")) or {}
    env = _json(os.path.join(path, "env.json")) or {}
    return {"path": path, "spec": spec, "env": env if isinstance(env, dict) else {},
            "variants": variants if isinstance(variants, dict) else {},
            "status": {"state": doc.get("state") or "complete"}, "runs": [],
            "startup": doc, "startup_spec": spec}


def load(path):
    """One set of any kind: {"path", "kinds", "res" (rs.load() of a run, or
    a start-up set's records), "startup" (startup.json or None), "advice",
    "advice_user", "syscost" ({file: document}), "micro" (micro-summary.json
    or a micro run's spec and summary), "members" ([(name, path)] of a
    collection)}. Raises rs.ResultsError."""
    if not os.path.isdir(path):
        raise rs.ResultsError(f"{path}: not a directory")
    kinds = parts(path)
    if not kinds:
        raise nothing_here(path)
    side = {"path": path, "kinds": kinds, "res": None, "startup": None, "advice": None,
            "advice_user": None, "syscost": {}, "micro": None, "members": []}
    if "run" in kinds:
        side["res"] = rs.load(path)
    if "startup" in kinds:
        st = load_startup(path)
        side["startup"] = st["startup"]
        side["startup_spec"] = st["startup_spec"]
        if side["res"] is None:
            side["res"] = st
        else:
            side["startup_variants"] = st["variants"]
    if "advice" in kinds:
        side["advice"] = _json(os.path.join(path, "advice.json"))
    if "advice-user" in kinds:
        side["advice_user"] = _json(os.path.join(path, "advice-user.json"))
    if "micro" in kinds:
        side["micro"] = {"chunks": [{"spec": _json(os.path.join(path, "spec.json")),
                                     "summary": (_json(os.path.join(path, "summary.json"))
                                                 or {}).get("summary") or {}}]}
    if "syscost" in kinds:
        side["syscost"] = syscost_files(path)
        side["micro"] = _json(os.path.join(path, "micro-summary.json")) or side["micro"]
    if "collection" in kinds:
        side["members"] = members(path)
    if side["res"] is None:
        side["res"] = {"path": path, "spec": {}, "env": _env_of(side), "variants": {},
                       "status": {"state": "complete"}, "runs": []}
    return side


def _env_of(side):
    """The machine a set without env.json ran on, from what it records."""
    for doc in side["syscost"].values():
        e = (doc or {}).get("env") or {}
        return {"kernel": e.get("kernel"), "arch": e.get("machine"),
                "cpu_model": e.get("cpu_model"), "cores": e.get("cpus_online")}
    for path in [side["path"]] + [p for _, p in side["members"]]:
        env = _json(os.path.join(path, "env.json"))
        if isinstance(env, dict):
            return env
    return {}


def created(side):
    """When the set was made (ISO-8601 or sandbench's stamp), or None."""
    res = side["res"]
    for doc in (res["spec"], side.get("startup_spec") or {}, side["advice"] or {},
                side["advice_user"] or {}):
        if doc.get("created"):
            return str(doc["created"])
    return None
