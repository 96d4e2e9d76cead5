"""Clean roots for the sandbox host: a minimal Debian tree per release,
holding only what the sandbox host needs (`scripts/deps --host-list
RELEASE`), built once with mmdebstrap from Debian's registry and cached; and
the servers built inside each release against its own libraries.

    path = ensure("trixie")          # builds it the first time (about a minute)
    bins = servers(path)             # build/bin/lunchd-* built against trixie's glibc, OpenSSL
    _host.up(name, root=path)        # a host that sees none of this machine's /etc or /var

A root is named by its release and a digest of its package list
(RELEASE-DIGEST), so a list that changes builds a new root and never reuses
a stale one. A root with packages of the user's besides (`--install
nginx,...`: a user's unit under a release needs its program) is built the
same way, once per release and set of packages (RELEASE-with-DIGEST, the
digest of the whole sorted list); the KEEP_WITH most recently used of a
release are kept. It is built in a temporary directory beside the cache and
renamed into place only when mmdebstrap has finished, under an flock: an
interrupted build leaves nothing that looks like a root, and two builds of
one root never run at once. bookworm-backports is bookworm with systemd
(and its libraries) from bookworm-backports, pinned (254 for bookworm's 252).

The servers (build/bin/lunchd-*, and syscost for `micro`) are compiled in
the release's build root (RELEASE-build-DIGEST: the host's packages and
`scripts/deps --build-list RELEASE`: its gcc and -dev packages) by
systemd-nspawn, the repository read-only, into bins/RELEASE-BUILDDIGEST-SRC/
(SRC: a digest of the sources and the Makefile), so a host of that release
runs servers linked against its own glibc, OpenSSL and liburing: a
baseline's change across releases is the whole stack's. A root the user
gives (`--root DIR`) is built in when it holds a compiler and the -dev
packages; else its host runs this machine's build, and says so.

The integration tests boot their hosts from such a root (tests/run sets
SANDBENCH_ROOT), so a test that passes only because someone configured this
machine by hand (a package installed outside scripts/deps, a file linked in
/etc) fails on every machine, this one included.
"""
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

from sblib import util
from sblib.measuring.releases import DEFAULT_RELEASE, RELEASES  # noqa: F401 - roots.RELEASES
from sblib.measuring.releases import INSTALLED          # the user's packages in a root

CACHE = "/var/cache/sandbench/roots"
MARKER = "etc/sandbench-release"          # in a root we built: its release's name
MIRROR = "http://deb.debian.org/debian"
# bookworm-backports: these packages from the backports suite, the rest bookworm's
BACKPORTED = "systemd systemd-* libsystemd* libudev* libpam-systemd libnss-systemd udev"
SERVER_SOURCES = ("Makefile", "servers", "common", "bench/syscost")
IN_ROOT = ["lunchd-drop", "lunchd-activated", "lunchd-backend"]   # the servers
OPTIONAL = ["syscost"]                                            # `micro`'s, if it builds
WARN = "-Wall -Wextra -Wshadow -Wvla"      # no -Werror: another gcc warns otherwise


class RootError(Exception):
    """A root could not be built or found; the message says why."""
    output = ""         # what the failed build printed


def log_default(m):
    print(f"root: {m}", file=sys.stderr, flush=True)


