"""Clean roots for the sandbox host: a minimal Debian tree per release,
holding only what the sandbox host needs (`scripts/deps --host-list`), built
once with mmdebstrap from Debian's registry and cached.

    path = ensure("bookworm")        # builds it the first time (about a minute)
    _host.up(name, root=path)        # a host that sees none of this machine's /etc or /var

A root is named by its release and a digest of its package list, so a list
that changes builds a new root and never reuses a stale one. It is built in
a temporary directory beside the cache and renamed into place only when
mmdebstrap has finished, under an flock: an interrupted build leaves nothing
that looks like a root, and two builds of one root never run at once.

The integration tests boot their hosts from such a root (tests/run sets
SANDBENCH_ROOT), so a test that passes only because someone configured this
machine by hand (a package installed outside scripts/deps, a file linked in
/etc) fails on every machine, this one included.
"""
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time

from sblib import util

CACHE = "/var/cache/sandbench/roots"
RELEASES = ("bullseye", "bookworm", "trixie")
DEFAULT_RELEASE = "bookworm"


class RootError(Exception):
    """A root could not be built or found; the message says why."""


def packages():
    """The sandbox host's packages, from scripts/deps (the one list)."""
    deps = os.path.join(util.repo_root(), "scripts", "deps")
    r = subprocess.run([deps, "--host-list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    pkgs = r.stdout.split()
    if r.returncode != 0 or not pkgs:
        raise RootError(f"scripts/deps --host-list failed: {r.stderr.strip()}")
    return pkgs


def path_of(release, pkgs):
    digest = hashlib.sha256(" ".join([release] + sorted(pkgs)).encode()).hexdigest()[:12]
    return os.path.join(CACHE, f"{release}-{digest}")


def ensure(release=DEFAULT_RELEASE, log=None, timeout=900):
    """The path of RELEASE's clean root, built first if the cache lacks it."""
    if release not in RELEASES:
        raise RootError(f"unknown release '{release}'; known: {', '.join(RELEASES)}")
    log = log or (lambda m: print(f"root: {m}", file=sys.stderr, flush=True))
    pkgs = packages()
    path = path_of(release, pkgs)
    if os.path.isdir(os.path.join(path, "usr")):
        return path
    if not shutil.which("mmdebstrap"):
        raise RootError("mmdebstrap not found: install it (scripts/deps)")
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if os.path.isdir(os.path.join(path, "usr")):      # another build finished it
            return path
        tmp = path + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        argv = ["mmdebstrap", "--variant=minbase", "--quiet", "--mode=root",
                "--include=" + ",".join(pkgs), release, tmp]
        log(f"building a clean {release} root ({len(pkgs)} packages) in {path} "
            "(once; about a minute)")
        t0 = time.monotonic()
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RootError(f"mmdebstrap did not finish in {timeout}s") from None
        if r.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            tail = "\n".join(r.stdout.strip().splitlines()[-15:])
            raise RootError(f"mmdebstrap failed (exit {r.returncode}):\n{tail}")
        os.rename(tmp, path)
        log(f"built in {time.monotonic() - t0:.0f}s")
        prune(release, keep=path, log=log)
    return path


def _in_use(path):
    """True when a running process names PATH on its command line (a
    systemd-nspawn booting it)."""
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if path.encode() in f.read():
                        return True
            except OSError:
                pass
    return False


def prune(release, keep, log):
    """Removes RELEASE's other roots (an older package list's), but none a
    running container boots."""
    for n in os.listdir(CACHE):
        p = os.path.join(CACHE, n)
        if n.startswith(release + "-") and p != keep and os.path.isdir(p) \
                and not n.endswith(".tmp") and not _in_use(p):
            log(f"removing the outdated root {p}")
            shutil.rmtree(p, ignore_errors=True)
