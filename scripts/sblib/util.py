"""What every part of sandbench needs and none owns: where this checkout is,
where results go, and the version of a tool or of this tree."""
import os
import subprocess
import tempfile


def repo_root():
    """The repository this file belongs to (scripts/sblib/util.py -> ..)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def runs_dir():
    """Where results go by default: results/runs of this checkout, or of the
    current directory for an installed copy (make install leaves a VERSION
    file at its top), whose own tree belongs to the package manager."""
    root = repo_root()
    if os.path.exists(os.path.join(root, "VERSION")) and not os.path.exists(
            os.path.join(root, ".git")):
        root = os.getcwd()
    return os.path.join(root, "results", "runs")


def first_line(argv):
    """The first line a command prints (stdout and stderr), None if it cannot run."""
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=10)
        return (r.stdout.strip().splitlines() or [""])[0]
    except (OSError, subprocess.TimeoutExpired):
        return None


def commit():
    """`git describe` of the tree this file belongs to, None outside git."""
    try:
        r = subprocess.run(["git", "-C", repo_root(), "describe", "--always", "--dirty"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() or None


def _umask():
    """The process's umask, read without changing it where Linux tells it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path, text):
    """Writes TEXT to PATH so that a reader sees the old file or the new one,
    never half of it (a temporary file in the same directory, fsync, rename).
    The file gets the mode open() would give it (mkstemp's is 0600)."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
