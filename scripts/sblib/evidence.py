"""Sandbox evidence, judged: the per-directive verdict "did the directive
take effect", from what a running unit's main process really got (read by
sblib.measuring.collect from /proc/MAINPID and the unit's cgroup) — so a directive is
never credited for protection it does not deliver (in a container without
bpf() IPAddressDeny= is accepted and silently not enforced, for example).

    ok, why = verdict("seccomp", ev, baseline_ev)

Pure: no host, no container, no systemd (the offline analysis, report and
compare use it); parsing of /proc status text and `systemd-analyze
security` output is here too, tested on captured text.
"""
import json
import re

from sblib import catalogue as cat

NAMESPACES = ("mnt", "net", "user", "pid", "uts", "ipc", "cgroup")

# evidence kind (units/directives header) -> what it compares
KINDS = ("uid", "caps", "nnp", "seccomp", "mntns", "netns", "userns", "utsns", "ipcns", "bpf",
         "devices", "quota", "cmdline", "none")


def parse_status(text):
    """The sandbox-relevant fields of a /proc/PID/status text:
    uid/gid (real, effective, saved, fs lists), cap_eff/cap_bnd/cap_prm/
    cap_amb (hex strings), no_new_privs, seccomp (0 off, 1 strict, 2 filter),
    seccomp_filters (count; None on kernels that lack the line)."""
    f = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            f[k.strip()] = v.strip()
    ids = lambda k: [int(x) for x in f.get(k, "").split()] or None  # noqa: E731
    num = lambda k: int(f[k]) if k in f and f[k].lstrip("-").isdigit() else None  # noqa: E731
    uid, gid = ids("Uid"), ids("Gid")
    return {
        "uid": uid[1] if uid else None, "uids": uid,
        "gid": gid[1] if gid else None, "gids": gid,
        "groups": [int(x) for x in f.get("Groups", "").split()],
        "cap_eff": f.get("CapEff"), "cap_prm": f.get("CapPrm"), "cap_bnd": f.get("CapBnd"),
        "cap_amb": f.get("CapAmb"),
        "no_new_privs": num("NoNewPrivs"),
        "seccomp": num("Seccomp"),
        "seccomp_filters": num("Seccomp_filters"),
    }


def bits(hexstr):
    return int(hexstr, 16) if hexstr else 0


