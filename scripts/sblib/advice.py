"""sandbench advise's pure parts: which catalogue values are alternatives
and which is stronger, the capability search, whether a service is public,
and the texts it writes (the drop-in, advice.md, a profile). No host, no
files: sblib.advise runs the tries and calls these.
"""
import os
import re

from sblib import catalogue as cat

# the capability set found by the search, as a member of the proposal
CAPS_NAME = "capability-bounding-set-minimal"

# Linux capabilities systemd 252 knows (linux/capability.h, 0..40)
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]

# settings whose lines add up (deny groups stack on the allow-list) rather
# than being alternative values of one setting
ADDITIVE = {"SystemCallFilter"}

def keys_of(body):
    """The settings a drop-in sets, in order (comments and sections skipped)."""
    out = []
    for ln in body.splitlines():
        k, eq, _ = ln.strip().partition("=")
        if eq and not k.startswith(("#", ";", "[")):
            out.append(k.strip())
    return out


def setting(d):
    """The setting a catalogue directive is one value of: directives that
    share it are alternatives (ProtectSystem=strict|full|yes); additive
    settings (SystemCallFilter=) give each directive its own."""
    keys = keys_of(d["body"])
    first = keys[0] if keys else d["name"]
    return d["name"] if first in ADDITIVE else first


def public_cut(d, public, socket_activated):
    """Why directive D cannot be proposed for a service whose clients come
    from other machines (None when it can): the catalogue's `public:` header
    says `no`, or `with-socket` (fine only when systemd passes the listening
    sockets in, which the directive does not touch)."""
    rule = (d.get("public") or "").split()
    if not public or not rule:
        return None
    if rule[0] == "no" or (rule[0] == "with-socket" and not socket_activated):
        return "cuts a public service off its clients: " + " ".join(rule[1:]).strip("— -")
    return None


# values of one setting, strongest first: the tie-break when the exposure
# alone cannot tell them apart (a unit with DynamicUser= already has
# ProtectSystem=strict, so strict and full read the same there)
STRONGER = ["protect-system-strict", "protect-system-full", "protect-system-true",
            "protect-home-yes", "protect-home-read-only",
            "restrict-address-families-unix", "restrict-address-families-inet-unix",
            "ip-address-deny-any", "ip-address-deny-any-allow-localhost"]


def choose(tolerated):
    """Per setting, the tolerated directive with the lowest exposure alone;
    on a tie the stronger value (STRONGER), then the first. TOLERATED:
    [(directive dict, exposure or None)]. Returns (chosen names, {name: why
    another was chosen over it})."""
    def rank(d, x):
        n = d["name"]
        return (x if x is not None else 99.0,
                STRONGER.index(n) if n in STRONGER else len(STRONGER))
    best, beaten = {}, {}
    for d, x in tolerated:
        k = setting(d)
        cur = best.get(k)
        if cur is None:
            best[k] = (d, x)
            continue
        win, lose = ((d, x), cur) if rank(d, x) < rank(*cur) else (cur, (d, x))
        best[k] = win
        how = ("removes more exposure" if (lose[1] or 99.0) > (win[1] or 99.0)
               else "is the stronger value (the same exposure alone)")
        beaten[lose[0]["name"]] = f"{win[0]['name']} is tolerated and {how}"
    return [d["name"] for d, _ in best.values()], beaten


def caps_body(keep):
    """A drop-in bounding the capabilities to KEEP (the empty assignment
    first resets whatever the unit sets)."""
    body = "[Service]\nCapabilityBoundingSet=\n"
    if keep:
        body += "CapabilityBoundingSet=" + " ".join(keep) + "\n"
    return body


def find_caps(ok, caps=CAPS):
    """The capabilities a service needs: OK(keep) tries the bounding set KEEP.
    Whole groups are dropped while that is tolerated; a group that fails is
    halved, down to the single capability it needs. Returns (needed, tries)."""
    tries = 0
    dropped = []

    def rec(group):
        nonlocal tries
        if not group:
            return
        tries += 1
        if ok([c for c in caps if c not in dropped and c not in group]):
            dropped.extend(group)
            return
        if len(group) == 1:
            return
        mid = len(group) // 2
        rec(group[:mid])
        rec(group[mid:])

    rec(list(caps))
    return [c for c in caps if c not in dropped], tries


