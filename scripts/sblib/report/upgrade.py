"""The report of an upgrade run (`run --upgrade FROM,TO`): the directive x
release matrix of sblib.analysis.upgrade as report.md and report.html in
the run's directory, beside the two releases' own reports (DIR/FROM,
DIR/TO); of a chain (`run --upgrade A,B,C`) the matrix over the chain
(sblib.analysis.upgrade_chain) beside each step's run (DIR/A-B ...).
`sandbench report DIR` writes it again (report.core)."""

from sblib.analysis import upgrade as an
from sblib.analysis import upgrade_chain as chain_an
from sblib.report import document
from sblib.report.document import bullets, h, para, table


def stack_text(m, rel):
    s = (m.get("stack") or {}).get(rel) or {}
    parts = [s.get(k) for k in ("systemd_package", "libssl_package", "glibc_package") if s.get(k)]
    return f"{rel}: " + (", ".join(parts) or "stack not recorded")


def group_blocks(m, g):
    """A (server, mode) of matrix M: floors, the baseline's change, the table."""
    fr, to = m["from"], m["to"]
    fl = g["floors"]
    out = [h(2, f"{g['server']} {g['mode']}")]
    b = g["baseline"]
    items = [f"{g['windows']} windows of four instances (each holds {fr}'s and {to}'s "
             "baseline and one variant of each, loaded at the same moment)",
             f"A/A floors of CPU per request: {fr} {an.floor_text(fl['from'])}, {to} "
             f"{an.floor_text(fl['to'])}; of a change across the upgrade "
             f"{an.floor_text(fl['change'])} (the A/A copy's change)"]
    if b:
        items.append(f"**The baseline's own change** {fr} → {to}: {b['base']:.0f} → "
                     f"{b['new']:.0f} ns per request, {an.fmt(b)}: the whole stack's change "
                     f"({an.stack_parts(m)}), not systemd's alone")
    out.append(bullets(items))
    beyond = [r for r in g["rows"] if r["beyond_noise"]]
    out.append(para(("**Changes in cost beyond the noise**: " + ", ".join(
        f"`{r['directives']}` {an.fmt(r['change'])}" for r in beyond)) if beyond else
        f"No directive's cost changed beyond the noise (change floor "
        f"{an.floor_text(fl['change'])})."))
    rows = [[f"`{r['directives']}`" + (" (A/A control)" if r["aa"] else ""),
             an.fmt(r["from"]), an.fmt(r["to"]), an.fmt(r["change"]),
             {"worse": "costs more", "better": "costs less"}.get(r["verdict"], "~"),
             str(r["n"])] for r in g["rows"]]
    out.append(table(["directive", f"cost in {fr}", f"cost in {to}",
                      f"change {fr} → {to}", "verdict", "windows"], rows,
                     ["l", "r", "r", "r", "l", "r"]))
    if g.get("unmeasured"):
        out.append(para("Not measured in both releases (a directive unknown to one "
                        "release's systemd is named so, never measured as free):"))
        out.append(table(["directive", fr, to],
                         [[f"`{u['directives']}`", str(u.get(fr)), str(u.get(to))]
                          for u in g["unmeasured"]], ["l", "l", "l"]))
    return out


def blocks(m, path):
    fr, to = m["from"], m["to"]
    out = [h(1, document.title(path) + f" — upgrade {fr} → {to}")]
    bad = {r: s for r, s in (m.get("status") or {}).items() if s != "complete"}
    if bad:
        out.append(para("**This run is not complete** (" + ", ".join(
            f"{r}: {s}" for r, s in bad.items()) + "): the figures cover the windows that "
            "finished."))
    out.append(para(f"Each directive's cost (CPU per request of the variant over its own "
                    f"release's baseline) under {fr} and under {to}, and its **change across "
                    f"the upgrade** ({to}'s cost over {fr}'s: above 0 the directive costs more "
                    f"after it), each with a 95% bootstrap interval over windows paired as "
                    f"`run`'s duet windows are. Changes beyond the noise come first. The "
                    f"stacks: {stack_text(m, fr)}; {stack_text(m, to)}. "
                    f"Note: {m.get('note') or ''}."))
    for g in m["groups"]:
        out += group_blocks(m, g)
    out.append(para(f"Each release's own report, evidence and exposure: `{fr}/report.md`, "
                    f"`{to}/report.md`."))
    return out


