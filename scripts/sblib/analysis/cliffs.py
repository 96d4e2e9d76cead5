"""The environment's cliffs: facts about the kernel and the host that change
what a directive costs by far more than any directive does, recorded in
every env.json and named by the report when one applies.

    env.update(read(host))          # what `run` and `startup` record
    for name, text in known(env):   # the report: which cliffs apply
        ...

- Speculative Store Bypass: before Linux 5.16 a process with a seccomp
  filter got SSBD forced on (spec_store_bypass says "prctl and seccomp"),
  a known 20-50% slowdown of everything it runs, so SystemCallFilter=
  and friends cost that much there; `mitigations=off` or
  `spec_store_bypass_disable=prctl` lifts it.
- The seccomp action cache (Linux 5.11+): a syscall the filter always
  allows is decided from a bitmap, without running the filter; before it
  every syscall runs every filter.
- net.core.bpf_jit_enable = 0: BPF programs (seccomp filters, IPAddressDeny=
  and the device ACL) are interpreted, several times slower.
- The host's mount count: ProtectHome=, ProtectSystem=strict with
  ReadWritePaths=, PrivateTmp= re-read /proc/self/mountinfo once per mount
  they touch, so their start-up grows with the mounts (systemd issues
  #37721, #42375; results/published/*-mounts shows how here).
Standard library only.
"""
import os
import re

MOUNTS_CLIFF = 500     # host mounts from which the mount-heavy directives' start-up is seconds


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cmdline_param(cmdline, name):
    """The value of NAME= on a kernel command line (the last one wins), or
    None when it is not there (the kernel's default)."""
    val = None
    for tok in (cmdline or "").split():
        if tok == "--":
            break
        if tok.startswith(name + "="):
            val = tok[len(name) + 1:]
    return val


def kernel_version(release):
    """(major, minor) of a kernel release string, or None."""
    m = re.match(r"^(\d+)\.(\d+)", release or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def libmount_version(text):
    """'2.38.1' from `mount --version` ("... (libmount 2.38.1: ...)")."""
    m = re.search(r"libmount ([0-9][0-9.]*)", text or "")
    return m.group(1) if m else None


def read(host=None):
    """The cliffs' facts on this machine, and (HOST) in the sandbox host:
    {"host_mounts": lines of the host systemd's mountinfo, "machine_mounts",
    "spec_store_bypass", "spectre_v2", "mitigations" (None: the kernel's default, auto),
    "spec_store_bypass_disable", "bpf_jit_enable", "seccomp_action_cache"
    (kernel >= 5.11), "systemd_host" (the host systemd's version),
    "libmount"}."""
    from sblib.util import first_line
    cmdline = _read("/proc/cmdline")
    rel = os.uname().release
    kv = kernel_version(rel)
    pid = host.leader if host is not None else 1

    def lines(path):
        t = _read(path)
        return len(t.splitlines()) if t is not None else None
    jit = _read("/proc/sys/net/core/bpf_jit_enable")
    out = {
        "host_mounts": lines(f"/proc/{pid}/mountinfo"),
        "machine_mounts": lines("/proc/self/mountinfo"),
        "spec_store_bypass": _read("/sys/devices/system/cpu/vulnerabilities/spec_store_bypass"),
        "spectre_v2": _read("/sys/devices/system/cpu/vulnerabilities/spectre_v2"),
        "mitigations": cmdline_param(cmdline, "mitigations"),
        "spec_store_bypass_disable": cmdline_param(cmdline, "spec_store_bypass_disable"),
        "bpf_jit_enable": int(jit) if jit is not None and jit.isdigit() else None,
        "seccomp_action_cache": (kv >= (5, 11)) if kv else None,
        "libmount": libmount_version(first_line(["mount", "--version"])),
    }
    if host is not None:
        try:
            r = host.run(["systemctl", "--version"], timeout=20)
            out["systemd_host"] = ((r.stdout or "").splitlines() or [None])[0]
        except Exception:  # noqa: BLE001 - a fact we could not read stays None
            out["systemd_host"] = None
    return out


def known(env):
    """[(cliff name, what it does to this run's figures)] for the cliffs ENV
    (an env.json dict) says apply. Facts not recorded apply nothing."""
    out = []
    ssb = (env.get("spec_store_bypass") or "").lower()
    kv = kernel_version(env.get("kernel"))
    if "seccomp" in ssb and (kv is None or kv < (5, 16)):
        out.append(("ssbd-seccomp",
                    f"spec_store_bypass is \"{env.get('spec_store_bypass')}\": every process "
                    "with a seccomp filter (SystemCallFilter=, RestrictAddressFamilies=, "
                    "MemoryDenyWriteExecute=, ... and NoNewPrivileges= servers that load one) "
                    "runs with Speculative Store Bypass Disable forced on, a known 20-50% "
                    "slowdown of everything it does (before Linux 5.16); their costs here "
                    "are that cliff, not the filter. spec_store_bypass_disable=prctl or "
                    "mitigations=off on the kernel command line lifts it."))
    if env.get("seccomp_action_cache") is False:
        out.append(("no-seccomp-cache",
                    f"kernel {env.get('kernel')} predates the seccomp action cache (5.11): "
                    "every system call runs every filter, so SystemCallFilter= costs grow "
                    "with the filter's length."))
    if env.get("bpf_jit_enable") == 0:
        out.append(("bpf-interpreted",
                    "net.core.bpf_jit_enable = 0: seccomp filters, IPAddressDeny= and device "
                    "ACL programs run in the BPF interpreter, several times slower than JIT."))
    m = env.get("host_mounts")
    if isinstance(m, int) and m >= MOUNTS_CLIFF:
        out.append(("many-mounts",
                    f"the host has {m} mounts: ProtectHome=, ProtectSystem=strict with "
                    "ReadWritePaths= and PrivateTmp= re-read the mount table once per mount "
                    "they touch, so their start-up grows with the count (systemd #37721, "
                    "#42375)."))
    return out


# the stack under the servers (env.json): a pair of names, the newer first
# (sets made before releases recorded only the second)
STACK_KEYS = (("release", "release"), ("systemd_package", "systemd"),
              ("libssl_package", "openssl"), ("glibc_package", None),
              ("kernel_package", "kernel"))
# the kernel's mitigations and BPF JIT (read() above): what moves a
# seccomp filter's or a BPF program's cost without a line of ours changing
MITIGATION_KEYS = ("mitigations", "spec_store_bypass", "spec_store_bypass_disable",
                   "spectre_v2", "bpf_jit_enable")


def stack_differences(ea, eb, mitigations=False):
    """[(fact, in EA, in EB)] of the stack (systemd, OpenSSL, glibc, the
    kernel, the release), and with MITIGATIONS the kernel's mitigations,
    where env.json dicts EA and EB both record it and differ: then a
    baseline's change is the whole stack's."""
    out = []
    for new, old in STACK_KEYS:
        key = new if ea.get(new) is not None and eb.get(new) is not None else old
        if key and ea.get(key) is not None and eb.get(key) is not None \
                and ea[key] != eb[key]:
            out.append((key, ea[key], eb[key]))
    for key in MITIGATION_KEYS if mitigations else ():
        if ea.get(key) != eb.get(key) and (ea.get(key) is not None or eb.get(key) is not None):
            out.append((key, ea.get(key), eb.get(key)))
    return out