def allowed_caps(body):
    """The bounding set a drop-in leaves (None when it does not set one)."""
    cur = None
    for ln in body.splitlines():
        k, eq, v = ln.strip().partition("=")
        if not eq or k.strip() != "CapabilityBoundingSet":
            continue
        v = v.strip()
        if not v:
            cur = set()
        elif v.startswith("~"):
            cur = (set(CAPS) if cur is None else cur) - set(v[1:].split())
        else:
            cur = (cur or set()) | set(v.split())
    return cur


def profile_caps(needed):
    """The catalogue directive that bounds the capabilities closest above
    NEEDED (the smallest set holding them all), or None."""
    best = None
    for name in cat.directive_names():
        d = cat.load_directive(name)
        have = allowed_caps(d["body"])
        if have is None or not set(needed) <= have:
            continue
        if best is None or len(have) < best[1]:
            best = (name, len(have))
    return best[0] if best else None


def profile_text(result, argv):
    """A profile of catalogue directives holding the proposal."""
    caps = profile_caps(result["capabilities"])
    shown, skip = [], False
    for x in argv:      # where it wrote its files is nobody else's business
        if skip or x in ("--out", "--write-profile"):
            skip = not skip
            continue
        if not x.startswith(("--out=", "--write-profile=")):
            shown.append(x)
    lines = [f"# generated by `sandbench advise {' '.join(shown)}`",
             f"# on {result['created'][:10]}, {result['systemd']}: every directive below was "
             "tolerated, alone and together;",
             f"# public service: {'yes' if result['public']['public'] else 'no'} "
             f"({result['public']['why']}). Capabilities needed: "
             f"{' '.join(result['capabilities']) or 'none'}."]
    lines += [m for m in result["members"] if m != CAPS_NAME]
    if caps:
        lines.append(caps)
    else:
        lines.append("# (no catalogue directive bounds the capabilities to a set holding "
                     "exactly what it needs)")
    return "\n".join(lines) + "\n"


_RO = re.compile(r"(?<![\w./-])(/[^\s'\"`:,;()]+)[^|]*?(?:Read-only file system|EROFS)")


def readonly_paths(reason):
    """The paths a journal REASON says could not be written (chown, mkdir,
    open, rename ...) because their file system is read-only, in order."""
    out = []
    for seg in re.split(r"\s\|\s|\n", reason or ""):
        for m in _RO.finditer(seg):
            if m.group(1) not in out:
                out.append(m.group(1))
    return out


def rw_paths(paths):
    """PATHS (directories) as few ReadWritePaths= entries as cover them: a
    path under another is dropped, and siblings in a service's own directory
    (/var/lib/nginx/body and /var/lib/nginx/fastcgi) become that directory;
    never a parent of fewer than three components (/var/lib, /run stay
    as narrow as the paths)."""
    ps = sorted(set(os.path.normpath(p) for p in paths))
    while True:
        parents = {}
        for p in ps:
            parent = os.path.dirname(p)
            if len(parent.strip("/").split("/")) >= 3:
                parents.setdefault(parent, []).append(p)
        grown = [k for k, v in parents.items() if len(v) > 1]
        if not grown:
            break
        ps = sorted((set(ps) - {p for k in grown for p in parents[k]}) | set(grown))
    return [p for p in ps if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in ps)]


def loopback(addr):
    a = addr.strip("[]")
    return a.startswith("127.") or a in ("::1", "localhost") or a.startswith("::ffff:127.")


def listeners(ss_text):
    """Local addresses of the listening TCP sockets in `ss -Hltn` output."""
    out = set()
    for ln in ss_text.splitlines():
        f = ln.split()
        if len(f) >= 4:
            out.add(f[3])
    return out


def is_public(new):
    """(public?, why) from the addresses the service listens on."""
    addrs = sorted(new)
    if not addrs:
        return True, "no new listening TCP socket was seen; public by default"
    outside = [a for a in addrs if not loopback(a.rsplit(":", 1)[0])]
    if outside:
        return True, f"it listens on {', '.join(outside)}, beyond loopback"
    return False, f"it listens on loopback only ({', '.join(addrs)})"