def verdict(kind, ev, base):
    """Did a directive whose evidence KIND is given take effect?  Compares
    EV (the variant) with BASE (the same server's baseline; may be None).
    Returns (True | False | None, why). None: the evidence cannot tell (the
    baseline already shows it, or the directive has no /proc trace)."""
    base = base or {}
    if kind in ("mntns", "netns", "userns", "utsns", "ipcns"):
        ns = kind[:-2]
        key = f"{ns}_ns_differs"
        if key not in ev:
            return None, f"{ns} namespace not readable"
        if ev[key] and base.get(key):
            return None, f"the baseline already runs in its own {ns} namespace"
        return (True, f"own {ns} namespace ({ev.get(ns + '_ns')})") if ev[key] else \
            (False, f"shares the host's {ns} namespace")
    if kind == "uid":
        u, bu = ev.get("uid"), base.get("uid")
        if u is None:
            return None, "no Uid line"
        if u == 0:
            return False, "runs as root (uid 0)"
        if bu is not None and bu == u:
            return None, f"the baseline already runs as uid {u}"
        return True, f"runs as uid {u}" + (f" (baseline {bu})" if bu is not None else "")
    if kind == "caps":
        c, bc = bits(ev.get("cap_bnd")), bits(base.get("cap_bnd"))
        e, be = bits(ev.get("cap_eff")), bits(base.get("cap_eff"))
        if base and c == bc and e == be:
            if c == 0:
                return None, "the baseline's bounding set is already empty"
            return False, f"CapBnd {ev.get('cap_bnd')} same as the baseline's"
        if base and (c & ~bc == 0) and (c != bc or e != be):
            return True, f"CapBnd {ev.get('cap_bnd')} (baseline {base.get('cap_bnd')})"
        if not base:
            return (c != (1 << 41) - 1), f"CapBnd {ev.get('cap_bnd')}"
        return False, f"CapBnd {ev.get('cap_bnd')} not a subset of the baseline's"
    if kind == "nnp":
        n, bn = ev.get("no_new_privs"), base.get("no_new_privs")
        if n == 1 and bn == 1:
            return None, "the baseline already sets no_new_privs itself"
        return (n == 1), f"NoNewPrivs {n}"
    if kind == "seccomp":
        f, bf = ev.get("seccomp_filters"), base.get("seccomp_filters")
        if f is None:
            return (ev.get("seccomp") == 2), f"Seccomp {ev.get('seccomp')}"
        bf = bf or 0
        if f > bf:
            return True, f"{f} seccomp filters (baseline {bf})"
        return False, f"{f} seccomp filters, no more than the baseline's {bf}"
    if kind == "bpf":
        p, bp = ev.get("cgroup_bpf_progs"), base.get("cgroup_bpf_progs") or 0
        if p is None:
            return None, "cgroup BPF not queryable"
        if p > bp:
            return True, f"{p} BPF programs on the unit's cgroup ({ev.get('cgroup_bpf')})"
        return False, f"{p} BPF programs on the unit's cgroup (baseline {bp}): not enforced"
    if kind == "devices":
        p, bp = ev.get("cgroup_bpf_progs") or 0, base.get("cgroup_bpf_progs") or 0
        if p > bp:
            return True, f"{p} BPF programs on the unit's cgroup ({ev.get('cgroup_bpf')})"
        lst = ev.get("devices_v1")
        if lst is not None and lst != "a *:* rwm":
            return True, "v1 devices.list: " + " ".join(lst.split("\n")[:4])
        return False, ("no device BPF program on the unit's cgroup and no v1 devices list "
                       "of its own: not enforced")
    if kind == "quota":
        k = ev.get("cpu_quota_kernel")
        if ev.get("cpu_quota_set") in (None, "", "infinity"):
            return False, "systemd has no CPUQuota for it"
        if k is None:
            return False, (f"CPUQuota {ev.get('cpu_quota_set')} set but no cpu controller for the "
                           "unit's cgroup: not enforced")
        if k.startswith("max") or k == "-1":
            return False, f"kernel quota {k}: not enforced"
        return True, f"kernel quota {k}"
    if kind == "cmdline":
        argv, bargv = ev.get("cmdline"), base.get("cmdline")
        if argv is None or bargv is None:
            return None, "command line not readable"
        extra = [a for a in argv if a not in bargv]
        if extra:
            return True, "runs with " + " ".join(extra) + " (the baseline without)"
        return False, "the same command line as the baseline"
    return None, "no /proc evidence for this directive"


# capability(7) numbers, CAP_CHOWN = 0 .. CAP_CHECKPOINT_RESTORE = 40
CAPS = ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
        "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",
        "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE",
        "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
        "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
        "PERFMON", "BPF", "CHECKPOINT_RESTORE")


def _settings(body, key):
    """Values of KEY= lines in a drop-in's text, in order."""
    return [ln.split("=", 1)[1].strip() for ln in (body or "").splitlines()
            if ln.strip().startswith(key + "=")]


def _cap_names(mask):
    return " ".join("CAP_" + c for i, c in enumerate(CAPS) if mask >> i & 1)


