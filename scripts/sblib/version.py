"""The version of this sandbench: the one `sandbench --version` prints.

An installed copy carries a VERSION file beside scripts/ (written by `make
install` from the same string the C programs are built with); a git
checkout answers `git describe --always --dirty`; else build/version.c of
the last `make`; else "unknown".
"""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def version():
    try:
        with open(os.path.join(ROOT, "VERSION"), encoding="utf-8") as f:
            v = f.read().strip()
        if v:
            return v
    except OSError:
        pass
    if os.path.exists(os.path.join(ROOT, ".git")):
        try:
            p = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                               capture_output=True, text=True, timeout=10)
            if p.returncode == 0 and p.stdout.strip():
                return p.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        with open(os.path.join(ROOT, "build", "version.c"), encoding="utf-8") as f:
            m = re.search(r'"([^"]*)"', f.read())
        if m:
            return m.group(1)
    except OSError:
        pass
    return "unknown"