def dropin_text(members, info, unit):
    """advice.conf: per member its lines, each preceded by a comment: what it
    does, the exposure it removes, its cost with interval, the evidence that
    it was in force."""
    out = [f"# sandbench advise: a hardening drop-in for {unit}",
           f"# install: /etc/systemd/system/{unit}.d/50-hardening.conf, then",
           "#   systemctl daemon-reload && systemctl restart " + unit,
           "# every line was tried on this service in real systemd; see advice.md", "",
           "[Service]"]
    for m in members:
        i = info[m]
        out.append(f"# {m}: {i.get('does') or ''}".rstrip())
        extra = []
        if i.get("exposure_removed") is not None:
            extra.append(f"exposure -{i['exposure_removed']:.1f}")
        if i.get("cost"):
            extra.append(f"cost {i['cost']}")
        if i.get("in_force"):
            extra.append(f"in force: {i['in_force']}")
        if extra:
            out.append("#   " + "; ".join(extra))
        for ln in i["body"].splitlines():
            s = ln.strip()
            if s and not s.startswith(("#", ";", "[")):
                out.append(s)
    return "\n".join(out) + "\n"


# a failed try's status -> the kind of rejection advice.md names
KIND = {"incompatible": "fails", "hang": "hangs", "died": "dies under load",
        "check": "fails the check"}


def tail_lines(text, n, width=400):
    """The last N lines of TEXT (trailing blank lines dropped), each cut to
    WIDTH characters."""
    if not text or not text.strip():
        return ""
    return "\n".join(ln if len(ln) <= width else ln[:width] + "…"
                     for ln in text.rstrip().splitlines()[-n:])


def check_reason(c):
    """One line for a failed run C of advise --check (tries.run_check's
    result): how it ended and the last line it printed."""
    if c.get("timed_out"):
        how = f"the check timed out after {c.get('timeout_s') or 0:g} s (its process group ended)"
    elif (c.get("exit") or 0) < 0:
        how = f"the check was killed by signal {-c['exit']}"
    else:
        how = f"the check exited {c.get('exit')}"
    last = (c.get("output") or "").splitlines()
    return how + (f": {last[-1].strip()}" if last and last[-1].strip() else " (no output)")


def check_lines(r):
    """advice.md's account of advise --check: the command, its runs, and
    the output of every try it rejected (an indented block each: the
    output is the user's, any text)."""
    c = r.get("check")
    if not c:
        return []
    cmd = f"`` {c['command']} ``" if "`" in c["command"] else f"`{c['command']}`"
    lines = ["## The acceptance check (--check)", "",
             f"{cmd} (`sh -c`, timeout {c['timeout_s']:g} s), with the try's URL in "
             "`$SANDBENCH_URL` and its name in `$SANDBENCH_TRY`, after every try that started "
             f"and answered: {c['runs']} runs, {c['failed']} failed (each such try rejected "
             "like one that fails to start).", ""]
    for n, x in sorted(r["rejected"].items()):
        ck = x.get("check")
        if not ck:
            continue
        how = "timed out" if ck.get("timed_out") else f"exit {ck.get('exit')}"
        lines += [f"### `{n}` (try `{ck.get('try')}`, {how})", ""]
        out = (ck.get("output") or "(no output)").splitlines()
        lines += ["    " + ln for ln in out] + [""]
    return lines


# fewer samples than this give no interval worth a decision
MIN_N = 3


def interval(row):
    """(change, lo, hi) of a summary row's CPU per request, lo/hi None when
    the row has fewer than MIN_N samples."""
    if not row or row.get("cpu_ns_per_req_change") is None:
        return None, None, None
    c, lo, hi = (row.get("cpu_ns_per_req_" + k) for k in ("change", "lo", "hi"))
    if (row.get("cpu_ns_per_req_n") or 0) < MIN_N:
        return c, None, None
    return c, lo, hi


def dear_members(members, costs, floor):
    """The MEMBERS with a cost, costliest first by COSTS ({member: (change,
    lo, hi)}): their own interval above zero and reaching above the A/A
    FLOOR. One that merely reads high in a noisy run is not among them."""
    dear = [m for m in members
            if (costs.get(m) or (None, None, None))[1] is not None
            and costs[m][1] > 0 and costs[m][2] > (floor or 0.0)]
    return sorted(dear, key=lambda m: -costs[m][0])


def frontier_points(members, costs, floor, most=3):
    """The drop-ins between the whole and the cheapest: MEMBERS less their
    costliest 1, 2 ... MOST members (dear_members). [(name, members,
    dropped)] in that order."""
    out, dropped = [], []
    for m in dear_members(members, costs, floor)[:most]:
        dropped = dropped + [m]
        out.append((f"advice-less-{len(dropped)}", [x for x in members if x not in dropped],
                    list(dropped)))
    return out