def chain_group_blocks(m, g):
    """A (server, mode) of chain matrix M: floors, each step's baseline
    change, the changes beyond the noise, the table."""
    rels, steps = m["releases"], [s["name"] for s in m["steps"]]
    fl = g["floors"]
    out = [h(2, f"{g['server']} {g['mode']}")]
    items = ["A/A floors of CPU per request: " + ", ".join(
        f"{r} {an.floor_text(fl['cost'].get(r))}" for r in rels) + "; of a change across a "
        "step " + ", ".join(f"{s} {an.floor_text(fl['change'].get(s))}" for s in steps)]
    for b in g["baselines"]:
        c = b["change"]
        items.append(f"**The baseline's own change** {b['step'].replace('->', ' → ')}: " + (
            f"{c['base']:.0f} → {c['new']:.0f} ns per request, {an.fmt(c)} over "
            f"{b['windows']} windows: the whole stack's change ({an.stack_parts(m)}), not "
            "systemd's alone" if c else "not measured"))
    out.append(bullets(items))
    beyond = [r for r in g["rows"] if r["beyond_noise"]]
    out.append(para(("**Changes in cost beyond the noise**: " + "; ".join(
        f"`{r['directives']}` " + ", ".join(
            f"{s.replace('->', ' → ')} {an.fmt(r['change'][s])}" for s in r["beyond_noise"])
        for r in beyond)) if beyond else "No directive's cost changed beyond the noise in "
        "any step."))
    rows = [[f"`{r['directives']}`" + (" (A/A control)" if r["aa"] else "")]
            + [an.fmt(r["cost"].get(x)) for x in rels]
            + [an.fmt(r["change"].get(s)) for s in steps] for r in g["rows"]]
    out.append(table(["directive"] + [f"cost in {r}" for r in rels]
                     + [f"change {s.replace('->', ' → ')}" for s in steps], rows,
                     ["l"] + ["r"] * (len(rels) + len(steps))))
    if g.get("unmeasured"):
        out.append(para("Not measured in every release (a directive unknown to a release's "
                        "systemd is named so, never measured as free):"))
        out.append(table(["directive"] + rels,
                         [[f"`{u['directives']}`"] + [str(u.get(r)) for r in rels]
                          for u in g["unmeasured"]], ["l"] * (len(rels) + 1)))
    return out


def chain_blocks(m, path):
    rels = m["releases"]
    out = [h(1, document.title(path) + " — upgrade " + " → ".join(rels))]
    bad = {s: st for s, st in (m.get("status") or {}).items()
           if st == "not run" or any(x != "complete" for x in st.values())}
    if bad:
        out.append(para("**This run is not complete** (" + "; ".join(
            f"{s}: {st if isinstance(st, str) else ', '.join(f'{r} {x}' for r, x in st.items())}"
            for s, st in bad.items()) + "): the figures cover the windows that finished."))
    out.append(para(
        "Measured as consecutive steps, one after the other, each a run of two releases side "
        "by side (windows of four instances: both releases' baseline and one variant of "
        "each, loaded at the same moment). Each directive's cost (CPU per request of the "
        "variant over its own release's baseline) in every release, a release in two steps "
        "pooled over both; its **change across each step** (the step's paired change: above "
        "0 it costs more after it), each with a 95% bootstrap interval. No change is given "
        "from the first release to the last: they were never loaded side by side. Changes "
        "beyond the noise come first. The stacks: " + "; ".join(stack_text(m, r) for r in rels)
        + f". Note: {m.get('note') or ''}."))
    for g in m["groups"]:
        out += chain_group_blocks(m, g)
    out.append(para("Each step's own matrix and its releases' reports: " + ", ".join(
        f"`{s['dir']}/report.md`" for s in m["steps"]) + "."))
    return out


def write(path):
    """report.md and report.html of the upgrade run in PATH from its
    upgrade.json (or a chain's chain.json); False when it has neither."""
    m = an.read(path)
    if m:
        document.write(path, blocks(m, path))
        return True
    m = chain_an.read(path)
    if m:
        document.write(path, chain_blocks(m, path))
        return True
    return False