def _deps(what, release):
    deps = os.path.join(util.repo_root(), "scripts", "deps")
    r = subprocess.run([deps, what, release], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    pkgs = r.stdout.split()
    if r.returncode != 0 or not pkgs:
        raise RootError(f"scripts/deps {what} {release} failed: {r.stderr.strip()}")
    return pkgs


def packages(release=DEFAULT_RELEASE, kind="host"):
    """The packages of RELEASE's root from scripts/deps (the one list): the
    sandbox host's, and for KIND "build" its compiler and -dev packages too."""
    pkgs = _deps("--host-list", release)
    if kind == "build":
        pkgs += [p for p in _deps("--build-list", release) if p not in pkgs]
    return pkgs


def path_of(release, pkgs, kind="host"):
    """The cache's directory of RELEASE's root of PKGS (any order) of KIND:
    "host", "build" or "with" (the host's packages and the user's)."""
    digest = hashlib.sha256(" ".join([release] + sorted(pkgs)).encode()).hexdigest()[:12]
    return os.path.join(CACHE, f"{release}-{digest}" if kind == "host"
                        else f"{release}-{kind}-{digest}")


def with_packages(release, extra):
    """(the packages, the path) of RELEASE's root holding its host's
    packages and EXTRA besides."""
    pkgs = packages(release)
    pkgs = pkgs + [p for p in sorted(set(extra)) if p not in pkgs]
    return pkgs, path_of(release, pkgs, "with")


# what apt says of a package the release's archive does not hold
_MISSING = re.compile(r"Unable to locate package (\S+)|Package '?([^'\s]+)'? has no "
                      r"installation candidate|Couldn't find any package by \w+ '([^']+)'")


def missing_packages(output):
    """The packages that apt (inside mmdebstrap) said do not exist or have
    no candidate, in the order of OUTPUT."""
    out = []
    for m in _MISSING.finditer(output or ""):
        p = next(g for g in m.groups() if g)
        if p not in out:
            out.append(p)
    return out


def mmdebstrap_argv(release, pkgs, dest):
    """mmdebstrap's command line for RELEASE's root of PKGS in DEST."""
    # not --quiet: apt's "E: Unable to locate package" goes with it
    argv = ["mmdebstrap", "--variant=minbase", "--mode=root",
            "--include=" + ",".join(pkgs)]
    if release == "bookworm-backports":
        pin = (f"Package: {BACKPORTED}\\nPin: release n=bookworm-backports\\n"
               "Pin-Priority: 990\\n")
        argv += ["--setup-hook", 'mkdir -p "$1/etc/apt/preferences.d" && printf "'
                 + pin + '" > "$1/etc/apt/preferences.d/sandbench-backports"',
                 "bookworm", dest]
        argv += [f"deb {MIRROR} bookworm{s} main" for s in ("", "-updates", "-backports")]
        argv.append(f"deb {MIRROR}-security bookworm-security main")
        return argv
    return argv + [release, dest]


def release_of(root):
    """The release of a root we built (its marker, or its name in the
    cache), else None (a root the user gave)."""
    try:
        with open(os.path.join(root, MARKER)) as f:
            rel = f.read().strip()
        if rel in RELEASES:
            return rel
    except OSError:
        pass
    m = re.match(r"^(.+?)-(?:build-|with-)?[0-9a-f]{12}$",
                 os.path.basename(os.path.normpath(root)))
    if m and m.group(1) in RELEASES and os.path.dirname(os.path.normpath(root)) == CACHE:
        return m.group(1)
    return None


def check_release(release):
    if release not in RELEASES:
        raise RootError(f"unknown release '{release}'; known: {', '.join(RELEASES)}")


def ensure(release=DEFAULT_RELEASE, log=None, timeout=900, kind="host", install=()):
    """The path of RELEASE's clean root (KIND "build": its build root; with
    INSTALL, packages of the user's: its root holding them too), built
    first if the cache lacks it. Raises RootError, naming a package of
    INSTALL that RELEASE does not have."""
    check_release(release)
    log = log or log_default
    if install and not set(install) - set(packages(release)):
        install = ()                    # the host's own root has them all
    if install:
        kind = "with"
        pkgs, path = with_packages(release, install)
    else:
        pkgs = packages(release, kind)
        path = path_of(release, pkgs, kind)
    if os.path.isdir(os.path.join(path, "usr")):
        _mark(path, release)
        if kind == "with":
            try:
                os.utime(path)              # recently used: pruned last
            except OSError:
                pass
        return path
    if not shutil.which("mmdebstrap"):
        raise RootError("mmdebstrap not found: install it (scripts/deps)")
    os.makedirs(CACHE, exist_ok=True)
    with _locked():
        if os.path.isdir(os.path.join(path, "usr")):      # another build finished it
            return path
        tmp = path + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        what = {"host": "root", "build": "build root"}.get(kind, "root with " + ", ".join(
            sorted(set(install))))
        log(f"building a clean {release} {what} ({len(pkgs)} packages) in {path} (once; "
            "about a minute)")
        t0 = time.monotonic()
        try:
            _build(mmdebstrap_argv(release, pkgs, tmp), tmp, "mmdebstrap", timeout)
        except RootError as e:
            miss = missing_packages(e.output)
            if miss:
                raise RootError(f"{release} has no package {', '.join(miss)} (Debian's "
                                f"{release} archive, main; see https://packages.debian.org/"
                                f"{release}/{miss[0]})") from None
            raise
        _mark(tmp, release, install)
        os.rename(tmp, path)
        log(f"built in {time.monotonic() - t0:.0f}s")
        if kind == "with":
            prune_with(release, keep=path, log=log)
        else:
            prune(release, keep=path, log=log, kind=kind)
    return path


def _mark(root, release, install=()):
    """Names RELEASE in ROOT (MARKER), which a root built before markers
    lacks, and the user's packages INSTALL in it (INSTALLED)."""
    p = os.path.join(root, MARKER)
    if not os.path.exists(p) and os.access(os.path.dirname(p), os.W_OK):
        with open(p, "w") as f:
            f.write(release + "\n")
    if install:
        with open(os.path.join(root, INSTALLED), "w") as f:
            f.write("".join(x + "\n" for x in sorted(set(install))))


def installed_of(root):
    """The user's packages a root of ours was built with (--install), or []."""
    try:
        with open(os.path.join(root, INSTALLED)) as f:
            return f.read().split()
    except OSError:
        return []


def _build(argv, tmp, what, timeout):
    """Runs ARGV, which builds into TMP; on a failure or after TIMEOUT
    seconds removes TMP and raises RootError naming WHAT with its output's
    tail."""
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RootError(f"{what} did not finish in {timeout}s") from None
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tail = "\n".join(r.stdout.strip().splitlines()[-15:])
        e = RootError(f"{what} failed (exit {r.returncode}):\n{tail}")
        e.output = r.stdout
        raise e


class _locked:
    """The cache's flock, held while a root or the servers are built."""

    def __enter__(self):
        os.makedirs(CACHE, exist_ok=True)
        self.f = open(os.path.join(CACHE, ".lock"), "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.f.close()


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


def prune(release, keep, log, kind="host"):
    """Removes RELEASE's other roots of KIND (an older package list's), but
    none a running container boots, nor another release's or kind's."""
    pat = re.compile(re.escape(release) + ("" if kind == "host" else "-" + kind)
                     + r"-[0-9a-f]{12}$")
    for n in os.listdir(CACHE):
        p = os.path.join(CACHE, n)
        if pat.match(n) and p != keep and os.path.isdir(p) and not _in_use(p):
            log(f"removing the outdated root {p}")
            shutil.rmtree(p, ignore_errors=True)


KEEP_WITH = 4       # per release: roots with packages of the user's


def prune_with(release, keep, log):
    """Removes RELEASE's roots with packages of the user's but the
    KEEP_WITH most recently used (KEEP among them), none a container boots."""
    pat = re.compile(re.escape(release) + r"-with-[0-9a-f]{12}$")
    old = sorted((os.path.join(CACHE, n) for n in os.listdir(CACHE) if pat.match(n)),
                 key=os.path.getmtime, reverse=True)
    for p in [x for x in old if x != keep][KEEP_WITH - 1:]:
        if not _in_use(p):
            log(f"removing the least recently used root {p}")
            shutil.rmtree(p, ignore_errors=True)


# --- the servers, built inside a root ------------------------------------------

def source_digest(top=None):
    """A digest of what the servers are built from (SERVER_SOURCES)."""
    top = top or util.repo_root()
    h = hashlib.sha256()
    for s in SERVER_SOURCES:
        p = os.path.join(top, s)
        files = [p] if os.path.isfile(p) else sorted(
            os.path.join(d, f) for d, _, fs in os.walk(p) for f in fs)
        for fn in files:
            h.update(os.path.relpath(fn, top).encode() + b"\0")
            with open(fn, "rb") as f:
                h.update(f.read())
    return h.hexdigest()[:12]


def can_build(root):
    """True when ROOT holds a compiler, make and the servers' -dev packages."""
    need = ["usr/bin/cc", "usr/bin/make", "usr/bin/pkg-config", "usr/include/openssl/ssl.h",
            "usr/include/seccomp.h", "usr/include/sys/capability.h",
            "usr/include/systemd/sd-daemon.h"]
    return all(os.path.exists(os.path.join(root, p)) for p in need)


def build_argv(build_root, out, version):
    """systemd-nspawn's command line compiling the servers in BUILD_ROOT
    (read-only under a tmpfs, no network) into OUT."""
    targets = [f"/out/bin/{p}" for p in IN_ROOT]
    make = ["make", "-s", "-j2", "O=/out", "DEPS=true", f"VERSION={version}", f"WARN={WARN}"]
    sh = (" ".join(_q(a) for a in make + targets) + " && { "
          + " ".join(_q(a) for a in make + [f"/out/bin/{p}" for p in OPTIONAL])
          + " >/out/optional.log 2>&1 || true; }")
    return ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "-D", build_root,
            "--volatile=overlay", "--private-network", f"--bind-ro={util.repo_root()}:/src",
            f"--bind={out}:/out", "--chdir=/src", "--", "/bin/sh", "-c", sh]


def _q(a):
    return "'" + a.replace("'", "'\\''") + "'" if re.search(r"[^\w@%+=:,./-]", a) else a


def servers(root, log=None, timeout=600):
    """(bin directory, how) of the servers a host booted from ROOT runs:
    built inside RELEASE's build root (ROOT one of ours), or inside ROOT
    itself when it can build them; (None, why) when neither: the host runs
    this machine's build."""
    log = log or log_default
    release = release_of(root)
    if release:
        build_root = ensure(release, log=log, kind="build")
        how = f"built in {release}'s build root"
    elif can_build(root):
        build_root = root
        how = "built in the root"
    else:
        return None, ("this machine's build: the root holds no compiler and -dev packages "
                      "to build the servers in")
    key = hashlib.sha256(build_root.encode()).hexdigest()[:8]
    out = os.path.join(CACHE, "bins", f"{release or 'root'}-{key}-{source_digest()}")
    if all(os.access(os.path.join(out, "bin", p), os.X_OK) for p in IN_ROOT):
        return os.path.join(out, "bin"), how
    if not shutil.which("systemd-nspawn"):
        raise RootError("systemd-nspawn not found: install systemd-container (scripts/deps)")
    with _locked():
        if all(os.access(os.path.join(out, "bin", p), os.X_OK) for p in IN_ROOT):
            return os.path.join(out, "bin"), how
        tmp = out + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        version = util.first_line(["git", "-C", util.repo_root(), "describe", "--always",
                                   "--dirty"]) or "unknown"
        log(f"building the servers inside {build_root} ({how}; once per source change)")
        t0 = time.monotonic()
        _build(build_argv(build_root, tmp, version), tmp,
               f"building the servers in {build_root}", timeout)
        shutil.rmtree(out, ignore_errors=True)
        os.rename(tmp, out)
        log(f"servers built in {time.monotonic() - t0:.0f}s")
        _prune_bins(os.path.basename(out))
    return os.path.join(out, "bin"), how


KEEP_BUILDS = 4     # per build root: checkouts of other sources may share the cache


def _prune_bins(keep):
    """Removes the builds of the same release and build root but the
    KEEP_BUILDS newest (KEEP among them), and none a running container binds."""
    d = os.path.join(CACHE, "bins")
    stem = keep.rsplit("-", 1)[0] + "-"
    old = sorted((p for p in (os.path.join(d, n) for n in os.listdir(d))
                  if os.path.basename(p).startswith(stem) and not p.endswith(".tmp")
                  and os.path.basename(p) != keep),
                 key=os.path.getmtime, reverse=True)[KEEP_BUILDS - 1:]
    for p in old:
        if not _in_use(p):
            shutil.rmtree(p, ignore_errors=True)