def baseline_has(d, base, base_checks):
    """Why directive D (a header dict with "body" and "answers", as
    _catalogue.load_directive gives it) cannot show in the evidence against
    this baseline: the baseline already has what D asks for, as the kernel
    shows it (BASE, the baseline's evidence: a bounding set that already
    lacks the capabilities D drops, as a container's does) or as systemd-analyze
    security reads the baseline unit (BASE_CHECKS: DynamicUser= implies
    RestrictSUIDSGID=, for example, so the baseline already has its filter).
    None when it does not: then evidence no different from the baseline's
    means D did not take effect."""
    base = base or {}
    body = d.get("body", "")
    bnd = _settings(body, "CapabilityBoundingSet")
    if len(bnd) == 1 and base.get("cap_bnd"):
        have, v = bits(base["cap_bnd"]), bnd[0]
        names = [c[4:] if c.startswith("CAP_") else c for c in v.lstrip("~").split()]
        if names and all(c in CAPS for c in names):
            mask = sum(1 << CAPS.index(c) for c in names)
            if v.startswith("~") and have & mask == 0:
                return f"the baseline's bounding set ({base['cap_bnd']}) already lacks {_cap_names(mask)}"
            if not v.startswith("~") and have & ~mask == 0:
                return f"the baseline's bounding set ({base['cap_bnd']}) is already within {v}"
    amb = _settings(body, "AmbientCapabilities")
    if amb == [""] and base.get("cap_amb") is not None and bits(base["cap_amb"]) == 0:
        return "the baseline has no ambient capabilities"
    named = {c.get("name"): c.get("set") for c in base_checks or [] if isinstance(c, dict)}
    answers = [a.strip() for a in (d.get("answers") or "").split(",") if a.strip() in named]
    if answers and all(named[a] for a in answers):
        return ("the baseline already has it (systemd-analyze security reads "
                + ", ".join(answers) + " as set on the baseline unit)")
    return None


def judge(d, ev, base, base_checks):
    """(True | False | None, why) for directive D (a load_directive dict) on
    a variant with evidence EV against the baseline's evidence BASE and
    exposure checks BASE_CHECKS: verdict() on D's evidence kind, where
    "no different from the baseline" becomes "could not tell" when
    baseline_has() says the baseline already has what D asks for."""
    kind = directive_kind(d)
    ok, why = verdict(kind, ev, base)
    if ok is False:
        already = baseline_has(d, base, base_checks)
        if already:
            return None, f"{kind}: {already}"
    return ok, f"{kind}: {why}"


def rejudge(variants):
    """Re-derive the stored "no" verdicts of a variants.json dict from the
    evidence stored with them, by judge(): a set measured before a rule was
    learnt reads as one measured after. Only "no" can change (to "could not
    tell"), and never a verdict that differed between merged runs or one of
    a directive the catalogue no longer has. Changes VARIANTS in place and
    returns how many verdicts changed."""
    bases = {v.get("server"): v for v in variants.values()
             if isinstance(v, dict) and v.get("role") == "baseline"}
    n = 0
    for v in variants.values():
        if not isinstance(v, dict) or v.get("role") == "baseline":
            continue
        b = bases.get(v.get("server"))
        applied = v.get("applied")
        if not b or not isinstance(applied, dict) or not isinstance(v.get("evidence"), dict) \
                or not isinstance(b.get("evidence"), dict) or "error" in v["evidence"] \
                or "error" in b["evidence"]:
            continue
        for name, ok in list(applied.items()):
            if ok is not False or name in (v.get("applied_runs") or {}):
                continue
            try:
                d = cat.load_directive(name)
            except (cat.CatalogueError, OSError):  # since renamed or removed: keep its word
                continue
            ok2, why = judge(d, v["evidence"], b["evidence"], b.get("exposure_checks"))
            if ok2 is None:
                applied[name] = None
                v.setdefault("applied_why", {})[name] = why
                n += 1
    return n


def directive_kind(d):
    """Evidence kind of a directive header dict (calibration quota -> quota)."""
    k = (d.get("evidence") or "none").strip()
    if k == "none" and d.get("calibration") == "yes" and "CPUQuota" in d.get("directive", ""):
        return "quota"
    return k if k in KINDS else "none"


_OVERALL = re.compile(r"Overall exposure level for \S+:\s*([0-9.]+)\s+(\S+)")


def parse_exposure(text):
    """(score, predicate) from systemd-analyze security's text output, or (None, None)."""
    m = _OVERALL.search(text or "")
    return (float(m.group(1)), m.group(2)) if m else (None, None)


def parse_checks(js):
    """The --json=short list as [{"name", "set", "exposure"}] (exposure float or None)."""
    out = []
    try:
        items = json.loads(js)
    except (TypeError, ValueError):
        return out
    for it in items:
        e = it.get("exposure")
        try:
            e = float(e) if e is not None else None
        except ValueError:
            e = None
        out.append({"name": it.get("name"), "set": it.get("set"), "exposure": e})
    return out
