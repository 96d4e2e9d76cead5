"""Pure logic of `sandbench run`: the variant list, the seeded slice order,
unit-file renaming and port filling for side-by-side instances. No I/O, so
tests/py/test_runner.py can check it all. (The summary a run prints comes
from the one analysis, sblib.analysis.results.)
"""
import random
import re

from sblib.records.model import VariantId

MODES = ("keepalive", "close", "resume", "rate", "capacity")

# Ports: server group k (its index in --servers), instance i < 100 listens on
# PORT_BASE + 100 k + i; a proxied backend on BACKEND_PORT_BASE + 100 k + i.
# Groups never reuse each other's ports, so a slow stop cannot collide.
# Sandbox hosts up at once share this machine's network: each has a port
# range of its own, SLOT (sblib.measuring.ports holds it), SLOT_STRIDE
# apart, below the kernel's ephemeral ports (32768 on).
PORT_BASE = 20100
BACKEND_PORT_BASE = 20500
MAX_INSTANCES = 100
SLOT_STRIDE = 1000
SLOTS = 8


def ports(group, i, slot=0):
    """(public port, backend port) of instance I of server group GROUP in
    the port range SLOT of its sandbox host."""
    if i >= MAX_INSTANCES or group >= 4:
        raise ValueError(f"instance {i} of group {group}: at most {MAX_INSTANCES} variants "
                         "per server and 4 servers")
    if not 0 <= slot < SLOTS:
        raise ValueError(f"port range {slot}: 0..{SLOTS - 1}")
    off = SLOT_STRIDE * slot
    return PORT_BASE + off + 100 * group + i, BACKEND_PORT_BASE + off + 100 * group + i


def variants_for(servers, directives, combines, combine_all, label="combined", aa_copies=1):
    """The variant list: per server a baseline, an A/A baseline, one variant
    per directive (or, with COMBINE_ALL, one variant LABEL holding all of
    them) and one per (label, directives) in COMBINES. AA_COPIES > 1 adds
    more identical copies of the baseline as ordinary variants
    (baseline-aa2, ...), to check how many a run calls significant."""
    out = []
    for s in servers:
        out.append({"id": f"{s}/baseline", "server": s, "name": "baseline", "directives": [],
                    "role": "baseline"})
        out.append({"id": f"{s}/baseline-aa", "server": s, "name": "baseline-aa",
                    "directives": [], "role": "aa"})
        for k in range(2, aa_copies + 1):
            out.append({"id": f"{s}/baseline-aa{k}", "server": s, "name": f"baseline-aa{k}",
                        "directives": [], "role": "variant"})
        if combine_all and directives:
            out.append({"id": f"{s}/{label}", "server": s, "name": label,
                        "directives": list(directives), "role": "variant"})
        else:
            for d in directives:
                out.append({"id": f"{s}/{d}", "server": s, "name": d, "directives": [d],
                            "role": "variant"})
        for label, ds in combines:
            vid = f"{s}/{label}"
            if any(v["id"] == vid for v in out):
                vid = f"{s}/{label}-combined"
            out.append({"id": vid, "server": s, "name": VariantId.parse(vid).name,
                        "directives": list(ds), "role": "variant"})
    return out


def slice_order(variant_ids, modes, reps, seed):
    """[(variant, mode, round)]: REPS rounds, each holding every (variant,
    mode) once in an order shuffled by a random.Random(SEED) — blocked
    randomization, so drift cancels and every round pairs every variant with
    its baseline. Same seed, same order."""
    rng = random.Random(seed)
    order = []
    cells = [(v, m) for v in variant_ids for m in modes]
    for r in range(reps):
        block = list(cells)
        rng.shuffle(block)
        order += [(v, m, r) for v, m in block]
    return order


def slice_key(variant, mode, rnd):
    return f"{variant}|{mode}|{rnd}"


# --- side-by-side instances ------------------------------------------------------

def unit_stem(name):
    """'lunchd-drop.service' -> ('lunchd-drop', '.service', False);
    'x@.service' -> ('x', '.service', True)."""
    base, dot, suffix = name.rpartition(".")
    if base.endswith("@"):
        return base[:-1], "." + suffix, True
    return base, "." + suffix, False


def instance_name(name, tag):
    """Unit NAME renamed for instance TAG: lunchd-drop.service ->
    lunchd-drop-TAG.service, x@.service -> x-TAG@.service."""
    stem, suffix, templ = unit_stem(name)
    return f"{stem}-{tag}{'@' if templ else ''}{suffix}"


def rename_refs(text, names, tag):
    """Rewrites references to any unit in NAMES inside TEXT to the instance's
    names (Requires=lunchd-backend.socket, Service=..., x@%i.service)."""
    stems = sorted({unit_stem(n)[0] for n in names}, key=len, reverse=True)
    for stem in stems:
        text = re.sub(r"(?<![\w.-])" + re.escape(stem) + r"(?=@|\.(?:service|socket|slice)\b)",
                      f"{stem}-{tag}", text)
    return text


_PORT_LINE = re.compile(r"^(\s*(?:ListenStream|ExecStart|ExecStartPre|Environment)\s*=.*)$", re.M)


def fill_ports(text, port, backend_port, default_port=443, default_backend=None):
    """Sets an instance's ports: @PORT@ / @BACKEND_PORT@ placeholders, and
    where a unit hard-codes its port, DEFAULT_PORT (and DEFAULT_BACKEND) in
    ListenStream=/ExecStart= lines and nginx `listen`/`server` lines."""
    text = text.replace("@PORT@", str(port)).replace("@BACKEND_PORT@", str(backend_port))

    def sub(line, old, new):
        return re.sub(r"(?<![0-9.])" + str(old) + r"(?![0-9])", str(new), line)

    def fix(m):
        line = m.group(1)
        line = sub(line, default_port, port)
        if default_backend:
            line = sub(line, default_backend, backend_port)
        return line
    text = _PORT_LINE.sub(fix, text)
    return text


# --- statistics --------------------------------------------------------------------