def fmt_cost(row):
    """'+1.2% CPU/request [-0.5%, +2.9%]' from a summary row, or with too few
    samples '+1.2% CPU/request (n=1, no interval)'."""
    c, lo, hi = interval(row)
    if c is None:
        return None
    s = f"{c * 100:+.1f}% CPU/request"
    if lo is not None and hi is not None:
        s += f" [{lo * 100:+.1f}%, {hi * 100:+.1f}%]"
    else:
        s += f" (n={row.get('cpu_ns_per_req_n')}, no interval)"
    return s


def markdown(unit, r):
    ex = r["exposure"]
    lines = [f"# Hardening advice for `{unit}`", "",
             f"Exposure (`systemd-analyze security`): **{ex['before']:.1f} → "
             f"{ex['after']:.1f}**" if ex.get("after") is not None and ex.get("before") is not None
             else "Exposure: not measured", "",
             f"Public service: **{'yes' if r['public']['public'] else 'no'}** ({r['public']['why']}).",
             ""]
    c = r.get("cost") or {}
    if c.get("whole"):
        lines += [f"Cost of the {'proposed drop-in (`' + c['chosen'] + '`)' if c.get('chosen') else 'whole drop-in'}: {c['whole']} ({c.get('method') or '?'}; "
                  f"budget {r['budget_pct']:g}% on the interval's upper end: "
                  f"{'within' if c.get('within') else 'NOT within'}).", ""]
    elif c.get("skipped"):
        lines += [f"Cost: not measured ({c['skipped']}).", ""]
    elif c.get("pending"):
        lines += [f"Cost: not measured yet ({c['pending']}).", ""]
    if c.get("run"):
        lines += [f"The cost run is `{c['run']}/`, an ordinary results directory: `sandbench "
                  f"report {c['run']}` writes its full report (the verdict names the drop-in, "
                  "variant `advice`, as the combined hardened unit, with its start-up change).", ""]
    if c.get("undecided"):
        lines += [f"Budget: {c['undecided']}.", ""]
    if c.get("costliest"):
        lines += ["Costliest members (interval above zero, reaching above the A/A "
                  f"control's floor of ±{(c.get('aa_floor') or 0) * 100:.1f}%): "
                  + ", ".join(f"`{m}` {r['info'].get(m, {}).get('cost') or ''}".rstrip()
                              for m in c["costliest"]) + ".", ""]
    if len(c.get("frontier") or []) > 1:
        lines += ["## Exposure and cost", "",
                  "From the whole proposal down to the cheapest drop-in, each point started "
                  "(its exposure read) and costed side by side with the unit as written:", "",
                  "| drop-in | without | exposure | cost | budget |", "|---|---|---|---|---|"]
        for p in c["frontier"]:
            ex = p.get("exposure")
            lines.append(f"| `{p['name']}`{' (proposed)' if p['name'] == c.get('chosen') else ''}"
                         f" | {', '.join(p['dropped']) or '—'} | "
                         f"{'' if ex is None else f'{ex:.1f}'} | {p.get('cost') or '—'} | "
                         f"{'within' if p.get('within') else 'not within'} |")
        lines.append("")
    if c.get("startup_ms") is not None and c.get("baseline_startup_ms") is not None:
        lines += [f"Start-up (systemctl start to the first good answer, median of the cost "
                  f"run's starts): {c['baseline_startup_ms']:.0f} ms as written, "
                  f"{c['startup_ms']:.0f} ms with the drop-in.", ""]
    lines += ["## Proposed (advice.conf)", "", "| directive | does | exposure alone | cost | in force |",
              "|---|---|---|---|---|"]
    for m in r["members"]:
        i = r["info"][m]
        ax = i.get("alone_exposure")
        lines.append(f"| `{m}` | {i.get('does') or ''} | "
                     f"{'' if ax is None else f'{ax:.1f}'} | {i.get('cost') or '—'} | "
                     f"{i.get('in_force') or '—'} |")
    lines += ["", "## Rejected", "", "| directive | why | detail |", "|---|---|---|"]
    for n, x in sorted(r["rejected"].items(), key=lambda kv: (kv[1]["kind"], kv[0])):
        det = (x["reason"] or "").replace("|", "\\|")
        lines.append(f"| `{n}` | {x['kind']} | {det[:300]} |")
    lines += [""] + check_lines(r)
    lines += [f"{r['tries']} tries in real {r['systemd'] or 'systemd'}; "
              f"{r['elapsed_s']:.0f} s in all.", ""]
    return "\n".join(lines)
