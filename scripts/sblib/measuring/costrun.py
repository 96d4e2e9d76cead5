"""advise's cost runs (sblib.measuring.advisor.cost): a `sandbench run` in
advise's sandbox host, its results in --out's cost-N/ read back as a
CostRun. Advise again with the same --out and what an advise that stopped
left is not measured again: a cost run it left interrupted goes on as `run
--resume` would, and one it left complete (stopped between the run's end
and advice.json) is taken as it is, both only with the same drop-ins,
options and code (resume.check), measured anew otherwise. An advise that
finished measures anew: what its advice.json took is not taken again."""
import glob
import json
import os
import re
from dataclasses import dataclass

from sblib import catalogue as cat
from sblib.measuring import life, resume, runplan, session
from sblib.records import store
from sblib.records import status as status_mod
from sblib.records.model import ResultsError, VariantId


@dataclass(frozen=True)
class CostRun:
    """What advise reads of one cost run (results directory PATH): keep-alive
    summary ROWS by variant name ("advice", "baseline", a member), the A/A
    control's noise FLOOR, how the COPIES ran (spec.json's user_unit)."""
    path: str
    rows: dict
    floor: float = None
    copies: str = None

    @classmethod
    def read(cls, path, alias=None):
        """The cost run in PATH through records.store; ALIAS: {name the run
        gave a variant: the member's name} (a repaired member's own file).
        ResultsError when its summary.json or spec.json is not whole."""
        summ = store.read_summary(path)
        spec, _ = store.read_tagged(os.path.join(path, "spec.json"), "spec", required=True)
        rows = {VariantId.parse(r["variant"]).name: r for r in summ["rows"]
                if r.get("mode") == "keepalive" and "variant" in r}
        rows.update({m: rows[k] for k, m in (alias or {}).items() if k in rows})
        aa = [x for x in summ.get("aa") or [] if x.get("mode") == "keepalive"]
        return cls(path, rows, aa[0].get("floor") if aa else None,
                   (spec.get("user_unit") or {}).get("copies"))

    def row(self, name):
        """The summary row of variant NAME, or None."""
        return self.rows.get(name)


def _without_out(argv):
    return resume.resume_argv(["run"] + list(argv), [])


def _number(path):
    m = re.search(r"-(\d+)$", path)
    return int(m.group(1)) if m else -1


def used(out):
    """The cost runs OUT/advice.json took its figures from (an advise that
    finished): their directory names. Read before advise writes anything:
    what it writes before its cost run has none."""
    try:
        adv = store.read_json(os.path.join(out, "advice.json")) or {}
    except ResultsError:
        return set()
    cost = adv.get("cost") if isinstance(adv, dict) else None
    return {cost.get(k) for k in ("run", "frontier_run")} - {None} \
        if isinstance(cost, dict) else set()


def unfinished(out, argv, taken=()):
    """The directory in OUT of the last cost run made with ARGV (its --out
    aside) that an advise did not finish with: interrupted, or complete and
    not one of TAKEN (used(), read when this advise began); None."""
    found = None
    for d in sorted(glob.glob(os.path.join(out, "cost-*")), key=_number):
        try:
            spec = store.read_json(os.path.join(d, "spec.json"), required=True)
            state = status_mod.settle_state(
                store.read_json(os.path.join(d, "status.json")) or {}).get("state")
        except ResultsError:
            continue
        if state == "running" or state == "complete" and os.path.basename(d) in taken:
            continue
        if _without_out(spec.get("argv", [])[1:]) == _without_out(argv):
            found = d
    return found


def cost_run(argv, host, loadgen, resumes=None):
    """`sandbench run ARGV` in HOST, as the run command would (its messages,
    its summary printed, no report): its exit status. RESUMES: ARGV's --out,
    a cost run unfinished() found: one interrupted goes on as `run --resume`
    would, one complete is taken as it is; None when either is refused
    (resume.check: said, the field named)."""
    a = runplan.parse(argv)
    past = recorded = None
    try:
        spec = runplan.build_plan(a)
        if a.dry_run:
            print(json.dumps(session.recorded(spec), indent=1))
            return 0
        if resumes and _complete(resumes):
            resume.check(store.read_json(os.path.join(resumes, "spec.json"), required=True),
                         session.recorded(spec), resume.code_identity(),
                         resume.catalogue_digests(spec))
            session.say(f"the cost run in {resumes} is complete (advise stopped after it): "
                        "taken as it is")
            return 0
        if resumes:
            recorded, status = session.interrupted_run(resumes)
            resume.check(recorded, session.recorded(spec), resume.code_identity(),
                         resume.catalogue_digests(spec))
            res, past = session.reopen(resumes, status)
            session.say(f"resuming the cost run in {resumes}")
        else:
            res = session.open_results(a.out)
    except (resume.Refused, ResultsError) as e:
        session.say(f"the cost run {resumes} cannot go on ({e}): measured anew")
        return None
    except (runplan.PlanError, cat.CatalogueError) as e:
        session.say(str(e))
        return 2
    end = session.measure(a, spec, res, argv, loadgen, host=host, past=past,
                          recorded_spec=recorded)
    for line in session.summary_lines(end):
        print(line)
    return life.exit_status(end.state)


def _complete(path):
    try:
        st = store.read_json(os.path.join(path, "status.json")) or {}
    except ResultsError:
        return False
    return status_mod.settle_state(st).get("state") == "complete"
